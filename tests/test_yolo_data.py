"""Face data (CP949 JSON, EXIF, three annotators) and LVIS → YOLO, and the synthetic fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image, ImageDraw

from utils.__main__ import main as cli
from utils.labels import EMOTION_EN
from utils.vision.face_data import convert_faces, orient_box, read_face_json
from utils.vision.lvis_data import convert_coco_json
from utils.vision.synth_data import make_synthetic_faces, make_synthetic_lvis, store_with_orientation

STORED_SIZE = (200, 100)
STORED_BOX = (20, 10, 60, 30)
# The stored box above in the upright photo, worked out by hand per EXIF orientation
# (for 5..8 the upright photo is 100 wide, 200 high).
UPRIGHT_BOXES = {
    1: (20, 10, 60, 30),
    2: (140, 10, 180, 30),
    3: (140, 70, 180, 90),
    4: (20, 70, 60, 90),
    5: (10, 20, 30, 60),
    6: (70, 20, 90, 60),
    7: (70, 140, 90, 180),
    8: (10, 140, 30, 180),
}


def annot(box, label: str) -> dict:
    x0, y0, x1, y1 = box
    return {"boxes": {"minX": x0, "minY": y0, "maxX": x1, "maxY": y1}, "faceExp": label, "bg": "도심 환경"}


def record(filename: str, labels=("분노", "분노", "분노"), uploader="분노", boxes=None) -> dict:
    boxes = boxes or [STORED_BOX] * 3
    rec = {"filename": filename, "gender": "여", "age": 20, "isProf": "일반인", "faceExp_uploader": uploader}
    rec["bg_uploader"] = "도심 환경"
    for name, box, label in zip(("annot_A", "annot_B", "annot_C"), boxes, labels, strict=True):
        rec[name] = annot(box, label)
    return rec


def write_json(path: Path, records: list[dict], encoding: str = "cp949") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(json.dumps(records, ensure_ascii=False).encode(encoding))
    return path


def stored_photo(path: Path, orientation: int = 1) -> Path:
    """A black photo with a white rectangle at STORED_BOX in its stored pixels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", STORED_SIZE, (0, 0, 0))
    ImageDraw.Draw(image).rectangle((20, 10, 59, 29), fill=(255, 255, 255))
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, "JPEG", quality=95, exif=exif.tobytes())
    return path


def read_label(out: Path, split: str, stem: str) -> list[float]:
    return [float(v) for v in (out / "labels" / split / f"{stem}.txt").read_text().split()]


