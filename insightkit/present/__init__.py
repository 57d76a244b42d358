"""Presentation: matplotlib charts, the ipywidgets explorer and the HTML report.

Only ``Analysis``' thin methods import this package (lazily); computation never does. Entry points:

- ``plot(analysis, name, **options) -> Figure`` with ``name`` one of ``PLOTS``; ``Analysis.plot_<name>()``
  delegates here;
- ``explore(analysis) -> Explorer`` (an ipywidgets widget);
- ``to_html(analysis, path) -> Path`` (one self-contained HTML file).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from insightkit.present.source import AnalysisLike, SummaryLike

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from insightkit.present.explorer import Explorer

__all__ = ["PLOTS", "AnalysisLike", "SummaryLike", "explore", "plot", "to_html"]


def _plots() -> dict[str, Callable[..., Figure]]:
    from insightkit.present import charts

    return {
        "memory_by_type": lambda a, **o: charts.memory_by_type(a.summary().by_encoding, **o),
        "top_patterns": lambda a, **o: charts.top_patterns(a.patterns, **o),
        "pattern_treemap": lambda a, **o: charts.pattern_treemap(a.patterns, **o),
        "ttl_buckets": lambda a, **o: charts.ttl_buckets(a.summary().ttl_buckets, **o),
        "element_counts": lambda a, **o: charts.element_counts(a.keys, **o),
        "key_sizes": lambda a, **o: charts.key_sizes(a.keys, **o),
        "top_keys": lambda a, **o: charts.top_keys(a.keys, **o),
        "savings": lambda a, **o: charts.savings(a.recommendations, **o),
    }


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


def plot(analysis: AnalysisLike, name: str, **options: Any) -> Figure:
    """Draw chart ``name`` (one of ``PLOTS``) from the table of ``analysis`` it shows."""
    plots = _plots()
    if name not in plots:
        raise ValueError(f"unknown plot {name!r}; choose one of {', '.join(PLOTS)}")
    return plots[name](analysis, **options)


def explore(analysis: AnalysisLike, **options: Any) -> Explorer:
    """An ipywidgets explorer of ``analysis`` (display it in a notebook)."""
    from insightkit.present.explorer import Explorer

    return Explorer(analysis, **options)


def to_html(analysis: AnalysisLike, path: str | Path, **options: Any) -> Path:
    """Write the self-contained HTML report of ``analysis`` to ``path``."""
    from insightkit.present import html

    return html.to_html(analysis, path, **options)
