"""Does a comment stay true to its labels? No object, mood or emoji the labels do not give, and no
label left as a fragment: the rules ``validate_comment`` adds for everyday photos.

- invented objects: a name of the label vocabulary (the 601 OIV7 classes in Korean, which hold the
  80 COCO names) that the labels do not give, found among kiwipiepy's nouns; a kind's own category
  words (동물 for a dog, 음식 for a pizza; ``data/labels/kinds.json``) are allowed, and words that are
  mostly used in another sense (말 "speech", 눈 "eyes", 손, 집, …) are not counted;
- moods: a smile or laugh without 기쁨, tears without 슬픔, anger without 분노, fright without 공포,
  in words or in face emojis;
- emojis of other things: an emoji that stands for objects (``data/phrases/emojis.json``) none of
  which the labels give;
- fragments: a sentence that is only a label ("…사진이에요! 선글라스 🥰", "기린. 얼룩말이 …"), a
  label with an emoji glued to it ("강아지🐶"), or run into a label ("사자가사자가");
- scenes: sky, sea, lake, forest, night view, … that no label's own remarks speak of ("사자가
  하늘과 잘 어울려요"; the lighthouse's "바다와 잘 어울려요" is fine), unless said figuratively
  ("맑은 하늘 같은 내일");
- clothing worn with no one to wear it: "모자가 잘 어울려요" with no person, face or body part;
- containers: a cup holding a food or a dish holding a drink ("커피잔에 담긴 파스타가", "받침 접시에
  담긴 커피가"; ``containers`` of ``data/phrases/kinds.json``);
- subjects (``main_objects``): a comment must name the photo's main labels, not the furniture,
  tableware or parts beside them, nor more than three subjects (people count as one);
- a label glued onto a stock phrase about something else: a sentence that is a label and its
  particle followed by the end of an opener, a closer or a people remark ("헬멧이 순간이 자주
  찾아오길 바라요", "모자가 있는 그대로의 모습이 따뜻하게 느껴져요").
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache

from utils import labels as vocab
from utils.paths import DATA, LABELS_DIR

KINDS_FILE = LABELS_DIR / "kinds.json"
EMOJIS_FILE = DATA / "phrases" / "emojis.json"
STYLES_FILE = DATA / "phrases" / "styles.json"
PHRASE_KINDS_FILE = DATA / "phrases" / "kinds.json"
# One-syllable names that comments mostly use in another sense (말 speech, 눈 eyes/snow, 배 belly,
# 차 tea, 손 "hands on", 집 home, 공 effort, 양 amount, …): counting them would reject good comments.
AMBIGUOUS_NAMES = frozenset(
    {
        "말",
        "눈",
        "배",
        "차",
        "자",
        "무",
        "성",
        "연",
        "노",
        "게",
        "입",
        "손",
        "발",
        "팔",
        "코",
        "귀",
        "집",
        "문",
        "공",
        "못",
        "검",
        "끌",
        "굴",
        "양",
        "벌",
        "소",
    }
)
MOOD_WORDS: dict[str, re.Pattern] = {
    "기쁨": re.compile(r"웃[음는고어으었을]|미소|활짝 웃|해맑|싱글벙글|방긋|깔깔|함박웃음"),
    "슬픔": re.compile(r"슬[픈퍼픔프]|눈물|울적|우울|속상|서글"),
    "분노": re.compile(r"(?<![가-힣])화(?:가 ?나|[난나])|분노|짜증|언짢|(?<![가-힣])성[나난]|열받"),
    "공포": re.compile(r"놀[란랐람랄]|깜짝|무서[워운]|겁[에을이먹]|당황|공포|오싹"),
}
# Faces of a mood a writer would not show unprompted (a writer's own smile or laugh is its tone).
MOOD_EMOJIS: dict[str, frozenset[str]] = {
    "기쁨": frozenset(),
    "슬픔": frozenset("😢😭😿"),
    "분노": frozenset("😡😠🤬"),
    "공포": frozenset("😱😨😰"),
}
# Scenes a photo may show but no detector reports: allowed where a label's own remarks speak of them.
SCENE_WORDS = (
    "하늘", "바다", "해변", "바닷가", "파도", "호수", "강가", "숲", "들판", "꽃밭",
    "노을", "석양", "야경", "무지개", "별빛", "달빛", "햇빛",
)  # fmt: skip
_FIGURATIVE = re.compile(r"\s?(?:같은|같이|처럼|만큼)")
_GLUE_PARTICLES = ("이", "가", "은", "는", "을", "를", "도", "와", "과")
_SHORTEST_GLUED = 10  # characters: shorter tails ("너무 귀여워요") are what a label's own remark says
_NOUN_TAGS = ("NNG", "NNP")
# What is said of clothing someone has on ("모자가 잘 어울려요", "옷차림에 포인트가 돼요").
_WORN = re.compile(r"어울[려리]|옷차림|코디|패션|멋을 낸|소화한|신경 쓴")
_WEARER_KINDS = ("people", "body")


@lru_cache(maxsize=16384)
def compiled(pattern: str) -> re.Pattern:
    """``re.compile`` remembered for every pattern: the checks build one per label, more than
    ``re``'s own cache of 512 holds, and compiling them again was most of their time."""
    return re.compile(pattern)


