"""Command line: ``python -m utils COMMAND ...``.

Each command lives in the module that owns its job; that module is imported only when its
command runs, so ``--help`` answers at once. A module provides ``add_<command>_args(parser)``
and ``run_<command>(args) -> int`` (the exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command → (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "comment": ("utils.pipeline.cli", "photo(s) or a label string → Korean comment (the main job)"),
    "generate": (
        "utils.pipeline.photo_data",  # the runner's command, plus --from-photos (runs the detectors)
        "generate the comment dataset with an LLM or the offline composer, from label sets or photos",
    ),
    "train": ("utils.lm.training", "train a T5 / GPT-2 experiment from the registry"),
    "evaluate": ("utils.lm.metrics", "score a trained text model on a dataset"),
    "evaluate-photos": ("utils.pipeline.real_photos", "score the pipeline on the hand-labelled real photos"),
    "convert-faces": ("utils.vision.face_data", "face-emotion JSON data (CP949) → YOLO dataset"),
    "review": ("utils.pipeline.review", "blind review of comments: make the sheet, score the ratings"),
}


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m utils",
        description="SNS 사진 분석 댓글 및 피드백 — photo → Korean labels → warm Korean comment.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands:\n"
        + "\n".join(f"  {name:<14} {help_}" for name, (_, help_) in COMMANDS.items())
        + "\n\n`python -m utils COMMAND --help` shows a command's options.",
    )
    parser.add_argument(
        "command", choices=sorted(COMMANDS), metavar="COMMAND", help="one of: " + ", ".join(COMMANDS)
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    top = _top_parser()
    if not argv or argv[0] in ("-h", "--help"):
        top.print_help()
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        top.print_usage(sys.stderr)
        print(f"python -m utils: error: unknown command {command!r}", file=sys.stderr)
        return 2
    module_name, help_ = COMMANDS[command]
    module = importlib.import_module(module_name)
    func = command.replace("-", "_")
    parser = argparse.ArgumentParser(prog=f"python -m utils {command}", description=help_)
    getattr(module, f"add_{func}_args")(parser)
    args = parser.parse_args(rest)
    return int(getattr(module, f"run_{func}")(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
