"""The editor's review of the offline composer: a sample of label sets of every shape, the
comment the composer writes for each with the phrase-bank origin of its parts, and detectors for
the faults that can be found mechanically (issue 12, item 1).

Shapes: 0, 1 or 2 emotions × 0 to 6 objects, and with objects, one in three rows with a rare
object (an OIV7 class outside the sampler's pool). The composer does not report where its parts
came from, so :func:`trace_origin` finds them in the comment: the opener it starts with, the
closer after it, and the object or generic template each remark fills.

    python -m utils.text.composer_review --n 300 --seed 12 --out data/composer_review/sample.jsonl
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

import tossi

from utils import labels as vocab
from utils.text.composer import (
    BODY_PARTS,
    MIN_CHARS,
    NO_EMOTION,
    REFERENCE_MAX_CHARS,
    OfflineComposer,
    _english_key,
    fill,
    phrase_banks,
)
from utils.text.dataset import MAX_SENTENCES, sentence_count
from utils.text.labelsets import EMOTION_WEIGHTS, object_pool
from utils.text.words import AMUSED_CUES, CONCERNED_CUES, repeated_words

EMOTION_COUNTS = (0, 1, 2)
OBJECT_COUNTS = tuple(range(7))
RARE_EVERY = 3  # with objects, every third pass over the shapes puts a rare object in
Row = dict


def rare_objects() -> list[str]:
    """OIV7 classes (Korean) the label-set sampler never draws, excluded classes left out."""
    pool, excluded = set(object_pool()[0]), vocab.excluded_ko()
    return sorted(c["ko"] for c in vocab.oiv7_classes() if c["ko"] not in pool and c["ko"] not in excluded)


def sample_label_sets(n: int = 300, seed: int = 0) -> list[tuple[str, dict]]:
    """``n`` (label string, shape) pairs cycling through every shape; the same for the same seed."""
    rng = random.Random(seed)
    pool, weights = object_pool()
    rare = rare_objects()
    emotions, emotion_weights = zip(*EMOTION_WEIGHTS.items(), strict=True)
    shapes = [(e, o) for e in EMOTION_COUNTS for o in OBJECT_COUNTS]
    out = []
    for i in range(n):
        n_emotions, n_objects = shapes[i % len(shapes)]
        with_rare = n_objects > 0 and (i // len(shapes)) % RARE_EVERY == 0
        feelings: list[str] = []
        while len(feelings) < n_emotions:
            pick = rng.choices(emotions, emotion_weights)[0]
            feelings += [pick] if pick not in feelings else []
        objects = [rng.choice(rare)] if with_rare else []
        while len(objects) < n_objects:
            pick = rng.choices(pool, weights)[0]
            objects += [pick] if pick not in objects else []
        rng.shuffle(objects)
        shape = {"emotions": n_emotions, "objects": n_objects, "rare": with_rare}
        out.append((vocab.format_labels(feelings + objects), shape))
    return out


def _first_match(phrases_by_key: dict[str, list[str]], text: str, prefer: str, at_start: bool) -> dict | None:
    """The longest bank phrase found in ``text`` (at its start, or anywhere), preferring ``prefer``'s
    list when several keys hold the same phrase."""
    found = [
        (len(p), key == prefer, key, p)
        for key, phrases in phrases_by_key.items()
        for p in phrases
        if (text.startswith(p) if at_start else p in text)
    ]
    if not found:
        return None
    _, _, key, phrase = max(found)
    return {"mood": key, "text": phrase}


def _remark_templates(objects: list[str]) -> list[tuple[str, str, str]]:
    """(bank, template, filled text) for every remark the composer could write for ``objects``."""
    banks = phrase_banks()
    out = []
    for obj in objects:
        key = _english_key(obj)
        own = banks["objects"].get(key or "", [])
        out += [(f"objects:{key}", t, fill(t, obj=obj)) for t in own]
        out += [("generic:single", t, fill(t, obj=obj)) for t in banks["generic"]["single"]]
    # Body parts get remarks of their own and stay out of the pair and list remarks.
    things = [o for o in objects if _english_key(o) not in BODY_PARTS]
    # A pair remark may join any two of them (people's together remarks: {obj} is the other thing);
    # the composer never pairs a body part, which ``body_part_listed`` looks for.
    for a, b in itertools.permutations(objects, 2):
        out += [("generic:pair", t, fill(t, obj=b, a=a, b=b)) for t in banks["generic"]["pair"]]
    if len(things) > 2:  # a list of one kind, or a kind name with its own kind's things
        out += [("generic:many", t, fill(t, items=things)) for t in banks["generic"]["many"]]
        for head in things:
            rest = [t for t in things if t != head]
            out += [("generic:many", t, fill(t, obj=head, items=rest)) for t in banks["generic"]["many"]]
    return out


def trace_origin(labels: str, comment: str) -> dict:
    """Which bank phrases make ``comment``: opener and closer (with the mood list each came from)
    and each remark's bank and template, in the order they appear."""
    emotions, objects = vocab.split_labels(vocab.parse_labels(labels, strict=False))
    banks = phrase_banks()
    opener = _first_match(banks["openers"], comment, emotions[0] if emotions else NO_EMOTION, True)
    rest = comment[len(opener["text"]) :] if opener else comment
    closer = _first_match(banks["closers"], rest, emotions[-1] if emotions else NO_EMOTION, False)
    found = [(rest.find(text), bank, template, text) for bank, template, text in _remark_templates(objects)]
    found = [f for f in found if f[0] >= 0]
    # A short template can sit inside a longer one ({obj:이} 잘 어울려요): keep the longest.
    kept = [f for f in found if not any(f[3] in g[3] and len(g[3]) > len(f[3]) for g in found)]
    remarks = [{"bank": bank, "template": template, "text": text} for _, bank, template, text in sorted(kept)]
    return {"opener": opener, "remarks": remarks, "closer": closer}


