"""A command killed with SIGKILL part-way through writing its JSON Lines output, then run again to
the end: what the resume tests of the data generation start from."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from utils.paths import ROOT
from utils.text.dataset import read_jsonl


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def kill_then_rerun(
    command: Sequence[str], env: Mapping[str, str], out: Path, *, after: int, wait: float = 120
) -> tuple[list[dict], subprocess.CompletedProcess]:
    """Start ``command``, SIGKILL it once ``out`` has ``after`` lines, run it again to the end; returns
    the rows that were in ``out`` at the kill and the finished re-run (its output captured as text)."""
    first = subprocess.Popen(
        command, cwd=ROOT, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + wait
    while _lines(out) < after and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    assert first.wait(timeout=10) == -signal.SIGKILL, "the command ended before it was killed"
    before = read_jsonl(out)
    rerun = subprocess.run(command, cwd=ROOT, env=dict(env), capture_output=True, text=True, timeout=wait)
    return before, rerun
