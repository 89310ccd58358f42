"""Face-emotion data (per-emotion JSON in CP949, EXIF-rotated photos, three annotators) → a YOLO
dataset. LVIS / COCO JSON is converted by :mod:`utils.vision.lvis_data`; synthetic fixtures in both
real formats come from :mod:`utils.vision.synth_data`.

A YOLO dataset here is ``images/<split>/*.jpg`` + ``labels/<split>/*.txt`` (one line
``class cx cy w h`` per box, normalised to the upright image) + ``dataset.yaml``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageOps
from tqdm import tqdm

from utils.labels import EMOTION_ALIASES, EMOTION_EN, EMOTION_KO
from utils.paths import shown_path
from utils.photos import open_image

LABEL_POLICIES = ("majority", "uploader")
BOX_POLICIES = ("median", "annot_A")
BOX_FRAMES = ("stored", "upright")
ANNOTATORS = ("annot_A", "annot_B", "annot_C")
SPLIT_ALIASES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
EXIF_ORIENTATION_TAG = 0x0112
# Orientation that undoes each one (6 and 8 are quarter turns in opposite directions).
INVERSE_ORIENTATION = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6}

Box = tuple[float, float, float, float]  # x_min, y_min, x_max, y_max in pixels


@dataclass(frozen=True)
class Skipped:
    """One record left out of a conversion, and why."""

    source: str  # JSON file (or image) it came from
    item: str  # the record's filename / image id
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.item}: {self.reason}"


@dataclass
class ConversionReport:
    yaml_path: Path
    names: list[str]
    images: Counter = field(default_factory=Counter)  # split → images written
    counts: dict[str, Counter] = field(default_factory=dict)  # split → Counter(class name → boxes)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def converted(self) -> int:
        return sum(self.images.values())

    def summary(self) -> str:
        lines = [f"{self.converted} images → {shown_path(self.yaml_path.parent)}"]
        for split, counts in sorted(self.counts.items()):
            per_class = ", ".join(f"{n} {counts[n]}" for n in self.names if counts[n])
            lines.append(f"  {split}: {self.images[split]} images; boxes: {per_class}")
        lines.append(f"  skipped: {len(self.skipped)}")
        for reason, n in Counter(_reason_kind(s.reason) for s in self.skipped).most_common():
            lines.append(f"    {n} × {reason}")
        return "\n".join(lines)


def _reason_kind(reason: str) -> str:
    return reason.split(":")[0]


# --- geometry -------------------------------------------------------------------------------


def orient_box(box: Box, stored_size: tuple[int, int], orientation: int) -> tuple[Box, tuple[int, int]]:
    """Map a box from the stored pixel frame to the upright frame that EXIF ``orientation`` gives.

    Returns the box and the upright image size ``(width, height)``. The transforms are those of
    ``PIL.ImageOps.exif_transpose`` (2 mirror, 3 half turn, 4 flip, 5 transpose, 6 quarter turn
    clockwise, 7 transverse, 8 quarter turn counter-clockwise).
    """
    if orientation not in INVERSE_ORIENTATION:
        raise ValueError(f"EXIF orientation must be 1..8, got {orientation!r}")
    w, h = stored_size

    def point(x: float, y: float) -> tuple[float, float]:
        return {
            1: (x, y),
            2: (w - x, y),
            3: (w - x, h - y),
            4: (x, h - y),
            5: (y, x),
            6: (h - y, x),
            7: (h - y, w - x),
            8: (y, w - x),
        }[orientation]

    (ax, ay), (bx, by) = point(box[0], box[1]), point(box[2], box[3])
    upright_size = (w, h) if orientation <= 4 else (h, w)
    return (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)), upright_size


def yolo_line(class_id: int, box: Box, size: tuple[int, int]) -> str:
    """``class cx cy w h`` normalised by ``size`` (width, height)."""
    w, h = size
    cx, cy = (box[0] + box[2]) / 2 / w, (box[1] + box[3]) / 2 / h
    return f"{class_id} {cx:.6f} {cy:.6f} {(box[2] - box[0]) / w:.6f} {(box[3] - box[1]) / h:.6f}"


def read_yolo_labels(path: str | Path, size: tuple[int, int]) -> list[tuple[int, Box]]:
    """(class id, pixel box) per line of a YOLO label file, for an image of ``size`` (width, height)."""
    w, h = size
    boxes = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        cls, cx, cy, bw, bh = (float(v) for v in line.split())
        boxes.append((int(cls), ((cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h)))
    return boxes


def exif_orientation(image: Image.Image) -> int:
    value = image.getexif().get(EXIF_ORIENTATION_TAG, 1)
    return value if value in INVERSE_ORIENTATION else 1


# --- reading the face data -------------------------------------------------------------------


def read_face_json(path: str | Path) -> list[dict]:
    """Records of one per-emotion JSON file; CP949 as the face data ships it, UTF-8 also accepted."""
    path = Path(path)
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp949"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValueError(f"{path}: neither UTF-8 nor CP949 text")
    try:
        records = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a list of records, got {type(records).__name__}")
    return records


def emotion_id(label: object) -> int | None:
    """Class id of an emotion word (분노, 슬픔, 당황/공포, 기쁨 or English), None for others (중립, 불안...)."""
    if not isinstance(label, str):
        return None
    name = EMOTION_ALIASES.get(label.strip(), label.strip())
    return EMOTION_KO.index(name) if name in EMOTION_KO else None


def choose_label(record: dict, policy: str) -> tuple[int | None, str]:
    """(class id, reason if None) under ``policy``: the uploader's word, or ≥ 2 of 3 annotators."""
    if policy == "uploader":
        label = record.get("faceExp_uploader")
        class_id = emotion_id(label)
        return class_id, "" if class_id is not None else f"uploader label not a class: {label!r}"
    votes = [
        record.get(a, {}).get("faceExp") if isinstance(record.get(a), dict) else None for a in ANNOTATORS
    ]
    counts = Counter(i for i in map(emotion_id, votes) if i is not None)
    if counts:
        class_id, n = counts.most_common(1)[0]
        if n >= 2:
            return class_id, ""
    return None, "no majority among annotators: " + "/".join(str(v) for v in votes)


