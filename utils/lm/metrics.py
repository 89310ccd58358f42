"""Text metrics: the reference's (for comparison on its terms), proper ones, and comment checks."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from utils.labels import label_named, parse_labels, split_labels
from utils.paths import shown_path
from utils.text.dataset import count_emojis, has_question
from utils.text.grounding import main_objects
from utils.text.style_check import comment_tone, speech_level
from utils.text.styles import (
    DEFAULT_STYLE,
    Style,
    add_style_args,
    model_input,
    parse_style,
    split_model_input,
    styles_for,
)


def _ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(comments: Sequence[str], n: int) -> float:
    """Unique n-grams over all n-grams of whitespace tokens, across the whole set (0 if none)."""
    grams = [g for c in comments for g in _ngrams(c.split(), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def label_coverage(comment: str, labels: str) -> float:
    """Share of the main object labels (``utils.text.grounding.main_objects``: the subjects, not
    the furniture or tableware beside them) the comment names (1.0 when there are no objects)."""
    _, objects = split_labels(parse_labels(labels, strict=False))
    if not objects:
        return 1.0
    subjects = main_objects(objects)
    return sum(label_named(o, comment) for o in subjects) / len(subjects)


def comment_stats(comments: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    """Checks of a set of comments against their label strings (one per comment)."""
    if len(comments) != len(labels):
        raise ValueError(f"{len(comments)} comments but {len(labels)} label strings")
    n = len(comments) or 1
    return {
        "count": len(comments),
        "label_coverage": sum(label_coverage(c, lab) for c, lab in zip(comments, labels, strict=True)) / n,
        "question_rate": sum(has_question(c) for c in comments) / n,
        "emoji_rate": sum(count_emojis(c) > 0 for c in comments) / n,
        "distinct_1": distinct_n(comments, 1),
        "distinct_2": distinct_n(comments, 2),
        "mean_length": sum(len(c) for c in comments) / n,
    }


# --- style accuracy (utils.text.style_check: speech level from endings, tone from phrases/lexicon) ---


def style_accuracy(comments: Sequence[str], styles: Sequence[str | Style]) -> dict[str, float]:
    """Share of comments in the asked speech level and tone, overall and per style
    (``speech_level_acc/반말,유쾌한``). A comment with no telling ending counts as wrong; for
    the default tone (warm, the unmarked voice) a comment with no telling words counts as right."""
    if len(comments) != len(styles):
        raise ValueError(f"{len(comments)} comments but {len(styles)} styles")
    asked = [parse_style(s) for s in styles]
    level_ok = [speech_level(c) == s.level for c, s in zip(comments, asked, strict=True)]
    tone_ok = [
        comment_tone(c) in (s.tone, None if s.tone == DEFAULT_STYLE.tone else s.tone)
        for c, s in zip(comments, asked, strict=True)
    ]
    scores: dict[str, float] = {}
    for name, subset in [("", range(len(asked)))] + [
        (f"/{style.key}", [i for i, s in enumerate(asked) if s == style]) for style in sorted(set(asked))
    ]:
        if subset:
            scores[f"speech_level_acc{name}"] = sum(level_ok[i] for i in subset) / len(subset)
            scores[f"tone_acc{name}"] = sum(tone_ok[i] for i in subset) / len(subset)
    return scores


# --- reference-compatible scores (reference §4: how its table was computed) -----------------


def reference_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """NLTK corpus BLEU-1..4 over raw strings, i.e. over characters, exactly as the reference
    computed it (it reported these as if they were word-level BLEU)."""
    from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu

    refs = [[list(r)] for r in references]
    hyps = [list(h) for h in hypotheses]
    smooth = SmoothingFunction().method1
    weights = {1: (1.0,), 2: (0.5, 0.5), 3: (1 / 3,) * 3, 4: (0.25,) * 4}
    return {
        f"char_bleu_{n}": corpus_bleu(refs, hyps, weights=w, smoothing_function=smooth)
        for n, w in weights.items()
    }


class _NoSynonyms:
    """Stands in for WordNet (English only, and a download): METEOR then matches exact words
    and Porter stems, which is all it could do for Korean anyway."""

    @staticmethod
    def synsets(_word: str) -> list:
        return []


def reference_meteor(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Mean NLTK METEOR over ``\\w+`` tokens, offline (no WordNet data needed)."""
    import re

    from nltk.translate.meteor_score import meteor_score

    def words(text: str) -> list[str]:
        return re.findall(r"\w+", text)

    scores = [
        meteor_score([words(r)], words(h), wordnet=_NoSynonyms())
        for h, r in zip(hypotheses, references, strict=True)
    ]
    return sum(scores) / len(scores) if scores else 0.0


