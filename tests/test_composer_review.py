"""The composer review: the label-set sampler's shapes, the origin tracing, each fault detector
on a hand-written faulty comment and a clean one, the rates and the agreement with hand labels."""

from __future__ import annotations

import json

import pytest

from utils import labels as vocab
from utils.paths import DATA
from utils.text import composer_review as review
from utils.text.grounding import main_objects
from utils.text.labelsets import object_pool

ALL_SHAPES = {
    (e, o, rare) for e in (0, 1, 2) for o in range(7) for rare in (False, True) if o > 0 or not rare
}


# Phrases the review found at fault, removed from the banks by the fix (issue 12 item 1): the
# detector cases below are comments of the composer before it, traced against these as well.
REMOVED = {
    "generic": {
        "pair": ["{a:이} 있어서 {b:이} 더 살아 보여요"],
        "many": ["{list:이} 함께라서 더 즐거워 보여요", "{list:의} 조화가 참 보기 좋아요"],
    },
    "closers": {"분노": ["그래도 늘 응원하고 있어요"], "공포": ["무사해서 정말 다행이에요"]},
}


SHIPPED_BANKS = review.phrase_banks


def banks_before_the_fix() -> dict:
    banks = SHIPPED_BANKS()
    return {
        name: {k: v + REMOVED.get(name, {}).get(k, []) for k, v in bank.items()} if name in REMOVED else bank
        for name, bank in banks.items()
    }


def row(labels: str, comment: str) -> dict:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(review, "phrase_banks", banks_before_the_fix)
        return {"labels": labels, "comment": comment, "origin": review.trace_origin(labels, comment)}


def test_sampler_covers_every_shape_and_keeps_its_promises():
    samples = review.sample_label_sets(n=120, seed=5)
    shapes = {(s["emotions"], s["objects"], s["rare"]) for _, s in samples}
    assert shapes == ALL_SHAPES  # 39 shapes: 0–2 emotions × 0–6 objects, rare or not
    pool, rare = set(object_pool()[0]), set(review.rare_objects())
    for labels, shape in samples:
        emotions, objects = vocab.split_labels(vocab.parse_labels(labels))
        assert (len(emotions), len(objects)) == (shape["emotions"], shape["objects"]), labels
        assert len(set(objects) & rare) == (1 if shape["rare"] else 0), labels
        assert set(objects) <= pool | rare
    assert not rare & pool and len(rare) > 300  # the OIV7 classes the data sampler never draws


def test_sampler_is_seeded():
    assert review.sample_label_sets(50, seed=3) == review.sample_label_sets(50, seed=3)
    assert review.sample_label_sets(50, seed=3) != review.sample_label_sets(50, seed=4)


def test_review_rows_trace_every_part_to_its_bank():
    rows = review.review_sample(n=42, seed=1)
    assert [r["id"] for r in rows] == list(range(42))
    for r in rows:
        origin, objects = r["origin"], vocab.split_labels(vocab.parse_labels(r["labels"]))[1]
        parts = [p["text"] for p in (origin["opener"], origin["closer"]) if p]
        parts += [x["text"] for x in origin["remarks"]]
        assert all(p in r["comment"] for p in parts)
        subjects = main_objects(objects)  # the table or the ear beside them may be left out
        assert all(any(vocab.label_named(o, x["text"]) for x in origin["remarks"]) for o in subjects), r
        if origin["opener"]:
            assert r["comment"].startswith(origin["opener"]["text"])
    traced = row("기쁨, 재킷", "웃음꽃이 활짝 피었네요! 🎉 재킷 핏이 깔끔하네요. 늘 응원하고 있을게요. 🧥")
    assert traced["origin"] == {
        "opener": {"mood": "기쁨", "text": "웃음꽃이 활짝 피었네요"},
        "remarks": [
            {"bank": "objects:Jacket", "template": "{obj} 핏이 깔끔하네요", "text": "재킷 핏이 깔끔하네요"}
        ],
        "closer": {"mood": "기쁨", "text": "늘 응원하고 있을게요"},
    }


