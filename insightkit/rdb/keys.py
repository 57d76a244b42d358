"""Key names that are not UTF-8: how they are escaped in the ``key`` column and how to get the bytes back.

A key that is valid UTF-8 appears as is (``key_binary`` false). Otherwise every byte that is not part of
a valid UTF-8 sequence becomes ``\\xNN`` (two lower-case hex digits), a backslash becomes ``\\\\`` and
everything else is kept, so the text stays readable and the mapping is reversible.
"""

from __future__ import annotations

_HEX = "0123456789abcdefABCDEF"


def unescape_key(key: str, key_binary: bool = True) -> bytes:
    """The original key bytes of a ``key`` column value (pass the row's ``key_binary``)."""
    if not key_binary:
        return key.encode("utf-8")
    out = bytearray()
    i = 0
    n = len(key)
    while i < n:
        ch = key[i]
        if ch == "\\":
            if i + 1 < n and key[i + 1] == "\\":
                out.append(0x5C)
                i += 2
                continue
            if i + 3 < n and key[i + 1] == "x" and key[i + 2] in _HEX and key[i + 3] in _HEX:
                out.append(int(key[i + 2 : i + 4], 16))
                i += 4
                continue
            raise ValueError(f"not an escaped key: stray backslash at position {i}")
        out += ch.encode("utf-8")
        i += 1
    return bytes(out)


def escape_key(raw: bytes) -> tuple[str, bool]:
    """The ``(key, key_binary)`` pair the decoder emits for ``raw`` (reference implementation)."""
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        pass
    parts: list[str] = []
    i = 0
    while i < len(raw):
        for width in (1, 2, 3, 4):
            piece = raw[i : i + width]
            try:
                text = piece.decode("utf-8")
            except UnicodeDecodeError:
                continue
            parts.append("\\\\" if text == "\\" else text)
            i += width
            break
        else:
            parts.append(f"\\x{raw[i]:02x}")
            i += 1
    return "".join(parts), True
