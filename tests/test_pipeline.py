"""The main job: photo → labels → comment, from Python and the command line, with bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from PIL import Image

from utils import __main__ as cli
from utils.lm import trained as trained_models
from utils.paths import ROOT, package_dir
from utils.pipeline.comment_pipeline import CommentPipeline, PhotoResult, demo_photos, find_photos
from utils.text.dataset import has_hangul


@pytest.fixture(scope="module")
def offline_pipeline() -> CommentPipeline:
    return CommentPipeline(offline=True, batch_size=4)


@pytest.fixture
def mixed_folder(tmp_path):
    """Two real photos, a corrupt JPEG, an empty file named .png, and a text file."""
    folder = tmp_path / "photos"
    folder.mkdir()
    bus, zidane = demo_photos()
    shutil.copy(bus, folder / "a_bus.jpg")
    shutil.copy(zidane, folder / "b_zidane.JPG")
    (folder / "c_corrupt.jpg").write_bytes(bus.read_bytes()[:2000])
    (folder / "d_empty.png").write_bytes(b"")
    (folder / "notes.txt").write_text("not a photo", encoding="utf-8")
    return folder


def cli_json_lines(capsys, *argv: str) -> tuple[int, list[dict], str]:
    code = cli.main(["comment", *argv])
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
    return code, rows, captured.err


def test_labels_skip_vision_and_the_comment_names_the_objects(capsys):
    code, rows, _ = cli_json_lines(capsys, "--labels", "기쁨, 안경, 나무", "--json", "--offline")
    assert code == 0
    assert len(rows) == 1
    row = rows[0]
    assert row["labels"] == "기쁨, 안경, 나무"
    assert has_hangul(row["comment"])
    assert "안경" in row["comment"] and "나무" in row["comment"]
    assert row["models"]["comment"]
    assert row["models"]["detectors"] == []


def test_the_labels_command_prints_one_json_object_from_a_fresh_process():
    result = subprocess.run(
        [sys.executable, "-m", "utils", "comment", "--labels", "기쁨, 안경, 나무", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "HF_HUB_OFFLINE": "1", "YOLO_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1
    assert json.loads(lines[0])["comment"]


def test_the_shipped_default_model_is_used_offline(monkeypatch):
    # Runs trained on this machine would win (models/t5/*/best); the shipped one is next.
    monkeypatch.setattr(trained_models, "TRAINED_COMMENT_MODELS", ())
    pipe = CommentPipeline(offline=True, load_vision=False)
    assert "default_t5" in pipe.comment_model
    [result] = pipe.comment_on_labels(["기쁨, 안경"])
    assert result.ok and has_hangul(result.comment)


def test_a_trained_model_under_models_wins_over_the_shipped_one(monkeypatch, tmp_path):
    trained = tmp_path / "t5" / "transfer_1" / "best"
    shutil.copytree(trained_models.DEFAULT_COMMENT_MODEL, trained)
    monkeypatch.setattr(trained_models, "TRAINED_COMMENT_MODELS", (tmp_path / "missing", trained))
    assert trained_models.resolve_comment_model() == trained
    assert trained_models.resolve_comment_model(trained_models.DEFAULT_COMMENT_MODEL) == (
        trained_models.DEFAULT_COMMENT_MODEL
    )


def test_the_offline_pipeline_names_its_detectors(offline_pipeline):
    assert offline_pipeline.model_names["detectors"]


def test_a_photo_gives_labels_detections_comment_models_and_timings(offline_pipeline, tmp_path):
    bus, _ = demo_photos()
    [result] = offline_pipeline.run(bus, out_dir=tmp_path, progress=False)
    assert result.ok, result.error
    assert result.detections and result.labels
    assert has_hangul(result.comment)
    assert set(result.timings) >= {"load", "detect", "generate", "annotate"}
    assert result.models["detectors"] == offline_pipeline.model_names["detectors"]
    annotated = Image.open(result.annotated)
    assert annotated.size == Image.open(bus).size


def test_folder_with_mixed_files_reports_bad_photos_and_processes_the_rest(offline_pipeline, mixed_folder):
    photos, problems = find_photos([mixed_folder])
    assert [p.name for p in photos] == ["a_bus.jpg", "b_zidane.JPG", "c_corrupt.jpg", "d_empty.png"]
    assert problems == []
    results = offline_pipeline.run(mixed_folder, progress=False)
    by_name = {r.source.rsplit("/", 1)[-1]: r for r in results}
    assert by_name["a_bus.jpg"].ok and by_name["b_zidane.JPG"].ok
    assert not by_name["c_corrupt.jpg"].ok and "c_corrupt.jpg" in by_name["c_corrupt.jpg"].error
    assert not by_name["d_empty.png"].ok and "d_empty.png" in by_name["d_empty.png"].error


def test_cli_exit_code_1_when_some_photos_fail(capsys, mixed_folder, tmp_path):
    missing = tmp_path / "nope.jpg"
    code, rows, _ = cli_json_lines(capsys, str(mixed_folder), str(missing), "--json", "--offline")
    assert code == 1
    assert len(rows) == 5
    failed = {r["source"].rsplit("/", 1)[-1]: r["error"] for r in rows if r["error"]}
    assert set(failed) == {"c_corrupt.jpg", "d_empty.png", "nope.jpg"}
    assert "no such file" in failed["nope.jpg"]
    assert all(r["comment"] for r in rows if not r["error"])


def test_cli_human_output_names_labels_comment_and_models(capsys, tmp_path):
    bus, _ = demo_photos()
    deep_field = package_dir("skimage") / "data" / "hubble_deep_field.jpg"
    code = cli.main(["comment", str(bus), str(deep_field), "--offline", "--out", str(tmp_path)])
    bus_part, deep_part = capsys.readouterr().out.split("■ ")[1:]
    assert code == 0
    assert "라벨 labels : 사람, 버스\n" in bus_part and "detectors=COCO CenterNet + NanoDet" in bus_part
    assert "댓글 comment: " in bus_part and "버스" in bus_part.split("댓글 comment: ")[1]
    # galaxies: the output says nothing was recognised and who wrote the comment
    assert "라벨 labels : (없음: nothing recognised)\n" in deep_part
    assert "comment=offline composer (nothing recognised in the photo)" in deep_part
    assert (tmp_path / "bus_annotated.jpg").exists() and (
        tmp_path / "hubble_deep_field_annotated.jpg"
    ).exists()


def test_photos_with_nothing_recognised_get_different_comments_and_the_same_one_again(
    offline_pipeline, tmp_path
):
    skimage_data, sklearn_images = (
        package_dir("skimage") / "data",
        package_dir("sklearn") / "datasets" / "images",
    )
    photos = [
        skimage_data / "hubble_deep_field.jpg",
        sklearn_images / "china.jpg",
        sklearn_images / "flower.jpg",
    ]
    photos.append(skimage_data / "rocket.jpg")  # none of them holds a face or a COCO object
    first = offline_pipeline.run(photos, progress=False)
    assert [r.labels for r in first] == [""] * len(photos)
    assert len({r.comment for r in first}) == len(photos)
    shutil.copy(photos[1], tmp_path / "renamed.jpg")  # same content, other name
    again = offline_pipeline.run([photos[3], tmp_path / "renamed.jpg"], progress=False)
    assert [r.comment for r in again] == [first[3].comment, first[1].comment]


@pytest.mark.parametrize("argv", [[], ["--labels", ""], ["--labels", " , "]])
def test_usage_errors_exit_2(capsys, argv):
    code = cli.main(["comment", *argv])
    assert code == 2
    assert "error" in capsys.readouterr().err


def test_unknown_labels_are_kept_with_a_warning(capsys):
    code, rows, err = cli_json_lines(capsys, "--labels", "기쁨, 유니콘", "--json", "--offline")
    assert code == 0
    assert "unknown label(s) kept as written: 유니콘" in err
    assert rows[0]["labels"] == "기쁨, 유니콘"
    assert rows[0]["comment"]


def test_a_missing_model_folder_is_a_usage_error(capsys, tmp_path):
    code = cli.main(["comment", "--labels", "기쁨, 나무", "--lm", str(tmp_path / "none"), "--offline"])
    assert code == 2
    assert "no trained text model" in capsys.readouterr().err


def test_without_any_text_model_the_composer_writes(monkeypatch):
    monkeypatch.setattr(trained_models, "TRAINED_COMMENT_MODELS", ())
    monkeypatch.setattr(trained_models, "DEFAULT_COMMENT_MODEL", ROOT / "does-not-exist")
    pipe = CommentPipeline(offline=True, load_vision=False)
    [result] = pipe.comment_on_labels(["슬픔, 재킷"])
    assert "composer" in result.models["comment"]
    assert "재킷" in result.comment


def test_batched_results_keep_input_order(offline_pipeline):
    results = offline_pipeline.comment_on_labels(["기쁨, 안경", "", "슬픔, 나무"])
    assert [r.labels for r in results] == ["기쁨, 안경", "", "슬픔, 나무"]
    assert results[1].error and "empty label string" in results[1].error
    assert isinstance(results[0], PhotoResult) and results[0].ok and results[2].ok


def test_demo_runs_offline_on_the_bundled_photos(capsys, tmp_path):
    code, rows, _ = cli_json_lines(capsys, "--demo", "--json", "--offline", "--out", str(tmp_path))
    assert code == 0
    by_name = {row["source"].rsplit("/", 1)[-1]: row for row in rows}
    assert set(by_name) == {"bus.jpg", "zidane.jpg", "grace_hopper.jpg", "astronaut.png", "flower.jpg"}
    assert by_name["bus.jpg"]["labels"] == "사람, 버스"  # the COCO detectors see the bus
    assert by_name["astronaut.png"]["labels"] == "기쁨, 사람"  # her smile, through FER2013
    assert by_name["grace_hopper.jpg"]["labels"] == "사람"  # a calm face: no emotion
    assert by_name["flower.jpg"]["labels"] == ""  # no face, no emotion, no person in a flower
    for row in rows:
        assert has_hangul(row["comment"]) and row["models"]["comment"]
        assert (tmp_path / f"{row['source'].rsplit('/', 1)[-1].split('.')[0]}_annotated.jpg").exists()


def test_the_astronaut_from_a_fresh_process_gives_happy_and_person():
    astronaut = package_dir("skimage") / "data" / "astronaut.png"
    done = subprocess.run(
        [sys.executable, "-m", "utils", "comment", str(astronaut), "--json", "--offline"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=True,
    )
    [row] = [json.loads(line) for line in done.stdout.splitlines()]
    assert row["labels"] == "기쁨, 사람"
    [happy] = [d for d in row["detections"] if d["label_ko"] == "기쁨"]
    [face] = [d for d in row["detections"] if d["label_ko"] == "인간의 얼굴"]
    assert happy["box"] == face["box"]  # the emotion comes from the face box, nowhere else


@pytest.mark.parametrize("offline", [False, True])
def test_make_demo_tries_the_real_detector_first_unless_offline(offline, tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "YOLO_OFFLINE")
    }
    env["SNS_WEIGHTS_HOST"] = (
        "127.0.0.1"  # a closed port: the download attempt fails as offline, never fetches
    )
    card = tmp_path / "card.png"
    command = ["make", "--no-print-directory", "demo", f"CARD={card}"] + (["OFFLINE=1"] if offline else [])
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600, env=env)
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if line.startswith("note: yolov8m-oiv7.pt")]
    if offline:
        assert notes == []
    else:
        [note] = notes
        assert "127.0.0.1 unreachable" in note and "offline detectors" in note
    assert done.stdout.count("■ ") == 5 and "라벨 labels : 기쁨, 사람" in done.stdout
    assert f"card: {card}" in done.stderr and 0 < card.stat().st_size < 200_000
    assert time.perf_counter() - start < 300


def test_trained_models_are_ranked_full_first_then_by_val_loss(monkeypatch, tmp_path):
    def trained(name: str, profile: str, loss: float):
        best = tmp_path / name / "best"
        shutil.copytree(trained_models.DEFAULT_COMMENT_MODEL, best)
        (best.parent / "run.json").write_text(json.dumps({"profile": profile, "best_val_loss": loss}))
        return best

    cpu_worse, cpu_better = trained("a", "cpu", 0.9), trained("b", "cpu", 0.7)
    monkeypatch.setattr(trained_models, "TRAINED_COMMENT_MODELS", (cpu_worse, cpu_better))
    assert trained_models.resolve_comment_model() == cpu_better
    full = trained("c", "full", 1.5)  # a pretrained model's loss is on another tokenizer: not comparable
    monkeypatch.setattr(trained_models, "TRAINED_COMMENT_MODELS", (cpu_worse, cpu_better, full))
    assert trained_models.resolve_comment_model() == full


def test_a_folder_run_detects_the_next_batch_while_writing_comments_and_keeps_every_result(mixed_folder):
    """With every detector on OpenVINO, run() detects batch k+1 on a second thread while batch k
    gets its comments; the results are those of batch-by-batch runs, in order, errors kept."""
    import threading

    from utils.vision.detectors import Detection, Detector

    class SizeNamer(Detector):
        name, conf, runtime = "size namer", 0.5, "OpenVINO"

        def __init__(self):
            self.threads = set()

        def detect(self, images):
            self.threads.add(threading.current_thread().name)
            label = lambda im: "나무" if im.width > 1000 else "버스"  # noqa: E731  (zidane is 1280 wide)
            return [[Detection(label(im), "x", 0.9, (0, 0, 9, 9), self.name)] for im in images]

    for name in ("e_bus.jpg", "f_bus.jpg", "g_bus.jpg"):
        shutil.copy(mixed_folder / "a_bus.jpg", mixed_folder / name)
    pipeline = CommentPipeline(offline=True, batch_size=2, load_vision=False)
    detector = SizeNamer()
    pipeline.detectors = [detector]
    assert pipeline._overlaps_stages()
    overlapped = pipeline.run(mixed_folder, progress=False)
    assert detector.threads and all(t.startswith("detect") for t in detector.threads)
    detector.runtime, detector.threads = "PyTorch", set()  # a torch detector: one stage after the other
    assert not pipeline._overlaps_stages()
    sequential = pipeline.run(mixed_folder, progress=False)
    assert detector.threads == {threading.current_thread().name}

    def summary(results):
        return [(os.path.basename(r.source), r.labels, r.comment, bool(r.error)) for r in results]

    assert summary(overlapped) == summary(sequential)
    done = {name: labels for name, labels, comment, failed in summary(overlapped) if not failed}
    assert done == {
        "a_bus.jpg": "버스",
        "b_zidane.JPG": "나무",
        "e_bus.jpg": "버스",
        "f_bus.jpg": "버스",
        "g_bus.jpg": "버스",
    }
    assert {"c_corrupt.jpg", "d_empty.png"} <= {name for name, *_, failed in summary(overlapped) if failed}
    assert all(comment for _, _, comment, failed in summary(overlapped) if not failed)
