"""The comment dataset (labels → comment): the reference JSON format, JSON Lines, safe appends,
a seeded split, and the checks every generated comment must pass.

A row in a style other than the default (``utils.text.styles``) is ``[labels, comment, style]`` in the
reference format and has a ``style`` field in JSON Lines. In memory every row is a pair
(model input, comment): the model input is the label string with the style prefix
(``반말 · 유쾌한 | 기쁨, 안경``), which is the label string itself for the default style.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from utils.labels import label_named, parse_labels, split_labels
from utils.text.grounding import compiled, grounding_problems, main_objects, stock_phrases
from utils.text.styles import DEFAULT_STYLE, Style, model_input, parse_style, split_model_input
from utils.text.words import repeated_predicates

Pair = tuple[str, str]  # (label string, comment)

MAX_COMMENT_CHARS = 120
# Blind raters posted no comment of four sentences or more, by any writer (round 11): a stack.
MAX_SENTENCES = 3

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
# Emoji and pictographs: the blocks SNS comments actually use.
_EMOJI_CHARS = "\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u2b55"
_EMOJI = re.compile(f"[{_EMOJI_CHARS}]")
# What ends a sentence in a comment: a stop, !, ~, … or an emoji.
_SENTENCE_MARKS = rf".!~…{_EMOJI_CHARS}"
_SENTENCE_END = rf"\s*(?=[{_SENTENCE_MARKS}]|$)"
# Korean interrogative endings at the end of a sentence; a question may lack a question mark.
_QUESTION_ENDING = re.compile(
    rf"(까요|나요|[는인한던]가요|어때요|어떠세요|[니냐]|[겠시이하]죠){_SENTENCE_END}"
)
# A comment that ends mid-word or on a connective was cut off.
_COMPLETE_END = re.compile(rf"(요|다|네|군요|[.!~…]|[{_EMOJI_CHARS}\ufe0f]+)\s*$")


_SENTENCE_DONE = re.compile(rf"[{_SENTENCE_MARKS}\ufe0f]\s*$")


def is_cut_off(text: str) -> bool:
    """Whether ``text`` (stripped) stops without a complete ending: ``validate_comment``'s "cut off"."""
    return not _COMPLETE_END.search(text)


def ends_sentence(text: str) -> bool:
    """Whether ``text`` ends with a finished sentence (a full stop, !, ~, … or an emoji)."""
    return bool(_SENTENCE_DONE.search(text))


class DatasetFormatError(ValueError):
    """A dataset file that does not follow the expected format."""


def _fail(path: Path, row: object, problem: str) -> DatasetFormatError:
    return DatasetFormatError(f"{path}: row {row}: {problem}")


def _check_pair(path: Path, row: object, labels: object, comment: object, style: object = None) -> Pair:
    """The row as (model input, comment); ``style`` None is the default style."""
    if not isinstance(labels, str) or not isinstance(comment, str):
        raise _fail(
            path,
            row,
            f"labels and comment must be strings, got {type(labels).__name__} and {type(comment).__name__}",
        )
    if not labels.strip():
        raise _fail(path, row, "empty label string")
    if style is None:
        return labels, comment
    try:
        return model_input(labels, parse_style(style) if isinstance(style, str) else style), comment
    except (ValueError, TypeError) as e:
        raise _fail(path, row, f"bad style {style!r}: {e}") from None


def read_reference_json(path: str | Path) -> list[Pair]:
    """Read ``{"0": [labels, comment], ...}``; rows come back in index order."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DatasetFormatError(
            f"{path}: not valid JSON (line {e.lineno}, column {e.colno}): {e.msg}"
        ) from None
    except UnicodeDecodeError as e:
        raise DatasetFormatError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    if not isinstance(data, dict):
        raise DatasetFormatError(
            f"{path}: expected a JSON object keyed by row index, got {type(data).__name__}"
        )
    pairs = []
    for key in sorted(data, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k)):
        if not key.isdigit():
            raise _fail(path, repr(key), "key is not a row index")
        value = data[key]
        if not isinstance(value, list) or len(value) not in (2, 3):
            raise _fail(
                path,
                key,
                f"expected [labels, comment] or [labels, comment, style], got {json.dumps(value, ensure_ascii=False)[:80]}",
            )
        pairs.append(_check_pair(path, key, *value))
    return pairs


def _reference_row(source: str, comment: str) -> list[str]:
    labels, style = split_model_input(source)
    return [labels, comment] if style == DEFAULT_STYLE else [labels, comment, style.key]


def write_reference_json(pairs: Iterable[Pair], path: str | Path) -> Path:
    """Write the reference format, atomically (a crash never leaves half a file); a pair whose
    model input carries a style prefix is written ``[labels, comment, style]``."""
    data = {str(i): _reference_row(source, comment) for i, (source, comment) in enumerate(pairs)}
    return _atomic_write(Path(path), json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def read_jsonl(path: str | Path, *, allow_partial_tail: bool = True) -> list[dict]:
    """Read JSON Lines. A last line without a newline is the remains of a killed writer: it is
    ignored when ``allow_partial_tail`` (the row will be written again), otherwise an error."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            if allow_partial_tail and number == len(lines):
                break
            raise _fail(path, number, f"not valid JSON: {e.msg}") from None
        if not isinstance(record, dict):
            raise _fail(path, number, f"expected a JSON object, got {type(record).__name__}")
        records.append(record)
    return records


