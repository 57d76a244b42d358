"""Charts drawn from a real analysis: every chart has a title, labelled axes, units, and bars whose
lengths add up to the table they show."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from insightkit import present
from insightkit.present import charts
from insightkit.present.units import human_bytes, unit_for

ARTIFACTS = Path(__file__).parent / "artifacts"


def _bars(ax: Any) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def _save(fig: Figure, name: str) -> bytes:
    """PNG bytes; also kept under tests/artifacts/ for a person to look at."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"chart-{name}.png").write_bytes(buffer.getvalue())
    return buffer.getvalue()


def _unit_label(ax: Any, axis: str = "x") -> str:
    label = ax.get_xlabel() if axis == "x" else ax.get_ylabel()
    assert any(f"({u})" in label for u in ("B", "KiB", "MiB", "GiB")), label
    return str(label)


def test_units() -> None:
    assert human_bytes(0) == "0 B"
    assert human_bytes(1023) == "1023 B"
    assert human_bytes(1536) == "1.50 KiB"
    assert human_bytes(5 * 1024**2) == "5.00 MiB"
    assert human_bytes(123.4 * 1024**3) == "123 GiB"
    assert human_bytes(None) == "–"
    assert unit_for(3 * 1024**2) == ("MiB", 1024.0**2)


def test_memory_by_type_bars_add_up_to_the_keys(present_analysis: Any) -> None:
    keys = present_analysis.keys
    fig = present_analysis.plot_memory_by_type()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_title() == "Memory by type and encoding"
    _unit_label(ax)
    widths = sum(bar.get_width() for bar in _bars(ax))
    assert math.isclose(widths, float(keys["memory_bytes"].sum()), rel_tol=1e-9)
    types = {t.get_text() for t in ax.get_yticklabels()}
    assert types == set(keys["type"].unique())
    legend = {t.get_text() for t in ax.get_legend().get_texts()}
    assert legend == set(keys["encoding"].unique())
    assert len(_save(fig, "memory_by_type")) > 10_000


def test_top_patterns_bars_are_the_largest_patterns(present_analysis: Any) -> None:
    patterns = present_analysis.patterns
    fig = present_analysis.plot_top_patterns(n=8)
    ax = fig.axes[0]
    expected = patterns.sort_values("memory_bytes", ascending=False).head(8)
    widths = [bar.get_width() for bar in _bars(ax)][::-1]
    assert widths == pytest.approx(expected["memory_bytes"].astype(float).tolist())
    labels = [t.get_text() for t in ax.get_yticklabels()][::-1]
    assert labels == [charts.shorten(p, 40) for p in expected["pattern"]]
    assert f"of {len(patterns)} patterns" in ax.get_title()
    _unit_label(ax)
    _save(fig, "top_patterns")


def test_treemap_areas_are_proportional_to_memory(present_analysis: Any) -> None:
    patterns = present_analysis.patterns
    n = 6
    fig = present_analysis.plot_pattern_treemap(n=n)
    ax = fig.axes[0]
    rects = _bars(ax)
    ranked = patterns[patterns["memory_bytes"] > 0].sort_values("memory_bytes", ascending=False)
    assert len(ranked) > n, "the sample should have more patterns than shown"
    sizes = [*ranked["memory_bytes"].head(n).astype(float), float(ranked["memory_bytes"].iloc[n:].sum())]
    areas = [r.get_width() * r.get_height() for r in rects]
    assert len(rects) == n + 1
    assert np.allclose(np.array(areas) / sum(areas), np.array(sizes) / sum(sizes))
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "other" in texts
    assert human_bytes(float(patterns["memory_bytes"].sum())) in ax.get_title()
    _save(fig, "pattern_treemap")


