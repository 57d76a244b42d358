"""Every notebook in notebooks/ runs top to bottom in a real Jupyter kernel, and shows what it should:
charts as images, the explorer and the progress bars as widgets."""

from __future__ import annotations

import os
import re
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


@pytest.fixture(autouse=True)
def kernel_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty TMPDIR for the kernel: what a notebook leaves in it is a leak."""
    fresh = tmp_path / "kernel-tmp"
    fresh.mkdir()
    for name in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.setenv(name, str(fresh))
    return fresh


def _left_behind(kernel_tmp: Path) -> list[str]:
    return sorted(str(p.relative_to(kernel_tmp)) for p in kernel_tmp.iterdir())


def _execute(name: str) -> Any:
    """Run a notebook top to bottom; the kernel has stopped (and exited) when this returns."""
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        book,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on the first failure
    return book


def _html(cell: Any) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)


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


def test_quickstart(kernel_tmp: Path) -> None:
    book = _execute("quickstart.ipynb")
    assert _left_behind(kernel_tmp) == [], "the notebook removes the files it wrote"
    assert book.cells[-1].outputs[-1]["data"]["text/plain"] == "False"
    saved = next(c for c in book.cells if c.source.startswith("rsnap = a.to_rsnap("))
    assert str(kernel_tmp) in "".join(o.get("text", "") for o in saved.outputs), "it wrote into that TMPDIR"
    outputs = _outputs(book)
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 8, "every chart cell shows a picture"
    analyze_cell = next(c for c in book.cells if "insightkit.analyze(SAMPLE)" in c.source)
    assert any(WIDGET in o.get("data", {}) for o in analyze_cell.outputs), "tqdm renders as a widget"
    explore_cell = next(c for c in book.cells if c.source.strip() == "a.explore()")
    assert any(WIDGET in o.get("data", {}) for o in explore_cell.outputs)
    summary_cell = next(c for c in book.cells if c.source.startswith("summary = a.summary()"))
    assert any("text/html" in o.get("data", {}) for o in summary_cell.outputs)
    # Tables read the way the CLI prints them: units, shares, separators; never raw bytes or "\n#"
    summary_html = _html(summary_cell)
    assert "MiB" in summary_html and "%" in summary_html and re.search(r">\d{1,3},\d{3}<", summary_html)
    assert not re.search(r">\d{5,}<", summary_html), "a raw byte count in the summary"
    for start in ("styled(a.patterns", "styled(a.recommendations", "styled(summary.by_encoding", "keys = "):
        shown = _html(next(c for c in book.cells if c.source.startswith(start)))
        assert "KiB" in shown and not re.search(r">\d{5,}<", shown), start
    recommendations = _html(next(c for c in book.cells if c.source.startswith("styled(a.recommendations")))
    assert "\\n#" not in recommendations and "\n# Existing keys" in recommendations
    expiries = _html(next(c for c in book.cells if c.source.startswith("keys = ")))
    assert re.search(r">20\d\d-\d\d-\d\d \d\d:\d\d:\d\dZ<", expiries), "expires_at shown as a UTC time"
    assert not [o for o in outputs if o.get("output_type") == "error"]


@pytest.mark.server
def test_live_server_walkthrough(kernel_tmp: Path) -> None:
    book = _execute("live-server.ipynb")
    assert _left_behind(kernel_tmp) == []
    analyze_cell = next(c for c in book.cells if 'insightkit.analyze(f"redis://' in c.source)
    text = "".join(o.get("text", "") for o in analyze_cell.outputs)
    assert text.split()[0] in {"sync", "dump"}
    last = book.cells[-1].outputs[-1]["data"]["text/plain"]
    assert last == "True", "the notebook stops the server it started"


def test_sharing(kernel_tmp: Path) -> None:
    book = _execute("sharing.ipynb")
    assert _left_behind(kernel_tmp) == []
    assert book.cells[-1].outputs[-1]["data"]["text/plain"] == "False"
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
