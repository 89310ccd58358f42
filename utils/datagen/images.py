"""Photos as a vision LLM receives them (upright, downscaled, JPEG, base64) and the image tokens
each API bills for the size sent: OpenAI's tiles or patches, Gemini's 258-token tiles.

The formulas are the providers' published ones (OpenAI "Images and vision: calculating costs";
Gemini "Understand and count tokens"): they are what ``generate --from-photos`` prints before a
run, so a run's price is known before it starts.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from PIL import Image

from utils.datagen.prompt import build_messages
from utils.photos import load_photo, open_image
from utils.text.styles import Style

# The long side a photo is sent at, per backend: OpenAI's low detail sees a 512 px image whatever
# is sent; Gemini bills one 258-token tile for an image up to 384 px on both sides.
DEFAULT_SIDES = {"openai": 512, "gemini": 384, "offline": 512}
LOW_DETAIL_SIDE = 512  # OpenAI: an image at most this big is sent with detail "low"
JPEG_QUALITY = 85

# OpenAI, tile models: (base tokens, tokens per 512 px tile). gpt-4o-mini bills ~33x the tokens
# of gpt-4o per image at 1/17 of the price per token (the same dollars per image, about).
OPENAI_TILE_MODELS = {
    "gpt-4o-mini": (2833, 5667),
    "gpt-4o": (85, 170),
    "gpt-4.1": (85, 170),
    "gpt-4-turbo": (85, 170),
}
# OpenAI, patch models: tokens per 32 px patch (at most 1,536 patches; detail is ignored).
OPENAI_PATCH_MODELS = {"gpt-4.1-mini": 1.62, "gpt-4.1-nano": 2.46, "o4-mini": 1.72}
MAX_PATCHES = 1536
GEMINI_TILE_TOKENS = 258
GEMINI_SMALL_SIDE = 384  # both sides at most this: one tile
GEMINI_TILE_SIDE = 768

T = TypeVar("T")


def for_model(table: Mapping[str, T], model: str) -> T | None:
    """``table``'s entry for ``model`` or a dated variant of it (gpt-4o-mini-2024-07-18 → gpt-4o-mini);
    the longest matching name wins, so gpt-4.1-mini is not read as gpt-4.1."""
    for name in sorted(table, key=len, reverse=True):
        if model == name or model.startswith(name + "-"):
            return table[name]
    return None


@dataclass(frozen=True)
class EncodedImage:
    """A photo as sent: JPEG bytes and their size in pixels."""

    jpeg: bytes
    width: int
    height: int
    mime_type: str = "image/jpeg"

    @property
    def base64(self) -> str:
        return base64.b64encode(self.jpeg).decode("ascii")

    @property
    def data_url(self) -> str:
        return f"data:{self.mime_type};base64,{self.base64}"

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"


def fitted_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """The size with the long side at most ``long_side``, aspect kept; never enlarged."""
    scale = long_side / max(width, height)
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def encode_image(image: Image.Image, long_side: int) -> EncodedImage:
    """An upright RGB image (as ``utils.photos.load_photo`` returns it) → JPEG at most ``long_side``."""
    size = fitted_size(*image.size, long_side)
    if size != image.size:
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return EncodedImage(buffer.getvalue(), *size)


def encode_photo(path: str | Path, long_side: int) -> EncodedImage:
    """A photo file → JPEG at most ``long_side`` (EXIF orientation applied; ``PhotoError`` names a bad file)."""
    # load_photo decodes a large JPEG at reduced size (draft) when told a smaller bound.
    return encode_image(load_photo(path, max_side=max(2 * long_side, 1024)), long_side)


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes: a row names the exact photo it was written for."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sent_size(path: str | Path, long_side: int) -> tuple[int, int]:
    """The size a photo is sent at, read from its header (EXIF rotation included) without decoding it."""
    with open_image(Path(path)) as image:
        width, height = image.size
        if image.getexif().get(0x0112) in (5, 6, 7, 8):  # rotated a quarter turn
            width, height = height, width
    return fitted_size(width, height, long_side)


def openai_detail(width: int, height: int) -> str:
    """``low`` for an image OpenAI would see at 512 px anyway, else ``high``."""
    return "low" if max(width, height) <= LOW_DETAIL_SIDE else "high"


def openai_image_tokens(model: str, width: int, height: int, detail: str | None = None) -> int | None:
    """Input tokens OpenAI bills for one image of this size sent to ``model`` (None: unknown model).

    Tile models: ``low`` is the base alone; ``high`` fits the image in 2048 × 2048, scales its short
    side down to 768, and adds the tile tokens for each 512 px tile (gpt-4o, 1024 × 1024: 85 + 4 × 170
    = 765). Patch models: one 32 px patch each, at most 1,536 (larger images scaled down), times the
    model's multiplier.
    """
    detail = detail or openai_detail(width, height)
    multiplier = for_model(OPENAI_PATCH_MODELS, model)
    if multiplier is not None:
        patches = math.ceil(width / 32) * math.ceil(height / 32)
        if patches > MAX_PATCHES:
            shrink = math.sqrt(MAX_PATCHES * 32 * 32 / (width * height))
            w, h = width * shrink, height * shrink
            # Then fit a whole number of patches along the width, as OpenAI's description says.
            shrink *= math.floor(w / 32) / (w / 32)
            w, h = width * shrink, height * shrink
            patches = min(MAX_PATCHES, math.ceil(w / 32) * math.ceil(h / 32))
        return math.ceil(patches * multiplier)
    tile = for_model(OPENAI_TILE_MODELS, model)
    if tile is None:
        return None
    base, per_tile = tile
    if detail == "low":
        return base
    w, h = float(width), float(height)
    if max(w, h) > 2048:
        w, h = w * 2048 / max(w, h), h * 2048 / max(w, h)
    if min(w, h) > 768:
        w, h = w * 768 / min(w, h), h * 768 / min(w, h)
    return base + per_tile * math.ceil(w / 512) * math.ceil(h / 512)


def gemini_image_tokens(width: int, height: int) -> int:
    """Gemini: 258 tokens for an image with both sides at most 384 px, else 258 per 768 px tile."""
    if width <= GEMINI_SMALL_SIDE and height <= GEMINI_SMALL_SIDE:
        return GEMINI_TILE_TOKENS
    return math.ceil(width / GEMINI_TILE_SIDE) * math.ceil(height / GEMINI_TILE_SIDE) * GEMINI_TILE_TOKENS


def image_tokens(backend: str, model: str, width: int, height: int) -> int | None:
    """Image tokens of one request to ``backend`` (``openai`` / ``gemini``); 0 for ``offline``."""
    if backend == "gemini":
        return gemini_image_tokens(width, height)
    if backend == "openai":
        return openai_image_tokens(model, width, height)
    return 0


def text_tokens_estimate(style: Style | None = None) -> int:
    """At most how many text tokens a photo request's prompt has: one per character (Korean runs
    below one token per syllable in both APIs' tokenizers; the API's usage counts the real number)."""
    return sum(len(m["content"]) for m in build_messages("기쁨, 사람, 나무", style, photo=True))


def photo_run_preview(
    backend: str,
    model: str,
    sizes: list[tuple[int, int]],
    *,
    done: int,
    empty: int = 0,
    image_side: int,
    price_per_million: tuple[float, float] = (0.0, 0.0),
    max_output_tokens: int = 200,
) -> list[str]:
    """What a ``--from-photos`` run will ask for, before it starts: requests, the image tokens per
    request that ``image_side`` implies (per photo, from its size), and the price at list rates.
    ``sizes``: the sent size of each photo still to do; ``done``: photos finished by earlier runs;
    ``empty``: photos in which the detectors found nothing last time (no request)."""
    where = f"{backend}/{model}" if backend != "offline" else "the offline composer"
    known = f", {empty} with nothing recognised" if empty else ""
    lines = [
        f"{len(sizes) + done + empty} photos, {done} already done{known} → at most {len(sizes)} requests "
        f"to {where} (a photo in which nothing is recognised is skipped; each regenerated comment is one "
        "more request)"
    ]
    if backend == "offline":
        return [*lines, "no API: the composer writes from the labels; the photos are not sent, 0 tokens"]
    tokens = [image_tokens(backend, model, w, h) for w, h in sizes]
    if not sizes:
        return lines
    if any(t is None for t in tokens):
        return [*lines, f"image tokens: unknown for model {model} (no published formula here)"]
    counts = [t for t in tokens if t is not None]
    low, high, mean = min(counts), max(counts), sum(counts) / len(counts)
    shown = f"{low:,}" if low == high else f"{low:,}–{high:,} (mean {mean:,.0f})"
    detail = ""
    if backend == "openai":
        kinds = {openai_detail(w, h) for w, h in sizes}
        detail = f", detail {'/'.join(sorted(kinds))}"
    text = text_tokens_estimate()
    price_in, price_out = price_per_million
    per_request = ((mean + text) * price_in + max_output_tokens * price_out) / 1e6
    return [
        *lines,
        f"image: JPEG, long side ≤ {image_side} px{detail} → {shown} image tokens per request",
        f"input ≈ {mean:,.0f} image + ≤ {text:,} text tokens, output ≤ {max_output_tokens} → at most "
        f"${per_request:.5f} per request, ${per_request * len(sizes):.4f} for the run at list price",
    ]