def rouge_f(hypotheses: Sequence[str], references: Sequence[str], prefix: str = "rouge") -> dict[str, float]:
    """ROUGE-1/2/L F of the ``rouge`` package over whitespace tokens of the strings given.
    An empty hypothesis scores 0 (the package would raise)."""
    from rouge import Rouge

    pairs = [(h, r) for h, r in zip(hypotheses, references, strict=True) if h.strip() and r.strip()]
    totals = {"1": 0.0, "2": 0.0, "l": 0.0}
    if pairs:
        scores = Rouge().get_scores([h for h, _ in pairs], [r for _, r in pairs])
        for score in scores:
            for key in totals:
                totals[key] += score[f"rouge-{key}"]["f"]
    n = len(hypotheses) or 1
    return {f"{prefix}_{key}_f": value / n for key, value in totals.items()}


# --- proper scores for Korean -----------------------------------------------------------------


@lru_cache(maxsize=1)
def _kiwi():
    from kiwipiepy import Kiwi

    return Kiwi()


def morphemes(text: str) -> str:
    """Space-joined morphemes (kiwipiepy): Korean words carry their particles and endings, so
    whitespace tokens under-count matches ("안경이" vs "안경을")."""
    return " ".join(token.form for token in _kiwi().tokenize(text))


def korean_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """sacreBLEU over morphemes, chrF over characters, and ROUGE over morphemes."""
    import sacrebleu

    hyp_m = [morphemes(h) for h in hypotheses]
    ref_m = [morphemes(r) for r in references]
    return {
        "sacrebleu_morpheme": sacrebleu.corpus_bleu(hyp_m, [ref_m], tokenize="none", force=True).score / 100,
        "chrf": sacrebleu.corpus_chrf(list(hypotheses), [list(references)]).score / 100,
        **rouge_f(hyp_m, ref_m, prefix="rouge_morpheme"),
    }


def evaluate_comments(
    hypotheses: Sequence[str], references: Sequence[str], labels: Sequence[str]
) -> dict[str, float]:
    """Every score of generated comments against reference comments, plus the comment checks."""
    if not (len(hypotheses) == len(references) == len(labels)):
        raise ValueError(
            f"{len(hypotheses)} generated, {len(references)} references, {len(labels)} label strings"
        )
    scores: dict[str, float] = {
        **reference_bleu(hypotheses, references),
        "meteor": reference_meteor(hypotheses, references),
        **rouge_f(hypotheses, references),
        **korean_scores(hypotheses, references),
        **comment_stats(hypotheses, labels),
    }
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()}


# --- python -m utils evaluate -----------------------------------------------------------------


SPLITS = ("test", "general")
RECORD_KEY = "decoding"  # where ``--record`` puts its scores in a metrics.json


def evaluation_splits(names: Sequence[str], seed: int = 42) -> dict[str, list[tuple[str, str]]]:
    """Named pair sets: ``test`` (the test half of comments_val.json, as training split it) and
    ``general`` (comments_general.json: object combinations never seen in training)."""
    from utils.paths import TEXT_DATA
    from utils.text.dataset import read_dataset

    out = {}
    for name in names:
        if name == "test":
            from utils.lm.training import load_splits

            out[name] = load_splits(None, None, seed=seed)["test"]
        elif name == "general":
            out[name] = read_dataset(TEXT_DATA / "comments_general.json")
        else:
            raise ValueError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
    return out


