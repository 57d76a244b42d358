"""Shared helpers for the decoder tests: the corpus manifest and decoding to plain Python rows."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import insightkit
from insightkit.errors import RdbChecksumError, RdbError, RdbFormatError

CORPUS = Path(__file__).resolve().parent / "corpus"

# Corpus files that must fail, and how (corrupt on purpose or from a future format).
EXPECTED_ERRORS: dict[str, type[RdbError]] = {
    # REDIS0099: librdb's "future version" file is a REDIS0011 file with its header edited (the CRC
    # still matches "0011"). A newer version is read when every type byte is known (its one string
    # key is); the trailer then fails, as for any edited file.
    "librdb/future_v19.rdb": RdbChecksumError,
    "librdb/invalid_chksum_v8.rdb": RdbChecksumError,  # trailer deliberately wrong
    "redis/corrupt_ziplist.rdb": RdbFormatError,  # Redis' own corrupt-dump test file
}


def manifest() -> list[dict[str, str]]:
    lines = (CORPUS / "MANIFEST.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]


def decode_rows(source: Any, **options: Any) -> tuple[list[dict[str, Any]], Any]:
    reader = insightkit.read_rdb(source, **options)
    table = reader.read_all()
    return table.to_pylist(), reader.metadata


def chunked(data: bytes, sizes: Iterable[int]) -> Iterable[bytes]:
    pos = 0
    sizes = list(sizes)
    i = 0
    while pos < len(data):
        step = sizes[i % len(sizes)]
        yield data[pos : pos + step]
        pos += step
        i += 1


def mutate(data: bytes, rng: Any) -> bytes:
    """One random corruption of ``data``: flipped/overwritten bytes, a cut, a splice or a duplicated run."""
    buf = bytearray(data)
    kind = rng.randrange(6)
    if kind == 0 and buf:  # flip bits
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
    elif kind == 1 and buf:  # interesting byte values (length prefixes, encodings, opcodes)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(buf))
            buf[i] = rng.choice([0x00, 0x3F, 0x40, 0x7F, 0x80, 0x81, 0xC0, 0xC3, 0xFE, 0xFF])
    elif kind == 2:  # truncate
        del buf[rng.randrange(len(buf) + 1) :]
    elif kind == 3 and buf:  # delete a run
        i = rng.randrange(len(buf))
        del buf[i : i + rng.randint(1, 16)]
    elif kind == 4 and buf:  # duplicate a run
        i = rng.randrange(len(buf))
        buf[i:i] = buf[i : i + rng.randint(1, 32)]
    else:  # random bytes spliced in
        i = rng.randrange(len(buf) + 1)
        buf[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(buf)


def fuzz_seeds() -> list[bytes]:
    """Small corpus files (all formats) used as mutation seeds, and hand-built files with every record
    of RDB 13-15 (tests/rdb15_builder.py), which no corpus file has all of, and small decompression
    bombs (tests/rdb_bombs.py)."""
    import rdb15_builder
    import rdb_bombs

    seeds = []
    for entry in manifest():
        if int(entry["bytes"]) <= 6000:
            seeds.append((CORPUS / entry["file"]).read_bytes())
    seeds.extend(rdb15_builder.small_files())
    seeds.append(rdb15_builder.sample_file(12, late_template=True))
    seeds.extend(rdb_bombs.small_bombs())
    return seeds
