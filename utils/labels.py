"""Label vocabulary: the four face emotions, the 601 Open Images V7 classes in Korean (and the 80
COCO classes mapped onto them), and the label string that every later stage reads ("기쁨, 안경, 나무")."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from utils.paths import LABELS_DIR

OIV7_KO_FILE = LABELS_DIR / "oiv7_ko.json"
COCO_KO_FILE = LABELS_DIR / "coco_ko.json"
SEPARATOR = ", "


@dataclass(frozen=True)
class Emotion:
    id: int
    ko: str
    en: str


# Class order of the reference's face-emotion model; the face data calls 공포 "당황".
EMOTIONS: tuple[Emotion, ...] = (
    Emotion(0, "분노", "anger"),
    Emotion(1, "슬픔", "sad"),
    Emotion(2, "공포", "panic"),
    Emotion(3, "기쁨", "happy"),
)
EMOTION_KO: tuple[str, ...] = tuple(e.ko for e in EMOTIONS)
EMOTION_EN: tuple[str, ...] = tuple(e.en for e in EMOTIONS)
# Words the face data and its annotators use for the same four classes.
EMOTION_ALIASES: dict[str, str] = {
    "당황": "공포",
    "anger": "분노",
    "sad": "슬픔",
    "panic": "공포",
    "happy": "기쁨",
}

# Classes that describe who is in the photo, not what it is about (reference §1).
EXCLUDED_EN: tuple[str, ...] = ("Human face", "Clothing", "Man", "Woman", "Boy", "Girl")
# A comment speaks of the person in a photo as 모습 or 분 ("웃는 모습", "두 분"), seldom as 사람:
# either word names a people label (coverage, the checks, the guided decoding).
PEOPLE_EN: tuple[str, ...] = ("Person", "Man", "Woman", "Boy", "Girl")
_PERSON_WORD = re.compile(r"모습|(?<![가-힣])분(?:들)?(?:께서|이|은|의|께|도|과|을)?(?![가-힣])")


class UnknownLabelError(ValueError):
    """A class id or label name that is in neither vocabulary."""


@lru_cache(maxsize=1)
def oiv7_classes() -> tuple[dict, ...]:
    """The 601 OIV7 classes as ``{"id", "en", "ko"}`` dicts, in ultralytics' order."""
    with OIV7_KO_FILE.open(encoding="utf-8") as f:
        classes = json.load(f)
    return tuple(classes)


@lru_cache(maxsize=1)
def coco_classes() -> tuple[dict, ...]:
    """The 80 COCO classes in COCO's order as ``{"coco", "oiv7", "ko"}``: the COCO name, the OIV7
    class it maps to and that class's Korean name (person → 사람, dining table → 테이블)."""
    with COCO_KO_FILE.open(encoding="utf-8") as f:
        return tuple(json.load(f)["classes"])


def coco_ko_names() -> tuple[str, ...]:
    """The Korean name of each COCO class index: the offline detectors' class index → label."""
    return tuple(row["ko"] for row in coco_classes())


@lru_cache(maxsize=1)
def _lookup() -> dict[str, str]:
    """Every accepted spelling (Korean, English, emotion alias) → canonical Korean label."""
    table = {c["ko"]: c["ko"] for c in oiv7_classes()}
    table.update({c["en"]: c["ko"] for c in oiv7_classes()})
    table.update({c["en"].lower(): c["ko"] for c in oiv7_classes()})
    table.update({e: e for e in EMOTION_KO})
    table.update(EMOTION_ALIASES)
    return table


def excluded_ko() -> frozenset[str]:
    """Korean names of the excluded classes (인간의 얼굴, 의류, 남자, ...)."""
    by_en = {c["en"]: c["ko"] for c in oiv7_classes()}
    return frozenset(by_en[en] for en in EXCLUDED_EN)


def is_emotion(label: str) -> bool:
    return label in EMOTION_KO


def ko_name(label: str | int) -> str:
    """Canonical Korean label for an OIV7 class id, an English or Korean name, or an emotion."""
    if isinstance(label, int):
        classes = oiv7_classes()
        if not 0 <= label < len(classes):
            raise UnknownLabelError(f"unknown OIV7 class id {label}; expected 0..{len(classes) - 1}")
        return classes[label]["ko"]
    name = label.strip()
    table = _lookup()
    if name in table:
        return table[name]
    if name.lower() in table:
        return table[name.lower()]
    raise UnknownLabelError(
        f"unknown label {label!r}: not an emotion ({', '.join(EMOTION_KO)}) or an OIV7 class"
    )


def en_name(label: str) -> str:
    """English name of a Korean label (emotions give their English class name)."""
    ko = ko_name(label)
    if ko in EMOTION_KO:
        return EMOTION_EN[EMOTION_KO.index(ko)]
    return next(c["en"] for c in oiv7_classes() if c["ko"] == ko)


def emotion_name(class_id: int) -> str:
    """Korean emotion for a face-model class id."""
    if not 0 <= class_id < len(EMOTIONS):
        raise UnknownLabelError(f"unknown emotion class id {class_id}; expected 0..{len(EMOTIONS) - 1}")
    return EMOTIONS[class_id].ko


def format_labels(labels: Iterable[str | int], *, strict: bool = True) -> str:
    """The label string: emotions first, excluded labels dropped, duplicates collapsed.

    Ints are OIV7 class ids; strings may be Korean or English names. With ``strict=False``
    unknown names are kept as written (after the known ones) instead of raising.
    """
    emotions: list[str] = []
    objects: list[str] = []
    excluded = excluded_ko()
    for label in labels:
        try:
            name = ko_name(label)
        except UnknownLabelError:
            if strict:
                raise
            name = str(label).strip()
            if not name:
                continue
        if name in excluded:
            continue
        bucket = emotions if name in EMOTION_KO else objects
        if name not in bucket:
            bucket.append(name)
    return SEPARATOR.join(emotions + objects)


def parse_labels(text: str, *, strict: bool = True) -> list[str]:
    """Split a label string into canonical Korean labels (the inverse of :func:`format_labels`)."""
    parts = [p.strip() for p in text.replace("，", ",").split(",")]
    joined = format_labels([p for p in parts if p], strict=strict)
    return joined.split(SEPARATOR) if joined else []


def split_labels(labels: Iterable[str]) -> tuple[list[str], list[str]]:
    """(emotions, objects) of already canonical labels, order kept."""
    labels = list(labels)
    return [x for x in labels if x in EMOTION_KO], [x for x in labels if x not in EMOTION_KO]


@lru_cache(maxsize=1)
def people_ko() -> frozenset[str]:
    """The Korean names of the people classes (사람, 남자, 여자, 소년, 소녀)."""
    return frozenset(c["ko"] for c in oiv7_classes() if c["en"] in PEOPLE_EN)


def label_named(label: str, text: str) -> bool:
    """Whether ``text`` names ``label``: its own word, or for a people label 모습 or 분 as well."""
    return label in text or (label in people_ko() and _PERSON_WORD.search(text) is not None)
