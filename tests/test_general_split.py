"""The generalisation split: label sets whose objects never occur together in training."""

from __future__ import annotations

from utils.paths import TEXT_DATA
from utils.text import labelsets
from utils.text.dataset import read_dataset, validate_comment

TRAINING = [labels for labels, _ in read_dataset(TEXT_DATA / "comments_train.json")]


def test_the_shipped_split_has_no_object_combination_seen_in_training():
    pairs = read_dataset(TEXT_DATA / "comments_general.json")
    assert len(pairs) >= 500 and len({labels for labels, _ in pairs}) == len(pairs)
    training_sets = labelsets.object_sets(TRAINING)
    for labels, comment in pairs:
        (objects,) = labelsets.object_sets([labels])
        assert len(objects) >= 2, labels
        assert not labelsets.seen_together(objects, training_sets), labels
        assert validate_comment(comment, labels) == [], (labels, comment)


def test_the_split_includes_rare_objects():
    counts: dict[str, int] = {}
    for objects in labelsets.object_sets(TRAINING):
        for o in objects:
            counts[o] = counts.get(o, 0) + 1
    sets = labelsets.object_sets([labels for labels, _ in read_dataset(TEXT_DATA / "comments_general.json")])
    rare = 10 * len(TRAINING) / 6000  # fewer than 10 rows in 6,000 (34 in the 20,000 shipped)
    with_rare = sum(any(counts.get(o, 0) < rare for o in objects) for objects in sets)
    assert with_rare / len(sets) > 0.5  # uniform draws: the long tail is most of the vocabulary


def test_the_helper_is_seeded_and_rejects_seen_combinations():
    training = ["기쁨, 안경, 나무, 차", "슬픔, 재킷"]
    first = labelsets.general_label_sets(40, training, seed=3)
    assert first == labelsets.general_label_sets(40, training, seed=3)
    assert first != labelsets.general_label_sets(40, training, seed=4)
    assert labelsets.seen_together(frozenset({"안경", "차"}), labelsets.object_sets(training))
    for objects in labelsets.object_sets(first):
        assert not objects <= {"안경", "나무", "차"}


def test_the_shipped_file_is_what_the_helper_writes(tmp_path):
    out = labelsets.write_general_split(tmp_path / "general.json")
    assert out.read_text(encoding="utf-8") == (TEXT_DATA / "comments_general.json").read_text(
        encoding="utf-8"
    )