def read_jsonl_pairs(path: str | Path) -> list[Pair]:
    """(labels, comment) pairs of a JSON Lines file with ``labels`` and ``comment`` fields."""
    path = Path(path)
    pairs = []
    for number, record in enumerate(read_jsonl(path, allow_partial_tail=False), start=1):
        if "labels" not in record or "comment" not in record:
            raise _fail(path, number, f"missing field(s) {sorted({'labels', 'comment'} - set(record))}")
        pairs.append(_check_pair(path, number, record["labels"], record["comment"], record.get("style")))
    return pairs


def write_jsonl(records: Iterable[dict], path: str | Path) -> Path:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    return _atomic_write(Path(path), text)


def truncate_partial_tail(path: Path) -> None:
    """Drop a last line left without its newline by a killed writer, so appends stay line-aligned."""
    with path.open("rb+") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if size == 0:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        f.seek(0)
        data = f.read()
        f.truncate(data.rfind(b"\n") + 1)


def append_jsonl(path: str | Path, record: dict) -> None:
    """Append one record as a line, flushed and fsynced, so a kill loses at most that line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        truncate_partial_tail(path)
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    with path.open("ab") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def read_dataset(path: str | Path) -> list[Pair]:
    """Read either format, chosen by the file ending (.json reference, .jsonl lines)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset file not found: {path}")
    if path.suffix == ".jsonl":
        return read_jsonl_pairs(path)
    if path.suffix == ".json":
        return read_reference_json(path)
    raise DatasetFormatError(f"{path}: unknown dataset format; use .json (reference format) or .jsonl")


def write_dataset(pairs: Iterable[Pair], path: str | Path) -> Path:
    path = Path(path)
    if path.suffix == ".jsonl":
        return write_jsonl((_jsonl_row(source, comment) for source, comment in pairs), path)
    if path.suffix == ".json":
        return write_reference_json(pairs, path)
    raise DatasetFormatError(f"{path}: unknown dataset format; use .json (reference format) or .jsonl")


def _jsonl_row(source: str, comment: str) -> dict[str, str]:
    labels, style = split_model_input(source)
    row = {"labels": labels, "comment": comment}
    return row if style == DEFAULT_STYLE else row | {"style": style.key}


def _atomic_write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def split_dataset(
    pairs: Sequence[Pair], *, val: float = 0.1, test: float = 0.1, seed: int = 42
) -> dict[str, list[Pair]]:
    """Seeded train/val/test split that keeps every label string in one part only (in all its
    styles), so the model is never tested on a label set it was trained on."""
    if not 0 <= val < 1 or not 0 <= test < 1 or val + test >= 1:
        raise ValueError(f"val ({val}) and test ({test}) must be fractions summing to less than 1")
    groups: dict[str, list[Pair]] = {}
    for pair in pairs:
        groups.setdefault(split_model_input(pair[0])[0], []).append(pair)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    total = len(pairs)
    parts: dict[str, list[Pair]] = {"val": [], "test": [], "train": []}
    for key in keys:
        if len(parts["val"]) < val * total:
            parts["val"].extend(groups[key])
        elif len(parts["test"]) < test * total:
            parts["test"].extend(groups[key])
        else:
            parts["train"].extend(groups[key])
    return {"train": parts["train"], "val": parts["val"], "test": parts["test"]}


def has_question(comment: str) -> bool:
    """True if the comment asks something, with or without a question mark."""
    return "?" in comment or "？" in comment or bool(_QUESTION_ENDING.search(comment))


