"""Charts drawn from a real analysis: every chart has a title, labelled axes, units, and bars whose
lengths add up to the table they show."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
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
    assert counts_ax.get_xscale() == "log" and counts_ax.get_yscale() == "log"
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
    ):
        assert any(text.get_text().startswith("no ") for ax in fig.axes for text in ax.texts)
        _save(fig, "empty")


def test_chart_shows_itself_in_a_notebook(present_analysis: Any) -> None:
    """A Figure not made by pyplot still has a PNG representation for IPython."""
    png = present_analysis.plot_ttl_buckets()._repr_png_()
    assert png.startswith(b"\x89PNG")
