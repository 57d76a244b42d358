"""matplotlib charts of an analysis: each function draws one finished table and returns a Figure.

The tables come from the computation side (``Analysis.summary()``, ``.patterns``, ``.keys``,
``.recommendations``); nothing here aggregates beyond binning for a histogram, so a chart can never
disagree with the table it shows. Figures are built with ``matplotlib.figure.Figure`` rather than
pyplot, so they are not registered with a GUI backend: a notebook shows the returned Figure once,
a script can ``fig.savefig("x.png")``, and nothing leaks between calls.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.text import Text
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter

from insightkit.present.units import display_key, human_bytes, human_count, unit_for

TYPE_COLORS = {
    "string": "#4C78A8",
    "hash": "#F58518",
    "list": "#54A24B",
    "set": "#E45756",
    "zset": "#72B7B2",
    "stream": "#B279A2",
    "array": "#FF9DA6",
    "gcra": "#9D755D",
}
OTHER_COLOR = "#9D9D9D"
SEVERITY_COLORS = {"high": "#D62728", "medium": "#FF7F0E", "low": "#1F77B4", "info": "#7F7F7F"}
TTL_COLORS = {
    "no ttl": "#9D9D9D",
    "expired": "#D62728",
    "< 1h": "#FDD0A2",
    "1h–1d": "#FDAE6B",
    "1d–7d": "#FD8D3C",
    "7d–30d": "#E6550D",
    "> 30d": "#A63603",
}
# Fixed colours for the encodings every server uses, so two reports read the same at a glance.
ENCODING_COLORS = {
    "raw": "#4C78A8",
    "embstr": "#9ECAE9",
    "int": "#1F3B73",
    "listpack": "#54A24B",
    "ziplist": "#88D27A",
    "intset": "#B279A2",
    "hashtable": "#E45756",
    "skiplist": "#F58518",
    "quicklist": "#EECA3B",
    "linkedlist": "#FFBF79",
    "stream": "#72B7B2",
    "sliced-array": "#FF9DA6",
    "template-listpack": "#3E8E3A",
    "template-array": "#A84A48",
}
_ENCODING_CYCLE = [
    "#4C78A8",
    "#F58518",
    "#54A24B",
    "#E45756",
    "#72B7B2",
    "#B279A2",
    "#EECA3B",
    "#FF9DA6",
    "#9D755D",
    "#BAB0AC",
]


class Chart(Figure):
    """A Figure that shows itself in a notebook (as PNG) without pyplot.

    A bare ``Figure`` only gets an image representation once pyplot's inline backend has been set
    up in the kernel; this one always has one, and is still a Figure for ``savefig`` and tests.
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


def type_color(type_name: str) -> str:
    return TYPE_COLORS.get(type_name, OTHER_COLOR)


def _figure(width: float = 9.0, height: float = 5.0) -> tuple[Figure, Axes]:
    fig = Chart(figsize=(width, height), layout="constrained", dpi=100)
    return fig, fig.add_subplot()


def _target(ax: Axes | None, width: float, height: float) -> tuple[Figure, Axes]:
    if ax is None:
        return _figure(width, height)
    fig = ax.get_figure()
    assert isinstance(fig, Figure)
    return fig, ax


class _UnitLocator(MaxNLocator):
    """Round ticks in the axis' unit (0, 2, 4 MiB), not in bytes (0, 2.38, 4.77 MB)."""

    def __init__(self, divisor: float) -> None:
        super().__init__(nbins="auto", steps=[1, 2, 2.5, 5, 10])
        self.divisor = divisor

    def tick_values(self, vmin: float, vmax: float) -> Sequence[float]:
        ticks = super().tick_values(vmin / self.divisor, vmax / self.divisor)
        return [float(t) * self.divisor for t in ticks]


def _bytes_axis(ax: Axes, max_bytes: float, axis: str = "x", label: str = "Memory") -> None:
    """Scale one axis to a single unit so ticks read 0, 5, 10 … MiB, and say so in the label."""
    unit, divisor = unit_for(max_bytes)
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(_UnitLocator(divisor))
    target.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value / divisor:,.4g}"))
    target.set_label_text(f"{label} ({unit})")


