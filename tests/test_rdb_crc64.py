"""Redis' CRC-64 (Jones, reflected): known check value, incremental use, every buffer kind."""

from __future__ import annotations

import random

import pytest

from insightkit.rdb import crc64


def _bitwise_reference(data: bytes) -> int:
    """Textbook bit-at-a-time reflected CRC, independent of the table-driven implementation."""
    poly = int(f"{0xAD93D23594C935A9:064b}"[::-1], 2)
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return crc


def test_check_value() -> None:
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA


def test_empty_is_start_value() -> None:
    assert crc64(b"") == 0
    assert crc64(b"", 12345) == 12345


@pytest.mark.parametrize("size", [1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 12287, 12288, 12289, 30001])
def test_matches_bitwise_reference(size: int) -> None:
    data = random.Random(size).randbytes(size)
    assert crc64(data) == _bitwise_reference(data)


def test_incremental_equals_whole() -> None:
    data = random.Random(1).randbytes(10_000)
    for cut in (0, 1, 5, 4096, 9_999, 10_000):
        assert crc64(data[cut:], crc64(data[:cut])) == crc64(data)
    # buffers of three 4 KB blocks and more go through three interleaved streams
    data = random.Random(3).randbytes(50_001)
    whole = crc64(data)
    assert whole == _bitwise_reference(data)
    for cut in (1, 12_287, 12_288, 12_289, 25_000, 49_999):
        assert crc64(data[cut:], crc64(data[:cut])) == whole


def test_buffer_kinds() -> None:
    data = random.Random(2).randbytes(100)
    expected = crc64(data)
    assert crc64(bytearray(data)) == expected
    assert crc64(memoryview(data)) == expected
    assert crc64(memoryview(data)[10:], crc64(data[:10])) == expected
    assert crc64(memoryview(b"x" + data)[1::1]) == expected


def test_redis_written_file_checks_out(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A real Redis RDB's trailer is the CRC of everything before it."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from servers import running_server

    with running_server("redis70") as server:
        server.client().set("k", "v" * 100)
        blob = server.save().read_bytes()
    assert int.from_bytes(blob[-8:], "little") == crc64(blob[:-8])


def test_worker_groups_small_spans_in_order() -> None:
    """Small spans are handed to the thread in groups, big ones alone; the CRC is that of the concatenation."""
    from insightkit.rdb.crcworker import MIN_JOB_BYTES, CrcWorker

    rng = random.Random(7)
    sizes = [rng.randrange(1, 20_000) for _ in range(300)] + [MIN_JOB_BYTES + 5, 3, MIN_JOB_BYTES * 2]
    rng.shuffle(sizes)
    spans = [bytes(rng.getrandbits(8) for _ in range(min(n, 64))) * (n // 64 + 1) for n in sizes]
    spans = [s[:n] for s, n in zip(spans, sizes, strict=True)]
    worker = CrcWorker()
    try:
        for i, span in enumerate(spans):
            worker.submit(memoryview(span))
            if i == 150:  # a result mid-stream covers exactly what was submitted so far
                assert worker.result() == crc64(b"".join(spans[:151]))
        assert worker.result() == crc64(b"".join(spans))
    finally:
        worker.close()


@pytest.mark.parametrize("clmul", [True, False])
def test_folding_and_tables_agree(clmul: bool) -> None:
    """The carry-less multiply path (x86-64 with PCLMULQDQ) and the table path give the same CRCs."""
    from insightkit.rdb import _crc64

    old = _crc64._set_clmul(clmul)
    try:
        rng = random.Random(7)
        for size in (255, 256, 257, 319, 320, 321, 4096, 12_345):
            data = rng.randbytes(size)
            start = rng.getrandbits(64)
            expected = _bitwise_reference(data) if start == 0 else None
            got = crc64(data, start)
            assert got == crc64(data[size // 3 :], crc64(data[: size // 3], start))
            if expected is not None:
                assert got == expected
            assert crc64(data) == _bitwise_reference(data)
    finally:
        _crc64._set_clmul(old)
