"""LVIS / COCO detection JSON → a YOLO dataset (reference §2.4), with subsetting for notebooks."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlparse

from tqdm import tqdm

from utils.vision.face_data import ConversionReport, Skipped, prepare_output, write_dataset_yaml, yolo_line


def _coco_image_path(image: dict, images_root: Path) -> Path:
    """LVIS gives only ``coco_url`` (…/train2017/x.jpg); COCO gives ``file_name``."""
    if image.get("file_name"):
        return images_root / image["file_name"]
    return images_root / urlparse(image["coco_url"]).path.lstrip("/")


def _read_coco_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read COCO/LVIS annotations {path}: {e}") from e
    missing = {"images", "annotations", "categories"} - set(data if isinstance(data, dict) else ())
    if missing:
        raise ValueError(f"{path}: not COCO/LVIS detection JSON (missing {', '.join(sorted(missing))})")
    return data


def convert_coco_json(
    annotation_files: Mapping[str, str | Path],
    images_root: str | Path,
    out: str | Path,
    *,
    category_names: Sequence[str] | None = None,
    max_images: int | None = None,
    verbose: bool = True,
) -> ConversionReport:
    """LVIS / COCO detection JSON (``{split: json path}``) → YOLO dataset at ``out``.

    Category ids are renumbered 0..n-1 in id order (LVIS and COCO ids are not contiguous once a
    subset is taken); ``category_names`` keeps only those classes and ``max_images`` caps each
    split, which is how a notebook takes an LVIS subset. ultralytics' ``convert_coco`` is not
    used: it maps ids by ``id - 1``, appends to existing files and renames the output folder.
    """
    images_root, out = Path(images_root), Path(out)
    prepare_output(out)
    loaded = {split: _read_coco_json(Path(p)) for split, p in annotation_files.items()}
    categories = sorted(
        {c["id"]: c for d in loaded.values() for c in d["categories"]}.values(), key=lambda c: c["id"]
    )
    if category_names is not None:
        missing = set(category_names) - {c["name"] for c in categories}
        if missing:
            raise ValueError(
                f"categories not in {', '.join(map(str, annotation_files.values()))}: {sorted(missing)}"
            )
        categories = [c for c in categories if c["name"] in set(category_names)]
    class_of = {c["id"]: i for i, c in enumerate(categories)}
    report = ConversionReport(yaml_path=out / "dataset.yaml", names=[c["name"] for c in categories])
    for split, data in loaded.items():
        source = Path(annotation_files[split]).name
        by_image: dict[int, list[dict]] = {}
        for ann in data["annotations"]:
            if ann["category_id"] in class_of and not ann.get("iscrowd"):
                by_image.setdefault(ann["image_id"], []).append(ann)
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        done = 0
        for image in tqdm(data["images"], desc=source, unit="image", disable=not verbose):
            if max_images is not None and done >= max_images:
                break
            path = _coco_image_path(image, images_root)
            anns = by_image.get(image["id"], [])
            w, h = image["width"], image["height"]
            anns = [a for a in anns if a["bbox"][2] > 0 and a["bbox"][3] > 0]
            lines = [
                yolo_line(class_of[a["category_id"]], (x, y, x + bw, y + bh), (w, h))
                for a in anns
                for x, y, bw, bh in [a["bbox"]]
            ]
            if not lines:
                report.skipped.append(Skipped(source, str(image["id"]), "no boxes in the chosen categories"))
            elif not path.is_file():
                report.skipped.append(Skipped(source, str(image["id"]), f"image not found: {path}"))
            else:
                shutil.copyfile(path, out / "images" / split / path.name)
                (out / "labels" / split / f"{path.stem}.txt").write_text(
                    "\n".join(lines) + "\n", encoding="utf-8"
                )
                counts = report.counts.setdefault(split, Counter())
                counts.update(report.names[class_of[a["category_id"]]] for a in anns)
                report.images[split] += 1
                done += 1
    write_dataset_yaml(out, report.names)
    if verbose:
        print(report.summary())
    return report
