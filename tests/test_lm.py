import csv
import json
import subprocess
import sys

import pytest
import torch
from transformers import GPT2LMHeadModel, T5ForConditionalGeneration

from utils.lm import training as lm
from utils.lm.data import (
    encode_pairs,
    make_collator,
    train_local_tokenizer,
    with_label_orders,
    with_rare_objects_repeated,
)
from utils.lm.generate import CommentGenerator
from utils.lm.registry import EXPERIMENTS, get_experiment
from utils.paths import ROOT
from utils.text.dataset import read_dataset, write_dataset

PAIRS = read_dataset(ROOT / "data" / "text_data" / "comments_val.json")[:200]


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "pairs.json"
    write_dataset(PAIRS[:120], path)
    return path


def _loss(model, batch) -> float:
    with torch.no_grad():
        return model(**batch).loss.item()


def _encode(pairs, tokenizer, family, cache_dir, **kwargs):
    return encode_pairs(
        pairs,
        tokenizer,
        family=family,
        data_format=None if family == "t5" else 1,
        cache_dir=cache_dir,
        **kwargs,
    )


@pytest.mark.parametrize("family", ["t5", "gpt2"])
def test_padding_never_counts_in_the_loss(family, tmp_path):
    tokenizer = train_local_tokenizer([t for p in PAIRS for t in p], family, tmp_path / "tok", 400)
    experiment = get_experiment("transfer_0" if family == "t5" else "kogpt2_0")
    torch.manual_seed(0)
    model = lm.build_model(experiment, "smoke", tokenizer).eval()
    pairs = [
        ("기쁨, 안경", "안경이 정말 잘 어울리세요 😊"),
        ("나무", "나무 아래 풍경이 참 평화로워 보여요 좋은 하루 보내세요 🌳"),
    ]
    rows = _encode(pairs, tokenizer, family, tmp_path / "cache").to_list()
    collate = make_collator(tokenizer)
    padded = collate(rows)
    assert (padded["labels"] == -100).any(), "the batch should contain padding"
    # dynamic padding: the batch is as long as its longest row, not a fixed 64 or 128
    assert padded["input_ids"].shape[1] == max(len(r["input_ids"]) for r in rows)
    assert padded["labels"].shape[1] == max(len(r["labels"]) for r in rows)
    assert (padded["attention_mask"] == (padded["input_ids"] != tokenizer.pad_token_id)).all()
    counted = [sum(1 for t in r["labels"][(1 if family == "gpt2" else 0) :] if t != -100) for r in rows]
    singles = [_loss(model, collate([r])) for r in rows]
    # The batch loss is the token-weighted mean of the unpadded losses: padding adds nothing.
    expected = sum(loss * n for loss, n in zip(singles, counted, strict=True)) / sum(counted)
    assert _loss(model, padded) == pytest.approx(expected, rel=1e-4)
    if family == "t5":
        # The reference's recipe (targets padded to 128 with the pad id) does count padding.
        fixed = _encode(pairs, tokenizer, family, tmp_path / "cache", pad_to_max_length=True)
        reference = collate(fixed.to_list())
        assert reference["labels"].shape[1] == 128
        assert _loss(model, reference) != pytest.approx(expected, rel=1e-2)


def test_gpt2_counts_only_the_comment_tokens(tmp_path):
    tokenizer = train_local_tokenizer([t for p in PAIRS for t in p], "gpt2", tmp_path / "tok", 400)
    (row,) = encode_pairs(
        [("기쁨, 안경", "멋져요")], tokenizer, family="gpt2", data_format=2, cache_dir=tmp_path
    ).to_list()
    prompt_len = len(tokenizer("입력 : 기쁨, 안경 \n 출력 : ", add_special_tokens=False)["input_ids"])
    assert row["labels"][:prompt_len] == [-100] * prompt_len
    assert row["labels"][prompt_len:] == row["input_ids"][prompt_len:]
    assert row["input_ids"][-1] == tokenizer.eos_token_id


