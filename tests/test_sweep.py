"""The cpu recipe sweep and what it needs from training: changed sizes, evaluation every n
steps, a wall-clock limit that still keeps the best checkpoint, and bf16 where the CPU has it."""

import csv
from pathlib import Path

import pytest

from utils.lm import sweep as lm_sweep
from utils.lm import training as lm
from utils.lm.registry import get_experiment, sizes_for, with_changes
from utils.paths import ROOT
from utils.text.dataset import read_dataset, write_dataset


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "pairs.json"
    write_dataset(read_dataset(ROOT / "data" / "text_data" / "comments_val.json")[:120], path)
    return path


def test_changes_merge_into_the_model_config_and_the_recipe():
    experiment, sizes = with_changes(
        get_experiment("transfer_0"),
        "cpu",
        {"model": {"d_model": 320}, "bf16": True, "lr_scheduler_type": "cosine"},
    )
    base = sizes_for(get_experiment("transfer_0"), "cpu")
    assert sizes.model == {**base.model, "d_model": 320}
    assert sizes.bf16 and sizes.batch_size == base.batch_size
    assert experiment.recipe["lr_scheduler_type"] == "cosine"
    assert get_experiment("transfer_0").recipe["lr_scheduler_type"] == "linear"  # the registry is untouched
    with pytest.raises(ValueError, match="unknown setting.*learning_rat\\b"):
        with_changes(get_experiment("transfer_0"), "cpu", {"learning_rat": 1e-3})


def test_bf16_is_asked_only_where_the_hardware_has_it(tmp_path):
    _, sizes = with_changes(get_experiment("transfer_0"), "cpu", {"bf16": True})
    args = lm.training_arguments(get_experiment("transfer_0"), "cpu", tmp_path, 0, 1, False, sizes)
    assert args.bf16 == lm.bf16_available()
    _, fp32_sizes = with_changes(get_experiment("transfer_0"), "cpu", {"bf16": False})
    fp32 = lm.training_arguments(get_experiment("transfer_0"), "cpu", tmp_path, 0, 1, False, fp32_sizes)
    assert not fp32.bf16
    shipped = lm.training_arguments(get_experiment("transfer_0"), "cpu", tmp_path, 0, 1, False)
    assert shipped.bf16 == lm.bf16_available()  # the cpu recipe asks for bf16, the hardware decides


