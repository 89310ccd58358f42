"""Text metrics: the reference's (for comparison on its terms), proper ones, and comment checks."""

from __future__ import annotations

from collections.abc import Sequence

from utils.labels import parse_labels, split_labels
from utils.textdata import count_emojis, has_question


def _ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(comments: Sequence[str], n: int) -> float:
    """Unique n-grams over all n-grams of whitespace tokens, across the whole set (0 if none)."""
    grams = [g for c in comments for g in _ngrams(c.split(), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def label_coverage(comment: str, labels: str) -> float:
    """Share of the object labels the comment names (1.0 when there are no objects)."""
    _, objects = split_labels(parse_labels(labels, strict=False))
    if not objects:
        return 1.0
    return sum(o in comment for o in objects) / len(objects)


def comment_stats(comments: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    """Checks of a set of comments against their label strings (one per comment)."""
    if len(comments) != len(labels):
        raise ValueError(f"{len(comments)} comments but {len(labels)} label strings")
    n = len(comments) or 1
    return {
        "count": len(comments),
        "label_coverage": sum(label_coverage(c, lab) for c, lab in zip(comments, labels, strict=True)) / n,
        "question_rate": sum(has_question(c) for c in comments) / n,
        "emoji_rate": sum(count_emojis(c) > 0 for c in comments) / n,
        "distinct_1": distinct_n(comments, 1),
        "distinct_2": distinct_n(comments, 2),
        "mean_length": sum(len(c) for c in comments) / n,
    }