_HANGUL_RUN = re.compile(r"[가-힣]+")


@lru_cache(maxsize=1)
def _kinds() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """(Korean label → kind, kind → its category words)."""
    data = json.loads(KINDS_FILE.read_text(encoding="utf-8"))
    ko = {c["en"]: c["ko"] for c in vocab.oiv7_classes()}
    kind_of = {ko[en]: kind for en, kind in data["classes"].items()}
    return kind_of, {kind: tuple(spec["words"]) for kind, spec in data["kinds"].items()}


def kind_of(label: str) -> str | None:
    """The kind of thing a label names (people, animals, food_drink, vehicles, …), or None."""
    return _kinds()[0].get(label)


@lru_cache(maxsize=1)
def _names() -> frozenset[str]:
    return frozenset(c["ko"] for c in vocab.oiv7_classes())


def _mask(text: str, labels: Sequence[str]) -> str:
    """``text`` with every mention of a label blanked, longest first (와인 잔 before 와인)."""
    for label in sorted(set(labels), key=len, reverse=True):
        text = text.replace(label, " " * len(label))
    return text


def _noun_phrases(text: str) -> set[str]:
    """Nouns of ``text`` and runs of up to three neighbouring nouns, joined as written (와인 잔, 커피잔)."""
    from utils.text.style_check import kiwi

    tokens = [t for t in kiwi().tokenize(text) if t.tag in _NOUN_TAGS]
    found = {t.form for t in tokens}
    for i in range(len(tokens)):
        phrase, end = tokens[i].form, tokens[i].start + tokens[i].len
        for nxt in tokens[i + 1 : i + 3]:
            gap = text[end : nxt.start]
            if gap.strip():
                break
            phrase, end = phrase + gap + nxt.form, nxt.start + nxt.len
            found.add(phrase)
    return found


def invented_objects(comment: str, labels: Sequence[str]) -> list[str]:
    """Names of the label vocabulary in ``comment`` that ``labels`` do not give."""
    given = set(labels)
    allowed = {w for label in given for w in _kinds()[1].get(kind_of(label) or "", ())}
    masked = _mask(comment, given)
    found = _noun_phrases(masked) & _names()
    # names of several words whose middle word is no noun ("차 한 잔"): found as written
    found |= set(_several_word_names().findall(masked))
    # a longer name holding a label as a word (와인 잔 for 와인, 곰 인형 for 곰) is another object
    found |= {
        name
        for label in given
        for name in _longer_names().get(label, ())
        if compiled(rf"(?<![가-힣]){re.escape(name)}").search(comment)
    }
    return sorted(n for n in found if n not in given and n not in allowed and n not in AMBIGUOUS_NAMES)


