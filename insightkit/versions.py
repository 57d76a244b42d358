"""Server releases and RDB format versions: the one table both the decoder and the memory model read.

Files written before the ``redis-ver`` aux field (RDB < 7) carry only their format version, which
narrows the writer to a range of releases: the decoder names encodings by the oldest release that
writes the format (the conservative choice for limits like embstr's), the memory model prices by the
newest (the release most such files come from today).
"""

from __future__ import annotations

import re
from typing import Any

# RDB format version → (oldest, newest) Redis release family that writes it.
RDB_WRITERS: dict[int, tuple[tuple[int, int], tuple[int, int]]] = {
    1: ((2, 0), (2, 0)),
    2: ((2, 2), (2, 2)),
    3: ((2, 4), (2, 4)),
    4: ((2, 4), (2, 4)),
    5: ((2, 6), (2, 6)),
    6: ((2, 8), (2, 8)),
    7: ((3, 2), (3, 2)),
    8: ((4, 0), (4, 0)),
    9: ((5, 0), (6, 2)),
    10: ((7, 0), (7, 0)),
    11: ((7, 2), (7, 2)),
    12: ((7, 4), (8, 4)),  # 7.4, 8.0, 8.2 and 8.4 all write RDB 12
    13: ((8, 6), (8, 6)),  # key metadata (0xF3), stream IDMP (type 26)
    14: ((8, 8), (8, 8)),  # stream XNACK (27), arrays (28)
    15: ((8, 10), (8, 10)),  # hash templates (0xF2, 29-32); 8.9.x unstable builds write it too
}
NEWEST_RDB_VERSION = max(RDB_WRITERS)


def rdb_writers(rdb_version: int | None) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """The (oldest, newest) writers of an RDB version; a version newer than the table knows is taken
    to come from after the newest known release (its files are decoded as the newest format)."""
    if rdb_version is None:
        return None
    if rdb_version > NEWEST_RDB_VERSION:
        return RDB_WRITERS[NEWEST_RDB_VERSION]
    return RDB_WRITERS.get(rdb_version)


_VERSION = re.compile(r"(?:(redis|valkey)[-_ ]?)?v?(\d+)(?:\.(\d+))?", re.IGNORECASE)


def parse_version(text: str | None) -> tuple[str | None, tuple[int, int] | None]:
    """``"valkey-8.1.1"`` → ``("valkey", (8, 1))``; ``"7.0.15"`` → ``(None, (7, 0))``; ``"7"`` → ``(7, 0)``."""
    if not text:
        return None, None
    match = _VERSION.search(str(text))
    if match is None:
        return None, None
    family = match.group(1).lower() if match.group(1) else None
    return family, (int(match.group(2)), int(match.group(3) or 0))


# major.minor[.patch], optionally with a suffix ("7.2.4", "8.0.0-rc1", "v6.2.14", "255.255.255")
_STRICT_VERSION = re.compile(r"v?(\d{1,4})\.(\d{1,4})(?:\.(\d{1,6}))?(?:[-+~_ ][0-9A-Za-z.+~_-]*)?")


def known_version(text: Any) -> tuple[int, int, int] | None:
    """A server version as (major, minor, patch), or None when ``text`` does not read as one.

    Strict on purpose: "unknown", "7", "7.x", "" or a non-string give None, so that a rule asking
    "is this version old?" stays silent instead of comparing against a made-up (0, 0, 0).
    """
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        return None
    match = _STRICT_VERSION.fullmatch(str(text).strip())
    if match is None:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)
