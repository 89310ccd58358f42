"""What the LM notebooks show: trained runs of a family, their val-loss comparison plot, the
metrics table (``models/<family>/metrics.json``) and sample comments beside the references."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from utils.lm.generate import CommentGenerator
from utils.lm.metrics import evaluate_model, styles_for_pairs
from utils.lm.registry import EXPERIMENTS, get_experiment
from utils.lm.training import train
from utils.paths import results_dir
from utils.plots import plot_curves
from utils.text.dataset import Pair

# The columns of the metrics table, in reading order (reference-compatible first).
TABLE_COLUMNS = (
    "best_val_loss", "test_loss", "char_bleu_1", "char_bleu_4", "meteor", "rouge_1_f", "rouge_l_f",
    "sacrebleu_morpheme", "chrf", "rouge_morpheme_l_f", "label_coverage", "question_rate", "emoji_rate",
    "distinct_2", "mean_length",
)  # fmt: skip


def run_dir(name: str, profile: str, work_dir: str | Path | None = None) -> Path:
    return results_dir(get_experiment(name).family, name, profile=profile, base=work_dir)


def train_or_load(name: str, profile: str, work_dir: str | Path | None = None, retrain: bool = False) -> dict:
    """The run summary of an experiment: read from its ``run.json`` when the run already has a
    best model (``python -m utils train`` writes the same files), else trained now."""
    out = run_dir(name, profile, work_dir)
    summary_path = out / "run.json"
    if not retrain and summary_path.exists() and (out / "best" / "config.json").exists():
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        if summary.get("profile") == profile:
            return summary
    return train(name, profile=profile, out_dir=out, progress=False)


def val_loss_curve(out: Path) -> list[tuple[float, float]]:
    with (out / "val_loss.csv").open(encoding="utf-8") as f:
        return [(float(row["epoch"]), float(row["val_loss"])) for row in csv.DictReader(f)]


def plot_family(family: str, names: Sequence[str], profile: str, work_dir: str | Path | None = None) -> Path:
    """Every named run's val loss on one axis, best epochs marked: ``<family>/val_loss_comparison.png``."""
    curves = {name: val_loss_curve(run_dir(name, profile, work_dir)) for name in names}
    out = results_dir(family, profile=profile, base=work_dir) / "val_loss_comparison.png"
    title = f"{family.upper()} val loss ({profile} profile; padding excluded from the loss)"
    return plot_curves(curves, out, title=title)


def evaluate_family(
    family: str,
    names: Sequence[str],
    pairs: Sequence[Pair],
    profile: str,
    work_dir: str | Path | None = None,
    seed: int = 0,
) -> tuple[dict[str, dict], dict[str, list[str]]]:
    """Scores of every named run on the same pairs (the test split), greedy as the reference
    decoded, styled rows asked in their own style, written to ``<family>/metrics.json``; also
    returns each run's generated comments."""
    styles = styles_for_pairs(pairs, None, None, seed)  # styled rows are asked in their own style
    table: dict[str, dict] = {}
    outputs: dict[str, list[str]] = {}
    for name in names:
        out = run_dir(name, profile, work_dir)
        summary = json.loads((out / "run.json").read_text(encoding="utf-8"))
        scores, outputs[name] = evaluate_model(out, pairs, decoding="greedy", seed=seed, styles=styles)
        table[name] = {
            "best_val_loss": summary["best_val_loss"],
            "test_loss": round(summary["test_loss"], 4),
            **scores,
            "epochs_run": summary["epochs_run"],
            "train_seconds": summary["train_seconds"],
            "peak_memory_mb": summary["peak_memory_mb"],
        }
    path = results_dir(family, profile=profile, base=work_dir) / "metrics.json"
    # Other keys (the decoding comparison of ``python -m utils evaluate --record``) are kept.
    kept = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    payload = {**kept, "profile": profile, "examples": len(pairs), "runs": table}
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    return table, outputs


def family_experiments(family: str) -> list[str]:
    return [name for name, e in EXPERIMENTS.items() if e.family == family]


def samples_table(pairs: Sequence[Pair], outputs: dict[str, list[str]], count: int = 8) -> list[dict]:
    """Rows of labels, the reference comment and each run's comment, for the first ``count`` pairs."""
    rows = []
    for i, (labels, reference) in enumerate(pairs[:count]):
        rows.append({"labels": labels, "reference": reference, **{n: out[i] for n, out in outputs.items()}})
    return rows


def comparison_generators(profile: str, work_dir: str | Path | None = None) -> dict[str, CommentGenerator]:
    """The pipeline's T5 and a GPT-2 run for side-by-side comments: the GPT-2 run with the best
    val loss among those trained in this profile. In ``smoke`` one is trained in seconds; in the
    larger profiles a missing GPT-2 run is left out with a note (training one takes many minutes:
    notebook 3_lm_gpt2 or ``python -m utils train kogpt2_0 --profile cpu``)."""
    from utils.lm.trained import resolve_comment_model

    t5_dir = resolve_comment_model()
    generators = {}
    if t5_dir is not None:
        generators[f"T5 ({t5_dir.parent.name if t5_dir.name == 'best' else t5_dir.name})"] = (
            CommentGenerator.from_pretrained(t5_dir)
        )
    runs = {}
    for name in family_experiments("gpt2"):
        summary = results_dir("gpt2", name, profile=profile, base=work_dir) / "run.json"
        if summary.exists() and (summary.parent / "best" / "config.json").exists():
            runs[name] = json.loads(summary.read_text(encoding="utf-8"))["best_val_loss"]
    if not runs and profile != "smoke":
        print(f"no trained GPT-2 run with weights in the {profile} profile: comparing T5 only")
        return generators
    best = min(runs, key=runs.get) if runs else "kogpt2_0"
    train_or_load(best, profile, work_dir)
    generators[f"GPT-2 ({best})"] = CommentGenerator.from_pretrained(run_dir(best, profile, work_dir))
    return generators
