"""Does a comment keep its style? Speech level from the sentence-final endings (kiwipiepy's EF
tags, and an EC or a 요 that closes a sentence), tone from the phrase bank a sentence came from,
else from a small lexicon. ``utils.lm.metrics`` scores sets of comments with these functions and
``utils.text.dataset.validate_comment(..., style=...)`` rejects a comment that breaks its style.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from utils.text.phrases import casual_list, load_bank
from utils.text.styles import DEFAULT_STYLE, LEVELS, TONES, Style, parse_style

POLITE, CASUAL = "존댓말", "반말"
MIXED = "섞임"  # sentences of both levels in one comment
# Tokens that close a sentence: . ! ? and the like, ellipses, tildes, symbols and emojis.
_BOUNDARY_TAGS = {"SF", "SE", "SO", "SW", "W_EMOJI"}
_FORMAL_ENDINGS = ("니다", "니까", "십시오", "시오", "ᆸ시다")
MIN_ORIGIN_CHARS = 6  # bank phrases shorter than this are too common to tell a tone by
# One word is not a tone: object remarks say "은은한 빛" or "차분하게" in a warm comment.
MIN_LEXICON_HITS = 2


@dataclass(frozen=True)
class Ending:
    """One sentence-final ending: the sentence it closes and its speech level."""

    sentence: str
    form: str
    level: str


@lru_cache(maxsize=1)
def kiwi():
    from kiwipiepy import Kiwi

    return Kiwi()


def _level_of(form: str) -> str:
    return POLITE if form.endswith("요") or form.endswith(_FORMAL_ENDINGS) else CASUAL


def _surface_level(sentence: str) -> str | None:
    """A sentence kiwi found no ending in (a noun phrase, a misparse): its written ending."""
    hangul = "".join(ch for ch in sentence if "가" <= ch <= "힣")
    return POLITE if hangul.endswith(("요", "니다", "니까")) else None


def sentence_endings(text: str) -> list[Ending]:
    """Every sentence-final ending of ``text`` in order. An EF ends a sentence wherever it is;
    an EC ends one when punctuation, an emoji or the end of the text follows (좋아, 예뻐);
    a 요 after it makes it polite (좋거든 + 요)."""
    tokens = kiwi().tokenize(text)
    endings: list[Ending] = []
    start = 0  # where the current sentence starts in ``text``
    found_in_sentence = False
    skip = False  # the 요 just counted with the ending before it
    for i, token in enumerate(tokens):
        if skip:
            skip = False
            continue
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        closes = following is None or following.tag in _BOUNDARY_TAGS
        polite_particle = following is not None and following.tag == "JX" and following.form == "요"
        is_ending = token.tag == "EF" or (token.tag == "EC" and (closes or polite_particle))
        if is_ending or (token.tag == "JX" and token.form == "요" and closes):
            level = POLITE if polite_particle else _level_of(token.form)
            end = following.end if polite_particle else token.end
            endings.append(Ending(text[start:end].strip(), token.form, level))
            start, found_in_sentence, skip = end, True, polite_particle
        elif token.tag in _BOUNDARY_TAGS:
            sentence = text[start : token.start].strip()
            if not found_in_sentence and sentence and (level := _surface_level(sentence)):
                endings.append(Ending(sentence, sentence[-2:], level))
            start, found_in_sentence = token.end, False
    tail = text[start:].strip()
    if not found_in_sentence and tail and (level := _surface_level(tail)):
        endings.append(Ending(tail, tail[-2:], level))
    return endings


def speech_level(text: str) -> str | None:
    """존댓말, 반말, 섞임 (both in one comment), or None when no sentence has a telling ending."""
    levels = {ending.level for ending in sentence_endings(text)}
    if len(levels) > 1:
        return MIXED
    return levels.pop() if levels else None


@lru_cache(maxsize=1)
def tone_phrases() -> dict[str, list[str]]:
    """Per tone, the opener and closer phrases that mark it, in both speech levels."""
    styled = load_bank("styles")
    warm = [p for name in ("openers", "closers") for ps in load_bank(name).values() for p in ps]
    phrases = {"다정한": warm + casual_list(warm)}
    for tone in TONES:
        if tone in styled:
            parts = ("openers", "closers", "soft_closers")
            phrases[tone] = [
                p for level in LEVELS for part in parts for p in styled[tone][level].get(part, [])
            ]
    return {tone: [p for p in ps if len(p) >= MIN_ORIGIN_CHARS] for tone, ps in phrases.items()}


def tone_scores(text: str) -> dict[str, int]:
    """Lexicon hits per tone (words and emojis each tone uses)."""
    lexicon = load_bank("styles")["lexicon"]
    return {tone: sum(text.count(word) for word in words) for tone, words in lexicon.items()}


def comment_tone(text: str) -> str | None:
    """The tone a comment reads as: the tone whose bank phrases it contains (the composer's
    comments), else the tone with the most lexicon hits (two at least), else None."""
    origin = {tone: sum(p in text for p in ps) for tone, ps in tone_phrases().items()}
    # A warm (default) phrase beside a phrase of another tone is that tone's comment: the composer
    # pairs a warm opener for a sad face with a playful closer, for instance.
    marked = {tone: hits for tone, hits in origin.items() if hits and tone != DEFAULT_STYLE.tone}
    if marked or origin[DEFAULT_STYLE.tone]:
        counts = marked or {DEFAULT_STYLE.tone: origin[DEFAULT_STYLE.tone]}
        best = max(counts.values())
        winners = [tone for tone, hits in counts.items() if hits == best]
        return winners[0] if len(winners) == 1 else None
    scores = tone_scores(text)
    best = max(scores.values())
    winners = [tone for tone, hits in scores.items() if hits == best]
    return winners[0] if best >= MIN_LEXICON_HITS and len(winners) == 1 else None


def style_problems(comment: str, style: str | Style) -> list[str]:
    """What breaks ``style`` in a comment: sentences of the other speech level and, when a tone
    other than the default is asked, a comment that reads as another tone or shows none. The
    default tone (warm) is not checked: a warm comment may well cheer someone up."""
    style = parse_style(style)
    problems = []
    wrong = [e for e in sentence_endings(comment) if e.level != style.level]
    if wrong:
        shown = "; ".join(f"{e.sentence!r}" for e in wrong[:2])
        problems.append(
            f"speech level: expected {style.level} ({LEVELS[style.level]}), found {wrong[0].level} in {shown}"
        )
    if style.tone == DEFAULT_STYLE.tone:
        return problems  # the warm default is the unmarked voice: it may cheer or soothe a little
    tone = comment_tone(comment)
    expected = f"tone: expected {style.tone} ({TONES[style.tone]})"
    if tone is None:
        problems.append(f"{expected}, but nothing in it has that tone")
    elif tone != style.tone:
        problems.append(f"{expected}, reads as {tone} ({TONES[tone]})")
    return problems
