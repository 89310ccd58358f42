import json

import pytest
import yaml

from utils import labels
from utils.labels import UnknownLabelError, format_labels, parse_labels


def ultralytics_oiv7_names() -> list[str]:
    from pathlib import Path

    import ultralytics

    cfg = Path(ultralytics.__file__).parent / "cfg" / "datasets" / "open-images-v7.yaml"
    names = yaml.safe_load(cfg.read_text(encoding="utf-8"))["names"]
    return [names[i] for i in range(len(names))]


def test_oiv7_map_matches_ultralytics_names_in_order():
    classes = json.loads(labels.OIV7_KO_FILE.read_text(encoding="utf-8"))
    assert len(classes) == 601
    assert [c["id"] for c in classes] == list(range(601))
    assert [c["en"] for c in classes] == ultralytics_oiv7_names()


def test_korean_names_are_distinct_nonempty_and_not_emotions():
    ko = [c["ko"] for c in labels.oiv7_classes()]
    assert all(name.strip() == name and name for name in ko)
    assert len(set(ko)) == 601
    assert not set(ko) & set(labels.EMOTION_KO)
    assert not any("," in name for name in ko)


def test_reference_labels_translate_as_sns_users_say_them():
    assert labels.ko_name("Zucchini") == "애호박"
    for en, ko in [("Tree", "나무"), ("Glasses", "안경"), ("Jacket", "재킷"), ("Human face", "인간의 얼굴")]:
        assert labels.ko_name(en) == ko


def test_emotions_in_reference_order():
    assert labels.EMOTION_KO == ("분노", "슬픔", "공포", "기쁨")
    assert [labels.emotion_name(i) for i in range(4)] == ["분노", "슬픔", "공포", "기쁨"]
    with pytest.raises(UnknownLabelError, match="emotion class id 4"):
        labels.emotion_name(4)


def test_format_puts_emotions_first_collapses_duplicates_and_drops_excluded():
    raw = ["Glasses", "인간의 얼굴", "기쁨", "나무", "안경", "Man", "슬픔", "기쁨"]
    assert format_labels(raw) == "기쁨, 슬픔, 안경, 나무"


def test_format_accepts_class_ids_and_aliases():
    tree_id = next(c["id"] for c in labels.oiv7_classes() if c["en"] == "Tree")
    assert format_labels([tree_id, "당황"]) == "공포, 나무"


def test_unknown_labels_raise_a_clear_error():
    with pytest.raises(UnknownLabelError, match="'유니콘'"):
        format_labels(["기쁨", "유니콘"])
    with pytest.raises(UnknownLabelError, match="class id 601"):
        format_labels([601])
    assert format_labels(["기쁨", "유니콘"], strict=False) == "기쁨, 유니콘"


def test_parse_is_the_inverse_of_format():
    text = "기쁨, 안경, 나무"
    assert parse_labels(text) == ["기쁨", "안경", "나무"]
    assert format_labels(parse_labels(text)) == text
    assert parse_labels("나무,기쁨 ,  ") == ["기쁨", "나무"]
    assert parse_labels("") == []


def test_excluded_labels_are_the_reference_six():
    assert labels.excluded_ko() == {"인간의 얼굴", "의류", "남자", "여자", "소년", "소녀"}


def test_coco_classes_map_onto_the_oiv7_korean_names_in_coco_order():
    from utils.paths import package_dir

    rows = json.loads(labels.COCO_KO_FILE.read_text(encoding="utf-8"))["classes"]
    coco = yaml.safe_load((package_dir("ultralytics") / "cfg" / "datasets" / "coco.yaml").read_text())[
        "names"
    ]
    assert [r["coco"] for r in rows] == [coco[i] for i in range(80)]
    by_en = {c["en"]: c["ko"] for c in labels.oiv7_classes()}
    assert all(by_en[r["oiv7"]] == r["ko"] for r in rows)  # one vocabulary online and offline
    names = labels.coco_ko_names()
    assert len(set(names)) == 80 and names[0] == "사람" and names[60] == "테이블" and names[67] == "휴대폰"
    assert names[32] == "공" and names[16] == "강아지"
