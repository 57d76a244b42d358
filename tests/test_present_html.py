"""The HTML report: one self-contained file, every chart inlined, key names escaped, numbers that
agree with the analysis; and the ``insightkit report`` command that writes it."""

from __future__ import annotations

import base64
import html
import os
import re
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


# ---------------------------------------------------------------------------------------------
# counts, wording, order and names (issues 18 and 19)

_RAW_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]")


def test_headings_and_counts_agree(report: tuple[Path, str], present_analysis: Any) -> None:
    _, document = report
    recs = present_analysis.recommendations
    saving = int((recs["estimated_savings_bytes"].fillna(0) > 0).sum())
    keys = present_analysis.keys
    assert f'<h2 id="recommendations">{len(recs)} recommendations</h2>' in document
    assert document.count('<div class="rec ') == len(recs)
    assert f"estimated savings ({saving} recommendations, each key once)" in document
    top = min(50, len(keys))
    assert f"Top {top} of {len(keys):,} keys by memory" in document
    rows = re.search(r'<table class="top-keys">.*?</table>', document, re.S)
    assert rows is not None and rows.group(0).count("<tr>") == top + 1  # + the header row
    assert not re.search(r"\b1 (keys|patterns|elements|recommendations)\b", document)
    assert "0 keys · 0 patterns" not in document


def test_findings_ranked_with_category_and_what_they_are_about(
    report: tuple[Path, str], present_analysis: Any
) -> None:
    _, document = report
    recs = present_analysis.recommendations
    shown = re.findall(r'<div class="rec rec-[a-z]+" data-rule="([^"]+)">', document)
    assert shown == list(recs["rule"])  # the rules' ranking: security, severity, then saving
    severities = [str(recs.set_index("rule").loc[r, "severity"]) for r in shown]
    order = ["high", "medium", "low", "info"]
    assert severities == sorted(severities, key=order.index)
    for rule, category in zip(recs["rule"], recs["category"], strict=True):
        card = document.split(f'data-rule="{rule}">', 1)[1].split('<div class="rec ', 1)[0]
        assert f'<span class="cat cat-{category}" title="category">{category}</span>' in card
    keyless = recs[(recs["offending_keys"] == 0) & (recs["offending_patterns"] == 0)]
    assert len(keyless), "the sample has a finding about the server (outdated-version)"
    for rule in keyless["rule"]:
        card = document.split(f'data-rule="{rule}">', 1)[1].split('<div class="rec ', 1)[0]
        assert "not about particular keys" in card and "0 keys" not in card


def test_report_from_an_rsnap_keeps_the_original_method(present_analysis: Any, tmp_path: Path) -> None:
    import insightkit

    first = present_analysis.to_rsnap(tmp_path / "one.rsnap.parquet")
    again = insightkit.load(first).to_rsnap(tmp_path / "two.rsnap.parquet")  # a second round trip
    loaded = insightkit.load(again)
    document = loaded.to_html(tmp_path / "r.html").read_text(encoding="utf-8")
    assert "method: file (re-read from an RSNAP)" in document
    assert "method: rsnap" not in document


HOSTILE = ["a$_$b", "$$", "\x1b[2J", "\x00", "\x1b]0;pwned\x07", "bidi:\u202eevil"]


def test_report_over_math_and_control_byte_names(tmp_path: Path) -> None:
    """Issue 18: key names that matplotlib reads as math, or that carry terminal escapes and NUL, give
    a report (through the command, as a person runs it) with every name escaped and no raw byte."""
    from servers import running_server

    with running_server("redis70") as server:
        client = server.client()
        for i, name in enumerate(HOSTILE):
            client.hset(name, mapping={f"f{j}": "v" * 20 for j in range(10 * (i + 1))})
            client.set(f"{name}:{i}", "x" * 100)
        client.rpush("$list$", *range(500))
        rdb = tmp_path / "hostile.rdb"
        rdb.write_bytes(server.save().read_bytes())
    out = tmp_path / "hostile.html"
    done = subprocess.run(
        [sys.executable, "-m", "insightkit", "report", str(rdb), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    raw = out.read_bytes()
    assert not _RAW_CONTROL.search(raw), _RAW_CONTROL.search(raw)
    assert "\u202e".encode() not in raw
    document = raw.decode("utf-8")
    assert "a$_$b" in document and "$$" in document
    assert html.escape('"\\x1b[2J"') in document and html.escape('"\\x00"') in document
    assert html.escape('"bidi:\\u202eevil"') in document


def _tables(document: str, css_class: str) -> list[str]:
    return re.findall(rf'<table class="{css_class}">.*?</table>', document, flags=re.S)


def test_an_out_of_core_report_shows_what_the_in_memory_one_does_without_loading_the_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Out of core the report reads four narrow columns and a few top rows (``Analysis.key_columns``,
    ``top``, ``offenders(largest=)``), never the whole key table (``keys``: ~900 bytes a key); its
    tables are the in-memory report's."""
    import insightkit
    from insightkit.analysis import Analysis
    from insightkit.present.html import render

    sample = REPO / "data" / "samples" / "sample.rdb"
    expected = render(insightkit.analyze(sample, progress=False, out_of_core=False))
    with insightkit.analyze(sample, progress=False, out_of_core=True) as stored:

        def refuse(self: Analysis) -> None:
            raise AssertionError("the report loaded the whole key table")

        monkeypatch.setattr(Analysis, "decoded_keys", refuse)
        document = render(stored)
    for css_class in ("top-keys", "longest-keys", "offenders", "patterns", "by-encoding", "freed-over-time"):
        assert _tables(document, css_class) == _tables(expected, css_class), css_class
    assert _tables(document, "offenders")  # (the sample's findings name keys)
    shown = re.findall(r"<summary>((?:Top|All|The) [^<]*offending key[^<]*)</summary>", document)
    assert shown and shown == re.findall(
        r"<summary>((?:Top|All|The) [^<]*offending key[^<]*)</summary>", expected
    )


@pytest.mark.parametrize("out_of_core", [False, True])
def test_offenders_largest_are_the_head_of_every_offender(out_of_core: bool) -> None:
    import insightkit

    sample = REPO / "data" / "samples" / "sample.rdb"
    with insightkit.analyze(sample, progress=False, out_of_core=out_of_core) as analysis:
        for rule in analysis.recommendations.query("offending_keys > 5")["rule"]:
            every = analysis.offenders(rule)
            head = analysis.offenders(rule, largest=5)
            assert len(head) == 5
            ranked = every.sort_values(["estimated_savings_bytes", "memory_bytes"], ascending=False)
            assert (
                head["estimated_savings_bytes"].tolist() == ranked["estimated_savings_bytes"].head(5).tolist()
            )
            assert head["memory_bytes"].tolist() == ranked["memory_bytes"].head(5).tolist()
            assert set(head["key"]) <= set(every["key"])