def _annotator_box(record: dict, annotator: str) -> Box | None:
    try:
        b = record[annotator]["boxes"]
        box = (float(b["minX"]), float(b["minY"]), float(b["maxX"]), float(b["maxY"]))
    except (KeyError, TypeError, ValueError):
        return None
    return box


def choose_box(record: dict, policy: str) -> tuple[Box | None, str]:
    """(box, reason if None): annotator A's box, or the per-coordinate median of those present."""
    if policy == "annot_A":
        box = _annotator_box(record, "annot_A")
        return box, "" if box else "annot_A has no usable box"
    boxes = [b for b in (_annotator_box(record, a) for a in ANNOTATORS) if b]
    if not boxes:
        return None, "no annotator has a usable box"
    return tuple(statistics.median(b[i] for b in boxes) for i in range(4)), ""


def _split_and_emotion(json_path: Path) -> tuple[str | None, str]:
    """``train_anger.json`` → ("train", "anger"); a name without a split prefix → (None, stem)."""
    head, _, rest = json_path.stem.partition("_")
    split = SPLIT_ALIASES.get(head.lower())
    return (split, rest) if split else (None, json_path.stem)


def _hash_split(name: str, val_fraction: float) -> str:
    return "val" if zlib.crc32(name.encode()) % 1000 < val_fraction * 1000 else "train"


def _index_images(src: Path) -> dict[str, list[Path]]:
    index: dict[str, list[Path]] = {}
    for p in sorted(src.rglob("*")):
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
            index.setdefault(p.name, []).append(p)
    return index


def _find_image(
    name: str, json_path: Path, index: dict[str, list[Path]], hints: Sequence[str]
) -> Path | None:
    beside = json_path.parent / name
    if beside.is_file():
        return beside
    candidates = index.get(Path(name).name, [])
    # Same name in several folders: prefer the one under this file's split and emotion folders.
    return max(candidates, key=lambda p: sum(h in p.parts for h in hints), default=None)


