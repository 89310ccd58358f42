"""The OpenAI Batch API path of the data generation: write the request file, upload it, create
the batch, poll it, then validate the answers and merge them into the same output as
``datagen.generate_dataset`` (half the price, no rate limit to manage; results within 24 h).
Inputs with photos carry each photo as a data URL in the request file (OpenAI takes files up
to 200 MB and 50,000 requests: ~2,000-4,000 photos at 512 px per batch).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from utils.datagen.base import (
    Backend,
    PhotoSource,
    Request,
    RetryableError,
    RunSummary,
    as_inputs,
    completion_from_openai_json,
    finished_ids,
    output_row,
    photo_fields,
    photos_by_id,
    rejected_path,
    styles_by_id,
)
from utils.datagen.images import DEFAULT_SIDES, encode_photo
from utils.photos import PhotoError
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
    photo_of: dict[str, PhotoSource],
    image_sizes: dict[str, str],
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
        extra = photo_fields(photo_of.get(input_id), image_sizes.get(input_id))
        try:
            if response.get("status_code") != 200:
                raise RetryableError(f"HTTP {response.get('status_code')}: {record.get('error')}")
            completion = completion_from_openai_json(response.get("body"))
        except RetryableError as e:  # a failed request, not an answer: left for a re-run to submit
            summary.errors.append(f"input {input_id} ({labels}): {backend.redact(str(e))}")
            continue
        else:
            summary.prompt_tokens += completion.prompt_tokens
            summary.completion_tokens += completion.completion_tokens
            summary.cost_usd += (
                backend.cost(completion.prompt_tokens, completion.completion_tokens) * BATCH_DISCOUNT
            )
            comment = completion.text.strip()
            style = style_of[input_id]
            if completion.refusal:
                problems = [f"refused: {backend.redact(completion.refusal)[:200]}"]
            else:
                problems = validate_comment(comment, labels, style=style)
            if not problems:
                append_jsonl(out, output_row(input_id, labels, comment, backend.name, style, 1, extra))
                summary.written += 1
                done.add(input_id)
                continue
            tried = [{"comment": comment, "problems": problems}]
        reject = {"id": input_id, "labels": labels, "backend": backend.name}
        reject |= {"style": style_of[input_id].key, "tried": tried} | extra
        append_jsonl(rejected_path(out), reject)
        summary.rejected += 1
        done.add(input_id)


def run_openai_batch(
    label_strings: Sequence[str],
    out: str | Path,
    backend: Backend,
    *,
    styles: Style | str | Sequence[Style | str] | None = None,
    photos: Sequence[PhotoSource] | None = None,
    image_side: int | None = None,
    poll_interval: float = 30.0,
    progress: bool = True,
) -> RunSummary:
    """Generate through the OpenAI Batch API: write the request file, upload it, create the batch,
    poll until it ends, then validate and merge the answers into ``out`` like ``generate_dataset``.

    Finished inputs are skipped; the batch id is kept in ``<out>.batch.json`` so a run stopped
    while polling (the batch goes on at OpenAI) resumes that batch instead of paying twice.
    Invalid answers go to the rejected file; requests the batch failed stay unfinished, so the
    next run submits them again. ``photos`` and ``image_side``: as in ``generate_dataset``.
    """
    # Duck-typed (an OpenAIBackend has both), so this module needs no import of llm_backends.
    if not hasattr(backend, "client_args") or not hasattr(backend, "request_body"):
        raise ValueError(f"the Batch API path needs the openai backend, not {backend.name!r}")
    import openai

    out = Path(out)
    requests_path, state_path = _batch_paths(out)
    inputs = as_inputs(label_strings, ids=[p.name for p in photos] if photos is not None else None)
    labels_by_id = dict(inputs)
    style_of = styles_by_id(inputs, styles)
    photo_of = photos_by_id(inputs, photos)
    done = finished_ids(out, inputs, style_of, photo_of)
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
            side = image_side or DEFAULT_SIDES["openai"]
            sizes = _write_requests(requests_path, todo, backend, style_of, photo_of, side, summary)
            with requests_path.open("rb") as f:
                uploaded = client.files.create(file=(requests_path.name, f), purpose="batch")
            batch = client.batches.create(
                input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
            state = {"batch_id": batch.id, "input_file_id": uploaded.id, "requests": len(todo)}
            state["image_sizes"] = sizes
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
                sizes = state.get("image_sizes") or {}
                _merge_batch_output(text, labels_by_id, style_of, out, backend, summary, photo_of, sizes)
        if batch.status != "completed":
            summary.errors.append(f"batch {batch.id} ended as {batch.status}; a re-run submits what is left")
        state_path.unlink(missing_ok=True)
    except KeyboardInterrupt:
        summary.interrupted = True
    summary.seconds = time.perf_counter() - start
    return summary


def _write_requests(
    path: Path,
    todo: Sequence[tuple[str, str]],
    backend: Backend,
    style_of: dict[str, Style],
    photo_of: dict[str, PhotoSource],
    image_side: int,
    summary: RunSummary,
) -> dict[str, str]:
    """The request file, one line at a time (photos are encoded as they are written, never all
    held at once); returns the size each photo was sent at. An unreadable photo is an error, skipped."""
    sizes: dict[str, str] = {}
    with path.open("w", encoding="utf-8") as f:
        for input_id, labels in todo:
            image = None
            if (photo := photo_of.get(input_id)) is not None:
                try:
                    image = encode_photo(photo.path, image_side)
                except PhotoError as e:
                    summary.errors.append(f"input {input_id}: {e}")
                    continue
                sizes[input_id] = image.size
            request = Request(input_id, labels, style=style_of[input_id], image=image)
            line = {
                "custom_id": input_id,
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": backend.request_body(request),
            }
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    return sizes
