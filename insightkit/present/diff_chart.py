"""The diff as a picture: memory delta by pattern (growth right, shrinkage left) and the TTL mix shift.

Draws ``DiffResult.by_pattern`` and ``DiffResult.ttl_mix`` as they are; like charts.py it never
aggregates, so the chart cannot disagree with the tables ``insightkit diff`` prints.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from insightkit.present.charts import TTL_COLORS, Chart, set_title
from insightkit.present.units import chart_text, human_bytes, unit_for

GROWTH_COLOR = "#D62728"  # more memory: the thing to look at
SHRINK_COLOR = "#2CA02C"
STATUS_MARKS = {"new": " (new)", "vanished": " (vanished)"}


def _label(pattern: str, status: str, width: int = 38) -> str:
    """A pattern as a tick label: escaped, clipped, ``$`` literal (``a$_$b`` is not math)."""
    return chart_text(pattern, width) + STATUS_MARKS.get(status, "")


def plot_diff(result: Any, *, top: int = 15, width: float = 11.0) -> Figure:
    """Two panels: the ``top`` patterns by absolute memory delta, and memory share per TTL bucket."""
    moved = result.by_pattern[result.by_pattern["memory_delta_bytes"] != 0].head(top)
    height = max(3.5, 0.35 * len(moved) + 1.8)
    fig = Chart(figsize=(width, height), layout="constrained", dpi=100)
    ax_patterns, ax_ttl = fig.subplots(1, 2, width_ratios=[3, 2])

    deltas = moved["memory_delta_bytes"].to_numpy(dtype="float64")[::-1]
    labels = [_label(str(p), str(s)) for p, s in zip(moved["pattern"], moved["status"], strict=True)][::-1]
    unit, divisor = unit_for(float(np.abs(deltas).max()) if len(deltas) else 0.0)
    positions = np.arange(len(deltas))
    colors = [GROWTH_COLOR if d > 0 else SHRINK_COLOR for d in deltas]
    ax_patterns.barh(positions, deltas / divisor, color=colors)
    ax_patterns.set_yticks(positions, labels)
    ax_patterns.axvline(0, color="#333333", linewidth=0.8)
    ax_patterns.set_xlabel(f"memory change ({unit})")
    total = result.totals.get("memory_delta_bytes", 0)
    sign = "+" if total > 0 else ""
    set_title(ax_patterns, f"Memory change by pattern (total {sign}{human_bytes(total)})")
    if not len(deltas):
        ax_patterns.text(
            0.5, 0.5, "no pattern changed size", ha="center", va="center", transform=ax_patterns.transAxes
        )
    for pos, delta in zip(positions, deltas, strict=True):
        text = ("+" if delta > 0 else "") + human_bytes(delta)
        ax_patterns.annotate(
            text,
            (delta / divisor, pos),
            xytext=(3 if delta > 0 else -3, 0),
            textcoords="offset points",
            va="center",
            ha="left" if delta > 0 else "right",
            fontsize=8,
        )
    ax_patterns.margins(x=0.25)

    ttl = result.ttl_mix
    sides = ["old", "new"]
    left = np.zeros(2)
    for _, row in ttl.iterrows():
        shares = np.array([row["share_a"], row["share_b"]], dtype="float64") * 100
        if not shares.any():
            continue
        ax_ttl.barh(
            sides,
            shares,
            left=left,
            color=TTL_COLORS.get(str(row["bucket"]), "#9D9D9D"),
            label=str(row["bucket"]),
        )
        left += shares
    ax_ttl.set_xlim(0, 100)
    ax_ttl.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}%"))
    ax_ttl.invert_yaxis()
    set_title(ax_ttl, "Memory share by time to live")
    ax_ttl.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=4, fontsize=8, frameon=False)
    return fig
