"""Comment styles: a speech level (존댓말 polite / 반말 casual) and a tone (다정한 warm, 유쾌한
playful, 차분한 calm, 응원하는 cheering), their names, parsing, seeded style mixes, and the
prefix that tells a text model which style to write.

The model input of a styled row is ``"반말 · 유쾌한 | 기쁨, 안경"``. The default style
(존댓말 · 다정한, the comments of the dataset before styles existed) is written *without* a
prefix: the label string alone means the default style, so the shipped dataset and the models
trained on it keep working unchanged, and a prefixed default (``"존댓말 · 다정한 | ..."``) is
read as the same thing.
"""

from __future__ import annotations

import argparse
import random
import re
from dataclasses import dataclass

# Korean name → English name, in the order they are listed.
LEVELS = {"존댓말": "polite", "반말": "casual"}
TONES = {"다정한": "warm", "유쾌한": "playful", "차분한": "calm", "응원하는": "cheering"}
PREFIX_JOIN = " · "
PREFIX_END = " | "
_PREFIX = re.compile(rf"^\s*({'|'.join(LEVELS)})\s*·\s*({'|'.join(TONES)})\s*\|\s*")


@dataclass(frozen=True, order=True)
class Style:
    level: str = "존댓말"
    tone: str = "다정한"

    def __post_init__(self) -> None:
        if self.level not in LEVELS or self.tone not in TONES:
            raise ValueError(f"unknown style {self.level!r}, {self.tone!r}; {known_styles_text()}")

    @property
    def ko(self) -> str:
        """``반말 · 유쾌한``: how a person (and the model's prefix) reads it."""
        return f"{self.level}{PREFIX_JOIN}{self.tone}"

    @property
    def en(self) -> str:
        return f"{LEVELS[self.level]}, {TONES[self.tone]}"

    @property
    def key(self) -> str:
        """``반말,유쾌한``: what the command line takes and the data files store."""
        return f"{self.level},{self.tone}"

    @property
    def casual(self) -> bool:
        return self.level == "반말"

    def __str__(self) -> str:
        return f"{self.ko} ({self.en})"


DEFAULT_STYLE = Style()
_EN_TO_KO = {en: ko for ko, en in (LEVELS | TONES).items()}


def all_styles() -> list[Style]:
    """Every style, polite first, the default first of all."""
    return [Style(level, tone) for level in LEVELS for tone in TONES]


def known_styles_text() -> str:
    levels = ", ".join(f"{ko} ({en})" for ko, en in LEVELS.items())
    tones = ", ".join(f"{ko} ({en})" for ko, en in TONES.items())
    return f"known speech levels: {levels}; known tones: {tones}"


def parse_style(text: str | Style | None) -> Style:
    """``"반말,유쾌한"``, ``"casual, playful"``, ``"반말 · 유쾌한"``, ``"반말"`` or ``"유쾌한"`` alone
    (the other part keeps its default), a ``Style``, or None (the default style).

    An unknown name is a ``ValueError`` that lists the known ones."""
    if text is None:
        return DEFAULT_STYLE
    if isinstance(text, Style):
        return text
    parts = [p.strip() for p in re.split(r"[,·/]", text) if p.strip()]
    level, tone = DEFAULT_STYLE.level, DEFAULT_STYLE.tone
    seen_level = seen_tone = False
    for part in parts:
        name = _EN_TO_KO.get(part.lower(), part)
        if name in LEVELS and not seen_level:
            level, seen_level = name, True
        elif name in TONES and not seen_tone:
            tone, seen_tone = name, True
        else:
            raise ValueError(f"unknown style {text!r} (at {part!r}); {known_styles_text()}")
    if not parts:
        raise ValueError(f"empty style {text!r}; {known_styles_text()}")
    return Style(level, tone)


def model_input(labels: str, style: str | Style | None = None) -> str:
    """The text model's input: the label string, prefixed with the style unless it is the default.

    A label string that already carries a prefix keeps it when ``style`` is None; a given
    ``style`` replaces it."""
    bare, own = split_model_input(labels)
    chosen = own if style is None else parse_style(style)
    return bare if chosen == DEFAULT_STYLE else f"{chosen.ko}{PREFIX_END}{bare}"


def split_model_input(text: str) -> tuple[str, Style]:
    """``"반말 · 유쾌한 | 기쁨, 안경"`` → ``("기쁨, 안경", Style("반말", "유쾌한"))``; a label string
    without a prefix is the default style."""
    match = _PREFIX.match(text)
    if not match:
        return text, DEFAULT_STYLE
    return text[match.end() :], Style(match.group(1), match.group(2))


def parse_style_mix(text: str) -> dict[Style, float]:
    """``"all"`` (every style, equal shares) or ``"존댓말,다정한=2; 반말,유쾌한=1"``: styles and
    relative weights separated by ``;`` (a style without ``=`` weighs 1). Shares sum to 1."""
    if text.strip().lower() == "all":
        return {style: 1 / len(all_styles()) for style in all_styles()}
    weights: dict[Style, float] = {}
    for entry in filter(None, (e.strip() for e in text.split(";"))):
        name, _, weight = entry.partition("=")
        try:
            value = float(weight) if weight.strip() else 1.0
        except ValueError:
            raise ValueError(f"style mix {text!r}: weight {weight.strip()!r} is not a number") from None
        if value < 0:
            raise ValueError(f"style mix {text!r}: weight {value} is negative")
        style = parse_style(name)
        weights[style] = weights.get(style, 0.0) + value
    total = sum(weights.values())
    if not weights or total <= 0:
        raise ValueError(
            f"style mix {text!r} has no positive weight; write e.g. 'all' or '반말,유쾌한=1; 존댓말=1'"
        )
    return {style: value / total for style, value in weights.items()}


def assign_styles(count: int, mix: dict[Style, float], seed: int) -> list[Style]:
    """``count`` styles in the mix's proportions exactly (largest remainders), in a seeded order."""
    exact = {style: share * count for style, share in mix.items()}
    counts = {style: int(value) for style, value in exact.items()}
    by_remainder = sorted(mix, key=lambda s: (-(exact[s] - counts[s]), s))
    for style in by_remainder[: count - sum(counts.values())]:
        counts[style] += 1
    styles = [style for style in sorted(counts) for _ in range(counts[style])]
    random.Random(f"styles|{seed}").shuffle(styles)
    return styles


def add_style_args(parser: argparse.ArgumentParser, style_help: str) -> None:
    """``--style`` and ``--style-mix`` (one or the other), for the commands that take styles."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--style", help=style_help)
    group.add_argument(
        "--style-mix",
        metavar="MIX",
        help="styles in exact proportions, in an order seeded by --seed: 'all' (the eight, equal "
        "shares) or weights such as '존댓말,다정한=2; 반말,유쾌한=1'",
    )


def styles_for(count: int, style: str | None, mix: str | None, seed: int) -> list[Style]:
    """One style per item from ``--style`` (for all) or ``--style-mix`` (assigned); the default
    style when neither is given."""
    if mix:
        return assign_styles(count, parse_style_mix(mix), seed=seed)
    return [parse_style(style)] * count


def style_list_text() -> str:
    """The ``--list-styles`` answer: one style a line, Korean and English, the default marked."""
    lines = []
    for style in all_styles():
        mark = "  (기본 default)" if style == DEFAULT_STYLE else ""
        lines.append(f"{style.key:<12} {style.ko} — {style.en}{mark}")
    return "\n".join(lines)
