"""The notebooks run top to bottom against the embedded simulator, and are kept in git without outputs."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = ["quickstart.ipynb", "dataset.ipynb", "live.ipynb"]
#: The quickstart starts a local Ray instance of its own, as a newcomer's first run does; the others join the
#: suite's cluster through ``RAY_ADDRESS``, as a notebook on a running cluster does.
JOINING = {"dataset.ipynb", "live.ipynb"}


@pytest.mark.ray
@pytest.mark.parametrize("name", NAMES)
def test_the_notebook_runs(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)  # type: ignore[no-untyped-call]  # nbformat is untyped
    # The kernel is this interpreter's; a Ray instance it starts keeps its files in a short temp dir of its own.
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if name in JOINING:
        monkeypatch.setenv("RAY_ADDRESS", request.getfixturevalue("nepse_ray_cluster")["gcs_address"])
    else:
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
    ray_dir = tempfile.mkdtemp(prefix="nb-", dir="/tmp")
    monkeypatch.setenv("RAY_TMPDIR", ray_dir)
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    try:
        client.execute()
    finally:
        shutil.rmtree(ray_dir, ignore_errors=True)
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    charts = sum("image/png" in output.get("data", {}) for output in outputs)
    printed = "".join(output.get("text", "") for output in outputs)
    if name == "quickstart.ipynb":
        assert charts == 2  # the two charts
    elif name == "dataset.ipynb":
        assert "up to date" in printed
    else:
        assert charts == 1  # the index over the session
        assert "Tick(live_market #1 " in printed and "snapshot of" in printed and "changed row" in printed
        assert "Tick(nepse_index #2 " in printed and "live_market polls: " in printed


@pytest.mark.parametrize("name", NAMES)
def test_the_notebook_is_stored_without_outputs(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)  # type: ignore[no-untyped-call]
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)