def normalised(box, size):
    (x0, y0, x1, y1), (w, h) = box, size
    return [(x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orient_box_matches_hand_computed_values(orientation):
    box, size = orient_box(STORED_BOX, STORED_SIZE, orientation)
    assert box == UPRIGHT_BOXES[orientation]
    assert size == (STORED_SIZE if orientation <= 4 else STORED_SIZE[::-1])


def test_orient_box_rejects_unknown_orientation():
    with pytest.raises(ValueError, match="1..8"):
        orient_box(STORED_BOX, STORED_SIZE, 9)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_convert_applies_exif_orientation(tmp_path, orientation):
    stored_photo(tmp_path / "src" / "p.jpg", orientation)
    write_json(tmp_path / "src" / "train_anger.json", [record("p.jpg")])
    out = tmp_path / "out"
    report = convert_faces(tmp_path / "src", out, verbose=False)
    assert report.converted == 1 and not report.skipped
    upright_size = STORED_SIZE if orientation <= 4 else STORED_SIZE[::-1]
    cls, *box = read_label(out, "train", "p")
    assert cls == 0
    assert box == pytest.approx(normalised(UPRIGHT_BOXES[orientation], upright_size), abs=1e-6)
    # The written photo is upright: its white pixels are where the label says.
    pixels = np.asarray(Image.open(out / "images" / "train" / "p.jpg").convert("L"))
    assert pixels.shape == (upright_size[1], upright_size[0])
    ys, xs = np.nonzero(pixels > 128)
    x0, y0, x1, y1 = UPRIGHT_BOXES[orientation]
    assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == pytest.approx((x0, y0, x1, y1), abs=1)


def test_box_frame_upright_takes_boxes_as_shown(tmp_path):
    stored_photo(tmp_path / "src" / "p.jpg", 6)
    write_json(tmp_path / "src" / "train_anger.json", [record("p.jpg", boxes=[UPRIGHT_BOXES[6]] * 3)])
    convert_faces(tmp_path / "src", tmp_path / "out", box_frame="upright", verbose=False)
    assert read_label(tmp_path / "out", "train", "p")[1:] == pytest.approx(
        normalised(UPRIGHT_BOXES[6], (100, 200))
    )


def test_reads_cp949_and_utf8_alike(tmp_path):
    records = [record("p.jpg", labels=("당황", "공포", "불안"), uploader="당황")]
    cp949 = write_json(tmp_path / "a" / "val_panic.json", records, "cp949")
    utf8 = write_json(tmp_path / "b" / "val_panic.json", records, "utf-8")
    with pytest.raises(UnicodeDecodeError):
        cp949.read_bytes().decode("utf-8")  # the fixture really is CP949
    assert read_face_json(cp949) == read_face_json(utf8) == records
    for folder in ("a", "b"):
        stored_photo(tmp_path / folder / "p.jpg")
        report = convert_faces(tmp_path / folder, tmp_path / f"out_{folder}", verbose=False)
        assert report.counts["val"]["panic"] == 1  # 당황 and 공포 are the same class
        assert read_label(tmp_path / f"out_{folder}", "val", "p")[0] == 2


def test_read_face_json_names_bad_files(tmp_path):
    bad = tmp_path / "train_sad.json"
    bad.write_bytes(b"{not json")
    with pytest.raises(ValueError, match="train_sad.json"):
        read_face_json(bad)
    bad.write_text('{"filename": "x.jpg"}', encoding="utf-8")
    with pytest.raises(ValueError, match="list of records"):
        read_face_json(bad)


def disagreement_set(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    records = [
        record("all.jpg", labels=("슬픔", "슬픔", "슬픔"), uploader="슬픔"),
        record("two.jpg", labels=("슬픔", "분노", "슬픔"), uploader="분노"),
        record("none.jpg", labels=("분노", "불안", "슬픔"), uploader="슬픔"),
        record("neutral.jpg", labels=("중립", "중립", "기쁨"), uploader="기쁨"),
    ]
    write_json(src / "train_sad.json", records)
    for r in records:
        stored_photo(src / r["filename"])
    return src


def test_majority_policy_drops_photos_without_majority(tmp_path):
    report = convert_faces(disagreement_set(tmp_path), tmp_path / "out", verbose=False)
    out = tmp_path / "out"
    assert read_label(out, "train", "all")[0] == 1
    assert read_label(out, "train", "two")[0] == 1  # two annotators outvote the uploader's 분노
    reasons = {s.item: s.reason for s in report.skipped}
    assert set(reasons) == {"none.jpg", "neutral.jpg"}
    assert reasons["none.jpg"] == "no majority among annotators: 분노/불안/슬픔"
    assert reasons["neutral.jpg"] == "no majority among annotators: 중립/중립/기쁨"  # 중립 is no class
    assert not (out / "labels" / "train" / "none.txt").exists()


def test_uploader_policy_keeps_every_photo_with_the_uploaders_label(tmp_path):
    out = tmp_path / "out"
    report = convert_faces(disagreement_set(tmp_path), out, label_policy="uploader", verbose=False)
    assert report.converted == 4 and not report.skipped
    labels = {stem: read_label(out, "train", stem)[0] for stem in ("all", "two", "none", "neutral")}
    assert labels == {"all": 1, "two": 0, "none": 1, "neutral": 3}


def test_box_policies_median_and_annotator_a(tmp_path):
    src = tmp_path / "src"
    boxes = [(20, 10, 60, 30), (30, 14, 64, 40), (24, 0, 70, 36)]
    write_json(
        src / "train_happy.json", [record("p.jpg", labels=("기쁨",) * 3, uploader="기쁨", boxes=boxes)]
    )
    stored_photo(src / "p.jpg")
    convert_faces(src, tmp_path / "median", verbose=False)
    convert_faces(src, tmp_path / "a", box_policy="annot_A", verbose=False)
    assert read_label(tmp_path / "median", "train", "p")[1:] == pytest.approx(
        normalised((24, 10, 64, 36), STORED_SIZE)
    )
    assert read_label(tmp_path / "a", "train", "p")[1:] == pytest.approx(normalised(boxes[0], STORED_SIZE))


def test_every_skipped_record_has_its_reason_and_the_rest_converts(tmp_path, capsys):
    src = tmp_path / "src"
    no_box_a = record("no_box_a.jpg")
    del no_box_a["annot_A"]["boxes"]
    records = [
        record("ok.jpg"),
        record("missing.jpg"),
        {"gender": "남"},
        record("empty.jpg"),
        no_box_a,
        record("outside.jpg", boxes=[(300, 200, 400, 300)] * 3),
        record("ok.jpg"),
    ]
    write_json(src / "train_anger.json", records)
    (src / "broken.json").write_bytes(b"\xff\xfe not json")
    stored_photo(src / "ok.jpg")
    stored_photo(src / "no_box_a.jpg")
    stored_photo(src / "outside.jpg")
    (src / "empty.jpg").write_bytes(b"")
    report = convert_faces(src, tmp_path / "out", box_policy="annot_A")
    reasons = {(s.source, s.item): s.reason for s in report.skipped}
    assert reasons[("train_anger.json", "missing.jpg")] == "image not found"
    assert reasons[("train_anger.json", "{'gender': '남'}")] == "record without a filename"
    assert reasons[("train_anger.json", "empty.jpg")].startswith("unreadable image empty.jpg")
    assert reasons[("train_anger.json", "no_box_a.jpg")] == "annot_A has no usable box"
    assert reasons[("train_anger.json", "outside.jpg")].startswith(
        "empty box after clipping to the 200×100 photo"
    )
    assert (
        reasons[("train_anger.json", "ok.jpg")]
        == "duplicate filename: already converted from train_anger.json"
    )
    assert reasons[("broken.json", "*")].startswith("unreadable annotation file")
    assert len(report.skipped) == 7 and report.converted == 1
    printed = capsys.readouterr().out
    assert "skipped: 7" in printed and "1 × image not found" in printed


def test_dataset_yaml_lists_emotions_in_reference_order(tmp_path):
    stored_photo(tmp_path / "src" / "p.jpg")
    write_json(tmp_path / "src" / "val_anger.json", [record("p.jpg")])
    report = convert_faces(tmp_path / "src", tmp_path / "out", verbose=False)
    content = yaml.safe_load(report.yaml_path.read_text(encoding="utf-8"))
    assert content["names"] == {0: "anger", 1: "sad", 2: "panic", 3: "happy"} == dict(enumerate(EMOTION_EN))
    assert Path(content["path"]) == (tmp_path / "out").resolve()
    assert (Path(content["path"]) / content["val"] / "p.jpg").is_file()


def test_invalid_policy_and_missing_folder_are_named(tmp_path):
    with pytest.raises(ValueError, match="label_policy must be one of majority, uploader, got 'vote'"):
        convert_faces(tmp_path, tmp_path / "out", label_policy="vote")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        convert_faces(tmp_path / "nowhere", tmp_path / "out")


def test_store_with_orientation_round_trips_through_exif_transpose(tmp_path):
    from PIL import ImageOps

    upright = Image.new("RGB", (40, 20), (0, 0, 0))
    upright.putpixel((0, 0), (255, 255, 255))
    for orientation in range(1, 9):
        store_with_orientation(upright, orientation, tmp_path / f"{orientation}.jpg", quality=100)
        shown = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / f"{orientation}.jpg")).convert("L"))
        assert shown.shape == (20, 40)
        assert np.unravel_index(shown.argmax(), shown.shape) == (0, 0), orientation


