"""Tables for people (insightkit.present.styled, Summary._repr_html_): human units in what a notebook
shows, the numbers untouched in the frames behind it."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import insightkit
from insightkit.analysis import Analysis
from insightkit.present import HumanTable, expiry_timestamps, styled
from insightkit.present.tables import NAME_WIDTH, duration

SAMPLE_RDB = Path(__file__).resolve().parent.parent / "data" / "samples" / "sample.rdb"


@pytest.fixture(scope="module")
def sample() -> Analysis:
    return insightkit.analyze(SAMPLE_RDB, progress=False)


def _cells(page: str) -> list[str]:
    return re.findall(r"<td[^>]*>(.*?)</td>", page, flags=re.S)


def test_summary_html_has_units_not_raw_numbers(sample: Analysis) -> None:
    summary = sample.summary()
    page = summary._repr_html_()
    assert page.count("<table") == 4
    total = int(summary.totals["memory_bytes"])
    assert total > 2 * 1024**2 and str(total) not in page
    assert "2.27 MiB" in page  # the totals line
    cells = _cells(page)
    assert "88.8%" in cells and "2.02 MiB" in cells and "3,731" in cells
    memory, share = summary.by_db["memory_bytes"].iloc[0], summary.by_db["share"].iloc[0]
    assert str(memory) not in cells and str(share) not in page
    # the frames keep their numbers
    assert isinstance(memory, int) and isinstance(share, float)


def test_patterns_and_recommendations_styled(sample: Analysis) -> None:
    patterns = sample.patterns.head(10)
    table = styled(patterns)
    assert isinstance(table, HumanTable) and table.data is patterns
    page = table._repr_html_()
    biggest = int(patterns["memory_bytes"].iloc[0])
    assert str(biggest) not in page and "462 KiB" in page
    assert "19.9%" in page and "600" in _cells(page)
    assert "14.0 d" in page  # ttl_max_s of cache:product:* (1,209,600 s)
    assert repr(table) == repr(patterns)

    recs = sample.recommendations
    page = styled(recs)._repr_html_()
    assert "401 KiB" in page and str(int(recs["estimated_savings_bytes"].max())) not in page
    # a fix of several lines keeps its line breaks; pandas' repr showed them as a literal "\n#"
    fix = recs.set_index("rule").loc["list-compression", "fix"]
    assert "\n# Existing keys" in fix
    assert '<td class="prose">CONFIG SET list-compress-depth 1\n# Existing keys' in page
    assert "\\n#" not in page


def test_counts_get_separators_and_long_lists_are_cut(sample: Analysis) -> None:
    frame = pd.DataFrame(
        {
            "pattern": ["x:" + "y" * 100],
            "keys": pd.array([1234567], dtype="int64[pyarrow]"),
            "examples": [["a" * 40, "b" * 40]],
            "ttl_min_s": pd.array([None], dtype="double[pyarrow]"),
        }
    )
    cells = _cells(styled(frame)._repr_html_())
    assert cells[1] == "1,234,567" and cells[3] == "–"
    name, examples = cells[0], cells[2]
    assert f'title="x:{"y" * 100}"' in name and "…" in name
    assert examples.endswith("…") and len(examples) == NAME_WIDTH


def test_key_names_are_escaped(sample: Analysis) -> None:
    keys = pd.DataFrame({"key": ["<b>x</b>", "evil\x1b[2J\u202e"], "memory_bytes": [1, 2048]})
    page = styled(keys)._repr_html_()
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x" not in page
    assert "\x1b" not in page and "\u202e" not in page and "\\x1b[2J\\u202e" in page
    assert "2.00 KiB" in page


def test_expiries_as_timestamps_keep_far_future_text() -> None:
    raw = pd.Series(
        [1_700_000_000_000, None, 9_007_199_254_740_993], dtype="int64[pyarrow]", name="expires_at"
    )
    stamps = expiry_timestamps(raw)
    assert str(stamps.dtype) == "timestamp[ms, tz=UTC][pyarrow]"
    assert stamps.iloc[0] == pd.Timestamp("2023-11-14 22:13:20", tz="UTC")
    assert stamps.isna().tolist() == [False, True, True]  # beyond year 9999: no calendar names it
    cells = _cells(styled(pd.DataFrame({"expires_at": raw, "expires": stamps}))._repr_html_())
    assert cells == [
        "2023-11-14 22:13:20Z",
        "2023-11-14 22:13:20Z",
        "–",
        "–",
        "9007199254740993 ms (beyond 9999)",
        "–",
    ]
    assert raw.iloc[2] == 9_007_199_254_740_993  # the exact milliseconds stay in the key table


def test_long_tables_are_cut_for_display(sample: Analysis) -> None:
    page = styled(sample.keys)._repr_html_()
    assert page.count("<tr>") == 61  # header + 60
    assert f"more rows (of {len(sample.keys):,})" in page


def test_durations() -> None:
    assert [duration(s) for s in (5, 90, 600, 5400, 9000, 86_400, 40 * 86_400)] == [
        "5 s",
        "90 s",
        "10 min",
        "90 min",
        "2.5 h",
        "24.0 h",
        "40.0 d",
    ]
