"""Byte units for people: one unit per axis (KB/MB/GB, powers of 1024 as Redis' INFO uses)."""

from __future__ import annotations

import math
from typing import SupportsFloat

_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def unit_for(max_bytes: float) -> tuple[str, float]:
    """The unit that keeps the largest value between 1 and 1024, and its divisor."""
    if not max_bytes or max_bytes < 1024 or math.isnan(max_bytes):
        return "B", 1.0
    power = min(int(math.log(max_bytes, 1024)), len(_UNITS) - 1)
    return _UNITS[power], float(1024**power)


def human_bytes(n: SupportsFloat | None) -> str:
    """``1536`` → ``"1.5 KB"``; three significant digits are all a person reads."""
    if n is None:
        return "–"
    value = float(n)
    if math.isnan(value):
        return "–"
    sign = "-" if value < 0 else ""
    unit, divisor = unit_for(abs(value))
    scaled = abs(value) / divisor
    if unit == "B":
        return f"{sign}{int(scaled)} B"
    digits = 2 if scaled < 10 else 1 if scaled < 100 else 0
    return f"{sign}{scaled:.{digits}f} {unit}"


def human_count(n: SupportsFloat) -> str:
    """``12345`` → ``"12,345"``."""
    return f"{int(float(n)):,}"
