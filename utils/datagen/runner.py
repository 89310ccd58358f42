"""Comment data generation: the prompt, generation backends behind one async interface, and the
resumable, rate-limited runner that writes the dataset row by row.

The reference sent one request at a time with no retry, cache or resume, and kept whatever came
back. Here every output is checked (``textdata.validate_comment``) and regenerated up to k times,
finished rows are appended and fsynced as they arrive, and a re-run skips finished inputs.
LLM backends (OpenAI, Gemini, the OpenAI Batch API) live in ``utils.datagen.backends``.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from utils.datagen.base import (  # noqa: F401
    Backend,
    Completion,
    Request,
    RetryableError,
    RunSummary,
    as_inputs,
    finished_ids,
    output_row,
    rejected_path,
    styles_by_id,
)

# The prompt and the run types live in their own modules (no import circle with the LLM
# backends); callers keep importing them from here.
from utils.datagen.prompt import EXAMPLE_COMMENT, EXAMPLE_LABELS, SYSTEM_MESSAGE, build_messages  # noqa: F401
from utils.text.composer import OfflineComposer
from utils.text.dataset import append_jsonl, read_jsonl, validate_comment, write_reference_json
from utils.text.labelsets import sample_label_sets
from utils.text.styles import Style, add_style_args, model_input, styles_for

DEFAULT_SEED = 20241125


class OfflineBackend(Backend):
    """The phrase-bank composer behind the same interface: no key, no network, reproducible."""

    name = "offline"

    def __init__(self, seed: int = 0) -> None:
        self.composer = OfflineComposer(seed=seed)

    async def complete(self, request: Request) -> Completion:
        key = f"{request.id}:{request.attempt}"
        return Completion(self.composer.compose(request.labels, key=key, style=request.style))


class RateLimiter:
    """Spaces request starts at least 60/rpm seconds apart (no bursts that trip a 429)."""

    def __init__(self, rpm: float | None) -> None:
        self.interval = 60.0 / rpm if rpm else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        await asyncio.sleep(start - now)


async def call_with_retries(
    backend: Backend,
    request: Request,
    limiter: RateLimiter,
    summary: RunSummary,
    *,
    max_retries: int,
    base_delay: float,
    timeout: float,
) -> Completion:
    for retry in range(max_retries + 1):
        await limiter.wait()
        try:
            return await asyncio.wait_for(backend.complete(request), timeout)
        except (RetryableError, TimeoutError) as e:
            if retry == max_retries:
                raise RetryableError(f"gave up after {max_retries + 1} tries: {e or 'time-out'}") from e
            summary.retries += 1
            retry_after = getattr(e, "retry_after", None)
            if "429" in str(e) or "rate" in str(e).lower():
                summary.rate_limited += 1
            # Exponential backoff with full jitter; when the server names a wait, that wait plus
            # jitter, so workers told the same Retry-After do not all come back at once.
            jitter = random.uniform(0, base_delay * 2**retry)
            await asyncio.sleep(retry_after + random.uniform(0, base_delay) if retry_after else jitter)
    raise AssertionError("unreachable")


async def _generate(
    inputs: Sequence[tuple[str, str]],
    out: Path,
    backend: Backend,
    summary: RunSummary,
    styles: dict[str, Style],
    *,
    concurrency: int,
    rpm: float | None,
    max_regenerations: int,
    max_retries: int,
    base_delay: float,
    timeout: float,
    progress: bool,
) -> None:
    limiter = RateLimiter(rpm)
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for item in inputs:
        queue.put_nowait(item)
    bar = tqdm(total=len(inputs), desc=f"generate ({backend.name})", unit="row", disable=not progress)

    def show() -> None:
        bar.set_postfix(
            rejected=summary.rejected,
            retries=summary.retries,
            tokens=summary.prompt_tokens + summary.completion_tokens,
            cost=f"${summary.cost_usd:.4f}",
            refresh=False,
        )

    async def answer(input_id: str, labels: str) -> tuple[dict | None, list[dict]]:
        """The first valid comment for one input (as its output row), and every invalid try."""
        tried: list[dict] = []
        style = styles[input_id]
        for attempt in range(max_regenerations + 1):
            try:
                completion = await call_with_retries(
                    backend,
                    Request(input_id, labels, attempt, style),
                    limiter,
                    summary,
                    max_retries=max_retries,
                    base_delay=base_delay,
                    timeout=timeout,
                )
            except RetryableError as e:
                summary.errors.append(f"input {input_id} ({labels}): {e}")
                return None, [*tried, {"comment": None, "problems": [str(e)]}]
            summary.prompt_tokens += completion.prompt_tokens
            summary.completion_tokens += completion.completion_tokens
            summary.cost_usd += backend.cost(completion.prompt_tokens, completion.completion_tokens)
            comment = completion.text.strip()
            problems = validate_comment(comment, labels, style=style)
            if not problems:
                return output_row(input_id, labels, comment, backend.name, style, attempt + 1), tried
            tried.append({"comment": comment, "problems": problems})
        return None, tried

    async def worker() -> None:
        while not queue.empty():
            input_id, labels = queue.get_nowait()
            row, tried = await answer(input_id, labels)
            if row is not None:
                append_jsonl(out, row)
                summary.written += 1
            else:
                reject = {"id": input_id, "labels": labels, "backend": backend.name}
                reject |= {"style": styles[input_id].key, "tried": tried}
                append_jsonl(rejected_path(out), reject)
                summary.rejected += 1
            bar.update(1)
            show()

    try:
        await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    finally:
        bar.close()


def run_coroutine(coroutine) -> None:
    """``asyncio.run``, also from inside a running loop (Jupyter): then in a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()


