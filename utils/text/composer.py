"""The offline comment composer: a Korean comment from a label string in any style (default:
warm and polite), built from the phrase banks in ``data/phrases`` with particles that agree with
each noun (``tossi``).

It is the data generator when no LLM key is set (and what CI uses), and the pipeline's last
resort when no text model exists. The same (labels, key, style) always gives the same comment.

Coherence (issue 12, ``data/composer_review/README.md``): opener, closer and mood emoji come from
one mood, even with two emotions; a remark or closer that repeats a content word of the parts
before it is drawn again (``utils.text.words``); pair and list remarks are one kind's and never
say that the objects suit or complete each other; body parts get remarks about the person; no
"also" (…도) remark comes first.

Subjects (round 9, ``utils.text.grounding.main_objects``): a comment speaks of the photo's
subjects, at most two (round 10: three read as a listing), and leaves the furniture, tableware, parts and bottles beside them, or
says them where they belong to a subject ("테이블 위 와인이", "접시에 담긴 파스타가"); unlike things
never share a stock pair remark ("A와 B가 또렷하게 잘 나왔어요" read as a listing to the raters).

Grounding (everyday photos: ``utils.text.grounding``): every class without remarks of its own gets
its kind's (``data/phrases/kinds.json``: animals, food, vehicles, places …); a person is spoken of
as people are, as 모습 or 분 ("자연스러운 모습이 …", "강아지와 함께한 모습이 …", "두 분의 모습이 …"),
never as a thing or an item of a list; no remark names more than two things, and a kind name beside
its own kind's things is said once with them ("레몬과 오렌지 같은 과일이 …"); openers and closers
show no mood the labels do not give and name no object; the end emoji depicts one of the labels
(``objects`` of emojis.json, never the ``loose`` ones), else it is their kind's or a generic one.
After a sad, angry or startled face no remark cheers ("떠나고 싶어져요", "군침이 돌아요"), and a thing
gets its kind's quiet remark ("나무를 보며 잠시 숨 돌리세요"), not praise (round 10: mostly; round 13: always). Round 10
also: a photo without a face mostly gets no closing wish; only a pet shares a person's remark
("강아지와 함께한 모습"); a smile is said once; no comment is under ``MIN_CHARS``. A draft is
checked against all the labels, emotions included.

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
from utils.text.dataset import MAX_SENTENCES, sentence_count, validate_comment
from utils.text.grounding import can_hold, covers, fits_kind_emoji, is_drink, kind_of, main_objects
from utils.text.grounding import english_key as _english_key
from utils.text.phrases import casual_list, load_bank
from utils.text.styles import DEFAULT_STYLE, Style, parse_style
from utils.text.words import mixed_submoods, noticeable_words

NO_EMOTION = "없음"
TARGET_CHARS = 80  # the reference's comments: mean 41, max 92 characters
REFERENCE_MAX_CHARS = 92
MIN_CHARS = 15  # shorter reads as a fragment ("물고기의 색이 예뻐요! 🤞")
_PLACEHOLDER = re.compile(r"\{(obj|a|b|list)(?::([^}]+))?\}")
BRIGHT_MOODS = ("기쁨", NO_EMOTION)  # faces a playful opener suits
REDRAWS = 8  # draws of remarks, then of the closer, until none repeats a word of the parts before
# OIV7 body parts (손, 코, 팔 …) have their own remarks about the person; never items of a list of things.
BODY_PARTS = frozenset(
    f"Human {part}"
    for part in ("arm", "beard", "body", "ear", "eye", "foot", "hair", "hand", "head", "leg", "mouth", "nose")
)
_ALSO = re.compile(r"\{(obj|list):도\}")
_SMILE = re.compile(r"웃|미소")


def phrase_banks() -> dict[str, dict]:
    """openers, closers, objects, generic, kinds and emojis, as shipped in data/phrases. ``generic``
    also lists the kinds' templates after its own (single: each kind's single remarks and people's
    joy and clouded ones; pair: pair, food-in-a-dish and people's together remarks; many: list and
    kind-name remarks), so that it holds every template a remark that is not an object's own comes
    from."""
    banks = {name: load_bank(name) for name in ("openers", "closers", "objects", "emojis")}
    kinds = kind_banks()
    generic = {part: list(phrases) for part, phrases in load_bank("generic").items()}
    for bank in kinds.values():
        for part, phrases in bank.items():
            merged = {"joy": "single", "clouded": "single", "in": "pair", "in_drink": "pair", "hyper": "many"}
            merged = merged.get(part, part)
            merged = "pair" if part.startswith("together:") else merged
            generic[merged] += [p for p in phrases if p not in generic[merged]]
    return banks | {"generic": generic, "kinds": kinds}


def kind_banks() -> dict[str, dict[str, list[str]]]:
    """data/phrases/kinds.json: per kind of thing, its single, pair and list remarks."""
    notes = ("about", "as_kind", "hypernyms", "containers", "surfaces", "subjects", "companions")
    return {k: v for k, v in load_bank("kinds").items() if k not in notes}


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
_AT_EASE = re.compile(r"편안해 보|편안한 모습|여유로워 보|행복해 보|평온해 보|느긋|한가로|즐기는|즐거워 보")
# Cheer that reads as a clash after a sad, angry or startled face (떠나고 싶어져요 after 슬픔).
_CHEERFUL = re.compile(
    r"떠나고 싶|군침|입맛|먹음직|재미|활기|신기|특별|반짝|설레|즐거|신나|배고파|건배|놀러|귀여워"
)


def _quiet(templates: list[str], mood: str) -> list[str]:
    """The templates that fit the mood: none with cheer under a sad, angry or startled face."""
    if mood in BRIGHT_MOODS:
        return templates
    return [t for t in templates if not _CHEERFUL.search(t)] or templates


def _hypernyms(things: list[str]) -> list[tuple[str, list[str]]]:
    """(kind name, the labels it covers) for each label among ``things`` that names the kind of
    others (과일 beside 레몬 and 오렌지), at most two covered labels each."""
    out = []
    for label in things:
        covered = [t for t in things if covers(label, t, remark_kind(t))]
        if covered:
            out.append((label, covered[:2]))
    return out


@cache
def _companions() -> frozenset[str]:
    return frozenset(load_bank("kinds")["companions"]["classes"])


@cache
def _surfaces(part: str) -> frozenset[str]:
    """kinds.json ``surfaces`` entry ``part``: the tables' classes, or the classes and kinds found on them."""
    return frozenset(load_bank("kinds")["surfaces"][part])