def test_synthetic_faces_convert_to_their_true_boxes(tmp_path):
    truth = make_synthetic_faces(tmp_path / "src", n=24, seed=3)
    assert {p.orientation for p in truth} == set(range(1, 9))
    for json_file in (tmp_path / "src").glob("*.json"):
        with pytest.raises(UnicodeDecodeError):
            json_file.read_bytes().decode("utf-8")
    report = convert_faces(tmp_path / "src", tmp_path / "out", verbose=False)
    dropped = {p.filename for p in truth if max(p.labels.count(w) for w in p.labels) < 2}
    assert {s.item for s in report.skipped} == dropped
    assert report.converted == len(truth) - len(dropped)
    assert any(len(set(p.labels)) == 2 for p in truth)  # some photos have one dissenting annotator
    for p in truth:
        if p.filename in dropped:
            continue
        stem = Path(p.filename).stem
        cls, *box = read_label(tmp_path / "out", p.split, stem)
        size = Image.open(tmp_path / "out" / "images" / p.split / f"{stem}.jpg").size
        assert cls == p.class_id
        assert box == pytest.approx(normalised(p.upright_box, size), abs=0.03)


def test_synthetic_lvis_converts_with_contiguous_classes(tmp_path):
    paths = make_synthetic_lvis(tmp_path / "lvis", n=12, seed=1)
    report = convert_coco_json(paths, tmp_path / "lvis", tmp_path / "out", verbose=False)
    assert report.names == ["ball", "box", "traffic_cone"]  # LVIS ids 5, 11, 23 → 0, 1, 2
    assert report.images == {"train": 9, "val": 3}
    data = json.loads(paths["val"].read_text())
    image = data["images"][0]
    anns = [a for a in data["annotations"] if a["image_id"] == image["id"]]
    lines = (tmp_path / "out" / "labels" / "val" / f"{image['id']:012d}.txt").read_text().splitlines()
    expected = []
    for a in anns:
        x, y, w, h = a["bbox"]
        expected.append(
            [{5: 0, 11: 1, 23: 2}[a["category_id"]], *normalised((x, y, x + w, y + h), (128, 128))]
        )
    assert [[float(v) for v in line.split()] for line in lines] == [
        pytest.approx(e, abs=1e-5) for e in expected
    ]
    assert yaml.safe_load(report.yaml_path.read_text())["names"] == {0: "ball", 1: "box", 2: "traffic_cone"}


