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

Grounding (everyday photos: ``utils.text.grounding``): every class without remarks of its own gets
its kind's (``data/phrases/kinds.json``: animals, food, vehicles, places …); a person is spoken of
as a person, never as a thing ("사람이 함께 담겨 …", "사람과 강아지가 함께한 순간 …"); openers and
closers show no mood the labels do not give and name no object; the end emoji is one of the
labels' own emojis or their kind's. A draft is checked against all the labels, emotions included.

Styles: 반말 uses the casual forms of the banks (``utils.text.phrases.to_casual``, an explicit rule
table); a tone other than 다정한 takes its openers, closers and emojis from
``data/phrases/styles.json``. Its openers are for bright faces (기쁨, or none; a happy face also
gets the tone's openers about the smile, ``joy_openers``): a sad, angry or startled face gets the
warm opener for that feeling, and the tone from the closer.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import cache

import tossi

from utils import labels as vocab
from utils.text.dataset import validate_comment
from utils.text.grounding import kind_of
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
    """openers, closers, objects, generic, kinds and emojis, as shipped in data/phrases. ``generic``
    also lists the kinds' templates after its own (single: each kind's single remarks and people's
    joy and with remarks; pair: pair and people's together remarks; many: list and people's scene
    remarks), so that it holds every template a remark that is not an object's own comes from."""
    banks = {name: load_bank(name) for name in ("openers", "closers", "objects", "emojis")}
    kinds = kind_banks()
    generic = {part: list(phrases) for part, phrases in load_bank("generic").items()}
    for bank in kinds.values():
        for part, phrases in bank.items():
            merged = {"with": "single", "joy": "single", "scene": "many"}.get(part, part)
            merged = "pair" if part.startswith("together:") else merged
            generic[merged] += [p for p in phrases if p not in generic[merged]]
    return banks | {"generic": generic, "kinds": kinds}


def kind_banks() -> dict[str, dict[str, list[str]]]:
    """data/phrases/kinds.json: per kind of thing, its single, pair and list remarks."""
    return {k: v for k, v in load_bank("kinds").items() if k not in ("about", "as_kind")}


@cache
def remark_kind(label: str) -> str | None:
    """The kind whose remarks fit ``label`` (``utils.text.grounding.kind_of``, but a tire or a
    window reads as a thing, not a vehicle or a place); None for a label outside the vocabulary."""
    key = _english_key(label)
    override = load_bank("kinds")["as_kind"].get(key or "")
    return override or kind_of(label)


@dataclass(frozen=True)
class StyleBanks:
    """The phrases one style composes from; for the default style, the shipped banks as they are."""

    openers: dict[str, list[str]]  # per mood (emotion, or 없음)
    closers: dict[str, list[str]]
    objects: dict[str, list[str]]
    generic: dict[str, list[str]]
    kinds: dict[str, dict[str, list[str]]]  # per kind: single, pair, many (people: also joy, with, …)
    mood_emojis: dict[str, list[str]]
    generic_emojis: list[str]
    object_emojis: dict[str, list[str]]
    kind_emojis: dict[str, list[str]]
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
        # A sad, angry or startled face gets the warm opener for that feeling in every tone: the
        # tone's own openers are about the photo (잔잔한 분위기가 …, 힘찬 에너지가 …).
        openers = {m: own["openers"] if m in BRIGHT_MOODS else openers[m] for m in openers}
        # A happy face also gets the tone's openers about the smile (never for a face without 기쁨).
        openers["기쁨"] = openers["기쁨"] + own.get("joy_openers", [])
        # A sad, angry or startled face gets the playful tone's kind closers, not its jokes.
        closers = {
            m: own["closers"] if m in BRIGHT_MOODS or not playful else own["soft_closers"] for m in closers
        }
        # In every tone, a sad, angry or startled face gets the emojis of that feeling (no 🎉 for tears).
        mood_emojis = {m: tone["emojis"] if m in BRIGHT_MOODS else e for m, e in mood_emojis.items()}
        tone_phrases = frozenset(own["openers"] + own["closers"] + own.get("soft_closers", []))
    return StyleBanks(
        openers=openers,
        closers=closers,
        objects=convert(banks["objects"]),
        generic=convert(load_bank("generic")),
        kinds={kind: convert(bank) for kind, bank in banks["kinds"].items()},
        mood_emojis=mood_emojis,
        generic_emojis=banks["emojis"]["generic"],
        object_emojis=banks["emojis"]["objects"],
        kind_emojis=banks["emojis"]["kinds"],
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


# A person's state that a sad, angry or startled face contradicts (편안해 보여요 under 슬픔).
_AT_EASE = re.compile(r"편안해 보|여유로워 보|행복해 보|평온해 보|느긋|한가로")


def _for_mood(templates: list[str], mood: str) -> list[str]:
    """The templates that fit the mood: none that says a person looks at ease under a sad,
    angry or startled face."""
    if mood in (NO_EMOTION, "기쁨"):
        return templates
    return [t for t in templates if not _AT_EASE.search(t)] or templates


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
        names = vocab.parse_labels(labels, strict=False)
        emotions, objects = vocab.split_labels(names)
        banks = style_banks(style)
        # The default style keeps the seeds it had before styles existed.
        salt = "" if style == DEFAULT_STYLE else f"{style.key}|"
        best, fewest = "", None
        for attempt in range(self.max_tries):
            rng = random.Random(f"{self.seed}|{salt}{labels}|{key}|{attempt}")
            comment = self._draft(rng, banks, emotions, objects)
            if style.tone == "차분한":  # a calm voice does not exclaim
                comment = comment.replace("!", ".")
            # Checked against every label, emotions too: a smile is fine under 기쁨, not without it.
            problems = validate_comment(comment, names, style=style)
            if not problems:
                return comment
            if fewest is None or len(problems) < fewest:
                best, fewest = comment, len(problems)
        return best  # given up: the draft with the fewest problems

    def compose_many(
        self, label_strings: list[str], keys: list[object] | None = None, style: str | Style | None = None
    ) -> list[str]:
        keys = keys if keys is not None else list(range(len(label_strings)))
        return [self.compose(labels, key, style) for labels, key in zip(label_strings, keys, strict=True)]

    def _draft(self, rng: random.Random, banks: StyleBanks, emotions: list[str], objects: list[str]) -> str:
        mood = self._mood(rng, banks, emotions)
        opener = rng.choice(banks.openers[mood])
        used = noticeable_words(opener)
        remarks = self._remarks(rng, banks, objects, mood)
        for _ in range(REDRAWS):  # no content word of the opener again, nor one remark's in the next
            words = [noticeable_words(r) for r in remarks]
            if not any(w & used for w in words) and all(
                not (a & b) for i, a in enumerate(words) for b in words[i + 1 :]
            ):
                break
            remarks = self._remarks(rng, banks, objects, mood)
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

    def _remarks(
        self, rng: random.Random, banks: StyleBanks, objects: list[str], mood: str = NO_EMOTION
    ) -> list[str]:
        """One remark per object for one or two objects, else one list remark; a body part (코,
        팔) gets its own remark about the person, never a place in a list of things. A person
        (사람) is spoken of as a person, never as an item: with one object, a remark of both (사람과
        강아지가 함께한 순간이 …) or one of the person beside the object's; with more, one of the
        scene; with what they wear, one of the person, then of the outfit. No remark opens with an
        "also" (…도) that has nothing before it."""
        if not objects:
            return []
        parts = [o for o in objects if _english_key(o) in BODY_PARTS]
        people = [o for o in objects if o not in parts and remark_kind(o) == "people"]
        things = [o for o in objects if o not in parts and o not in people]
        remarks = [self._single(rng, banks, p, mood, first=i == 0) for i, p in enumerate(parts)]
        if people and things and all(remark_kind(t) == "clothing" for t in things):
            # What a person wears is not beside them: a remark of the person, then of the outfit.
            remarks += self._group(rng, banks, people, mood, first=not remarks)
            return remarks + self._group(rng, banks, things, mood, first=False)
        if people and things:
            bank = banks.kinds["people"]
            with_others = _for_mood(bank["with"], mood)
            if len(people) == 1 and len(things) == 1:
                together = bank.get(f"together:{remark_kind(things[0])}", [])
                if together and rng.random() < 0.5:
                    # Label order for {a} and {b}: the templates read well either way round.
                    a, b = [o for o in objects if o in (people[0], things[0])]
                    return remarks + [fill(rng.choice(together), a=a, b=b)]
                return remarks + [
                    fill(rng.choice(with_others), obj=people[0]),
                    self._single(rng, banks, things[0], mood),
                ]
            if len(people) == 1 and len(things) == 2 and rng.random() < 0.5:
                remarks.append(fill(rng.choice(with_others), obj=people[0]))
                return remarks + [self._single(rng, banks, t, mood) for t in things]
            # More: one remark of the scene, the person in it (사람, 버스와 건물이 담긴 풍경이 정겨워요).
            scene = [o for o in objects if o in people or o in things]
            return remarks + [fill(rng.choice(bank["scene"]), items=scene)]
        return remarks + self._group(rng, banks, people or things, mood, first=not remarks)

    def _group(
        self, rng: random.Random, banks: StyleBanks, things: list[str], mood: str, first: bool
    ) -> list[str]:
        """Remarks for objects that are not body parts: one for one, one each or a pair remark for
        two, a list remark for more; a pair or list of one kind may take that kind's remark."""
        if not things:
            return []
        if len(things) == 1:
            return [self._single(rng, banks, things[0], mood, first=first)]
        kinds = {remark_kind(t) for t in things}
        own_kind = banks.kinds.get(kinds.pop() or "", {}) if len(kinds) == 1 else {}
        if len(things) == 2:
            if rng.random() < 0.5:
                return [
                    self._single(rng, banks, things[0], mood, first=first),
                    self._single(rng, banks, things[1], mood),
                ]
            templates = own_kind.get("pair") if rng.random() < 0.5 else None
            return [fill(rng.choice(templates or banks.generic["pair"]), a=things[0], b=things[1])]
        templates = own_kind.get("many") if rng.random() < 0.5 else None
        return [fill(rng.choice(templates or _not_also(banks.generic["many"])), items=things)]

    def _single(
        self, rng: random.Random, banks: StyleBanks, label: str, mood: str = NO_EMOTION, first: bool = False
    ) -> str:
        """A remark of the object's own, else one of its kind's, else a generic one. A person under
        a sad, angry or startled face is not said to look at ease; under a happy one, may be said
        to smile."""
        key = _english_key(label)
        kind_name = remark_kind(label)
        kind = banks.kinds.get(kind_name or "", {})
        bank = (banks.objects.get(key) if key else None) or kind.get("single") or banks.generic["single"]
        if kind_name == "people":
            bank = _for_mood(bank, mood)
            if mood == "기쁨" and kind.get("joy") and rng.random() < 0.4:
                bank = kind["joy"]
        return fill(rng.choice(_not_also(bank) if first else bank), obj=label)

    def _end_emoji(self, rng: random.Random, banks: StyleBanks, objects: list[str], avoid: str) -> str:
        """An emoji of the objects: their own, else their kind's (🐾 for an animal without one),
        else a generic one; never the mood emoji."""
        own = [e for e in self._object_emojis(banks, objects) if e != avoid]
        return rng.choice(own or [e for e in banks.generic_emojis if e != avoid])

    @staticmethod
    def _object_emojis(banks: StyleBanks, objects: list[str]) -> list[str]:
        own = [e for o in objects for e in banks.object_emojis.get(_english_key(o) or "", [])]
        if own:
            return own
        kinds = dict.fromkeys(remark_kind(o) or "" for o in objects)
        return [e for kind in kinds for e in banks.kind_emojis.get(kind, [])]
