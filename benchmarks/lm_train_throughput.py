"""Text-model training: the reference's recipe vs ours, measured in the same run.

    .venv/bin/python benchmarks/lm_train_throughput.py [--steps 40] [--batch-size 32]
    .venv/bin/python benchmarks/lm_train_throughput.py --memory [--layers 24]
    .venv/bin/python benchmarks/lm_train_throughput.py --bf16 [--steps 40]

1. Throughput: the same small T5 (the ``cpu`` profile's size) on the same comments.
   Reference recipe: inputs padded to 64, targets padded to 128 with the pad id kept in the loss,
   batches in random order. Ours: each batch padded to its own longest row, padding -100,
   batches grouped by length. Prints examples/second and the loss each reports, and the ratio.
2. ``--memory``: training steps of a model shaped like pko-t5-large (random weights, nothing is
   downloaded). Reference recipe: AdamW, fp32. Ours: Adafactor with gradient checkpointing.
   Peak CUDA memory on a GPU, else the peak resident set size of a fresh process per recipe.
3. ``--bf16``: the throughput of part 1's "ours" in fp32 and under bf16 autocast (what the
   ``cpu`` recipe's ``bf16=True`` does where the CPU supports it).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
from transformers import T5Config, T5ForConditionalGeneration
from transformers.optimization import Adafactor

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils.lm.data import encode_pairs, make_collator, train_local_tokenizer  # noqa: E402
from utils.lm.registry import get_experiment  # noqa: E402
from utils.lm.training import build_model, cpu_supports_bf16  # noqa: E402
from utils.paths import TEXT_DATA  # noqa: E402
from utils.text.dataset import read_dataset  # noqa: E402

# pko-t5-large's shape (T5 v1.1 large with its 50k Korean vocabulary).
T5_LARGE_SHAPE = {"vocab_size": 50358, "d_model": 1024, "d_kv": 64, "d_ff": 2816, "num_heads": 16}


def batches_reference(rows: list[dict], batch_size: int, seed: int) -> list[list[dict]]:
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    return [[rows[i] for i in order[s : s + batch_size]] for s in range(0, len(order), batch_size)]


def batches_grouped(rows: list[dict], batch_size: int, seed: int) -> list[list[dict]]:
    """Shuffle, then sort within mega-batches of 50 batches by length (what group_by_length does)."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    mega = batch_size * 50
    grouped = []
    for s in range(0, len(order), mega):
        grouped += sorted(order[s : s + mega], key=lambda i: -len(rows[i]["labels"]))
    batches = [[rows[i] for i in grouped[s : s + batch_size]] for s in range(0, len(grouped), batch_size)]
    random.Random(seed).shuffle(batches)
    return batches


def pad_inputs(rows: list[dict], length: int, pad_id: int) -> list[dict]:
    return [{**r, "input_ids": r["input_ids"] + [pad_id] * (length - len(r["input_ids"]))} for r in rows]