def review_sample(n: int = 300, seed: int = 0) -> list[Row]:
    """Rows ``{id, labels, shape, comment, origin}`` for :func:`sample_label_sets` (default style)."""
    composer = OfflineComposer(seed=seed)
    rows = []
    for i, (labels, shape) in enumerate(sample_label_sets(n, seed)):
        comment = composer.compose(labels, key=i)
        rows.append({"id": i, "labels": labels, "shape": shape, "comment": comment})
        rows[-1]["origin"] = trace_origin(labels, comment)
    return rows


# --- detectors: each takes a row and says whether the fault is there ---------------------------

CHEERFUL_REMARK_CUES = ("즐거워", "짝꿍", "팀워크", "케미", "신나")
NEGATIVE_MOODS = ("슬픔", "분노", "공포")
# Pair and list templates that claim a relation between the objects (one makes the other look
# better, they are a team); true of a few pairs only, so nonsense for most drawn ones.
RELATION_CLAIMS = ("더 살아 보여요", "짝꿍", "조연", "시너지", "케미", "서로를 돋보이게", "팀워크")
RELATION_CLAIMS += ("함께라 더 돋보여요", "사이좋게", "함께라서 더 즐거워", "조합이")
HARMONY_CLAIM = re.compile(r"어울|어우러|조화")
_SPACING = re.compile(r" {2,}| [.,!?~]|[.,!?][가-힣A-Za-z]|^\s|\s$|[.!?][.!?]")
_PARTICLE_PAIRS = (("이", "가"), ("을", "를"), ("은", "는"), ("와", "과"), ("으로", "로"))
_DOUBLE_SUBJECT = re.compile(r"[가-힣][이가] [가-힣]+[이가] 느껴")


def repeated_word(row: Row) -> bool:
    """The same content word twice, e.g. 정말 ... 정말, 사진에서 ... 사진을."""
    return bool(repeated_words(row["comment"]))


def spacing_fault(row: Row) -> bool:
    """Doubled spaces, a space before punctuation, none after it, or doubled punctuation."""
    return bool(_SPACING.search(row["comment"]))