def _log_bytes_axis(ax: Axes, low: float, high: float) -> None:
    """Log axis of sizes with ticks at powers of 4 or 16 bytes: 64 B, 1 KiB, 16 KiB, 256 KiB …"""
    for step in (4, 16, 64, 1024):
        ticks = [step**k for k in range(0, 16) if low / step <= step**k <= high * step]
        if len(ticks) <= 7:
            break
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(_round_bytes))
    # a span under a decade makes matplotlib label its minor ticks too (6×10¹), over the byte labels
    ax.xaxis.set_minor_formatter(NullFormatter())


def _round_bytes(value: float, _pos: object = None) -> str:
    unit, divisor = unit_for(value)
    return f"{value / divisor:g} {unit}"


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#555555")
    ax.set_xticks([])
    ax.set_yticks([])


def shorten(text: object, width: int = 48) -> str:
    """A key or pattern name fit for a matplotlib label.

    Escaped like redis-cli shows it (no control bytes reach the image), the middle cut out of a long
    name so both its namespace and its tail stay visible, and ``$`` made literal: matplotlib reads the
    text between two ``$`` as math, and ``a$_$b`` would fail to render the whole chart.
    """
    shown = display_key(text)
    if len(shown) > width:
        keep = (width - 1) // 2
        shown = f"{shown[:keep]}…{shown[-(width - 1 - keep) :]}"
    return shown.replace("$", r"\$")


def plural(n: Any, word: str, words: str | None = None) -> str:
    """``1 key``, ``2 keys``, ``1,234 keys``: the count and the noun that agrees with it."""
    count = 0 if n is None or pd.isna(n) else int(n)
    return f"{human_count(count)} {word if count == 1 else (words or word + 's')}"


def set_title(ax: Axes, text: str, *, fontsize: float | None = None) -> None:
    """An axes title wrapped at word boundaries to the axes' width, so it is never cut mid-word."""
    fig = ax.get_figure()
    inches = float(fig.get_figwidth()) * ax.get_position().width if isinstance(fig, Figure) else 9.0
    size = fontsize or 12.0
    chars = max(20, int(inches * 72 / (size * 0.55)))  # ~0.55 em per character of the default font
    ax.set_title(textwrap.fill(text, chars, break_long_words=False), fontsize=fontsize)


def _suptitle(fig: Figure, text: str) -> None:
    """A figure title wrapped at word boundaries to the figure's width."""
    chars = max(20, int(float(fig.get_figwidth()) * 72 / (12 * 0.55)))
    fig.suptitle(textwrap.fill(text, chars, break_long_words=False))


def _bar_labels(ax: Axes, values: Sequence[float], labels: Sequence[str]) -> None:
    """Text just after the end of each horizontal bar; the x limit grows until every label fits inside.

    The room a label needs is measured on the rendered figure (not guessed from its length), so a long
    label is never cut by the axes' edge.
    """
    top = max(values) if len(values) else 0
    if not top:
        return
    texts = [
        ax.text(value + top * 0.01, y, text, va="center", fontsize=8, color="#333333")
        for y, (value, text) in enumerate(zip(values, labels, strict=True))
    ]
    _fit_texts(ax, texts, top)


def _fit_texts(ax: Axes, texts: Sequence[Text], top: float) -> None:
    """Widen the x axis so the right edge of every text stays inside the axes."""
    fig = ax.get_figure()
    assert isinstance(fig, Figure)
    limit = top * 1.05
    ax.set_xlim(0, limit)
    for _ in range(4):  # widening shrinks the data scale, which lengthens a label in data units
        fig.draw_without_rendering()  # runs the constrained layout: the axes' final size
        inverse = ax.transData.inverted()
        right = max(inverse.transform((t.get_window_extent().x1, 0))[0] for t in texts)
        if right <= limit:
            break
        limit = right * 1.04
        ax.set_xlim(0, limit)


# ---------------------------------------------------------------------------------------------
# memory by type and encoding


