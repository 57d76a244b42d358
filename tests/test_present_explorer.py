"""The ipywidgets explorer, driven through its widgets the way a notebook user changes them: each
filter gives exactly the rows pandas gives, and the displayed table and status follow."""

from __future__ import annotations

import html
import re
from typing import Any

import pandas as pd
import pytest

from insightkit.present.explorer import ALL, Explorer
from insightkit.present.html import largest_offenders
from insightkit.present.units import human_count


@pytest.fixture
def explorer(present_analysis: Any) -> Explorer:
    return present_analysis.explore()


def _rows_in_table(explorer: Explorer) -> int:
    return explorer.keys_table.value.count("<tr>") - 1  # minus the header row


def _matching(explorer: Explorer) -> int:
    match = re.search(r"<b>([\d,]+)</b> of", explorer.status.value)
    assert match, explorer.status.value
    return int(match.group(1).replace(",", ""))


def test_initial_view_is_every_key(explorer: Explorer, present_analysis: Any) -> None:
    keys = present_analysis.keys
    assert _matching(explorer) == len(keys)
    assert _rows_in_table(explorer) == 25
    largest = keys.nlargest(1, "memory_bytes").iloc[0]["key"]
    assert str(largest) in explorer.keys_table.value
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_type_and_encoding_filters(explorer: Explorer, present_analysis: Any) -> None:
    keys = present_analysis.keys
    explorer.type_filter.value = "hash"
    assert _matching(explorer) == int((keys["type"] == "hash").sum())
    assert set(explorer.filtered()["type"]) == {"hash"}
    assert "catalog:big" in explorer.keys_table.value
    assert set(explorer.encoding_filter.options) == {ALL, *keys[keys["type"] == "hash"]["encoding"].unique()}
    explorer.encoding_filter.value = "hashtable"
    expected = keys[(keys["type"] == "hash") & (keys["encoding"] == "hashtable")]
    assert list(explorer.filtered()["key"]) == list(expected["key"])
    assert _rows_in_table(explorer) == len(expected)


def test_db_ttl_and_size_filters(explorer: Explorer, present_analysis: Any) -> None:
    keys = present_analysis.keys
    explorer.db_filter.value = "1"
    assert _matching(explorer) == int((keys["db"] == 1).sum()) > 0
    explorer.db_filter.value = ALL
    explorer.ttl_filter.value = "no ttl"
    assert _matching(explorer) == int(keys["expires_at"].isna().sum())
    explorer.ttl_filter.value = "with ttl"
    snapshot = present_analysis.metadata["snapshot_time_ms"]
    assert _matching(explorer) == int((keys["expires_at"] >= snapshot).fillna(False).sum())
    explorer.ttl_filter.value = ALL
    explorer.size_filter.value = "≥ 10 KiB"
    assert _matching(explorer) == int((keys["memory_bytes"] >= 10 * 1024).sum())
    assert explorer.filtered()["memory_bytes"].min() >= 10 * 1024


def test_key_text_filter_is_literal(explorer: Explorer, present_analysis: Any) -> None:
    explorer.key_filter.value = "<script>"
    assert _matching(explorer) == 1
    assert "&lt;script&gt;" in explorer.keys_table.value
    assert "<script>" not in explorer.keys_table.value


def test_sorting_and_rows(explorer: Explorer, present_analysis: Any) -> None:
    keys = present_analysis.keys
    explorer.sort_by.value = "num_elements"
    explorer.rows.value = 5
    shown = explorer.shown()
    assert list(shown["num_elements"]) == sorted(keys["num_elements"], reverse=True)[:5]
    explorer.descending.value = "ascending"
    assert list(explorer.shown()["num_elements"]) == sorted(keys["num_elements"])[:5]
    assert _rows_in_table(explorer) == 5
    explorer.sort_by.value = "key"
    assert list(explorer.shown()["key"]) == sorted(keys["key"])[:5]


