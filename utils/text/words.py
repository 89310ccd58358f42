"""Content words of a short comment and the cue words of its moods, shared by the offline
composer (which redraws a part that repeats a word of the parts already chosen) and the
composer review's detectors (which count the comments that still do).

kiwipiepy does the analysis; each text's words are cached, since the composer checks the same
bank phrases again and again.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

# Content morphemes whose repetition a reader notices, less the short ones every Korean
# sentence repeats (있다, 하다, 보다, 잘, 더).
CONTENT_TAGS = ("NNG", "NNP", "VA", "VV", "MAG", "XR")
COMMON_STEMS = frozenset(
    [
        "있",
        "하",
        "되",
        "보",
        "보이",
        "같",
        "주",
        "이",
        "잘",
        "더",
        "다",
        "또",
        "수",
        "것",
        "때",
        "게",
        "없",
        "나",
        "들",
        "좋",
    ]
)
# Cue words of the two sub-moods that the 공포 and 분노 banks mix: amusement at the face, and
# concern for the person. Both in one comment read as laughing at someone while consoling them.
AMUSED_CUES = ("귀여", "귀엽", "웃음이 번", "리액션", "예술", "배우급", "만화", "사랑스러", "정겨", "재미")
CONCERNED_CUES = ("걱정", "진정", "달래", "푸세요", "풀어", "풀리", "위로", "토닥", "다독", "안심", "괜찮아")
# Concern the review found without those cues (모든 게 무사하길 바라요, 천천히 쉬게 해 주세요).
CONCERNED_CUES += ("무사", "쉬게 해", "숨 고르")


@lru_cache(maxsize=200_000)
def _content_words(text: str) -> tuple[str, ...]:
    from utils.text.style_check import kiwi  # kiwipiepy loads in seconds: only when a check needs it

    words: list[str] = []
    last_end = -1
    for token in kiwi().tokenize(text):
        tag = token.tag.split("-")[0]  # VA-I (irregular 즐거운) is still VA
        word = token.lemma if tag in ("VA", "VV") else token.form
        # A reduplicated word (토닥토닥, 반짝반짝) is one word, not a repetition.
        if tag in CONTENT_TAGS and not (words and words[-1] == word and token.start == last_end):
            words.append(word)
        last_end = token.end
    return tuple(words)


def content_words(text: str) -> list[str]:
    """Nouns, verb and adjective stems (as lemmas) and adverbs of ``text``, in order."""
    return list(_content_words(text))


def noticeable_words(text: str) -> frozenset[str]:
    """The content words of ``text`` whose repetition a reader would notice (common stems out)."""
    return frozenset(w for w in _content_words(text) if w.removesuffix("다") not in COMMON_STEMS)


def repeated_words(text: str) -> list[str]:
    """Content words (noun, verb or adjective stem, adverb) that ``text`` uses more than once."""
    counts = Counter(w for w in _content_words(text) if w.removesuffix("다") not in COMMON_STEMS)
    return sorted(w for w, c in counts.items() if c > 1)


@lru_cache(maxsize=200_000)
def predicates(text: str) -> tuple[str, ...]:
    """The verbs and adjectives of ``text`` in order, as lemmas (멋지다, 살리다), a derived one as
    its root and suffix (여유롭, 평온하: 여유로워 and 여유로운 are one word); auxiliaries left out."""
    from utils.text.style_check import kiwi

    tokens = kiwi().tokenize(text)
    out = []
    for token, after in zip(tokens, [*tokens[1:], None], strict=True):
        tag = token.tag.split("-")[0]
        if tag in ("VA", "VV"):
            out.append(token.lemma)
        elif (
            tag in ("NNG", "XR")
            and after
            and after.tag.split("-")[0] in ("XSA", "XSV")
            and after.start == token.end
        ):
            out.append(token.form + after.form)
    return tuple(out)


def repeated_predicates(text: str) -> list[str]:
    """The verbs and adjectives (common stems out) that ``text`` says more than once:
    "분위기를 살려 줘요 … 풍경을 살려 줘요", "여유로워 보여요 … 여유로워요" read as a copied phrase
    (round 10's raters). A noun may come again ("모습" in two remarks reads naturally)."""
    counts = Counter(w for w in predicates(text) if w.removesuffix("다") not in COMMON_STEMS)
    return sorted(w for w, c in counts.items() if c > 1)


def mixed_submoods(first: str, second: str) -> bool:
    """One part amused at the face and the other concerned for the person."""
    amused = [any(c in t for c in AMUSED_CUES) for t in (first, second)]
    concerned = [any(c in t for c in CONCERNED_CUES) for t in (first, second)]
    return (amused[0] and concerned[1]) or (concerned[0] and amused[1])