def memory_by_type(by_encoding: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Horizontal bars, one per type, split into its encodings (``Summary.by_encoding``)."""
    fig, ax = _target(ax, 9, 0.8 + 0.5 * max(1, by_encoding["type"].nunique() if len(by_encoding) else 1))
    set_title(ax, "Memory by type and encoding")
    if by_encoding.empty or float(by_encoding["memory_bytes"].sum()) == 0:
        _empty(ax, "no keys")
        return fig
    table = by_encoding.assign(memory_bytes=by_encoding["memory_bytes"].astype("float64"))
    per_type = table.groupby("type", sort=False)["memory_bytes"].sum().sort_values()
    total = float(per_type.sum())
    encodings = list(table.groupby("encoding")["memory_bytes"].sum().sort_values(ascending=False).index)
    colors = {
        enc: ENCODING_COLORS.get(str(enc), _ENCODING_CYCLE[i % len(_ENCODING_CYCLE)])
        for i, enc in enumerate(encodings)
    }
    types = list(per_type.index)
    left = np.zeros(len(types))
    for encoding in encodings:
        part = table[table["encoding"] == encoding].set_index("type")["memory_bytes"]
        widths = np.array([float(part.get(t, 0.0)) for t in types])
        if not widths.any():
            continue
        ax.barh(types, widths, left=left, color=colors[encoding], label=encoding, edgecolor="white")
        left += widths
    keys = {str(t): int(k) for t, k in table.groupby("type")["keys"].sum().items()}
    _bar_labels(
        ax,
        list(per_type.values),
        [f"{human_bytes(v)} · {v / total:.0%} · {plural(keys[str(t)], 'key')}" for t, v in per_type.items()],
    )
    _bytes_axis(ax, float(per_type.max()))
    ax.legend(
        title="encoding",
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        fontsize=8,
        title_fontsize=8,
        frameon=False,
    )
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return fig


# ---------------------------------------------------------------------------------------------
# patterns


def top_patterns(
    patterns: pd.DataFrame, *, n: int = 15, by: str = "memory_bytes", ax: Axes | None = None
) -> Figure:
    """The ``n`` patterns (namespaces) holding the most memory, or the most keys with ``by="keys"``.

    Bars labelled with size, share and key count; ``by="keys"`` is RedisInsight's "namespaces by
    number of keys" view, which finds the families that are many small keys rather than few big ones.
    """
    fig, ax = _target(ax, 9, 1.0 + 0.35 * max(1, min(n, len(patterns))))
    what = "memory" if by == "memory_bytes" else "key count"
    if patterns.empty:  # an empty snapshot (a new server, an empty db): no patterns to rank
        set_title(ax, f"Top patterns by {what}")
        _empty(ax, "no patterns")
        return fig
    ranked = patterns.sort_values([by, "memory_bytes"], ascending=False)
    shown = ranked.head(n).iloc[::-1]
    total = float(ranked[by].sum())
    if shown.empty or total == 0:
        set_title(ax, f"Top patterns by {what}")
        _empty(ax, "no patterns")
        return fig
    values = shown[by].astype("float64").to_numpy()
    positions = np.arange(len(shown))  # distinct positions: two patterns may shorten to the same text
    ax.barh(positions, values, color="#4C78A8" if by == "memory_bytes" else "#54A24B")
    ax.set_yticks(positions, [shorten(p, 40) for p in shown["pattern"]])
    if by == "memory_bytes":
        labels = [
            f"{human_bytes(v)} · {v / total:.1%} · {plural(k, 'key')}"
            for v, k in zip(values, shown["keys"], strict=True)
        ]
    else:
        labels = [
            f"{plural(v, 'key')} · {v / total:.1%} · {human_bytes(m)}"
            for v, m in zip(values, shown["memory_bytes"], strict=True)
        ]
    _bar_labels(ax, list(values), labels)
    covered = float(shown[by].sum()) / total
    of = human_bytes(total) if by == "memory_bytes" else plural(total, "key")
    set_title(ax, f"Top {len(shown)} of {len(ranked)} patterns by {what} ({covered:.0%} of {of})")
    if by == "memory_bytes":
        _bytes_axis(ax, float(values.max()))
    else:
        ax.set_xlabel("Keys")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:,.0f}"))
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return fig


def pattern_treemap(patterns: pd.DataFrame, *, n: int = 30, ax: Axes | None = None) -> Figure:
    """Patterns as rectangles whose area is their memory; the tail is merged into one "other"."""
    import squarify  # small, pure Python; only this chart needs it

    fig, ax = _target(ax, 10, 6)
    ranked = patterns.sort_values("memory_bytes", ascending=False)
    ranked = ranked[ranked["memory_bytes"] > 0]
    total = float(ranked["memory_bytes"].sum())
    set_title(ax, f"Memory by pattern ({human_bytes(total)} in {plural(len(ranked), 'pattern')})")
    if ranked.empty:
        _empty(ax, "no patterns")
        return fig
    head = ranked.head(n)
    names = [display_key(p) for p in head["pattern"]]
    sizes = [float(v) for v in head["memory_bytes"]]
    rest = ranked.iloc[n:]
    if len(rest):
        names.append(f"({plural(len(rest), 'other pattern')})")
        sizes.append(float(rest["memory_bytes"].sum()))
    width, height = 100.0, 60.0
    rects = squarify.squarify(squarify.normalize_sizes(sizes, width, height), 0, 0, width, height)
    for i, (rect, name, size) in enumerate(zip(rects, names, sizes, strict=True)):
        other = bool(len(rest)) and i == len(names) - 1
        color = OTHER_COLOR if other else _ENCODING_CYCLE[i % len(_ENCODING_CYCLE)]
        ax.add_patch(_rectangle(rect["x"], rect["y"], rect["dx"], rect["dy"], facecolor=color, alpha=0.85))
        area_share = rect["dx"] * rect["dy"] / (width * height)
        if area_share > 0.012:
            small = area_share < 0.05
            # ~1.3 characters of 9 pt text per unit of the 100-unit-wide canvas, ~1.7 at 7 pt.
            chars = max(6, int(rect["dx"] * (1.7 if small else 1.3)))
            label = f"{shorten(name, chars)}\n{human_bytes(size)} · {size / total:.0%}"
            ax.text(
                rect["x"] + rect["dx"] / 2,
                rect["y"] + rect["dy"] / 2,
                label,
                ha="center",
                va="center",
                fontsize=7 if small else 9,
                color="white",
                clip_on=True,
            )
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    return fig


def _rectangle(x: float, y: float, dx: float, dy: float, facecolor: str, alpha: float) -> Rectangle:
    return Rectangle((x, y), dx, dy, linewidth=1.5, edgecolor="white", facecolor=facecolor, alpha=alpha)


# ---------------------------------------------------------------------------------------------
# TTL


def ttl_buckets(buckets: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Memory per TTL bucket (``Summary.ttl_buckets``, in its own order), key counts on the bars."""
    fig, ax = _target(ax, 9, 4.5)
    set_title(ax, "Memory by time to live")
    if buckets.empty or float(buckets["memory_bytes"].sum()) == 0:
        _empty(ax, "no keys")
        return fig
    names = [str(b) for b in buckets["bucket"]]
    values = buckets["memory_bytes"].astype("float64").to_numpy()
    total = float(values.sum())
    bars = ax.bar(names, values, color=[TTL_COLORS.get(b, OTHER_COLOR) for b in names])
    for bar, value, keys in zip(bars, values, buckets["keys"], strict=True):
        ax.annotate(
            f"{human_bytes(value)} · {value / total:.0%}\n{plural(keys, 'key')}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 2),
            textcoords="offset points",
        )
    ax.set_ylim(0, float(values.max()) * 1.25)
    _bytes_axis(ax, float(values.max()), axis="y")
    ax.set_xlabel("Time to live at snapshot time")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return fig


# Cumulative horizons from the snapshot time: what expiry will have freed by then.
EXPIRY_HORIZONS: tuple[tuple[str, float], ...] = (
    ("already expired", 0.0),
    ("1 hour", 3600.0),
    ("1 day", 86_400.0),
    ("1 week", 7 * 86_400.0),
    ("30 days", 30 * 86_400.0),
    ("1 year", 365 * 86_400.0),
    ("ever", float("inf")),
)


def expiry_horizons(keys: pd.DataFrame, snapshot_time_ms: float | None) -> pd.DataFrame:
    """Keys and memory that expiry frees within each horizon of the snapshot time, cumulative.

    ``horizon``, ``seconds``, ``keys``, ``memory_bytes``, ``share`` (of all key memory). A key counts
    once it is past its ``expires_at``; keys without a TTL are never freed, so "ever" is every key
    with a TTL. Without a snapshot time no horizon can be placed and the table is empty.
    """
    columns = ["horizon", "seconds", "keys", "memory_bytes", "share"]
    if snapshot_time_ms is None or pd.isna(snapshot_time_ms) or keys.empty or "expires_at" not in keys:
        return pd.DataFrame(columns=columns)
    expires = keys["expires_at"].astype("float64").to_numpy(na_value=np.nan)
    memory = keys["memory_bytes"].astype("float64").to_numpy()
    left = (expires - float(snapshot_time_ms)) / 1000.0  # seconds to expiry; NaN: no TTL
    total = float(memory.sum())
    rows = []
    for label, seconds in EXPIRY_HORIZONS:
        freed = ~np.isnan(left) & (left <= seconds)
        held = float(memory[freed].sum())
        rows.append((label, seconds, int(freed.sum()), held, held / total if total else 0.0))
    return pd.DataFrame(rows, columns=columns)


def memory_freed_over_time(
    keys: pd.DataFrame, snapshot_time_ms: float | None, *, ax: Axes | None = None
) -> Figure:
    """Cumulative memory expiry frees within 1 hour, 1 day, 1 week … of the snapshot.

    RedisInsight's "memory freed over time" view: whether the TTLs set actually return memory soon,
    or the dataset only grows. Bars are cumulative (each includes the ones before it).
    """
    fig, ax = _target(ax, 9, 4.5)
    table = expiry_horizons(keys, snapshot_time_ms)
    if table.empty or int(table["keys"].iloc[-1]) == 0:
        set_title(ax, "Memory freed by expiry over time")
        _empty(ax, "no snapshot time" if table.empty and not keys.empty else "no keys with a TTL")
        return fig
    total = float(keys["memory_bytes"].astype("float64").sum())
    never = len(keys) - int(table["keys"].iloc[-1])
    set_title(
        ax,
        "Memory freed by expiry, cumulative from the snapshot time "
        f"({plural(never, 'key')} without a TTL never expire)",
    )
    values = table["memory_bytes"].astype("float64").to_numpy()
    bars = ax.bar(list(table["horizon"]), values, color="#E6550D")
    for bar, value, count in zip(bars, values, table["keys"], strict=True):
        ax.annotate(
            f"{human_bytes(value)} · {value / total:.0%}\n{plural(count, 'key')}" if total else "",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 2),
            textcoords="offset points",
        )
    top = float(values.max())
    ax.set_ylim(0, (top or 1.0) * 1.25)
    _bytes_axis(ax, top or 1.0, axis="y", label="Memory freed")
    ax.set_xlabel("Within this long of the snapshot time")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return fig


