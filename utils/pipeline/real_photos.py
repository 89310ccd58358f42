"""The scored set of real photos: photos that ship inside installed packages, labelled by hand in
``data/real_photos.json``, run through the pipeline and scored (``python -m utils evaluate-photos``).

Scores (all over the whole set):
- label precision and recall: the found label set against the hand labels, summed over photos
  (an emotion found on a face marked "unsure" counts neither way);
- emotion accuracy: over faces whose emotion a person agrees on (an emotion or "none"), the
  emotion found on that face box (a missed face counts as "none");
- faces: found face boxes matched to hand boxes (IoU ≥ 0.3): precision, recall, false faces;
- false persons: 사람 found in a photo with no person; photos with nothing recognised;
  distinct comments;
- per class: hits, misses and false finds; per detector (the ``source`` of each detection):
  the labels it gave and how many of them were right; ms per photo by stage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from utils import labels as label_vocab
from utils.paths import MODELS, shown_path
from utils.photos import PHOTO_SET, photo_file

RESULTS = MODELS / "pipeline" / "real_photos.json"
FACE_MATCH_IOU = 0.3
PERSON = label_vocab.ko_name("Person")
HUMAN_FACE = label_vocab.ko_name("Human face")
EMOTION_NAMES = frozenset(e.ko for e in label_vocab.EMOTIONS)


@dataclass(frozen=True)
class RealPhoto:
    id: str
    path: Path
    labels: frozenset[str]
    faces: tuple[tuple[tuple[float, float, float, float], str], ...]  # (box, emotion | "none" | "unsure")
    source: str  # "package: path inside it"

    @property
    def unsure_face(self) -> bool:
        return any(emotion == "unsure" for _, emotion in self.faces)


def load_photo_set(path: str | Path = PHOTO_SET) -> list[RealPhoto]:
    """The hand-labelled photos, located inside their installed packages."""
    records = json.loads(Path(path).read_text(encoding="utf-8"))["photos"]
    photos = []
    for record in records:
        file, source = photo_file(record, path)
        faces = tuple((tuple(float(v) for v in f["box"]), f["emotion"]) for f in record["faces"])
        photos.append(RealPhoto(record["id"], file, frozenset(record["labels"]), faces, source))
    return photos


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_faces(truth: Sequence[Sequence[float]], found: Sequence[Sequence[float]]) -> dict[int, int]:
    """Greedy one-to-one matching by IoU: {truth index: found index}."""
    pairs = sorted(
        ((box_iou(t, f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)), reverse=True
    )
    matched: dict[int, int] = {}
    used: set[int] = set()
    for iou, i, j in pairs:
        if iou >= FACE_MATCH_IOU and i not in matched and j not in used:
            matched[i] = j
            used.add(j)
    return matched


def score_photo(photo: RealPhoto, labels: str, detections: Sequence) -> dict:
    """Per-photo counts for one pipeline result (``detections`` as ``vision.Detection`` or dicts)."""
    dets = [d if isinstance(d, dict) else d.__dict__ for d in detections]
    found = set(label_vocab.parse_labels(labels, strict=False)) if labels else set()
    ignored = {x for x in found - photo.labels if x in EMOTION_NAMES and photo.unsure_face}
    counted = found - ignored
    face_boxes = [d["box"] for d in dets if d["label_ko"] == HUMAN_FACE]
    truth_boxes = [box for box, _ in photo.faces]
    matched = match_faces(truth_boxes, face_boxes)
    emotion_right = emotion_total = 0
    for box, expected in photo.faces:
        if expected == "unsure":
            continue
        emotion_total += 1
        on_face = [
            d for d in dets if d["label_ko"] in EMOTION_NAMES and box_iou(d["box"], box) >= FACE_MATCH_IOU
        ]
        got = max(on_face, key=lambda d: d["confidence"])["label_ko"] if on_face else "none"
        emotion_right += got == expected
    by_source: dict[str, set[str]] = {}
    for d in dets:
        if d["label_ko"] in found:
            by_source.setdefault(d.get("source", "?"), set()).add(d["label_ko"])
    return {
        "id": photo.id,
        "expected": sorted(photo.labels),
        "found": sorted(found),
        "ignored": sorted(ignored),
        "found_by": {source: sorted(names) for source, names in sorted(by_source.items())},
        "true_labels": len(counted & photo.labels),
        "found_labels": len(counted),
        "expected_labels": len(photo.labels),
        "faces_expected": len(truth_boxes),
        "faces_found": len(face_boxes),
        "faces_matched": len(matched),
        "emotion_right": emotion_right,
        "emotion_total": emotion_total,
        "false_person": PERSON in found and PERSON not in photo.labels,
        "nothing_recognised": not found,
    }


def totals(rows: Sequence[dict]) -> dict:
    def ratio(a: str, b: str) -> float | None:
        den = sum(r[b] for r in rows)
        return round(sum(r[a] for r in rows) / den, 3) if den else None

    return {
        "photos": len(rows),
        "label_precision": ratio("true_labels", "found_labels"),
        "label_recall": ratio("true_labels", "expected_labels"),
        "emotion_accuracy": ratio("emotion_right", "emotion_total"),
        "emotion_faces": sum(r["emotion_total"] for r in rows),
        "face_precision": ratio("faces_matched", "faces_found"),
        "face_recall": ratio("faces_matched", "faces_expected"),
        "false_faces": sum(r["faces_found"] - r["faces_matched"] for r in rows),
        "false_persons": sum(r["false_person"] for r in rows),
        "nothing_recognised": sum(r["nothing_recognised"] for r in rows),
        "distinct_comments": len({r["comment"] for r in rows if "comment" in r}),
    }


def per_class(rows: Sequence[dict]) -> dict[str, dict[str, int]]:
    """Each label's hits (found and named by hand), misses (named, not found) and false finds."""
    table: dict[str, dict[str, int]] = {}
    for r in rows:
        expected, found = set(r["expected"]), set(r["found"]) - set(r.get("ignored", ()))
        for label in expected | found:
            entry = table.setdefault(label, {"hits": 0, "misses": 0, "false": 0})
            entry["hits" if label in expected & found else "misses" if label in expected else "false"] += 1
    return dict(sorted(table.items(), key=lambda kv: (-kv[1]["hits"] - kv[1]["misses"], kv[0])))


