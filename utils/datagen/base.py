"""What the generation runner (``utils.datagen.runner``), the LLM backends (``utils.datagen.backends``) and
the Batch API path (``utils.datagen.batch``) share: the request and result types, the OpenAI answer
format, and the bookkeeping of output rows (input ids, styles, finished and rejected rows).

It imports none of those three modules, so they import it without an import circle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from utils.datagen.prompt import build_messages
from utils.labels import format_labels, parse_labels
from utils.text.dataset import read_jsonl
from utils.text.styles import DEFAULT_STYLE, Style, parse_style


@dataclass
class Request:
    id: str
    labels: str
    attempt: int = 0  # regeneration number, so a backend can vary its answer
    style: Style = DEFAULT_STYLE

    @property
    def messages(self) -> list[dict[str, str]]:
        return build_messages(self.labels, self.style)


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class RetryableError(Exception):
    """Rate limit, server error or time-out: worth trying again, after ``retry_after`` if given."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Backend:
    """One way of turning a request into a comment. Subclasses implement ``complete``."""

    name = "backend"
    # USD per million (input, output) tokens, for the running cost estimate.
    price_per_million: tuple[float, float] = (0.0, 0.0)

    async def complete(self, request: Request) -> Completion:
        raise NotImplementedError

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        price_in, price_out = self.price_per_million
        return (prompt_tokens * price_in + completion_tokens * price_out) / 1e6


@dataclass
class RunSummary:
    requested: int = 0
    skipped: int = 0  # finished in an earlier run
    written: int = 0
    rejected: int = 0
    retries: int = 0
    rate_limited: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    interrupted: bool = False
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def completion_from_openai_json(response: Any) -> Completion:
    """A ``ChatCompletion`` (or its JSON as a dict) → Completion; anything else is malformed."""
    data = response.model_dump() if hasattr(response, "model_dump") else response
    try:
        text = data["choices"][0]["message"]["content"]
        usage = data.get("usage") or {}
    except (TypeError, KeyError, IndexError, AttributeError):
        raise RetryableError(f"malformed response: {str(data)[:120]!r}") from None
    if not isinstance(text, str):
        raise RetryableError("response without text")
    return Completion(text, usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0)


def as_inputs(label_strings: Sequence[str]) -> list[tuple[str, str]]:
    """(id, labels) pairs: the id is the input's position, so a re-run maps rows to inputs."""
    return [
        (str(i), format_labels(parse_labels(labels, strict=False), strict=False))
        for i, labels in enumerate(label_strings)
    ]


def styles_by_id(
    inputs: Sequence[tuple[str, str]], styles: Style | str | Sequence[Style | str] | None
) -> dict[str, Style]:
    """Each input's style: one style for all, or one per input (a style mix), default None."""
    if styles is None or isinstance(styles, Style | str):
        return {input_id: parse_style(styles) for input_id, _ in inputs}
    if len(styles) != len(inputs):
        raise ValueError(f"{len(styles)} styles for {len(inputs)} inputs")
    return {input_id: parse_style(style) for (input_id, _), style in zip(inputs, styles, strict=True)}


def output_row(input_id: str, labels: str, comment: str, backend: str, style: Style, attempts: int) -> dict:
    """One finished row of the output JSON Lines file."""
    row = {"id": input_id, "labels": labels, "comment": comment, "backend": backend}
    return row | {"style": style.key, "attempts": attempts}


def rejected_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".jsonl") + ".rejected.jsonl")


def finished_ids(
    out: Path, inputs: Sequence[tuple[str, str]] | None = None, styles: dict[str, Style] | None = None
) -> set[str]:
    """Inputs already answered (written or rejected) by earlier runs.

    With ``inputs`` (the (id, labels) pairs of this run) and their ``styles``, a row answered
    for other labels or another style is an error: ids are input positions, so a changed input
    list would otherwise be skipped silently. A row without a style was written in the default.
    """
    expected = dict(inputs or [])
    done = set()
    for path in (out, rejected_path(out)):
        for row in read_jsonl(path):
            if "id" not in row:
                continue
            input_id = str(row["id"])
            if input_id in expected and row.get("labels") != expected[input_id]:
                raise ValueError(
                    f"{path} was written for other inputs: its row {input_id} has labels "
                    f"{row.get('labels')!r}, but input {input_id} is {expected[input_id]!r}; "
                    "write to another --out file or delete this one"
                )
            if styles and input_id in styles and parse_style(row.get("style")) != styles[input_id]:
                raise ValueError(
                    f"{path} was written in another style: its row {input_id} is {row.get('style') or DEFAULT_STYLE.key}, "
                    f"but input {input_id} asks for {styles[input_id].key}; "
                    "write to another --out file or delete this one"
                )
            done.add(input_id)
    return done