def test_ttl_buckets_heights_match_the_summary(present_analysis: Any) -> None:
    buckets = present_analysis.summary().ttl_buckets
    fig = present_analysis.plot_ttl_buckets()
    ax = fig.axes[0]
    heights = [bar.get_height() for bar in _bars(ax)]
    assert heights == pytest.approx(buckets["memory_bytes"].astype(float).tolist())
    assert math.isclose(sum(heights), float(present_analysis.keys["memory_bytes"].sum()))
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(b) for b in buckets["bucket"]]
    _unit_label(ax, "y")
    # The sample has keys without TTL and keys with TTLs in several ranges.
    assert sum(1 for h in heights if h > 0) >= 3
    _save(fig, "ttl_buckets")


def test_key_sizes_histograms_count_every_key_and_byte(present_analysis: Any) -> None:
    keys = present_analysis.keys
    fig = present_analysis.plot_key_sizes()
    counts_ax, memory_ax = fig.axes
    # Stacked bars only add up honestly on a linear axis: key counts are no longer on a log scale.
    assert counts_ax.get_xscale() == "log" and counts_ax.get_yscale() == "linear"
    assert memory_ax.get_yscale() == "linear"
    assert sum(b.get_height() for b in _bars(counts_ax)) == pytest.approx(len(keys))
    assert sum(b.get_height() for b in _bars(memory_ax)) == pytest.approx(float(keys["memory_bytes"].sum()))
    _unit_label(memory_ax, "y")
    assert all(t.get_text() for t in counts_ax.get_xticklabels())
    _save(fig, "key_sizes")


def test_element_counts_cover_the_collections(present_analysis: Any) -> None:
    keys = present_analysis.keys
    collections = keys[keys["type"] != "string"]
    fig = present_analysis.plot_element_counts()
    counts_ax, memory_ax = fig.axes
    assert counts_ax.get_xscale() == "log"
    assert sum(b.get_height() for b in _bars(counts_ax)) == pytest.approx(len(collections))
    assert sum(b.get_height() for b in _bars(memory_ax)) == pytest.approx(
        float(collections["memory_bytes"].sum())
    )
    legend = {t.get_text() for t in memory_ax.get_legend().get_texts()}
    assert legend == set(collections["type"].unique())
    _save(fig, "element_counts")


def test_top_keys_are_the_largest_keys(present_analysis: Any) -> None:
    keys = present_analysis.keys
    fig = present_analysis.plot_top_keys(n=12)
    ax = fig.axes[0]
    expected = keys.nlargest(12, "memory_bytes")
    widths = [bar.get_width() for bar in _bars(ax)][::-1]
    assert widths == pytest.approx(expected["memory_bytes"].astype(float).tolist())
    assert "catalog:big" in {t.get_text().strip() for t in ax.get_yticklabels()}
    _unit_label(ax)
    _save(fig, "top_keys")


def test_savings_bars_match_the_recommendations(present_analysis: Any) -> None:
    recs = present_analysis.recommendations
    saving = recs[recs["estimated_savings_bytes"].fillna(0) > 0]
    assert len(saving), "the sample should trigger at least one recommendation that saves memory"
    fig = present_analysis.plot_savings()
    ax = fig.axes[0]
    widths = sorted((bar.get_width() for bar in _bars(ax)), reverse=True)
    expected = saving["estimated_savings_bytes"].astype(float).sort_values(ascending=False).head(15)
    assert widths == pytest.approx(expected.tolist())
    _unit_label(ax)
    assert not any(t.get_text().endswith(" 0 keys") for t in ax.texts)  # RSS findings name no key
    assert f"of {len(recs)} recommendations" in ax.get_title().replace("\n", " ")
    _save(fig, "savings")


def test_plot_by_name_and_unknown_name(present_analysis: Any) -> None:
    for name in present.PLOTS:
        fig = present.plot(present_analysis, name)
        assert isinstance(fig, Figure)
        assert fig.axes and all(ax.has_data() for ax in fig.axes), name
    with pytest.raises(ValueError, match="unknown plot"):
        present.plot(present_analysis, "pie")


