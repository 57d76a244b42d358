"""The HTML report: one self-contained file, every chart inlined, key names escaped, numbers that
agree with the analysis; and the ``insightkit report`` command that writes it."""

from __future__ import annotations

import base64
import html
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from present_data import HOSTILE_KEY

from insightkit.present.units import human_bytes, human_count

REPO = Path(__file__).resolve().parent.parent


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.scripts = 0
        self.text: list[str] = []
        self.open_tables = 0
        self.max_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img":
            self.images.append(values.get("src") or "")
        if tag in ("link", "a") and values.get("href"):
            self.links.append(values["href"] or "")
        if tag == "script":
            self.scripts += 1
        if tag == "table":
            self.open_tables += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.open_tables -= 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def report(present_analysis: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("report") / "report.html"
    written = present_analysis.to_html(path)
    assert Path(written) == path
    return path, path.read_text(encoding="utf-8")


def test_report_is_self_contained(report: tuple[Path, str]) -> None:
    _, document = report
    parsed = _Collector()
    parsed.feed(document)
    assert parsed.scripts == 0
    assert parsed.links == []
    assert "http://" not in document and "https://" not in document
    assert len(parsed.images) >= 8
    for src in parsed.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG")
    assert parsed.open_tables == 0


def test_report_escapes_key_names(report: tuple[Path, str], present_analysis: Any) -> None:
    _, document = report
    assert HOSTILE_KEY in set(present_analysis.keys["key"])
    assert "<script>" not in document
    parsed = _Collector()
    parsed.feed(document)
    assert parsed.scripts == 0
    # The hostile key is the smallest kind of key, so look for its pattern or name in the escaped text.
    assert html.escape("<script>") in document


def test_report_numbers_agree_with_the_analysis(report: tuple[Path, str], present_analysis: Any) -> None:
    _, document = report
    keys = present_analysis.keys
    summary = present_analysis.summary()
    assert human_count(len(keys)) in document
    assert human_bytes(summary.totals["memory_bytes"]) in document
    largest = keys.nlargest(1, "memory_bytes").iloc[0]
    assert html.escape(str(largest["key"])) in document
    for rule in present_analysis.recommendations["rule"]:
        assert html.escape(str(rule)) in document
    for fix in present_analysis.recommendations["fix"].dropna().head(3):
        assert html.escape(str(fix)) in document
    top_pattern = present_analysis.patterns.sort_values("memory_bytes", ascending=False).iloc[0]["pattern"]
    assert html.escape(str(top_pattern)) in document


def test_failed_report_keeps_the_previous_one(present_analysis: Any, tmp_path: Path) -> None:
    from insightkit.present import html as report_html

    target = tmp_path / "report.html"
    target.write_text("previous report")
    with pytest.raises(TypeError):
        report_html.to_html(present_analysis, target, no_such_option=1)
    assert target.read_text() == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_report_command(present_analysis: Any, tmp_path: Path) -> None:
    rdb = Path(present_analysis.metadata["source"])
    assert rdb.exists()
    out = tmp_path / "cli-report.html"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-m", "insightkit", "report", str(rdb), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert out.exists()
    document = out.read_text(encoding="utf-8")
    assert document.startswith("<!DOCTYPE html>")
    assert human_count(len(present_analysis.keys)) in document
