"""Result tables for people: human units in the rendering, numbers left as numbers in the data.

``styled(frame)`` wraps any insightkit table (keys, summary, patterns, recommendations) so a notebook
shows ``2.07 MiB``, ``89.0%``, ``12,345`` and UTC times where the DataFrame holds ``2170043``,
``0.889577``, ``12345`` and epoch milliseconds; ``.data`` is the untouched frame. The explorer renders
its tables with the same cells. No jinja2 (pandas' Styler needs it, insightkit does not ship it), and
every cell is escaped: key names are data the application wrote.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from insightkit._text import MAX_CALENDAR_MS, MIN_CALENDAR_MS
from insightkit.present.units import clip, display_key, epoch_ms, html_key, human_bytes, human_count, percent

NAME_COLUMNS = frozenset({"key", "pattern"})  # key names: escaped like redis-cli, clipped, full on hover
LIST_COLUMNS = frozenset({"examples", "top_patterns"})  # lists of key names or patterns
PROSE_COLUMNS = frozenset({"fix", "description", "detail"})  # several lines: shown with their breaks
NAME_WIDTH = 60  # characters of a key name or pattern shown before "…"
TEXT_WIDTH = 80
MAX_ROWS = 60  # like pandas' display.max_rows: a whole key table is not a notebook output

#: One table style for notebooks and the explorer. Cells never wrap (a type or a pattern broken
#: mid-word reads as two values); long names are clipped with "…" and carry the full name as a title;
#: only prose (a fix, a description) wraps, at its own line breaks and spaces.
TABLE_CSS = (  # selectors specific enough to win over a notebook's own table rules
    "table.ik-table{border-collapse:collapse;font-size:12px;width:auto;table-layout:auto}"
    "table.ik-table th,table.ik-table td{border-bottom:1px solid #ddd;padding:2px 8px;text-align:left;"
    "vertical-align:top;white-space:nowrap;word-break:keep-all;overflow-wrap:normal}"
    "table.ik-table td.num,table.ik-table th.num{text-align:right;font-variant-numeric:tabular-nums}"
    "table.ik-table th{background:#f3f3f3}"
    "table.ik-table td.name{max-width:42em;overflow:hidden;text-overflow:ellipsis}"
    "table.ik-table td.prose{white-space:pre-wrap;min-width:24em;max-width:60em;overflow-wrap:break-word}"
)
STYLE = f"<style>{TABLE_CSS}</style>"

Cell = tuple[str, str, str]  # (inner HTML, css class, title)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _clipped(text: str, width: int, css: str) -> Cell:
    """Escaped ``text`` cut to ``width``, with the whole text as the title when it was cut."""
    shown = clip(text, width)
    return html.escape(shown), css, (text if shown != text else "")


def duration(seconds: Any) -> str:
    """``5400`` → ``"1.5 h"``: a TTL or idle time at the scale a person reads it."""
    if _missing(seconds):
        return "–"
    s = float(seconds)
    for limit, unit, size in ((120, "s", 1), (7200, "min", 60), (172_800, "h", 3600)):
        if abs(s) < limit:
            return f"{s / size:,.0f} {unit}" if unit != "h" else f"{s / size:,.1f} {unit}"
    return f"{s / 86_400:,.1f} d"


def _timestamp(value: Any) -> str:
    return "–" if _missing(value) else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%SZ")


def _kind(column: str, dtype: Any) -> str:
    """How a column is shown, from its name first (the tables' naming is the contract), then its type."""
    text_like = pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype)
    if column in NAME_COLUMNS:
        return "name"
    if column in LIST_COLUMNS:
        return "list"
    if column in PROSE_COLUMNS:
        return "prose"
    if isinstance(dtype, pd.ArrowDtype) and pa.types.is_timestamp(dtype.pyarrow_dtype):
        return "timestamp"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamp"
    if text_like or pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        return "text"
    if column.endswith("_bytes"):
        return "bytes"
    if column == "share" or column.endswith("_share"):
        return "share"
    if column.endswith("_at"):
        return "epoch_ms"
    if column.endswith("_s"):
        return "duration"
    if column in ("db", "node", "slot") or not pd.api.types.is_integer_dtype(dtype):
        return "plain"
    return "count"


