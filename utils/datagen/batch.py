"""The OpenAI Batch API path of the data generation: write the request file, upload it, create
the batch, poll it, then validate the answers and merge them into the same output as
``datagen.generate_dataset`` (half the price, no rate limit to manage; results within 24 h).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from utils.datagen.base import (
    Backend,
    Request,
    RetryableError,
    RunSummary,
    as_inputs,
    completion_from_openai_json,
    finished_ids,
    output_row,
    rejected_path,
    styles_by_id,
)
from utils.text.dataset import append_jsonl, validate_comment
from utils.text.styles import Style

BATCH_DISCOUNT = 0.5  # the Batch API bills half the synchronous price
BATCH_TERMINAL = {"completed", "failed", "expired", "cancelled"}


def _batch_paths(out: Path) -> tuple[Path, Path]:
    """The request file we upload, and the state file that lets a re-run resume polling."""
    stem = out.name.removesuffix(".jsonl")
    return out.with_name(stem + ".batch_requests.jsonl"), out.with_name(stem + ".batch.json")


def _merge_batch_output(
    text: str,
    labels_by_id: dict[str, str],
    style_of: dict[str, Style],
    out: Path,
    backend: Backend,
    summary: RunSummary,
) -> None:
    """Validate each answer of a finished batch and append it to ``out`` or the rejected file."""
    done = finished_ids(out)
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            input_id = str(record["custom_id"])
        except (json.JSONDecodeError, KeyError, TypeError):
            summary.errors.append(f"unreadable batch output line: {line[:120]!r}")
            continue
        if input_id not in labels_by_id or input_id in done:
            continue
        labels = labels_by_id[input_id]
        response = record.get("response") or {}
        try:
            if response.get("status_code") != 200:
                raise RetryableError(f"HTTP {response.get('status_code')}: {record.get('error')}")
            completion = completion_from_openai_json(response.get("body"))
        except RetryableError as e:  # a failed request, not an answer: left for a re-run to submit
            summary.errors.append(f"input {input_id} ({labels}): {e}")
            continue
        else:
            summary.prompt_tokens += completion.prompt_tokens
            summary.completion_tokens += completion.completion_tokens
            summary.cost_usd += (
                backend.cost(completion.prompt_tokens, completion.completion_tokens) * BATCH_DISCOUNT
            )
            comment = completion.text.strip()
            style = style_of[input_id]
            problems = validate_comment(comment, labels, style=style)
            if not problems:
                append_jsonl(out, output_row(input_id, labels, comment, backend.name, style, 1))
                summary.written += 1
                done.add(input_id)
                continue
            tried = [{"comment": comment, "problems": problems}]
        reject = {"id": input_id, "labels": labels, "backend": backend.name}
        append_jsonl(rejected_path(out), reject | {"style": style_of[input_id].key, "tried": tried})
        summary.rejected += 1
        done.add(input_id)


def run_openai_batch(
    label_strings: Sequence[str],
    out: str | Path,
    backend: Backend,
    *,
    styles: Style | str | Sequence[Style | str] | None = None,
    poll_interval: float = 30.0,
    progress: bool = True,
) -> RunSummary:
    """Generate through the OpenAI Batch API: write the request file, upload it, create the batch,
    poll until it ends, then validate and merge the answers into ``out`` like ``generate_dataset``.

    Finished inputs are skipped; the batch id is kept in ``<out>.batch.json`` so a run stopped
    while polling (the batch goes on at OpenAI) resumes that batch instead of paying twice.
    Invalid answers go to the rejected file; requests the batch failed stay unfinished, so the
    next run submits them again.
    """
    # Duck-typed (an OpenAIBackend has both), so this module needs no import of llm_backends.
    if not hasattr(backend, "client_args") or not hasattr(backend, "request_body"):
        raise ValueError(f"the Batch API path needs the openai backend, not {backend.name!r}")
    import openai

    out = Path(out)
    requests_path, state_path = _batch_paths(out)
    inputs = as_inputs(label_strings)
    labels_by_id = dict(inputs)
    style_of = styles_by_id(inputs, styles)
    done = finished_ids(out, inputs, style_of)
    todo = [(i, labels) for i, labels in inputs if i not in done]
    summary = RunSummary(requested=len(inputs), skipped=len(inputs) - len(todo))
    start = time.perf_counter()
    # No runner owns these few calls: let the SDK retry a poll that hits a transient error.
    client = openai.OpenAI(**(backend.client_args | {"max_retries": 5}))
    state = json.loads(state_path.read_text(encoding="utf-8")) if state_path.exists() else None
    if not todo and state is None:
        return summary
    try:
        if state is None:
            lines = [
                {
                    "custom_id": input_id,
                    "method": "POST",
                    "url": "/v1/chat/completions",
                    "body": backend.request_body(Request(input_id, labels, style=style_of[input_id])),
                }
                for input_id, labels in todo
            ]
            requests_path.write_text(
                "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8"
            )
            with requests_path.open("rb") as f:
                uploaded = client.files.create(file=(requests_path.name, f), purpose="batch")
            batch = client.batches.create(
                input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
            state = {"batch_id": batch.id, "input_file_id": uploaded.id, "requests": len(lines)}
            state_path.write_text(json.dumps(state), encoding="utf-8")
        batch = client.batches.retrieve(state["batch_id"])
        with tqdm(total=state["requests"], desc=f"batch {batch.id}", unit="row", disable=not progress) as bar:
            while batch.status not in BATCH_TERMINAL:
                time.sleep(poll_interval)
                batch = client.batches.retrieve(batch.id)
                counts = batch.request_counts
                bar.n = (counts.completed + counts.failed) if counts else 0
                bar.set_postfix(status=batch.status, refresh=True)
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id:
                text = client.files.content(file_id).text
                _merge_batch_output(text, labels_by_id, style_of, out, backend, summary)
        if batch.status != "completed":
            summary.errors.append(f"batch {batch.id} ended as {batch.status}; a re-run submits what is left")
        state_path.unlink(missing_ok=True)
    except KeyboardInterrupt:
        summary.interrupted = True
    summary.seconds = time.perf_counter() - start
    return summary