def particle_fault(row: Row) -> bool:
    """A particle after an object label in the wrong form for its last syllable (나무이, 책가),
    a particle glued to a label that does not end in Hangul (음식)이), or two subjects for one
    feeling verb (채소가 신선함이 느껴져요: the thing should take 에서)."""
    text = row["comment"]
    if _DOUBLE_SUBJECT.search(text):
        return True
    for obj in vocab.split_labels(vocab.parse_labels(row["labels"], strict=False))[1]:
        for match in re.finditer(rf"(?<![가-힣]){re.escape(obj)}", text):
            after = text[match.end() :]
            for pair in _PARTICLE_PAIRS:
                used = next((p for p in sorted(pair, key=len, reverse=True) if after.startswith(p)), None)
                if used is None or not re.match(r"[ .,!]|$", after[len(used) :]):
                    continue
                if not re.search(r"[가-힣]$", obj) or tossi.postfix(obj, used) != obj + used:
                    return True
    return False


def particle_or_spacing(row: Row) -> bool:
    return particle_fault(row) or spacing_fault(row)


def _mood_part(part: dict | None) -> str:
    return part["text"] if part else ""


def mood_clash(row: Row) -> bool:
    """Opener, remarks and closer in moods that do not go together: an amused opener with a
    concerned closer (or the reverse), or a cheerful remark under a sad, angry or startled face."""
    origin = row["origin"]
    opener, closer = _mood_part(origin["opener"]), _mood_part(origin["closer"])
    amused = any(c in opener for c in AMUSED_CUES) or any(c in closer for c in AMUSED_CUES)
    concerned = any(c in opener for c in CONCERNED_CUES) or any(c in closer for c in CONCERNED_CUES)
    emotions = vocab.split_labels(vocab.parse_labels(row["labels"], strict=False))[0]
    negative = any(e in NEGATIVE_MOODS for e in emotions) and bool(opener or closer)
    cheerful = any(c in r["text"] for r in origin["remarks"] for c in CHEERFUL_REMARK_CUES)
    return (amused and concerned) or (negative and cheerful)


def two_moods(row: Row) -> bool:
    """Two emotions handled as two moods: the opener from one emotion's bank and the closer from
    the other's, one bright (기쁨) and one not, or an amused opener before a sad closer, so the
    comment both cheers and consoles."""
    opener, closer = row["origin"]["opener"], row["origin"]["closer"]
    if not (opener and closer) or NO_EMOTION in (opener["mood"], closer["mood"]):
        return False
    amused_then_sad = any(c in opener["text"] for c in AMUSED_CUES) and closer["mood"] == "슬픔"
    return (opener["mood"] in NEGATIVE_MOODS) != (closer["mood"] in NEGATIVE_MOODS) or amused_then_sad


def nonsense_link(row: Row) -> bool:
    """Objects joined by a claimed relation (one makes the other look alive, they are a team)."""
    return any(
        r["bank"] in ("generic:pair", "generic:many") and any(c in r["template"] for c in RELATION_CLAIMS)
        for r in row["origin"]["remarks"]
    )


def hollow_harmony(row: Row) -> bool:
    """A pair or list sentence that says the objects suit or blend with each other (어울려요,
    어우러져, 조화), which is empty or false for most drawn combinations (악어, 타이어와 나무의 조화)."""
    return any(
        r["bank"] in ("generic:pair", "generic:many")
        and HARMONY_CLAIM.search(r["template"])
        and r["template"] not in _people_together()
        for r in row["origin"]["remarks"]
    )


@cache
def _people_together() -> frozenset[str]:
    """People's remarks with one thing: a person with what they wear or where they stand (코트가
    잘 어울리는 모습) is a real relation, not a hollow one."""
    bank = phrase_banks()["kinds"]["people"]
    return frozenset(t for part, ts in bank.items() if part.startswith("together:") for t in ts)


