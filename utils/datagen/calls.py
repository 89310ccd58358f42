"""One input's answer from a backend: the rate limiter that spaces request starts, retries of a
failed call with backoff (and the server's Retry-After), and regeneration of an answer that fails
``validate_comment`` or is refused. ``utils.datagen.runner`` writes files with it; ``answer_requests``
answers a few requests at once without files (the vision comment writer of ``utils.pipeline``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import random
import time
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from utils.datagen.base import Backend, Completion, Request, RetryableError, RunSummary
from utils.text.dataset import validate_comment

T = TypeVar("T")


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


@dataclasses.dataclass(frozen=True)
class Tries:
    """How hard the runner tries for one input: regenerations of an answer that fails the checks,
    retries of a call that fails (backoff from ``base_delay``), and each call's time limit in seconds."""

    max_regenerations: int = 3
    max_retries: int = 6
    base_delay: float = 1.0
    timeout: float = 60.0


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


async def first_valid_comment(
    backend: Backend, request: Request, limiter: RateLimiter, summary: RunSummary, tries: Tries
) -> tuple[str | None, int, list[dict]]:
    """The first answer to ``request`` that passes ``validate_comment`` (with its style), the
    attempts it took, and every failed try with its problems (a refusal is one: regenerated too).
    None when every attempt failed, or a call gave up after its retries (its error is the last try)."""
    tried: list[dict] = []
    for attempt in range(tries.max_regenerations + 1):
        try:
            completion = await call_with_retries(
                backend,
                dataclasses.replace(request, attempt=attempt),
                limiter,
                summary,
                max_retries=tries.max_retries,
                base_delay=tries.base_delay,
                timeout=tries.timeout,
            )
        except RetryableError as e:
            error = backend.redact(str(e))
            summary.errors.append(f"input {request.id} ({request.labels}): {error}")
            return None, attempt + 1, [*tried, {"comment": None, "problems": [error]}]
        summary.prompt_tokens += completion.prompt_tokens
        summary.completion_tokens += completion.completion_tokens
        summary.cost_usd += backend.cost(completion.prompt_tokens, completion.completion_tokens)
        comment = completion.text.strip()
        if completion.refusal:
            problems = [f"refused: {backend.redact(completion.refusal)[:200]}"]
        else:
            problems = validate_comment(comment, request.labels, style=request.style)
        if not problems:
            return comment, attempt + 1, tried
        tried.append({"comment": comment, "problems": problems})
    return None, tries.max_regenerations + 1, tried


def answer_requests(
    backend: Backend,
    requests: Sequence[Request],
    *,
    concurrency: int = 4,
    rpm: float | None = None,
    tries: Tries = Tries(max_regenerations=2, max_retries=2, base_delay=0.5, timeout=30.0),
) -> tuple[list[tuple[str | None, list[dict]]], RunSummary]:
    """Requests answered at once, each as ``first_valid_comment`` does it (no files): per request
    its valid comment or None, and its failed tries; and the summary (tokens, cost, retries)."""
    summary = RunSummary(requested=len(requests))
    limiter = RateLimiter(rpm)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(request: Request) -> tuple[str | None, list[dict]]:
        async with gate:
            comment, _, tried = await first_valid_comment(backend, request, limiter, summary, tries)
        return comment, tried

    async def all_of() -> list[tuple[str | None, list[dict]]]:
        await backend.prepare()
        return list(await asyncio.gather(*(one(r) for r in requests)))

    start = time.perf_counter()
    answers = run_coroutine(all_of())
    summary.written = sum(comment is not None for comment, _ in answers)
    summary.rejected = len(answers) - summary.written
    summary.seconds = time.perf_counter() - start
    return answers, summary


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, also from inside a running loop (Jupyter, Gradio): then in a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
