"""Training the text models: one function for every experiment in the registry
(``utils.lm.registry``), the ``python -m utils train`` command, and the generator re-exported
from ``utils.lm.generate``.

Done right where the reference was not: padding never counts in the loss, batches are padded
to their own length and grouped by length, validation (early stopping) and test (final numbers
only) are separate, and every run records its per-epoch val loss, wall time and peak memory.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    EarlyStoppingCallback,
    GPT2Config,
    GPT2LMHeadModel,
    T5Config,
    T5ForConditionalGeneration,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.trainer_utils import get_last_checkpoint

from utils.lm.data import encode_pairs, hub_tokenizer, make_collator, train_local_tokenizer
from utils.lm.generate import MODEL_INFO_FILE, CommentGenerator
from utils.lm.registry import EXPERIMENTS, Experiment, ProfileSizes, get_experiment, sizes_for, with_changes
from utils.paths import TEXT_DATA, check_profile, results_dir
from utils.text.dataset import Pair, bank_phrases_only, read_dataset, split_dataset

__all__ = ["CommentGenerator", "EXPERIMENTS", "train", "load_splits", "build_model"]


def cpu_supports_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AMX or AVX512-BF16); elsewhere bf16 autocast is
    emulated and slower than fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def bf16_available() -> bool:
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return cpu_supports_bf16()


class TimeLimit(TrainerCallback):
    """Stops training once ``minutes`` of wall time have passed, after one last evaluation and
    checkpoint, so ``load_best_model_at_end`` still returns the best model seen."""

    def __init__(self, minutes: float) -> None:
        self.seconds = 60 * minutes
        self.start = time.perf_counter()
        self.reached = False

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if time.perf_counter() - self.start >= self.seconds:
            self.reached = True
            control.should_training_stop = True
            control.should_evaluate = True
            control.should_save = True
        return control


def load_splits(data: str | Path | None, val_data: str | Path | None, seed: int) -> dict[str, list[Pair]]:
    """train / val (early stopping) / test (final metrics only).

    Default: the project's training file, and its validation file halved (grouped by label
    string) into val and test. ``data`` without ``val_data``: a seeded 80/10/10 split of it.
    """
    if data is not None and val_data is None:
        return split_dataset(read_dataset(data), val=0.1, test=0.1, seed=seed)
    train_pairs = read_dataset(data or TEXT_DATA / "comments_train.json")
    halves = split_dataset(
        read_dataset(val_data or TEXT_DATA / "comments_val.json"), val=0.5, test=0.0, seed=seed
    )
    return {"train": train_pairs, "val": halves["val"], "test": halves["train"]}


def _subsample(pairs: list[Pair], limit: int | None, seed: int) -> list[Pair]:
    if limit is None or len(pairs) <= limit:
        return pairs
    return random.Random(seed).sample(pairs, limit)


def build_model(experiment: Experiment, profile: str, tokenizer, sizes: ProfileSizes | None = None):
    """The base model from its hub id (full) or a small one built from a config (smoke, cpu)."""
    sizes = sizes or sizes_for(experiment, profile)
    dropout = experiment.recipe["dropout"]
    if profile == "full":
        if experiment.family == "t5":
            return AutoModelForSeq2SeqLM.from_pretrained(experiment.base_model, dropout_rate=dropout)
        return AutoModelForCausalLM.from_pretrained(
            experiment.base_model, resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout
        )
    if experiment.family == "t5":
        config = T5Config(
            vocab_size=len(tokenizer),
            feed_forward_proj="gated-gelu",  # as pko-t5 (T5 v1.1)
            tie_word_embeddings=True,  # keeps the shipped model small
            dropout_rate=dropout,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.pad_token_id,
            num_decoder_layers=sizes.model["num_layers"],
            **sizes.model,
        )
        return T5ForConditionalGeneration(config)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        resid_pdrop=dropout,
        embd_pdrop=dropout,
        attn_pdrop=dropout,
        **sizes.model,
    )
    return GPT2LMHeadModel(config)


def encode(
    experiment: Experiment, pairs: list[Pair], tokenizer, pad_to_max_length: bool, *, train: bool = False
):
    """A split as a tokenised, cached ``datasets.Dataset``; only training rows get the
    experiment's extra label orders (val and test stay as the pipeline will see them)."""
    return encode_pairs(
        pairs,
        tokenizer,
        family=experiment.family,
        data_format=experiment.data_format,
        pad_to_max_length=pad_to_max_length,
        label_orders=experiment.label_orders if train else 1,
        min_object_rows=experiment.min_object_rows if train else 0,
    )