def test_lvis_subset_by_category_and_image_count(tmp_path):
    paths = make_synthetic_lvis(tmp_path / "lvis", n=16, seed=2)
    next((tmp_path / "lvis" / "val2017").glob("*.jpg")).unlink()
    report = convert_coco_json(
        paths, tmp_path / "lvis", tmp_path / "out", category_names=["box"], max_images=3, verbose=False
    )
    assert report.names == ["box"]
    assert report.images["train"] <= 3
    lines = [
        line for p in (tmp_path / "out" / "labels").rglob("*.txt") for line in p.read_text().splitlines()
    ]
    assert lines and all(line.startswith("0 ") for line in lines)
    reasons = {s.reason.split(":")[0] for s in report.skipped}
    assert reasons <= {"no boxes in the chosen categories", "image not found"}
    with pytest.raises(ValueError, match="unicorn"):
        convert_coco_json(paths, tmp_path / "lvis", tmp_path / "x", category_names=["unicorn"])


def test_cli_convert_faces(tmp_path, capsys):
    stored_photo(tmp_path / "src" / "p.jpg", 6)
    write_json(tmp_path / "src" / "train_anger.json", [record("p.jpg"), record("gone.jpg")])
    code = cli(["convert-faces", str(tmp_path / "src"), str(tmp_path / "out"), "--box-policy", "annot_A"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "skipped train_anger.json: gone.jpg: image not found" in printed
    assert (tmp_path / "out" / "labels" / "train" / "p.txt").is_file()
    assert cli(["convert-faces", str(tmp_path / "nowhere"), str(tmp_path / "out")]) == 2
    assert "face data folder not found" in capsys.readouterr().err


def test_reconverting_leaves_no_stale_photos_and_foreign_folders_are_refused(tmp_path):
    src, out = disagreement_set(tmp_path), tmp_path / "out"
    convert_faces(src, out, label_policy="uploader", verbose=False)
    assert len(list((out / "labels" / "train").glob("*.txt"))) == 4
    convert_faces(src, out, label_policy="majority", verbose=False)
    assert sorted(p.stem for p in (out / "labels" / "train").glob("*.txt")) == ["all", "two"]
    assert sorted(p.stem for p in (out / "images" / "train").glob("*.jpg")) == ["all", "two"]
    foreign = tmp_path / "foreign"
    (foreign / "images").mkdir(parents=True)
    (foreign / "images" / "mine.jpg").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="no dataset.yaml"):
        convert_faces(src, foreign, verbose=False)
    assert (foreign / "images" / "mine.jpg").exists()


def test_test_split_is_kept_apart_from_val(tmp_path):
    src = tmp_path / "src"
    for split in ("train", "val", "test"):
        stored_photo(src / f"{split}.jpg")
        write_json(src / f"{split}_anger.json", [record(f"{split}.jpg")])
    report = convert_faces(src, tmp_path / "out", verbose=False)
    content = yaml.safe_load(report.yaml_path.read_text(encoding="utf-8"))
    assert (content["train"], content["val"], content["test"]) == (
        "images/train",
        "images/val",
        "images/test",
    )
    assert [p.name for p in (tmp_path / "out" / "images" / "test").iterdir()] == ["test.jpg"]
    assert [p.name for p in (tmp_path / "out" / "images" / "val").iterdir()] == ["val.jpg"]


def test_coco_conversion_names_a_bad_annotation_file(tmp_path):
    bad = tmp_path / "instances_val.json"
    bad.write_text('{"images": []}', encoding="utf-8")
    with pytest.raises(ValueError, match="instances_val.json: not COCO/LVIS detection JSON"):
        convert_coco_json({"val": bad}, tmp_path, tmp_path / "out")
    with pytest.raises(ValueError, match="cannot read COCO/LVIS annotations .*missing.json"):
        convert_coco_json({"val": tmp_path / "missing.json"}, tmp_path, tmp_path / "out")


def test_max_side_shrinks_photos_and_keeps_normalised_boxes(tmp_path):
    stored_photo(tmp_path / "src" / "p.jpg", 6)
    write_json(tmp_path / "src" / "train_anger.json", [record("p.jpg")])
    convert_faces(tmp_path / "src", tmp_path / "out", max_side=50, verbose=False)
    assert Image.open(tmp_path / "out" / "images" / "train" / "p.jpg").size == (25, 50)
    assert read_label(tmp_path / "out", "train", "p")[1:] == pytest.approx(
        normalised(UPRIGHT_BOXES[6], (100, 200))
    )