def time_training(model, batches, collate, steps: int, bf16: bool = False) -> tuple[float, float]:
    """Examples per second over ``steps`` optimiser steps (after 3 warm-up steps) and the last loss;
    ``bf16``: forward and loss under bf16 autocast, as ``Trainer`` runs them with ``bf16=True``."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    seen, loss = 0, float("nan")
    for step, batch in enumerate(batches[: steps + 3]):
        if step == 3:
            start, seen = time.perf_counter(), 0
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(**collate(batch))
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        seen += len(batch)
        loss = out.loss.item()
    return seen / (time.perf_counter() - start), loss


def benchmark_data(args: argparse.Namespace):
    """The sampled comments, a tokenizer trained on all of them, its collator and the cache folder."""
    pairs = read_dataset(TEXT_DATA / "comments_train.json")
    sample = random.Random(0).sample(pairs, min(len(pairs), args.batch_size * (args.steps + 3)))
    tokenizer = train_local_tokenizer([t for p in pairs for t in p], "t5", Path(args.work) / "tok", 4000)
    return sample, tokenizer, make_collator(tokenizer), Path(args.work) / "data"


def bf16_speed(args: argparse.Namespace) -> None:
    """The ``cpu`` T5 with our batching, fp32 vs bf16 autocast (on CPUs with AMX or AVX512-BF16
    the matrix products run in bf16; elsewhere autocast only adds casts)."""
    sample, tokenizer, collate, cache = benchmark_data(args)
    rows = encode_pairs(sample, tokenizer, family="t5", cache_dir=cache).to_list()
    print(f"CPU bf16 support (AMX or AVX512-BF16): {cpu_supports_bf16()}")
    speeds = {}
    for name, bf16 in (("fp32", False), ("bf16 autocast", True)):
        torch.manual_seed(0)
        model = build_model(get_experiment("transfer_0"), "cpu", tokenizer)
        speed, loss = time_training(
            model, batches_grouped(rows, args.batch_size, 0), collate, args.steps, bf16
        )
        speeds[name] = speed
        print(f"{name:<14} {speed:8.1f} examples/s   loss after {args.steps + 3} steps {loss:.4f}")
    print(
        f"bf16 / fp32: {speeds['bf16 autocast'] / speeds['fp32']:.2f}x  (threads: {torch.get_num_threads()})"
    )


def throughput(args: argparse.Namespace) -> None:
    sample, tokenizer, collate, cache = benchmark_data(args)
    experiment = get_experiment("transfer_0")
    reference_rows = pad_inputs(
        encode_pairs(sample, tokenizer, family="t5", pad_to_max_length=True, cache_dir=cache).to_list(),
        64,
        tokenizer.pad_token_id,
    )
    our_rows = encode_pairs(sample, tokenizer, family="t5", cache_dir=cache).to_list()
    results = {}
    for name, rows, batching in (
        ("reference (pad 128, padding in loss)", reference_rows, batches_reference),
        ("ours (dynamic padding, -100, grouped)", our_rows, batches_grouped),
    ):
        torch.manual_seed(0)
        model = build_model(experiment, "cpu", tokenizer)
        results[name] = time_training(model, batching(rows, args.batch_size, 0), collate, args.steps)
        print(
            f"{name:<40} {results[name][0]:8.1f} examples/s   loss after {args.steps + 3} steps {results[name][1]:.4f}"
        )
    (ref_speed, ref_loss), (our_speed, our_loss) = results.values()
    print(f"speed-up: {our_speed / ref_speed:.2f}x  (threads: {torch.get_num_threads()})")
    print(
        f"the reference's loss is {ref_loss / our_loss:.2f}x ours here: padding positions are easy to "
        "predict, so its reported loss mostly measures padding"
    )


def memory_step(recipe: str, layers: int, batch_size: int, steps: int) -> dict:
    """Runs in a fresh process: a few training steps with one recipe, then the peak memory."""
    torch.manual_seed(0)
    config = T5Config(
        **T5_LARGE_SHAPE, num_layers=layers, num_decoder_layers=layers, feed_forward_proj="gated-gelu",
        tie_word_embeddings=False, decoder_start_token_id=0,
    )  # fmt: skip
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = T5ForConditionalGeneration(config).to(device)
    if recipe == "ours":
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
        optimizer = Adafactor(model.parameters(), lr=1e-3, relative_step=False, scale_parameter=False)
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
    model.train()
    generator = torch.Generator().manual_seed(0)
    # The same 64 target positions for both, so the figure isolates optimiser + checkpointing
    # (dynamic padding saves more on top: part 1 of this script).
    target_len = 64
    start = time.perf_counter()
    for _ in range(steps):
        inputs = torch.randint(5, 50000, (batch_size, 16), generator=generator).to(device)
        labels = torch.randint(5, 50000, (batch_size, target_len), generator=generator).to(device)
        model(input_ids=inputs, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    seconds = (time.perf_counter() - start) / steps
    if device == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**30
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    params = sum(p.numel() for p in model.parameters()) / 1e6
    return {
        "recipe": recipe,
        "device": device,
        "peak_gib": peak,
        "seconds_per_step": seconds,
        "params_m": params,
    }


def memory(args: argparse.Namespace) -> None:
    results = {}
    for recipe in ("reference", "ours"):
        command = [sys.executable, __file__, "--memory-child", recipe, "--layers", str(args.layers),
                   "--batch-size", str(args.memory_batch_size), "--steps", str(args.memory_steps)]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        results[recipe] = json.loads(out.strip().splitlines()[-1])
        r = results[recipe]
        kind = "CUDA max allocated" if r["device"] == "cuda" else "process peak RSS"
        print(
            f"{recipe:<10} {r['params_m']:.0f}M params  {kind} {r['peak_gib']:.2f} GiB  "
            f"{r['seconds_per_step']:.1f} s/step"
        )
    print(
        f"memory ratio reference / ours: {results['reference']['peak_gib'] / results['ours']['peak_gib']:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--work", default="/tmp/lm_bench")
    parser.add_argument("--memory", action="store_true", help="the pko-t5-large-shaped memory comparison")
    parser.add_argument("--bf16", action="store_true", help="fp32 vs bf16 autocast for the cpu T5")
    parser.add_argument("--layers", type=int, default=24, help="encoder and decoder layers (large: 24)")
    parser.add_argument("--memory-batch-size", type=int, default=8)
    parser.add_argument("--memory-steps", type=int, default=2)
    parser.add_argument("--memory-child", choices=("reference", "ours"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        print(
            json.dumps(memory_step(args.memory_child, args.layers, args.memory_batch_size, args.memory_steps))
        )
    elif args.memory:
        memory(args)
    elif args.bf16:
        bf16_speed(args)
    else:
        throughput(args)


if __name__ == "__main__":
    main()
