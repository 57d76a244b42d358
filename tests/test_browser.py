"""The quickstart as a person sees it: JupyterLab on loopback, the notebook run in Debian's Chromium
(headless, driven by Playwright), the explorer rendered, a filter changed, the table updated.

Screenshots are kept under tests/artifacts/ (gitignored). The notebook runs in a temporary copy of
notebooks/ and data/samples/, so JupyterLab's autosave never writes outputs into the repository.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
TOKEN = "insightkit-browser-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def jupyterlab(root: Path, home: Path) -> Iterator[str]:
    """A JupyterLab server on a free loopback port, with its own config (no news, no extension manager)."""
    config = home / "config"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    # Render every cell, not only those in view, so the explorer is in the page wherever it sits.
    tracker = home / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port = _free_port()
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
    )
    log = (home / "lab.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"jupyterlab exited: {(home / 'lab.log').read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("jupyterlab did not start within 60 s") from None
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


def test_quickstart_explorer_in_chromium(tmp_path: Path) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} missing: run .ci/run to install Debian's chromium")
    import playwright.sync_api as playwright

    import insightkit

    root = tmp_path / "work"
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    shutil.copytree(REPO / "data" / "samples", root / "data" / "samples")
    analysis = insightkit.analyze(REPO / "data" / "samples" / "sample.rdb", progress=False)
    keys = analysis.keys
    hashes = int((keys["type"] == "hash").sum())
    third = str(analysis.patterns.sort_values("memory_bytes", ascending=False)["pattern"].iloc[2])
    third_keys = int((keys["pattern"] == third).sum())
    assert 0 < hashes < len(keys)
    ARTIFACTS.mkdir(exist_ok=True)

    with jupyterlab(root, tmp_path / "jupyter") as url, playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(f"{url}/lab/tree/notebooks/quickstart.ipynb?token={TOKEN}")
            kernel = "window.jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel"
            page.wait_for_function(f"{kernel}?.status === 'idle'", timeout=90_000)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")

            # The explorer, or the first traceback if a cell fails (no point waiting for the rest).
            failed = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
            page.wait_for_selector(f".ik-explorer .ik-status, {failed}", timeout=180_000)
            tracebacks = [
                t for t in page.locator(failed).all_inner_texts() if "Traceback" in t or "Error" in t
            ]
            assert not tracebacks, tracebacks[0][-3000:]
            status = page.locator(".ik-explorer .ik-status")
            status.wait_for(state="visible", timeout=30_000)
            page.locator(".ik-explorer .ik-keys-table table").wait_for(state="visible")
            before = status.inner_text()
            assert before.startswith(f"{len(keys):,} of {len(keys):,} keys match"), before
            # JupyterLab's own table rules do not make the explorer's or styled() tables wrap mid-word
            cells = page.evaluate(CELL_LAYOUT)
            assert len(cells) > 100 and {c["whiteSpace"] for c in cells} == {"nowrap"}
            wrapped = [c["text"] for c in cells if c["lines"] != 1]
            assert not wrapped, wrapped[:5]
            # ...so a table wider than the tab scrolls sideways rather than losing its last columns
            scroll = ".ik-explorer .ik-keys-table"
            assert page.evaluate(f"getComputedStyle(document.querySelector('{scroll}')).overflowX") == "auto"
            assert "expires" in page.locator(f"{scroll} thead").inner_text()

            # Bring the explorer's filters to the top of the notebook panel before each screenshot.
            to_top = "document.querySelector('.ik-explorer').scrollIntoView({block: 'start'})"
            page.evaluate(to_top)
            page.screenshot(path=str(ARTIFACTS / "quickstart-explorer-before.png"))

            page.select_option(".ik-explorer .ik-type-filter select", "hash")
            page.wait_for_function(
                "prefix => document.querySelector('.ik-explorer .ik-status').innerText.startsWith(prefix)",
                arg=f"{hashes:,} of",
                timeout=30_000,
            )
            rows = page.locator(".ik-explorer .ik-keys-table tbody tr")
            assert rows.count() == min(25, hashes)
            header = [
                h.strip() for h in page.locator(".ik-explorer .ik-keys-table thead th").all_inner_texts()
            ]
            type_column = header.index("type")
            types = {
                rows.nth(i).locator("td").nth(type_column).inner_text().strip() for i in range(rows.count())
            }
            assert types == {"hash"}
            page.evaluate(to_top)
            page.screenshot(path=str(ARTIFACTS / "quickstart-explorer-hash.png"))

            # Drill from a pattern to its keys: Patterns tab, pick one, "Show its keys".
            page.locator(".ik-explorer .lm-TabBar-tab", has_text="Patterns").click()
            page.select_option(".ik-explorer .ik-pattern-list select", label=third)
            page.locator(".ik-explorer .ik-drill").click()
            page.wait_for_function(
                "prefix => document.querySelector('.ik-explorer .ik-status').innerText.startsWith(prefix)",
                arg=f"{third_keys:,} of",
                timeout=30_000,
            )
            assert page.locator(".ik-explorer .ik-pattern-filter input").input_value() == third
            page.evaluate(to_top)
            page.screenshot(path=str(ARTIFACTS / "quickstart-explorer-drill.png"))

            # The charts above the explorer rendered as images in the notebook.
            images = page.locator(".jp-OutputArea-output img")
            assert images.count() >= 8
            page.locator(".jp-OutputArea-output img").first.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "quickstart-lab.png"))
            tracebacks = [
                t for t in page.locator(failed).all_inner_texts() if re.search(r"Traceback|Error:", t)
            ]
            assert not tracebacks, tracebacks
        finally:
            browser.close()


LONG_KEY = "tenant:acme-corporation-eu-west:" + "order-history-archive:" * 6 + "2024"
# Per cell (not prose): its computed white-space, its text, and how many lines its text takes.
CELL_LAYOUT = """() => [...document.querySelectorAll('table.ik-table td, table.ik-table th')]
    .filter(cell => !cell.classList.contains('prose'))
    .map(cell => {
        const style = getComputedStyle(cell);
        const range = document.createRange();
        range.selectNodeContents(cell);
        const height = range.getBoundingClientRect().height;
        return {text: cell.innerText, whiteSpace: style.whiteSpace,
                lines: Math.round(height / (parseFloat(style.fontSize) * 1.25)) || 1};
    })"""


def _html_widgets(widget: object) -> list[str]:
    """The HTML of every ipywidgets.HTML inside ``widget`` (the explorer's tables and details)."""
    import ipywidgets as widgets

    if isinstance(widget, widgets.HTML):
        return [widget.value]
    return [html for child in getattr(widget, "children", ()) for html in _html_widgets(child)]


def test_explorer_cells_do_not_break_words(tmp_path: Path) -> None:
    """The explorer's tables in Chromium at a notebook's width: no type, encoding, pattern or number
    wraps mid-word ("strea/m"), and a long key name is cut with "…" and its full name as the title."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} missing: run .ci/run to install Debian's chromium")
    import pandas as pd
    import playwright.sync_api as playwright

    import insightkit
    from insightkit.analysis import Analysis

    sample = insightkit.analyze(REPO / "data" / "samples" / "sample.rdb", progress=False)
    keys = sample.keys.drop(columns="pattern")
    biggest = keys["memory_bytes"].astype("int64").nlargest(3).index
    renamed = keys["key"].astype(object)
    renamed[biggest] = [f"{LONG_KEY}:{i}" for i in range(3)]
    keys["key"] = pd.array(renamed.tolist(), dtype=keys["key"].dtype)
    explorer = Analysis(keys, dict(sample.metadata), progress=False).explore()
    body = "".join(f'<div class="widget-html-content">{h}</div>' for h in _html_widgets(explorer.widget))
    page_html = f'<html><body style="margin:0"><div style="width:760px">{body}</div></body></html>'

    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 900})
            page.set_content(page_html)
            cells = page.evaluate(CELL_LAYOUT)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "explorer-tables.png"), full_page=True)
            names = page.evaluate(
                """() => [...document.querySelectorAll('table.ik-table td.name span[title]')].map(span => ({
                    shown: span.innerText, title: span.title,
                    fits: span.parentElement.scrollWidth <= span.parentElement.clientWidth + 1}))"""
            )
        finally:
            browser.close()

    assert len(cells) > 100
    assert {c["whiteSpace"] for c in cells} == {"nowrap"}
    wrapped = [c["text"] for c in cells if c["lines"] != 1]
    assert not wrapped, wrapped[:5]
    texts = {c["text"] for c in cells}
    assert {"stream", "quicklist", "memory", "largest element"} <= texts
    long_names = [n for n in names if n["title"].startswith(LONG_KEY)]
    assert len(long_names) == 3, names
    for name in long_names:
        assert name["shown"].endswith("…") and name["title"].startswith(name["shown"][:-1])
        assert name["fits"], name


# ---------------------------------------------------------------------------------------------
# the HTML report, read in Chromium the way an SRE reads it (issue 19)

REPORT_CHARTS = [
    "estimated savings per recommendation",
    "memory by type and encoding",
    "key count by type",
    "memory by time to live",
    "memory freed by expiry over time",
    "top patterns by memory",
    "top patterns by key count",
    "treemap of memory by pattern",
    "distribution of key sizes",
    "distribution of element counts",
    "top keys by memory",
    "top keys by length",
]
REPORT_HEADINGS = [
    "Overview",
    "Memory and keys by type",
    "Databases",
    "Time to live and memory freed over time",
    "Patterns (namespaces)",
    "Key sizes and element counts",
    "Largest keys by memory",
    "Longest keys (elements)",
]
# Elements whose text must fit their box, and boxes that must fit the page's main column.
_OVERFLOW_JS = """() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const bad = [];
  const boxes = 'td, th, .card, .card .value, .card .label, .rec, .rec h3, .rec p, .rec pre, '
    + 'header h1, header .meta, h2, h3, summary';
  for (const el of document.querySelectorAll(boxes)) {
    if (el.scrollWidth > el.clientWidth + 1) {
      bad.push(`${el.tagName}.${el.className}: ${el.scrollWidth} > ${el.clientWidth}: `
        + el.innerText.slice(0, 80));
    }
  }
  const main = document.querySelector('main').getBoundingClientRect();
  for (const el of document.querySelectorAll('main img, main table, main .rec, main .card')) {
    const r = el.getBoundingClientRect();
    if (r.width && r.right > main.right + 1) {
      bad.push(`outside the page: ${el.tagName} ${el.alt || el.className} ${r.right} > ${main.right}`);
    }
  }
  return bad;
}"""


def test_report_in_chromium(tmp_path: Path) -> None:
    """A live server with no password, its snapshot kept as an RSNAP and re-read, the report opened
    in Chromium: the security finding on the first screen, every view drawn, nothing overflowing,
    badges and counts that agree, the original method in the header."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} missing: run .ci/run to install Debian's chromium")
    import playwright.sync_api as playwright
    from present_data import HOSTILE_KEY, populate
    from servers import running_server

    import insightkit
    from insightkit.present.charts import plural

    with running_server("redis70") as server:  # requirepass unset: no-password fires
        populate(server)
        live = insightkit.analyze(server.url, method="dump", progress=False)
    assert live.metadata["config"]["requirepass"] == ""
    analysis = insightkit.load(live.to_rsnap(tmp_path / "live.rsnap.parquet"))
    recs = analysis.recommendations
    assert "no-password" in set(recs["rule"]), list(recs["rule"])
    keys = analysis.keys
    report = analysis.to_html(tmp_path / "report.html")
    ARTIFACTS.mkdir(exist_ok=True)

    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            viewport = {"width": 1280, "height": 800}
            page = browser.new_page(viewport=viewport)
            page.goto(report.as_uri())
            page.wait_for_load_state("load")
            page.screenshot(path=str(ARTIFACTS / "report-first-screen.png"))

            # The security finding is on the first screen, above every other kind of finding.
            security = page.locator('.rec[data-rule="no-password"]')
            box = security.bounding_box()
            assert box is not None and box["y"] < viewport["height"], box
            assert "high" in security.locator(".sev").inner_text()
            shown = page.locator(".rec").evaluate_all("els => els.map(e => e.dataset.rule)")
            assert shown == list(recs["rule"])
            categories = dict(zip(recs["rule"], recs["category"], strict=True))
            kinds = [categories[r] for r in shown]
            assert kinds == sorted(kinds, key=lambda c: c != "security"), kinds

            # Every finding shows its category as a badge a person can see.
            for rule in shown:
                badge = page.locator(f'.rec[data-rule="{rule}"] .cat')
                assert badge.is_visible() and badge.inner_text() == categories[rule]

            # Counts agree: heading, cards, finding cards, the table under "Top N".
            n = len(recs)
            saving = int((recs["estimated_savings_bytes"].fillna(0) > 0).sum())
            assert page.locator("#recommendations").inner_text() == plural(n, "recommendation")
            assert page.locator(".rec").count() == n
            cards = dict(
                zip(
                    page.locator(".card .label").all_inner_texts(),
                    page.locator(".card .value").all_inner_texts(),
                    strict=True,
                )
            )
            assert cards["recommendations"] == f"{n:,}"
            assert cards["keys"] == f"{len(keys):,}"
            assert f"estimated savings ({plural(saving, 'recommendation')}, each key once)" in cards
            heading = page.locator("h3.sub", has_text="keys by memory").inner_text()
            assert heading == f"Top {min(50, len(keys))} of {len(keys):,} keys by memory"
            assert page.locator("table.top-keys tbody tr").count() == min(50, len(keys))
            text = page.locator("body").inner_text()
            assert "0 keys · 0 patterns" not in text
            assert not re.search(r"\b1 (keys|patterns|elements|recommendations)\b", text)
            assert "not about particular keys" in security.inner_text()

            # The header says how the keys were read, not that they came back from an RSNAP.
            meta = page.locator("header .meta").inner_text()
            assert "method: dump (re-read from an RSNAP)" in meta, meta

            # Every view is drawn (a decoded image of real size) under its heading.
            headings = [h.strip() for h in page.locator("h2").all_inner_texts()]
            for expected in REPORT_HEADINGS:
                assert expected in headings, headings
            for alt in REPORT_CHARTS:
                image = page.locator(f'img.chart[alt="{alt}"]')
                assert image.count() == 1, alt
                size = image.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
                assert size[0] and size[1] > 300 and size[2] > 150, (alt, size)

            # Nothing overflows its box, with every offender table opened.
            overflowing = page.evaluate(_OVERFLOW_JS)
            assert overflowing == [], overflowing[:10]

            # Key names are text, not markup.
            assert page.locator("script").count() == 0
            assert HOSTILE_KEY.split(":")[0] in text
            page.screenshot(path=str(ARTIFACTS / "report-full.png"), full_page=True)
        finally:
            browser.close()