@lru_cache(maxsize=1)
def _several_word_names() -> re.Pattern:
    """One pattern for every name of several words, longest first."""
    names = sorted((n for n in _names() if " " in n), key=len, reverse=True)
    return re.compile(rf"(?<![가-힣])(?:{'|'.join(map(re.escape, names))})")


@lru_cache(maxsize=1)
def _longer_names() -> dict[str, tuple[str, ...]]:
    """Name → the longer names of the vocabulary that hold it as a word (와인 → 와인 잔)."""
    names = _names()
    return {
        short: tuple(n for n in names if n != short and _as_word(short, n))
        for short in names
        if any(short in n and n != short for n in names)
    }


def _as_word(word: str, text: str) -> bool:
    return compiled(rf"(?<![가-힣]){re.escape(word)}(?![가-힣])").search(text) is not None


def unfounded_moods(comment: str, labels: Sequence[str]) -> list[str]:
    """Emotions the comment shows (a smile, tears, anger, fright, or their face emojis) that the
    labels do not give."""
    given = set(labels)
    return [
        emotion
        for emotion, words in MOOD_WORDS.items()
        if emotion not in given and (words.search(comment) or MOOD_EMOJIS[emotion] & set(comment))
    ]


@lru_cache(maxsize=1)
def _object_emojis() -> dict[str, frozenset[str]]:
    """Emoji → the Korean labels it depicts (``objects`` of emojis.json); emojis also used for
    moods, tones or nothing in particular (✨, 🙂, 📸, 🌿) depict no object."""
    data = json.loads(EMOJIS_FILE.read_text(encoding="utf-8"))
    tones = json.loads(STYLES_FILE.read_text(encoding="utf-8"))
    general = {e for emojis in data["emotions"].values() for e in emojis}
    general |= {e for tone in tones.values() if isinstance(tone, dict) for e in tone.get("emojis", ())}
    ko = {c["en"]: c["ko"] for c in vocab.oiv7_classes()}
    table: dict[str, set[str]] = {}
    for en, emojis in data["objects"].items():
        for emoji in emojis:
            if emoji not in general and en in ko:
                table.setdefault(emoji, set()).add(ko[en])
    return {emoji: frozenset(names) for emoji, names in table.items()}


@lru_cache(maxsize=1)
def _kind_emoji_unfit() -> frozenset[str]:
    data = json.loads(EMOJIS_FILE.read_text(encoding="utf-8"))
    return frozenset(en for classes in data["kinds_unfit"].values() for en in classes)


def fits_kind_emoji(label: str) -> bool:
    """Whether its kind's end emoji suits ``label`` (``kinds_unfit`` of emojis.json: no paw 🐾
    for an eagle, round 12)."""
    return english_key(label) not in _kind_emoji_unfit()


@lru_cache(maxsize=1)
def _allowed_emojis() -> dict[str, frozenset[str]]:
    """Korean label → the emojis that go with it without depicting it: its ``loose`` ones (🍽️ for
    a table) and its kind's end emojis where they suit it (🐾 for a dog or a lion, not a bird)."""
    data = json.loads(EMOJIS_FILE.read_text(encoding="utf-8"))
    unfit = _kind_emoji_unfit()
    return {
        c["ko"]: frozenset(
            data["loose"].get(c["en"], [])
            + ([] if c["en"] in unfit else data["kinds"].get(kind_of(c["ko"]) or "", []))
        )
        for c in vocab.oiv7_classes()
    }


def foreign_emojis(comment: str, labels: Sequence[str]) -> list[str]:
    """Emojis that depict objects, none of which the labels give (💄 under a motorcycle, 🐶
    under a cat), unless one of the labels goes with it (🍽️ under a table)."""
    given = set(labels)
    allowed = frozenset().union(*(_allowed_emojis().get(label, frozenset()) for label in given))
    return [
        emoji
        for emoji, names in _object_emojis().items()
        if emoji in comment and not names & given and emoji not in allowed
    ]


