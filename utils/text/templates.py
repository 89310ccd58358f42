"""Is a sentence one the phrase banks make for these labels? A text model that learnt only from
the offline composer (``known_phrases_only``) has no source for any other, so one it writes is
spliced: a flower's remark said of a bee ("벌이 향기로울 것 같아요"), a person's remark about food
said of a car ("차를 앞에 둔 모습이 정겨워요"), a remark cut short ("드럼이 우아하게 해요"). The
blind raters read those as nonsense (``models/review/round12``).

A sentence that names a label is compared with the banks' remarks as skeletons: each label with
its particle becomes one mark, and a run of marks (a list, "테이블 위 와인") one mark. The remarks a
comment may use are those of its labels' classes and kinds, the generic ones, and a person's
remarks about a thing of a kind beside them, in every style. A sad, angry or startled face must
also get an opener or a closer for that feeling: the composer's comments always do."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache
from itertools import combinations

from utils import labels as vocab
from utils.text.composer import NO_EMOTION, fill, remark_kind, style_banks
from utils.text.dataset import split_sentences, strip_emojis
from utils.text.grounding import english_key, stock_phrases
from utils.text.styles import all_styles

_MARK = "§"
_STAND_IN = "가나다"  # a noun no bank phrase holds, for filling the templates
# A particle after a label, by its one form (이 for 이/가, 로 for 으로/로 …): a mark keeps it, so
# that "스카프가 멋스럽게 소화한 모습" is not "{obj:까지} 멋스럽게 소화한 모습" (round 13).
_PARTICLE_FORMS = {
    "이": "이", "가": "이", "을": "을", "를": "을", "은": "은", "는": "은", "와": "와", "과": "와",
    "랑": "랑", "이랑": "랑", "으로": "로", "로": "로", "이나": "나", "나": "나",
    "이에요": "이에요", "예요": "이에요", "이네요": "이네요", "네요": "이네요", "이야": "이야", "야": "이야",
    "이지": "이지", "지": "이지", "도": "도", "의": "의", "에": "에", "하고": "하고", "처럼": "처럼",
    "만": "만", "까지": "까지", "에서": "에서", "보다": "보다", "부터": "부터",
}  # fmt: skip
_PARTICLES = "|".join(sorted(_PARTICLE_FORMS, key=len, reverse=True))
# A mark followed by another (a list "A, B와 C", "테이블 위 와인"): only the last one stays.
_MARK_BEFORE_MARK = re.compile(rf"{_MARK}[가-힣]*(?:,\s*|\s+위\s+|\s+)(?={_MARK})")
_TOGETHER = "together:"


def _bare(sentence: str) -> str:
    """A sentence without emojis, their selectors and its final marks, as the banks write it."""
    return strip_emojis(sentence).strip(" \ufe0f\u200d").rstrip(".!?~… ")


def skeleton(sentence: str, labels: Iterable[str], *, inside_words: bool = False) -> str:
    """``sentence`` without emojis and final marks, each label a mark with its particle's one form,
    and a run of marks the last one ("레몬과 오렌지 같은 과일이 …" → "§ 같은 §이 …"). ``inside_words``:
    a label that starts a longer word is marked too (새소리, 입가)."""
    text = _bare(sentence)
    end = "" if inside_words else "(?![가-힣])"
    for label in sorted(set(labels), key=len, reverse=True):
        text = re.sub(
            rf"(?<![가-힣]){re.escape(label)}({_PARTICLES})?{end}",
            lambda m: _MARK + _PARTICLE_FORMS.get(m.group(1) or "", ""),
            text,
        )
    return re.sub(r"\s+", " ", _MARK_BEFORE_MARK.sub("", text)).strip()


def _skeletons(templates: Iterable[str]) -> frozenset[str]:
    filled = (
        fill(t, obj=_STAND_IN, a=_STAND_IN, b=_STAND_IN, items=[_STAND_IN, _STAND_IN]) for t in templates
    )
    return frozenset(skeleton(text, [_STAND_IN], inside_words=True) for text in filled)


@cache
def _bank_skeletons() -> tuple[
    dict[str, frozenset[str]], dict[str, frozenset[str]], dict[str, frozenset[str]], frozenset[str]
]:
    """(class → its own remarks, kind → its remarks, kind → a person's remarks with a thing of
    that kind, the generic remarks), as skeletons, over every style."""
    own: dict[str, set[str]] = {}
    kinds: dict[str, set[str]] = {}
    together: dict[str, set[str]] = {}
    generic: set[str] = set()
    for style in all_styles():
        banks = style_banks(style)
        for key, remarks in banks.objects.items():
            own.setdefault(key, set()).update(_skeletons(remarks))
        for kind, bank in banks.kinds.items():
            for part, remarks in bank.items():
                if part.startswith(_TOGETHER):
                    together.setdefault(part[len(_TOGETHER) :], set()).update(_skeletons(remarks))
                else:
                    kinds.setdefault(kind, set()).update(_skeletons(remarks))
        generic.update(_skeletons(r for remarks in banks.generic.values() for r in remarks))
    frozen = lambda table: {k: frozenset(v) for k, v in table.items()}  # noqa: E731
    return frozen(own), frozen(kinds), frozen(together), frozenset(generic)


def allowed_skeletons(named: Iterable[str], with_people: bool) -> frozenset[str]:
    """The skeletons of the remarks a sentence naming ``named`` may be: the generic ones and those
    of each label's class and kind, and with people in the photo (``with_people``) a person's
    remarks with a thing of that kind."""
    own, kinds, together, generic = _bank_skeletons()
    found = set(generic)
    for label in named:
        kind = remark_kind(label) or ""
        found |= own.get(english_key(label) or "", frozenset()) | kinds.get(kind, frozenset())
        if with_people:
            found |= together.get(kind, frozenset())
    return frozenset(found)


def _is_bank_remark(text: str, objects: Sequence[str], with_people: bool) -> bool:
    """Whether some of the labels ``text`` holds, marked (as words, or also inside words), give a
    skeleton of their own remarks: a label inside a phrase of the bank ("눈" in "자꾸 눈이 가네요")
    stays as written."""
    inside = [o for o in objects if o in text] or [o for o in objects if vocab.label_named(o, text)]
    for size in range(len(inside), 0, -1):
        for named in combinations(inside, size):
            allowed = allowed_skeletons(named, with_people)
            if any(skeleton(text, named, inside_words=w) in allowed for w in (False, True)):
                return True
    return False


def off_template_sentences(comment: str, labels: Sequence[str]) -> list[str]:
    """The sentences of ``comment`` that name one of its object labels and are none of the
    remarks the banks make for the labels they name."""
    _, objects = vocab.split_labels(list(labels))
    with_people = any(remark_kind(o) == "people" for o in objects)
    stock = stock_phrases()
    out = []
    for sentence in split_sentences(comment):
        text = _bare(sentence)
        if not text or text in stock or not any(vocab.label_named(o, text) for o in objects):
            continue
        if not _is_bank_remark(text, objects, with_people):
            out.append(text)
    return out


@cache
def _feeling_phrases(emotion: str) -> frozenset[str]:
    """The openers and closers for ``emotion`` in every style, without their final marks."""
    found: set[str] = set()
    for style in all_styles():
        banks = style_banks(style)
        found.update(banks.openers.get(emotion, []), banks.closers.get(emotion, []))
    return frozenset(p.rstrip(".!?~… ") for p in found)


def unaddressed_feelings(comment: str, labels: Sequence[str]) -> list[str]:
    """The sad, angry or startled faces of ``labels`` when no sentence of ``comment`` is an opener
    or a closer for one of them ("있는 그대로의 모습이 …" alone for 슬픔)."""
    emotions, _ = vocab.split_labels(list(labels))
    clouded = [e for e in emotions if e not in ("기쁨", NO_EMOTION)]
    if not clouded:
        return []
    said = {_bare(s) for s in split_sentences(comment)}
    return [] if any(said & _feeling_phrases(e) for e in clouded) else clouded