def keys_by_type(by_type: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """How many keys of each type (``Summary.by_type``), labelled with share of keys and their memory.

    Beside memory by type: a type can be most of the keys and little of the memory, or the reverse.
    """
    fig, ax = _target(ax, 9, 0.9 + 0.45 * max(1, len(by_type)))
    set_title(ax, "Keys by type")
    if by_type.empty or int(by_type["keys"].sum()) == 0:
        _empty(ax, "no keys")
        return fig
    table = by_type.sort_values("keys")
    counts = table["keys"].astype("float64").to_numpy()
    total = float(counts.sum())
    positions = np.arange(len(table))
    ax.barh(positions, counts, color=[type_color(str(t)) for t in table["type"]])
    ax.set_yticks(positions, [str(t) for t in table["type"]])
    _bar_labels(
        ax,
        list(counts),
        [
            f"{plural(c, 'key')} · {c / total:.1%} · {human_bytes(m)}"
            for c, m in zip(counts, table["memory_bytes"], strict=True)
        ],
    )
    ax.set_xlabel("Keys")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:,.0f}"))
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return fig


# ---------------------------------------------------------------------------------------------
# distributions


def _log_bins(values: np.ndarray) -> np.ndarray:
    """Log-spaced edges at half-integers from the smallest to the largest value, so every integer
    lands in exactly one bin and the axis starts where the data does."""
    low = max(float(values.min()), 1.0)
    high = max(float(values.max()), low + 1.0)
    num = max(2, min(40, int(np.log2(high / low)) * 3 + 2))
    points = np.logspace(np.log10(low), np.log10(high + 1), num=num)
    return np.unique(np.concatenate([[np.floor(low)], np.floor(points), [np.floor(high) + 1]])) - 0.5


