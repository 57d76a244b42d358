"""Plain-text tables for terminals (Summary.__str__, the CLI), without importing the presentation layer.

Kept apart from insightkit.present on purpose: computation and the CLI must not pull in matplotlib or
ipywidgets just to print a table.
"""

from __future__ import annotations

import math
import re
import shutil
import textwrap
import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
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


def plural(n: int, noun: str) -> str:
    """``1 key``, ``2,000 keys``: a count with its noun (plural by ``s``)."""
    return f"{int(n):,} {noun}{'' if int(n) == 1 else 's'}"


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


def epoch_ms_narrow(value: Any) -> str:
    """``epoch_ms`` for a terminal's width: past the calendar, the raw milliseconds alone (no longer
    than a date), so a far-future expiry fits an 80-column table uncut."""
    text = epoch_ms(value)
    return text.split(" (", 1)[0] if text.endswith(")") else text


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


def escape_text(text: str) -> str:
    """Prose that may quote a key name (a finding's detail): its control and bidi characters written
    as escapes like ``display_key`` does, without quoting the whole text."""
    return _UNSAFE.sub(_escape_char, text)


def text_columns(text: str) -> int:
    """Terminal columns ``text`` takes: East Asian wide characters take two, combining marks none."""
    if text.isascii():
        return len(text)
    return sum(_char_columns(ch) for ch in text)