def test_charts_of_empty_tables_say_so(present_analysis: Any) -> None:
    keys = present_analysis.keys.iloc[0:0]
    summary = present_analysis.summary()
    for fig in (
        charts.memory_by_type(summary.by_encoding.iloc[0:0]),
        charts.top_patterns(present_analysis.patterns.iloc[0:0]),
        charts.pattern_treemap(present_analysis.patterns.iloc[0:0]),
        charts.ttl_buckets(summary.ttl_buckets.iloc[0:0]),
        charts.key_sizes(keys),
        charts.element_counts(keys),
        charts.top_keys(keys),
        charts.savings(present_analysis.recommendations.iloc[0:0]),
        charts.keys_by_type(summary.by_type.iloc[0:0]),
        charts.top_patterns(present_analysis.patterns.iloc[0:0], by="keys"),
        charts.top_keys(keys, by="num_elements"),
        charts.memory_freed_over_time(keys, present_analysis.metadata["snapshot_time_ms"]),
    ):
        assert any(text.get_text().startswith("no ") for ax in fig.axes for text in ax.texts)
        _save(fig, "empty")


def test_chart_shows_itself_in_a_notebook(present_analysis: Any) -> None:
    """A Figure not made by pyplot still has a PNG representation for IPython."""
    png = present_analysis.plot_ttl_buckets()._repr_png_()
    assert png.startswith(b"\x89PNG")


# ---------------------------------------------------------------------------------------------
# the views RedisInsight's Database Analysis has, and labels that fit


def _inside(fig: Figure) -> None:
    """Every text of the figure (titles, ticks, bar labels) lies inside the figure, and every bar
    label inside its axes: nothing is cut at an edge."""
    fig.draw_without_rendering()
    width = fig.bbox.x1
    for ax in fig.axes:
        box = ax.get_window_extent()
        for text in ax.texts:
            if text.get_text() and text.get_visible():
                extent = text.get_window_extent()
                assert extent.x1 <= box.x1 + 0.5, f"{text.get_text()!r} runs past the axes"
        ticks = [*_drawn_ticks(ax.xaxis), *_drawn_ticks(ax.yaxis)] if ax.axison else []
        labels = [ax.title, *ticks]
        for text in labels:
            if text.get_text():
                extent = text.get_window_extent()
                assert extent.x0 >= -0.5 and extent.x1 <= width + 0.5, f"{text.get_text()!r} is cut"


def _drawn_ticks(axis: Any) -> list[Any]:
    """Tick labels inside the view limits (the locator also makes some beyond it that are not drawn)."""
    low, high = sorted(axis.get_view_interval())
    return [t.label1 for t in axis.get_major_ticks() if low - 1e-9 <= t.get_loc() <= high + 1e-9]


def test_keys_by_type_counts_every_key(present_analysis: Any) -> None:
    by_type = present_analysis.summary().by_type
    fig = charts.keys_by_type(by_type)
    ax = fig.axes[0]
    bars = _bars(ax)
    assert sum(b.get_width() for b in bars) == len(present_analysis.keys)
    shown = dict(
        zip((t.get_text() for t in ax.get_yticklabels()), (b.get_width() for b in bars), strict=True)
    )
    assert shown == {str(t): float(k) for t, k in zip(by_type["type"], by_type["keys"], strict=True)}
    assert any(text.get_text().startswith("1 key ·") for text in ax.texts)  # the one stream: singular
    assert not any(" 1 keys" in text.get_text() for text in ax.texts)
    _inside(fig)
    _save(fig, "keys_by_type")


def test_patterns_by_key_count(present_analysis: Any) -> None:
    patterns = present_analysis.patterns
    fig = charts.top_patterns(patterns, n=6, by="keys")
    ax = fig.axes[0]
    expected = patterns.sort_values(["keys", "memory_bytes"], ascending=False).head(6)
    assert [b.get_width() for b in _bars(ax)][::-1] == expected["keys"].astype(float).tolist()
    assert [t.get_text() for t in ax.get_yticklabels()][::-1] == [
        charts.shorten(p, 40) for p in expected["pattern"]
    ]
    assert "by key count" in ax.get_title() and ax.get_xlabel() == "Keys"
    _inside(fig)
    _save(fig, "patterns_by_keys")


