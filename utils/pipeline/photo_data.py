"""Training data grounded in photos (``python -m utils generate --from-photos DIR``): the detectors
label each photo, then the data generation's runner sends the photo and its labels to a vision
LLM and keeps each comment that passes the checks, as one row per photo.

The detectors live in ``utils.vision`` and the runner in ``utils.datagen``, which must not import
vision: this module joins them. Labels are cached per photo (name, SHA-256, detectors) in
``<out>.labels.jsonl``, so a re-run detects only new or changed photos and the runner's own resume
skips the photos already answered. Before a run, the requests and the image tokens they imply are
printed; ``--dry-run`` prints them and stops. Without ``--from-photos`` the command is the
runner's ``generate``.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from utils.datagen import runner
from utils.datagen.base import Backend, PhotoSource, RunSummary, rejected_path
from utils.datagen.images import DEFAULT_SIDES, file_sha256, photo_run_preview, sent_size
from utils.pipeline.comment_pipeline import is_online
from utils.pipeline.runs import walk_photos
from utils.text.dataset import append_jsonl, read_jsonl
from utils.text.styles import Style, parse_style, parse_style_mix

DETECT_BATCH = 8


def add_generate_args(parser: argparse.ArgumentParser) -> None:
    source = runner.add_generate_args(parser)
    source.add_argument(
        "--from-photos",
        type=Path,
        metavar="DIR",
        help="a folder of photos: the detectors label each, and the photo itself goes to the vision LLM",
    )
    parser.add_argument(
        "--image-side",
        type=int,
        help="with --from-photos: long side (px) photos are sent at (default 512 for OpenAI: low detail; "
        "384 for Gemini: one 258-token tile)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="with --from-photos: print the requests and tokens, then stop"
    )
    parser.add_argument("--recursive", action="store_true", help="with --from-photos: walk sub-folders too")
    parser.add_argument("--offline", action="store_true", help="detectors: never download weights")
    parser.add_argument("--detector", help="object detector weights (default: as for `comment`)")
    parser.add_argument("--face", help="face-emotion detector weights")


def photo_sources(folder: str | Path, *, recursive: bool = False) -> list[PhotoSource]:
    """The photos under ``folder`` in name order, each named by its path relative to the folder."""
    folder = Path(folder)
    paths = sorted(walk_photos(folder, recursive=recursive))
    return [PhotoSource(p.relative_to(folder).as_posix(), p, file_sha256(p)) for p in paths]


def finished_photos(out: Path, sources: Sequence[PhotoSource]) -> set[str]:
    """Photos with a row (written or rejected) for their current bytes in ``out``."""
    hashes = {s.name: s.sha256 for s in sources}
    rows = [*read_jsonl(out), *read_jsonl(rejected_path(out))]
    return {
        r["photo"] for r in rows if r.get("photo") in hashes and r.get("photo_sha256") == hashes[r["photo"]]
    }


def styles_for_photos(
    sources: Sequence[PhotoSource], style: str | Style | None, mix: str | None, seed: int
) -> list[Style]:
    """One style per photo: ``style`` for all, or drawn from ``mix`` by the photo's name (so a
    photo keeps its style when others are added to the folder; the shares are then approximate)."""
    if not mix:
        return [parse_style(style)] * len(sources)
    shares = parse_style_mix(mix)
    choices, weights = list(shares), list(shares.values())

    def draw(name: str) -> Style:
        digest = hashlib.blake2b(f"{seed}|{name}".encode(), digest_size=8).hexdigest()
        return random.Random(digest).choices(choices, weights)[0]

    return [draw(s.name) for s in sources]


def detect_labels(
    sources: Sequence[PhotoSource],
    cache: Path,
    detectors: Sequence,
    *,
    progress: bool = True,
) -> tuple[dict[str, str], dict[str, str]]:
    """Labels per photo name ("" when nothing is recognised) and problems per unreadable photo.

    ``cache`` (JSON Lines) keeps each photo's labels under its name, hash and the detectors' names:
    only photos not found there are read and detected, and their rows are appended as they finish."""
    from utils import vision

    detector_names = " + ".join(d.name for d in detectors)
    cached = {
        (r.get("photo"), r.get("photo_sha256")): r
        for r in read_jsonl(cache)
        if r.get("detectors") == detector_names
    }
    labels: dict[str, str] = {}
    problems: dict[str, str] = {}
    todo = []
    for source in sources:
        row = cached.get((source.name, source.sha256))
        if row is None:
            todo.append(source)
        elif row.get("error"):
            problems[source.name] = row["error"]
        else:
            labels[source.name] = row["labels"]
    bar = tqdm(total=len(todo), desc="detect", unit="photo", disable=not progress or not todo)
    for start in range(0, len(todo), DETECT_BATCH):
        batch, images = [], []
        for source in todo[start : start + DETECT_BATCH]:
            row = {"photo": source.name, "photo_sha256": source.sha256, "detectors": detector_names}
            try:
                images.append(vision.load_photo(source.path))
                batch.append((source, row))
            except vision.PhotoError as e:
                problems[source.name] = str(e)
                append_jsonl(cache, row | {"labels": "", "error": str(e)})
        found: list[list] = [[] for _ in images]
        for detector in detectors:
            for i, detections in enumerate(detector.detect(images)):
                found[i].extend(detections)
        for (source, row), detections in zip(batch, found, strict=True):
            labels[source.name] = vision.labels_for(detections)
            append_jsonl(cache, row | {"labels": labels[source.name], "error": None})
        bar.update(len(todo[start : start + DETECT_BATCH]))
    bar.close()
    return labels, problems


def labels_cache_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name.removesuffix(".jsonl") + ".labels.jsonl")


def preview_lines(
    sources: Sequence[PhotoSource],
    out: str | Path,
    backend_name: str,
    model: str | None,
    image_side: int | None,
) -> list[str]:
    """The lines printed before a run (``images.photo_run_preview``): requests and image tokens
    for the photos not yet answered in ``out`` nor found empty by the last detection."""
    from utils.datagen.backends import DEFAULT_MODELS, price_for

    side = image_side or DEFAULT_SIDES[backend_name]
    model = model or DEFAULT_MODELS.get(backend_name, "")
    done = finished_photos(Path(out), sources)
    hashes = {s.name: s.sha256 for s in sources}
    empty = {
        r["photo"]
        for r in read_jsonl(labels_cache_path(out))
        if hashes.get(r.get("photo")) == r.get("photo_sha256") and not r.get("labels") and not r.get("error")
    } - done
    sizes = [sent_size(s.path, side) for s in sources if s.name not in done | empty]
    price = price_for(model) if model else (0.0, 0.0)
    return photo_run_preview(
        backend_name, model, sizes, done=len(done), empty=len(empty), image_side=side, price_per_million=price
    )


def photo_inputs(
    sources: Sequence[PhotoSource],
    out: str | Path,
    *,
    detectors: Sequence | None = None,
    offline: bool = True,
    progress: bool = True,
) -> tuple[list[PhotoSource], list[str], list[str]]:
    """(photos with labels, their labels, notes on the others): the detectors' view of each photo."""
    if detectors is None:
        from utils import vision

        detectors = vision.resolve_detectors(offline=offline)
    labels, problems = detect_labels(sources, labels_cache_path(out), detectors, progress=progress)
    kept = [s for s in sources if labels.get(s.name)]
    notes = [f"{name}: {why}" for name, why in problems.items()]
    empty = [s.name for s in sources if s.name in labels and not labels[s.name]]
    if empty:
        notes.append(f"{len(empty)} photo(s) with nothing recognised, no row: {', '.join(empty[:5])}")
    return kept, [labels[s.name] for s in kept], notes