def _stacked_histograms(
    fig: Figure, keys: pd.DataFrame, column: str, what: str, unit_is_bytes: bool
) -> tuple[Axes, Axes]:
    """Two panels over the same log bins: how many keys, and how much memory they hold.

    Both panels have linear y axes: bars stacked by type only add up honestly on a linear scale (on a
    log scale the upper segments' heights mean nothing). Each bin's total is written above its bar, so
    a bin of a handful of keys beside one of thousands is still readable.
    """
    left, right = fig.subplots(1, 2)
    values = keys[column].astype("float64").clip(lower=1).to_numpy()
    bins = _log_bins(values)
    groups = [(t, g) for t, g in keys.groupby("type", sort=True)]
    data = [g[column].astype("float64").clip(lower=1).to_numpy() for _, g in groups]
    weights = [g["memory_bytes"].astype("float64").to_numpy() for _, g in groups]
    colors = [type_color(str(t)) for t, _ in groups]
    labels = [str(t) for t, _ in groups]
    left.hist(data, bins=bins, stacked=True, color=colors, label=labels)
    right.hist(data, bins=bins, weights=weights, stacked=True, color=colors, label=labels)
    per_bin, _ = np.histogram(values, bins=bins)
    bytes_per_bin, _ = np.histogram(values, bins=bins, weights=keys["memory_bytes"].astype("float64"))
    centres = np.sqrt(np.clip(bins[:-1], 0.5, None) * bins[1:])
    for x, count in zip(centres, per_bin, strict=True):
        if count:
            left.annotate(
                human_count(count),
                (x, count),
                ha="center",
                va="bottom",
                rotation=90,  # upright, narrow bins' counts ran into each other ("1,005952")
                fontsize=6.5,
                xytext=(0, 2),
                textcoords="offset points",
            )
    left.set_ylim(0, float(per_bin.max()) * 1.35)  # room above the tallest bar for its upright count
    right.set_ylim(0, float(bytes_per_bin.max()) * 1.05)
    for ax in (left, right):
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
        ax.set_axisbelow(True)
        if unit_is_bytes:
            _log_bytes_axis(ax, float(values.min()), float(values.max()))
        else:  # 1, 10, 100, 1,000 rather than 10⁰, 10¹ …
            ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:,.0f}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(what)
    left.set_ylabel("Keys")
    left.yaxis.set_major_locator(MaxNLocator(integer=True))  # a count: no tick at 0.5 shown as "0"
    left.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:,.0f}"))
    set_title(left, "How many keys")
    _bytes_axis(right, float(bytes_per_bin.max()), axis="y")
    set_title(right, "How much memory they hold")
    right.legend(title="type", fontsize=8, title_fontsize=8, frameon=False)
    return left, right


