"""Variable-part classifiers: rewrite every key into a *template* where values are wildcards.

One RE2 pass (``pyarrow.compute.replace_substring_regex``) recognises, leftmost first:
UUIDs, e-mail addresses, URLs, ISO dates/times, IPv4 addresses, ids glued to a word (``tenant42`` →
``tenant*``), and any other token that holds a digit or a non-text byte (integers, epoch timestamps, hex
digests, base62/base64 tokens, escaped binary ``\\xNN``). Words without digits are left alone: whether
they are values (usernames, slugs, search text) is decided later by cardinality, not by shape
(see ``discover``). Templates are far fewer than keys, so everything after this pass works on distinct
templates only.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from insightkit.patterns.tokens import (
    NON_SEP_CLASS,
    SEP_CLASS,
    STRONG_CLASS,
    WILDCARD,
    fold_variable_segments,
)

_HEX = "[0-9a-fA-F]"
_NS = NON_SEP_CLASS
_S = SEP_CLASS[1:-1]  # the separators, for use inside another class
UUID = f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"
EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
URL = r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s]*"
ISO_DATETIME = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+\-]\d{2}:?\d{2})?)?"
IPV4 = r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"
BASE64 = r"[A-Za-z0-9+/]{16,}={1,2}"
# A token with a digit (or a backslash / control byte) followed later by something that is not a digit:
# hex digests, base62 tokens, ``5f3a``, ``x1y``; and a token with a non-letter before its digits (``é42``).
MIXED_TOKEN = rf"{_NS}*[0-9\\\x00-\x1f\x7f]{_NS}*[^0-9{_S}]{_NS}*|{_NS}*[^A-Za-z0-9{_S}]{_NS}*[0-9]{_NS}*"
# Whatever digits remain are integers, or ids glued to a word: the match starts at the first digit, so
# ``tenant42`` keeps its word (``tenant*``) with no capture group (captures would cost RE2 3x).
DIGITS = r"[0-9\\\x00-\x1f\x7f]+"
# Letters-only random tokens (base62/base64 without a digit): long, with case flipping again and again;
# camelCase names flip far less often.
RANDOM_LETTERS = r"[A-Za-z]*?(?:[a-z][A-Z][A-Za-z]*?){4}[A-Za-z]*"

TEMPLATE_REGEX = "|".join([UUID, EMAIL, URL, ISO_DATETIME, IPV4, BASE64, MIXED_TOKEN, DIGITS, RANDOM_LETTERS])

# Binary keys (key_binary=True): from the first token holding an escaped (``\\xNN``, ``\\\\``) or
# control byte to the end of the key, everything is one value — random bytes are full of printable and
# separator bytes (``:``, ``.``, ``5``) that must not invent structure — except a trailing run of named
# segments (``:meta``). A separator right before the run (after the prefix's own one) belongs to it too.
_BIN = r"(?:\\x[0-9a-fA-F]{2}|\\\\|[\x00-\x1f\x7f])"
BINARY_RUN = rf"({SEP_CLASS})?{SEP_CLASS}*{_NS}*{_BIN}(?s:.*?)((?:{STRONG_CLASS}[A-Za-z_]{{3,}})*)$"
BINARY_REPLACEMENT = r"\1" + WILDCARD + r"\2"

_PY_TEMPLATE = re.compile(TEMPLATE_REGEX)
_PY_BINARY = re.compile(BINARY_RUN)


def string_bytes(keys: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """A string array's offsets (one per row, plus the end) and the bytes they point into, as numpy
    views of its buffers (``data[offsets[0]:offsets[-1]]`` are the rows' bytes); None when empty."""
    if len(keys) == 0 or not (pa.types.is_string(keys.type) or pa.types.is_large_string(keys.type)):
        return None
    offsets_buf, data_buf = keys.buffers()[1], keys.buffers()[2]
    if offsets_buf is None or data_buf is None:
        return None
    width = np.int64 if pa.types.is_large_string(keys.type) else np.int32
    offsets = np.frombuffer(offsets_buf, dtype=width, count=keys.offset + len(keys) + 1)[keys.offset :]
    return offsets, np.frombuffer(data_buf, dtype=np.uint8, count=int(offsets[-1]))


def has_control_bytes(keys: pa.Array) -> bool:
    """Whether any row holds a control byte: two cheap passes over the raw buffer (a minimum, and a
    comparison only when the minimum is ``\\x20`` or more) rather than ``control_byte_rows``' mask."""
    buffers = string_bytes(keys)
    if buffers is None:
        return False
    offsets, everything = buffers
    data = everything[int(offsets[0]) :]
    return bool(len(data)) and (int(data.min()) < 0x20 or bool((data == 0x7F).any()))


def control_byte_rows(keys: pa.Array) -> np.ndarray | None:
    """Rows holding a control byte (valid UTF-8 but binary in spirit), found on the raw buffer."""
    buffers = string_bytes(keys)
    if buffers is None:
        return None
    offsets, everything = buffers
    data = everything[int(offsets[0]) :]
    hits = np.flatnonzero((data < 0x20) | (data == 0x7F)) + int(offsets[0])
    if len(hits) == 0:
        return None
    rows = np.zeros(len(keys), dtype=bool)
    rows[np.searchsorted(offsets, hits, side="right") - 1] = True
    return rows


def templates_of(keys: pa.Array, binary: pa.Array | None = None) -> pa.Array:
    """Raw templates (before folding) of a string array, vectorised in RE2.

    ``binary`` (the ``key_binary`` flags) and control bytes select the few keys whose binary run is
    folded first.
    """
    flagged = np.zeros(len(keys), dtype=bool)
    if binary is not None:
        flagged |= np.asarray(pc.fill_null(binary, False).to_numpy(zero_copy_only=False), dtype=bool)
    control = control_byte_rows(keys)
    if control is not None:
        flagged |= control
    if flagged.any():
        mask = pa.array(flagged)
        runs = pc.replace_substring_regex(
            keys.filter(mask), pattern=BINARY_RUN, replacement=BINARY_REPLACEMENT, max_replacements=1
        )
        keys = pc.replace_with_mask(keys, mask, runs)
    return pc.replace_substring_regex(keys, pattern=TEMPLATE_REGEX, replacement=WILDCARD)


def template_of(key: str, binary: bool = False) -> str:
    """The folded template of one key (pure Python, same rules): for tests and custom tooling."""
    if binary:
        key = _PY_BINARY.sub(lambda m: (m.group(1) or "") + WILDCARD + (m.group(2) or ""), key, count=1)
    return fold_variable_segments(_PY_TEMPLATE.sub(WILDCARD, key))
