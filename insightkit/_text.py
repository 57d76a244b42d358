"""Plain-text tables for terminals (Summary.__str__, the CLI), without importing the presentation layer.

Kept apart from insightkit.present on purpose: computation and the CLI must not pull in matplotlib or
ipywidgets just to print a table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd

_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def human_bytes(n: Any) -> str:
    """``1536`` → ``"1.5 KB"`` (powers of 1024, as INFO reports memory)."""
    if n is None or n is pd.NA or (isinstance(n, float) and math.isnan(n)):
        return "–"
    value = float(n)
    sign = "-" if value < 0 else ""
    value = abs(value)
    power = 0 if value < 1024 else min(int(math.log(value, 1024)), len(_UNITS) - 1)
    scaled = value / 1024**power
    if power == 0:
        return f"{sign}{int(scaled)} B"
    digits = 2 if scaled < 10 else 1 if scaled < 100 else 0
    return f"{sign}{scaled:.{digits}f} {_UNITS[power]}"


def human_count(n: Any) -> str:
    if n is None or n is pd.NA or (isinstance(n, float) and math.isnan(n)):
        return "–"
    return f"{int(n):,}"


def percent(x: Any) -> str:
    if x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{100 * float(x):.1f}%"


# Column name → formatter; columns not listed print with str().
FORMATS: dict[str, Callable[[Any], str]] = {
    "keys": human_count,
    "volatile_keys": human_count,
    "num_elements": human_count,
    "share": percent,
}


def epoch_ms(value: Any) -> str:
    """Epoch milliseconds → ``2026-11-24 10:51:07Z`` (UTC)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _formatter(column: str) -> Callable[[Any], str]:
    if column in FORMATS:
        return FORMATS[column]
    if column.endswith("_bytes"):
        return human_bytes
    if column.endswith("_at"):
        return epoch_ms
    return lambda v: "–" if v is None or v is pd.NA else str(v)


def render_table(
    frame: pd.DataFrame,
    *,
    title: str | None = None,
    columns: Sequence[str] | None = None,
    max_width: int = 60,
    formats: Mapping[str, Callable[[Any], str]] | None = None,
) -> str:
    """A fixed-width table: numbers right-aligned, long text cut with an ellipsis."""
    columns = list(columns or frame.columns)
    numeric = {c for c in columns if pd.api.types.is_numeric_dtype(frame[c].dtype)}
    cells: list[list[str]] = [columns]
    for row in frame[columns].itertuples(index=False, name=None):
        line = []
        for column, value in zip(columns, row, strict=True):
            fmt = (formats or {}).get(column) or _formatter(column)
            text = fmt(value)
            if len(text) > max_width:
                text = text[: max_width - 1] + "…"
            line.append(text)
        cells.append(line)
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]

    def fmt_line(line: list[str]) -> str:
        return "  ".join(
            text.rjust(w) if c in numeric else text.ljust(w)
            for text, w, c in zip(line, widths, columns, strict=True)
        ).rstrip()

    out = [title] if title else []
    out.append(fmt_line(cells[0]))
    out.append("  ".join("─" * w for w in widths))
    out.extend(fmt_line(line) for line in cells[1:])
    return "\n".join(out)