def element_counts(keys: pd.DataFrame) -> Figure:
    """Distribution of element counts of collections (log bins): keys, and memory they hold."""
    fig = Chart(figsize=(11, 4.5), layout="constrained", dpi=100)
    collections = keys[keys["type"] != "string"]
    if collections.empty:
        ax = fig.add_subplot()
        set_title(ax, "Elements per collection")
        _empty(ax, "no collections (hashes, lists, sets, sorted sets, streams)")
        return fig
    _stacked_histograms(fig, collections, "num_elements", "Elements per key (log scale)", False)
    _suptitle(fig, f"Elements per collection ({plural(len(collections), 'key')})")
    return fig


def key_sizes(keys: pd.DataFrame) -> Figure:
    """Distribution of per-key memory (log bins): where the keys are, and where the bytes are."""
    fig = Chart(figsize=(11, 4.5), layout="constrained", dpi=100)
    if keys.empty:
        ax = fig.add_subplot()
        set_title(ax, "Key sizes")
        _empty(ax, "no keys")
        return fig
    _stacked_histograms(fig, keys, "memory_bytes", "Memory per key (log scale)", True)
    _suptitle(
        fig, f"Key sizes ({plural(len(keys), 'key')}, {human_bytes(float(keys['memory_bytes'].sum()))})"
    )
    return fig


# ---------------------------------------------------------------------------------------------
# keys and recommendations


def largest_keys(keys: pd.DataFrame, n: int, by: str = "memory_bytes") -> pd.DataFrame:
    """The ``n`` keys ranking highest by ``by``; by length (``num_elements``) only collections count,
    since a string's length is not a number of elements. Ties go to the larger key, then by (db, key)
    as ``Analysis.top`` orders them (so a report reads the same in memory and out of core)."""
    pool = keys[keys["type"] != "string"] if by == "num_elements" else keys
    order = [by] if by == "memory_bytes" else [by, "memory_bytes"]
    names = [c for c in ("db", "key") if c in pool.columns]
    ascending = [False] * len(order) + [True] * len(names)
    return pool.sort_values([*order, *names], ascending=ascending, kind="stable").head(n)


