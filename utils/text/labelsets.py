"""Seeded label-set sampler with the reference dataset's shape (reference §2.1).

Real label sets come from detectors run on photos (notebook code_data_gen/2); for data at scale
this sampler draws label strings whose statistics match the reference's: labels per input
1: 32%, 2: 36%, 3: 20%, 4: 7%, 5+: 4%; an emotion in almost every input, in the reference's
proportions; ~186 distinct labels, the common SNS objects most frequent.
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
