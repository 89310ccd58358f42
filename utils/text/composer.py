"""The offline comment composer: a Korean comment from a label string in any style (default:
warm and polite), built from the phrase banks in ``data/phrases`` with particles that agree with
each noun (``tossi``).

It is the data generator when no LLM key is set (and what CI uses), and the pipeline's last
resort when no text model exists. The same (labels, key, style) always gives the same comment.

Coherence (issue 12, ``data/composer_review/README.md``): opener, closer and mood emoji come from
one mood, even with two emotions; a remark or closer that repeats a content word of the parts
before it is drawn again (``utils.text.words``); pair and list remarks only say that the
objects are in the photo, never that they suit or complete each other; body parts get remarks
about the person; no "also" (…도) remark comes first.

Styles: 반말 uses the casual forms of the banks (``utils.text.phrases.to_casual``, an explicit rule
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
from utils.text.dataset import validate_comment
from utils.text.phrases import casual_list, load_bank
from utils.text.styles import DEFAULT_STYLE, Style, parse_style
from utils.text.words import mixed_submoods, noticeable_words

NO_EMOTION = "없음"
TARGET_CHARS = 80  # the reference's comments: mean 41, max 92 characters
_PLACEHOLDER = re.compile(r"\{(obj|a|b|list)(?::([^}]+))?\}")
BRIGHT_MOODS = ("기쁨", NO_EMOTION)  # faces a playful opener suits
REDRAWS = 8  # draws of remarks, then of the closer, until none repeats a word of the parts before
# OIV7 body parts (손, 코, 팔 …) have their own remarks about the person; never items of a list of things.
BODY_PARTS = frozenset(
    f"Human {part}"
    for part in ("arm", "beard", "body", "ear", "eye", "foot", "hair", "hand", "head", "leg", "mouth", "nose")
)
_ALSO = re.compile(r"\{(obj|list):도\}")


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


def _not_also(templates: list[str]) -> list[str]:
    """The templates without an "also" subject ({obj:도}), for a first or only remark."""
    return [t for t in templates if not _ALSO.search(t)] or templates


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
        # The default style keeps the seeds and the checks it had before styles existed.
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
        mood = self._mood(rng, banks, emotions)
        opener = rng.choice(banks.openers[mood])
        used = noticeable_words(opener)
        remarks = self._remarks(rng, banks, objects)
        for _ in range(REDRAWS):  # no content word of the opener again, nor one remark's in the next
            words = [noticeable_words(r) for r in remarks]
            if not any(w & used for w in words) and all(
                not (a & b) for i, a in enumerate(words) for b in words[i + 1 :]
            ):
                break
            remarks = self._remarks(rng, banks, objects)
        used = used.union(*(noticeable_words(r) for r in remarks))
        closers = banks.closers[mood]
        closer = rng.choice(closers)
        for _ in range(REDRAWS):  # nor a word of the parts before it, nor the other sub-mood
            if not (noticeable_words(closer) & used) and not mixed_submoods(opener, closer):
                break
            closer = rng.choice(closers)
        mood_emoji = rng.choice(banks.mood_emojis[mood])
        end_emoji = self._end_emoji(rng, banks, objects, avoid=mood_emoji)
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

    @staticmethod
    def _mood(rng: random.Random, banks: StyleBanks, emotions: list[str]) -> str:
        """The one mood of a comment's opener, closer and mood emoji. With two emotions: 기쁨 and
        a sad, angry or startled face read as that face (a bright opener before a consoling
        closer contradicts itself); two such faces, one of them, drawn."""
        known = [e for e in emotions if e in banks.openers and e in banks.closers]
        if not known:
            return NO_EMOTION
        clouded = [e for e in known if e != "기쁨"]
        if len(clouded) > 1:
            return rng.choice(clouded)
        return clouded[0] if clouded else known[0]

    def _remarks(self, rng: random.Random, banks: StyleBanks, objects: list[str]) -> list[str]:
        """One remark per object for one or two objects, else one list remark; a body part (코,
        팔) gets its own remark about the person, never a place in a list of things. No remark
        opens with an "also" (…도) that has nothing before it."""
        if not objects:
            return []
        parts = [o for o in objects if _english_key(o) in BODY_PARTS]
        things = [o for o in objects if o not in parts]
        remarks = [self._single(rng, banks, p, first=i == 0) for i, p in enumerate(parts)]
        first = not remarks
        generic = banks.generic
        if len(things) == 1:
            remarks.append(self._single(rng, banks, things[0], first=first))
        elif len(things) == 2:
            if rng.random() < 0.5:
                remarks += [
                    self._single(rng, banks, things[0], first=first),
                    self._single(rng, banks, things[1]),
                ]
            else:
                remarks.append(fill(rng.choice(generic["pair"]), a=things[0], b=things[1]))
        elif things:
            remarks.append(fill(rng.choice(_not_also(generic["many"])), items=things))
        return remarks

    def _single(self, rng: random.Random, banks: StyleBanks, label: str, first: bool = False) -> str:
        key = _english_key(label)
        bank = (banks.objects.get(key) if key else None) or banks.generic["single"]
        return fill(rng.choice(_not_also(bank) if first else bank), obj=label)

    def _end_emoji(self, rng: random.Random, banks: StyleBanks, objects: list[str], avoid: str) -> str:
        """An emoji for the objects (else a generic one), other than the mood emoji."""
        own = [e for e in self._object_emojis(banks, objects) if e != avoid]
        return rng.choice(own or [e for e in banks.generic_emojis if e != avoid])

    @staticmethod
    def _object_emojis(banks: StyleBanks, objects: list[str]) -> list[str]:
        return [e for o in objects for e in banks.object_emojis.get(_english_key(o) or "", [])]
