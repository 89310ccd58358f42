"""Synthetic detection data in the real formats, for tests and the small profiles.

- :func:`make_synthetic_faces`: cartoon faces with four expressions (anger, sad, panic, happy),
  stored as JPEGs with EXIF orientations 1..8 (pixels stored turned, as a phone does), with
  per-emotion JSON files in CP949 and three annotators who sometimes disagree (reference §2.3).
- :func:`make_synthetic_lvis`: a few shape classes in LVIS-format JSON (reference §2.4).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from utils.labels import EMOTION_EN, EMOTION_KO
from utils.vision.face_data import EXIF_ORIENTATION_TAG, INVERSE_ORIENTATION, Box, orient_box

# What ``ImageOps.exif_transpose`` does to the stored pixels for each orientation.
_UPRIGHT_OP = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# One colour per class, far apart, so a tiny model separates them within a few epochs.
FACE_COLOURS = ((225, 50, 40), (60, 110, 230), (170, 80, 210), (250, 215, 30))
# The face data's own word for 공포.
UPLOADER_WORD = {"공포": "당황"}
OFF_CLASS_WORDS = ("중립", "불안", "상처")


@dataclass(frozen=True)
class SyntheticPhoto:
    filename: str
    split: str
    class_id: int
    orientation: int
    upright_box: Box  # the face in the upright photo, pixels
    stored_box: Box  # the same box in the stored pixels (what the annotators' boxes are near)
    labels: tuple[str, str, str]  # annotators A, B, C


def store_with_orientation(upright: Image.Image, orientation: int, path: Path, quality: int = 92) -> None:
    """Save ``upright`` so that a viewer applying EXIF ``orientation`` shows it upright again."""
    stored = upright if orientation == 1 else upright.transpose(_UPRIGHT_OP[INVERSE_ORIENTATION[orientation]])
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = orientation
    stored.save(path, "JPEG", quality=quality, exif=exif.tobytes())


def stored_frame_box(upright_box: Box, upright_size: tuple[int, int], orientation: int) -> Box:
    """Where a box of the upright photo lies in its stored pixels."""
    box, _ = orient_box(upright_box, upright_size, INVERSE_ORIENTATION[orientation])
    return box


def _background(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    base = tuple(rng.randint(90, 200) for _ in range(3))
    image = Image.new("RGB", size, tuple(int(c * 0.7) + 20 for c in base))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(2, 5)):  # grey clutter, never face-coloured
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        grey = rng.randint(60, 220)
        draw.rectangle((x, y, x + rng.randint(8, 40), y + rng.randint(8, 40)), fill=(grey, grey, grey))
    return image


def draw_face(draw: ImageDraw.ImageDraw, box: Box, class_id: int, rng: random.Random) -> None:
    """A round face whose colour and features say its class (0 anger .. 3 happy)."""
    x0, y0, x1, y1 = box
    d = x1 - x0
    colour = tuple(max(0, min(255, c + rng.randint(-20, 20))) for c in FACE_COLOURS[class_id])
    draw.ellipse(box, fill=colour, outline=(30, 30, 30), width=max(1, int(d / 40)))
    ink, line = (20, 20, 20), max(2, int(d / 18))
    ex, ey, er = d * 0.22, d * 0.38, d * 0.07  # eye offset from centre, height, radius
    cx = (x0 + x1) / 2
    big = 1.8 if class_id == 2 else 1.0
    for side in (-1, 1):
        ecx = cx + side * ex
        draw.ellipse((ecx - er * big, y0 + ey - er * big, ecx + er * big, y0 + ey + er * big), fill=ink)
        if class_id == 0:  # angry brows: inner ends low, outer ends high
            draw.line(
                (ecx - side * d * 0.12, y0 + d * 0.3, ecx + side * d * 0.1, y0 + d * 0.18),
                fill=ink,
                width=line,
            )
    mouth = (x0 + d * 0.28, y0 + d * 0.55, x1 - d * 0.28, y0 + d * 0.82)
    if class_id == 0:
        draw.line((mouth[0], mouth[1] + d * 0.14, mouth[2], mouth[1] + d * 0.14), fill=ink, width=line)
    elif class_id == 1:  # frown and a tear
        draw.arc(
            (mouth[0], mouth[1] + d * 0.08, mouth[2], mouth[3] + d * 0.12), 200, 340, fill=ink, width=line
        )
        draw.ellipse((cx + ex - er, y0 + ey + er * 2, cx + ex + er, y0 + ey + er * 4.5), fill=(120, 200, 255))
    elif class_id == 2:  # open mouth
        draw.ellipse((cx - d * 0.1, mouth[1], cx + d * 0.1, mouth[3]), fill=ink)
    else:  # wide smile
        draw.chord(mouth, 0, 180, fill=ink)


def _jitter(box: Box, rng: random.Random, amount: float) -> dict:
    w, h = box[2] - box[0], box[3] - box[1]
    x0, y0, x1, y1 = (v + rng.uniform(-amount, amount) * (w if i % 2 == 0 else h) for i, v in enumerate(box))
    return {"minX": round(x0), "minY": round(y0), "maxX": round(x1), "maxY": round(y1)}


def _annotator_labels(true_word: str, rng: random.Random, disagree: float, no_majority: float) -> list[str]:
    others = [
        w
        for w in (*EMOTION_KO, *OFF_CLASS_WORDS)
        if w not in (true_word, "공포" if true_word == "당황" else "")
    ]
    roll = rng.random()
    if roll < no_majority:
        labels = [true_word, *rng.sample(others, 2)]
    elif roll < no_majority + disagree:
        labels = [true_word, true_word, rng.choice(others)]
    else:
        labels = [true_word] * 3
    rng.shuffle(labels)
    return labels


def make_synthetic_faces(
    out: str | Path,
    n: int = 40,
    seed: int = 0,
    *,
    size: tuple[int, int] = (160, 128),
    val_fraction: float = 0.25,
    disagree: float = 0.25,
    no_majority: float = 0.1,
    encoding: str = "cp949",
) -> list[SyntheticPhoto]:
    """``n`` face photos under ``out/img/<split>/<emotion>/`` and ``out/<split>_<emotion>.json``.

    Classes cycle so each has about ``n/4`` photos; orientations cycle 1..8; each photo's size is
    ``size`` or its transpose. Annotator boxes are the true box (stored frame) jittered by ≤ 3 %;
    labels mostly agree, ``disagree`` of photos have one dissenter and ``no_majority`` have three
    different words. Returns the ground truth of every photo.
    """
    out = Path(out)
    rng = random.Random(seed)
    records: dict[tuple[str, int], list[dict]] = {}
    truth: list[SyntheticPhoto] = []
    n_val = max(1, round(n * val_fraction)) if n > 1 else 0
    for i in range(n):
        class_id, orientation = i % 4, (i * 3 + seed) % 8 + 1
        split = "val" if i >= n - n_val else "train"
        upright_size = size if rng.random() < 0.5 else (size[1], size[0])
        image = _background(rng, upright_size)
        d = rng.uniform(0.45, 0.8) * min(upright_size)
        x0, y0 = rng.uniform(0, upright_size[0] - d), rng.uniform(0, upright_size[1] - d)
        upright_box = (x0, y0, x0 + d, y0 + d)
        draw_face(ImageDraw.Draw(image), upright_box, class_id, rng)
        image = image.filter(ImageFilter.GaussianBlur(0.6))
        filename = f"face_{seed}_{i:05d}.jpg"
        folder = out / "img" / split / EMOTION_EN[class_id]
        folder.mkdir(parents=True, exist_ok=True)
        store_with_orientation(image, orientation, folder / filename)
        stored_box = stored_frame_box(upright_box, upright_size, orientation)
        word = UPLOADER_WORD.get(EMOTION_KO[class_id], EMOTION_KO[class_id])
        labels = _annotator_labels(word, rng, disagree, no_majority)
        record = {
            "filename": filename,
            "gender": rng.choice(["남", "여"]),
            "age": rng.choice([10, 20, 30, 40, 50]),
            "isProf": rng.choice(["전문인", "일반인"]),
            "faceExp_uploader": word,
            "bg_uploader": rng.choice(["도심 환경", "실내 환경", "자연 환경"]),
        }
        for annotator, label in zip(("annot_A", "annot_B", "annot_C"), labels, strict=True):
            record[annotator] = {
                "boxes": _jitter(stored_box, rng, 0.03),
                "faceExp": label,
                "bg": record["bg_uploader"],
            }
        records.setdefault((split, class_id), []).append(record)
        truth.append(
            SyntheticPhoto(filename, split, class_id, orientation, upright_box, stored_box, tuple(labels))
        )
    for (split, class_id), recs in records.items():
        text = json.dumps(recs, ensure_ascii=False, indent=1)
        (out / f"{split}_{EMOTION_EN[class_id]}.json").write_bytes(text.encode(encoding))
    return truth


SHAPES = {5: "ball", 11: "box", 23: "traffic_cone"}  # LVIS-style ids (not contiguous) and names


def make_synthetic_lvis(out: str | Path, n: int = 24, seed: int = 0, *, size: int = 128) -> dict[str, Path]:
    """A small LVIS-format set: ``out/annotations/lvis_v1_{train,val}.json`` and COCO-style image
    folders ``out/train2017``, ``out/val2017`` (images are found through ``coco_url``, as in LVIS).
    One to three shapes per image: ball (circle), box (square), traffic_cone (triangle)."""
    out = Path(out)
    rng = random.Random(seed)
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    n_val = max(1, n // 4)
    data = {s: {"images": [], "annotations": [], "categories": []} for s in ("train", "val")}
    ann_id = 0
    for i in range(n):
        split = "val" if i >= n - n_val else "train"
        folder = out / f"{split}2017"
        folder.mkdir(exist_ok=True)
        image = _background(rng, (size, size))
        draw = ImageDraw.Draw(image)
        for _ in range(rng.randint(1, 3)):
            cat = rng.choice(list(SHAPES))
            s = rng.uniform(0.2, 0.45) * size
            x, y = rng.uniform(0, size - s), rng.uniform(0, size - s)
            colour = tuple(rng.randint(0, 255) for _ in range(3))
            if SHAPES[cat] == "ball":
                draw.ellipse((x, y, x + s, y + s), fill=colour, outline=(0, 0, 0))
            elif SHAPES[cat] == "box":
                draw.rectangle((x, y, x + s, y + s), fill=colour, outline=(0, 0, 0))
            else:
                draw.polygon([(x + s / 2, y), (x, y + s), (x + s, y + s)], fill=colour, outline=(0, 0, 0))
            ann_id += 1
            data[split]["annotations"].append(
                {"id": ann_id, "image_id": i + 1, "category_id": cat, "bbox": [x, y, s, s], "area": s * s}
            )
        name = f"{i + 1:012d}.jpg"
        image.save(folder / name, "JPEG", quality=92)
        data[split]["images"].append(
            {
                "id": i + 1,
                "width": size,
                "height": size,
                "coco_url": f"http://images.cocodataset.org/{split}2017/{name}",
                "neg_category_ids": [],
                "not_exhaustive_category_ids": [],
            }
        )
    categories = [{"id": k, "name": v, "synonyms": [v], "frequency": "f"} for k, v in SHAPES.items()]
    paths = {}
    for split, content in data.items():
        content["categories"] = categories
        paths[split] = out / "annotations" / f"lvis_v1_{split}.json"
        paths[split].write_text(json.dumps(content), encoding="utf-8")
    return paths
