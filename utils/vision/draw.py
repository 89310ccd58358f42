"""Detections → the label string, and the annotated photo with Hangul captions."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from utils import labels as label_vocab
from utils.photos import to_rgb8
from utils.plots import korean_font_path
from utils.vision.detectors import Detection


def labels_for(detections: Sequence[Detection]) -> str:
    """The label string ("기쁨, 사람"): emotions first, duplicates collapsed, excluded labels
    (인간의 얼굴, 남자, ...) dropped; "" when nothing was found."""
    return label_vocab.format_labels([d.label_ko for d in detections], strict=False)


FACE = label_vocab.ko_name("Human face")
_PALETTE = ((230, 57, 70), (29, 131, 232), (42, 157, 92), (244, 162, 27), (142, 68, 173), (0, 150, 150))


def annotate(image: Image.Image, detections: Sequence[Detection]) -> Image.Image:
    """A copy of ``image`` with each detection's box and a Korean caption ("기쁨 0.87").

    Detections that share a box (a face, its person and its emotion) get one box and one caption
    ("기쁨 1.00 · 사람 1.00"), so that captions never cover each other."""
    canvas = to_rgb8(image).copy()
    draw = ImageDraw.Draw(canvas)
    short = min(canvas.size)
    font = ImageFont.truetype(str(korean_font_path(bold=True)), size=max(12, round(short / 30)))
    width = max(2, round(short / 300))
    colours: dict[str, tuple[int, int, int]] = {}
    by_box: dict[tuple[float, ...], list[Detection]] = {}
    for det in detections:
        by_box.setdefault(tuple(round(v, 1) for v in det.box), []).append(det)
    for group in by_box.values():
        shown = [d for d in group if d.label_ko != FACE] or group  # 인간의 얼굴 says less than its neighbours
        colour = colours.setdefault(shown[0].label_ko, _PALETTE[len(colours) % len(_PALETTE)])
        x1, y1, x2, y2 = group[0].box
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        caption = " · ".join(f"{d.label_ko} {d.confidence:.2f}" for d in shown)
        left, top, right, bottom = draw.textbbox((0, 0), caption, font=font)
        text_h = bottom - top + 2 * width
        y = y1 - text_h if y1 - text_h >= 0 else y1
        draw.rectangle((x1, y, x1 + right - left + 2 * width, y + text_h), fill=colour)
        draw.text((x1 + width - left, y + width - top), caption, font=font, fill=(255, 255, 255))
    return canvas