# (detector, faulty row, clean row): hand-written, each fault in its smallest form.
CASES = [
    (
        review.repeated_word,
        row("스카프", "분위기 맛집이 따로 없네요! 📸 스카프가 따뜻한 분위기를 더해요! 🧣"),
        row("슬픔, 스카프", "스카프 색감이 참 예뻐요. 토닥토닥 힘내세요. 🧣"),  # 토닥토닥 is one word
    ),
    (
        review.particle_or_spacing,
        row("나무", "나무이 정말 싱그러워 보여요! 🍃"),
        row("나무", "나무가 정말 싱그러워 보여요! 🍃"),
    ),
    (
        review.particle_or_spacing,
        row("채소", "채소가 신선함이 느껴져요. 🥦"),
        row("채소", "채소에서 신선함이 느껴져요. 🥦"),
    ),
    (
        review.particle_or_spacing,
        row("나무", "나무가 정말 싱그러워 보여요 !  🍃"),
        row("나무", "나무가 정말 싱그러워 보여요! 🍃"),
    ),
    (
        review.mood_clash,
        row(
            "슬픔, 안경, 피아노, 나무",
            "이런 날엔 푹 쉬는 게 최고예요! 안경, 피아노와 나무가 함께라서 더 즐거워 보여요! 🌳",
        ),
        row(
            "슬픔, 안경, 피아노, 나무",
            "이런 날엔 푹 쉬는 게 최고예요! 안경, 피아노와 나무가 골고루 잘 보이네요! 🌳",
        ),
    ),
    (
        review.mood_clash,
        row("공포", "깜짝 놀란 표정이 너무 귀여워요! 😲 놀란 가슴 잘 달래 주세요."),
        row("공포", "깜짝 놀란 표정이 너무 귀여워요! 😲 다음 사진도 기대할게요."),
    ),
    (
        review.two_moods,
        row(
            "기쁨, 분노, 안경",
            "활짝 웃는 모습이 너무 예뻐요! 🥰 안경이 잘 어울려요! 기분 좋게 털어내고 힘내세요. 👓",
        ),
        row(
            "기쁨, 분노, 안경",
            "활짝 웃는 모습이 너무 예뻐요! 🥰 안경이 잘 어울려요! 늘 지금처럼 행복하세요. 👓",
        ),
    ),
    (
        review.nonsense_link,
        row("테이블, 차", "테이블이 있어서 차가 더 살아 보여요. 🍽️"),
        row("테이블, 차", "테이블과 차를 한 번에 담으셨네요. 🍽️"),
    ),
    (
        review.hollow_harmony,
        row("악어, 타이어, 나무", "악어, 타이어와 나무의 조화가 참 보기 좋아요. 🌳"),
        row("악어, 타이어, 나무", "악어, 타이어와 나무를 찾아보는 재미가 있어요. 🌳"),
    ),
    (
        review.dangling_reference,
        row(
            "분노, 베이글",
            "표정 연기가 거의 배우급이에요! 😤 베이글이 눈에 확 들어와요. 그래도 늘 응원하고 있어요! 🥯",
        ),
        row(
            "분노, 베이글",
            "표정 연기가 거의 배우급이에요! 😤 베이글이 눈에 확 들어와요. 오늘 하루 고생 많으셨어요! 🥯",
        ),
    ),
    (
        review.dangling_reference,
        row("공포, 나무", "나무가 풍경을 한층 살려 주네요. 무사해서 정말 다행이에요! 😅"),
        row(
            "공포, 나무",
            "놀란 눈이 동그래졌네요! 나무가 풍경을 한층 살려 주네요. 무사해서 정말 다행이에요! 😅",
        ),
    ),
    (
        review.body_part_listed,
        row("장미, 귀", "장미가 예뻐요. 귀가 사진에 포인트가 되네요. ✨"),
        row("장미, 나무", "장미가 예뻐요. 나무가 사진에 포인트가 되네요. ✨"),
    ),
    (
        review.length_outlier,
        row("나무", "좋아요. 좋아요. 좋아요. 좋아요. 나무가 정말 싱그러워 보여요. 🍃"),
        row("나무", "나무가 정말 싱그러워 보여요. 🍃"),
    ),
]