def top_keys(
    keys: pd.DataFrame,
    *,
    n: int = 20,
    by: str = "memory_bytes",
    ax: Axes | None = None,
    among: int | None = None,
) -> Figure:
    """The ``n`` largest keys, coloured by type, labelled with encoding and element count.

    ``by="num_elements"`` ranks by length (elements of a collection), RedisInsight's "top keys by
    length": the keys whose O(N) commands block the server, whatever memory they hold. ``among``: how
    many keys (collections, by length) they were ranked among, when ``keys`` holds only the leaders
    (an out-of-core report); by default ``keys`` is all of them.
    """
    fig, ax = _target(ax, 10, 1.0 + 0.33 * max(1, min(n, len(keys))))
    shown = largest_keys(keys, n, by).iloc[::-1]
    what = {"memory_bytes": "memory", "num_elements": "length (elements)"}.get(by, by)
    if by == "num_elements":  # ranked among collections only, as the table beside it counts them
        count = among if among is not None else int((keys["type"] != "string").sum()) if len(keys) else 0
        pool = plural(count, "collection")
    else:
        pool = plural(among if among is not None else len(keys), "key")
    set_title(ax, f"Top {len(shown)} of {pool} by {what}")
    if shown.empty:
        _empty(ax, "no keys")
        return fig
    values = shown[by].astype("float64").to_numpy()
    names = [
        f"{shorten(k, 44)}" + (f"  [db{d}]" if d else "")
        for k, d in zip(shown["key"], shown["db"], strict=True)
    ]
    # Distinct tick positions: two keys may shorten to the same text.
    positions = np.arange(len(shown))
    ax.barh(positions, values, color=[type_color(str(t)) for t in shown["type"]])
    ax.set_yticks(positions, names, fontsize=8)
    _bar_labels(
        ax,
        list(values),
        [
            (
                f"{human_bytes(v)} · {t} {e} · {plural(c, 'element')}"
                if by.endswith("bytes")
                else f"{plural(v, 'element')} · {t} {e} · {human_bytes(m)}"
            )
            for v, t, e, c, m in zip(
                values,
                shown["type"],
                shown["encoding"],
                shown["num_elements"],
                shown["memory_bytes"],
                strict=True,
            )
        ],
    )
    if by.endswith("bytes"):
        _bytes_axis(ax, float(values.max()))
    else:
        ax.set_xlabel("Elements" if by == "num_elements" else by)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:,.0f}"))
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return fig


def savings(recommendations: pd.DataFrame, *, n: int = 15, ax: Axes | None = None) -> Figure:
    """Estimated bytes each recommendation would save, coloured by severity."""
    rows = recommendations[recommendations["estimated_savings_bytes"].fillna(0) > 0]
    fig, ax = _target(ax, 10, 1.0 + 0.38 * max(1, min(n, len(rows))))
    shown = rows.sort_values("estimated_savings_bytes", ascending=False).head(n).iloc[::-1]
    counted = (
        "counted_savings_bytes" if "counted_savings_bytes" in rows.columns else "estimated_savings_bytes"
    )
    inside = rows["frees"] != "rss" if "frees" in rows.columns else rows[counted] >= 0
    total = float(rows.loc[inside, counted].sum())
    set_title(
        ax,
        f"Estimated savings: {len(rows)} of {plural(len(recommendations), 'recommendation')} save "
        f"memory ({human_bytes(total)} with every key counted once; bars: each fix alone)",
    )
    if shown.empty:
        _empty(ax, "no recommendation saves memory")
        return fig
    values = shown["estimated_savings_bytes"].astype("float64").to_numpy()
    positions = np.arange(len(shown))
    ax.barh(positions, values, color=[SEVERITY_COLORS.get(str(s), OTHER_COLOR) for s in shown["severity"]])
    ax.set_yticks(
        positions,
        [shorten(f"{r}: {t}", 56) for r, t in zip(shown["rule"], shown["title"], strict=True)],
        fontsize=8,
    )
    _bar_labels(
        ax,
        list(values),
        [
            f"{human_bytes(v)} · {plural(k, 'key')}" if k else human_bytes(v)  # RSS findings name no key
            for v, k in zip(values, shown["offending_keys"].fillna(0), strict=True)
        ],
    )
    _bytes_axis(ax, float(values.max()), label="Estimated savings")
    handles = [
        _patch(color, severity)
        for severity, color in SEVERITY_COLORS.items()
        if severity in set(shown["severity"].astype(str))
    ]
    ax.legend(
        handles=handles,
        title="severity",
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        fontsize=8,
        title_fontsize=8,
        frameon=False,
    )
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return fig


def _patch(color: str, label: str) -> Patch:
    return Patch(color=color, label=label)
