"""`make lab`: JupyterLab starts on the notebooks with this .venv registered as a named kernel."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

import httpx
import nbformat
from jupyter_client.manager import start_new_kernel

from tests.app_server import free_port
from utils.paths import ROOT

TOKEN = "sns-comment-test"  # a known token, so the test can call the server's API
START_SECONDS = 120


def wait_for(url: str, process: subprocess.Popen, log) -> httpx.Response:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise AssertionError(f"make lab exited with {process.returncode}:\n{log.read()[-3000:]}")
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            time.sleep(0.5)
    raise AssertionError(f"JupyterLab did not answer {url} within {START_SECONDS} s")


def test_make_lab_serves_the_notebooks_with_the_project_kernel(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    options = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 --IdentityProvider.token={TOKEN}"
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),  # the server's connection files
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),  # the user's own Jupyter settings stay out of it
    }
    with open(tmp_path / "lab.log", "w+", encoding="utf-8") as log:
        # -o: the .venv is up to date already (the suite runs from it); never reinstall from a test.
        process = subprocess.Popen(
            ["make", "-o", ".venv/.requirements-installed", "lab", f"LAB_ARGS={options}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # make and jupyter in one process group, stopped together below
        )
        try:
            lab = wait_for(f"{base}/lab?token={TOKEN}", process, log)
            assert lab.status_code == 200
            assert "JupyterLab" in lab.text

            home = httpx.get(f"{base}/?token={TOKEN}", follow_redirects=False)
            assert home.status_code in (301, 302)
            opens_on = home.headers["location"].split("?")[0]
            assert opens_on.endswith("/lab/tree/notebooks")

            headers = {"Authorization": f"token {TOKEN}"}
            specs = httpx.get(f"{base}/api/kernelspecs", headers=headers).json()
            assert specs["default"] == "sns-comment"
            spec = specs["kernelspecs"]["sns-comment"]["spec"]
            assert spec["display_name"] == "SNS comment (.venv)"
            assert spec["argv"][0] == str(ROOT / ".venv" / "bin" / "python")

            listing = httpx.get(f"{base}/api/contents/notebooks", headers=headers).json()
            assert "4_pipeline.ipynb" in {item["name"] for item in listing["content"]}
        finally:
            stop(process)
    assert_first_cells_find_the_repository("sns-comment")


def assert_first_cells_find_the_repository(kernel_name: str) -> None:
    """The registered kernel, started in a notebook's folder as Jupyter and VS Code start it, runs
    the notebook's first code cells (parameters, then the cell that finds the repository root)."""
    notebook = nbformat.read(ROOT / "notebooks" / "4_pipeline.ipynb", as_version=4)
    first_cells = [cell.source for cell in notebook.cells if cell.cell_type == "code"][:2]
    manager, client = start_new_kernel(kernel_name=kernel_name, cwd=str(ROOT / "notebooks"))
    outputs: list[str] = []

    def collect(message: dict) -> None:
        if message["msg_type"] in ("stream", "error"):
            outputs.append(message["content"].get("text") or "\n".join(message["content"]["traceback"]))

    try:
        for source in [*first_cells, "import utils.paths; print(ROOT, utils.paths.ROOT, sys.executable)"]:
            reply = client.execute_interactive(source, timeout=60, output_hook=collect)
            assert reply["content"]["status"] == "ok", outputs
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    root, package_root, python = outputs[-1].split()
    assert root == package_root == str(ROOT)
    assert python == str(ROOT / ".venv" / "bin" / "python")


def stop(process: subprocess.Popen) -> None:
    """Stop make and the Jupyter server it started (one process group), by the group's id."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
