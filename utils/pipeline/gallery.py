"""The pipeline's annotated photos shown with their labels and comments: a notebook grid, a README card."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
from PIL import Image, ImageDraw, ImageFont

from utils.plots import korean_font_path, use_korean_font
from utils.text.dataset import strip_emojis


def show_photo_results(results: Sequence, columns: int = 3, width: float = 5.0):
    """A grid of the pipeline's annotated photos, each titled with its labels and comment.

    ``results`` are ``PhotoResult``s run with ``out_dir`` (so ``annotated`` is set); failed photos are skipped. Returns the matplotlib figure.
    """
    shown = [r for r in results if getattr(r, "annotated", None)]
    if not shown:
        raise ValueError("no annotated photos to show: run the pipeline with out_dir=...")
    use_korean_font()
    rows = -(-len(shown) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, width * rows * 1.05), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, result in zip(axes.flat, shown, strict=False):
        ax.imshow(Image.open(result.annotated))
        # NanumGothic has no emoji glyphs: the caption drops them (the printed comment keeps them).
        comment = strip_emojis(result.comment or "")
        caption = f"[{result.labels or '라벨 없음'}]\n" + "\n".join(textwrap.wrap(comment, 24))
        ax.set_title(caption, fontsize=10, loc="left")
    fig.tight_layout()
    return fig


def result_card(result, out_path: str | Path, width: int = 560) -> Path:
    """One result as a PNG for a README: the annotated photo with its labels and comment under it.

    The photo is scaled to ``width`` and the PNG palette-quantised, so the file stays small
    (under 200 KB at 560 px). Emojis are dropped from the caption (NanumGothic has none)."""
    if not getattr(result, "annotated", None):
        raise ValueError(f"{result.source}: no annotated photo; run the pipeline with out_dir=...")
    photo = Image.open(result.annotated).convert("RGB")
    photo = photo.resize((width, round(photo.height * width / photo.width)), Image.LANCZOS)
    font = ImageFont.truetype(str(korean_font_path()), size=max(14, width // 34))
    bold = ImageFont.truetype(str(korean_font_path(bold=True)), size=max(14, width // 34))
    per_line = max(10, int(width / font.size * 1.05))
    lines = [("라벨  ", result.labels or "(없음)")] + [
        ("댓글  " if i == 0 else "", text)
        for i, text in enumerate(textwrap.wrap(strip_emojis(result.comment or ""), per_line - 3))
    ]
    line_h = round(font.size * 1.5)
    card = Image.new("RGB", (width, photo.height + line_h * len(lines) + line_h // 2), "white")
    card.paste(photo, (0, 0))
    draw = ImageDraw.Draw(card)
    indent = draw.textlength("댓글  ", font=bold)
    for i, (head, text) in enumerate(lines):
        y = photo.height + line_h // 4 + i * line_h
        draw.text((10, y), head, font=bold, fill=(90, 90, 90))
        draw.text((10 + indent, y), text, font=font, fill=(20, 20, 20))
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    card.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    return out