def worn_without_wearer(comment: str, labels: Sequence[str]) -> list[str]:
    """Clothing said to suit someone, or to be worn, when no label gives a person (a face, a
    person or a body part): "모자가 정말 잘 어울려요" for a hat on a chair (round 12)."""
    emotions, objects = vocab.split_labels(list(labels))
    if emotions or any(kind_of(o) in _WEARER_KINDS for o in objects):
        return []
    from utils.text.dataset import split_sentences

    worn = [s for s in split_sentences(comment) if _WORN.search(_mask(s, objects))]  # not 패션 소품 itself
    return [o for o in dict.fromkeys(objects) if kind_of(o) == "clothing" and any(o in s for s in worn)]


def label_fragments(comment: str, labels: Sequence[str]) -> list[str]:
    """Labels left as a sentence of their own, with an emoji glued on, or run into a label with
    no space between ("사자가사자가 있어서", "고양이강아지가"; a label that holds both, 바다사자,
    is one name)."""
    from utils.text.dataset import LABEL_PARTICLES, split_sentences, strip_emojis

    out = []
    particles = "|".join(sorted(LABEL_PARTICLES, key=len, reverse=True))
    masked = _mask(comment, [c for c in labels if any(o != c and o in c for o in labels)])
    names = "|".join(re.escape(label) for label in sorted(set(labels), key=len, reverse=True))
    for first in dict.fromkeys(labels):  # once each, however many labels it runs into
        if compiled(rf"(?<![가-힣]){re.escape(first)}(?:{particles})?(?:{names})").search(masked):
            out.append(first)
    for label in dict.fromkeys(labels):
        if label in out:
            continue
        for sentence in split_sentences(comment):
            words = _HANGUL_RUN.findall(strip_emojis(sentence))
            if " ".join(words) in {label} | {label + p for p in LABEL_PARTICLES}:
                out.append(label)
                break
        else:
            if compiled(rf"(?<![가-힣]){re.escape(label)}[\U0001f300-\U0001faff\u2600-\u27bf]").search(
                comment
            ):
                out.append(label)
    return out


def _strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    values = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    return [text for value in values for text in _strings(value)]


@lru_cache(maxsize=1)
def _scene_labels() -> dict[str, frozenset[str]]:
    """Scene word → the Korean labels whose own remarks (``data/phrases/objects.json``) speak of it."""
    from utils.text.phrases import load_bank

    ko = {c["en"]: c["ko"] for c in vocab.oiv7_classes()}
    remarks = {ko[en]: " ".join(_strings(bank)) for en, bank in load_bank("objects").items() if en in ko}
    return {w: frozenset(label for label, text in remarks.items() if w in text) for w in SCENE_WORDS}


def unfounded_scenes(comment: str, labels: Sequence[str]) -> list[str]:
    """Scene words (sky, sea, forest, …) in ``comment`` that no label's own remarks speak of,
    leaving out figurative uses ("하늘 같은", "햇빛처럼")."""
    given = set(labels)
    text = _mask(comment, given)  # 바다사자 is a label, not the sea
    out = []
    for word, allowed in _scene_labels().items():
        literal = [
            m
            for m in compiled(rf"(?<![가-힣]){word}(?!색)").finditer(text)
            if not _FIGURATIVE.match(text, m.end())
        ]
        if literal and not allowed & given:
            out.append(word)
    return out


@lru_cache(maxsize=1)
def stock_phrases() -> frozenset[str]:
    """Openers, closers, tone phrases and the remarks that name nothing, polite and casual,
    without their final punctuation."""
    from utils.text.phrases import load_bank, to_casual

    found = _strings(load_bank("openers")) + _strings(load_bank("closers")) + _strings(load_bank("styles"))
    banks = _strings(load_bank("generic")) + _strings(load_bank("kinds")) + _strings(load_bank("objects"))
    found += [t for t in banks if "{" not in t]
    found += [casual for t in found if (casual := to_casual(t))]
    return frozenset(t.rstrip(".!?~ ") for t in found)


