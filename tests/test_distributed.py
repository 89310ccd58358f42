"""Data parallel on torch.distributed, with 2 CPU processes (gloo) started by torchrun: training
through Trainer (DDP) and photo runs sharded by path; and the smoke sizes of the pipeline and
web-page load benchmarks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from test_photo_runs import make_photos

from utils.lm import training as lm
from utils.paths import ROOT
from utils.pipeline.runs import shard_of
from utils.text.dataset import read_jsonl

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def launch(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [*TORCHRUN, "-m", "utils", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_two_processes_train_their_shards_and_the_main_one_writes_one_set_of_files(tmp_path):
    single = lm.train("transfer_0", profile="smoke", out_dir=tmp_path / "one", progress=False)
    done = launch("train", "transfer_0", "--profile", "smoke", "--out", str(tmp_path / "two"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "process 1 of 2: trained its shard (4 steps)" in done.stderr
    assert done.stdout.count('"experiment"') == 1  # one summary, printed by the main process
    run = json.loads((tmp_path / "two" / "run.json").read_text(encoding="utf-8"))
    assert run == json.loads(done.stdout[done.stdout.index('{\n "experiment"') :])
    # 48 examples, batch 16 per process, 2 epochs: 3 steps an epoch alone, 2 when the data is halved
    assert (single["processes"], single["effective_batch_size"], single["optimizer_steps"]) == (1, 16, 6)
    assert (run["processes"], run["effective_batch_size"], run["optimizer_steps"]) == (2, 32, 4)
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == [
        "best",
        "checkpoints",
        "run.json",
        "tokenizer",
        "val_loss.csv",
    ]
    assert (tmp_path / "two" / "val_loss.csv").read_text().count("\n") == 3  # header + 2 epochs
    # Same data, model and recipe: the losses agree within a few percent of one process's.
    assert abs(run["best_val_loss"] - single["best_val_loss"]) < 0.05 * single["best_val_loss"]
    assert abs(run["test_loss"] - single["test_loss"]) < 0.05 * single["test_loss"]


def test_two_processes_comment_their_shards_into_one_results_file(tmp_path):
    folder = tmp_path / "photos"
    keys = make_photos(folder, 9)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    keys.append("broken.jpg")
    results = tmp_path / "results.jsonl"
    done = launch("comment", str(folder), "--results", str(results), "--recursive", "--offline", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    for rank in (0, 1):
        mine = [k for k in keys if shard_of(k, 2) == rank]
        failed = int("broken.jpg" in mine)
        assert (
            f"rank {rank} of 2: {len(mine)} photo(s) commented ({failed} failed), 0 already done"
            in done.stderr
        )
    assert "✗ broken.jpg:" in done.stderr  # the rank that met it said so and went on
    rows = read_jsonl(results)[1:]
    assert sorted(r["photo"] for r in rows) == sorted(keys)  # each photo once, from both ranks
    assert [r["photo"] for r in rows if r["error"]] == ["broken.jpg"]
    assert all(r["comment"] for r in rows if not r["error"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos", "results.jsonl"]  # parts merged away
    again = launch("comment", str(folder), "--results", str(results), "--recursive", "--offline", "--json")
    assert again.returncode == 0 and "merged" not in again.stderr
    assert f"{len(keys)} photo row(s) in {results}, 1 with an error" in again.stderr


def smoke_run(benchmark: str) -> subprocess.CompletedProcess:
    """``benchmarks/<benchmark> --smoke``, which must succeed. OpenVINO in f32: on a CPU with AMX or
    AVX512-BF16 its default bf16 moves the near-tied scores of the smoke run's untrained detector,
    and the check of OpenVINO against PyTorch is about computing the same thing."""
    done = subprocess.run(
        [sys.executable, str(Path("benchmarks") / benchmark), "--smoke"],
        env=os.environ | {"SNS_OPENVINO_PRECISION": "f32"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_pipeline_benchmark_runs_both_ways_at_a_tiny_size():
    done = smoke_run("pipeline_latency.py")
    for line in (
        "reference way (1 thread)",
        "ours, 1 process (batches of 2)",
        "ours, 2 processes (batches of 2)",
        "ours int8, 1 process (batches of 2)",  # SNS_OPENVINO_PRECISION=int8 for that run only
        "throughput ratio ours, 2 processes / reference way:",
        "throughput ratio ours int8, 1 process / reference way:",
        "OpenVINO (f32) vs PyTorch, one photo at a time:",
        "labels identical",
        "ours: guided + checks, batches of 8",
    ):
        assert line in done.stdout


def test_the_page_under_load_answers_each_user_with_their_own_photo_and_outlives_a_dropped_client():
    """benchmarks/app_load.py at a small size: 3 gradio_client users at once, 2 photos each; a
    client killed mid-request, then the next one."""
    done = smoke_run("app_load.py")
    assert "requests: 6 sent, 6 answered, 0 problems" in done.stdout
    assert "6 distinct photos, " in done.stdout
    assert "latency: p50 " in done.stdout and ", p95 " in done.stdout
    assert "disconnect: answered in " in done.stdout
