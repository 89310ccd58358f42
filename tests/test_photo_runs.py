"""Resumable photo runs (``python -m utils comment DIR --results FILE``): the lazy folder walk,
the stable shard hash, one row per photo, skipping what is done, refusing a results file of
another run, broken photos recorded, merging part files, and runs killed with SIGKILL."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from utils.paths import ROOT
from utils.pipeline.comment_pipeline import CommentPipeline
from utils.pipeline.runs import (
    ResultsFileError,
    done_photos,
    merge_parts,
    part_path,
    pin_local_gpu,
    run_folder,
    run_header,
    shard_of,
    walk_photos,
)
from utils.text.dataset import read_jsonl


def make_photos(folder: Path, count: int, *, nested_every: int = 3) -> list[str]:
    """Small distinct JPEGs (every ``nested_every``-th in a sub-folder); returns their keys."""
    keys = []
    for i in range(count):
        key = f"sub/p{i:03d}.jpg" if nested_every and i % nested_every == 0 else f"p{i:03d}.jpg"
        image = Image.new("RGB", (160, 140), (40 + 5 * i % 200, 120, 200 - 3 * i % 150))
        ImageDraw.Draw(image).ellipse((10 + i % 30, 10, 90, 70 + i % 40), fill=(230, 200, 90))
        (folder / key).parent.mkdir(parents=True, exist_ok=True)
        image.save(folder / key, quality=80)
        keys.append(key)
    return keys


def rows_of(path: Path) -> list[dict]:
    """The photo rows (after the header); a line a killed writer left unfinished is not one."""
    return read_jsonl(path)[1:]


@pytest.fixture(scope="module")
def pipeline() -> CommentPipeline:
    return CommentPipeline(offline=True, batch_size=3)


def test_walk_is_lazy_and_enters_sub_folders_only_when_asked(tmp_path):
    keys = make_photos(tmp_path, 7)
    (tmp_path / "notes.txt").write_text("not a photo")
    (tmp_path / "sub" / "deeper").mkdir()
    (tmp_path / "sub" / "deeper" / "x.PNG").write_bytes(b"")
    walk = walk_photos(tmp_path, recursive=True)
    assert next(walk).suffix.lower() in {".jpg", ".png"}  # a generator: one path at a time
    top = {p.relative_to(tmp_path).as_posix() for p in walk_photos(tmp_path)}
    assert top == {k for k in keys if "/" not in k}
    everything = {p.relative_to(tmp_path).as_posix() for p in walk_photos(tmp_path, recursive=True)}
    assert everything == set(keys) | {"sub/deeper/x.PNG"}


def test_shard_hash_is_stable_across_processes_and_splits_the_photos():
    keys = [f"album/{i:05d}.jpg" for i in range(1000)]
    shards = [shard_of(k, 2) for k in keys]
    assert 450 < shards.count(0) < 550
    script = (
        "import sys; from utils.pipeline.runs import shard_of; print([shard_of(k, 3) for k in sys.argv[1:]])"
    )
    for seed in ("1", "2"):  # Python's own str hash would change with PYTHONHASHSEED
        out = subprocess.run(
            [sys.executable, "-c", script, *keys[:50]],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert json.loads(out) == [shard_of(k, 3) for k in keys[:50]]


def test_one_row_per_photo_a_broken_photo_recorded_and_a_rerun_skips_what_is_done(pipeline, tmp_path):
    folder = tmp_path / "photos"
    keys = make_photos(folder, 7)
    (folder / "sub" / "broken.jpg").write_bytes(b"this is not a jpeg")
    results = tmp_path / "results.jsonl"
    counts = run_folder(pipeline, folder, results, recursive=True, progress=False)
    assert (counts.done, counts.failed, counts.skipped) == (8, 1, 0)
    rows = {r["photo"]: r for r in rows_of(results)}
    assert sorted(rows) == sorted([*keys, "sub/broken.jpg"])
    assert "not an image" in rows["sub/broken.jpg"]["error"]
    assert all(rows[k]["error"] is None and rows[k]["comment"] for k in keys)
    header = json.loads(results.read_text(encoding="utf-8").splitlines()[0])
    assert header == run_header(folder, recursive=True, pipeline=pipeline)

    make_photos(folder / "more", 2, nested_every=0)
    again = run_folder(pipeline, folder, results, recursive=True, progress=False)
    assert (again.done, again.skipped) == (2, 8)
    assert sorted(r["photo"] for r in rows_of(results)) == sorted(
        [*keys, "sub/broken.jpg", "more/p000.jpg", "more/p001.jpg"]
    )


def test_a_results_file_of_another_folder_or_settings_is_refused_untouched(pipeline, tmp_path):
    folder, other = tmp_path / "a", tmp_path / "b"
    make_photos(folder, 2, nested_every=0)
    make_photos(other, 2, nested_every=0)
    results = tmp_path / "results.jsonl"
    run_folder(pipeline, folder, results, progress=False)
    before = results.read_bytes()
    with pytest.raises(ResultsFileError, match=r"another run \(folder .*'\S+/b'\)"):
        run_folder(pipeline, other, results, progress=False)
    with pytest.raises(ResultsFileError, match="recursive False → True"):
        run_folder(pipeline, folder, results, recursive=True, progress=False)
    reseeded = CommentPipeline(offline=True, seed=7, load_vision=False)
    reseeded.detectors = pipeline.detectors
    with pytest.raises(ResultsFileError, match="seed 0 → 7"):
        run_folder(reseeded, folder, results, progress=False)
    casual = CommentPipeline(offline=True, style="반말", load_vision=False)
    casual.detectors = pipeline.detectors
    with pytest.raises(ResultsFileError, match="style '존댓말,다정한' → '반말,다정한'"):
        run_folder(casual, folder, results, progress=False)
    foreign = tmp_path / "pairs.jsonl"
    foreign.write_text('{"labels": "기쁨", "comment": "좋아요!"}\n', encoding="utf-8")
    with pytest.raises(ResultsFileError, match="not a photo-run results file"):
        run_folder(pipeline, folder, foreign, progress=False)
    assert results.read_bytes() == before


def test_a_photo_that_breaks_its_batch_fails_alone(pipeline, tmp_path, monkeypatch):
    folder = tmp_path / "photos"
    keys = make_photos(folder, 5, nested_every=0)
    real = pipeline.run_batch

    def explode_on_p002(paths, out_dir=None):
        if any(p.name == "p002.jpg" for p in paths):
            raise RuntimeError("detector crashed")
        return real(paths, out_dir=out_dir)

    monkeypatch.setattr(pipeline, "run_batch", explode_on_p002)
    counts = run_folder(pipeline, folder, tmp_path / "r.jsonl", progress=False)
    rows = {r["photo"]: r for r in rows_of(tmp_path / "r.jsonl")}
    assert (counts.done, counts.failed) == (5, 1) and sorted(rows) == keys
    assert rows["p002.jpg"]["error"] == "RuntimeError: detector crashed"
    assert all(rows[k]["comment"] for k in keys if k != "p002.jpg")


def test_merge_joins_parts_once_even_when_repeated(pipeline, tmp_path):
    folder = tmp_path / "photos"
    make_photos(folder, 1, nested_every=0)
    results = tmp_path / "results.jsonl"
    header = run_header(folder, recursive=False, pipeline=pipeline)
    line = json.dumps(header) + "\n"
    results.write_text(line + json.dumps({"photo": "a.jpg"}) + "\n")
    part_path(results, 0, 2).write_text(line + json.dumps({"photo": "b.jpg"}) + "\n")
    # rank 1 was killed mid-line; its complete rows count, the partial one does not
    part_path(results, 1, 2).write_text(
        line + json.dumps({"photo": "a.jpg"}) + "\n" + json.dumps({"photo": "c.jpg"}) + '\n{"photo": "d.'
    )
    assert merge_parts(results, header) == 2
    assert [r["photo"] for r in rows_of(results)] == ["a.jpg", "b.jpg", "c.jpg"]
    assert not part_path(results, 0, 2).exists() and not part_path(results, 1, 2).exists()
    assert merge_parts(results, header) == 0 and done_photos(results, header) == {"a.jpg", "b.jpg", "c.jpg"}


def test_a_row_without_its_photo_is_named_with_its_line(pipeline, tmp_path):
    folder = tmp_path / "photos"
    make_photos(folder, 1, nested_every=0)
    results = tmp_path / "results.jsonl"
    header = run_header(folder, recursive=False, pipeline=pipeline)
    results.write_text(json.dumps(header) + '\n{"photo": "a.jpg"}\n{"comment": "좋아요"}\n', encoding="utf-8")
    with pytest.raises(ResultsFileError, match=r"results.jsonl, line 3: not a photo row"):
        run_folder(pipeline, folder, results, progress=False)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WORLD_SIZE": "2", "LOCAL_RANK": "1"}, "1"),  # torchrun rank 1 sees only GPU 1
        ({"WORLD_SIZE": "2", "LOCAL_RANK": "1", "CUDA_VISIBLE_DEVICES": "3"}, "3"),  # the user's choice stays
        ({"WORLD_SIZE": "1", "LOCAL_RANK": "0"}, None),  # one process: nothing changes
    ],
)
def test_each_process_sees_its_own_gpu(monkeypatch, env, expected):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # so monkeypatch restores it afterwards, even if unset
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    pin_local_gpu()
    assert os.environ.get("CUDA_VISIBLE_DEVICES") == expected


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--recursive"], "--recursive walks a folder for a --results run"),
        (["--results", "r.jsonl", "--labels", "기쁨"], "--results takes exactly one folder of photos"),
    ],
)
def test_cli_refuses_results_options_that_cannot_work(tmp_path, extra, message):
    done = subprocess.run(
        [sys.executable, "-m", "utils", "comment", str(tmp_path), *extra, "--offline"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and message in done.stderr


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


# Starting Python with torch and transformers takes seconds here, so the killed runs are forked
# from one process that imported them: each run is still its own process, with nothing of the
# earlier runs but the results file, running the real command line and killed with SIGKILL.
FORK_SERVER = """
import os, sys
import utils.__main__ as cli, utils.pipeline.runs, utils.datagen.runner, utils.lm.training, utils.vision  # slow imports, once