def _write_upright(image: Image.Image, source: Path, dest: Path, max_side: int | None) -> None:
    """Save the photo as it should be seen; the original bytes are copied when nothing changes."""
    orientation = exif_orientation(image)
    too_big = max_side is not None and max(image.size) > max_side
    if orientation == 1 and image.format == "JPEG" and image.mode == "RGB" and not too_big:
        shutil.copyfile(source, dest)
        return
    upright = ImageOps.exif_transpose(image).convert("RGB")
    if too_big:
        upright.thumbnail((max_side, max_side))
    upright.save(dest, "JPEG", quality=95)


def convert_faces(
    src: str | Path,
    out: str | Path,
    *,
    label_policy: str = "majority",
    box_policy: str = "median",
    box_frame: str = "stored",
    val_fraction: float = 0.2,
    max_side: int | None = None,
    verbose: bool = True,
) -> ConversionReport:
    """Convert the face-emotion data under ``src`` (``*.json`` + photos) into a YOLO dataset at ``out``.

    Boxes: reference §2.3 says the annotators' ``minX..maxY`` are pixels *of the photo as stored*,
    i.e. before the EXIF orientation is applied, while viewers and ultralytics show (and train on)
    the upright photo. So by default (``box_frame="stored"``) each box is mapped through the photo's
    orientation (:func:`orient_box`) and normalised by the upright size; ``box_frame="upright"``
    takes boxes as already upright. Photos are written upright, without an orientation tag.

    Splits come from the file names (``train_*.json``, ``val_*.json``); files without a split
    prefix are split by a hash of the photo name (``val_fraction``). Every record left out is in
    ``report.skipped`` with its reason; nothing is dropped silently.
    """
    src, out = Path(src), Path(out)
    for value, allowed, what in (
        (label_policy, LABEL_POLICIES, "label_policy"),
        (box_policy, BOX_POLICIES, "box_policy"),
        (box_frame, BOX_FRAMES, "box_frame"),
    ):
        if value not in allowed:
            raise ValueError(f"{what} must be one of {', '.join(allowed)}, got {value!r}")
    if not src.is_dir():
        raise FileNotFoundError(f"face data folder not found: {src}")
    json_files = sorted(src.rglob("*.json"))
    if not json_files:
        raise FileNotFoundError(f"no *.json annotation files under {src}")

    prepare_output(out)
    index = _index_images(src)
    report = ConversionReport(yaml_path=out / "dataset.yaml", names=list(EMOTION_EN))
    seen: dict[str, str] = {}
    loaded: list[tuple[Path, str, list]] = []
    for json_path in json_files:
        source = str(json_path.relative_to(src))
        try:
            loaded.append((json_path, source, read_face_json(json_path)))
        except (OSError, ValueError) as e:
            report.skipped.append(Skipped(source, "*", f"unreadable annotation file: {e}"))
    progress = tqdm(total=sum(len(r) for *_, r in loaded), desc="photos", unit="photo", disable=not verbose)
    for json_path, source, records in loaded:
        split_hint, emotion_hint = _split_and_emotion(json_path)
        for record in records:
            progress.update()
            name = record.get("filename") if isinstance(record, dict) else None
            if not isinstance(name, str) or not name:
                report.skipped.append(Skipped(source, repr(record)[:40], "record without a filename"))
                continue
            skip = _convert_record(
                record,
                name,
                json_path,
                index,
                out,
                report,
                seen,
                split=split_hint or _hash_split(name, val_fraction),
                hints=(split_hint or "", emotion_hint),
                policies=(label_policy, box_policy, box_frame),
                max_side=max_side,
            )
            if skip:
                report.skipped.append(Skipped(source, name, skip))
            else:
                seen[name] = source
    progress.close()
    # A test split stays apart from val, which early stopping reads (reference §4).
    splits = {s: f"images/{s}" for s in ("train", "val", "test") if s != "test" or report.images["test"]}
    write_dataset_yaml(out, report.names, splits)
    if verbose:
        print(report.summary())
    return report