def peak_memory_mb() -> float:
    """CUDA max allocated when on a GPU, else the process's peak resident set size."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def colab_checkpoint_dir(name: str) -> Path | None:
    """On Colab with Google Drive mounted, checkpoints go to Drive so a lost runtime keeps them."""
    drive = Path("/content/drive/MyDrive")
    if "COLAB_RELEASE_TAG" in os.environ and drive.exists():
        return drive / "sns-comment-checkpoints" / name
    return None


def training_arguments(
    experiment: Experiment,
    profile: str,
    out: Path,
    seed: int,
    epochs: int,
    progress: bool,
    sizes: ProfileSizes | None = None,
):
    sizes = sizes or sizes_for(experiment, profile)
    recipe = experiment.recipe
    kwargs = {}
    batch, accumulation = sizes.batch_size, 1
    if experiment.large and profile == "full":
        # T5-large on a 16 GB T4: bf16 only where supported (T5 overflows in fp16), else fp32;
        # gradient checkpointing and Adafactor cut activation and optimizer memory.
        batch, accumulation = 4, sizes.batch_size // 4
        kwargs = {
            "activation_checkpointing": True,
            "optim": "adafactor",
            "bf16": torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
        }
    elif sizes.bf16 and bf16_available():
        kwargs["bf16"] = True  # autocast: weights and optimizer state stay fp32
        if not torch.cuda.is_available():
            kwargs["use_cpu"] = True  # transformers accepts bf16 without a GPU only when told
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # Each process's loss is the mean over its own tokens (DDP averages the gradients): with the
        # default token count across processes, transformers reports losses N times too large.
        kwargs["average_tokens_across_devices"] = False
        if not torch.cuda.is_available():  # accelerate joins CPU processes (gloo) only in cpu mode
            kwargs["use_cpu"] = True
    checkpoints = colab_checkpoint_dir(experiment.name) or out / "checkpoints"
    schedule = {"eval_strategy": "epoch", "save_strategy": "epoch", "logging_strategy": "epoch"}
    if sizes.eval_steps:
        schedule = {"eval_strategy": "steps", "save_strategy": "steps", "logging_strategy": "steps",
                    "eval_steps": sizes.eval_steps, "save_steps": sizes.eval_steps,
                    "logging_steps": sizes.eval_steps}  # fmt: skip
    return TrainingArguments(
        output_dir=str(checkpoints),
        **schedule,
        num_train_epochs=epochs,
        max_steps=sizes.max_steps or -1,
        per_device_train_batch_size=batch,
        per_device_eval_batch_size=sizes.batch_size,
        gradient_accumulation_steps=accumulation,
        learning_rate=sizes.learning_rate or recipe["learning_rate"],
        lr_scheduler_type=recipe["lr_scheduler_type"],
        warmup_steps=sizes.warmup_steps if sizes.warmup_steps is not None else recipe["warmup_steps"],
        weight_decay=recipe["weight_decay"],
        max_grad_norm=recipe["max_grad_norm"],
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        save_total_limit=2,
        seed=seed,
        report_to="none",
        train_sampling_strategy="group_by_length",
        disable_tqdm=not progress,
        **kwargs,
    )


def write_val_loss_csv(log_history: list[dict], path: Path) -> list[dict]:
    """One row per evaluation (each epoch, or every ``eval_steps``): epoch, step, train_loss, val_loss."""
    rows: dict[int, dict] = {}
    for entry in log_history:
        if "epoch" not in entry or "step" not in entry:
            continue
        step = entry["step"]
        row = rows.setdefault(
            step, {"epoch": round(entry["epoch"], 2), "step": step, "train_loss": "", "val_loss": ""}
        )
        if "loss" in entry:
            row["train_loss"] = round(entry["loss"], 6)
        if "eval_loss" in entry:
            row["val_loss"] = round(entry["eval_loss"], 6)
    ordered = [rows[s] for s in sorted(rows) if rows[s]["val_loss"] != ""]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["epoch", "step", "train_loss", "val_loss"])
        writer.writeheader()
        writer.writerows(ordered)
    return ordered


def train(
    name: str,
    *,
    profile: str = "cpu",
    data: str | Path | None = None,
    val_data: str | Path | None = None,
    out_dir: str | Path | None = None,
    seed: int = 42,
    epochs: int | None = None,
    pad_to_max_length: bool = False,
    resume: bool = False,
    progress: bool = True,
    base_model: str | None = None,
    changes: dict | None = None,
) -> dict:
    """Train one registry experiment; returns the run summary also saved as ``run.json``.

    Writes ``best/`` (safetensors + tokenizer + generation info), ``val_loss.csv`` and
    ``run.json`` under ``out_dir`` (default ``results_dir(family, name, profile=profile)``).
    ``base_model`` replaces the registry's hub id in the ``full`` profile (e.g. a local copy);
    ``changes`` alters sizes or recipe values for one run (``utils.lm.registry.with_changes``).
    """
    check_profile(profile)
    experiment, sizes = with_changes(get_experiment(name), profile, changes)
    if epochs is not None:
        sizes = replace(sizes, max_steps=None)  # epochs asked for by name replace a step budget
    if base_model:
        experiment = replace(experiment, base_model=base_model)
    out = Path(out_dir) if out_dir else results_dir(experiment.family, name, profile=profile)
    out.mkdir(parents=True, exist_ok=True)
    splits = load_splits(data, val_data, seed)
    train_pairs = _subsample(splits["train"], sizes.max_train, seed)
    val_pairs = _subsample(splits["val"], sizes.max_eval, seed)
    test_pairs = _subsample(splits["test"], sizes.max_eval, seed)

    # Built first: it joins the processes under torchrun / accelerate launch (DDP through Trainer).
    args = training_arguments(experiment, profile, out, seed, epochs or sizes.epochs, progress, sizes)
    is_main = args.process_index == 0
    # The main process trains and saves the tokenizer; the others then load that same one.
    with args.main_process_first(local=False, desc="tokenizer"):
        if profile == "full":
            tokenizer = hub_tokenizer(experiment.base_model, experiment.family, experiment.kogpt2)
        elif (resume or not is_main) and (out / "tokenizer" / "tokenizer.json").exists():
            tokenizer = AutoTokenizer.from_pretrained(out / "tokenizer")  # the checkpoint's own vocabulary
        else:
            texts = [text for pair in train_pairs for text in pair]
            tokenizer = train_local_tokenizer(texts, experiment.family, out / "tokenizer", sizes.vocab_size)
    torch.manual_seed(seed)
    model = build_model(experiment, profile, tokenizer, sizes)
    with args.main_process_first(desc="encoding"):  # one process per machine fills the encoding cache
        datasets = {
            split: encode(experiment, pairs, tokenizer, pad_to_max_length, train=split == "train")
            for split, pairs in {"train": train_pairs, "val": val_pairs, "test": test_pairs}.items()
        }
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=datasets["train"],
        eval_dataset=datasets["val"],
        data_collator=make_collator(tokenizer),
        callbacks=[EarlyStoppingCallback(early_stopping_patience=sizes.patience)],
    )
    time_limit = TimeLimit(sizes.time_limit_minutes) if sizes.time_limit_minutes else None
    if time_limit:
        trainer.add_callback(time_limit)
    last = get_last_checkpoint(args.output_dir) if resume and Path(args.output_dir).exists() else None
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=last)
    wall = time.perf_counter() - start
    test_metrics = trainer.evaluate(datasets["test"], metric_key_prefix="test")

    best = out / "best"
    trainer.save_model(str(best))  # every process calls it; Trainer writes from the main one only
    if not is_main:  # the others trained their shards; the main process writes the run's files
        return {
            "process_index": args.process_index,
            "processes": args.world_size,
            "optimizer_steps": trainer.state.global_step,
        }
    tokenizer.save_pretrained(best)
    info = {
        "experiment": name,
        "family": experiment.family,
        "data_format": experiment.data_format,
        "profile": profile,
        # Taught only the composer's phrases: the pipeline refuses a sentence the banks never had.
        "known_phrases_only": bank_phrases_only(train_pairs),
    }
    (best / MODEL_INFO_FILE).write_text(json.dumps(info, ensure_ascii=False, indent=1), encoding="utf-8")
    curve = write_val_loss_csv(trainer.state.log_history, out / "val_loss.csv")
    summary = {
        **info,
        "base_model": experiment.base_model
        if profile == "full"
        else f"{experiment.family} from config {sizes.model}",
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_examples": len(train_pairs),
        "train_rows": len(datasets["train"]),  # more than the examples with extra label orders
        "val_examples": len(val_pairs),
        "test_examples": len(test_pairs),
        "epochs_run": round(trainer.state.epoch or 0, 2),
        "evaluations": len(curve),
        "best_val_loss": min((row["val_loss"] for row in curve), default=None),
        "test_loss": test_metrics["test_loss"],
        "pad_to_max_length": pad_to_max_length,
        "train_seconds": round(wall, 1),
        "train_minutes": round(wall / 60, 2),
        # Rows trained on per second of wall time, evaluations included (Trainer's own figure
        # assumes every planned epoch ran, which a time limit or early stopping cuts short).
        "train_examples_per_second": round(
            trainer.state.global_step
            * args.per_device_train_batch_size
            * args.gradient_accumulation_steps
            * args.world_size
            / wall,
            2,
        ),  # fmt: skip
        "time_limit_minutes": sizes.time_limit_minutes,
        "stopped_by": "time limit"
        if time_limit and time_limit.reached
        else "early stopping"
        if trainer.state.global_step < trainer.state.max_steps
        else "steps"
        if sizes.max_steps
        else "epochs",
        "bf16": bool(args.bf16),
        "learning_rate": args.learning_rate,
        "lr_scheduler_type": str(
            args.lr_scheduler_type.value
            if hasattr(args.lr_scheduler_type, "value")
            else args.lr_scheduler_type
        ),  # fmt: skip
        "peak_memory_mb": round(peak_memory_mb(), 1),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "resumed_from": Path(last).name if last else None,
        "seed": seed,
        "processes": args.world_size,  # data-parallel processes (torchrun / accelerate launch), each its own shard
        "effective_batch_size": args.per_device_train_batch_size
        * args.gradient_accumulation_steps
        * args.world_size,
        "optimizer_steps": trainer.state.global_step,
    }
    (out / "run.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    return summary


def experiment_table() -> list[tuple[str, str, str, str]]:
    return [(e.name, e.family, e.base_model, e.note) for e in EXPERIMENTS.values()]


def add_train_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", nargs="?", help="registry name (see --list)")
    parser.add_argument(
        "--list", action="store_true", help="print every experiment with its family and base model"
    )
    parser.add_argument("--profile", choices=("smoke", "cpu", "full"), default="cpu")
    parser.add_argument("--data", type=Path, help="training data: reference JSON or JSON Lines")
    parser.add_argument("--val-data", type=Path, help="held-out data, halved into val and test")
    parser.add_argument("--out", type=Path, help="output folder (default: models/<family>/<experiment>)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--epochs", type=int)
    parser.add_argument(
        "--pad-to-max-length", action="store_true", help="the reference's recipe (for comparison)"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue from the last checkpoint in the output folder"
    )
    parser.add_argument(
        "--base-model", help="full profile: a hub id or local folder instead of the registry's"
    )


def run_train(args: argparse.Namespace) -> int:
    if args.list:
        for name, family, base, note in experiment_table():
            print(f"{name:<24}{family:<6}{base:<26}{note}")
        return 0
    if not args.experiment:
        print("python -m utils train: error: give an EXPERIMENT or --list", file=sys.stderr)
        return 2
    try:
        summary = train(
            args.experiment,
            profile=args.profile,
            data=args.data,
            val_data=args.val_data,
            out_dir=args.out,
            seed=args.seed,
            epochs=args.epochs,
            pad_to_max_length=args.pad_to_max_length,
            resume=args.resume,
            base_model=args.base_model,
        )
    except (KeyError, FileNotFoundError, ValueError) as e:
        print(f"python -m utils train: error: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
        return 2
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    if "experiment" not in summary:  # another process than the main one of a multi-process run
        rank, steps = summary["process_index"], summary["optimizer_steps"]
        print(f"process {rank} of {summary['processes']}: trained its shard ({steps} steps)", file=sys.stderr)
        return 0
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    return 0


def export_model(run: str | Path, dest: str | Path, *, half: bool = True) -> Path:
    """Copy a run's best model to ``dest`` for shipping: weights in fp16 (half the size; the
    generator computes in fp32), tokenizer, generation info and the run's summary."""
    from utils.lm.generate import model_dir_of

    source = model_dir_of(run)
    dest = Path(dest)
    generator = CommentGenerator.from_pretrained(source, device="cpu")
    model = generator.model.half() if half else generator.model
    model.save_pretrained(dest)
    generator.tokenizer.save_pretrained(dest)
    (dest / MODEL_INFO_FILE).write_bytes((source / MODEL_INFO_FILE).read_bytes())
    summary = source.parent / "run.json"
    if summary.exists():
        (dest / "run.json").write_bytes(summary.read_bytes())
    return dest