def glued_labels(comment: str, labels: Sequence[str]) -> list[str]:
    """Labels that start a sentence whose rest is the end of a stock phrase that names nothing, or
    (with no particle) a whole one: the label guide pushed a label in front of an opener or a closer."""
    from utils.text.dataset import split_sentences, strip_emojis

    out = []
    for sentence in split_sentences(comment):
        text = strip_emojis(sentence).strip()
        for label in labels:
            for particle in _GLUE_PARTICLES:
                head = f"{label}{particle} "
                rest = text[len(head) :].rstrip(".!?~ ") if text.startswith(head) else ""
                if len(rest) >= _SHORTEST_GLUED and any(p.endswith(rest) for p in stock_phrases()):
                    out.append(label)
            # with no particle, only before a whole stock phrase ("택시 이런 순간이 자주 찾아오길
            # 바라요"): "드럼 소리가 들리는 것 같아요" is the drum's own sound
            if text.startswith(f"{label} ") and text[len(label) + 1 :].rstrip(".!?~ ") in stock_phrases():
                out.append(label)
    return list(dict.fromkeys(out))


_PREDICATE_TAGS = ("VA", "VV", "VA-I", "VV-I", "VX", "XR")


def missing_particles(comment: str, labels: Sequence[str]) -> list[str]:
    """Labels that a predicate or a particle follows as a word of its own: "와인 근사한 저녁",
    "사람 시원해 보여요", "와인 가 눈에 띄고" (the label guide pushed the label in where the model
    meant another word). "빵 굽기" (a noun made of a verb) and "X 같은" are Korean; none of the
    data's 22,600 rows has the rest."""
    from utils.text.style_check import kiwi

    tokens = kiwi().tokenize(comment)
    starting_at: dict[int, int] = {}
    for i, t in enumerate(tokens):
        starting_at.setdefault(t.start, i)  # a contracted syllable (가 + 아) starts two morphemes
    out = []
    for label in dict.fromkeys(labels):
        for found in compiled(rf"(?<![가-힣]){re.escape(label)} ").finditer(comment):
            i = starting_at.get(found.end())  # the next word's first morpheme
            if i is None or tokens[i].form == "같":
                continue
            nominal = i + 1 < len(tokens) and tokens[i + 1].tag == "ETN"
            if not nominal and (tokens[i].tag in _PREDICATE_TAGS or tokens[i].tag.startswith("J")):
                out.append(f"{label} {comment[tokens[i].start : tokens[i].start + tokens[i].len]}")
    return list(dict.fromkeys(out))


@lru_cache(maxsize=1)
def _containers() -> dict[str, frozenset[str]]:
    spec = json.loads(PHRASE_KINDS_FILE.read_text(encoding="utf-8"))["containers"]
    return {part: frozenset(spec[part]) for part in ("cups", "dishes", "drinks")}


def english_key(label: str) -> str | None:
    """The OIV7 class name of a Korean label, or None for a label outside the vocabulary."""
    try:
        return vocab.en_name(label)
    except vocab.UnknownLabelError:
        return None


def is_drink(label: str) -> bool:
    """Whether ``label`` names a drink (커피, 주스, 와인 …)."""
    return english_key(label) in _containers()["drinks"]


def can_hold(container: str, content: str) -> bool:
    """Whether the label ``container`` can hold the label ``content``: a cup or a glass a drink,
    a dish a food that is no drink; anything else (a saucer, a fork) nothing."""
    english = english_key(container)
    if english in _containers()["cups"]:
        return is_drink(content)
    return english in _containers()["dishes"] and kind_of(content) == "food_drink" and not is_drink(content)


@lru_cache(maxsize=1)
def _subjects() -> tuple[int, dict[str, int], frozenset[str]]:
    spec = json.loads(PHRASE_KINDS_FILE.read_text(encoding="utf-8"))["subjects"]
    return spec["most"], {kind: i for i, kind in enumerate(spec["kind_order"])}, frozenset(spec["background"])


