"""The phrase banks in ``data/phrases`` and their casual forms.

Polite phrase → casual phrase (존댓말 → 반말) goes by an explicit rule table. Most bank phrases
end in 해요체 (좋아요, 예뻐요, 같아요), whose casual form is the 해체 without 요; the endings
where that is wrong (이에요 → 이야, 하세요 → 해, 네요 → 네, 습니다 → 다 ...) have their own
rules. A phrase the table cannot convert safely (honorific 시, humble 드리다, an ending not in
the table) gives None and stays out of the casual bank, so no half-polite sentence is ever
composed. Every converted phrase is checked by the style checker in the tests.
"""

from __future__ import annotations

import json
import re
from functools import cache

from utils.paths import PHRASES_DIR

# Whole words whose casual form is another word (applied before the endings).
WORD_SWAPS = (
    (re.compile(r"(?<![가-힣])저(?=도|까지|는|를|한테|의|만)"), "나"),
    (re.compile(r"(?<![가-힣])제가"), "내가"),
    (re.compile(r"(?<![가-힣])저희"), "우리"),
    (re.compile(r"(?<![가-힣])제(?= )"), "내"),
    (re.compile(r"감사해요$|감사합니다$"), "고마워"),
    (re.compile(r"(?<![가-힣])당신(?= 편)"), "네"),
)

# Honorific or humble forms with no safe mechanical casual form: the phrase is left out.
# The honorific 시 also hides in adnominal forms before a noun: 찍으신 게, 화나신 것, 해내실 거.
REFUSED = re.compile(
    r"셨|셔(?=서|도|야)|으시|으[신실]|(?<=[나기내하보주오가])[신실](?= )"
    r"|시(?=[길니고면며는던네죠지겠])|드려|드릴|드리|드립|께서|(?<![가-힣])분(?=[이을은께들])"
)

# Imperatives and wishes in -세요, written out: the casual imperative is the 해체 form.
IMPERATIVES = {
    "하세요": "해",
    "보내세요": "보내",
    "힘내세요": "힘내",
    "내세요": "내",
    "드세요": "먹어",
    "주세요": "줘",
    "가세요": "가",
    "오세요": "와",
    "쉬세요": "쉬어",
    "꾸세요": "꿔",
    "마세요": "마",
    "빛나세요": "빛나",
    "녹이세요": "녹여",
    "만드세요": "만들어",
    "간직하세요": "간직해",
    "푸세요": "풀어",
    "버리세요": "버려",
    "남기세요": "남겨",
    "보세요": "봐",
    "놀라세요": "놀라",
    "돌리세요": "돌려",
    "하루 되세요": "하루 보내",
    "저녁 되세요": "저녁 보내",
}

# Sentence-final endings, tried in order (the first that matches wins).
ENDINGS = (
    (re.compile(r"아니에요$"), "아니야"),
    (re.compile(r"이에요$"), "이야"),
    (re.compile(r"(?<=[가-힣])예요$"), "야"),
    (re.compile(r"군요$"), "구나"),
    (re.compile(r"네요$"), "네"),
    (re.compile(r"죠$"), "지"),
    (re.compile(r"(게|걸|거든|잖아|는데|은데|ㄴ데|고|지)요$"), r"\1"),
    (re.compile(r"입니다$"), "이다"),
    (re.compile(r"갑니다$"), "간다"),
    (re.compile(r"됩니다$"), "된다"),
    (re.compile(r"집니다$"), "진다"),
    (re.compile(r"(좋|있|없|많|같)습니다$"), r"\1다"),
)


def _has_final_consonant(syllable: str) -> bool:
    code = ord(syllable) - 0xAC00
    return 0 <= code < 11172 and code % 28 != 0


def to_casual(phrase: str) -> str | None:
    """The 반말 form of a polite bank phrase, or None when the rule table has no safe rule."""
    text = phrase.strip()
    for pattern, replacement in WORD_SWAPS:
        text = pattern.sub(replacement, text)
    if REFUSED.search(text):
        return None
    for polite, casual in sorted(IMPERATIVES.items(), key=lambda item: -len(item[0])):
        if text.endswith(polite):
            return text[: -len(polite)] + casual
    if text.endswith("세요"):
        return None
    for pattern, replacement in ENDINGS:
        if pattern.search(text):
            return pattern.sub(replacement, text)
    # 해요체 → 해체: 좋아요 → 좋아, 예뻐요 → 예뻐, 해 줘요 → 해 줘 (the syllable before 요 is open).
    if text.endswith("요") and len(text) > 1 and not _has_final_consonant(text[-2]):
        casual = text[:-1]
        return None if casual.endswith(("까", "나")) else casual
    if text.endswith("니다") or text.endswith("요"):
        return None
    return text  # no polite ending (a noun phrase, an exclamation): the same in both levels


@cache
def load_bank(name: str) -> dict:
    """One phrase bank file, ``data/phrases/<name>.json``, read once."""
    path = PHRASES_DIR / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"phrase bank not found: {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def casual_list(phrases: list[str]) -> list[str]:
    """The casual forms of the phrases that have one, in order."""
    return [casual for phrase in phrases if (casual := to_casual(phrase)) is not None]