for line in sys.stdin:
    if line.startswith("start"):
        pid = os.fork()
        if pid == 0:
            quiet = os.open(os.devnull, os.O_WRONLY)
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
            os._exit(cli.main(sys.argv[1:]))
        print(pid, flush=True)
    else:
        print(os.waitpid(int(line.split()[1]), 0)[1], flush=True)
"""


def test_sigkill_at_random_points_then_rerun_gives_exactly_one_row_per_photo(tmp_path):
    folder = tmp_path / "photos"
    keys = make_photos(folder, 60)
    results = tmp_path / "results.jsonl"
    args = [
        "comment",
        str(folder),
        "--results",
        str(results),
        "--recursive",
        "--offline",
        "--batch-size",
        "2",
    ]
    rng = random.Random(15)
    kills = 0
    with subprocess.Popen(
        [sys.executable, "-c", FORK_SERVER, *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as server:
        for _ in range(10):
            target = _lines(results) + rng.randint(1, 3)
            server.stdin.write("start\n")
            server.stdin.flush()
            pid = int(server.stdout.readline())
            deadline = time.monotonic() + 60
            while _lines(results) < target and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.02))  # lands anywhere: between rows, mid-batch, mid-write
            os.kill(pid, signal.SIGKILL)
            server.stdin.write(f"wait {pid}\n")
            server.stdin.flush()
            status = int(server.stdout.readline())
            kills += os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        server.stdin.close()
    assert kills == 10
    killed_rows = rows_of(results)
    assert 10 <= len(killed_rows) < len(keys)

    rerun = subprocess.run(
        [sys.executable, "-m", "utils", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert rerun.returncode == 0, rerun.stderr
    done = len(killed_rows)
    assert f"{len(keys) - done} photo(s) commented (0 failed), {done} already done" in rerun.stderr
    photos = [r["photo"] for r in rows_of(results)]
    assert sorted(photos) == sorted(keys)  # none lost, none twice
    assert all(r["comment"] and r["error"] is None for r in rows_of(results))