def test_encoded_data_is_a_cached_dataset_reused_on_the_second_call(tmp_path, monkeypatch):
    import datasets

    tokenizer = train_local_tokenizer([t for p in PAIRS for t in p], "t5", tmp_path / "tok", 400)
    first = _encode(PAIRS[:30], tokenizer, "t5", tmp_path / "cache")
    assert isinstance(first, datasets.Dataset) and first.column_names == ["input_ids", "labels"]
    assert first[0]["input_ids"] == tokenizer(PAIRS[0][0])["input_ids"]
    entries = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(entries) == 1
    # The second call loads the Arrow files: no tokenising (map) happens.
    monkeypatch.setattr(datasets.Dataset, "map", lambda *a, **k: pytest.fail("tokenised again"))
    second = _encode(PAIRS[:30], tokenizer, "t5", tmp_path / "cache")
    assert second.to_list() == first.to_list()
    monkeypatch.undo()
    # Other data or other settings get their own entry.
    _encode(PAIRS[:31], tokenizer, "t5", tmp_path / "cache")
    _encode(PAIRS[:30], tokenizer, "t5", tmp_path / "cache", pad_to_max_length=True)
    assert len(list((tmp_path / "cache").iterdir())) == 3


def test_label_orders_add_shuffled_copies_of_multi_object_rows_only():
    pairs = [("기쁨, 안경, 나무, 차", "안경, 나무와 차가 멋져요 😊"), ("슬픔, 나무", "나무가 멋져요 🌳")]
    assert with_label_orders(pairs, 1, seed=0) == pairs
    rows = with_label_orders(pairs, 3, seed=0)
    assert rows[:2] == pairs and len(rows) == 4
    for labels, comment in rows[2:]:
        assert labels.startswith("기쁨, ") and sorted(labels.split(", ")) == sorted(pairs[0][0].split(", "))
        assert comment == pairs[0][1]
    assert len({labels for labels, _ in rows}) == 4  # every order differs
    with pytest.raises(ValueError, match="label_orders must be at least 1"):
        with_label_orders(pairs, 0, seed=0)


def test_rare_objects_are_repeated_up_to_the_minimum():
    pairs = [("기쁨, 나무", "a")] * 6 + [("슬픔, 나무, 돌고래", "b"), ("돌고래", "c"), ("분노", "d")]
    rows = with_rare_objects_repeated(pairs, 6)
    # 돌고래 is in 2 rows: each of them appears 3 times, so 돌고래 is in 6; the rest once.
    assert rows.count(("슬픔, 나무, 돌고래", "b")) == 3 and rows.count(("돌고래", "c")) == 3
    assert rows.count(("기쁨, 나무", "a")) == 6 and rows.count(("분노", "d")) == 1
    assert with_rare_objects_repeated(pairs, 0) == pairs


def test_encoding_rejects_an_unknown_family_or_format(tmp_path):
    tokenizer = train_local_tokenizer([t for p in PAIRS for t in p], "gpt2", tmp_path / "tok", 400)
    with pytest.raises(ValueError, match="unknown model family 'bert'"):
        encode_pairs(PAIRS[:2], tokenizer, family="bert", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown GPT-2 data format 7"):
        encode_pairs(PAIRS[:2], tokenizer, family="gpt2", data_format=7, cache_dir=tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_experiment_trains_and_generates_in_smoke(name, tmp_path):
    summary = lm.train(name, profile="smoke", out_dir=tmp_path, progress=False)
    assert summary["experiment"] == name and summary["epochs_run"] == 2
    assert summary["test_loss"] > 0 and summary["peak_memory_mb"] > 0
    with open(tmp_path / "val_loss.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["epoch"]) for r in rows] == [1.0, 2.0] and int(rows[1]["step"]) == 2 * int(
        rows[0]["step"]
    )
    assert min(float(r["val_loss"]) for r in rows) == pytest.approx(summary["best_val_loss"])
    assert (tmp_path / "best" / "model.safetensors").exists()
    assert json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))["test_examples"] == 16
    generator = CommentGenerator.from_pretrained(tmp_path)
    comments = generator.generate(["기쁨, 안경", "나무"], seed=1)
    assert len(comments) == 2 and all(isinstance(c, str) for c in comments)
    assert generator.generate(["기쁨, 안경", "나무"], seed=1) == comments  # seeded


