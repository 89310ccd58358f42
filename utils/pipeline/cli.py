"""``python -m utils comment``: photos, a folder, ``--labels`` or ``--demo`` → comments on the
terminal or as JSON Lines; ``--results`` makes a folder run resumable (:mod:`utils.pipeline.runs`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from utils import labels as label_vocab
from utils.lm.decoding import add_decoding_args, decodings_from_args
from utils.pipeline.comment_pipeline import CommentPipeline, PhotoResult, is_known_label, sample_photos
from utils.text.styles import parse_style, style_list_text


def add_comment_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("photos", nargs="*", metavar="PHOTO|DIR", help="photos and/or folders of photos")
    parser.add_argument(
        "--labels",
        action="append",
        help='skip vision: a label string such as "기쁨, 안경, 나무" (repeatable)',
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per line")
    parser.add_argument("--out", type=Path, help="folder for annotated images")
    parser.add_argument("--detector", help="object detector weights (default: yolov8m-oiv7.pt when online)")
    parser.add_argument("--face", help="face-emotion detector weights (YOLO .pt trained in notebook 2)")
    parser.add_argument("--lm", type=Path, help="trained text model folder (default: best under models/)")
    parser.add_argument(
        "--offline", action="store_true", help="never download; use local models and fallbacks"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--style", help="comment style, e.g. 반말,유쾌한 or casual,playful (default: 존댓말,다정한)"
    )
    parser.add_argument("--list-styles", action="store_true", help="list the comment styles and exit")
    parser.add_argument(
        "--writer",
        choices=("t5", "openai", "gemini"),
        default="t5",
        help="who writes comments on photos: the local text model (default), or a vision LLM that sees "
        "the photo (key from OPENAI_API_KEY / GEMINI_API_KEY or .env; the local model steps in when it fails)",
    )
    parser.add_argument(
        "--writer-model", help="the vision LLM's model (default: gpt-4o-mini / gemini-2.0-flash)"
    )
    add_decoding_args(parser)
    parser.add_argument(
        "--demo",
        action="store_true",
        help="run on real photos that ship with installed packages (bus, zidane, grace_hopper, astronaut, flower)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        help="one FOLDER → this JSON Lines file, a row per photo as it is done; a re-run skips the "
        "photos already there (under torchrun / accelerate launch each process takes its shard)",
    )
    parser.add_argument("--recursive", action="store_true", help="with --results: walk sub-folders too")
    parser.add_argument(
        "--card",
        type=Path,
        help="with --out: also write the first photo's result as one PNG (annotated photo, labels, comment)",
    )


def _print_result(result: PhotoResult, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False), flush=True)
        return
    if not result.ok:
        print(f"✗ {result.source}: {result.error}", file=sys.stderr, flush=True)
        return
    print(f"■ {result.source}")
    print(f"  라벨 labels : {result.labels or '(없음: nothing recognised)'}")
    print(f"  댓글 comment: {result.comment}")
    models = result.models
    print(
        f"  models      : detectors={', '.join(models.get('detectors', [])) or '-'}; comment={models.get('comment')}"
    )
    if result.annotated:
        print(f"  annotated   : {result.annotated}")
    print(flush=True)


def run_comment(args: argparse.Namespace) -> int:
    if args.list_styles:
        print(style_list_text())
        return 0
    try:
        style = parse_style(args.style)
    except ValueError as e:
        print(f"python -m utils comment: error: {e}", file=sys.stderr)
        return 2
    photos = list(args.photos) + (sample_photos() if args.demo else [])
    if not photos and not args.labels:
        print("python -m utils comment: error: give photos, a folder, --labels or --demo", file=sys.stderr)
        return 2
    if args.labels is not None and any(not text.strip(" ,") for text in args.labels):
        print(
            "python -m utils comment: error: empty label string; give labels like '기쁨, 안경, 나무'",
            file=sys.stderr,
        )
        return 2
    if problem := _results_run_problem(args):
        print(f"python -m utils comment: error: {problem}", file=sys.stderr)
        return 2
    if args.results is not None:
        from utils.pipeline.runs import pin_local_gpu

        pin_local_gpu()  # before any model starts CUDA
    try:
        pipeline = CommentPipeline(
            detector_weights=args.detector,
            face_weights=args.face,
            lm_dir=args.lm,
            offline=True if args.offline else None,
            seed=args.seed,
            batch_size=args.batch_size,
            style=style,
            decoding=decodings_from_args(args)[0],
            load_vision=bool(photos),
            writer=args.writer if photos else None,
            writer_model=args.writer_model,
        )
    except FileNotFoundError as e:
        print(f"python -m utils comment: error: {e}", file=sys.stderr)
        return 2
    if args.results is not None:
        from utils.pipeline.runs import run_results

        return run_results(pipeline, args)
    results: list[PhotoResult] = []
    if args.labels:
        unknown = sorted(
            {
                x
                for text in args.labels
                for x in label_vocab.parse_labels(text, strict=False)
                if not is_known_label(x)
            }
        )
        if unknown:
            print(f"warning: unknown label(s) kept as written: {', '.join(unknown)}", file=sys.stderr)
        results += pipeline.comment_on_labels(args.labels)
    if photos:
        results += pipeline.run(photos, out_dir=args.out, progress=not args.json)
    if args.card is not None:
        from utils.pipeline.gallery import result_card

        shown = next((r for r in results if r.annotated), None)
        if shown is None:
            print("python -m utils comment: error: --card needs a photo run with --out", file=sys.stderr)
            return 2
        print(f"card: {result_card(shown, args.card)}", file=sys.stderr)
    for result in results:
        _print_result(result, args.json)
    failed = [r for r in results if not r.ok]
    if failed and not args.json:
        print(f"{len(failed)} of {len(results)} failed; the rest were processed.", file=sys.stderr)
    return 1 if failed else 0


def _results_run_problem(args: argparse.Namespace) -> str | None:
    """Why the --results / --recursive / multi-process options cannot run as given, or None."""
    if args.results is None:
        if args.recursive:
            return "--recursive walks a folder for a --results run; add --results FILE"
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            return "several processes (torchrun / accelerate launch) need --results FILE to share the photos"
        return None
    if args.labels or args.demo or len(args.photos) != 1 or not Path(args.photos[0]).is_dir():
        given = ", ".join(map(str, args.photos)) or "nothing"
        return f"--results takes exactly one folder of photos (given: {given}; no --labels or --demo)"
    return None