def generate_dataset(
    label_strings: Sequence[str],
    out: str | Path,
    backend: Backend | None = None,
    *,
    styles: Style | str | Sequence[Style | str] | None = None,
    concurrency: int = 8,
    rpm: float | None = None,
    max_regenerations: int = 3,
    max_retries: int = 6,
    base_delay: float = 1.0,
    timeout: float = 60.0,
    progress: bool = True,
) -> RunSummary:
    """Generate one comment per label string into ``out`` (JSON Lines), resuming a previous run.

    Rows are appended as they finish (order follows completion; each carries its input ``id``);
    outputs that fail ``validate_comment`` (with their style) are regenerated up to
    ``max_regenerations`` times and then recorded with their problems in ``<out>.rejected.jsonl``.
    Ctrl-C stops cleanly: what was written stays, and the next run continues from there.
    ``styles``: one style for every row, or one per label string (a style mix); default 존댓말 · 다정한.
    """
    out = Path(out)
    backend = backend or OfflineBackend()
    inputs = as_inputs(label_strings)
    style_of = styles_by_id(inputs, styles)
    done = finished_ids(out, inputs, style_of)
    todo = [item for item in inputs if item[0] not in done]
    summary = RunSummary(requested=len(inputs), skipped=len(inputs) - len(todo))
    start = time.perf_counter()
    try:
        run_coroutine(
            _generate(
                todo,
                out,
                backend,
                summary,
                style_of,
                concurrency=concurrency,
                rpm=rpm,
                max_regenerations=max_regenerations,
                max_retries=max_retries,
                base_delay=base_delay,
                timeout=timeout,
                progress=progress,
            )
        )
    except KeyboardInterrupt:
        summary.interrupted = True
    summary.seconds = time.perf_counter() - start
    return summary


def export_reference_json(jsonl_path: str | Path, json_path: str | Path) -> Path:
    """The generated rows, in input order, in the reference format ``{"0": [labels, comment]}``;
    a row in another style than the default is ``[labels, comment, style]`` (data/README.md)."""
    rows = sorted(
        read_jsonl(jsonl_path), key=lambda r: int(r["id"]) if str(r["id"]).isdigit() else str(r["id"])
    )
    return write_reference_json(
        [(model_input(r["labels"], r.get("style")), r["comment"]) for r in rows], json_path
    )


def make_backend(
    name: str, *, model: str | None = None, seed: int = 0, base_url: str | None = None
) -> Backend:
    """``offline``, ``openai`` or ``gemini``; LLM keys come from the environment or ``.env``."""
    if name == "offline":
        return OfflineBackend(seed=seed)
    from utils.datagen import backends as llm_backends

    return llm_backends.make_llm_backend(name, model=model, base_url=base_url)


def add_generate_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=("offline", "openai", "gemini"), default="offline")
    parser.add_argument("--model", help="LLM model name (default: gpt-4o-mini / gemini-2.0-flash)")
    parser.add_argument("--base-url", help="API base URL (a proxy or a local test server)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--inputs", type=Path, help="text file with one label string per line")
    source.add_argument(
        "--sample", type=int, metavar="N", help="draw N label sets with the reference's distribution"
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="sampler seed (fixed default: same inputs)"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="output JSON Lines file (resumed if it exists)"
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rpm", type=float, help="requests-per-minute limit (Gemini free tier: 15)")
    parser.add_argument("--regenerate", type=int, default=3, help="regenerations of an invalid output")
    parser.add_argument("--export", type=Path, help="also write the reference JSON format here")
    parser.add_argument("--batch", action="store_true", help="OpenAI Batch API: upload, poll, merge")
    add_style_args(parser, "one style for every row, e.g. 반말,유쾌한 (default: 존댓말,다정한)")


def read_input_file(path: Path) -> list[str]:
    if not path.exists():
        raise FileNotFoundError(f"inputs file not found: {path}")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_generate(args: argparse.Namespace) -> int:
    try:
        label_strings = (
            read_input_file(args.inputs) if args.inputs else sample_label_sets(args.sample, seed=args.seed)
        )
        styles = styles_for(len(label_strings), args.style, args.style_mix, args.seed)
        backend = make_backend(args.backend, model=args.model, seed=args.seed, base_url=args.base_url)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"python -m utils generate: error: {e}", file=sys.stderr)
        return 2
    try:
        if args.batch:
            from utils.datagen import backends as llm_backends

            summary = llm_backends.run_openai_batch(label_strings, args.out, backend, styles=styles)
        else:
            summary = generate_dataset(
                label_strings,
                args.out,
                backend,
                styles=styles,
                concurrency=args.concurrency,
                rpm=args.rpm,
                max_regenerations=args.regenerate,
            )
    except ValueError as e:
        print(f"python -m utils generate: error: {e}", file=sys.stderr)
        return 2
    print(
        f"{summary.written} written, {summary.skipped} already done, {summary.rejected} rejected "
        f"(see {rejected_path(args.out).name}), {summary.retries} retries, "
        f"{summary.prompt_tokens + summary.completion_tokens} tokens, ${summary.cost_usd:.4f}, {summary.seconds:.1f} s",
        file=sys.stderr,
    )
    if summary.interrupted:
        print("interrupted: finished rows are saved; run the same command again to resume", file=sys.stderr)
        return 130
    if args.export:
        export_reference_json(args.out, args.export)
    return 0