def count_emojis(comment: str) -> int:
    return len(_EMOJI.findall(comment))


def strip_emojis(text: str) -> str:
    """``text`` without emojis (and their variation selectors), for fonts that have none."""
    return re.sub(r"\s{2,}", " ", _EMOJI.sub("", text).replace("\ufe0f", "")).strip()


def has_hangul(text: str) -> bool:
    return bool(_HANGUL.search(text))


# Particles a label takes in a comment; a label as a whole word is followed by nothing, or by one
# of them, then no more Hangul.
LABEL_PARTICLES = ("이", "가", "을", "를", "은", "는", "와", "과", "도", "의", "에", "랑", "이랑", "하고", "처럼", "만")  # fmt: skip
_PARTICLE = f"(?:{'|'.join(LABEL_PARTICLES)})"
_SENTENCE_TEXT = re.compile(rf"[^{_SENTENCE_MARKS}]+")
_STOPPED_SENTENCE = re.compile(r"[^.!?~…]*[가-힣][^.!?~…]*[.!?~…]+")


def sentence_count(comment: str) -> int:
    """Sentences that end on a stop, !, ?, ~ or … (a run of them ends one); an emoji after a
    sentence is not one of its own."""
    return len(_STOPPED_SENTENCE.findall(comment))


def split_sentences(comment: str) -> list[str]:
    """The sentences of a comment: the text between stops, !, ~, … and emojis."""
    return _SENTENCE_TEXT.findall(comment)


def sentences_no_bank_has(comment: str, labels: Sequence[str]) -> list[str]:
    """The sentences of ``comment`` that name no object label (nor a person as 모습 or 분) and are
    none of the phrase banks' openers, closers, tone phrases or label-free remarks, in either
    speech level (``utils.text.grounding.stock_phrases``). A model that learnt from the offline
    composer has no other source for such a sentence: it is one it spliced or cut ("한 저녁
    보내세요", "이렇게 가까이 보니 신기해요", round 10)."""
    _, objects = split_labels(list(labels))
    stock = stock_phrases()
    return [
        text
        for sentence in split_sentences(comment)
        if re.search("[가-힣]", text := sentence.strip(" \ufe0f\u200d").rstrip("?"))  # an emoji's selector
        and text not in stock
        and not any(label_named(o, text) for o in objects)
    ]


def bank_phrases_only(pairs: Iterable[Pair]) -> bool:
    """Whether every comment of ``pairs`` (model input, comment) is made of the banks' phrases and
    sentences that name its labels, as the offline composer's are: a model taught on such rows has
    no source for any other sentence, so one it writes is spliced (``known_phrases_only``). A
    single sentence of its own, as an LLM or a person writes, makes it False."""
    seen = False
    for asked, comment in pairs:
        labels = parse_labels(split_model_input(asked)[0], strict=False)
        if sentences_no_bank_has(comment, labels):
            return False
        seen = True
    return seen


# Particles after which a label still counts as named ("코트와 코트까지" names it twice).
_NAMING_PARTICLE = f"(?:{'|'.join((*LABEL_PARTICLES, '까지', '에서', '으로', '로', '보다', '부터'))})"


def _as_word(label: str) -> str:
    return rf"(?<![가-힣]){re.escape(label)}(?={_NAMING_PARTICLE}?(?![가-힣]))"


def _namings_by_sentence(comment: str, label: str, objects: Sequence[str]) -> list[int]:
    """How often each sentence of ``comment`` names ``label``; a longer label that contains it
    (차 / 차 한 잔, 자전거 바퀴 / 바퀴) is another label."""
    longer = [o for o in objects if o != label and label in o]
    counts = []
    for sentence in split_sentences(comment):
        for other in longer:
            sentence = sentence.replace(other, " ")
        counts.append(len(compiled(_as_word(label)).findall(sentence)))
    return counts


def named_twice(comment: str, objects: Sequence[str]) -> list[str]:
    """Object labels named twice in one sentence ("강아지가 눈에 띄고 강아지도 멋져요", "안경과
    안경이"), a slip of a small text model."""
    return [
        o for o in dict.fromkeys(objects) if max(_namings_by_sentence(comment, o, objects), default=0) > 1
    ]


