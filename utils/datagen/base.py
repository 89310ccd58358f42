"""What the generation runner (``utils.datagen.runner``), the LLM backends (``utils.datagen.backends``) and
the Batch API path (``utils.datagen.batch``) share: the request and result types, the OpenAI answer
format, and the bookkeeping of output rows (input ids, styles, photos, finished and rejected rows).

It imports none of those three modules, so they import it without an import circle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from utils.datagen.images import EncodedImage
from utils.datagen.prompt import build_messages
from utils.labels import format_labels, parse_labels
from utils.text.dataset import read_jsonl
from utils.text.styles import DEFAULT_STYLE, Style, parse_style


@dataclass
class Request:
    id: str
    labels: str
    attempt: int = 0  # regeneration number, so a backend can vary its answer
    style: Style = DEFAULT_STYLE
    image: EncodedImage | None = None  # the photo itself, for a vision model

    @property
    def messages(self) -> list[dict[str, str]]:
        return build_messages(self.labels, self.style, photo=self.image is not None)


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    refusal: str | None = None  # the model declined (OpenAI's refusal, Gemini's block reason)


@dataclass(frozen=True)
class PhotoSource:
    """A photo behind an input: the file, its name in the rows (relative to the folder) and its hash."""

    name: str
    path: Path
    sha256: str


class RetryableError(Exception):
    """Rate limit, server error or time-out: worth trying again, after ``retry_after`` if given."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Backend:
    """One way of turning a request into a comment. Subclasses implement ``complete``."""

    name = "backend"
    # USD per million (input, output) tokens, for the running cost estimate.
    price_per_million: tuple[float, float] = (0.0, 0.0)

    async def complete(self, request: Request) -> Completion:
        raise NotImplementedError

    async def prepare(self) -> None:
        """Get ready for this event loop's requests (an SDK client), so the first is no slower than
        the rest: requests spaced by the rate limit then also arrive spaced."""

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        price_in, price_out = self.price_per_million
        return (prompt_tokens * price_in + completion_tokens * price_out) / 1e6

    def redact(self, text: str) -> str:
        """``text`` with any secret of this backend (its API key) masked, for messages and files."""
        return text


@dataclass
class RunSummary:
    requested: int = 0
    skipped: int = 0  # finished in an earlier run
    written: int = 0
    rejected: int = 0
    retries: int = 0
    rate_limited: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    interrupted: bool = False
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def completion_from_openai_json(response: Any) -> Completion:
    """A ``ChatCompletion`` (or its JSON as a dict) → Completion; anything else is malformed."""
    data = response.model_dump() if hasattr(response, "model_dump") else response
    try:
        message = data["choices"][0]["message"]
        text, refusal = message["content"], message.get("refusal")
        usage = data.get("usage") or {}
    except (TypeError, KeyError, IndexError, AttributeError):
        raise RetryableError(f"malformed response: {str(data)[:120]!r}") from None
    tokens = (usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0)
    if isinstance(refusal, str) and refusal:
        return Completion(text if isinstance(text, str) else "", *tokens, refusal=refusal)
    if not isinstance(text, str):
        raise RetryableError("response without text")
    return Completion(text, *tokens)


def as_inputs(label_strings: Sequence[str], ids: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(id, labels) pairs: the id is the input's position (or the given id, e.g. a photo's name),
    so a re-run maps rows to inputs."""
    if ids is not None and len(ids) != len(label_strings):
        raise ValueError(f"{len(ids)} ids for {len(label_strings)} inputs")
    return [
        (
            str(ids[i]) if ids is not None else str(i),
            format_labels(parse_labels(labels, strict=False), strict=False),
        )
        for i, labels in enumerate(label_strings)
    ]


def photos_by_id(
    inputs: Sequence[tuple[str, str]], photos: Sequence[PhotoSource] | None
) -> dict[str, PhotoSource]:
    """Each input's photo (inputs made with the photos' names as ids), or {} for label-only inputs."""
    if photos is None:
        return {}
    if len(photos) != len(inputs):
        raise ValueError(f"{len(photos)} photos for {len(inputs)} inputs")
    return {input_id: photo for (input_id, _), photo in zip(inputs, photos, strict=True)}


def photo_fields(photo: PhotoSource | None, image: EncodedImage | str | None) -> dict:
    """The photo columns of a row: its name, its hash and the size it was sent at (data/README.md)."""
    if photo is None:
        return {}
    size = image.size if isinstance(image, EncodedImage) else image
    return {"photo": photo.name, "photo_sha256": photo.sha256, "image": size}


def styles_by_id(
    inputs: Sequence[tuple[str, str]], styles: Style | str | Sequence[Style | str] | None
) -> dict[str, Style]:
    """Each input's style: one style for all, or one per input (a style mix), default None."""
    if styles is None or isinstance(styles, Style | str):
        return {input_id: parse_style(styles) for input_id, _ in inputs}
    if len(styles) != len(inputs):
        raise ValueError(f"{len(styles)} styles for {len(inputs)} inputs")
    return {input_id: parse_style(style) for (input_id, _), style in zip(inputs, styles, strict=True)}


def output_row(
    input_id: str,
    labels: str,
    comment: str,
    backend: str,
    style: Style,
    attempts: int,
    extra: Mapping[str, object] | None = None,
) -> dict:
    """One finished row of the output JSON Lines file (``extra``: the photo columns, if any)."""
    row = {"id": input_id, "labels": labels, "comment": comment, "backend": backend}
    return row | {"style": style.key, "attempts": attempts} | dict(extra or {})


def rejected_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".jsonl") + ".rejected.jsonl")


def finished_ids(
    out: Path,
    inputs: Sequence[tuple[str, str]] | None = None,
    styles: dict[str, Style] | None = None,
    photos: Mapping[str, PhotoSource] | None = None,
) -> set[str]:
    """Inputs already answered (written or rejected) by earlier runs.

    With ``inputs`` (the (id, labels) pairs of this run) and their ``styles``, a row answered
    for other labels or another style is an error: ids are input positions, so a changed input
    list would otherwise be skipped silently. A row without a style was written in the default.
    With ``photos``, a row written for another version of the photo (another hash) is one too.
    """
    expected = dict(inputs or [])
    done = set()
    for path in (out, rejected_path(out)):
        for row in read_jsonl(path):
            if "id" not in row:
                continue
            input_id = str(row["id"])
            if input_id in expected and row.get("labels") != expected[input_id]:
                raise ValueError(
                    f"{path} was written for other inputs: its row {input_id} has labels "
                    f"{row.get('labels')!r}, but input {input_id} is {expected[input_id]!r}; "
                    "write to another --out file or delete this one"
                )
            if styles and input_id in styles and parse_style(row.get("style")) != styles[input_id]:
                raise ValueError(
                    f"{path} was written in another style: its row {input_id} is {row.get('style') or DEFAULT_STYLE.key}, "
                    f"but input {input_id} asks for {styles[input_id].key}; "
                    "write to another --out file or delete this one"
                )
            photo = (photos or {}).get(input_id)
            if photo is not None and row.get("photo_sha256") not in (None, photo.sha256):
                raise ValueError(
                    f"{path} was written for another version of {photo.name} (its row has SHA-256 "
                    f"{str(row['photo_sha256'])[:12]}…, the file now {photo.sha256[:12]}…); "
                    "write to another --out file or delete this one"
                )
            done.add(input_id)
    return done
