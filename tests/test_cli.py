import subprocess
import sys

import pytest

from utils import __main__ as cli
from utils import paths
from utils.paths import ROOT


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "utils", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_help_lists_every_command():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("comment", "generate", "train", "evaluate", "convert-faces"):
        assert command in result.stdout


def test_no_command_is_a_usage_error(capsys):
    assert cli.main([]) == 2


def test_unknown_command_is_a_usage_error(capsys):
    assert cli.main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


@pytest.mark.parametrize("command", list(cli.COMMANDS))
def test_every_command_module_provides_its_entry_points(command):
    import importlib

    module = importlib.import_module(cli.COMMANDS[command][0])
    name = command.replace("-", "_")
    assert callable(getattr(module, f"add_{name}_args"))
    assert callable(getattr(module, f"run_{name}"))


def test_paths_are_repository_relative():
    assert (paths.ROOT / "utils" / "__init__.py").exists()
    assert paths.DATA == paths.ROOT / "data"
    assert paths.MODELS == paths.ROOT / "models"


def test_results_dir_keeps_smoke_runs_out_of_models(tmp_path):
    smoke = paths.results_dir("t5", "x", profile="smoke")
    assert paths.MODELS not in smoke.parents and smoke.is_dir()
    assert paths.results_dir("t5", profile="cpu", base=tmp_path) == tmp_path / "t5"
    with pytest.raises(ValueError, match="unknown profile 'gpu'"):
        paths.results_dir("t5", profile="gpu")
