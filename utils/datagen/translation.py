"""LLM translation of the 601 OIV7 class names into the Korean words SNS users say, and the
checks of the shipped map ``data/labels/oiv7_ko.json`` that a reviewer reads beside it.

Translations go through the data-generation runner's pieces (``datagen``: rate limiter,
retries with backoff and Retry-After) and are cached row by row in a JSON Lines file, so an
interrupted run resumes and a finished one costs nothing to show again.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from utils import labels as vocab
from utils.datagen.runner import (
    Backend,
    RateLimiter,
    Request,
    RetryableError,
    RunSummary,
    call_with_retries,
    run_coroutine,
)
from utils.text.dataset import append_jsonl, has_hangul, read_jsonl

MAX_NAME_CHARS = 12
_STRIP = re.compile(r"^[\s\"'“”‘’`*-]+|[\s\"'“”‘’`*.。!]+$")


def translation_messages(english: str) -> list[dict[str, str]]:
    return [
        {
            "role": "system",
            "content": "당신은 사물 이름을 한국 SNS 사용자가 실제로 쓰는 말로 옮기는 번역가입니다.",
        },
        {
            "role": "user",
            "content": (
                "다음 영어 사물 이름을 한국어 명사 하나로 옮겨 주세요. 설명이나 따옴표 없이 그 단어만 씁니다.\n"
                "예시\n영어 이름: Sunglasses\n한국어: 선글라스\n\n"
                f"영어 이름: {english}\n한국어: "
            ),
        },
    ]


class TranslationRequest(Request):
    """A runner request whose ``labels`` field holds the English class name."""

    @property
    def messages(self) -> list[dict[str, str]]:
        return translation_messages(self.labels)


def clean_translation(text: str) -> str:
    """The first line of an answer, without quotes, bullets or a final period."""
    first = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return _STRIP.sub("", first.split("한국어:")[-1])


def translation_problems(korean: str) -> list[str]:
    problems = []
    if not korean:
        return ["empty"]
    if not has_hangul(korean):
        problems.append("no Hangul")
    if len(korean) > MAX_NAME_CHARS:
        problems.append(f"over {MAX_NAME_CHARS} characters")
    if any(mark in korean for mark in ",?:\n"):
        problems.append("not a single name")
    return problems


def translate_names(
    names: Sequence[str],
    backend: Backend,
    cache: str | Path,
    *,
    concurrency: int = 8,
    rpm: float | None = None,
    max_retries: int = 6,
    timeout: float = 60.0,
    progress: bool = True,
) -> dict[str, str]:
    """English name → Korean, for every name the cache has or the backend answered validly.

    Unusable answers are tried again twice, then left out (the shipped name stays in use)."""
    cache = Path(cache)
    known = {r["en"]: r["ko"] for r in read_jsonl(cache)}
    todo = [name for name in dict.fromkeys(names) if name not in known]
    summary = RunSummary(requested=len(todo))

    async def run() -> None:
        limiter = RateLimiter(rpm)
        queue = list(reversed(todo))
        bar = tqdm(total=len(todo), desc=f"translate ({backend.name})", unit="name", disable=not progress)

        async def worker() -> None:
            while queue:
                english = queue.pop()
                for attempt in range(3):
                    request = TranslationRequest(english, english, attempt)
                    try:
                        completion = await call_with_retries(
                            backend,
                            request,
                            limiter,
                            summary,
                            max_retries=max_retries,
                            base_delay=1.0,
                            timeout=timeout,
                        )
                    except RetryableError as e:
                        summary.errors.append(f"{english}: {e}")
                        break
                    korean = clean_translation(completion.text)
                    if not translation_problems(korean):
                        known[english] = korean
                        append_jsonl(cache, {"en": english, "ko": korean, "backend": backend.name})
                        break
                bar.update(1)

        try:
            await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
        finally:
            bar.close()

    if todo:
        run_coroutine(run())
    return {name: known[name] for name in names if name in known}


def translation_diff(translated: dict[str, str]) -> list[dict]:
    """Classes where the LLM's name differs from the shipped one, for review."""
    return [
        {"id": c["id"], "en": c["en"], "shipped": c["ko"], "llm": translated[c["en"]]}
        for c in vocab.oiv7_classes()
        if c["en"] in translated and translated[c["en"]] != c["ko"]
    ]


def shipped_map_checks() -> dict[str, object]:
    """What a reviewer checks in the shipped map: size, id order, duplicates, odd names."""
    classes = vocab.oiv7_classes()
    korean = [c["ko"] for c in classes]
    duplicates = sorted(name for name, n in Counter(korean).items() if n > 1)
    return {
        "classes": len(classes),
        "ids_in_order": [c["id"] for c in classes] == list(range(len(classes))),
        "duplicate_korean_names": duplicates,
        "without_hangul": [name for name in korean if not has_hangul(name)],
        "longer_than_limit": [name for name in korean if len(name) > MAX_NAME_CHARS],
        "clash_with_emotions": sorted(set(korean) & set(vocab.EMOTION_KO)),
        "excluded_classes": sorted(vocab.excluded_ko()),
    }
