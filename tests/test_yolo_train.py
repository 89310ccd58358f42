"""The YOLO training wrapper: offline, one epoch on a dozen synthetic faces, outputs on disk."""

from __future__ import annotations

import json

import pytest

from utils.plots import korean_font_path
from utils.vision.face_data import convert_faces
from utils.vision.synth_data import make_synthetic_faces
from utils.vision.training import read_results_csv, train_yolo, val_loss_curve


def test_results_csv_val_loss_sums_the_val_columns(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text(
        "epoch, train/box_loss, val/box_loss, val/cls_loss, val/dfl_loss, metrics/mAP50(B)\n"
        "1, 3.0, 1.5, 2.0, 0.5, 0.1\n"
        "2, 2.0, 1.0, 1.0, 0.25, 0.4\n",
        encoding="utf-8",
    )
    rows = read_results_csv(path)
    assert rows[1]["metrics/mAP50(B)"] == 0.4
    assert val_loss_curve(rows) == [(1.0, 4.0), (2.0, 2.25)]


def test_missing_dataset_yaml_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        train_yolo("x", tmp_path / "nope.yaml", profile="smoke", base=tmp_path)


@pytest.mark.slow
def test_smoke_training_writes_metrics_and_plots(tmp_path):
    make_synthetic_faces(tmp_path / "src", n=12, seed=0, no_majority=0.0)
    report = convert_faces(tmp_path / "src", tmp_path / "data", verbose=False)
    result = train_yolo("faces_smoke", report.yaml_path, profile="smoke", base=tmp_path / "runs")
    run = tmp_path / "runs" / "yolo" / "faces_smoke"
    assert result.run_dir == run and result.weights == run / "weights" / "best.pt"
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics) >= {"precision", "recall", "mAP50", "mAP50-95"}
    assert all(0.0 <= metrics[k] <= 1.0 for k in ("precision", "recall", "mAP50", "mAP50-95"))
    assert metrics["epochs_run"] == 1 and metrics["imgsz"] == 64 and metrics["model"] == "yolov10n.yaml"
    assert len(read_results_csv(run / "results.csv")) == 1
    for name in ("val_loss.png", "val/confusion_matrix.png", "val/BoxPR_curve.png", "weights/best.pt"):
        assert (run / name).stat().st_size > 0, name
    assert (run.parent / "val_loss_comparison.png").stat().st_size > 0
    # ultralytics found its fonts offline: NanumGothic stands in for Arial.
    from ultralytics.utils import USER_CONFIG_DIR

    assert (USER_CONFIG_DIR / "Arial.Unicode.ttf").read_bytes() == korean_font_path().read_bytes()
