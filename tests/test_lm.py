import csv
import json
import subprocess
import sys

import pytest
import torch
from transformers import GPT2LMHeadModel, T5ForConditionalGeneration

from utils import lm
from utils.lm_data import PadCollator, encode_gpt2, encode_t5, train_local_tokenizer
from utils.lm_generate import CommentGenerator
from utils.lm_registry import EXPERIMENTS, get_experiment
from utils.paths import ROOT
from utils.textdata import read_dataset, write_dataset

PAIRS = read_dataset(ROOT / "data" / "text_data" / "comments_val.json")[:200]


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "pairs.json"
    write_dataset(PAIRS[:120], path)
    return path


def _loss(model, batch) -> float:
    with torch.no_grad():
        return model(**batch).loss.item()


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
    rows = encode_t5(pairs, tokenizer) if family == "t5" else encode_gpt2(pairs, tokenizer, data_format=1)
    collate = PadCollator(tokenizer.pad_token_id)
    padded = collate(rows)
    assert (padded["labels"] == -100).any(), "the batch should contain padding"
    counted = [sum(1 for t in r["labels"][(1 if family == "gpt2" else 0) :] if t != -100) for r in rows]
    singles = [_loss(model, collate([r])) for r in rows]
    # The batch loss is the token-weighted mean of the unpadded losses: padding adds nothing.
    expected = sum(loss * n for loss, n in zip(singles, counted, strict=True)) / sum(counted)
    assert _loss(model, padded) == pytest.approx(expected, rel=1e-4)
    if family == "t5":
        # The reference's recipe (targets padded to 128 with the pad id) does count padding.
        reference = collate(encode_t5(pairs, tokenizer, pad_to_max_length=True))
        assert reference["labels"].shape[1] == 128
        assert _loss(model, reference) != pytest.approx(expected, rel=1e-2)


def test_gpt2_counts_only_the_comment_tokens(tmp_path):
    tokenizer = train_local_tokenizer([t for p in PAIRS for t in p], "gpt2", tmp_path / "tok", 400)
    (row,) = encode_gpt2([("기쁨, 안경", "멋져요")], tokenizer, data_format=2)
    prompt_len = len(tokenizer("입력 : 기쁨, 안경 \n 출력 : ", add_special_tokens=False)["input_ids"])
    assert row["labels"][:prompt_len] == [-100] * prompt_len
    assert row["labels"][prompt_len:] == row["input_ids"][prompt_len:]
    assert row["input_ids"][-1] == tokenizer.eos_token_id


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_experiment_trains_and_generates_in_smoke(name, tmp_path):
    summary = lm.train(name, profile="smoke", out_dir=tmp_path, progress=False)
    assert summary["experiment"] == name and summary["epochs_run"] == 2
    assert summary["test_loss"] > 0 and summary["peak_memory_mb"] > 0
    with open(tmp_path / "val_loss.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert min(float(r["val_loss"]) for r in rows) == pytest.approx(summary["best_val_loss"])
    assert (tmp_path / "best" / "model.safetensors").exists()
    assert json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))["test_examples"] == 16
    generator = CommentGenerator.from_pretrained(tmp_path)
    comments = generator.generate(["기쁨, 안경", "나무"], seed=1)
    assert len(comments) == 2 and all(isinstance(c, str) for c in comments)
    assert generator.generate(["기쁨, 안경", "나무"], seed=1) == comments  # seeded


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
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    scores = json.loads(out)
    assert scores["count"] == 20
    assert {"char_bleu_4", "meteor", "rouge_l_f", "sacrebleu_morpheme", "chrf"} <= scores.keys()
    missing = subprocess.run(
        [sys.executable, "-m", "utils", "evaluate", str(tmp_path / "nothing"), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert missing.returncode == 2 and "no trained text model" in missing.stderr
