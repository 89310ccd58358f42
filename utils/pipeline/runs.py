"""Photo runs over whole archives: resumable, lazy, and shardable across processes.

``python -m utils comment DIR --results results.jsonl [--recursive]`` walks DIR lazily (a
folder of 100,000 photos never sits in memory), comments on the photos in batches and appends
one JSON line per photo as soon as it is done (flushed and fsynced). The file starts with a
header naming the folder and the settings; a re-run with the same folder and settings skips
the photos already in the file, a re-run with another folder or other settings is refused.

Under ``torchrun`` / ``accelerate launch`` each process takes the photos whose path hashes to
its rank (a stable hash, the same in every process and every run), writes its own part file,
and after a barrier the main process merges the parts into the results file.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from tqdm.auto import tqdm

from utils.pipeline.comment_pipeline import PHOTO_SUFFIXES, CommentPipeline, PhotoResult
from utils.text.dataset import append_jsonl, truncate_partial_tail

HEADER_KIND = "sns-comment photo run"
# A process that finishes its shard early waits at the barrier for the slowest one.
BARRIER_TIMEOUT = timedelta(hours=72)


class ResultsFileError(ValueError):
    """A results file that belongs to another run (folder or settings) or is not a results file."""


@dataclass
class RunCounts:
    done: int = 0  # processed in this run (ok or failed)
    failed: int = 0
    skipped: int = 0  # already in the results file(s) from an earlier run


def walk_photos(folder: str | Path, *, recursive: bool = False) -> Iterator[Path]:
    """Photo files under ``folder`` (by their ending), one at a time, in directory order.
    Sub-folders are entered only with ``recursive``; links to folders are not followed."""
    pending = [Path(folder)]
    while pending:
        current = pending.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if recursive:
                        pending.append(Path(entry.path))
                elif Path(entry.name).suffix.lower() in PHOTO_SUFFIXES and entry.is_file():
                    yield Path(entry.path)


def shard_of(key: str, world_size: int) -> int:
    """The rank that owns a photo: a hash of its path that every process and run agrees on
    (Python's ``hash`` of a str changes from process to process)."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % world_size


def run_header(folder: str | Path, *, recursive: bool, pipeline: CommentPipeline) -> dict:
    """The first line of a results file: what the rows were made from. The fingerprint covers
    the folder's resolved path and every setting that changes a row."""
    settings = {
        "recursive": recursive,
        "detectors": pipeline.model_names["detectors"],
        "comment_model": pipeline.comment_model,
        "seed": pipeline.seed,
        "style": pipeline.style.key,
    }
    decoding = getattr(pipeline, "decoding", None)  # how the text model decodes, where it is chosen
    if decoding is not None:
        settings["decoding"] = str(decoding)
    identity = json.dumps({"folder": str(Path(folder).resolve()), **settings}, sort_keys=True)
    fingerprint = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
    return {"header": HEADER_KIND, "folder": str(folder), "settings": settings, "fingerprint": fingerprint}


def _complete_lines(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, record) of a JSON Lines file, streamed; a last line without its newline is
    what a killed writer left and is not yielded (it is written again)."""
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.endswith(b"\n"):
                return
            try:
                yield number, json.loads(raw)
            except json.JSONDecodeError as e:
                raise ResultsFileError(f"{path}, line {number}: not valid JSON ({e.msg})") from None


def done_photos(path: Path, header: dict) -> set[str] | None:
    """Photos already in a results (or part) file; None when the file has no header yet.
    Raises :class:`ResultsFileError` when the file was written for another folder or settings."""
    if not path.exists():
        return None
    lines = _complete_lines(path)
    first = next(lines, None)
    if first is None:
        return None
    found = first[1]
    if not isinstance(found, dict) or found.get("header") != HEADER_KIND:
        raise ResultsFileError(
            f"{path} is not a photo-run results file (its first line is not a {HEADER_KIND!r} header); "
            "give another --results file"
        )
    if found.get("fingerprint") != header["fingerprint"]:
        raise ResultsFileError(_mismatch(path, found, header))
    done = set()
    for number, record in lines:
        if not isinstance(record, dict) or not isinstance(record.get("photo"), str):
            raise ResultsFileError(f"{path}, line {number}: not a photo row (no 'photo' field)")
        done.add(record["photo"])
    return done


def _mismatch(path: Path, found: dict, wanted: dict) -> str:
    changes = []
    if str(Path(found.get("folder", "")).resolve()) != str(Path(wanted["folder"]).resolve()):
        changes.append(f"folder {found.get('folder')!r} → {wanted['folder']!r}")
    for key, value in wanted["settings"].items():
        if found.get("settings", {}).get(key) != value:
            changes.append(f"{key} {found.get('settings', {}).get(key)!r} → {value!r}")
    what = "; ".join(changes) or "settings"
    return (
        f"{path} was written for another run ({what}); its rows are not mixed with this run's. "
        "Give another --results file, or the same folder and settings to resume."
    )


def part_path(results: Path, rank: int, world_size: int) -> Path:
    return results.with_name(f"{results.stem}.part-{rank}-of-{world_size}{results.suffix}")


def _part_files(results: Path) -> list[Path]:
    return sorted(results.parent.glob(f"{results.stem}.part-*-of-*{results.suffix}"))


def _row(key: str, result: PhotoResult) -> dict:
    data = result.to_dict()
    del data["source"]  # the header's folder plus the key name the photo, relative and stable
    return {"photo": key, **data}


def _comment_batch(pipeline: CommentPipeline, paths: Sequence[Path], out_dir) -> list[PhotoResult]:
    """A batch, and if something in it breaks the batch, each photo on its own so only the
    broken one fails (with its error recorded)."""
    try:
        return pipeline.run_batch(paths, out_dir=out_dir)
    except Exception:  # noqa: BLE001 — isolate whichever photo broke the batch
        results = []
        for path in paths:
            try:
                results.extend(pipeline.run_batch([path], out_dir=out_dir))
            except Exception as e:  # noqa: BLE001 — recorded in the row, the run goes on
                results.append(PhotoResult(source=str(path), error=f"{type(e).__name__}: {e}"))
        return results


def run_folder(
    pipeline: CommentPipeline,
    folder: str | Path,
    results: str | Path,
    *,
    recursive: bool = False,
    out_dir: str | Path | None = None,
    rank: int = 0,
    world_size: int = 1,
    progress: bool = True,
) -> RunCounts:
    """Comment on every photo of ``folder`` not yet in ``results``, appending a row per photo.

    With ``world_size`` > 1 this process takes only its shard and writes its part file
    (:func:`merge_parts` joins them). A photo that cannot be read or processed gets a row with
    ``error`` and is reported on stderr; the run goes on.
    """
    folder, results = Path(folder), Path(results)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}: not a folder; --results runs take one folder of photos")
    header = run_header(folder, recursive=recursive, pipeline=pipeline)
    own = results if world_size == 1 else part_path(results, rank, world_size)
    done = done_photos(results, header) or set()
    for part in _part_files(results):
        done |= done_photos(part, header) or set()
    if done_photos(own, header) is None:
        append_jsonl(own, header)
    counts = RunCounts()
    bar = tqdm(
        desc=f"photos (rank {rank})" if world_size > 1 else "photos", unit="photo", disable=not progress
    )
    batch: list[tuple[str, Path]] = []

    def finish_batch() -> None:
        for (key, _), result in zip(
            batch, _comment_batch(pipeline, [p for _, p in batch], out_dir), strict=True
        ):
            append_jsonl(own, _row(key, result))
            counts.done += 1
            if not result.ok:
                counts.failed += 1
                print(f"✗ {key}: {result.error}", file=sys.stderr, flush=True)
        bar.update(len(batch))
        batch.clear()

    for path in walk_photos(folder, recursive=recursive):
        key = path.relative_to(folder).as_posix()
        if key in done:
            counts.skipped += 1
        elif shard_of(key, world_size) == rank:
            batch.append((key, path))
            if len(batch) >= pipeline.batch_size:
                finish_batch()
    if batch:
        finish_batch()
    bar.close()
    return counts


def merge_parts(results: str | Path, header: dict) -> int:
    """Append the part files' rows that are not yet in ``results``, then remove the parts.
    Safe to repeat after a kill: rows already merged are recognised by their photo."""
    results = Path(results)
    merged = done_photos(results, header)
    if merged is None:
        append_jsonl(results, header)
        merged = set()
    added = 0
    for part in _part_files(results):
        done_photos(part, header)  # refuses a part written for another run
        truncate_partial_tail(results)
        with results.open("ab") as out:
            for number, record in _complete_lines(part):
                if number == 1 or record["photo"] in merged:
                    continue
                out.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
                merged.add(record["photo"])
                added += 1
            out.flush()
            os.fsync(out.fileno())
        part.unlink()
    return added


def pin_local_gpu() -> None:
    """Under torchrun / accelerate launch, let each process see only its own GPU (as cuda:0), so
    every model it loads lands there (ultralytics and the text model both default to the first
    GPU). Call it before anything starts CUDA; without several processes it does nothing."""
    local_rank = os.environ.get("LOCAL_RANK")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and local_rank is not None:
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", local_rank)


def distributed_rank() -> tuple[int, int]:
    """(rank, world size) of this process; joins the process group when launched by torchrun or
    accelerate launch."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return 0, 1
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        # After pin_local_gpu each process sees one GPU; otherwise its local rank picks one.
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
        # Only barriers pass between the processes: gloo does them whatever devices each one sees.
        dist.init_process_group("gloo", timeout=BARRIER_TIMEOUT)
    return dist.get_rank(), dist.get_world_size()


def count_rows(results: str | Path) -> tuple[int, int]:
    """(photo rows, rows with an error) in a results file; the header is not counted."""
    rows = errors = 0
    for number, record in _complete_lines(Path(results)):
        if number > 1:
            rows += 1
            errors += record.get("error") is not None
    return rows, errors


def run_results(pipeline: CommentPipeline, args) -> int:
    """``python -m utils comment DIR --results FILE``: one process, or one rank of many."""
    rank, world_size = distributed_rank()
    folder = Path(args.photos[0])
    try:
        counts = run_folder(
            pipeline,
            folder,
            args.results,
            recursive=args.recursive,
            out_dir=args.out,
            rank=rank,
            world_size=world_size,
            progress=not args.json,
        )
    except (ResultsFileError, NotADirectoryError) as e:
        print(f"python -m utils comment: error: {e}", file=sys.stderr)
        return 2
    where = f"rank {rank} of {world_size}: " if world_size > 1 else ""
    print(
        f"{where}{counts.done} photo(s) commented ({counts.failed} failed), {counts.skipped} already done",
        file=sys.stderr,
    )
    if world_size > 1:
        import torch.distributed as dist

        dist.barrier()  # every part file is complete after it
    if rank == 0:  # also joins parts a killed multi-process run left behind
        added = merge_parts(args.results, run_header(folder, recursive=args.recursive, pipeline=pipeline))
        if added:
            print(f"merged {added} row(s) from the part files", file=sys.stderr)
        rows, errors = count_rows(args.results)
        print(f"{rows} photo row(s) in {args.results}, {errors} with an error", file=sys.stderr)
    if world_size > 1:
        dist.barrier()  # the others exit only once the merge is done
        dist.destroy_process_group()
    # Broken photos are recorded in their rows and reported above; the run itself succeeded.
    return 0
