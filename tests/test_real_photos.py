"""The scored set of real photos: the hand labels, the scorer, and `python -m utils evaluate-photos`."""

from __future__ import annotations

import json

from utils import __main__ as cli
from utils import labels as label_vocab
from utils.pipeline.real_photos import PHOTO_SET, RealPhoto, load_photo_set, match_faces, score_photo, totals
from utils.vision import Detection

FACE = label_vocab.ko_name("Human face")


def det(ko: str, box, conf: float = 0.9) -> Detection:
    return Detection(ko, "x", conf, tuple(float(v) for v in box), "test")


def test_the_set_has_real_photos_from_installed_packages_labelled_in_the_vocabulary():
    photos = load_photo_set()
    assert len(photos) >= 40
    assert len({p.source.split(":")[0] for p in photos}) >= 5
    vocabulary = {c["ko"] for c in label_vocab.oiv7_classes()} | {e.ko for e in label_vocab.EMOTIONS}
    for photo in photos:
        assert photo.path.is_file()  # installed by make (photos target and requirements-nodeps.txt)
        assert "site-packages" in str(photo.path) or str(photo.path).startswith("/usr/share/")  # never copied
        assert not {"darknet", "opencv-doc"} & set(photo.source.replace(":", " ").split())  # kept for a check
        assert photo.labels <= vocabulary, photo.id
        for _, emotion in photo.faces:
            assert emotion in {"none", "unsure"} | {e.ko for e in label_vocab.EMOTIONS}


def test_scoring_counts_labels_faces_emotions_and_false_people(tmp_path):
    photo = RealPhoto(
        "two", tmp_path / "x.jpg", frozenset({"기쁨", "사람", "버스"}),
        (((0, 0, 10, 10), "기쁨"), ((50, 50, 60, 60), "unsure")), "test",
    )  # fmt: skip
    found = [det(FACE, (1, 1, 10, 10)), det("기쁨", (1, 1, 10, 10)), det(FACE, (200, 200, 210, 210))]
    found += [det("분노", (50, 50, 60, 60))]  # on the face people don't agree on: counted neither way
    row = score_photo(photo, "기쁨, 분노, 사람, 나무", found)
    assert (row["true_labels"], row["found_labels"], row["expected_labels"]) == (2, 3, 3)
    assert (row["faces_found"], row["faces_matched"], row["faces_expected"]) == (2, 1, 2)
    assert (row["emotion_right"], row["emotion_total"]) == (1, 1)
    lonely = RealPhoto("rocket", tmp_path / "r.jpg", frozenset({"로켓"}), (), "test")
    wrong = score_photo(lonely, "사람", [])
    assert wrong["false_person"] and not wrong["nothing_recognised"]
    summary = totals([row | {"comment": "a"}, wrong | {"comment": "a"}])
    assert summary["label_precision"] == round(2 / 4, 3) and summary["label_recall"] == round(2 / 4, 3)
    assert summary["false_faces"] == 1 and summary["false_persons"] == 1 and summary["distinct_comments"] == 1


def test_faces_match_one_to_one_by_overlap():
    truth = [(0, 0, 10, 10), (100, 100, 120, 120)]
    found = [(101, 101, 121, 121), (1, 1, 11, 11), (2, 2, 12, 12), (300, 300, 310, 310)]
    assert match_faces(truth, found) == {1: 0, 0: 1}


def test_evaluate_photos_writes_the_report_for_a_small_set(tmp_path, capsys):
    records = json.loads(PHOTO_SET.read_text(encoding="utf-8"))["photos"]
    chosen = [r for r in records if r["id"] in {"astronaut", "flower", "hubble_deep_field"}]
    photo_set = tmp_path / "set.json"
    photo_set.write_text(json.dumps({"photos": chosen}, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "report.json"
    code = cli.main(["evaluate-photos", "--photo-set", str(photo_set), "--out", str(out), "--offline"])
    assert code == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    by_id = {row["id"]: row for row in report["photos"]}
    assert by_id["astronaut"]["found"] == ["기쁨", "사람"]
    assert by_id["flower"]["found"] == [] and by_id["hubble_deep_field"]["nothing_recognised"]
    assert report["totals"]["label_precision"] == 1.0 and report["totals"]["emotion_accuracy"] == 1.0
    assert report["totals"]["false_faces"] == 0 and report["totals"]["distinct_comments"] == 3
    finders = {f["finder"]: f for f in report["face_finders"]}
    assert finders["mtcnn"]["recall"] == 1.0 and finders["mtcnn"]["false_faces"] == 0
    printed = capsys.readouterr().out
    assert "■ astronaut" in printed and "totals:" in printed


def test_the_committed_report_meets_the_offline_goal():
    from utils.pipeline.real_photos import RESULTS

    report = json.loads(RESULTS.read_text(encoding="utf-8"))
    totals_ = report["totals"]
    assert totals_["photos"] >= 40
    assert totals_["label_precision"] >= 0.9 and totals_["false_persons"] == 0  # precision first
    assert totals_["emotion_accuracy"] >= 0.9 and totals_["face_recall"] == 1.0
    assert totals_["distinct_comments"] >= totals_["photos"] - 10  # photos with nothing recognised share few


def test_hits_misses_per_class_and_precision_per_detector():
    from utils.pipeline.real_photos import per_class, per_detector

    rows = [
        {"id": "a", "expected": ["사람", "버스"], "found": ["사람", "트럭"], "ignored": [],
         "found_by": {"COCO CenterNet": ["사람", "트럭"], "MTCNN": ["사람"]}},
        {"id": "b", "expected": ["강아지"], "found": ["강아지", "기쁨"], "ignored": ["기쁨"],
         "found_by": {"COCO NanoDet": ["강아지"], "FER": ["기쁨"]}},
    ]  # fmt: skip
    classes = per_class(rows)
    assert classes["사람"] == {"hits": 1, "misses": 0, "false": 0}
    assert classes["버스"] == {"hits": 0, "misses": 1, "false": 0} and classes["트럭"]["false"] == 1
    assert "기쁨" not in classes  # found on a face people do not agree on: counted neither way
    detectors = per_detector(rows)
    assert detectors["COCO CenterNet"] == {"labels": 2, "right": 1, "false": ["a: 트럭"], "precision": 0.5}
    assert detectors["COCO NanoDet"]["precision"] == 1.0 and detectors["FER"]["labels"] == 0
