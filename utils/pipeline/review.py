"""Blind review of comments (``python -m utils review``): a sheet of comments by several writers for
the same label sets, shuffled, with the key kept apart; and the scores of filled-in ratings.

The method is ``shared/docs/comment_review.md``: raters see only ``id <TAB> [labels] <TAB> comment``
and rate each line (nat 1–5, faith 1–5, post y/n, flags); the key (id → writer, label set and its
kind) is never shown to them. Writers: ``t5`` (the pipeline's comment path with the shipped model),
``gpt2`` (the pipeline's path with a trained GPT-2 run), ``composer`` (the offline composer), an LLM
(``openai`` or ``gemini``) when its key is set, and any writer given as a file of comments written
elsewhere (``NAME=comments.jsonl``, rows ``{"labels", "comment"}``: e.g. the model shipped before).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from utils.paths import MODELS, shown_path

REVIEW_DIR = MODELS / "review"
FLAGS = ("HALLUCINATION", "NONSENSE", "IGNORES", "QUESTION", "REPEAT", "MOODCLASH", "ODDLABEL")
RATER_TEXT = """Each line is a comment written for a photo whose detector labels are in brackets (emotions of
faces: 기쁨, 슬픔, 분노, 공포; and objects). It is to be posted under the photo by a friendly
stranger. You cannot see the photo: judge the comment against its labels. Rate every line on
its own:
- nat (1-5): natural, fluent Korean that a real person would post? 5 perfectly natural; 3
  understandable but stilted or template-like; 1 broken or nonsensical.
- faith (1-5): does it fit the labels? 5 speaks sensibly about what the labels say and invents
  nothing; 1 contradicts them or invents things (objects, a smile, feelings) they do not give.
- post (y/n): would you accept it posted as-is under a friend's photo?
- flags: HALLUCINATION (names an object, emotion or smile the labels do not give, or an emoji of
  another thing), NONSENSE (a phrase that makes no sense or is ungrammatical), IGNORES (leaves out
  or talks past a main label), QUESTION, REPEAT, MOODCLASH (parts with contradicting moods),
  ODDLABEL (a label word used oddly: "사람의 분위기", a label glued to other text or left as a
  fragment).
- Output: TSV `id nat faith post flags note`, every line rated, by reading, not by a program.
"""

Writer = Callable[[Sequence[str]], list[str]]


def pipeline_writer(lm_dir: str | Path | None = None, seed: int = 0) -> Writer:
    """The pipeline's comment path (its decoding, checks, resampling and last-resort composer)."""
    from utils.pipeline.comment_pipeline import CommentPipeline

    pipeline = CommentPipeline(lm_dir=lm_dir, offline=True, seed=seed, load_vision=False)

    def write(label_strings: Sequence[str]) -> list[str]:
        comments, write.by = pipeline.write_comments(list(label_strings))
        return comments

    return write


def composer_writer(seed: int = 0) -> Writer:
    from utils.text.composer import OfflineComposer

    composer = OfflineComposer(seed=seed)
    return lambda label_strings: [composer.compose(labels, key=i) for i, labels in enumerate(label_strings)]


def llm_writer(backend_name: str, seed: int = 0) -> Writer:
    """An LLM backend of the data generation (needs its key), one comment per label set."""
    import tempfile

    from utils.datagen.runner import generate_dataset, make_backend
    from utils.text.dataset import read_jsonl

    backend = make_backend(backend_name, seed=seed)

    def write(label_strings: Sequence[str]) -> list[str]:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "llm.jsonl"
            generate_dataset(list(label_strings), out, backend, progress=False)
            by_labels = {row["labels"]: row["comment"] for row in read_jsonl(out)}
        return [by_labels.get(labels, "") for labels in label_strings]

    return write


def file_writer(path: str | Path) -> Writer:
    """Comments written elsewhere, looked up by their label string."""
    from utils.text.dataset import read_jsonl

    by_labels = {row["labels"]: row["comment"] for row in read_jsonl(path)}

    def write(label_strings: Sequence[str]) -> list[str]:
        missing = [labels for labels in label_strings if labels not in by_labels]
        if missing:
            raise KeyError(f"{path}: no comment for {len(missing)} label sets, e.g. {missing[0]!r}")
        return [by_labels[labels] for labels in label_strings]

    return write


