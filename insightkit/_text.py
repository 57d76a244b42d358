"""Plain-text tables for terminals (Summary.__str__, the CLI), without importing the presentation layer.

Kept apart from insightkit.present on purpose: computation and the CLI must not pull in matplotlib or
ipywidgets just to print a table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def unit_for(max_bytes: float) -> tuple[str, float]:
    """The binary unit that keeps the largest value between 1 and 1024, and its divisor."""
    if not max_bytes or math.isnan(max_bytes) or abs(max_bytes) < 1024:
        return "B", 1.0
    power = min(int(math.log(abs(max_bytes), 1024)), len(_UNITS) - 1)
    return _UNITS[power], float(1024**power)


def human_bytes(n: Any) -> str:
    """``1536`` → ``"1.5 KiB"``: binary units, named as such, everywhere (CLI, HTML, notebooks)."""
    if _missing(n):
        return "–"
    value = float(n)
    sign = "-" if value < 0 else ""
    unit, divisor = unit_for(abs(value))
    scaled = abs(value) / divisor
    if unit == "B":
        return f"{sign}{int(scaled)} B"
    digits = 2 if scaled < 10 else 1 if scaled < 100 else 0
    return f"{sign}{scaled:.{digits}f} {unit}"


def human_count(n: Any) -> str:
    """``12345`` → ``"12,345"``."""
    if _missing(n):
        return "–"
    return f"{int(n):,}"


def percent(x: Any) -> str:
    if _missing(x):
        return "–"
    return f"{100 * float(x):.1f}%"


# Column name → formatter; columns not listed print with str().
FORMATS: dict[str, Callable[[Any], str]] = {
    "keys": human_count,
    "volatile_keys": human_count,
    "num_elements": human_count,
    "share": percent,
    # names are whatever bytes a client sent: ESC, CR/LF, NUL, bidi overrides must not reach a terminal
    "key": lambda name: display_key(name),
    "pattern": lambda name: display_key(name),
}


# The last millisecond Python's datetime (and so every calendar shown here) can name: 9999-12-31.
MAX_CALENDAR_MS = 253_402_300_799_999
MIN_CALENDAR_MS = -62_135_596_800_000  # 0001-01-01


def epoch_ms(value: Any) -> str:
    """Epoch milliseconds → ``2026-11-24 10:51:07Z`` (UTC).

    Redis accepts any 64-bit millisecond expiry (``PEXPIREAT k 9007199254740993``); those beyond year 9999
    are shown as raw milliseconds rather than crashing the table they sit in.
    """
    if _missing(value):
        return "–"
    ms = int(value)
    if not MIN_CALENDAR_MS <= ms <= MAX_CALENDAR_MS:
        return f"{ms} ms (beyond 9999)" if ms > 0 else f"{ms} ms (before year 1)"
    seconds, millis = divmod(ms, 1000)
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds, milliseconds=millis)).strftime(
        "%Y-%m-%d %H:%M:%SZ"
    )


# Characters that must never reach a terminal or a page raw: C0/C1 controls and DEL (ESC sequences,
# CR/LF that split rows, NUL, BEL), bidi embeddings/overrides/isolates and marks that reorder what is
# shown, and line/paragraph separators.
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f" + _BIDI + "\u2028\u2029\ufeff]")
# What json.dumps(ensure_ascii=False) leaves raw: it escapes C0 in strings itself, and the C0 outside
# strings is the document's own indentation.
_JSON_RAW = re.compile("[\x7f-\x9f" + _BIDI + "\u2028\u2029\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\a": "\\a", "\b": "\\b"}


def _escape_char(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def display_key(name: Any, width: int | None = None) -> str:
    """A key name safe to show anywhere, escaped the way redis-cli quotes it, clipped to ``width``.

    Names with nothing unsafe are shown as they are; otherwise the whole name is quoted and its control
    and bidi characters written as ``\\n``, ``\\x1b``, ``\\u202e`` (quotes and backslashes escaped too), so
    what is printed can neither move the cursor nor pass for another key. ``width`` clips with ``…``.
    """
    if _missing(name):
        return "–"
    text = name.decode("utf-8", "backslashreplace") if isinstance(name, bytes) else str(name)
    if _UNSAFE.search(text):
        text = '"' + _UNSAFE.sub(_escape_char, text.replace("\\", "\\\\").replace('"', '\\"')) + '"'
    return clip(text, width)


def json_escaped(document: str) -> str:
    """A JSON document with the C1, DEL and bidi characters json.dumps leaves raw written as ``\\uXXXX``.

    The parsed values are unchanged (key names stay exact for machines); only a terminal showing the
    text is protected. Outside strings JSON has none of these characters, so the rewrite is safe.
    """
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group(0)):04x}", document)


def clip(text: str, width: int | None) -> str:
    """``text`` cut to ``width`` characters, the cut marked with ``…``."""
    if width is None or len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…"


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
