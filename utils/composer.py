"""The offline comment composer: a Korean comment from a label string in any style (default:
warm and polite), built from the phrase banks in ``data/phrases`` with particles that agree with
each noun (``tossi``).

It is the data generator when no LLM key is set (and what CI uses), and the pipeline's last
resort when no text model exists. The same (labels, key, style) always gives the same comment;
the default style's comments are those of the composer before styles existed.

Styles: 반말 uses the casual forms of the banks (``utils.phrases.to_casual``, an explicit rule
table); a tone other than 다정한 takes its openers, closers and emojis from
``data/phrases/styles.json``. Its playful openers are for bright faces (기쁨, or none): a sad,
angry or startled face gets the warm opener for that feeling, and the tone from the closer.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import cache

import tossi

from utils import labels as vocab
from utils.phrases import casual_list, load_bank
from utils.styles import DEFAULT_STYLE, Style, parse_style
from utils.textdata import validate_comment

NO_EMOTION = "없음"
TARGET_CHARS = 80  # the reference's comments: mean 41, max 92 characters
_PLACEHOLDER = re.compile(r"\{(obj|a|b|list)(?::([^}]+))?\}")
BRIGHT_MOODS = ("기쁨", NO_EMOTION)  # faces a playful opener suits


def phrase_banks() -> dict[str, dict]:
    """openers, closers, objects, generic and emojis, as shipped in data/phrases."""
    return {name: load_bank(name) for name in ("openers", "closers", "objects", "generic", "emojis")}


@dataclass(frozen=True)
class StyleBanks:
    """The phrases one style composes from; for the default style, the shipped banks as they are."""

    openers: dict[str, list[str]]  # per mood (emotion, or 없음)
    closers: dict[str, list[str]]
    objects: dict[str, list[str]]
    generic: dict[str, list[str]]
    mood_emojis: dict[str, list[str]]
    generic_emojis: list[str]
    object_emojis: dict[str, list[str]]
    tone_phrases: frozenset[str]  # openers and closers that carry a non-default tone


def _casual_banks(bank: dict[str, list[str]]) -> dict[str, list[str]]:
    return {key: forms for key, phrases in bank.items() if (forms := casual_list(phrases))}


@cache
def style_banks(style: Style) -> StyleBanks:
    banks = phrase_banks()
    convert = _casual_banks if style.casual else dict
    openers, closers = convert(banks["openers"]), convert(banks["closers"])
    mood_emojis = banks["emojis"]["emotions"]
    tone_phrases: frozenset[str] = frozenset()
    if style.tone != DEFAULT_STYLE.tone:
        tone = load_bank("styles")[style.tone]
        own = tone[style.level]
        playful = style.tone == "유쾌한"
        openers = {m: own["openers"] if m in BRIGHT_MOODS or not playful else openers[m] for m in openers}
        # A sad, angry or startled face gets the playful tone's kind closers, not its jokes.
        closers = {
            m: own["closers"] if m in BRIGHT_MOODS or not playful else own["soft_closers"] for m in closers
        }
        mood_emojis = {
            m: tone["emojis"] if m in BRIGHT_MOODS or not playful else e for m, e in mood_emojis.items()
        }
        tone_phrases = frozenset(own["openers"] + own["closers"] + own.get("soft_closers", []))
    return StyleBanks(
        openers=openers,
        closers=closers,
        objects=convert(banks["objects"]),
        generic=convert(banks["generic"]),
        mood_emojis=mood_emojis,
        generic_emojis=banks["emojis"]["generic"],
        object_emojis=banks["emojis"]["objects"],
        tone_phrases=tone_phrases,
    )


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

    def __init__(self, seed: int = 0, max_tries: int = 12, style: str | Style | None = None) -> None:
        self.seed = seed
        self.max_tries = max_tries
        self.style = parse_style(style)

    def compose(self, labels: str, key: object = 0, style: str | Style | None = None) -> str:
        """A valid comment for ``labels`` in ``style`` (default: the composer's own); ``key``
        picks another variant for the same labels."""
        style = self.style if style is None else parse_style(style)
        emotions, objects = vocab.split_labels(vocab.parse_labels(labels, strict=False))
        banks = style_banks(style)
        # The default style keeps the seeds and the checks it had before styles existed, so the
        # shipped dataset is reproduced byte for byte.
        salt = "" if style == DEFAULT_STYLE else f"{style.key}|"
        checked_style = None if style == DEFAULT_STYLE else style
        comment = ""
        for attempt in range(self.max_tries):
            rng = random.Random(f"{self.seed}|{salt}{labels}|{key}|{attempt}")
            comment = self._draft(rng, banks, emotions, objects)
            if style.tone == "차분한":  # a calm voice does not exclaim
                comment = comment.replace("!", ".")
            if not validate_comment(comment, objects, style=checked_style):
                return comment
        return comment

    def compose_many(
        self, label_strings: list[str], keys: list[object] | None = None, style: str | Style | None = None
    ) -> list[str]:
        keys = keys if keys is not None else list(range(len(label_strings)))
        return [self.compose(labels, key, style) for labels, key in zip(label_strings, keys, strict=True)]

    def _draft(self, rng: random.Random, banks: StyleBanks, emotions: list[str], objects: list[str]) -> str:
        mood = emotions[0] if emotions else NO_EMOTION
        closing_mood = emotions[-1] if emotions else NO_EMOTION
        opener = rng.choice(banks.openers[mood])
        closer = rng.choice(banks.closers[closing_mood])
        remarks = self._remarks(rng, banks, objects)
        mood_emoji = rng.choice(banks.mood_emojis[mood])
        end_emoji = self._object_emoji(rng, banks, objects) or rng.choice(banks.generic_emojis)
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
        if banks.tone_phrases:  # a non-default tone must show in the comment
            marks = [p for p in (opener, closer) if p in banks.tone_phrases]  # the closer always is
            candidates = [c for c in candidates if any(p in c for p in marks)]
        fitting = [c for c in candidates if len(c) <= TARGET_CHARS]
        if not fitting:
            return candidates[-1]
        # Prefer richer comments, but not always the longest: varied lengths read naturally.
        return fitting[0] if rng.random() < 0.6 else rng.choice(fitting)

    def _remarks(self, rng: random.Random, banks: StyleBanks, objects: list[str]) -> list[str]:
        generic = banks.generic
        if not objects:
            return []
        if len(objects) == 1:
            return [self._single(rng, banks, objects[0])]
        if len(objects) == 2:
            if rng.random() < 0.5:
                return [self._single(rng, banks, objects[0]), self._single(rng, banks, objects[1])]
            return [fill(rng.choice(generic["pair"]), a=objects[0], b=objects[1])]
        return [fill(rng.choice(generic["many"]), items=objects)]

    def _single(self, rng: random.Random, banks: StyleBanks, label: str) -> str:
        key = _english_key(label)
        bank = banks.objects.get(key) if key else None
        return fill(rng.choice(bank or banks.generic["single"]), obj=label)

    def _object_emoji(self, rng: random.Random, banks: StyleBanks, objects: list[str]) -> str | None:
        choices = [e for o in objects for e in banks.object_emojis.get(_english_key(o) or "", [])]
        return rng.choice(choices) if choices else None