def _convert_record(record, name, json_path, index, out, report, seen, *, split, hints, policies, max_side):
    """Write one photo and its label file; returns the reason when the record is skipped."""
    label_policy, box_policy, box_frame = policies
    stem = Path(name).stem
    if name in seen:
        return f"duplicate filename: already converted from {seen[name]}"
    class_id, why = choose_label(record, label_policy)
    if class_id is None:
        return why
    box, why = choose_box(record, box_policy)
    if box is None:
        return why
    path = _find_image(name, json_path, index, hints)
    if path is None:
        return "image not found"
    try:
        with open_image(path) as image:
            image.load()
            orientation = exif_orientation(image) if box_frame == "stored" else 1
            # The frame the box is given in: stored pixels, or the upright photo.
            frame = image.size if box_frame == "stored" else ImageOps.exif_transpose(image).size
            clipped = (
                max(0.0, box[0]),
                max(0.0, box[1]),
                min(float(frame[0]), box[2]),
                min(float(frame[1]), box[3]),
            )
            if clipped[2] - clipped[0] < 2 or clipped[3] - clipped[1] < 2:
                return f"empty box after clipping to the {frame[0]}×{frame[1]} photo: {box}"
            upright_box, upright_size = orient_box(clipped, frame, orientation)
            for sub in ("images", "labels"):
                (out / sub / split).mkdir(parents=True, exist_ok=True)
            _write_upright(image, path, out / "images" / split / f"{stem}.jpg", max_side)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        return f"unreadable image {path.name}: {e}"
    (out / "labels" / split / f"{stem}.txt").write_text(
        yolo_line(class_id, upright_box, upright_size) + "\n", encoding="utf-8"
    )
    report.counts.setdefault(split, Counter())[report.names[class_id]] += 1
    report.images[split] += 1
    return ""


def prepare_output(out: Path) -> None:
    """Empty ``images/`` and ``labels/`` of an earlier conversion, so no stale photo stays in the
    dataset; a folder without ``dataset.yaml`` is not ours to clear and is refused if not empty."""
    leftovers = [p for p in (out / "images", out / "labels") if p.exists() and any(p.iterdir())]
    if not leftovers:
        return
    if not (out / "dataset.yaml").is_file():
        raise FileExistsError(
            f"{out} already has images/ or labels/ but no dataset.yaml; choose an empty folder"
        )
    for p in leftovers:
        shutil.rmtree(p)


def write_dataset_yaml(
    out: str | Path, names: Sequence[str], splits: Mapping[str, str] | None = None
) -> Path:
    """``dataset.yaml`` for ultralytics: absolute ``path``, ``train``/``val`` image folders, names."""
    import yaml

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    splits = dict(splits or {"train": "images/train", "val": "images/val"})
    for rel in splits.values():
        (out / rel).mkdir(parents=True, exist_ok=True)
    content = {"path": str(out), **splits, "names": dict(enumerate(names))}
    path = out / "dataset.yaml"
    path.write_text(yaml.safe_dump(content, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# --- command line ----------------------------------------------------------------------------


def add_convert_faces_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", type=Path, help="folder with the per-emotion JSON files and the photos")
    parser.add_argument("out", type=Path, help="output folder (images/, labels/, dataset.yaml)")
    parser.add_argument("--label-policy", choices=LABEL_POLICIES, default="majority")
    parser.add_argument("--box-policy", choices=BOX_POLICIES, default="median")
    parser.add_argument(
        "--box-frame",
        choices=BOX_FRAMES,
        default="stored",
        help="frame of the annotators' boxes: the stored pixels (reference §2.3) or the upright photo",
    )
    parser.add_argument(
        "--val-fraction", type=float, default=0.2, help="for JSON files without a split prefix"
    )
    parser.add_argument(
        "--max-side", type=int, default=None, help="shrink photos larger than this many pixels"
    )


def run_convert_faces(args: argparse.Namespace) -> int:
    try:
        report = convert_faces(
            args.src,
            args.out,
            label_policy=args.label_policy,
            box_policy=args.box_policy,
            box_frame=args.box_frame,
            val_fraction=args.val_fraction,
            max_side=args.max_side,
        )
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        print(f"python -m utils convert-faces: error: {e}", file=sys.stderr)
        return 2
    for skipped in report.skipped:
        print(f"skipped {skipped}")
    return 0 if report.converted else 1
