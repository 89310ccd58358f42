"""Train and validate YOLO detectors with ultralytics, offline, one call per run.

``train_yolo`` writes ``models/yolo/<run>/`` (``results_dir("yolo", run, ...)``): ultralytics'
own outputs (``results.csv``, plots, ``weights/`` — git-ignored), ``val/`` (PR curve, confusion
matrix), ``val_loss.png`` and ``metrics.json``; the family's ``val_loss_comparison.png`` sits
beside the runs.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from utils.paths import check_profile, results_dir
from utils.plots import plot_curves
from utils.vision import keep_ultralytics_offline

# Model, epochs and image size per profile; smoke and cpu build YOLOv10n from its YAML (no download).
PROFILE_SETTINGS: dict[str, dict] = {
    "smoke": {"model": "yolov10n.yaml", "epochs": 1, "imgsz": 64, "batch": 4},
    "cpu": {"model": "yolov10n.yaml", "epochs": 30, "imgsz": 128, "batch": 16},
    "full": {"model": "yolov10n.pt", "epochs": 200, "imgsz": 512, "batch": 16},
}
METRIC_KEYS = {
    "precision": "metrics/precision(B)",
    "recall": "metrics/recall(B)",
    "mAP50": "metrics/mAP50(B)",
    "mAP50-95": "metrics/mAP50-95(B)",
}


@dataclass
class TrainResult:
    run_dir: Path
    weights: Path  # best.pt
    metrics: dict  # precision, recall, mAP50, mAP50-95 (+ run facts)
    train_seconds: float


@contextmanager
def _ultralytics_log_level(level: int) -> Iterator[None]:
    """ultralytics logs every argument and layer; notebooks only need warnings and the epoch bars."""
    from ultralytics.utils import LOGGER

    before = LOGGER.level
    LOGGER.setLevel(level)
    try:
        yield
    finally:
        LOGGER.setLevel(before)


def _epoch_done(progress: tqdm, trainer) -> None:
    # The final validation of best.pt fires this callback once more: count epochs, not calls.
    progress.update(max(0, min(progress.total, trainer.epoch + 1) - progress.n))
    progress.set_postfix(mAP50=f"{trainer.metrics.get(METRIC_KEYS['mAP50'], 0.0):.3f}")


def _device() -> str:
    import torch

    return "0" if torch.cuda.is_available() else "cpu"


def read_results_csv(path: str | Path) -> list[dict[str, float]]:
    """ultralytics' ``results.csv`` as one dict per epoch (column names stripped)."""
    with Path(path).open(encoding="utf-8") as f:
        return [
            {k.strip(): float(v) for k, v in row.items() if v not in (None, "")} for row in csv.DictReader(f)
        ]


def val_loss_curve(rows: list[dict[str, float]]) -> list[tuple[float, float]]:
    """(epoch, sum of the ``val/*_loss`` columns) per epoch."""
    return [(row["epoch"], sum(v for k, v in row.items() if k.startswith("val/"))) for row in rows]


def plot_family_val_loss(family_dir: str | Path) -> Path | None:
    """``val_loss_comparison.png``: every run under ``family_dir`` with a ``results.csv``, one line each."""
    family_dir = Path(family_dir)
    curves = {
        p.parent.name: val_loss_curve(read_results_csv(p)) for p in sorted(family_dir.glob("*/results.csv"))
    }
    if not curves:
        return None
    return plot_curves(
        curves,
        family_dir / "val_loss_comparison.png",
        title="YOLO val loss (box + cls + dfl)",
        ylabel="val loss",
    )


def train_yolo(
    run_name: str,
    data_yaml: str | Path,
    *,
    profile: str = "cpu",
    base: str | Path | None = None,
    quiet: bool = True,
    **overrides,
) -> TrainResult:
    """Train one detector and validate its best weights.

    ``profile`` picks model / epochs / imgsz / batch (:data:`PROFILE_SETTINGS`); ``overrides``
    go to ``YOLO.train`` (e.g. ``epochs=30``, ``model="yolov10n.pt"``). Patience 10 as in the
    reference, ``workers=0`` and ``amp=False`` on CPU (AMP's check would download a model).
    ``quiet`` keeps ultralytics' log to warnings (its epoch progress bars still show).
    """
    check_profile(profile)
    data_yaml = Path(data_yaml)
    if not data_yaml.is_file():
        raise FileNotFoundError(f"dataset YAML not found: {data_yaml}")
    keep_ultralytics_offline()
    from ultralytics import YOLO

    settings = {**PROFILE_SETTINGS[profile], **overrides}
    model_name = settings.pop("model")
    run_dir = results_dir("yolo", run_name, profile=profile, base=base)
    # ultralytics appends to an existing results.csv: a re-run starts from an empty folder.
    shutil.rmtree(run_dir)
    run_dir.mkdir()
    device = settings.pop("device", _device())
    args = {
        "data": str(data_yaml),
        "patience": 10,
        "workers": 0,
        "device": device,
        "amp": device != "cpu",
        "plots": True,
        "project": str(run_dir.parent),
        "name": run_dir.name,
        "exist_ok": True,
        "verbose": False,
        "seed": 0,
        **settings,
    }
    with _ultralytics_log_level(logging.WARNING if quiet else logging.INFO):
        model = YOLO(model_name)
        # ultralytics' own bars go quiet with its log; one bar over epochs replaces them.
        progress = tqdm(total=args["epochs"], desc=run_name, unit="epoch")
        model.add_callback("on_fit_epoch_end", lambda trainer: _epoch_done(progress, trainer))
        start = time.perf_counter()
        try:
            model.train(**args)
        finally:
            progress.close()
        train_seconds = time.perf_counter() - start

        best = run_dir / "weights" / "best.pt"
        trained = YOLO(str(best if best.exists() else run_dir / "weights" / "last.pt"))
        val = trained.val(
            data=str(data_yaml),
            imgsz=args["imgsz"],
            batch=args["batch"],
            device=device,
            workers=0,
            plots=True,
            project=str(run_dir),
            name="val",
            exist_ok=True,
            verbose=False,
        )
    metrics = {name: round(float(val.results_dict[key]), 4) for name, key in METRIC_KEYS.items()}
    rows = read_results_csv(run_dir / "results.csv")
    metrics.update(
        {
            "profile": profile,
            "model": model_name,
            "epochs_run": len(rows),
            "imgsz": args["imgsz"],
            "train_seconds": round(train_seconds, 1),
            "device": device,
        }
    )
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False), encoding="utf-8")
    plot_curves({run_name: val_loss_curve(rows)}, run_dir / "val_loss.png", title=f"{run_name} val loss")
    plot_family_val_loss(run_dir.parent)
    return TrainResult(run_dir=run_dir, weights=best, metrics=metrics, train_seconds=train_seconds)


def result_summary(result: TrainResult) -> dict:
    """JSON-friendly view of a :class:`TrainResult` for notebook tables."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(result).items()}
