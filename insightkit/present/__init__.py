"""Presentation: matplotlib charts, the ipywidgets explorer and the HTML report.

Only ``Analysis``' thin methods import this package (lazily); computation never does. Entry points:

- ``plot_<name>(analysis, **options) -> Figure`` for each ``name`` in ``PLOTS`` (``Analysis.plot_<name>()``
  delegates here), and ``plot(analysis, name, **options)``;
- ``explore(analysis) -> Explorer`` (an ipywidgets widget);
- ``to_html(analysis, path) -> Path`` (one self-contained HTML file);
- ``styled(frame)``: any insightkit table shown with human units, its numbers untouched;
  ``expiry_timestamps(keys["expires_at"])``: expiries as ``timestamp[ms, UTC]``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from insightkit.present.source import AnalysisLike, SummaryLike
from insightkit.present.tables import HumanTable, expiry_timestamps, styled

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from insightkit.present.explorer import Explorer

__all__ = [
    "PLOTS",
    "AnalysisLike",
    "HumanTable",
    "SummaryLike",
    "expiry_timestamps",
    "explore",
    "plot",
    "plot_element_counts",
    "plot_key_sizes",
    "plot_memory_by_type",
    "plot_pattern_treemap",
    "plot_savings",
    "plot_top_keys",
    "plot_top_patterns",
    "plot_ttl_buckets",
    "styled",
    "to_html",
]


PLOTS: tuple[str, ...] = (
    "memory_by_type",
    "top_patterns",
    "pattern_treemap",
    "ttl_buckets",
    "element_counts",
    "key_sizes",
    "top_keys",
    "savings",
)


def plot_memory_by_type(analysis: AnalysisLike, **options: Any) -> Figure:
    """Memory per type, split by encoding."""
    from insightkit.present import charts

    return charts.memory_by_type(analysis.summary().by_encoding, **options)


def plot_top_patterns(analysis: AnalysisLike, **options: Any) -> Figure:
    """The patterns holding the most memory (``n=15``)."""
    from insightkit.present import charts

    return charts.top_patterns(analysis.patterns, **options)


def plot_pattern_treemap(analysis: AnalysisLike, **options: Any) -> Figure:
    """Patterns as areas proportional to memory (``n=30``, the rest merged)."""
    from insightkit.present import charts

    return charts.pattern_treemap(analysis.patterns, **options)


def plot_ttl_buckets(analysis: AnalysisLike, **options: Any) -> Figure:
    """Memory by time-to-live bucket."""
    from insightkit.present import charts

    return charts.ttl_buckets(analysis.summary().ttl_buckets, **options)


def plot_element_counts(analysis: AnalysisLike) -> Figure:
    """Distribution of collection sizes (log bins), by keys and by memory."""
    from insightkit.present import charts

    return charts.element_counts(analysis.keys)


def plot_key_sizes(analysis: AnalysisLike) -> Figure:
    """Distribution of per-key memory (log bins), by keys and by memory."""
    from insightkit.present import charts

    return charts.key_sizes(analysis.keys)


def plot_top_keys(analysis: AnalysisLike, **options: Any) -> Figure:
    """The largest keys (``n=20``, ``by="memory_bytes"``)."""
    from insightkit.present import charts

    return charts.top_keys(analysis.keys, **options)


def plot_savings(analysis: AnalysisLike, **options: Any) -> Figure:
    """Estimated savings per recommendation (``n=15``)."""
    from insightkit.present import charts

    return charts.savings(analysis.recommendations, **options)


def plot(analysis: AnalysisLike, name: str, **options: Any) -> Figure:
    """Draw chart ``name`` (one of ``PLOTS``); ``Analysis.plot_<name>()`` is the same call."""
    if name not in PLOTS:
        raise ValueError(f"unknown plot {name!r}; choose one of {', '.join(PLOTS)}")
    function: Callable[..., Figure] = globals()[f"plot_{name}"]
    return function(analysis, **options)


def explore(analysis: AnalysisLike, **options: Any) -> Explorer:
    """An ipywidgets explorer of ``analysis`` (display it in a notebook)."""
    from insightkit.present.explorer import Explorer

    return Explorer(analysis, **options)


def to_html(analysis: AnalysisLike, path: str | Path, **options: Any) -> Path:
    """Write the self-contained HTML report of ``analysis`` to ``path``."""
    from insightkit.present import html

    return html.to_html(analysis, path, **options)
