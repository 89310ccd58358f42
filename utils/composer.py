"""The offline comment composer: a warm, polite Korean comment from a label string, built from
the phrase banks in ``data/phrases`` with particles that agree with each noun (``tossi``).

It is the data generator when no LLM key is set (and what CI uses), and the pipeline's last
resort when no text model exists. The same (labels, key) always gives the same comment.
"""

from __future__ import annotations

import json
import random
import re
from functools import lru_cache

import tossi

from utils import labels as vocab
from utils.paths import PHRASES_DIR
from utils.textdata import validate_comment

NO_EMOTION = "없음"
TARGET_CHARS = 80  # the reference's comments: mean 41, max 92 characters
_PLACEHOLDER = re.compile(r"\{(obj|a|b|list)(?::([^}]+))?\}")


@lru_cache(maxsize=1)
def phrase_banks() -> dict[str, dict]:
    """openers, closers, objects, generic and emojis, as shipped in data/phrases."""
    names = ("openers", "closers", "objects", "generic", "emojis")
    return {name: json.loads((PHRASES_DIR / f"{name}.json").read_text(encoding="utf-8")) for name in names}


def with_particle(noun: str, particle: str | None) -> str:
    """``noun`` followed by ``particle`` in the form its last syllable needs (나무가, 책이)."""
    return noun if not particle else tossi.postfix(noun, particle)


def render_list(nouns: list[str], particle: str | None) -> str:
    """ "A, B와 C" with the particle on the last noun."""
    head = ", ".join(nouns[:-2] + [with_particle(nouns[-2], "와")]) if len(nouns) > 1 else ""
    return f"{head} {with_particle(nouns[-1], particle)}".strip()


def fill(template: str, *, obj: str = "", a: str = "", b: str = "", items: list[str] | None = None) -> str:
    """Replace ``{obj:이}``-style placeholders with nouns and agreeing particles."""

    def replace(match: re.Match) -> str:
        slot, particle = match.group(1), match.group(2)
        if slot == "list":
            return render_list(items or [], particle)
        return with_particle({"obj": obj, "a": a, "b": b}[slot], particle)

    return _PLACEHOLDER.sub(replace, template)


def _english_key(label: str) -> str | None:
    try:
        return vocab.en_name(label)
    except vocab.UnknownLabelError:
        return None


class OfflineComposer:
    """Comments from phrase banks: opener for the mood, a remark per object (or one remark that
    names them all), a closer, one or two fitting emojis; regenerated until it validates."""

    name = "offline composer"

    def __init__(self, seed: int = 0, max_tries: int = 12) -> None:
        self.seed = seed
        self.max_tries = max_tries
        self.banks = phrase_banks()

    def compose(self, labels: str, key: object = 0) -> str:
        """A valid comment for ``labels``; ``key`` picks another variant for the same labels."""
        emotions, objects = vocab.split_labels(vocab.parse_labels(labels, strict=False))
        comment = ""
        for attempt in range(self.max_tries):
            rng = random.Random(f"{self.seed}|{labels}|{key}|{attempt}")
            comment = self._draft(rng, emotions, objects)
            if not validate_comment(comment, objects):
                return comment
        return comment

    def compose_many(self, label_strings: list[str], keys: list[object] | None = None) -> list[str]:
        keys = keys if keys is not None else list(range(len(label_strings)))
        return [self.compose(labels, key) for labels, key in zip(label_strings, keys, strict=True)]

    def _draft(self, rng: random.Random, emotions: list[str], objects: list[str]) -> str:
        mood = emotions[0] if emotions else NO_EMOTION
        closing_mood = emotions[-1] if emotions else NO_EMOTION
        opener = rng.choice(self.banks["openers"][mood])
        closer = rng.choice(self.banks["closers"][closing_mood])
        remarks = self._remarks(rng, objects)
        mood_emoji = rng.choice(self.banks["emojis"]["emotions"][mood])
        end_emoji = self._object_emoji(rng, objects) or rng.choice(self.banks["emojis"]["generic"])
        body = " ".join(f"{r}{rng.choice('.!')}" for r in remarks)
        # Longest first; shorter forms drop the closer, then the opener, to stay near the target.
        candidates = [
            f"{opener}! {mood_emoji} {body} {closer}{rng.choice('.!')} {end_emoji}",
            f"{opener}{rng.choice('.!')} {body} {end_emoji}",
            f"{body} {closer}{rng.choice('.!')} {mood_emoji}",
            f"{body} {end_emoji}",
        ]
        if not objects:
            candidates = [f"{opener}! {mood_emoji} {closer}{rng.choice('.!')}", f"{opener}! {mood_emoji}"]
        fitting = [c for c in candidates if len(c) <= TARGET_CHARS]
        if not fitting:
            return candidates[-1]
        # Prefer richer comments, but not always the longest: varied lengths read naturally.
        return fitting[0] if rng.random() < 0.6 else rng.choice(fitting)

    def _remarks(self, rng: random.Random, objects: list[str]) -> list[str]:
        generic = self.banks["generic"]
        if not objects:
            return []
        if len(objects) == 1:
            return [self._single(rng, objects[0])]
        if len(objects) == 2:
            if rng.random() < 0.5:
                return [self._single(rng, objects[0]), self._single(rng, objects[1])]
            return [fill(rng.choice(generic["pair"]), a=objects[0], b=objects[1])]
        return [fill(rng.choice(generic["many"]), items=objects)]

    def _single(self, rng: random.Random, label: str) -> str:
        key = _english_key(label)
        bank = self.banks["objects"].get(key) if key else None
        return fill(rng.choice(bank or self.banks["generic"]["single"]), obj=label)

    def _object_emoji(self, rng: random.Random, objects: list[str]) -> str | None:
        choices = [e for o in objects for e in self.banks["emojis"]["objects"].get(_english_key(o) or "", [])]
        return rng.choice(choices) if choices else None