def test_a_time_limit_stops_training_and_keeps_the_best_checkpoint(small_data, tmp_path):
    summary = lm.train(
        "transfer_0",
        profile="smoke",
        data=small_data,
        out_dir=tmp_path,
        progress=False,
        epochs=50,
        changes={"eval_steps": 2, "time_limit_minutes": 0.0001},
    )
    assert summary["stopped_by"] == "time limit"
    assert summary["optimizer_steps"] == 1 < summary["epochs_run"] * 100  # stopped after the first step
    with (tmp_path / "val_loss.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == ["1"]  # the limit forced one last evaluation
    assert float(rows[0]["val_loss"]) == summary["best_val_loss"]
    assert (tmp_path / "best" / "model.safetensors").exists()


def test_evaluation_every_n_steps_writes_one_curve_row_each(small_data, tmp_path):
    summary = lm.train(
        "transfer_0",
        profile="smoke",
        data=small_data,
        out_dir=tmp_path,
        progress=False,
        changes={"eval_steps": 2},
    )
    with (tmp_path / "val_loss.csv").open(encoding="utf-8") as f:
        steps = [int(r["step"]) for r in csv.DictReader(f)]
    # smoke: 48 training rows / batch 16 = 3 steps per epoch, 2 epochs: an evaluation at 2, 4, 6.
    assert steps == [2, 4, 6]
    assert summary["evaluations"] == 3 and summary["stopped_by"] == "epochs"


def test_the_sweep_writes_its_table_and_resumes(tmp_path, monkeypatch):
    table = tmp_path / "sweep.csv"
    rows = lm_sweep.run_sweep(
        ["base", "bf16_lr3e-3"], 0.05, profile="smoke", out_dir=tmp_path / "runs", csv_path=table,
        md_path=tmp_path / "sweep.md", eval_rows=12,
    )  # fmt: skip
    assert [r["variant"] for r in rows] == ["base", "bf16_lr3e-3"]
    on_disk = lm_sweep.read_table(table)
    assert [r["variant"] for r in on_disk] == ["base", "bf16_lr3e-3"]
    assert all(0 <= float(r["label_coverage"]) <= 1 and float(r["val_loss"]) > 0 for r in on_disk)
    assert on_disk[1]["learning_rate"] == "0.003" and on_disk[1]["bf16"] == str(lm.bf16_available())
    md = (tmp_path / "sweep.md").read_text(encoding="utf-8")
    assert f"**{lm_sweep.pick(on_disk)['variant']}**" in md and "| base |" in md
    assert not (tmp_path / "runs" / "base" / "best").exists()  # weights are not kept unless asked

    def no_training(*args, **kwargs):
        raise AssertionError("a variant already in the table was trained again")

    monkeypatch.setattr(lm, "train", no_training)
    again = lm_sweep.run_sweep(
        ["base"], 0.05, profile="smoke", out_dir=tmp_path / "runs", csv_path=table, md_path=tmp_path / "sweep.md",
        eval_rows=12,
    )  # fmt: skip
    assert len(again) == 2


def test_pick_prefers_the_lowest_val_loss_then_coverage():
    rows = [
        {"variant": "a", "val_loss": "0.7", "label_coverage": "0.9"},
        {"variant": "b", "val_loss": "0.6", "label_coverage": "0.8"},
        {"variant": "c", "val_loss": "0.6", "label_coverage": "0.85"},
    ]
    assert lm_sweep.pick(rows)["variant"] == "c"


def test_a_variant_may_change_the_training_rows():
    experiment, _ = with_changes(
        get_experiment("transfer_0"), "cpu", {"label_orders": 2, "min_object_rows": 20}
    )
    assert (experiment.label_orders, experiment.min_object_rows) == (2, 20)
    assert get_experiment("transfer_0").label_orders == 1
    with pytest.raises(ValueError, match="known: .*label_orders"):
        with_changes(get_experiment("transfer_0"), "cpu", {"label_order": 2})


def test_the_final_stage_ranks_by_general_coverage_then_val_loss():
    rows = [
        {"variant": "a", "val_loss": "0.60", "label_coverage": "0.8", "general_label_coverage": "0.30"},
        {"variant": "b", "val_loss": "0.70", "label_coverage": "0.8", "general_label_coverage": "0.41"},
        {"variant": "c", "val_loss": "0.65", "label_coverage": "0.8", "general_label_coverage": "0.414"},
    ]
    assert lm_sweep.pick_final(rows)["variant"] == "c"  # b and c tie at 0.41; c has the lower loss
    assert lm_sweep.pick(rows)["variant"] == "a"


def test_the_final_stage_uses_the_recipe_and_scores_a_finished_run_without_training(tmp_path, monkeypatch):
    variants = {"recipe": ({}, "the recipe as it is"), "two_orders": ({"label_orders": 2}, "label orders")}
    kwargs = dict(variants=variants, profile="smoke", out_dir=tmp_path / "runs", csv_path=tmp_path / "final.csv",
                  md_path=tmp_path / "final.md", eval_rows=12, keep_weights=True)  # fmt: skip
    lm.train("transfer_0", profile="smoke", out_dir=tmp_path / "runs" / "recipe", progress=False)
    trained: list[dict] = []
    real_train = lm.train

    def recording_train(*args, **kw):
        trained.append(kw["changes"])
        return real_train(*args, **kw)

    monkeypatch.setattr(lm, "train", recording_train)
    rows = lm_sweep.run_sweep(["recipe", "two_orders"], None, **kwargs)
    assert trained == [{"label_orders": 2}]  # no sweep defaults, no time limit: the recipe's own
    assert all(0 <= float(r["general_label_coverage"]) <= 1 for r in rows)
    md = (tmp_path / "final.md").read_text(encoding="utf-8")
    assert "utils.lm.sweep --final" in md and "at the cpu recipe's full budget" in md
    assert f"**{lm_sweep.pick_final(rows)['variant']}**" in md and "general_label_coverage" in md