def test_top_keys_by_length_are_the_longest_collections(present_analysis: Any) -> None:
    keys = present_analysis.keys
    fig = charts.top_keys(keys, n=5, by="num_elements")
    ax = fig.axes[0]
    collections = keys[keys["type"] != "string"]
    expected = sorted(collections["num_elements"].astype(int), reverse=True)[:5]
    assert [int(b.get_width()) for b in _bars(ax)][::-1] == expected
    assert "tags:all" in {t.get_text().strip() for t in ax.get_yticklabels()}  # 3,000 members
    assert "length" in ax.get_title()
    _inside(fig)
    _save(fig, "top_keys_by_length")


def test_memory_freed_over_time_is_cumulative_from_the_snapshot(present_analysis: Any) -> None:
    keys = present_analysis.keys
    snapshot = present_analysis.metadata["snapshot_time_ms"]
    fig = charts.memory_freed_over_time(keys, snapshot)
    ax = fig.axes[0]
    heights = [b.get_height() for b in _bars(ax)]
    assert heights == sorted(heights), "cumulative: each horizon includes the shorter ones"
    expires = keys["expires_at"].astype("float64")
    for horizon, seconds in [("1 hour", 3600), ("1 day", 86_400), ("1 week", 7 * 86_400)]:
        freed = float(
            keys.loc[expires.notna() & (expires - snapshot <= seconds * 1000), "memory_bytes"].sum()
        )
        position = [t.get_text() for t in ax.get_xticklabels()].index(horizon)
        assert heights[position] == pytest.approx(freed)
    with_ttl = float(keys.loc[expires.notna(), "memory_bytes"].sum())
    assert heights[-1] == pytest.approx(with_ttl)  # "ever": every key with a TTL, none without
    assert 0 < heights[1] < heights[-1]  # the sample's rate limiters expire within the hour
    without = int(expires.isna().sum())
    assert f"{without:,} keys without a TTL" in ax.get_title().replace("\n", " ")
    _unit_label(ax, "y")
    _inside(fig)
    _save(fig, "memory_freed_over_time")
    table = charts.expiry_horizons(keys, None)
    assert table.empty  # no snapshot time: no horizon can be placed


def test_long_labels_and_titles_fit(present_analysis: Any) -> None:
    """Bar labels of 300,000-element keys and long titles are neither cut by the axes nor mid-word."""
    keys = present_analysis.keys
    for fig in (
        charts.top_keys(keys),
        charts.top_keys(keys, by="num_elements"),
        charts.memory_by_type(present_analysis.summary().by_encoding),
        charts.top_patterns(present_analysis.patterns),
        charts.savings(present_analysis.recommendations),
    ):
        _inside(fig)
        for ax in fig.axes:
            title = ax.get_title()
            words = title.split()
            assert all(w == w.strip() for w in words)
            for line in title.splitlines()[:-1]:  # a wrapped title breaks between words only
                assert line and not line.endswith("-"), title


HOSTILE_NAMES = ["a$_$b", "$$", "\x1b[2J", "\x00", "price:$5:$10"]