def test_coverage_experiment_trains_on_extra_rows_in_smoke(tmp_path, small_data):
    """transfer_2_coverage: extra label orders and repeated rare-object rows, training rows only."""
    summary = lm.train(
        "transfer_2_coverage", profile="smoke", data=small_data, out_dir=tmp_path, epochs=1, progress=False
    )
    plain = lm.train(
        "transfer_0", profile="smoke", data=small_data, out_dir=tmp_path / "plain", epochs=1, progress=False
    )
    assert summary["train_examples"] == plain["train_examples"] == plain["train_rows"]
    assert summary["train_rows"] > summary["train_examples"]
    assert summary["test_examples"] == plain["test_examples"]
    # taught only the composer's rows: its folder tells the pipeline to refuse sentences the banks never had
    generator = CommentGenerator.from_pretrained(tmp_path)
    assert generator.known_phrases_only and generator.confidence_floor is None
    (comment,) = generator.generate(["기쁨, 안경"])
    assert isinstance(comment, str)


def test_resume_continues_from_the_last_checkpoint(tmp_path, small_data):
    first = lm.train("kogpt2_0", profile="smoke", data=small_data, out_dir=tmp_path, epochs=1, progress=False)
    assert first["resumed_from"] is None and first["epochs_run"] == 1
    second = lm.train(
        "kogpt2_0", profile="smoke", data=small_data, out_dir=tmp_path, epochs=2, resume=True, progress=False
    )
    assert second["resumed_from"].startswith("checkpoint-")
    assert second["epochs_run"] == 2  # the first epoch's row comes from the checkpoint's history


@pytest.mark.parametrize(
    ("name", "model_class"),
    [("transfer_1_large_colab", T5ForConditionalGeneration), ("kogpt2_1", GPT2LMHeadModel)],
)
def test_full_profile_loads_a_base_model_folder_and_its_tokenizer(name, model_class, tmp_path, small_data):
    """The full path (hub model + hub tokenizer + the large recipe) through a tiny local model."""
    family = get_experiment(name).family
    tokenizer = train_local_tokenizer([t for p in PAIRS for t in p], family, tmp_path / "base", 400)
    lm.build_model(get_experiment(name), "smoke", tokenizer).save_pretrained(tmp_path / "base")
    summary = lm.train(
        name,
        profile="full",
        data=small_data,
        out_dir=tmp_path / "run",
        epochs=1,
        base_model=str(tmp_path / "base"),
        progress=False,
    )
    assert summary["base_model"] == str(tmp_path / "base")
    # without --val-data: a seeded 80/10/10 split of the 120 pairs, grouped by label string
    assert summary["train_examples"] + summary["val_examples"] + summary["test_examples"] == 120
    assert 90 <= summary["train_examples"] <= 100
    assert isinstance(CommentGenerator.from_pretrained(tmp_path / "run").model, model_class)


def test_cli_lists_every_experiment_and_rejects_unknown_ones():
    listed = subprocess.run(
        [sys.executable, "-m", "utils", "train", "--list"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    for name, experiment in EXPERIMENTS.items():
        assert name in listed and experiment.base_model in listed
    bad = subprocess.run(
        [sys.executable, "-m", "utils", "train", "transfer_9", "--profile", "smoke"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert bad.returncode == 2 and "unknown experiment 'transfer_9'" in bad.stderr


def test_evaluate_cli_prints_metrics_as_json(tmp_path, small_data):
    lm.train("transfer_0", profile="smoke", out_dir=tmp_path, progress=False)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "utils",
            "evaluate",
            str(tmp_path),
            "--data",
            str(small_data),
            "--limit",
            "20",
            "--decoding",
            "greedy",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    scores = json.loads(out)
    assert scores["count"] == 20 and scores["decoding"] == "greedy"
    assert {"char_bleu_4", "meteor", "rouge_l_f", "sacrebleu_morpheme", "chrf"} <= scores.keys()
    missing = subprocess.run(
        [sys.executable, "-m", "utils", "evaluate", str(tmp_path / "nothing"), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert missing.returncode == 2 and "no trained text model" in missing.stderr
