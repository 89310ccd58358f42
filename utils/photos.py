"""Reading user photos safely: every odd file either becomes an 8-bit RGB image or a
:class:`PhotoError` that names the file and says what is wrong with it."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from utils.paths import DATA, package_dir

# Detectors work at 512-1280 px; bigger photos only cost memory and time.
MAX_SIDE = 4096
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
PHOTO_SET = DATA / "real_photos.json"  # the hand-labelled real photos (utils.pipeline.real_photos)


class PhotoError(Exception):
    """A photo that cannot be used; the message starts with the file name."""


def load_photo(path: str | Path, *, max_side: int = MAX_SIDE) -> Image.Image:
    """Open a photo as an 8-bit RGB image, upright and at most ``max_side`` pixels on its long side.

    - the EXIF orientation is applied (a phone photo with orientation 6 comes out portrait);
    - transparency is composited on white; grayscale, palette, CMYK and 16-bit images are
      converted to 8-bit RGB;
    - very large images (e.g. 8000x8000) are downscaled so the long side is at most
      ``max_side`` (4096 by default); JPEGs are decoded at reduced size to save memory.

    Raises :class:`PhotoError` ("<file>: empty file (0 bytes)", "<file>: not an image (...)",
    "<file>: truncated or corrupt JPEG", ...) for anything that is not a readable photo.
    """
    path = Path(path)
    if not path.exists():
        raise PhotoError(f"{path}: no such file")
    if not path.is_file():
        raise PhotoError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise PhotoError(f"{path}: empty file (0 bytes)")
    try:
        image = open_image(path)
    except UnidentifiedImageError:
        raise PhotoError(f"{path}: not an image (cannot identify image file)") from None
    except Image.DecompressionBombError as e:
        raise PhotoError(f"{path}: image too large to open safely ({e})") from None
    except OSError as e:
        raise PhotoError(f"{path}: cannot read file ({e})") from None
    kind = image.format or "image"
    try:
        if kind == "JPEG" and max(image.size) > max_side:
            image.draft("RGB", (max_side, max_side))
        image.load()
    except (OSError, SyntaxError, ValueError) as e:
        raise PhotoError(f"{path}: truncated or corrupt {kind} ({e})") from None
    image = _upright(image, path)
    image = to_rgb8(image)
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return image


def open_image(path: Path) -> Image.Image:
    """``Image.open`` without ultralytics' patch, which pip-installs pi-heif (or fails offline)
    the first time Pillow meets a file it cannot identify."""
    opener = Image.open
    patches = sys.modules.get("ultralytics.utils.patches")
    if patches is not None and opener is getattr(patches, "image_open", None):
        opener = patches._image_open
    return opener(path)


def _upright(image: Image.Image, path: Path) -> Image.Image:
    """Apply the EXIF orientation; a broken EXIF block leaves the photo as stored."""
    try:
        return ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError) as e:
        warnings.warn(f"{path}: EXIF orientation ignored ({e})", stacklevel=3)
        return image


def to_rgb8(image: Image.Image) -> Image.Image:
    """Any Pillow mode → 8-bit RGB (alpha on white, 16-bit and float scaled down, CMYK converted)."""
    if image.mode == "RGB":
        return image
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in _ALPHA_MODES:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode in _SIXTEEN_BIT_MODES or image.mode in ("I", "F"):
        return Image.fromarray(_to_uint8(np.asarray(image), image.mode), mode="L").convert("RGB")
    return image.convert("RGB")


def _to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """Scale one channel of 16-bit, 32-bit or float samples to 0..255."""
    values = values.astype(np.float64)
    if mode in _SIXTEEN_BIT_MODES or (mode == "I" and values.max(initial=0) > 255):
        values = values / 257.0
    elif mode == "F" and values.max(initial=0) <= 1.0:
        values = values * 255.0
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def photo_file(record: dict, photo_set: str | Path = PHOTO_SET) -> tuple[Path, str]:
    """Where a record's photo lies, and its source line: inside an installed Python package
    (``"package"``: the import name, ``"path"`` inside it) or a Debian package (``"debian"``: its
    name, ``"path"``: the absolute path it installs)."""
    if "debian" in record:
        file, source = Path(record["path"]), f"debian {record['debian']}: {record['path']}"
        hint = f" (make photos, or apt-get install {record['debian']})"
    else:
        file = package_dir(record["package"], "its photos are part of the real-photo set") / record["path"]
        source, hint = f"{record['package']}: {record['path']}", " (make photos)"
    if not file.is_file():
        raise FileNotFoundError(f"{photo_set}: photo {record['id']!r} not found at {file}{hint}")
    return file, source


def real_photo_files(photo_set: str | Path = PHOTO_SET) -> list[Path]:
    """The real-photo set's files that are installed here (those of missing packages left out)."""
    import json

    found = []
    for record in json.loads(Path(photo_set).read_text(encoding="utf-8"))["photos"]:
        try:
            found.append(photo_file(record, photo_set)[0])
        except FileNotFoundError:
            continue
    return found
