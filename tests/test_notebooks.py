"""Every notebook runs top to bottom in the smoke profile, on a temporary copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from utils.notebooks import all_notebooks, execute_notebook
from utils.paths import ROOT

NOTEBOOKS = all_notebooks()


def test_every_notebook_dir_has_notebooks():
    assert {p.parent.name for p in NOTEBOOKS} == {"notebooks", "code_data_gen"}
    assert sorted(f"{p.parent.name}/{p.stem}" for p in NOTEBOOKS) == [
        "code_data_gen/1_chat_gpt_translate",
        "code_data_gen/2_img_pred_and_gen",
        "code_data_gen/3_textdata_generating",
        "notebooks/1_data_check",
        "notebooks/2_od_yolo_finetuning",
        "notebooks/2_od_yolo_lvis",
        "notebooks/3_lm_gpt2",
        "notebooks/3_lm_t5",
        "notebooks/4_pipeline",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_notebook_runs_in_smoke_profile(path, tmp_path):
    out = tmp_path / path.name
    nb = execute_notebook(
        path, {"PROFILE": "smoke", "WORK_DIR": str(tmp_path / "work")}, output_path=out, timeout=600
    )
    assert out.exists()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


def colab_setup_cell(path) -> str:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code" and "google.colab" in c.source)


def test_colab_cell_needs_the_fork_address(monkeypatch):
    import subprocess
    import sys
    import types

    source = colab_setup_cell(ROOT / "notebooks" / "3_lm_t5.ipynb")
    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=lambda where: None)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    for unset in ("", "https://github.com/YOUR_GITHUB_USER/sns-photo-comment"):
        with pytest.raises(ValueError, match="REPO_URL is not set: put your fork's address"):
            exec(source, {"REPO_URL": unset})
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, check: calls.append(cmd))
    monkeypatch.setattr(sys, "path", list(sys.path))
    exec(source, {"REPO_URL": "https://example.org/me/fork"})
    assert calls[0][:4] == ["git", "clone", "--depth", "1"] and calls[0][4] == "https://example.org/me/fork"


def test_parameters_can_be_overridden_from_the_command_line(monkeypatch, capsys):
    import utils.notebooks as nbmod

    seen = []
    monkeypatch.setattr(nbmod, "execute_notebook", lambda path, parameters: seen.append((path, parameters)))
    assert (
        nbmod.main(["notebooks/3_lm_gpt2.ipynb", "--set", 'EXPERIMENT_NAMES=["kogpt2_0"]', "--set", "SEED=3"])
        == 0
    )
    assert seen == [
        (Path("notebooks/3_lm_gpt2.ipynb"), {"PROFILE": "cpu", "EXPERIMENT_NAMES": ["kogpt2_0"], "SEED": 3})
    ]
    with pytest.raises(SystemExit) as exit_info:
        nbmod.main(["notebooks/3_lm_gpt2.ipynb", "--set", "SEED=three"])
    assert exit_info.value.code == 2 and "--set 'SEED=three'" in capsys.readouterr().err