def generate_from_photos(
    folder: str | Path,
    out: str | Path,
    backend: Backend | None = None,
    *,
    recursive: bool = False,
    image_side: int | None = None,
    style: str | Style | None = None,
    style_mix: str | None = None,
    seed: int = runner.DEFAULT_SEED,
    detectors: Sequence | None = None,
    offline: bool = True,
    progress: bool = True,
    **run_options: object,
) -> tuple[RunSummary, list[str]]:
    """Rows for the photos of ``folder`` into ``out``: labels from the detectors, the comment from
    ``backend`` seeing the photo (``runner.generate_dataset`` with ``photos=``; ``run_options`` go
    to it: concurrency, rpm, max_regenerations ...). Returns the run's summary and notes on photos
    that got no row (unreadable, nothing recognised)."""
    sources = photo_sources(folder, recursive=recursive)
    kept, labels, notes = photo_inputs(sources, out, detectors=detectors, offline=offline, progress=progress)
    styles = styles_for_photos(kept, style, style_mix, seed)
    summary = runner.generate_dataset(
        labels,
        out,
        backend,
        styles=styles,
        photos=kept,
        image_side=image_side,
        progress=progress,
        **run_options,
    )
    return summary, notes


def run_generate(args: argparse.Namespace) -> int:
    photo_only = [
        f"--{n.replace('_', '-')}" for n in ("dry_run", "recursive", "image_side") if getattr(args, n)
    ]
    if args.from_photos is None:
        if photo_only:
            print(
                f"python -m utils generate: error: {', '.join(photo_only)} go with --from-photos DIR",
                file=sys.stderr,
            )
            return 2
        return runner.run_generate(args)
    folder = args.from_photos
    if not folder.is_dir():
        print(f"python -m utils generate: error: --from-photos {folder}: not a folder", file=sys.stderr)
        return 2
    sources = photo_sources(folder, recursive=args.recursive)
    if not sources:
        print(f"python -m utils generate: error: --from-photos {folder}: no photos in it", file=sys.stderr)
        return 2
    for line in preview_lines(sources, args.out, args.backend, args.model, args.image_side):
        print(line, file=sys.stderr)
    if args.dry_run:
        return 0
    try:
        backend = runner.make_backend(args.backend, model=args.model, seed=args.seed, base_url=args.base_url)
        from utils import vision

        offline = args.offline or not is_online()
        detectors = vision.resolve_detectors(args.detector, args.face, offline=offline)
        kept, labels, notes = photo_inputs(sources, args.out, detectors=detectors)
        styles = styles_for_photos(kept, args.style, args.style_mix, args.seed)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"python -m utils generate: error: {e}", file=sys.stderr)
        return 2
    for line in notes:
        print(f"note: {line}", file=sys.stderr)
    print(f"{len(kept)} photos with labels → {len(kept)} inputs for {backend.name}", file=sys.stderr)
    return runner.generate_and_report(args, labels, styles, backend, photos=kept, image_side=args.image_side)
