"""What the notebooks compare: without a trained GPT-2 run, the larger profiles compare T5 alone."""

from __future__ import annotations

from utils.lm.report import comparison_generators


def test_a_missing_gpt2_run_is_left_out_with_a_note_outside_smoke(tmp_path, capsys):
    generators = comparison_generators(profile="cpu", work_dir=tmp_path)
    assert [name.split(" ")[0] for name in generators] == ["T5"]
    assert "no trained GPT-2 run with weights in the cpu profile" in capsys.readouterr().out
    assert not any(tmp_path.rglob("run.json"))  # nothing was trained