@lru_cache(maxsize=1)
def hypernym_table() -> dict[str, frozenset[str] | str]:
    """kinds.json ``hypernyms``: per kind name (Fruit, Bird, Food …), the classes it covers, or
    the kind all of whose classes it covers."""
    spec = json.loads(PHRASE_KINDS_FILE.read_text(encoding="utf-8"))["hypernyms"]
    return {en: v if isinstance(v, str) else frozenset(v) for en, v in spec.items() if en != "about"}


def covers(name: str, label: str, kind: str | None = None) -> bool:
    """Whether the kind name ``name`` (과일, 새, 음식) covers ``label`` (``kind``: the label's kind,
    when the caller reads kinds otherwise)."""
    scope = hypernym_table().get(english_key(name) or "")
    if scope is None or name == label:
        return False
    if isinstance(scope, str):
        return (kind if kind is not None else kind_of(label)) == scope
    return english_key(label) in scope


def _beside_their_own(found: list[str]) -> set[str]:
    """The labels a person would not name beside another one they stand for: a kind name beside
    its own kind's things (과일 beside 레몬), a cup or a dish beside what it holds (커피잔 beside
    커피)."""
    return {
        label
        for label in found
        if any(covers(label, other) or can_hold(label, other) for other in found if other != label)
    }


def main_objects(objects: Sequence[str]) -> list[str]:
    """The object labels a comment must name, in the order they were given: the subjects, not
    the furniture, tableware, parts or body parts beside them (all labels when every one is of
    those), nor a kind name or a cup beside the thing it stands for or holds ("레몬과 오렌지"
    for 과일, 레몬, 오렌지; "커피" for 커피잔, 커피), at most ``most`` of them by kind and then class
    name (``subjects`` of ``data/phrases/kinds.json``). The same set in any order gives the same
    subjects."""
    most, kind_rank, background = _subjects()
    found = list(dict.fromkeys(objects))
    standing = _beside_their_own(found)
    subjects = [o for o in found if english_key(o) not in background and o not in standing] or found
    ranked = sorted(
        subjects, key=lambda o: (kind_rank.get(kind_of(o) or "", len(kind_rank)), english_key(o) or o)
    )
    kept: set[str] = set()
    slots, has_people = 0, False
    for label in ranked:
        person = kind_of(label) == "people"
        if person and has_people:  # people are one subject: one 모습 or 두 분 names them all
            kept.add(label)
        elif slots < most:
            kept.add(label)
            slots, has_people = slots + 1, has_people or person
    return [o for o in subjects if o in kept]


def odd_containers(comment: str, labels: Sequence[str]) -> list[str]:
    """ "A에 담긴 B" in ``comment`` for labels A and B where A cannot hold B ("커피잔에 담긴 파스타")."""
    return [
        f"{a}에 담긴 {b}"
        for a in labels
        for b in labels
        if a != b and f"{a}에 담긴 {b}" in comment and not can_hold(a, b)
    ]


def grounding_problems(comment: str, labels: Sequence[str]) -> list[str]:
    """What ``validate_comment`` reports for these rules (``labels``: the parsed label names)."""
    _, objects = vocab.split_labels(list(labels))
    problems = []
    if invented := invented_objects(comment, labels):
        problems.append("object not in the labels: " + ", ".join(invented))
    if moods := unfounded_moods(comment, labels):
        problems.append("mood not in the labels: " + ", ".join(moods))
    if emojis := foreign_emojis(comment, labels):
        problems.append("emoji of another thing: " + " ".join(emojis))
    if fragments := label_fragments(comment, objects):
        problems.append("label left as a fragment: " + ", ".join(fragments))
    if bare := missing_particles(comment, objects):
        problems.append("label without its particle: " + ", ".join(bare))
    if scenes := unfounded_scenes(comment, labels):
        problems.append("scene not in the labels: " + ", ".join(scenes))
    if glued := glued_labels(comment, objects):
        problems.append("label glued to a stock phrase: " + ", ".join(glued))
    if worn := worn_without_wearer(comment, labels):
        problems.append("worn with no one to wear it: " + ", ".join(worn))
    if held := odd_containers(comment, objects):
        problems.append("nothing of the kind goes in it: " + ", ".join(held))
    return problems