def _stands_on_surface(label: str) -> bool:
    """Whether ``label`` is a thing one finds on a table or a shelf (food, a cup, a book …)."""
    kinds = _surfaces("on_it_kinds")
    return remark_kind(label) in kinds or _english_key(label) in _surfaces("on_it")


def _put_on_surface(surface: str, remarks: list[str], things: list[str]) -> list[str] | None:
    """``remarks`` with the first one that opens with a thing found on a table ("병이 …") said to be
    on ``surface`` ("테이블 위 병이 …"), when every thing that remark names is; None when none is."""
    for i, remark in enumerate(remarks):
        named = [t for t in things if t in remark]
        opens = [t for t in named if remark.startswith(t)]
        if opens and all(_stands_on_surface(t) for t in named):
            return [*remarks[:i], f"{surface} 위 {remark}", *remarks[i + 1 :]]
    return None


def _for_mood(templates: list[str], mood: str) -> list[str]:
    """The templates that fit the mood: none that says a person looks at ease under a sad,
    angry or startled face."""
    if mood in (NO_EMOTION, "기쁨"):
        return templates
    return [t for t in templates if not _AT_EASE.search(t)] or templates


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
        smiled = bool(_SMILE.search(opener))
        # Redrawn until no content word of the opener comes again, nor one remark's in the next,
        # and the remarks fit the target length (many objects: the draw with the shortest text).
        fallback: list[str] | None = None
        for _ in range(REDRAWS + 1):
            remarks = self._remarks(rng, banks, objects, mood, smiled)
            words = [noticeable_words(r) for r in remarks]
            if any(w & used for w in words) or any(
                a & b for i, a in enumerate(words) for b in words[i + 1 :]
            ):
                continue
            if len(" ".join(remarks)) + len(remarks) + 3 <= TARGET_CHARS:
                break
            if fallback is None or len("".join(remarks)) < len("".join(fallback)):
                fallback = remarks
        else:
            remarks = fallback or remarks
        used = used.union(*(noticeable_words(r) for r in remarks))
        closers = banks.closers[mood]
        closer = rng.choice(closers)
        smiled = smiled or any(_SMILE.search(r) for r in remarks)
        for _ in range(
            REDRAWS
        ):  # nor a word of the parts before it, nor the other sub-mood, nor a smile again
            if (
                not (noticeable_words(closer) & used)
                and not mixed_submoods(opener, closer)
                and not (smiled and _SMILE.search(closer))
            ):
                break
            closer = rng.choice(closers)
        mood_emoji = rng.choice(banks.mood_emojis[mood])
        end_emoji = self._end_emoji(rng, banks, objects, avoid=mood_emoji)
        stops = ".!" if mood in BRIGHT_MOODS else "."  # no exclaiming about things beside a sad face
        body = " ".join(f"{r}{rng.choice(stops)}" for r in remarks)
        # Longest first; shorter forms drop the closer, then the opener, to stay near the target.
        candidates = [
            f"{opener}! {mood_emoji} {body} {closer}{rng.choice('.!')} {end_emoji}",
            f"{opener}{rng.choice('.!')} {body} {end_emoji}",
            f"{body} {closer}{rng.choice('.!')} {mood_emoji}",
            f"{body} {end_emoji}",
        ]
        if mood != NO_EMOTION:  # a face's feeling is never left out: the opener or the closer says it
            candidates = candidates[:3]
        if not objects:
            candidates = [f"{opener}! {mood_emoji} {closer}{rng.choice('.!')}", f"{opener}! {mood_emoji}"]
        if banks.tone_phrases:  # a non-default tone must show in the comment
            marks = [p for p in (opener, closer) if p in banks.tone_phrases]  # the closer always is
            candidates = [c for c in candidates if any(p in c for p in marks)]
        # Three sentences at most (the opener or the closer gives way): blind raters posted no
        # comment of four, by any writer (round 11).
        candidates = [c for c in candidates if sentence_count(c) <= MAX_SENTENCES] or candidates[-1:]
        candidates = [c for c in candidates if len(c) >= MIN_CHARS] or candidates[:1]
        fitting = [c for c in candidates if len(c) <= TARGET_CHARS]
        if fitting in ([], candidates[-1:]) and len(candidates) > 1:
            # Many objects: a comment a little longer, up to the reference's longest, keeps the
            # opener or the closer that gives it its tone, rather than only the remarks.
            fitting = [c for c in candidates[:-1] if len(c) <= REFERENCE_MAX_CHARS] or fitting
        if not fitting:
            return min(candidates, key=len)
        # Prefer richer comments, but not always the longest: varied lengths read naturally. A photo
        # without a face mostly gets its remarks alone or after an opener: the stock wishes after
        # a remark about a bus or a tree read as filler to the raters (round 9b).
        plain = [c for c in fitting if closer not in c]
        if mood == NO_EMOTION and objects and plain and rng.random() < 0.7:  # nothing seen: keep the wish
            return rng.choice(plain)
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
        self,
        rng: random.Random,
        banks: StyleBanks,
        objects: list[str],
        mood: str = NO_EMOTION,
        smiled: bool = False,
    ) -> list[str]:
        """The remarks of a comment, one sentence each, about its subjects (``main_objects``; the
        table, dish or bottle beside them is said only where it belongs to one: "테이블 위 와인이",
        "접시에 담긴 파스타가"): a body part (코, 팔) gets its own remark about the person; a person
        is spoken of as people are (모습, 두 분), never as an item of a list, and with one other
        thing may share its remark ("강아지와 함께한 모습이 …"); the other things go one to a remark,
        or two or three of one kind to that kind's remark (``_group``). No remark opens with an
        "also" (…도). Under a sad, angry or startled face no thing shares the person's remark: the
        person's is about the feeling, the thing's own weaves it into the comfort. ``smiled``: the
        opener already spoke of a smile, so no remark does again."""
        if not objects:
            return []
        subjects = main_objects(objects)
        extras = [o for o in objects if o not in subjects]
        parts = [o for o in subjects if _english_key(o) in BODY_PARTS]
        people = [o for o in subjects if o not in parts and remark_kind(o) == "people"]
        things = [o for o in subjects if o not in parts and o not in people]
        remarks = [
            self._single(rng, banks, p, mood, first=i == 0, smiled=smiled) for i, p in enumerate(parts)
        ]
        if people:
            bank = banks.kinds["people"]
            # One person with one thing now and then, or with many things always (to stay short),
            # shares a remark with one of them.
            many = len(subjects) >= 3
            shares = mood in BRIGHT_MOODS and (many or (len(things) == 1 and rng.random() < 0.5))
            if len(people) == 1 and things and shares:
                for thing in things:
                    together = _for_mood(bank.get(f"together:{remark_kind(thing)}", []), mood)
                    if remark_kind(thing) == "animals" and _english_key(thing) not in _companions():
                        together = []  # "하마와 함께한 모습" reads oddly: only pets keep a person company
                    if together:
                        remarks.append(fill(rng.choice(together), obj=thing))
                        rest = [t for t in things if t != thing]
                        return remarks + self._group(rng, banks, rest, mood, False, many, extras)
            if len(people) == 1:
                remarks.append(self._single(rng, banks, people[0], mood, first=not remarks, smiled=smiled))
            else:
                remarks.append(rng.choice(bank["pair"] if len(people) == 2 else bank["many"]))
        return remarks + self._group(rng, banks, things, mood, not remarks, len(subjects) >= 3, extras)

    def _group(
        self,
        rng: random.Random,
        banks: StyleBanks,
        things: list[str],
        mood: str,
        first: bool,
        short: bool = False,
        extras: tuple[str, ...] | list[str] = (),
    ) -> list[str]:
        """Remarks for the subjects ``things``, never more than two to a remark and never a pair of
        unlike things: a kind name with its own kind's things is said once with them ("레몬과
        오렌지 같은 과일이"), a table (a subject or one of ``extras``) beside what stands on it goes
        before that thing's remark ("테이블 위 와인이"), a dish with a food or a cup with a drink in
        one remark ("접시에 담긴 새우가"), three of one kind may share its list remark, two of one
        kind its pair remark, the rest one each. ``extras`` are never named otherwise."""
        if not things:
            return []
        remarks: list[str] = []
        pool = list(things)
        for hyper, covered in _hypernyms(pool):
            templates = banks.kinds[remark_kind(hyper)].get("hyper")
            if templates:
                remarks.append(fill(rng.choice(templates), obj=hyper, items=covered))
                pool = [t for t in pool if t != hyper and t not in covered]
        surface = next((t for t in [*pool, *extras] if _english_key(t) in _surfaces("classes")), None)
        if surface and any(_stands_on_surface(t) for t in pool) and rng.random() < 0.8:
            rest = [t for t in pool if t != surface]
            others = [t for t in extras if t != surface]
            placed = _put_on_surface(surface, self._group(rng, banks, rest, mood, first, short, others), rest)
            if placed:
                return remarks + placed
        for container in [*pool, *extras]:
            # Never "와인 잔에 담긴 와인": a cup named after its drink is left out.
            food = [t for t in pool if t != container and can_hold(container, t) and t not in container]
            if food and (container in pool or container in extras) and rng.random() < 0.9:
                templates = banks.kinds["food_drink"]["in_drink" if is_drink(food[0]) else "in"]
                remarks.append(fill(rng.choice(templates), a=container, b=food[0]))
                pool = [t for t in pool if t not in (container, food[0])]
                extras = [t for t in extras if t != container]
        kinds = {remark_kind(t) for t in pool}
        if len(pool) == 3 and len(kinds) == 1 and rng.random() < 0.5:
            many = banks.kinds.get(kinds.pop() or "", {}).get("many")
            if many:
                return remarks + [fill(rng.choice(_quiet(many, mood)), items=pool)]
        while pool:
            head = pool.pop(0)
            crowded = short or len(pool) >= 2  # many things: pair those of one kind, to stay short
            mate = next((t for t in pool if remark_kind(t) == remark_kind(head)), None)
            pair = banks.kinds.get(remark_kind(head) or "", {}).get("pair")
            if mate and pair and (crowded or rng.random() < 0.5):
                pool.remove(mate)
                remarks.append(fill(rng.choice(_quiet(pair, mood)), a=head, b=mate))
            else:
                remarks.append(self._single(rng, banks, head, mood, first=first and not remarks))
        return remarks

    def _single(
        self,
        rng: random.Random,
        banks: StyleBanks,
        label: str,
        mood: str = NO_EMOTION,
        first: bool = False,
        smiled: bool = False,
    ) -> str:
        """A remark of the object's own, else one of its kind's, else a generic one. Under a happy
        face a person may be said to smile (unless ``smiled``: the opener did). Under a sad, angry
        or startled face a person or a thing gets its kind's quiet remark ("진솔한 모습이 그대로
        전해져요", "나무를 보며 잠시 숨 돌리세요"), never praise: round 13's strict rater read "분위기
        있는 모습이 멋지게 담겼어요" and "나무가 풍경을 한층 살려 주네요" after a consoling opener as a
        clash of moods."""
        key = _english_key(label)
        kind_name = remark_kind(label)
        kind = banks.kinds.get(kind_name or "", {})
        bank = (banks.objects.get(key) if key else None) or kind.get("single") or banks.generic["single"]
        if kind_name == "people":
            bank = _for_mood(bank, mood)
            if mood == "기쁨" and kind.get("joy") and not smiled and rng.random() < 0.5:
                bank = kind["joy"]
            elif mood not in BRIGHT_MOODS and kind.get("clouded"):
                bank = kind["clouded"]
        elif mood not in BRIGHT_MOODS and kind.get("clouded"):
            bank = kind["clouded"]
        else:
            bank = _quiet(bank, mood)
        return fill(rng.choice(_not_also(bank) if first else bank), obj=label)

    def _end_emoji(self, rng: random.Random, banks: StyleBanks, objects: list[str], avoid: str) -> str:
        """An emoji of the objects: their own, else their kind's where it suits them (🐾 for a
        lynx, not for a dragonfly), else a generic one; never the mood emoji."""
        own = [e for e in self._object_emojis(banks, objects) if e != avoid]
        return rng.choice(own or [e for e in banks.generic_emojis if e != avoid])

    @staticmethod
    def _object_emojis(banks: StyleBanks, objects: list[str]) -> list[str]:
        own = [e for o in objects for e in banks.object_emojis.get(_english_key(o) or "", [])]
        if own:
            return own
        kinds = dict.fromkeys(remark_kind(o) or "" for o in objects if fits_kind_emoji(o))
        return [e for kind in kinds for e in banks.kind_emojis.get(kind, [])]