_NUMERIC: dict[str, Callable[[Any], str]] = {
    "bytes": human_bytes,
    "share": percent,
    "count": human_count,
    "duration": duration,
    "epoch_ms": epoch_ms,
    "timestamp": _timestamp,
}


def cell(kind: str, value: Any) -> Cell:
    """One table cell of ``value`` shown as ``kind`` (see ``_kind``)."""
    if kind == "name":
        # html_key clips with "…" and keeps the whole (escaped) name as the hover title
        return ("–" if _missing(value) else html_key(value, NAME_WIDTH)), "name", ""
    if kind == "list":
        items = [] if _missing(value) else list(value)
        return _clipped(", ".join(display_key(v) for v in items), NAME_WIDTH, "name")
    if kind == "prose":
        return ("" if _missing(value) else html.escape(str(value))), "prose", ""
    if kind in _NUMERIC:
        css = "" if kind in ("epoch_ms", "timestamp") else "num"
        return html.escape(_NUMERIC[kind](value)), css, ""
    if kind == "plain":
        return ("–" if _missing(value) else html.escape(str(value))), "num", ""
    return _clipped("–" if _missing(value) else str(value), TEXT_WIDTH, "")


def html_table(
    frame: pd.DataFrame, columns: Sequence[tuple[str, str]] | None = None, css_class: str = "ik-table"
) -> str:
    """An escaped HTML table of ``frame``: ``columns`` as (column, header), those it lacks skipped."""
    specs = [(c, h) for c, h in (columns or [(c, str(c)) for c in frame.columns]) if c in frame.columns]
    kinds = [_kind(c, frame[c].dtype) for c, _ in specs]
    numeric = {"bytes", "share", "count", "duration", "plain"}
    head = "".join(
        f'<th class="{"num" if k in numeric else ""}">{html.escape(h)}</th>'
        for (_, h), k in zip(specs, kinds, strict=True)
    )
    rows = []
    for record in frame[[c for c, _ in specs]].itertuples(index=False, name=None):
        cells = []
        for kind, value in zip(kinds, record, strict=True):
            inner, css, title = cell(kind, value)
            hover = f' title="{html.escape(title, quote=True)}"' if title else ""
            cells.append(f'<td class="{css}"{hover}>{inner}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


class HumanTable:
    """A DataFrame shown with human units; ``data`` is the frame itself, numbers untouched."""

    def __init__(self, data: pd.DataFrame, *, max_rows: int = MAX_ROWS) -> None:
        self.data = data
        self.max_rows = max_rows

    def __repr__(self) -> str:
        return repr(self.data)

    def to_html(self) -> str:
        shown = self.data.head(self.max_rows)
        more = len(self.data) - len(shown)
        note = (
            f"<p>… {human_count(more)} more rows (of {human_count(len(self.data))})</p>" if more > 0 else ""
        )
        return f'{STYLE}<div class="ik-html">{html_table(shown)}{note}</div>'

    def _repr_html_(self) -> str:
        return self.to_html()


def styled(frame: pd.DataFrame, *, max_rows: int = MAX_ROWS) -> HumanTable:
    """``frame`` for a notebook: bytes as KiB/MiB, shares as %, counts with separators, UTC times."""
    return HumanTable(frame, max_rows=max_rows)


def expiry_timestamps(expires_at: pd.Series) -> pd.Series:
    """Epoch-millisecond expiries as ``timestamp[ms, tz=UTC]`` for date arithmetic and display.

    ``a.keys["expires_at"]`` stays int64 milliseconds: exact, and Redis accepts expiries no calendar
    names (``PEXPIREAT k 9007199254740993``). Those beyond year 9999 (or before year 1) are null here;
    ``epoch_ms`` shows them as raw milliseconds.
    """
    if isinstance(expires_at.array, pd.arrays.ArrowExtensionArray):  # zero copy, not value by value
        values = pa.array(expires_at.array).cast(pa.int64())
    else:
        values = pa.array(expires_at, type=pa.int64(), from_pandas=True)
    in_range = pc.and_(pc.greater_equal(values, MIN_CALENDAR_MS), pc.less_equal(values, MAX_CALENDAR_MS))
    kept = pc.if_else(in_range, values, pa.scalar(None, pa.int64()))
    stamps = kept.cast(pa.timestamp("ms", tz="UTC"))
    return pd.Series(pd.arrays.ArrowExtensionArray(stamps), index=expires_at.index, name=expires_at.name)