def per_detector(rows: Sequence[dict]) -> dict[str, dict]:
    """For each detector: the labels it gave over the set, how many were right, and its precision."""
    table: dict[str, dict] = {}
    for r in rows:
        expected, ignored = set(r["expected"]), set(r.get("ignored", ()))
        for source, names in r.get("found_by", {}).items():
            entry = table.setdefault(source, {"labels": 0, "right": 0, "false": []})
            for name in set(names) - ignored:
                entry["labels"] += 1
                if name in expected:
                    entry["right"] += 1
                else:
                    entry["false"].append(f"{r['id']}: {name}")
    for entry in table.values():
        entry["precision"] = round(entry["right"] / entry["labels"], 3) if entry["labels"] else None
    return table


def stage_ms(results: Sequence) -> dict[str, float]:
    """Mean milliseconds per photo of each pipeline stage (load, detect, generate, annotate)."""
    stages: dict[str, list[float]] = {}
    for result in results:
        for stage, seconds in result.timings.items():
            stages.setdefault(stage, []).append(seconds * 1000)
    return {stage: round(sum(v) / len(v), 1) for stage, v in stages.items()}


def compare_face_finders(photos: Sequence[RealPhoto], names: Sequence[str] | None = None) -> list[dict]:
    """Face precision and recall of each offline face finder on the photo set."""
    from utils.photos import load_photo
    from utils.vision.faces import FACE_FINDERS

    images = [load_photo(p.path) for p in photos]
    table = []
    for name in names or FACE_FINDERS:
        finder = FACE_FINDERS[name]()
        matched = found = expected = 0
        false_in = []
        for photo, image in zip(photos, images, strict=True):
            boxes = [f.box for f in finder.find(image)]
            truth = [box for box, _ in photo.faces]
            hits = len(match_faces(truth, boxes))
            matched, found, expected = matched + hits, found + len(boxes), expected + len(truth)
            if len(boxes) > hits:
                false_in.append(f"{photo.id} ({len(boxes) - hits})")
        table.append(
            {
                "finder": name,
                "name": finder.name,
                "precision": round(matched / found, 3) if found else None,
                "recall": round(matched / expected, 3) if expected else None,
                "faces_found": found,
                "false_faces": found - matched,
                "false_faces_in": false_in,
            }
        )
    return table


