"""Decodings of a text model side by side: label coverage, questions, valid comments and
milliseconds per comment, greedy decoding as the baseline measured in the same run; then how
often ``CommentPipeline.write_comments`` (default decoding, resampling, composer last) still needs
the composer.

    .venv/bin/python benchmarks/decoding_quality.py [--model models/default_t5] [--limit N]
        [--decoding greedy --decoding rerank ...] [--threads 1] [--rounds 3] [--json-out FILE]
        [--record models/t5/metrics.json]

Label sets: the test split as ``python -m utils evaluate`` builds it, and the generalisation
split (``data/text_data/comments_general.json``: object combinations never seen in training).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils.lm.decoding import DECODINGS, DEFAULT_DECODING  # noqa: E402
from utils.lm.generate import CommentGenerator  # noqa: E402
from utils.lm.metrics import comment_stats, evaluation_splits, record_scores  # noqa: E402
from utils.paths import MODELS  # noqa: E402
from utils.text.dataset import validate_comment  # noqa: E402
from utils.text.styles import split_model_input  # noqa: E402

RECORD_KEY = "decoding_benchmark"  # beside the "decoding" key of python -m utils evaluate --record


def measure(generator: CommentGenerator, sources: list[str], decoding: str, batch_size: int) -> dict:
    """Quality of one decoding over every model input (label set, with its style prefix on
    styled rows): coverage of the bare labels, and validity including the asked style. Its time
    comes from :func:`timings`."""
    comments = generator.generate(sources, decoding=decoding, batch_size=batch_size)
    labels, styles = zip(*map(split_model_input, sources), strict=True)
    stats = comment_stats(comments, labels)
    problems = [
        validate_comment(c, lab, style) for c, lab, style in zip(comments, labels, styles, strict=True)
    ]
    missing = [any(p.startswith("label not mentioned") for p in found) for found in problems]
    return {
        "label_coverage": round(stats["label_coverage"], 4),
        "all_subjects_named": round(1 - sum(missing) / len(labels), 4),
        "question_rate": round(stats["question_rate"], 4),
        "valid_rate": round(sum(not found for found in problems) / len(labels), 4),
    }


def timings(
    generator: CommentGenerator, labels: list[str], decodings: list[str], batch_size: int, rounds: int
) -> dict[str, float]:
    """Milliseconds per comment of each decoding: the fastest of ``rounds`` rounds, the decodings
    interleaved within a round, so that load from other processes on a shared machine hits
    every decoding alike and the ratios stay fair."""
    best = dict.fromkeys(decodings, float("inf"))
    for _ in range(rounds):
        for name in decodings:
            start = time.perf_counter()
            generator.generate(labels, decoding=name, batch_size=batch_size)
            best[name] = min(best[name], 1000 * (time.perf_counter() - start) / len(labels))
    return best


def composer_rate(model: Path, sources: list[str], batch_size: int) -> dict:
    """Share of comments ``write_comments`` hands to the composer, with its default decoding,
    each row asked in its own style."""
    from utils.pipeline.comment_pipeline import CommentPipeline

    pipeline = CommentPipeline(lm_dir=model, offline=True, load_vision=False, batch_size=batch_size)
    by_style: dict = defaultdict(list)
    for source in sources:
        labels, style = split_model_input(source)
        by_style[style].append(labels)
    writers: list[str] = []
    start = time.perf_counter()
    for style, labels in by_style.items():
        writers += pipeline.write_comments(labels, style=style)[1]
    seconds = time.perf_counter() - start
    composed = sum(w.startswith("offline composer") for w in writers)
    return {
        "decoding": DEFAULT_DECODING,
        "composer_rate": round(composed / len(sources), 4),
        "composer_comments": composed,
        "ms_per_comment": round(1000 * seconds / len(sources), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODELS / "default_t5")
    parser.add_argument("--decoding", action="append", choices=list(DECODINGS))
    parser.add_argument("--limit", type=int, help="only the first N label sets of each split")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    parser.add_argument("--time-sets", type=int, default=64, help="label sets per timing round")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds (the fastest counts)")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument(
        "--record", type=Path, help=f"also write the report under {RECORD_KEY!r} in this metrics file"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    decodings = args.decoding or list(DECODINGS)
    if "greedy" not in decodings:
        decodings.insert(0, "greedy")  # the baseline of every ratio
    generator = CommentGenerator.from_pretrained(args.model, device="cpu")
    report: dict = {"model": args.model.name, "threads": args.threads, "splits": {}}
    for split, pairs in evaluation_splits(["test", "general"]).items():
        sources = [source for source, _ in pairs][: args.limit]  # styled rows keep their style prefix
        rows = {name: measure(generator, sources, name, args.batch_size) for name in decodings}
        speed = timings(generator, sources[: args.time_sets], decodings, args.batch_size, args.rounds)
        for name, row in rows.items():
            row["ms_per_comment"] = round(speed[name], 1)
        base = rows["greedy"]["ms_per_comment"]
        print(
            f"\n{split}: {len(sources)} label sets; time: fastest of {args.rounds} rounds over "
            f"{min(args.time_sets, len(sources))} of them ({args.threads} thread)"
        )
        print(
            f"{'decoding':<10}{'coverage':>10}{'all named':>11}{'questions':>11}{'valid':>8}{'ms/comment':>12}{'× greedy':>10}"
        )
        for name, row in rows.items():
            row["time_vs_greedy"] = round(row["ms_per_comment"] / base, 2)
            print(
                f"{name:<10}{row['label_coverage']:>10.4f}{row['all_subjects_named']:>11.4f}{row['question_rate']:>11.4f}"
                f"{row['valid_rate']:>8.4f}{row['ms_per_comment']:>12.1f}{row['time_vs_greedy']:>10.2f}"
            )
        pipeline = composer_rate(args.model, sources, args.batch_size)
        print(
            f"pipeline ({pipeline['decoding']}, resampling, composer last): composer wrote "
            f"{pipeline['composer_comments']} of {len(sources)} ({pipeline['composer_rate']:.2%}), "
            f"{pipeline['ms_per_comment']:.1f} ms/comment"
        )
        report["splits"][split] = {"count": len(sources), "decodings": rows, "pipeline": pipeline}
    if args.json_out:
        args.json_out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.record:
        record_scores(args.record, RECORD_KEY, report)


if __name__ == "__main__":
    main()