@pytest.mark.parametrize(("detector", "faulty", "clean"), CASES, ids=[c[0].__name__ for c in CASES])
def test_detector_catches_the_fault_and_passes_the_clean_comment(detector, faulty, clean):
    assert detector(faulty) is True, faulty["comment"]
    assert detector(clean) is False, clean["comment"]


def test_rates_and_agreement_count_rows_not_flags():
    rows = [
        {"detected": ["two_moods", "repeated_word"], "faults": ["two_moods"]},
        {"detected": ["two_moods"], "faults": []},
        {"detected": [], "faults": ["repeated_word"]},
        {"detected": [], "faults": []},
    ]
    assert review.fault_rates(rows) == {
        "rows": 4,
        "kinds": {"two_moods": {"count": 2, "rate": 0.5}, "repeated_word": {"count": 1, "rate": 0.25}},
        "any_fault": {"count": 2, "rate": 0.5},
    }
    assert review.fault_rates(rows, "faults")["any_fault"] == {"count": 2, "rate": 0.5}
    agree = review.agreement(rows)
    assert agree["two_moods"] == {
        "both": 1, "detector_only": 1, "hand_only": 0, "precision": 0.5, "recall": 1.0, "agreement": 0.75
    }  # fmt: skip
    assert agree["repeated_word"]["precision"] == 0.0 and agree["repeated_word"]["recall"] == 0.0
    assert agree["mood_clash"]["precision"] is None and agree["mood_clash"]["agreement"] == 1.0
    assert agree["any_fault"]["both"] == 1 and agree["any_fault"]["hand_only"] == 1
    with pytest.raises(ValueError, match="no rows"):
        review.fault_rates([])


def test_cli_writes_the_rows_and_prints_the_rates(tmp_path, capsys):
    out = tmp_path / "review.jsonl"
    review.main(["--n", "21", "--seed", "2", "--out", str(out)])
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 21 and {"labels", "comment", "origin", "detected"} <= set(rows[0])
    printed = json.loads(capsys.readouterr().out)
    assert printed == review.fault_rates(rows)


def test_cli_refuses_an_empty_sample_before_writing(tmp_path, capsys):
    out = tmp_path / "review.jsonl"
    with pytest.raises(SystemExit) as exit_info:
        review.main(["--n", "0", "--out", str(out)])
    assert exit_info.value.code == 2 and "--n must be at least 1, got 0" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("name", ["sample_before.jsonl", "sample_heldout.jsonl", "sample_after.jsonl"])
def test_hand_labelled_samples_use_the_documented_kinds(name):
    rows = [
        json.loads(line)
        for line in (DATA / "composer_review" / name).read_text(encoding="utf-8").splitlines()
    ]
    assert (
        len(rows)
        == {"sample_before.jsonl": 300, "sample_heldout.jsonl": 100, "sample_after.jsonl": 300}[name]
    )
    assert {k for r in rows for k in r["faults"]} <= set(review.DETECTORS)
    assert {(r["shape"]["emotions"], r["shape"]["objects"], r["shape"]["rare"]) for r in rows} == ALL_SHAPES


def test_the_fix_cut_the_hand_labelled_fault_rate():
    def share_with_a_fault(name: str) -> float:
        lines = (DATA / "composer_review" / name).read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines]
        return sum(bool(r["faults"]) for r in rows) / len(rows)

    # data/composer_review/README.md: 31.7 % of seed 12 before the fix, 1.0 % of seed 2026 after
    assert share_with_a_fault("sample_before.jsonl") > 0.3 > 0.02 > share_with_a_fault("sample_after.jsonl")