def evaluate_photos(
    pipeline=None,
    photo_set: str | Path = PHOTO_SET,
    out_dir: str | Path | None = None,
    limit: int | None = None,
    compare_faces: bool = True,
) -> tuple[dict, list]:
    """Run the pipeline on the photo set (its first ``limit`` photos) and score it.

    Returns (report, the pipeline's ``PhotoResult``s). The report holds the totals, the models,
    one row per photo, and (``compare_faces``) the face finders' comparison."""
    from utils.pipeline.comment_pipeline import CommentPipeline

    photos = load_photo_set(photo_set)[:limit]
    pipeline = pipeline or CommentPipeline()
    results = pipeline.run([p.path for p in photos], out_dir=out_dir, progress=False)
    rows = []
    for photo, result in zip(photos, results, strict=True):
        if not result.ok:
            raise RuntimeError(f"{photo.path}: {result.error}")
        row = score_photo(photo, result.labels, result.detections)
        row |= {"source": photo.source, "comment": result.comment, "models": result.models}
        rows.append(row)
    report = {
        "totals": totals(rows),
        "ms_per_photo": stage_ms(results),
        "per_detector": per_detector(rows),
        "per_class": per_class(rows),
        "models": pipeline.model_names,
        "photos": rows,
    }
    if compare_faces:
        report["face_finders"] = compare_face_finders(photos)
    return report, results


def write_report(report: dict, path: str | Path = RESULTS) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def add_evaluate_photos_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--photo-set", type=Path, default=PHOTO_SET, help="hand labels (data/real_photos.json)"
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="report file (models/pipeline/real_photos.json)"
    )
    parser.add_argument("--annotated", type=Path, help="folder for annotated photos")
    parser.add_argument("--offline", action="store_true", help="never download; the offline detectors")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run_evaluate_photos(args: argparse.Namespace) -> int:
    from utils.pipeline.comment_pipeline import CommentPipeline

    pipeline = CommentPipeline(offline=True if args.offline else None)
    report, _ = evaluate_photos(pipeline, args.photo_set, args.annotated)
    write_report(report, args.out)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    for row in report["photos"]:
        print(f"■ {row['id']:<18} found: {', '.join(row['found']) or '(없음: nothing)'}")
        print(f"  {'':<18} hand : {', '.join(row['expected']) or '-'}")
        print(f"  {'':<18} 댓글 : {row['comment']}")
    print("totals:", json.dumps(report["totals"], ensure_ascii=False))
    print("ms per photo:", json.dumps(report["ms_per_photo"]))
    for source, entry in report["per_detector"].items():
        print(
            f"detector {source}: {entry['right']} of {entry['labels']} labels right; false: {entry['false']}"
        )
    misses = {k: v["misses"] for k, v in report["per_class"].items() if v["misses"]}
    print("missed:", ", ".join(f"{k} {n}" for k, n in misses.items()))
    for finder in report["face_finders"]:
        print(
            f"faces {finder['finder']:<12} precision {finder['precision']}  recall {finder['recall']}  "
            f"false {finder['false_faces']} {finder['false_faces_in']}"
        )
    print(f"wrote {shown_path(args.out)}", file=sys.stderr)
    return 0
