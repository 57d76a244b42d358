"""Decompression bombs: RDB files whose LZF-compressed blobs inflate to far more than they take.

LZF's longest back-reference (3 bytes) copies 264 bytes, so a block of ``c`` bytes can inflate to about
88 x c. These builders write such blocks by hand: the structure's header as a literal, then
back-references repeating the last byte. What the header says and what the RDB string claims (the
uncompressed length) can each be made to lie.
"""

from __future__ import annotations

import random
import struct

from insightkit.rdb import crc64

LZF_MAX_REF = 264  # bytes one back-reference copies at most


def rdb_len(n: int) -> bytes:
    """An RDB length (6-, 14-, 32- or 64-bit)."""
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    if n < 1 << 32:
        return b"\x80" + struct.pack(">I", n)
    return b"\x81" + struct.pack(">Q", n)


def lzf_block(head: bytes, total: int, fill: int = 0, tail: bytes = b"") -> bytes:
    """An LZF block inflating to ``head``, ``fill`` bytes, then ``tail``: ``total`` bytes in all."""
    assert total >= len(head) + 1 + len(tail)
    out = bytearray()

    def literal(raw: bytes) -> None:
        for i in range(0, len(raw), 32):
            run = raw[i : i + 32]
            out.extend(bytes([len(run) - 1]) + run)

    literal(head + bytes([fill]))
    left = total - len(head) - 1 - len(tail)
    full, rest = divmod(left, LZF_MAX_REF)
    # distance 1 (offset byte 0): each copies the byte before it, i.e. ``fill`` again
    out += b"\xe0\xff\x00" * full
    if rest >= 9:
        out += bytes([0xE0, rest - 9, 0x00])
    elif rest >= 3:
        out += bytes([(rest - 2) << 5, 0x00])
    elif rest:
        literal(bytes([fill]) * rest)
    if tail:
        literal(tail)
    return bytes(out)


def lzf_string(block: bytes, claimed: int) -> bytes:
    """An RDB LZF string: 0xC3, compressed length, claimed uncompressed length, the block."""
    return b"\xc3" + rdb_len(len(block)) + rdb_len(claimed) + block


def ziplist_head(total: int, count: int) -> bytes:
    return struct.pack("<IIH", total, 10, count)


def listpack_head(total: int, count: int) -> bytes:
    return struct.pack("<IH", total, count)


def intset_head(width: int, count: int) -> bytes:
    return struct.pack("<II", width, count)


def rdb_file(keys: list[tuple[int, bytes, bytes]], version: int = 9) -> bytes:
    """An RDB with (type byte, key, value encoding) keys in db 0 and a correct CRC."""
    body = b"\xfe\x00"
    for t, key, value in keys:
        body += bytes([t]) + rdb_len(len(key)) + key + value
    data = f"REDIS{version:04d}".encode() + body + b"\xff"
    return data + struct.pack("<Q", crc64(data))


def lying_bombs(inflated: int = 4 << 20, keys: int = 4) -> dict[str, bytes]:
    """Bomb files that must be refused having inflated next to nothing: each holds ``keys`` keys
    whose blob would inflate to ``inflated`` bytes, and something before the bulk of it lies."""
    zl = lzf_block(ziplist_head(100, 2), inflated)  # the header says 100 bytes
    lp = lzf_block(listpack_head(1000, 2), inflated)
    iset = lzf_block(intset_head(8, 3), inflated)  # 8 + 3 x 8 bytes
    honest = lzf_block(ziplist_head(inflated, 0xFFFF), inflated)

    def many(t: int, name: bytes, value: bytes, version: int = 9) -> bytes:
        return rdb_file([(t, b"%s%d" % (name, i), value) for i in range(keys)], version)

    return {
        "ziplist-header-lies": many(10, b"zl", lzf_string(zl, inflated)),
        "hash-ziplist-header-lies": many(13, b"h", lzf_string(zl, inflated)),
        "quicklist-node-header-lies": many(14, b"ql", rdb_len(1) + lzf_string(zl, inflated)),
        "listpack-header-lies": many(16, b"lp", lzf_string(lp, inflated), 10),
        "intset-header-lies": many(11, b"is", lzf_string(iset, inflated)),
        # the claimed length is beyond what any block of this size gives (88 bytes a compressed byte)
        "claim-beyond-lzf": many(10, b"zl", lzf_string(honest, len(honest) * 89)),
        # a claimed length the block could give, and does not: it gives more
        "claim-short-of-block": many(10, b"zl", lzf_string(honest, inflated - inflated // 4)),
        # ... or less
        "claim-beyond-block": many(10, b"zl", lzf_string(honest[:-3], inflated)),
    }


def honest_bomb(inflated: int = 4 << 20, keys: int = 4, *, valid: bool = True) -> bytes:
    """Ziplist lists whose headers agree with their claimed length: ``valid`` ones hold empty
    strings to the end marker (they decode, each inflated in turn), else zeros to the end (the walk
    fails at the end, once inflated: the cost is the claimed length, no more)."""
    tail = b"\xff" if valid else b""
    inflated += (inflated - 11) % 2  # 10 header bytes, 2-byte entries, the end marker
    block = lzf_block(ziplist_head(inflated, 0xFFFF), inflated, tail=tail)
    return rdb_file([(10, b"zl%d" % i, lzf_string(block, inflated)) for i in range(keys)])


def small_bombs() -> list[bytes]:
    """Fuzzing seeds: every bomb above at a few kilobytes."""
    return [
        *lying_bombs(8192, keys=2).values(),
        honest_bomb(8192, keys=2),
        honest_bomb(8192, keys=2, valid=False),
    ]


def random_lying_bomb(rng: random.Random) -> bytes:
    """One to three keys whose compressed blob (ziplist, listpack, intset; 64 KiB to 32 MiB inflated)
    lies somewhere before its bulk: its header's total bytes, its entry count or width, or the RDB
    string's claimed length (beyond LZF's reach, short of or beyond the block)."""
    inflated = rng.randint(64 << 10, 32 << 20)
    kind = rng.choice(["ziplist", "listpack", "intset"])
    lie = rng.choice(["total", "count", "claim-ratio", "claim-short", "claim-long"])
    total, count, width = inflated, 0xFFFF, 8
    if lie == "total":
        total = rng.choice([0, 11, inflated - 1, inflated + 1, rng.randrange(1 << 32)])
    elif lie == "count":
        count, width = rng.randrange(1 << 16), rng.choice([1, 3, 16, 2, 4])
        if kind == "ziplist" or kind == "listpack":  # counts are checked against the bytes they need
            inflated = rng.randint(11, 2 * count + 6) if count != 0xFFFF else inflated
            total = inflated
    if kind == "ziplist":
        head, t = ziplist_head(total, count), rng.choice([10, 12, 13])
    elif kind == "listpack":
        head, t = listpack_head(total, count), rng.choice([16, 17, 20])
    else:
        head, t = intset_head(width, count if lie == "count" else rng.randrange(1 << 20)), 11
    block = lzf_block(head, max(inflated, len(head) + 1), fill=rng.randrange(256))
    claim = max(inflated, len(head) + 1)
    if lie == "claim-ratio":
        claim = len(block) * 88 + rng.randint(1, 1 << 40)
    elif lie == "claim-short":
        claim = rng.randint(1, claim - 1)
    elif lie == "claim-long":
        claim = rng.randint(claim + 1, len(block) * 88)
    keys = [(t, b"bomb%d" % i, lzf_string(block, claim)) for i in range(rng.randint(1, 3))]
    return rdb_file(keys, version=10 if t in (16, 17, 20) else 9)
