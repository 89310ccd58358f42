"""The offline composer, the label-set sampler and the shipped comment dataset they made."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections import Counter

import pytest
import tossi

from utils import labels as vocab
from utils.composer import OfflineComposer, phrase_banks, render_list, style_banks, with_particle
from utils.datagen import DEFAULT_SEED, OfflineBackend, build_messages, generate_dataset
from utils.labelsets import COMMON_OBJECTS_EN, label_set_stats, sample_label_sets
from utils.llm_prompt import EXAMPLE_LABELS, EXAMPLES
from utils.paths import DATA, ROOT
from utils.phrases import load_bank
from utils.style_check import comment_tone, speech_level
from utils.styles import DEFAULT_STYLE, Style, all_styles
from utils.textdata import read_dataset, read_jsonl, validate_comment

PARTICLES = "이가을를은는와과"
# labels per input in the reference's training data (reference §2.1)
REFERENCE_LABEL_COUNT_SHARES = {"1": 0.32, "2": 0.36, "3": 0.20, "4": 0.07, "5+": 0.04}
# every object the reference lists among its most common (reference §2.1)
REFERENCE_COMMON_OBJECTS = ["나무", "재킷", "안경", "차", "바퀴", "창문", "스카프", "건물", "타이어"]
REFERENCE_COMMON_OBJECTS += ["립스틱", "테이블", "의자", "책", "포스터"]


def sentences(comment: str) -> list[str]:
    """The Korean sentences of a comment, emojis and punctuation removed."""
    parts = (re.sub(r"[^가-힣A-Za-z0-9 ]", "", s).strip() for s in re.split(r"[.!~]+", comment))
    return [p for p in parts if p]


def particles_after(label: str, comment: str) -> list[str]:
    return [comment[m.end()] for m in re.finditer(re.escape(label), comment) if m.end() < len(comment)]


def assert_particles_agree(labels: list[str], comment: str) -> None:
    for label in labels:
        for particle in particles_after(label, comment):
            if particle in PARTICLES:
                assert tossi.postfix(label, particle) == label + particle, (label, comment)


@pytest.mark.parametrize(
    ("noun", "particle", "expected"),
    [
        ("나무", "이", "나무가"),
        ("책", "가", "책이"),
        ("안경", "를", "안경을"),
        ("사과", "을", "사과를"),
        ("가방", "와", "가방과"),
        ("차", "과", "차와"),
        ("고양이", "은", "고양이는"),
        ("연필", "으로", "연필로"),  # ㄹ takes 로, not 으로
        ("책", "로", "책으로"),
        ("강아지", None, "강아지"),
    ],
)
def test_particles_agree_with_the_nouns_last_syllable(noun, particle, expected):
    assert with_particle(noun, particle) == expected


def test_a_list_joins_with_and_and_puts_the_particle_on_the_last_noun():
    assert render_list(["나무", "재킷", "차"], "을") == "나무, 재킷과 차를"
    assert render_list(["안경", "모자"], "이") == "안경과 모자가"
    assert render_list(["책"], "은") == "책은"


def test_phrase_banks_cover_the_common_sns_objects_and_every_emotion():
    banks = phrase_banks()
    assert len(banks["objects"]) >= 150
    assert set(COMMON_OBJECTS_EN) <= set(banks["objects"])
    assert {vocab.ko_name(en) for en in COMMON_OBJECTS_EN} >= set(REFERENCE_COMMON_OBJECTS)
    assert set(banks["objects"]) <= {c["en"] for c in vocab.oiv7_classes()}
    for bank in ("openers", "closers"):
        assert set(banks[bank]) == {*vocab.EMOTION_KO, "없음"}
        assert min(len(phrases) for phrases in banks[bank].values()) >= 24
    assert not [p for ps in banks["openers"].values() for p in ps if "?" in p]


def test_comments_for_sampled_label_sets_are_valid_polite_and_varied():
    composer = OfflineComposer(seed=3)
    label_strings = sample_label_sets(400, seed=11)
    comments = composer.compose_many(label_strings)
    for labels, comment in zip(label_strings, comments, strict=True):
        assert validate_comment(comment, labels) == [], (labels, comment)
        assert len(comment) <= 80, comment
        # polite speech: every sentence ends in -요 or -니다
        assert all(s.endswith(("요", "니다")) for s in sentences(comment)), comment
        assert_particles_agree(vocab.split_labels(vocab.parse_labels(labels))[1], comment)
    assert len(set(comments)) >= 0.97 * len(comments)
    first_sentences = {sentences(c)[0] for c in comments}
    assert len(first_sentences) >= 150


def test_the_same_labels_and_key_give_the_same_comment_and_another_key_varies_it():
    labels = "기쁨, 안경, 나무"
    composer = OfflineComposer(seed=5)
    assert composer.compose(labels, key=1) == OfflineComposer(seed=5).compose(labels, key=1)
    variants = {composer.compose(labels, key=k) for k in range(20)}
    assert len(variants) >= 15
    assert all("안경" in v and "나무" in v for v in variants)


@pytest.mark.parametrize("labels", ["기쁨, 꽃게빵", "슬픔, 모모나", "꽃게빵, 모모나", "분노"])
def test_unknown_labels_and_emotions_alone_get_grammatical_comments(labels):
    composer = OfflineComposer(seed=9)
    objects = [x for x in labels.split(", ") if x not in vocab.EMOTION_KO]
    for key in range(10):
        comment = composer.compose(labels, key=key)
        assert validate_comment(comment, objects) == [], comment
        assert all(s.endswith(("요", "니다")) for s in sentences(comment)), comment
        assert_particles_agree(objects, comment)


def test_the_sampler_is_seeded_and_has_the_reference_shape():
    first = sample_label_sets(6000, seed=1)
    assert first == sample_label_sets(6000, seed=1)
    assert first[:100] == sample_label_sets(100, seed=1)  # a prefix does not depend on n
    assert first != sample_label_sets(6000, seed=2)
    stats = label_set_stats(first)
    for count, share in REFERENCE_LABEL_COUNT_SHARES.items():
        assert stats["share_by_label_count"][count] == pytest.approx(share, abs=0.02), count
    assert stats["share_with_emotion"] == pytest.approx(0.97, abs=0.01)
    assert 170 <= stats["distinct_labels"] <= 186
    occurrences = stats["occurrences"]
    assert min(occurrences[e] for e in vocab.EMOTION_KO) > 1300
    assert all(occurrences[o] >= 40 for o in REFERENCE_COMMON_OBJECTS)
    # what the offline fallback detector reports must be common enough for a model to learn
    assert occurrences["사람"] >= 200 and occurrences["고양이"] >= 40 and occurrences["강아지"] >= 40
    assert not set(occurrences) & set(vocab.excluded_ko())
    assert all(text == vocab.format_labels(vocab.parse_labels(text)) for text in first)


@pytest.mark.parametrize(("name", "minimum"), [("comments_train.json", 6000), ("comments_val.json", 1200)])
def test_the_shipped_dataset_is_large_enough_and_every_row_is_valid(name, minimum):
    rows = read_dataset(DATA / "text_data" / name)
    assert len(rows) >= minimum
    problems = [(labels, comment, p) for labels, comment in rows if (p := validate_comment(comment, labels))]
    assert problems == []
    assert max(len(comment) for _, comment in rows) <= 80


def test_the_shipped_training_data_is_what_the_documented_command_makes(tmp_path):
    """data/README.md: ``generate --backend offline --sample 6000 --seed 1``; the first 150 rows
    come out again (the sampler's prefix and the composer's keys do not depend on the size)."""
    out = tmp_path / "train.jsonl"
    generate_dataset(sample_label_sets(150, seed=1), out, OfflineBackend(seed=1), progress=False)
    regenerated = [(r["labels"], r["comment"]) for r in sorted(read_jsonl(out), key=lambda r: int(r["id"]))]
    assert regenerated == read_dataset(DATA / "text_data" / "comments_train.json")[:150]


def test_offline_generate_command_writes_valid_rows_resumes_and_refuses_other_inputs(tmp_path):
    out, exported = tmp_path / "x.jsonl", tmp_path / "x.json"
    command = [sys.executable, "-m", "utils", "generate", "--backend", "offline", "--sample", "50"]
    command += ["--out", str(out), "--export", str(exported)]
    first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    rows = read_jsonl(out)
    assert len(rows) == 50 and len({r["id"] for r in rows}) == 50
    assert all(validate_comment(r["comment"], r["labels"]) == [] for r in rows)
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "0 written, 50 already done" in again.stdout + again.stderr
    assert read_jsonl(out) == rows
    assert [labels for labels, _ in read_dataset(exported)] == sample_label_sets(50, seed=DEFAULT_SEED)
    # other inputs into the same file: refused, and nothing already written is touched
    other = [*command[:8], "--seed", "99", *command[8:]]
    refused = subprocess.run(other, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    assert f"{out} was written for other inputs: its row 0 has labels" in refused.stderr
    assert read_jsonl(out) == rows


# --- styles ---------------------------------------------------------------------------------


@pytest.mark.parametrize("style", all_styles(), ids=lambda s: s.key)
def test_every_style_writes_valid_comments_in_its_speech_level_and_tone(style):
    composer = OfflineComposer(seed=3)
    label_strings = sample_label_sets(400, seed=11)
    comments = [composer.compose(labels, key, style) for key, labels in enumerate(label_strings)]
    for labels, comment in zip(label_strings, comments, strict=True):
        assert validate_comment(comment, labels, style=style) == [], (labels, comment)
        assert_particles_agree(vocab.split_labels(vocab.parse_labels(labels))[1], comment)
    if style.casual:
        assert not [c for c in comments if any(s.endswith(("요", "니다")) for s in sentences(c))]
    assert Counter(speech_level(c) for c in comments) == {style.level: 400}
    tones = Counter(comment_tone(c) for c in comments)
    assert tones[style.tone] >= (0.9 if style.tone == "다정한" else 1.0) * 400, tones
    assert len(set(comments)) >= 0.97 * len(comments)


def test_casual_banks_hold_the_hand_written_casual_forms():
    casual = style_banks(Style("반말", "다정한"))
    assert "{obj:이} 잘 어울려" in casual.objects["Glasses"]
    assert "초록빛 {obj:이} 참 예뻐" in casual.objects["Tree"]
    assert "환한 미소가 정말 보기 좋아" in casual.openers["기쁨"]
    assert "밝은 에너지가 가득한 사진이야" in casual.openers["기쁨"]
    assert "오늘도 좋은 하루 보내" in casual.closers["기쁨"]
    assert "그 미소 오래오래 간직해" in casual.closers["기쁨"]
    assert "{obj:이} 깨알 같은 포인트야" in casual.generic["single"]
    assert all(len(casual.openers[m]) >= 15 and len(casual.closers[m]) >= 10 for m in casual.openers)


def test_a_casual_comment_names_every_object_with_agreeing_particles():
    composer = OfflineComposer(seed=0, style="반말")
    for key in range(20):
        comment = composer.compose("기쁨, 안경, 나무", key)
        assert "안경" in comment and "나무" in comment, comment
        assert all(not s.endswith(("요", "니다")) for s in sentences(comment)), comment
        assert speech_level(comment) == "반말", comment
        assert_particles_agree(["안경", "나무"], comment)
    calm = OfflineComposer(seed=0).compose("기쁨, 안경, 나무", 0, "존댓말,차분한")
    assert speech_level(calm) == "존댓말" and comment_tone(calm) == "차분한", calm


def test_a_sad_face_gets_kind_playful_closers_and_a_calm_voice_never_exclaims():
    composer = OfflineComposer(seed=2)
    soft = load_bank("styles")["유쾌한"]["반말"]["soft_closers"]
    jokes = load_bank("styles")["유쾌한"]["반말"]["closers"]
    sad = [composer.compose("슬픔, 나무", key, "반말,유쾌한") for key in range(20)]
    assert all(any(p in c for p in soft) and not any(p in c for p in jokes) for c in sad), sad
    calm = [composer.compose("기쁨, 안경", key, "존댓말,차분한") for key in range(20)]
    assert not [c for c in calm if "!" in c]


def test_the_default_style_is_the_composer_before_styles():
    composer = OfflineComposer(seed=1)
    rows = read_dataset(DATA / "text_data" / "comments_train.json")[:40]
    keys = [f"{i}:0" for i in range(40)]
    assert composer.compose_many([lab for lab, _ in rows], keys, DEFAULT_STYLE) == [c for _, c in rows]
    assert composer.compose_many([lab for lab, _ in rows], keys) == [c for _, c in rows]


def test_the_prompt_spells_out_the_style_and_shows_an_example_in_it():
    default = build_messages("기쁨, 안경")
    assert default == build_messages("기쁨, 안경", DEFAULT_STYLE)
    assert (
        default[0]["content"].endswith("항상 존댓말로 씁니다.")
        and "- 존댓말을 씁니다." in default[1]["content"]
    )
    casual = build_messages("기쁨, 안경", "반말,유쾌한")
    assert "말투는 반말(casual), 어조는 유쾌한(playful)" in casual[0]["content"]
    assert "'~요'나 '~니다'로 끝나는 문장은 쓰지 않습니다" in casual[1]["content"]
    assert f"sns 댓글 : {EXAMPLES[Style('반말', '유쾌한')]}" in casual[1]["content"]
    assert casual[1]["content"].endswith("sns 사진 요소 : 기쁨, 안경\nsns 댓글 : ")
    for style, example in EXAMPLES.items():
        assert validate_comment(example, EXAMPLE_LABELS, style=style) == [], (style, example)


def test_generated_rows_carry_their_style_and_a_resumed_run_refuses_another(tmp_path):
    out = tmp_path / "casual.jsonl"
    labels = sample_label_sets(12, seed=4)
    summary = generate_dataset(labels, out, OfflineBackend(seed=1), styles="반말,유쾌한", progress=False)
    assert summary.written == 12
    rows = read_jsonl(out)
    assert {r["style"] for r in rows} == {"반말,유쾌한"}
    assert all(validate_comment(r["comment"], r["labels"], style="반말,유쾌한") == [] for r in rows)
    with pytest.raises(ValueError, match="was written in another style: its row 0 is 반말,유쾌한"):
        generate_dataset(labels, out, OfflineBackend(seed=1), styles="반말,차분한", progress=False)
    assert read_jsonl(out) == rows


def test_generate_with_a_style_mix_exports_styles_beside_the_default_rows(tmp_path):
    out, exported = tmp_path / "mix.jsonl", tmp_path / "mix.json"
    command = [sys.executable, "-m", "utils", "generate", "--backend", "offline", "--sample", "40"]
    command += ["--style-mix", "존댓말,다정한=1; 반말,유쾌한=1", "--out", str(out), "--export", str(exported)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = read_jsonl(out)
    assert Counter(r["style"] for r in rows) == {"존댓말,다정한": 20, "반말,유쾌한": 20}
    raw = json.loads(exported.read_text(encoding="utf-8"))
    by_id = {r["id"]: r for r in rows}
    for key, value in raw.items():
        row = by_id[key]
        expected = [row["labels"], row["comment"]] + (
            [] if row["style"] == "존댓말,다정한" else [row["style"]]
        )
        assert value == expected
    casual = [(source, comment) for source, comment in read_dataset(exported) if source.startswith("반말")]
    assert len(casual) == 20 and all(s.startswith("반말 · 유쾌한 | ") for s, _ in casual)
    bad = subprocess.run(
        [*command[:8], "--style", "반말,무뚝뚝한", "--out", str(tmp_path / "x.jsonl")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert "unknown style '반말,무뚝뚝한'" in bad.stderr and "known tones: 다정한 (warm)" in bad.stderr


def test_the_generation_modules_import_without_a_circle():
    def imports(module: str) -> set[str]:
        tree = ast.parse((ROOT / "utils" / f"{module}.py").read_text(encoding="utf-8"))
        found = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        found |= {
            f"utils.{a.name}"
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module == "utils"
            for a in n.names
        }
        return {name.removeprefix("utils.") for name in found if name.startswith("utils")}

    assert not imports("llm_types") & {"datagen", "llm_backends", "llm_batch"}
    assert not imports("llm_batch") & {"datagen", "llm_backends"}
    assert not imports("llm_backends") & {"datagen"}