def make_sheet(
    label_sets: dict[str, Sequence[str]], writers: dict[str, Writer], out_dir: str | Path, seed: int = 0
) -> dict[str, Path]:
    """Write ``sheet.tsv`` (what raters see), ``key.json`` (id → writer, labels, kind) and
    ``rater.md`` (the rater's instructions) into ``out_dir``. ``label_sets``: kind → label strings."""
    rows = []
    for kind, strings in label_sets.items():
        for name, write in writers.items():
            comments = write(strings)
            by = getattr(write, "by", None) or [None] * len(comments)  # the pipeline says who wrote each
            rows += [(kind, name, *row) for row in zip(strings, comments, by, strict=True)]
    random.Random(seed).shuffle(rows)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    width = len(str(len(rows)))
    key, lines = {}, ["id\tlabels\tcomment"]
    for i, (kind, name, labels, comment, by) in enumerate(rows):
        line_id = f"c{i:0{width}d}"
        key[line_id] = {"writer": name, "kind": kind, "labels": labels, "comment": comment}
        if by is not None:
            key[line_id]["by"] = by
        lines.append(f"{line_id}\t[{labels}]\t{' '.join(comment.split())}")
    paths = {"sheet": out / "sheet.tsv", "key": out / "key.json", "rater": out / "rater.md"}
    paths["sheet"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    paths["key"].write_text(json.dumps(key, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    paths["rater"].write_text(RATER_TEXT, encoding="utf-8")
    return paths


def read_ratings(path: str | Path) -> dict[str, dict]:
    """A filled-in sheet: id → {nat, faith, post, flags, note}; a malformed line is an error naming it."""
    ratings = {}
    with Path(path).open(encoding="utf-8") as f:
        for number, row in enumerate(csv.reader(f, delimiter="\t"), start=1):
            if not row or row[0] in ("id", "") or row[0].startswith("#"):
                continue
            try:
                line_id, nat, faith, post = row[0].strip(), int(row[1]), int(row[2]), row[3].strip().lower()
                if not (1 <= nat <= 5 and 1 <= faith <= 5 and post in ("y", "n")):
                    raise ValueError("nat and faith are 1-5, post is y or n")
            except (IndexError, ValueError) as e:
                raise ValueError(f"{path}, line {number}: {e}: {row!r}") from None
            flags = {f.strip().upper() for f in (row[4] if len(row) > 4 else "").replace(";", ",").split(",")}
            ratings[line_id] = {
                "nat": nat,
                "faith": faith,
                "post": post == "y",
                "flags": sorted(f for f in flags if f in FLAGS),
                "note": row[5].strip() if len(row) > 5 else "",
            }
    return ratings


def score(key: dict[str, dict], raters: dict[str, dict[str, dict]], worst: int = 5) -> dict:
    """Per writer (and per writer and kind of label set): mean nat and faith over all raters, the
    post-as-is rate of each rater and where all say y, flag counts, and the worst lines."""
    missing = {name: sorted(set(key) - set(r)) for name, r in raters.items() if set(key) - set(r)}
    if missing:
        name, ids = next(iter(missing.items()))
        raise ValueError(f"rater {name} left {len(ids)} lines unrated, e.g. {ids[0]}")
    groups: dict[str, list[str]] = {}
    for line_id, entry in key.items():
        groups.setdefault(entry["writer"], []).append(line_id)
        groups.setdefault(f"{entry['writer']} · {entry['kind']}", []).append(line_id)
        if "by" in entry:  # a pipeline writer: its model's own comments apart from the composer's
            own = "by the composer" if "composer" in entry["by"] else "by the model"
            groups.setdefault(f"{entry['writer']} · {own}", []).append(line_id)
    out = {}
    for group, ids in sorted(groups.items()):
        marks = [raters[r][i] for r in raters for i in ids]
        ranked = sorted(ids, key=lambda i: sum(raters[r][i]["nat"] + raters[r][i]["faith"] for r in raters))
        out[group] = {
            "lines": len(ids),
            "nat": round(statistics.fmean(m["nat"] for m in marks), 2),
            "faith": round(statistics.fmean(m["faith"] for m in marks), 2),
            "post": {r: round(sum(raters[r][i]["post"] for i in ids) / len(ids), 3) for r in raters},
            "post_all": round(sum(all(raters[r][i]["post"] for r in raters) for i in ids) / len(ids), 3),
            "flags": dict(Counter(f for m in marks for f in m["flags"]).most_common()),
            "worst": [
                {
                    "id": i,
                    "labels": key[i]["labels"],
                    "comment": key[i]["comment"],
                    "flags": sorted({f for r in raters for f in raters[r][i]["flags"]}),
                }
                for i in ranked[:worst]
            ],  # fmt: skip
        }
    return out


def scores_markdown(scores: dict, raters: Sequence[str]) -> str:
    lines = [
        "| writer | lines | nat | faith | "
        + " | ".join(f"post ({r})" for r in raters)
        + " | post (all) | flags |",
        "|---|---|---|---|" + "---|" * len(raters) + "---|---|",
    ]
    for group, s in scores.items():
        flags = ", ".join(f"{f} {n}" for f, n in s["flags"].items()) or "—"
        posts = " | ".join(f"{s['post'][r]:.3f}" for r in raters)
        lines.append(
            f"| {group} | {s['lines']} | {s['nat']:.2f} | {s['faith']:.2f} | {posts} | {s['post_all']:.3f} | {flags} |"
        )
    return "\n".join(lines) + "\n"


def score_folder(folder: str | Path) -> dict:
    """Score ``folder/key.json`` against every ``folder/ratings_*.tsv``; writes scores.json and scores.md."""
    folder = Path(folder)
    key = json.loads((folder / "key.json").read_text(encoding="utf-8"))
    raters = {p.stem.removeprefix("ratings_"): read_ratings(p) for p in sorted(folder.glob("ratings_*.tsv"))}
    if len(raters) < 2:
        raise ValueError(f"{folder}: need at least two ratings_<rater>.tsv files, found {len(raters)}")
    scores = score(key, raters)
    (folder / "scores.json").write_text(
        json.dumps(scores, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    (folder / "scores.md").write_text(scores_markdown(scores, list(raters)), encoding="utf-8")
    return scores


def add_review_args(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    sheet = sub.add_parser("sheet", help="write a blind sheet, its key and the rater's text")
    sheet.add_argument(
        "--sets", type=Path, required=True, help='JSON {"everyday": [labels, ...], "test": [...]}'
    )
    sheet.add_argument(
        "--writers",
        default="t5,gpt2,composer",
        help="comma-separated: t5, gpt2, composer, openai, gemini, or NAME=comments.jsonl",
    )
    sheet.add_argument("--gpt2", type=Path, help="the GPT-2 run folder for the gpt2 writer")
    sheet.add_argument("--out", type=Path, default=REVIEW_DIR)
    sheet.add_argument("--seed", type=int, default=0)
    scoring = sub.add_parser("score", help="score the ratings_*.tsv files of a sheet's folder")
    scoring.add_argument("folder", type=Path, nargs="?", default=REVIEW_DIR)


def _writers(spec: str, gpt2: Path | None, seed: int) -> dict[str, Writer]:
    writers: dict[str, Writer] = {}
    for item in (s.strip() for s in spec.split(",") if s.strip()):
        name, _, path = item.partition("=")
        if path:
            writers[name] = file_writer(path)
        elif name == "t5":
            writers[name] = pipeline_writer(seed=seed)
        elif name == "gpt2":
            if gpt2 is None:
                raise ValueError("the gpt2 writer needs --gpt2 RUN_DIR")
            writers[name] = pipeline_writer(gpt2, seed=seed)
        elif name == "composer":
            writers[name] = composer_writer(seed)
        elif name in ("openai", "gemini"):
            writers[name] = llm_writer(name, seed)
        else:
            raise ValueError(
                f"unknown writer {name!r}: t5, gpt2, composer, openai, gemini or NAME=file.jsonl"
            )
    return writers


def run_review(args: argparse.Namespace) -> int:
    try:
        if args.action == "score":
            scores = score_folder(args.folder)
            print(scores_markdown(scores, list(next(iter(scores.values()))["post"])))
            return 0
        label_sets = json.loads(args.sets.read_text(encoding="utf-8"))
        paths = make_sheet(label_sets, _writers(args.writers, args.gpt2, args.seed), args.out, args.seed)
    except (ValueError, KeyError, FileNotFoundError) as e:
        print(f"python -m utils review: error: {e}", file=sys.stderr)
        return 2
    print(" ".join(shown_path(p) for p in paths.values()))
    return 0
