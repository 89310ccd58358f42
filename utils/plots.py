"""Plots with Hangul that renders offline (NanumGothic ships inside koreanize-matplotlib)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib import font_manager


@lru_cache(maxsize=2)
def korean_font_path(bold: bool = False) -> Path:
    """Path of a NanumGothic TTF bundled with the ``koreanize-matplotlib`` package."""
    import koreanize_matplotlib

    fonts = Path(koreanize_matplotlib.__file__).parent / "fonts"
    path = fonts / ("NanumGothicBold.ttf" if bold else "NanumGothic.ttf")
    if not path.exists():
        raise FileNotFoundError(f"Korean font not found at {path}; reinstall koreanize-matplotlib")
    return path


@lru_cache(maxsize=1)
def use_korean_font() -> str:
    """Register NanumGothic with matplotlib and make it the default family; returns its name."""
    path = korean_font_path()
    font_manager.fontManager.addfont(str(path))
    name = font_manager.FontProperties(fname=str(path)).get_name()
    plt.rcParams["font.family"] = name
    plt.rcParams["axes.unicode_minus"] = False
    return name


def plot_curves(
    curves: Mapping[str, Sequence[tuple[float, float]]],
    out_path: str | Path,
    *,
    title: str,
    xlabel: str = "epoch",
    ylabel: str = "val loss",
    best: str = "min",
) -> Path:
    """One line per run on one axis, each run's best point marked and labelled; saved as PNG."""
    if best not in ("min", "max"):
        raise ValueError(f"best must be 'min' or 'max', got {best!r}")
    use_korean_font()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, points in curves.items():
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        i = ys.index(min(ys) if best == "min" else max(ys))
        # The best value goes in the legend: runs often end close together, where labels would overlap.
        (line,) = ax.plot(xs, ys, marker="o", markersize=3, label=f"{name}  (best {ys[i]:.4f} @ {xs[i]:g})")
        ax.scatter([xs[i]], [ys[i]], s=80, facecolors="none", edgecolors=line.get_color(), linewidths=2)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