def named_again(comment: str, objects: Sequence[str]) -> list[str]:
    """Object labels named in more than one sentence ("바퀴가 … 바퀴가 …"): a small text model
    going round in circles; the data's comments say each thing once (none of its 22,600 rows
    does this)."""
    return [
        o for o in dict.fromkeys(objects) if sum(n > 0 for n in _namings_by_sentence(comment, o, objects)) > 1
    ]


def repeated_emojis(comment: str) -> list[str]:
    """Emojis that appear more than once ("🪑 … 🪑")."""
    found = _EMOJI.findall(comment)
    return [e for e in dict.fromkeys(found) if found.count(e) > 1]


def dangling_labels(comment: str, objects: Sequence[str]) -> list[str]:
    """Labels a sentence ends on, with only a particle after them ("비행기가 🏢"): the start of a
    sentence that never came."""
    return [
        o for o in dict.fromkeys(objects)
        if compiled(rf"(?<![가-힣]){re.escape(o)}{_PARTICLE}{_SENTENCE_END}").search(comment)
    ]  # fmt: skip


_AGREEING = ("이", "가", "은", "는", "을", "를", "와", "과")


def particle_errors(comment: str, objects: Sequence[str]) -> list[str]:
    """Labels followed by a particle in the form their last syllable does not take ("병가",
    "드럼가", "나무이"), a slip of a small text model after the label guide put the label in."""
    import tossi

    out = []
    for label in dict.fromkeys(objects):
        for particle in compiled(
            rf"(?<![가-힣]){re.escape(label)}({'|'.join(_AGREEING)})(?![가-힣])"
        ).findall(comment):
            if tossi.postfix(label, particle) != label + particle:
                out.append(label + particle)
    return list(dict.fromkeys(out))


def validate_comment(
    comment: str, labels: str | Sequence[str], style: str | Style | None = None
) -> list[str]:
    """Problems of a generated comment for its labels; an empty list means it is usable.

    Checks: empty, cut off, over 120 characters or 3 sentences, a question, no Hangul, no emoji, every object
    label mentioned (emotions need not be named: they set the tone), none named twice (in a
    sentence or in two), no emoji twice, no verb or adjective twice ("살려 줘요 … 살려 줘요"), no sentence ending on a label and no particle in the
    wrong form after one ("병가") or none where one is needed ("와인 근사한", "와인 가"); nothing the
    labels do not give (an object, a smile, an emoji of another thing) and no label left as a
    fragment (``utils.text.grounding``). With ``style``, also
    the speech level of every sentence and the tone (``utils.text.style_check.style_problems``).
    ``labels`` may carry a model-input style prefix (``반말 · 유쾌한 | 기쁨, 안경``).
    """
    text = (comment or "").strip()
    if not text:
        return ["empty"]
    problems = []
    if is_cut_off(text):
        problems.append("cut off")
    if len(text) > MAX_COMMENT_CHARS:
        problems.append(f"over {MAX_COMMENT_CHARS} characters ({len(text)})")
    if (sentences := sentence_count(text)) > MAX_SENTENCES:
        problems.append(f"over {MAX_SENTENCES} sentences ({sentences})")
    if has_question(text):
        problems.append("question")
    if not has_hangul(text):
        problems.append("no Hangul")
    if count_emojis(text) == 0:
        problems.append("no emoji")
    names = (
        parse_labels(split_model_input(labels)[0], strict=False) if isinstance(labels, str) else list(labels)
    )
    _, objects = split_labels(names)
    missing = [o for o in main_objects(objects) if not label_named(o, text)]
    if missing:
        problems.append("label not mentioned: " + ", ".join(missing))
    twice = named_twice(text, objects)
    if twice:
        problems.append("label named twice in a sentence: " + ", ".join(twice))
    if again := [o for o in named_again(text, objects) if o not in twice]:
        problems.append("label named again in another sentence: " + ", ".join(again))
    if emojis := repeated_emojis(text):
        problems.append("emoji repeated: " + " ".join(emojis))
    if predicates := repeated_predicates(text):
        problems.append("predicate said twice: " + ", ".join(predicates))
    dangling = dangling_labels(text, objects)
    if dangling:
        problems.append("sentence ends after a label: " + ", ".join(dangling))
    wrong_particles = particle_errors(text, objects)
    if wrong_particles:
        problems.append("particle does not agree with the label: " + ", ".join(wrong_particles))
    problems += grounding_problems(text, names)
    if style is not None:
        from utils.text.style_check import style_problems  # kiwipiepy: loaded only when a style is checked

        problems += style_problems(text, style)
    return problems