def test_names_that_look_like_math_or_control_bytes_render() -> None:
    """matplotlib reads text between two $ as math; a key named a$_$b used to fail the whole chart."""
    keys = pd.DataFrame(
        {
            "db": [0] * len(HOSTILE_NAMES),
            "key": HOSTILE_NAMES,
            "type": ["hash"] * len(HOSTILE_NAMES),
            "encoding": ["listpack"] * len(HOSTILE_NAMES),
            "num_elements": [3, 30, 300, 3_000, 300_000],
            "memory_bytes": [100, 1_000, 10_000, 100_000, 1_000_000],
        }
    )
    patterns = pd.DataFrame({"pattern": HOSTILE_NAMES, "keys": [1] * 5, "memory_bytes": keys["memory_bytes"]})
    for fig in (
        charts.top_keys(keys),
        charts.top_keys(keys, by="num_elements"),
        charts.top_patterns(patterns),
        charts.top_patterns(patterns, by="keys"),
        charts.pattern_treemap(patterns),
    ):
        assert _save(fig, "hostile-names").startswith(b"\x89PNG")
        texts = [t.get_text() for ax in fig.axes for t in [*ax.get_yticklabels(), *ax.texts]]
        assert not any(ch in text for text in texts for ch in "\x00\x1b")
        _inside(fig)
    labels = [t.get_text() for t in charts.top_keys(keys).axes[0].get_yticklabels()]
    assert "a\\$_\\$b" in labels and '"\\x1b[2J"' in labels


def test_diff_chart_with_math_like_patterns() -> None:
    from types import SimpleNamespace

    from insightkit.present.diff_chart import plot_diff

    result = SimpleNamespace(
        by_pattern=pd.DataFrame(
            {"pattern": ["a$_$b", "$$"], "status": ["new", "changed"], "memory_delta_bytes": [2048, -1024]}
        ),
        ttl_mix=pd.DataFrame({"bucket": ["no ttl"], "share_a": [1.0], "share_b": [1.0]}),
        totals={"memory_delta_bytes": 1024},
    )
    fig = plot_diff(result)
    assert _save(fig, "diff-hostile").startswith(b"\x89PNG")
    assert "a\\$_\\$b (new)" in [t.get_text() for t in fig.axes[0].get_yticklabels()]


def test_top_keys_of_leaders_name_the_whole_pool_and_ties_go_to_the_larger_key() -> None:
    """An out-of-core report hands the chart only the leading rows: ``among`` names how many keys they
    lead. By length, equal lengths go to the larger key, in the chart and in ``Analysis.top`` alike."""
    from insightkit.analysis import Analysis
    from insightkit.present import charts

    rows = pd.DataFrame(
        {
            "db": [0, 0, 0],
            "key": ["a", "b", "s"],
            "type": ["list", "list", "string"],
            "encoding": ["quicklist", "quicklist", "raw"],
            "num_elements": [5, 5, 1],
            "memory_bytes": [100, 200, 1000],
        }
    )
    fig = charts.top_keys(rows, n=2, among=20_000_000)
    assert fig.axes[0].get_title() == "Top 2 of 20,000,000 keys by memory"
    fig = charts.top_keys(rows, n=1, by="num_elements", among=7)
    assert fig.axes[0].get_title() == "Top 1 of 7 collections by length (elements)"
    assert charts.largest_keys(rows, 1, "num_elements")["key"].tolist() == ["b"]
    analysis = Analysis(rows, {"method": "file"})
    assert analysis.top(1, by="num_elements", collections=True)["key"].tolist() == ["b"]


def test_histogram_tick_labels_read_as_sizes_and_whole_counts() -> None:
    """Sizes within one decade: no minor-tick label (``6×10¹``) among the byte labels; three
    collections: key counts ticked at whole numbers only (not 0, 0, 1, 1, 2 …)."""
    from insightkit.present import charts

    strings = pd.DataFrame(
        {"type": ["string"] * 6, "memory_bytes": [56, 64, 72, 80, 96, 120], "num_elements": [1] * 6}
    )
    fig = charts.key_sizes(strings)
    fig.canvas.draw()
    for ax in fig.axes:
        assert all(not t.get_text() for t in ax.xaxis.get_minorticklabels())
    few = pd.DataFrame(
        {"type": ["hash", "list", "set"], "memory_bytes": [500, 900, 4000], "num_elements": [3, 40, 700]}
    )
    fig = charts.element_counts(few)
    fig.canvas.draw()
    counts = [t.get_text() for t in fig.axes[0].yaxis.get_majorticklabels() if t.get_text()]
    assert counts and len(counts) == len(set(counts)), counts
