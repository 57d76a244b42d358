"""Digit shapes: every ASCII digit of a key written as ``0`` (``user:123:cart`` → ``user:000:cart``).

Keys that differ only in their digits share one shape, and shapes are far fewer than keys (ids,
counters, addresses), so whatever cannot tell one digit from another runs once per shape instead of
once per key: the template rewrite (``shapes.TEMPLATE_REGEX`` names digits only by classes holding all
ten) and every custom or library rule that is ``digit_blind``.
"""

from __future__ import annotations

import functools
import importlib
import re
import warnings
from typing import Any

import numpy as np
import pyarrow as pa

from insightkit.patterns.shapes import string_bytes

_LOW = np.uint64(0x0101010101010101)
_HIGH = np.uint64(0x8080808080808080)
_FROM_0 = np.uint64(0x80 - ord("0")) * _LOW  # a byte's top bit carries when it is ≥ "0"
_PAST_9 = np.uint64(0x80 - ord("9") - 1) * _LOW  # … and when it is > "9"
_SEVEN = np.uint64(7)
_NIBBLE = np.uint64(0x0F)


def zero_digits(keys: pa.Array | pa.ChunkedArray) -> pa.Array | None:
    """``keys`` with every ASCII digit written as ``0``, as one array (its chunks' bytes are copied
    once, straight into the result); None when ``keys`` is empty or not strings.

    Eight bytes at a time (a digit is ``0x30``–``0x39``: clearing its low nibble makes it ``0``), a few
    numpy passes over cache-sized blocks instead of a table lookup per byte. UTF-8 multi-byte sequences
    hold no ASCII byte (their bytes are all ≥ 0x80), so only real digits change. Missing keys read as
    empty strings.
    """
    chunks = keys.chunks if isinstance(keys, pa.ChunkedArray) else [keys]
    if not len(keys) or not (pa.types.is_string(keys.type) or pa.types.is_large_string(keys.type)):
        return None
    parts = [found for chunk in chunks if (found := string_bytes(chunk)) is not None]
    size = sum(int(offsets[-1]) - int(offsets[0]) for offsets, _ in parts)
    large = pa.types.is_large_string(keys.type) or size >= 2**31
    offsets_out: np.ndarray = np.empty(len(keys) + 1, dtype=np.int64 if large else np.int32)
    words = np.empty((size + 7) // 8, dtype=np.uint64)
    flat = words.view(np.uint8)
    at = row = 0
    for offsets, data in parts:
        start, end = int(offsets[0]), int(offsets[-1])
        flat[at : at + end - start] = data[start:end]
        offsets_out[row : row + len(offsets) - 1] = offsets[:-1]
        offsets_out[row : row + len(offsets) - 1] += at - start
        at += end - start
        row += len(offsets) - 1
    offsets_out[row:] = at  # (and empty chunks, which string_bytes skips, hold no row)
    flat[at:] = 0
    _zero_words(words)
    kind = pa.large_string() if large else pa.string()
    return pa.Array.from_buffers(kind, len(keys), [None, pa.py_buffer(offsets_out), pa.py_buffer(words)])


_BLOCK = 1 << 16


def _zero_words(words: np.ndarray) -> None:
    """Clear the low nibble of every digit byte of ``words``, in place, block by block (the two
    scratch blocks stay in cache and no array of the keys' size is allocated)."""
    low = np.empty(min(_BLOCK, len(words)), dtype=np.uint64)
    digit = np.empty_like(low)
    for start in range(0, len(words), _BLOCK):
        w = words[start : start + _BLOCK]
        lo, d = low[: len(w)], digit[: len(w)]
        np.bitwise_and(w, ~_HIGH, out=lo)  # each byte's top bit cleared: the sums below carry nowhere
        np.add(lo, _FROM_0, out=d)
        np.add(lo, _PAST_9, out=lo)
        np.bitwise_or(lo, w, out=lo)  # top bit: > "9", or not ASCII at all
        np.bitwise_not(lo, out=lo)
        np.bitwise_and(d, lo, out=d)
        np.bitwise_and(d, _HIGH, out=d)  # top bit: "0" ≤ byte ≤ "9"
        np.right_shift(d, _SEVEN, out=d)
        np.multiply(d, _NIBBLE, out=d)
        np.bitwise_not(d, out=d)
        np.bitwise_and(w, d, out=w)


_DIGITS = frozenset(range(ord("0"), ord("9") + 1))
#: Escape classes by whether they hold every ASCII digit (True) or none (False).
_CATEGORIES = {
    "CATEGORY_DIGIT": True,
    "CATEGORY_WORD": True,
    "CATEGORY_NOT_SPACE": True,
    "CATEGORY_NOT_LINEBREAK": True,
    "CATEGORY_NOT_DIGIT": False,
    "CATEGORY_NOT_WORD": False,
    "CATEGORY_SPACE": False,
    "CATEGORY_LINEBREAK": False,
}
_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")


@functools.lru_cache(maxsize=4096)
def digit_blind(regex: str) -> bool:
    """Whether ``regex`` treats every ASCII digit alike, so that it matches a key exactly when it
    matches the key's digit shape (then it may run on shapes).

    Python's own parser reads the regex: a digit literal (``7``, ``\\x37``), a class holding some
    digits but not all (``[0-4]``; ``[0-9]``, ``\\d``, ``\\w``, ``.`` hold all) or a backreference
    (``(?P=id)`` matches ``1-1`` but not ``1-2``, both shaped ``0-0``) tells digits apart; counts
    (``{43}``) do not. Conservative where unsure: a construct it does not know, and ``{,n}`` (a
    count for Python, literal text for RE2), count as telling digits apart. A regex only RE2 can
    parse is blind when it holds no digit at all: RE2 names digits only by writing one.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "possible nested set" for RE2's [[:digit:]]
            tree = _PARSER.parse(regex)
    except (re.error, RecursionError, OverflowError, ValueError):
        return not any(c in "0123456789" for c in regex)
    if re.search(r"\{,\s*\d", regex):
        return False
    return _blind(list(tree))


_PARSER: Any = importlib.import_module("re._parser")


def _blind(items: list[tuple[Any, Any]]) -> bool:
    for op, arg in items:
        name = op.name
        if name in ("LITERAL", "NOT_LITERAL"):
            if arg in _DIGITS:
                return False
        elif name == "IN":
            if not _class_blind(arg):
                return False
        elif name in ("ANY", "AT"):
            continue
        elif name in _REPEATS:
            if not _blind(list(arg[2])):
                return False
        elif name == "SUBPATTERN":
            if not _blind(list(arg[3])):
                return False
        elif name == "BRANCH":
            if not all(_blind(list(branch)) for branch in arg[1]):
                return False
        elif name in ("ASSERT", "ASSERT_NOT"):
            if not _blind(list(arg[1])):
                return False
        elif name == "ATOMIC_GROUP":
            if not _blind(list(arg)):
                return False
        else:  # GROUPREF, GROUPREF_EXISTS, and whatever a later Python adds
            return False
    return True


def _class_blind(items: list[tuple[Any, Any]]) -> bool:
    """A character class holds all ten digits or none (negation keeps that true)."""
    held: set[int] = set()
    for op, arg in items:
        name = op.name
        if name == "NEGATE":
            continue
        if name == "LITERAL":
            held.update({arg} & _DIGITS)
        elif name == "RANGE":
            held.update(d for d in _DIGITS if arg[0] <= d <= arg[1])
        elif name == "CATEGORY" and arg.name in _CATEGORIES:
            held.update(_DIGITS if _CATEGORIES[arg.name] else ())
        else:
            return False
    return len(held) in (0, len(_DIGITS))