def _char_columns(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def clip(text: str, width: int | None) -> str:
    """``text`` cut to ``width`` terminal columns, the cut marked with ``…``."""
    if width is None or text_columns(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        cols = _char_columns(ch)
        if used + cols > width - 1:
            break
        out.append(ch)
        used += cols
    return "".join(out) + ("…" if width > 0 else "")


def terminal_width(wide: bool = False) -> int | None:
    """The width output must fit: ``COLUMNS`` or the terminal's, 80 when not a terminal; None with
    ``wide`` (no limit), for people who pipe into ``less -S`` or a wide window."""
    if wide:
        return None
    return max(shutil.get_terminal_size((80, 24)).columns, 20)


def wrap(text: str, width: int | None, *, indent: str = "", first: str | None = None) -> list[str]:
    """``text`` wrapped to ``width`` columns (one line when ``width`` is None); ``first`` prefixes
    the first line instead of ``indent``. Words longer than a line are broken, never overflow."""
    lead = indent if first is None else first
    if width is None:
        return [lead + text]
    lines = textwrap.wrap(
        text,
        width=max(width, len(lead) + 8, len(indent) + 8),
        initial_indent=lead,
        subsequent_indent=indent,
        break_on_hyphens=False,
    )
    return [clip(line, width) for line in lines] or [lead.rstrip()]


def _formatter(column: str, numeric: bool = False, narrow: bool = False) -> Callable[[Any], str]:
    if column in FORMATS:
        return FORMATS[column]
    if column.endswith("_bytes"):
        return human_bytes
    if column.endswith("_at"):
        return epoch_ms_narrow if narrow else epoch_ms
    if numeric and (column.endswith(("_keys", "_count")) or column.startswith("keys_")):
        return human_count
    return display_key  # any text may hold a key name: escaped, never raw


# Columns whose cells are names (keys, patterns): clipped with … when narrow, never wrapped, so one
# row stays one line and a clipped name still reads from its start.
NAME_COLUMNS = frozenset({"key", "pattern", "name"})
_GAP = "  "
_FLOOR = 8  # the narrowest a text column is squeezed to


def _header_words(name: str) -> list[str]:
    return [w for w in name.replace("_", "_ ").split(" ") if w] or [name]


def _header_lines(name: str, width: int) -> list[str]:
    """A column name over several lines, broken after its underscores (``memory_`` / ``bytes``)."""
    lines: list[str] = []
    for word in _header_words(name):
        if lines and text_columns(lines[-1] + word) <= width:
            lines[-1] += word
        else:
            lines.append(word)
    return [clip(line, width) for line in lines]


def _cell_lines(text: str, width: int, *, name: bool) -> list[str]:
    if text_columns(text) <= width:
        return [text]
    if name:
        return [clip(text, width)]
    lines = textwrap.wrap(text, width=max(width, 1), break_on_hyphens=False) or [""]
    return [clip(line, width) for line in lines]


def _shrink(widths: list[int], floors: list[int], overflow: int) -> int:
    """Narrow the widest columns first, one column at a time, down to ``floors``; the overflow left."""
    while overflow > 0:
        candidates = [i for i, w in enumerate(widths) if w > floors[i]]
        if not candidates:
            break
        widest = max(candidates, key=lambda i: widths[i])
        widths[widest] -= 1
        overflow -= 1
    return overflow


def _tighten(
    widths: list[int],
    natural: list[int],
    columns: list[str],
    rows: list[list[str]],
    numeric: Collection[str],
    names: Collection[str],
    budget: int,
) -> None:
    """After shrinking: a column whose header broke needs only its widest line, and the columns
    freed that way give the room back to clipped names first, then to wrapped text."""
    for i, column in enumerate(columns):
        if widths[i] >= natural[i]:
            continue
        lines = _header_lines(column, widths[i]) if text_columns(column) > widths[i] else [column]
        cells = [text_columns(r[i]) for r in rows]
        widest_cell = max(cells, default=0)
        if column in numeric or widest_cell <= widths[i]:
            widths[i] = max([text_columns(line) for line in lines] + [widest_cell])
    spare = budget - sum(widths) - len(_GAP) * (len(columns) - 1)
    order = [i for i, c in enumerate(columns) if c in names] + [
        i for i, c in enumerate(columns) if c not in names and c not in numeric
    ]
    for i in order:
        if spare <= 0:
            break
        grow = min(spare, natural[i] - widths[i])
        if grow > 0:
            widths[i] += grow
            spare -= grow


def render_table(
    frame: pd.DataFrame,
    *,
    title: str | None = None,
    columns: Sequence[str] | None = None,
    max_width: int = 60,
    formats: Mapping[str, Callable[[Any], str]] | None = None,
    width: int | None = None,
    names: Collection[str] = NAME_COLUMNS,
) -> str:
    """A fixed-width table: numbers right-aligned, text escaped (``display_key``), long cells cut at
    ``max_width`` columns with an ellipsis.

    ``width`` is the budget of the whole table (a terminal's width): over it, column names first break
    after their underscores and text cells wrap onto more lines, then name columns (``names``) are
    clipped with … and other text wraps narrower; numbers are never cut. None: no budget.
    """
    columns = list(columns or frame.columns)
    numeric = {c for c in columns if pd.api.types.is_numeric_dtype(frame[c].dtype)}
    # Cells read as one token are never wrapped or cut: numbers, and times (``… ms (beyond 9999)``).
    whole = numeric | {c for c in columns if c.endswith("_at")}
    rows: list[list[str]] = []
    for row in frame[columns].itertuples(index=False, name=None):
        line = []
        for column, value in zip(columns, row, strict=True):
            fmt = (formats or {}).get(column) or _formatter(column, column in numeric, width is not None)
            line.append(clip(fmt(value), max_width))
        rows.append(line)
    natural = [max([text_columns(c)] + [text_columns(r[i]) for r in rows]) for i, c in enumerate(columns)]
    widths = list(natural)
    if width is not None:
        overflow = sum(widths) + len(_GAP) * (len(columns) - 1) - width
        longest_word = [max(text_columns(w) for w in _header_words(c)) for c in columns]
        # First lose nothing: break headers, wrap prose; then clip names and squeeze prose further.
        soft = [
            natural[i]
            if c in names
            else max([longest_word[i], *(text_columns(r[i]) for r in rows)])
            if c in whole
            else min(natural[i], max(longest_word[i], 20))
            for i, c in enumerate(columns)
        ]
        overflow = _shrink(widths, soft, overflow)
        hard = [
            soft[i] if c in whole else min(natural[i], max(longest_word[i], _FLOOR))
            for i, c in enumerate(columns)
        ]
        _shrink(widths, hard, overflow)
        _tighten(widths, natural, columns, rows, whole, names, width)

    def block(cells: list[str], header: bool) -> list[str]:
        stacks = [
            _header_lines(text, w)
            if header and text_columns(text) > w
            else _cell_lines(text, w, name=c in names)
            for text, w, c in zip(cells, widths, columns, strict=True)
        ]
        height = max(len(s) for s in stacks)
        out = []
        for k in range(height):
            parts = []
            for stack, w, c in zip(stacks, widths, columns, strict=True):
                text = stack[k] if k < len(stack) else ""
                pad = w - text_columns(text)
                parts.append(" " * pad + text if c in numeric else text + " " * pad)
            out.append(_GAP.join(parts).rstrip())
        return out

    out = wrap(title, width) if title else []
    out.extend(block(columns, True))
    out.append(_GAP.join("─" * w for w in widths))
    for line in rows:
        out.extend(block(line, False))
    if width is not None:  # the last resort when even the floors do not fit
        out = [clip(line, width) for line in out]
    return "\n".join(out)
