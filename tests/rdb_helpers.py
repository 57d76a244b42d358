"""Shared helpers for the decoder tests: the corpus manifest and decoding to plain Python rows."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import insightkit
from insightkit.errors import RdbChecksumError, RdbError, RdbFormatError, RdbVersionError

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"

# Corpus files that must fail, and how (corrupt on purpose or from a future format).
EXPECTED_ERRORS: dict[str, type[RdbError]] = {
    "librdb/future_v19.rdb": RdbVersionError,  # REDIS0099
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
