"""Every notebook in notebooks/ runs top to bottom in a real Jupyter kernel, and shows what it should:
charts as images, the explorer and the progress bars as widgets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(autouse=True)
def _kernel_uses_this_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel (a child process) imports insightkit from this checkout, whatever is installed."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))


def _execute(name: str) -> Any:
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        book,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on the first failure
    return book


def _outputs(book: Any) -> list[dict[str, Any]]:
    return [out for cell in book.cells if cell.cell_type == "code" for out in cell.outputs]


def test_every_notebook_is_tested() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == [
        "live-server.ipynb",
        "quickstart.ipynb",
        "sharing.ipynb",
    ]


def test_notebooks_are_committed_without_outputs() -> None:
    for path in NOTEBOOKS.glob("*.ipynb"):
        book = nbformat.read(path, as_version=4)
        nbformat.validate(book)
        assert all(not c.get("outputs") for c in book.cells if c.cell_type == "code"), path.name


def test_quickstart(tmp_path: Path) -> None:
    book = _execute("quickstart.ipynb")
    outputs = _outputs(book)
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 8, "every chart cell shows a picture"
    analyze_cell = next(c for c in book.cells if "insightkit.analyze(SAMPLE)" in c.source)
    assert any(WIDGET in o.get("data", {}) for o in analyze_cell.outputs), "tqdm renders as a widget"
    explore_cell = next(c for c in book.cells if c.source.strip() == "a.explore()")
    assert any(WIDGET in o.get("data", {}) for o in explore_cell.outputs)
    summary_cell = next(c for c in book.cells if c.source.startswith("summary = a.summary()"))
    assert any("text/html" in o.get("data", {}) for o in summary_cell.outputs)
    assert not [o for o in outputs if o.get("output_type") == "error"]


@pytest.mark.server
def test_live_server_walkthrough() -> None:
    book = _execute("live-server.ipynb")
    analyze_cell = next(c for c in book.cells if 'insightkit.analyze(f"redis://' in c.source)
    text = "".join(o.get("text", "") for o in analyze_cell.outputs)
    assert text.split()[0] in {"sync", "dump"}
    last = book.cells[-1].outputs[-1]["data"]["text/plain"]
    assert last == "True", "the notebook stops the server it started"


def test_sharing() -> None:
    book = _execute("sharing.ipynb")
    outputs = _outputs(book)
    assert any("image/png" in o.get("data", {}) for o in outputs)
    frames = [o for o in outputs if "text/html" in o.get("data", {}) and "<table" in o["data"]["text/html"]]
    assert len(frames) >= 3, "DuckDB query results show as tables"


def test_progress_is_text_in_a_terminal() -> None:
    """Outside a notebook tqdm.auto draws a text bar on stderr, and nothing about widgets."""
    script = "import insightkit; a = insightkit.analyze('data/samples/sample.rdb'); print(len(a.keys))"
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) > 0
    assert "keys/s" in done.stderr, done.stderr
    assert "IProgress" not in done.stderr and "widget" not in done.stderr.lower()
