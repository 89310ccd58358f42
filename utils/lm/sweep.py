"""The ``cpu`` recipe sweep: which T5 recipe makes the best comments within the CPU budget.

Every variant trains ``transfer_0`` in the ``cpu`` profile with some values changed (model
size, learning rate, schedule, bf16, training rows), under the same wall-clock limit, then
writes greedy comments for the same val rows and is scored on them. One row per variant goes to
``models/t5/sweep.csv`` and the table ``models/t5/sweep.md``; a variant already in the CSV is
not trained again, so a killed sweep resumes.

    .venv/bin/python -m utils.lm.sweep --minutes 4            # every variant
    .venv/bin/python -m utils.lm.sweep --only base bf16 --minutes 1
    .venv/bin/python -m utils.lm.sweep --final                # the finalists at the full budget

Quality is ranked by val loss (the trained objective, same tokenizer recipe for every variant),
with label coverage and chrF of the generated comments beside it.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
from collections.abc import Sequence
from pathlib import Path

from utils.paths import MODELS, shown_path

SWEEP_DIR = MODELS / "t5" / "sweep"
TABLE_CSV = MODELS / "t5" / "sweep.csv"
TABLE_MD = MODELS / "t5" / "sweep.md"
EVAL_ROWS = 300
# Every variant starts from the cpu recipe as it was before the sweep (12 epochs, fp32), and
# evaluates often enough that early stopping and the time limit can act mid-epoch.
SWEEP_DEFAULTS = {"epochs": 12, "max_steps": None, "bf16": False, "eval_steps": 150, "patience": 3}

# name → (changes to the cpu profile / recipe, what it tests)
VARIANTS: dict[str, tuple[dict, str]] = {
    "base": ({}, "the cpu recipe before the sweep: 6.9 M, lr 1.5e-3 linear, fp32"),
    "bf16": ({"bf16": True}, "bf16 autocast"),
    "bf16_lr3e-3": ({"bf16": True, "learning_rate": 3e-3}, "bf16, twice the learning rate"),
    "bf16_cosine": ({"bf16": True, "lr_scheduler_type": "cosine"}, "bf16, cosine schedule"),
    "bf16_6k_rows": ({"bf16": True, "max_train": 6000}, "bf16, 6,000 training rows (the earlier data size)"),
    "bf16_14m": (
        {"bf16": True, "model": {"d_model": 320, "d_kv": 40, "d_ff": 1024, "num_layers": 4}},
        "bf16, 14 M parameters (d 320, 4+4 layers)",
    ),
    "bf16_19m": (
        {"bf16": True, "model": {"d_model": 384, "d_kv": 48, "d_ff": 1152, "num_layers": 4}},
        "bf16, 19 M parameters (d 384, 4+4 layers)",
    ),
}
# The short sweep compares variants at equal minutes, which favours a smaller data set (6,000 rows
# see four epochs in the time 20,000 rows see one). Its data-size finalists are trained again at
# the cpu recipe's full budget, about 2,500 optimizer steps each; this second table decides the
# shipped recipe.
FINAL_VARIANTS: dict[str, tuple[dict, str]] = {
    "cpu_recipe": ({}, "the cpu recipe: bf16, 20,000 rows, 2,500 steps (4 epochs)"),
    "cpu_recipe_6k_rows": (
        {"max_train": 6000, "epochs": 13, "max_steps": None},
        "the same with 6,000 rows, 13 epochs (2,444 steps)",
    ),
    "cpu_recipe_label_orders": (
        {"label_orders": 2, "min_object_rows": 20, "epochs": 3, "max_steps": None},
        "the 20,000 rows, each multi-object row also in a second label order and rare objects in at "
        "least 20 rows (27,030 rows), 3 epochs (2,534 steps)",
    ),
}
# Decided before the final runs: the text model naming labels it never saw together is what the
# shipped model does worst (the label guide has to push the rest in, less fluently), so the final
# stage ranks by greedy label coverage on the generalisation split, rounded to 0.01, then val loss.
GENERAL_COVERAGE = "general_label_coverage"
FINAL_CSV = MODELS / "t5" / "sweep_final.csv"
FINAL_DIR = MODELS / "t5" / "sweep_final"
COLUMNS = [
    "variant", "note", "parameters", "bf16", "learning_rate", "lr_scheduler_type", "train_rows",
    "minutes", "examples_per_second", "epochs", "stopped_by", "val_loss", "char_bleu_1", "char_bleu_4",
    "chrf", "rouge_morpheme_l_f", "label_coverage", "question_rate", "speech_level_acc",
]  # fmt: skip


def sweep_eval_pairs(seed: int = 42, rows: int = EVAL_ROWS) -> list[tuple[str, str]]:
    """The same val rows for every variant (the val half of comments_val.json; the test half is
    kept for the shipped model's final numbers)."""
    from utils.lm.training import load_splits

    val = load_splits(None, None, seed)["val"]
    return random.Random(seed).sample(val, min(rows, len(val)))


def score_run(model_dir: Path, pairs: Sequence[tuple[str, str]]) -> dict:
    """Greedy comments for ``pairs`` in each row's own style, scored against the references."""
    from utils.lm.metrics import evaluate_model
    from utils.text.styles import split_model_input

    styles = [split_model_input(source)[1] for source, _ in pairs]
    scores, _ = evaluate_model(model_dir, pairs, decoding="greedy", styles=styles)
    return scores


def general_coverage(model_dir: Path) -> float:
    """Greedy label coverage on the generalisation split (object combinations never in training)."""
    from utils.lm.metrics import evaluate_model, evaluation_splits

    scores, _ = evaluate_model(model_dir, evaluation_splits(["general"])["general"], decoding="greedy")
    return scores["label_coverage"]


def table_row(name: str, note: str, summary: dict, scores: dict) -> dict:
    return {
        "variant": name,
        "note": note,
        "parameters": summary["parameters"],
        "bf16": summary["bf16"],
        "learning_rate": summary["learning_rate"],
        "lr_scheduler_type": summary["lr_scheduler_type"],
        "train_rows": summary["train_rows"],
        "minutes": summary["train_minutes"],
        "examples_per_second": summary["train_examples_per_second"],
        "epochs": summary["epochs_run"],
        "stopped_by": summary["stopped_by"],
        "val_loss": summary["best_val_loss"],
        **{k: scores[k] for k in COLUMNS if k in scores},
    }


def read_table(path: Path = TABLE_CSV) -> list[dict]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_tables(
    rows: list[dict],
    csv_path: Path = TABLE_CSV,
    md_path: Path = TABLE_MD,
    minutes: float | None = 0,
    eval_rows: int = EVAL_ROWS,
) -> None:
    final = any(GENERAL_COVERAGE in row for row in rows)
    columns = COLUMNS + [GENERAL_COVERAGE] if final else COLUMNS
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    best = pick_final(rows) if final else pick(rows)
    rule = "general-split greedy label coverage (to 0.01), then val loss" if final else "lowest val loss"
    shown = [c for c in columns if c != "note"]
    budget = (
        f"each limited to {minutes:g} min of training" if minutes else "each at the cpu recipe's full budget"
    )
    lines = [
        f"# `cpu` recipe sweep ({len(rows)} variants, {budget})",
        "",
        f"`python -m utils.lm.sweep{' --final' if final else ''}` — scores: greedy comments for the same "
        f"{eval_rows} val rows, each asked in its own style. Pick: {rule} → **{best['variant']}**.",
        "",
        "| " + " | ".join(shown) + " |",
        "| " + " | ".join("---" if c in ("variant", "stopped_by", "lr_scheduler_type") else "---:" for c in shown) + " |",
    ]  # fmt: skip
    lines += ["| " + " | ".join(str(row[c]) for c in shown) + " |" for row in rows]
    lines += ["", *[f"- `{row['variant']}`: {row['note']}" for row in rows]]
    if not final:
        lines += ["", "Equal minutes favour fewer training rows (each is seen more often); the finalists are "
                  "trained again at the cpu recipe's full budget in `python -m utils.lm.sweep --final` "
                  "(`sweep_final.md`), which decides the shipped recipe."]  # fmt: skip
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def pick(rows: Sequence[dict]) -> dict:
    """The variant with the lowest val loss; label coverage breaks ties."""
    return min(rows, key=lambda r: (float(r["val_loss"]), -float(r["label_coverage"])))


def pick_final(rows: Sequence[dict]) -> dict:
    """The final stage's pick: the best greedy label coverage on the generalisation split (to
    0.01), then the lowest val loss."""
    return min(rows, key=lambda r: (-round(float(r[GENERAL_COVERAGE]), 2), float(r["val_loss"])))


def run_sweep(
    names: Sequence[str],
    minutes: float | None,
    *,
    variants: dict[str, tuple[dict, str]] = VARIANTS,
    profile: str = "cpu",
    out_dir: Path = SWEEP_DIR,
    csv_path: Path = TABLE_CSV,
    md_path: Path = TABLE_MD,
    eval_rows: int = EVAL_ROWS,
    keep_weights: bool = False,
) -> list[dict]:
    """Train and score each named variant. ``minutes`` None: the final stage, the profile's own
    recipe and time limit with only the variant's changes. A run that already finished training
    (killed while scoring, or the registry's own run copied in) is scored, not trained again."""
    from utils.lm.training import train

    rows = [r for r in read_table(csv_path) if r["variant"] in variants]
    done = {r["variant"] for r in rows}
    pairs = sweep_eval_pairs(rows=eval_rows)
    for name in names:
        if name in done:
            print(f"{name}: already in {shown_path(csv_path)}")
            continue
        changes, note = variants[name]
        if minutes is not None:
            changes = {**SWEEP_DEFAULTS, "time_limit_minutes": minutes, **changes}
        run = out_dir / name
        if (run / "run.json").exists() and (run / "best" / "config.json").exists():
            summary = json.loads((run / "run.json").read_text(encoding="utf-8"))
        else:
            summary = train("transfer_0", profile=profile, out_dir=run, progress=False, changes=changes)
        row = table_row(name, note, summary, score_run(run / "best", pairs))
        if minutes is None:
            row[GENERAL_COVERAGE] = general_coverage(run / "best")
        print(json.dumps(row, ensure_ascii=False))
        rows.append(row)
        write_tables(rows, csv_path, md_path, minutes, len(pairs))
        shutil.rmtree(run / "checkpoints", ignore_errors=True)
        if not keep_weights:
            shutil.rmtree(run / "best", ignore_errors=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.lm.sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", nargs="+", choices=[*VARIANTS, *FINAL_VARIANTS], help="default: every variant"
    )
    parser.add_argument("--minutes", type=float, default=4.0, help="training time limit per variant")
    parser.add_argument(
        "--final", action="store_true", help="the finalists at the cpu recipe's own budget (sweep_final.csv)"
    )
    parser.add_argument("--profile", choices=("smoke", "cpu"), default="cpu")
    parser.add_argument("--out", type=Path, help=f"where runs are trained (default {shown_path(SWEEP_DIR)})")
    parser.add_argument(
        "--table", type=Path, help=f"the CSV, the .md beside it (default {shown_path(TABLE_CSV)})"
    )
    parser.add_argument("--eval-rows", type=int, default=EVAL_ROWS)
    parser.add_argument("--keep-weights", action="store_true")
    args = parser.parse_args(argv)
    variants = FINAL_VARIANTS if args.final else VARIANTS
    unknown = [name for name in args.only or [] if name not in variants]
    if unknown:
        parser.error(f"{', '.join(unknown)} not in this stage; choose from {', '.join(variants)}")
    table = args.table or (FINAL_CSV if args.final else TABLE_CSV)
    rows = run_sweep(
        args.only or list(variants),
        None if args.final else args.minutes,
        variants=variants,
        profile=args.profile,
        out_dir=args.out or (FINAL_DIR if args.final else SWEEP_DIR),
        csv_path=table,
        md_path=table.with_suffix(".md"),
        eval_rows=args.eval_rows,
        keep_weights=args.keep_weights,
    )
    best = pick_final(rows) if args.final else pick(rows)
    print(f"pick: {best['variant']} ({shown_path(table.with_suffix('.md'))})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
