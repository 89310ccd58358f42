"""Execute notebooks with injected parameters (papermill's convention, without papermill).

The first cell tagged ``parameters`` holds the defaults (``PROFILE = "cpu"``); the values given
here go into a new cell right after it, so the notebook reads them as if edited by hand.
Run as ``python -m utils.notebooks [NOTEBOOK ...] [--profile cpu]`` to refresh committed outputs.
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from utils.paths import ROOT, check_profile

NOTEBOOK_DIRS = ("notebooks", "code_data_gen")


def all_notebooks() -> list[Path]:
    return sorted(p for d in NOTEBOOK_DIRS for p in (ROOT / d).glob("*.ipynb"))


def inject_parameters(nb: nbformat.NotebookNode, parameters: dict) -> None:
    """Insert an ``injected-parameters`` cell after the ``parameters`` cell."""
    index = next(
        (i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])),
        None,
    )
    if index is None:
        raise ValueError("notebook has no cell tagged 'parameters'")
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    source = "# Parameters injected for this run\n" + "".join(f"{k} = {v!r}\n" for k, v in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(index + 1, cell)


def execute_notebook(
    path: str | Path,
    parameters: dict | None = None,
    *,
    output_path: str | Path | None = None,
    timeout: int = 1800,
    keep_injected: bool = False,
) -> nbformat.NotebookNode:
    """Run ``path`` top to bottom in its own folder (so it finds the repository as a user's
    Jupyter would) and write the executed notebook to ``output_path`` (default: in place).
    Raises ``nbclient.exceptions.CellExecutionError`` naming the failing cell."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    if parameters:
        inject_parameters(nb, parameters)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    if parameters and not keep_injected:
        # Committed notebooks keep only their own parameters cell; the values show in outputs.
        nb.cells = [c for c in nb.cells if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    nbformat.write(nb, Path(output_path) if output_path else path)
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.notebooks", description=__doc__)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a parameter with a Python literal, e.g. --set 'EXPERIMENT_NAMES=[\"kogpt2_0\"]'",
    )
    args = parser.parse_args(argv)
    check_profile(args.profile)
    overrides = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        try:
            overrides[name.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parser.error(f"--set {item!r}: expected NAME=VALUE with a Python literal value")
        if not sep or not name.strip().isidentifier():
            parser.error(f"--set {item!r}: expected NAME=VALUE")
    for path in args.notebooks or all_notebooks():
        start = time.perf_counter()
        print(
            f"executing {path.relative_to(ROOT) if path.is_absolute() else path} ({args.profile}) ...",
            flush=True,
        )
        execute_notebook(path, {"PROFILE": args.profile} | overrides)
        print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
