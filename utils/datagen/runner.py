"""Comment data generation: the prompt, generation backends behind one async interface, and the
resumable, rate-limited runner that writes the dataset row by row.

The reference sent one request at a time with no retry, cache or resume, and kept whatever came
back. Here every output is checked (``textdata.validate_comment``) and regenerated up to k times,
finished rows are appended and fsynced as they arrive, and a re-run skips finished inputs.
An input may carry its photo (``photos=``): the photo is sent with the labels to a vision model.
LLM backends (OpenAI, Gemini, the OpenAI Batch API) live in ``utils.datagen.backends``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from utils.datagen.base import (  # noqa: F401
    Backend,
    Completion,
    PhotoSource,
    Request,
    RetryableError,
    RunSummary,
    as_inputs,
    finished_ids,
    output_row,
    photo_fields,
    photos_by_id,
    rejected_path,
    styles_by_id,
)

# The calls themselves (rate limit, retries, regeneration) live in their own module; callers keep
# importing them from here too.
from utils.datagen.calls import (  # noqa: F401
    RateLimiter,
    Tries,
    answer_requests,
    call_with_retries,
    first_valid_comment,
    run_coroutine,
)
from utils.datagen.images import DEFAULT_SIDES, EncodedImage, encode_photo

# The prompt and the run types live in their own modules (no import circle with the LLM
# backends); callers keep importing them from here.
from utils.datagen.prompt import EXAMPLE_COMMENT, EXAMPLE_LABELS, SYSTEM_MESSAGE, build_messages  # noqa: F401
from utils.photos import PhotoError
from utils.text.composer import OfflineComposer
from utils.text.dataset import append_jsonl, read_jsonl, write_reference_json
from utils.text.labelsets import LABEL_SET_SHAPES
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


async def _generate(
    inputs: Sequence[tuple[str, str]],
    out: Path,
    backend: Backend,
    summary: RunSummary,
    styles: dict[str, Style],
    *,
    photos: dict[str, PhotoSource],
    image_side: int,
    concurrency: int,
    rpm: float | None,
    tries: Tries,
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
        style, photo = styles[input_id], photos.get(input_id)
        image: EncodedImage | None = None
        if photo is not None:
            try:  # encoded once per input, off the event loop; only in-flight photos sit in memory
                image = await asyncio.to_thread(encode_photo, photo.path, image_side)
            except PhotoError as e:
                return None, [{"comment": None, "problems": [str(e)]}]
        request = Request(input_id, labels, style=style, image=image)
        comment, attempts, tried = await first_valid_comment(backend, request, limiter, summary, tries)
        if comment is None:
            return None, tried
        extra = photo_fields(photo, image)
        return output_row(input_id, labels, comment, backend.name, style, attempts, extra), tried

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
                reject |= photo_fields(photos.get(input_id), None)
                append_jsonl(rejected_path(out), reject)
                summary.rejected += 1
            bar.update(1)
            show()

    try:
        await backend.prepare()
        await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    finally:
        bar.close()


def generate_dataset(
    label_strings: Sequence[str],
    out: str | Path,
    backend: Backend | None = None,
    *,
    styles: Style | str | Sequence[Style | str] | None = None,
    photos: Sequence[PhotoSource] | None = None,
    image_side: int | None = None,
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
    ``photos``: one per label string (the labels its detectors found): each photo is sent, at most
    ``image_side`` px on its long side (default per backend, ``images.DEFAULT_SIDES``), with its
    labels; the input's id is the photo's name and its row carries ``photo``, ``photo_sha256``, ``image``.
    """
    out = Path(out)
    backend = backend or OfflineBackend()
    inputs = as_inputs(label_strings, ids=[p.name for p in photos] if photos is not None else None)
    style_of = styles_by_id(inputs, styles)
    photo_of = photos_by_id(inputs, photos)
    done = finished_ids(out, inputs, style_of, photo_of)
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
                photos=photo_of,
                image_side=image_side or default_image_side(backend),
                concurrency=concurrency,
                rpm=rpm,
                tries=Tries(max_regenerations, max_retries, base_delay, timeout),
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


def default_image_side(backend: Backend) -> int:
    """The long side photos are sent at to ``backend`` (``images.DEFAULT_SIDES`` by its kind)."""
    return DEFAULT_SIDES.get(backend.name.split("/")[0], DEFAULT_SIDES["offline"])


def make_backend(
    name: str, *, model: str | None = None, seed: int = 0, base_url: str | None = None
) -> Backend:
    """``offline``, ``openai`` or ``gemini``; LLM keys come from the environment or ``.env``."""
    if name == "offline":
        return OfflineBackend(seed=seed)
    from utils.datagen import backends as llm_backends

    return llm_backends.make_llm_backend(name, model=model, base_url=base_url)


def add_generate_args(parser: argparse.ArgumentParser) -> argparse._MutuallyExclusiveGroup:
    """The ``generate`` options; returns the group of input sources (one is required), which
    ``utils.pipeline.photo_data`` extends with ``--from-photos``."""
    parser.add_argument("--backend", choices=("offline", "openai", "gemini"), default="offline")
    parser.add_argument("--model", help="LLM model name (default: gpt-4o-mini / gemini-2.0-flash)")
    parser.add_argument("--base-url", help="API base URL (a proxy or a local test server)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--inputs", type=Path, help="text file with one label string per line")
    source.add_argument("--sample", type=int, metavar="N", help="draw N label sets (of the --sets shape)")
    parser.add_argument(
        "--sets",
        choices=sorted(LABEL_SET_SHAPES),
        default="everyday",
        help="with --sample: label sets like detectors report on everyday photos (default) or the reference's shape",
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
    return source


def read_input_file(path: Path) -> list[str]:
    if not path.exists():
        raise FileNotFoundError(f"inputs file not found: {path}")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_generate(args: argparse.Namespace) -> int:
    try:
        label_strings = (
            read_input_file(args.inputs)
            if args.inputs
            else LABEL_SET_SHAPES[args.sets](args.sample, seed=args.seed)
        )
        styles = styles_for(len(label_strings), args.style, args.style_mix, args.seed)
        backend = make_backend(args.backend, model=args.model, seed=args.seed, base_url=args.base_url)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"python -m utils generate: error: {e}", file=sys.stderr)
        return 2
    return generate_and_report(args, label_strings, styles, backend)


def generate_and_report(
    args: argparse.Namespace,
    label_strings: Sequence[str],
    styles: Sequence[Style],
    backend: Backend,
    *,
    photos: Sequence[PhotoSource] | None = None,
    image_side: int | None = None,
) -> int:
    """The ``generate`` command's run (live or ``--batch``) and its one-line report; the exit code:
    0 done, 1 an API error that retrying cannot fix (a 401, a 400), 2 unusable input, 130 Ctrl-C."""
    from utils.datagen import backends as llm_backends

    try:
        if args.batch:
            summary = llm_backends.run_openai_batch(
                label_strings, args.out, backend, styles=styles, photos=photos, image_side=image_side
            )
        else:
            summary = generate_dataset(
                label_strings,
                args.out,
                backend,
                styles=styles,
                photos=photos,
                image_side=image_side,
                concurrency=args.concurrency,
                rpm=args.rpm,
                max_regenerations=args.regenerate,
            )
    except ValueError as e:
        print(f"python -m utils generate: error: {backend.redact(str(e))}", file=sys.stderr)
        return 2
    except llm_backends.api_errors() as e:
        message = backend.redact(" ".join(str(e).split()))[:300]
        print(f"python -m utils generate: error: {backend.name}: {message}", file=sys.stderr)
        return 1
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
