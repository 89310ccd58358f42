"""Data-generation throughput: the reference's one-request-at-a-time loop vs the runner, and the
runner's requests-per-minute limit against a server that enforces one.

    .venv/bin/python benchmarks/datagen_throughput.py [--requests 200] [--latency 0.2]
        [--concurrency 16] [--rpm 60] [--rpm-requests 30] [--backend openai|gemini]

Everything runs against the local fake server (tests/fake_llm_server.py) through the real SDK,
so the figures measure the client side: with a fixed server latency, a sequential loop is
bound by requests x latency, the runner by requests x latency / concurrency. Both are measured
in the same run with the same backend object.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fake_llm_server import FakeLLMServer  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from utils.datagen.backends import make_llm_backend  # noqa: E402
from utils.datagen.runner import Backend, Request, as_inputs, generate_dataset  # noqa: E402
from utils.text.labelsets import sample_label_sets  # noqa: E402


def backend_for(server: FakeLLMServer, name: str) -> Backend:
    os.environ.setdefault("OPENAI_API_KEY" if name == "openai" else "GEMINI_API_KEY", "benchmark")
    url = server.openai_url if name == "openai" else server.url
    return make_llm_backend(name, base_url=url, env_file=Path(os.devnull))


def reference_loop(backend: Backend, label_strings: list[str]) -> float:
    """The reference's way: one request, wait for it, then the next. Seconds taken."""

    async def run() -> None:
        for input_id, labels in tqdm(as_inputs(label_strings), desc="one at a time", unit="req"):
            await backend.complete(Request(input_id, labels))

    start = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - start


def achieved_rpm(times: list[float]) -> float:
    """Requests per minute the server accepted, from the first arrival to the last."""
    return (len(times) - 1) / (times[-1] - times[0]) * 60 if len(times) > 1 else 0.0


def throughput(args: argparse.Namespace, work: Path) -> None:
    labels = sample_label_sets(args.requests, seed=1)
    with FakeLLMServer(latency=args.latency) as server:
        backend = backend_for(server, args.backend)
        sequential = reference_loop(backend, labels)
        summary = generate_dataset(labels, work / "concurrent.jsonl", backend, concurrency=args.concurrency)
    concurrent = summary.seconds
    print(f"\n== throughput: {args.requests} requests, server latency {args.latency * 1000:.0f} ms ==")
    print(f"reference loop (one at a time): {sequential:6.2f} s  {args.requests / sequential:6.1f} req/s")
    print(
        f"runner, concurrency {args.concurrency:<3}       : {concurrent:6.2f} s  "
        f"{args.requests / concurrent:6.1f} req/s  ({summary.written} rows, {summary.rejected} rejected)"
    )
    print(f"speed-up: {sequential / concurrent:.1f}x")


def rate_limit(args: argparse.Namespace, work: Path) -> None:
    labels = sample_label_sets(args.rpm_requests, seed=2)
    print(f"\n== rate limit: {args.rpm_requests} requests, server enforces {args.rpm:g} rpm ==")
    for name, client_rpm in (("runner --rpm", args.rpm), ("runner without --rpm", None)):
        with FakeLLMServer(latency=args.latency, rpm=args.rpm) as server:
            backend = backend_for(server, args.backend)
            summary = generate_dataset(
                labels,
                work / f"rpm-{client_rpm}.jsonl",
                backend,
                concurrency=args.concurrency,
                rpm=client_rpm,
            )
            rate = achieved_rpm(server.call_times)
        print(
            f"{name:<21}: {rate:5.1f} rpm accepted by the server ({rate / args.rpm - 1:+.1%} of the limit), "
            f"{summary.rate_limited} 429s seen by the caller ({server.rate_limited_sent} sent), "
            f"{summary.written}/{len(labels)} rows in {summary.seconds:.1f} s"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.2, help="fixed server latency in seconds")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rpm", type=float, default=60.0, help="limit the server enforces (0: skip)")
    parser.add_argument("--rpm-requests", type=int, default=30, help="requests in the rate-limit part")
    parser.add_argument("--backend", choices=("openai", "gemini"), default="openai")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="datagen-bench-") as tmp:
        throughput(args, Path(tmp))
        if args.rpm:
            rate_limit(args, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