def evaluate_model(
    model_dir: str | Path | object,
    pairs: Sequence[tuple[str, str]],
    *,
    decoding: str | object | None = None,
    seed: int = 0,
    batch_size: int = 32,
    styles: Sequence[str | Style] | None = None,
) -> tuple[dict[str, float], list[str]]:
    """Generate a comment for every pair's labels with a trained model (a folder, or a loaded
    ``CommentGenerator``) and score it; ``decoding`` and ``ms_per_comment`` say how. With
    ``styles`` (one per pair) the model is asked for that style and the style accuracy is scored."""
    import time

    from utils.lm.decoding import get_decoding
    from utils.lm.generate import CommentGenerator

    generator = (
        model_dir if isinstance(model_dir, CommentGenerator) else CommentGenerator.from_pretrained(model_dir)
    )
    chosen = get_decoding(decoding)
    # A styled row's source carries its style prefix; coverage is scored on the bare labels.
    labels = [split_model_input(source)[0] for source, _ in pairs]
    inputs = (
        labels if styles is None else [model_input(lab, s) for lab, s in zip(labels, styles, strict=True)]
    )
    start = time.perf_counter()
    hypotheses = generator.generate(inputs, decoding=chosen, seed=seed, batch_size=batch_size)
    per_comment = 1000 * (time.perf_counter() - start) / max(len(labels), 1)
    scores = evaluate_comments(hypotheses, [c for _, c in pairs], labels)
    if styles is not None:
        scores |= {k: round(v, 4) for k, v in style_accuracy(hypotheses, styles).items()}
    return {"decoding": chosen.name, **scores, "ms_per_comment": round(per_comment, 1)}, hypotheses


def record_scores(path: str | Path, key: str, payload: dict) -> Path:
    """Put ``payload`` under ``key`` in a metrics JSON file, keeping everything else in it."""
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    data[key] = payload
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def add_evaluate_args(parser: argparse.ArgumentParser) -> None:
    from utils.lm.decoding import add_decoding_args

    parser.add_argument("model", type=Path, help="a trained model folder, or a training run's folder")
    parser.add_argument("--data", type=Path, help="pairs to score (instead of --split)")
    parser.add_argument(
        "--split",
        choices=SPLITS,
        action="append",
        help="test: the test half of comments_val.json (default); general: comments_general.json, "
        "object combinations never seen in training. Repeatable.",
    )
    parser.add_argument("--limit", type=int, help="score only the first N pairs")
    add_decoding_args(parser, several=True)
    parser.add_argument("--seed", type=int, default=0)
    add_style_args(parser, "ask the model for this style and score style accuracy, e.g. 반말,유쾌한")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    parser.add_argument(
        "--record",
        type=Path,
        help=f"also write the scores under {RECORD_KEY!r} in this metrics file (e.g. models/t5/metrics.json)",
    )


def styles_for_pairs(
    pairs: Sequence[tuple[str, str]], style: str | None, mix: str | None, seed: int
) -> list[Style] | None:
    """One style per pair: ``--style`` for all, ``--style-mix`` in proportions, else the styles
    of a styled dataset's rows; None for default-style data asked nothing (no style scores)."""
    if mix or style:
        return styles_for(len(pairs), style, mix, seed)
    own = [split_model_input(source)[1] for source, _ in pairs]
    return own if any(s != DEFAULT_STYLE for s in own) else None


def run_evaluate(args: argparse.Namespace) -> int:
    """One split and one decoding print flat scores; several print them by split, then decoding."""
    from utils.lm.decoding import decodings_from_args
    from utils.lm.generate import CommentGenerator
    from utils.text.dataset import DatasetFormatError, read_dataset

    try:
        decodings = decodings_from_args(args)
        if args.data is not None:
            splits = {args.data.stem: read_dataset(args.data)}
        else:
            splits = evaluation_splits(args.split or ["test"])
        generator = CommentGenerator.from_pretrained(args.model)
        results: dict[str, dict] = {}
        for split, pairs in splits.items():
            pairs = pairs[: args.limit] if args.limit else pairs
            styles = styles_for_pairs(pairs, args.style, args.style_mix, args.seed)
            results[split] = {
                d.name: evaluate_model(generator, pairs, decoding=d, seed=args.seed, styles=styles)[0]
                for d in decodings
            }
    except (FileNotFoundError, DatasetFormatError, ValueError) as e:
        print(f"python -m utils evaluate: error: {e}", file=sys.stderr)
        return 2
    (only_split,) = results if len(results) == 1 else (None,)
    flat = only_split is not None and len(decodings) == 1
    scores = next(iter(results[only_split].values())) if flat else results
    if args.record:
        payload = {"model": shown_path(args.model), "generator": generator.name, "splits": results}
        record_scores(args.record, RECORD_KEY, payload)
    if args.json:
        print(json.dumps(scores, ensure_ascii=False, indent=1))
    else:
        for split, by_decoding in results.items():
            for name, values in by_decoding.items():
                print(f"[{split} · {name}]")
                for key, value in values.items():
                    print(f"  {key:<24}{value}")
    return 0
