"""Seeded label-set samplers: sets like those detectors report on everyday photos, and sets with
the reference dataset's shape (reference §2.1).

- :func:`everyday_label_sets` (the training data's default): scenes of what people photograph
  (a person and what they wear, pets, animals, food and drink, streets, travel, nature, home,
  sport), with the co-occurrences an Open Images detector reports (people with clothing, food
  with tableware, vehicles with buildings) in the COCO and OIV7 vocabulary; an emotion only where
  a person is (a face gives both); rows with labels drawn evenly from all 601 classes, so every
  label is seen; and a share of reference-shaped rows.
- :func:`sample_label_sets`: the reference's shape: labels per input 1: 32%, 2: 36%, 3: 20%, 4: 7%,
  5+: 4%; an emotion in almost every input; ~186 distinct labels, the common SNS objects most frequent.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from utils import labels as vocab
from utils.text.composer import phrase_banks
from utils.text.styles import split_model_input

LABEL_COUNT_WEIGHTS = {1: 0.32, 2: 0.36, 3: 0.20, 4: 0.07, 5: 0.03, 6: 0.01}
# Occurrences in the reference's 5,994 training inputs.
EMOTION_WEIGHTS = {"공포": 1758, "분노": 1747, "기쁨": 1584, "슬픔": 1514}
P_EMOTION = 0.97  # share of inputs with at least one emotion
P_SECOND_EMOTION = 0.08
# The reference's most common objects, most frequent first (reference §2.1), with Person
# fourth and Cat and Dog after them. People are what SNS photos show most, and people and cats
# are what the offline fallback detector reports: the shipped text model must have seen them
# often enough to name them, or every offline photo of a person falls back to the composer.
COMMON_OBJECTS_EN = (
    "Tree", "Jacket", "Glasses", "Person", "Car", "Wheel", "Window", "Scarf",
    "Building", "Tire", "Lipstick", "Table", "Chair", "Book", "Poster", "Cat", "Dog",
)  # fmt: skip
DISTINCT_OBJECTS = 182  # + 4 emotions = the reference's 186 distinct labels
ZIPF_EXPONENT = 1.1


@lru_cache(maxsize=4)
def object_pool(size: int = DISTINCT_OBJECTS, seed: int = 0) -> tuple[list[str], list[float]]:
    """Korean object labels and Zipf weights: the reference's common objects first, then
    classes from the phrase banks (things SNS photos show), excluded classes left out."""
    excluded = set(vocab.EXCLUDED_EN)
    rest = sorted(set(phrase_banks()["objects"]) - set(COMMON_OBJECTS_EN) - excluded)
    random.Random(seed).shuffle(rest)
    names = [vocab.ko_name(en) for en in (*COMMON_OBJECTS_EN, *rest)][:size]
    weights = [1 / (rank + 1) ** ZIPF_EXPONENT for rank in range(len(names))]
    return names, weights


def sample_label_sets(n: int, seed: int = 0) -> list[str]:
    """``n`` label strings (emotions first, ", "-joined), the same for the same seed."""
    rng = random.Random(seed)
    objects, weights = object_pool()
    emotions, emotion_weights = zip(*EMOTION_WEIGHTS.items(), strict=True)
    counts, count_weights = zip(*LABEL_COUNT_WEIGHTS.items(), strict=True)
    out = []
    for _ in range(n):
        size = rng.choices(counts, count_weights)[0]
        chosen: list[str] = []
        if rng.random() < P_EMOTION:
            chosen.append(rng.choices(emotions, emotion_weights)[0])
            if size > 1 and rng.random() < P_SECOND_EMOTION:
                chosen.append(rng.choice([e for e in emotions if e not in chosen]))
        while len(chosen) < size:
            pick = rng.choices(objects, weights)[0]
            if pick not in chosen:
                chosen.append(pick)
        out.append(vocab.format_labels(chosen))
    return out


# --- everyday photos: scenes of what detectors report -------------------------------------------

# scene → (weight, subjects: one is drawn, extras: (label, probability) each drawn on its own).
SCENES: dict[str, tuple[float, tuple[str, ...], tuple[tuple[str, float], ...]]] = {
    "person": (18, ("사람",), (
        ("선글라스", .15), ("모자", .12), ("안경", .12), ("재킷", .12), ("넥타이", .06), ("정장", .05),
        ("코트", .06), ("스카프", .05), ("원피스", .05), ("목걸이", .04), ("귀걸이", .03), ("헬멧", .03),
        ("핸드백", .04), ("백팩", .04), ("손목시계", .03), ("청바지", .05), ("신발", .06), ("나무", .08),
        ("건물", .08), ("꽃", .04))),
    "together": (8, ("사람",), (
        ("테이블", .3), ("음료", .15), ("와인 잔", .1), ("병", .12), ("의자", .2), ("음식", .15),
        ("접시", .1), ("맥주", .05), ("휴대폰", .08), ("커피잔", .08))),
    "pet": (10, ("강아지", "강아지", "강아지", "고양이", "고양이", "고양이", "토끼", "햄스터", "앵무새", "금붕어"), (
        ("사람", .2), ("소파", .12), ("침대", .08), ("베개", .05), ("공", .06), ("장난감", .08),
        ("창문", .06), ("나무", .05), ("자전거", .03), ("차", .03))),
    "animals": (6, (
        "말", "소", "양", "새", "새", "기린", "얼룩말", "코끼리", "곰", "오리", "거위", "독수리", "나비", "사슴",
        "사자", "호랑이", "원숭이", "펭귄", "돌고래", "거북이", "치타", "여우", "다람쥐", "닭", "백조", "부엉이"), (
        ("나무", .3), ("사람", .12), ("얼룩말", .04), ("기린", .04), ("새", .06), ("꽃", .05), ("말", .03))),
    "food": (12, (
        "음식", "음식", "음식", "피자", "케이크", "빵", "샐러드", "초밥", "햄버거", "파스타", "핫도그",
        "샌드위치", "쿠키", "아이스크림", "와플", "머핀", "디저트", "베이커리", "해산물", "과일", "딸기",
        "사과", "바나나", "오렌지", "토마토", "브로콜리", "당근", "치즈", "채소"), (
        ("접시", .35), ("테이블", .3), ("포크", .12), ("숟가락", .08), ("칼", .05), ("그릇", .15),
        ("음료", .1), ("사람", .12), ("커피잔", .08), ("식기", .08), ("와인 잔", .05))),
    "drinks": (6, (
        "커피잔", "커피", "와인", "와인 잔", "맥주", "칵테일", "주스", "음료", "머그잔", "차 한 잔", "병"), (
        ("테이블", .35), ("케이크", .08), ("쿠키", .06), ("책", .08), ("사람", .12), ("받침 접시", .08),
        ("창문", .06))),
    "street": (10, ("차", "차", "버스", "트럭", "택시", "오토바이", "자전거", "건물"), (
        ("건물", .45), ("사람", .35), ("나무", .3), ("바퀴", .15), ("타이어", .1), ("가로등", .1),
        ("신호등", .08), ("창문", .1), ("교통 표지판", .05), ("차", .15))),
    "travel": (9, (
        "건물", "탑", "성", "집", "고층 빌딩", "등대", "분수", "조각상", "보트", "비행기", "기차", "텐트"), (
        ("나무", .4), ("사람", .3), ("건물", .2), ("꽃", .08), ("깃발", .06), ("가로등", .05), ("보트", .05))),
    "nature": (8, ("나무", "나무", "나무", "꽃", "꽃", "장미", "야자수", "식물"), (
        ("꽃", .2), ("나무", .25), ("새", .06), ("나비", .05), ("사람", .15), ("건물", .1), ("벤치", .06))),
    "home": (6, (
        "책", "의자", "소파", "침대", "노트북", "휴대폰", "텔레비전", "시계", "꽃병", "실내 식물", "양초",
        "곰 인형", "조명", "액자", "책상", "키보드"), (
        ("테이블", .25), ("창문", .15), ("의자", .12), ("책", .1), ("사람", .12), ("고양이", .06),
        ("커피잔", .08), ("실내 식물", .06))),
    "sport": (5, (
        "축구공", "공", "연", "스케이트보드", "서핑보드", "테니스 라켓", "스키", "스노보드", "자전거",
        "야구 방망이", "야구 글러브", "원반"), (
        ("사람", .7), ("나무", .12), ("헬멧", .08), ("신발", .06))),
    "party": (3, ("풍선", "케이크", "양초", "크리스마스트리", "깃발"), (
        ("사람", .5), ("테이블", .2), ("음식", .1), ("음료", .1))),
}  # fmt: skip
# With a person in the photo, a face may show an emotion (about half of real photos of people).
PERSON_EMOTION_WEIGHTS = {"기쁨": 0.32, "슬픔": 0.04, "분노": 0.03, "공포": 0.04}
EVERYDAY_MIX = {"scene": 0.65, "any_label": 0.15, "reference": 0.20}
MAX_EVERYDAY_OBJECTS = 5


def _scene_labels(rng: random.Random, scene: str) -> list[str]:
    _, subjects, extras = SCENES[scene]
    chosen = [rng.choice(subjects)]
    for label, probability in extras:
        if rng.random() < probability and label not in chosen and len(chosen) < MAX_EVERYDAY_OBJECTS:
            chosen.append(label)
    return chosen


@lru_cache(maxsize=1)
def _every_label() -> tuple[str, ...]:
    excluded = vocab.excluded_ko()
    return tuple(c["ko"] for c in vocab.oiv7_classes() if c["ko"] not in excluded)


def everyday_label_sets(n: int, seed: int = 0) -> list[str]:
    """``n`` label strings like those detectors report on everyday photos (module docstring),
    the same for the same seed."""
    rng = random.Random(seed)
    scenes = list(SCENES)
    scene_weights = [SCENES[s][0] for s in scenes]
    kinds, kind_weights = zip(*EVERYDAY_MIX.items(), strict=True)
    feelings, feeling_weights = zip(*PERSON_EMOTION_WEIGHTS.items(), strict=True)
    person = vocab.ko_name("Person")
    reference = iter(sample_label_sets(n, seed=seed + 1))
    out = []
    for _ in range(n):
        kind = rng.choices(kinds, kind_weights)[0]
        if kind == "reference":
            out.append(next(reference))
            continue
        if kind == "scene":
            chosen = _scene_labels(rng, rng.choices(scenes, scene_weights)[0])
        else:
            chosen = rng.sample(_every_label(), rng.choice((1, 1, 2, 2, 3)))
            if rng.random() < 0.3 and person not in chosen:
                chosen.append(person)
        if person in chosen and rng.random() < sum(feeling_weights):
            chosen.insert(0, rng.choices(feelings, feeling_weights)[0])
        out.append(vocab.format_labels(chosen))
    return out


LABEL_SET_SHAPES = {"everyday": everyday_label_sets, "reference": sample_label_sets}


def label_set_stats(label_strings: list[str]) -> dict:
    """Shape of a set of label strings, in the terms of reference §2.1: share of inputs by label
    count (5 and more together), occurrences of each label, emotion share, distinct counts.
    Styled rows count by their labels; the style prefix is not a label."""
    from collections import Counter

    label_strings = [split_model_input(text)[0] for text in label_strings]
    parsed = [vocab.parse_labels(text, strict=False) for text in label_strings]
    n = len(parsed) or 1
    by_count = Counter(min(len(labels), 5) for labels in parsed)
    occurrences = Counter(label for labels in parsed for label in labels)
    return {
        "inputs": len(parsed),
        "distinct_label_strings": len(set(label_strings)),
        "distinct_labels": len(occurrences),
        "share_by_label_count": {("5+" if k == 5 else str(k)): by_count[k] / n for k in sorted(by_count)},
        "share_with_emotion": sum(any(vocab.is_emotion(x) for x in labels) for labels in parsed) / n,
        "occurrences": dict(occurrences.most_common()),
    }


# --- generalisation split: object combinations the training data never shows ------------------

GENERAL_OBJECT_COUNT_WEIGHTS = {2: 0.55, 3: 0.30, 4: 0.15}
GENERAL_SPLIT_SIZE = 600
GENERAL_SPLIT_SEED = 12


def object_sets(label_strings: Sequence[str]) -> list[frozenset[str]]:
    """The objects of each label string (a model input's style prefix, ``반말 · 유쾌한 |``, left out)."""
    return [
        frozenset(vocab.split_labels(vocab.parse_labels(split_model_input(t)[0], strict=False))[1])
        for t in label_strings
    ]


def seen_together(objects: frozenset[str], training_sets: Sequence[frozenset[str]]) -> bool:
    """Whether any training input names all of ``objects`` (possibly with others)."""
    return any(objects <= seen for seen in training_sets)


def general_label_sets(n: int, training_labels: Sequence[str], seed: int = GENERAL_SPLIT_SEED) -> list[str]:
    """``n`` distinct label strings with 2–4 objects that no training input names together.

    Objects are drawn uniformly from the sampler's vocabulary (not by its Zipf weights), so the
    rare ones, seen in a handful of training rows, are as frequent as the common ones; emotions
    follow the sampler's shares. The same seed and training data give the same sets.
    """
    rng = random.Random(seed)
    objects = sorted(object_pool()[0])
    emotions, emotion_weights = zip(*EMOTION_WEIGHTS.items(), strict=True)
    counts, count_weights = zip(*GENERAL_OBJECT_COUNT_WEIGHTS.items(), strict=True)
    training_sets = [s for s in object_sets(training_labels) if len(s) > 1]
    out: dict[str, None] = {}
    for _ in range(200 * n):
        if len(out) == n:
            return list(out)
        chosen = rng.sample(objects, rng.choices(counts, count_weights)[0])
        if seen_together(frozenset(chosen), training_sets):
            continue
        feelings: list[str] = []
        if rng.random() < P_EMOTION:
            feelings.append(rng.choices(emotions, emotion_weights)[0])
            if rng.random() < P_SECOND_EMOTION:
                feelings.append(rng.choice([e for e in emotions if e not in feelings]))
        out[vocab.format_labels(feelings + chosen)] = None
    raise ValueError(f"found only {len(out)} of {n} unseen object combinations; ask for fewer")


def write_general_split(
    out: str | Path | None = None, *, n: int = GENERAL_SPLIT_SIZE, seed: int = GENERAL_SPLIT_SEED
) -> Path:
    """The generalisation split in the reference JSON format, with the offline composer's
    comments as references (``data/text_data/comments_general.json`` by default)."""
    from utils.paths import TEXT_DATA
    from utils.text.composer import OfflineComposer
    from utils.text.dataset import read_dataset, write_dataset

    training = [labels for labels, _ in read_dataset(TEXT_DATA / "comments_train.json")]
    label_strings = general_label_sets(n, training, seed)
    composer = OfflineComposer(seed=seed)
    pairs = [(labels, composer.compose(labels)) for labels in label_strings]
    return write_dataset(pairs, out or TEXT_DATA / "comments_general.json")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m utils.text.labelsets",
        description="write the generalisation split: label sets whose objects never occur together in training",
    )
    parser.add_argument("--out", type=Path, help="default: data/text_data/comments_general.json")
    parser.add_argument("--n", type=int, default=GENERAL_SPLIT_SIZE)
    parser.add_argument("--seed", type=int, default=GENERAL_SPLIT_SEED)
    args = parser.parse_args()
    from utils.paths import shown_path

    print(shown_path(write_general_split(args.out, n=args.n, seed=args.seed)))
