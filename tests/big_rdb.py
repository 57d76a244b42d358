"""A big RDB written without a server, fast: for tests that need a decode to take seconds."""

from __future__ import annotations

import struct
from pathlib import Path

from insightkit.rdb import crc64


def write_many_keys(path: Path, keys: int) -> Path:
    """An RDB 9 of ``keys`` small strings in a few key families (users, sessions, caches), some with
    TTLs; about 40 bytes a key."""

    def s(raw: bytes) -> bytes:
        assert len(raw) < 64
        return bytes([len(raw)]) + raw

    parts = [b"REDIS0009", b"\xfa", s(b"redis-ver"), s(b"7.0.0"), b"\xfe\x00"]
    families = (b"user:%d:profile", b"session:%x", b"cache:page:%d", b"rate:%d:minute")
    for i in range(keys):
        if i % 5 == 0:
            parts.append(b"\xfc" + struct.pack("<Q", 1_900_000_000_000 + i))
        parts.append(b"\x00" + s(families[i % 4] % i) + s(b"value-%d" % (i * 7919 % 100_003)))
    data = b"".join(parts) + b"\xff"
    path.write_bytes(data + struct.pack("<Q", crc64(data)))
    return path
