"""How a text model turns labels into a comment: named decodings (greedy, beam, sampling, n-best
re-ranked) and the pieces of the re-ranking: candidate order and a label-guided candidate.

``transformers`` 5.x has no constrained beam search (``force_words_ids``), so naming every label
is done here: several candidates per input, the first that passes ``validate_comment`` (then the
one naming most labels, then the likeliest under the model) wins. When no candidate names every
object, one more comes from greedy decoding nudged towards the labels it has not named yet.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from functools import lru_cache

from utils.labels import label_named, parse_labels, split_labels
from utils.text.dataset import validate_comment
from utils.text.grounding import main_objects
from utils.text.styles import Style, split_model_input


@dataclass(frozen=True)
class Decoding:
    """One way of decoding. ``candidates`` > 1 returns that many per input (beams, or samples
    when ``do_sample``) and keeps the best by :func:`candidate_order`; ``guided`` adds a
    label-guided greedy candidate for inputs whose candidates leave out an object;
    ``guide_only`` decodes that candidate alone (the pipeline's retries: a plain sample of
    the small model leaves out an object for most inputs, and then the guided one is made anyway)."""

    name: str
    num_beams: int = 1
    length_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    do_sample: bool = False
    top_k: int = 50
    top_p: float = 1.0
    temperature: float = 1.0
    candidates: int = 1
    guided: bool = False
    guide_beams: int = 4
    guide_bias: float = 10.0  # added to a missing label's first-token logit (6 left labels for the end)
    guide_only: bool = False

    def guided_kwargs(self) -> dict:
        """Arguments for the label-guided candidate: beam search (fluent where the guide pushes a
        word in) without repeated n-grams (a pushed word otherwise starts loops); sampled when
        this decoding samples, so that a retry with another seed gets another candidate."""
        kwargs: dict = {"no_repeat_ngram_size": self.no_repeat_ngram_size}
        if self.do_sample:
            sampling = {"top_k": self.top_k, "top_p": self.top_p, "temperature": self.temperature}
            return kwargs | sampling | {"do_sample": True, "num_beams": 1}
        return kwargs | {"do_sample": False, "num_beams": self.guide_beams}

    def __post_init__(self) -> None:
        if self.guide_only and not self.guided:
            raise ValueError(f"decoding {self.name!r}: guide_only needs guided=True")
        if self.num_beams < 1 or self.candidates < 1:
            raise ValueError(f"decoding {self.name!r}: num_beams and candidates must be at least 1")
        if not self.do_sample and self.candidates > self.num_beams:
            raise ValueError(
                f"decoding {self.name!r}: {self.candidates} candidates need at least as many beams "
                f"(num_beams={self.num_beams}) or sampling"
            )

    @property
    def reranks(self) -> bool:
        return self.candidates > 1 or self.guided

    def generate_kwargs(self) -> dict:
        """Arguments for ``model.generate`` (length penalty only where beams use it, sampling
        settings only when sampling: ``transformers`` warns about unused ones)."""
        kwargs: dict = {"num_beams": self.num_beams, "do_sample": self.do_sample}
        if self.num_beams > 1:
            kwargs["length_penalty"] = self.length_penalty
        if self.no_repeat_ngram_size:
            kwargs["no_repeat_ngram_size"] = self.no_repeat_ngram_size
        if self.do_sample:
            kwargs |= {"top_k": self.top_k, "top_p": self.top_p, "temperature": self.temperature}
        if self.candidates > 1:
            kwargs["num_return_sequences"] = self.candidates
        return kwargs

    def with_overrides(self, overrides: dict) -> tuple[Decoding, dict]:
        """This decoding with some fields changed, and the overrides that are not fields (passed
        to ``model.generate`` as they are)."""
        own = {f.name for f in fields(self)}
        changed = replace(self, **{k: v for k, v in overrides.items() if k in own})
        return changed, {k: v for k, v in overrides.items() if k not in own}


DECODINGS: dict[str, Decoding] = {
    d.name: d
    for d in (
        Decoding("greedy"),
        Decoding("beam", num_beams=4, length_penalty=1.0, no_repeat_ngram_size=3),
        Decoding("sample", do_sample=True, top_k=50, top_p=0.95),
        Decoding("rerank", num_beams=4, candidates=4, no_repeat_ngram_size=3, guided=True),
        Decoding("guided", no_repeat_ngram_size=3, guided=True),
    )
}
# What the pipeline and ``evaluate`` use unless told otherwise. benchmarks/decoding_quality.py on
# the shipped model: greedy names every object in 70% of the test comments and almost none of the
# generalisation split's, "guided" and "rerank" in 100%, with about the same share of valid
# comments (0.92-0.95); "guided" costs half as much (3.0× greedy on test, rerank 5.8×).
DEFAULT_DECODING = "guided"


def get_decoding(decoding: str | Decoding | None) -> Decoding:
    if isinstance(decoding, Decoding):
        return decoding
    name = decoding or DEFAULT_DECODING
    if name not in DECODINGS:
        raise ValueError(f"unknown decoding {name!r}; expected one of {', '.join(DECODINGS)}")
    return DECODINGS[name]


def object_labels(model_input: str) -> list[str]:
    """The object labels of a model input (a label string, perhaps with a style prefix)."""
    return split_labels(parse_labels(split_model_input(model_input)[0], strict=False))[1]


@lru_cache(maxsize=4096)
def _problems(comment: str, labels: str, style: Style) -> tuple[str, ...]:
    return tuple(validate_comment(comment, labels, style=style))


def comment_problems(comment: str, model_input: str) -> list[str]:
    """``validate_comment`` of ``comment`` for a model input (a label string, perhaps with a style
    prefix), in the input's style. Remembered: the re-ranking, the retries and the pipeline ask
    about the same comments, and the checks (morphological analysis among them) cost more than
    the lookup."""
    labels, style = split_model_input(model_input)
    return list(_problems(comment, labels, style))


def forget_checked_comments() -> None:
    """Empty the memory of :func:`comment_problems` (a benchmark round starts as a new process would)."""
    _problems.cache_clear()


def candidate_order(comment: str, model_input: str, score: float) -> tuple[int, float, float]:
    """Sort key of a candidate (smallest first): no problems by ``validate_comment`` (in the
    input's style) first, then the share of object labels named, then the model's
    length-normalised log-probability."""
    objects = main_objects(object_labels(model_input))
    named = sum(label_named(o, comment) for o in objects) / len(objects) if objects else 1.0
    return (1 if comment_problems(comment, model_input) else 0, -named, -score)


def pick_best(candidates: Sequence[str], labels: str, scores: Sequence[float]) -> int:
    """Index of the candidate :func:`candidate_order` puts first (the first of equals)."""
    if not candidates or len(candidates) != len(scores):
        raise ValueError(f"{len(candidates)} candidates and {len(scores)} scores for {labels!r}")
    keys = [candidate_order(c, labels, s) for c, s in zip(candidates, scores, strict=True)]
    return min(range(len(candidates)), key=keys.__getitem__)


# Command-line options that change a decoding's fields (``--decoding`` picks the named one).
_FIELD_OPTIONS = {
    "num_beams": ("--num-beams", int, "beam search width"),
    "length_penalty": ("--length-penalty", float, "beam search: > 1 favours longer comments"),
    "no_repeat_ngram_size": ("--no-repeat-ngram", int, "never repeat an n-gram of this size (0: off)"),
    "top_k": ("--top-k", int, "sampling: keep the k likeliest tokens"),
    "top_p": ("--top-p", float, "sampling: keep the smallest set of tokens with this probability"),
    "temperature": ("--temperature", float, "sampling: < 1 sharper, > 1 flatter"),
}


def add_decoding_args(parser: argparse.ArgumentParser, *, several: bool = False) -> None:
    """``--decoding`` (a name in ``DECODINGS``; repeatable when ``several``) and the options that
    change its fields."""
    help_ = "how the text model decodes: " + ", ".join(DECODINGS) + f" (default: {DEFAULT_DECODING})"
    if several:
        help_ += "; repeat it to compare several"
    parser.add_argument(
        "--decoding", choices=list(DECODINGS), action="append" if several else "store", help=help_
    )
    for name, (flag, kind, text) in _FIELD_OPTIONS.items():
        parser.add_argument(flag, dest=name, type=kind, help=text)


def decodings_from_args(args: argparse.Namespace) -> list[Decoding]:
    """The decodings the options ask for (the default when none is named), with field changes."""
    names = args.decoding if isinstance(args.decoding, list) else [args.decoding]
    changes = {name: getattr(args, name) for name in _FIELD_OPTIONS if getattr(args, name, None) is not None}
    return [replace(get_decoding(name), **changes) for name in names or [None]]