def dangling_reference(row: Row) -> bool:
    """A word that points back to something the comment never said: 그래도 with nothing to
    concede, 그 열정/그 미소 never mentioned, relief (무사해서, 안심) with no scare before it, or
    the first remark's 도 (also) after nothing or after a consoling opener."""
    origin = row["origin"]
    closer, opener = _mood_part(origin["closer"]), origin["opener"]
    if closer.startswith("그래도"):
        return True
    # 그 미소 under a smiling face points at the photo; after another emotion's opener, at nothing.
    if closer.startswith("그 ") and opener and opener["mood"] != origin["closer"]["mood"]:
        return True
    if opener is None and re.search(r"무사해서|안심", closer):
        return True
    first = origin["remarks"][0]["template"] if origin["remarks"] else ""
    also_first = bool(re.match(r"\{(obj|list):도\}", first))
    return also_first and (opener is None or opener["mood"] == "슬픔")


def body_part_listed(row: Row) -> bool:
    """A body part (입, 코, 귀, 팔) remarked on as if it were a thing in the scene."""
    generic = [r for r in row["origin"]["remarks"] if r["bank"].startswith("generic:")]
    objects = vocab.split_labels(vocab.parse_labels(row["labels"], strict=False))[1]
    parts = [o for o in objects if (_english_key(o) or "").startswith("Human ")]
    # as a word: 발 (foot) is not named in 깃발 (flag)
    return any(re.search(rf"(?<![가-힣]){re.escape(p)}", r["text"]) for p in parts for r in generic)


def length_outlier(row: Row) -> bool:
    """More than three sentences, over the reference's longest comment (92 characters), or under 15."""
    text = row["comment"]
    return sentence_count(text) > MAX_SENTENCES or not MIN_CHARS <= len(text) <= REFERENCE_MAX_CHARS


DETECTORS: dict[str, Callable[[Row], bool]] = {
    "mood_clash": mood_clash,
    "two_moods": two_moods,
    "nonsense_link": nonsense_link,
    "hollow_harmony": hollow_harmony,
    "dangling_reference": dangling_reference,
    "odd_object_remark": body_part_listed,
    "repeated_word": repeated_word,
    "particle_spacing": particle_or_spacing,
    "length_outlier": length_outlier,
}


def detect(rows: Iterable[Row]) -> list[Row]:
    """The rows with ``detected``: the fault kinds the detectors find in each."""
    return [{**row, "detected": [k for k, found in DETECTORS.items() if found(row)]} for row in rows]


def fault_rates(rows: list[Row], field: str = "detected") -> dict:
    """Count and share of rows with each fault kind in ``field`` (hand labels: ``faults``), and
    the share of rows with at least one."""
    n = len(rows)
    if not n:
        raise ValueError("fault_rates: no rows to count")
    counts = Counter(kind for row in rows for kind in set(row[field]))
    return {
        "rows": n,
        "kinds": {k: {"count": c, "rate": round(c / n, 3)} for k, c in counts.most_common()},
        "any_fault": {
            "count": sum(bool(r[field]) for r in rows),
            "rate": round(sum(bool(r[field]) for r in rows) / n, 3),
        },
    }


def agreement(rows: list[Row]) -> dict[str, dict]:
    """Per detector kind, and for "any fault at all", how the ``detected`` flags agree with the
    hand ``faults``: both, detector only, hand only, precision and recall against the hand
    labels, and the share of rows where the two say the same."""
    flags = {kind: [(kind in r["detected"], kind in r["faults"]) for r in rows] for kind in DETECTORS}
    flags["any_fault"] = [(bool(r["detected"]), bool(r["faults"])) for r in rows]
    out = {}
    for kind, pairs in flags.items():
        both = sum(d and h for d, h in pairs)
        det = sum(d for d, _ in pairs)
        hand = sum(h for _, h in pairs)
        same = sum(d == h for d, h in pairs)
        out[kind] = {
            "both": both,
            "detector_only": det - both,
            "hand_only": hand - both,
            "precision": round(both / det, 3) if det else None,
            "recall": round(both / hand, 3) if hand else None,
            "agreement": round(same / len(rows), 3),
        }
    return out


def write_jsonl(rows: list[Row], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m utils.text.composer_review",
        description="sample label sets of every shape, compose them, detect faults (리뷰 샘플 · review sample)",
    )
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="JSONL file for the rows")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error(f"--n must be at least 1, got {args.n}")
    rows = detect(review_sample(args.n, args.seed))
    write_jsonl(rows, args.out)
    print(json.dumps(fault_rates(rows), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