def test_drill_from_pattern_to_its_keys(explorer: Explorer, present_analysis: Any) -> None:
    keys = present_analysis.keys
    explorer.type_filter.value = "string"  # drilling clears other filters
    explorer.tabs.selected_index = 1
    pattern = explorer.pattern_list.options[0]
    explorer.pattern_list.value = pattern
    explorer.drill_button.click()
    assert explorer.tabs.selected_index == 0
    assert explorer.pattern_filter.value == pattern
    assert explorer.type_filter.value == ALL
    expected = keys[keys["pattern"] == pattern]
    assert _matching(explorer) == len(expected) > 0
    assert set(explorer.filtered()["pattern"]) == {pattern}


def test_recommendations_with_offenders(explorer: Explorer, present_analysis: Any) -> None:
    recs = present_analysis.recommendations
    assert explorer.rule_list is not None and len(explorer.rule_list.options) == len(recs)
    for rule, title in zip(recs["rule"], recs["title"], strict=True):
        explorer.rule_list.value = rule
        assert str(title).replace("<", "&lt;").replace(">", "&gt;") in explorer.recommendation_detail.value
    with_keys = recs[recs["offending_keys"].fillna(0) > 0]
    assert len(with_keys), "the sample should have recommendations with offending keys"
    for rule in with_keys["rule"].head(3):
        explorer.rule_list.value = rule
        detail = explorer.recommendation_detail.value
        offenders = present_analysis.offenders(rule)
        assert f"of {human_count(len(offenders))} offenders" in detail
        top = largest_offenders(offenders, 1).iloc[0]["key"]
        assert html.escape(str(top)) in detail


def test_patterns_tab_lists_patterns_by_memory(explorer: Explorer, present_analysis: Any) -> None:
    ranked = present_analysis.patterns.sort_values("memory_bytes", ascending=False)["pattern"]
    assert list(explorer.pattern_list.options[:5]) == [str(p) for p in ranked.head(5)]
    assert isinstance(explorer.filtered(), pd.DataFrame)


def test_tables_keep_cells_on_one_line(explorer: Explorer) -> None:
    """Every explorer table is an ik-table: nowrap cells (checked rendered in tests/test_browser.py),
    library columns only when a library owns a pattern, expiries as UTC times."""
    keys_html = explorer.keys_table.value
    assert "white-space:nowrap" in keys_html and 'class="ik-table"' in keys_html
    assert "overflow-wrap:anywhere" not in keys_html
    explorer.sort_by.value = "expires_at"
    assert re.search(r"<td class=\"\">20\d\d-\d\d-\d\d \d\d:\d\d:\d\dZ</td>", explorer.keys_table.value)
    patterns_html = next(
        w.value for w in explorer.tabs.children[1].children if "ik-patterns-table" in w._dom_classes
    )
    assert ('<th class="">library</th>' in patterns_html) == explorer.analysis.patterns["owner"].notna().any()


def test_a_server_level_finding_says_what_it_is_about(tmp_path: Any) -> None:
    """no-password names no keys: its detail and "about the server" stand where "0 B · 0 keys" stood."""
    from pathlib import Path

    import insightkit

    sample = Path(__file__).parents[1] / "data" / "samples" / "sample.rdb"
    analysis = insightkit.analyze(sample, progress=False)
    analysis.metadata["acl"] = {"users": [{"name": "default", "flags": ["on", "nopass"]}]}
    analysis.metadata.setdefault("config", {})["requirepass"] = ""
    recs = analysis.recommendations
    server_level = recs[
        (recs["offending_keys"].fillna(0) == 0) & (recs["estimated_savings_bytes"].fillna(0) == 0)
    ]
    assert len(server_level), recs["rule"].tolist()
    explorer = analysis.explore()
    assert explorer.rule_list is not None
    for rule, detail in zip(server_level["rule"], server_level["detail"], strict=True):
        explorer.rule_list.value = rule
        shown = explorer.recommendation_detail.value
        assert "About the server as a whole" in shown and "offending keys" not in shown
        if isinstance(detail, str) and detail:
            assert html.escape(detail) in shown
