"""Every kind of source gives the same rows; batches are bounded; a long stream decodes in bounded memory."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rdb_helpers import CORPUS, chunked, decode_rows

import insightkit
from insightkit.errors import ConfigurationError, SourceError

SAMPLE = CORPUS / "librdb" / "misc_with_stream.rdb"


def test_all_source_kinds_agree(tmp_path: Path) -> None:
    data = SAMPLE.read_bytes()
    expected, _ = decode_rows(SAMPLE)
    assert decode_rows(str(SAMPLE))[0] == expected
    assert decode_rows(data)[0] == expected
    assert decode_rows(bytearray(data))[0] == expected
    assert decode_rows(memoryview(data))[0] == expected
    assert decode_rows(io.BytesIO(data))[0] == expected
    with SAMPLE.open("rb") as handle:
        assert decode_rows(handle)[0] == expected
    assert decode_rows(iter([data[:100], data[100:]]))[0] == expected
    assert decode_rows(chunked(data, [1]))[0] == expected


def test_batches_are_bounded_and_typed() -> None:
    reader = insightkit.read_rdb(SAMPLE, batch_size=3)
    sizes = [batch.num_rows for batch in reader]
    assert sizes and max(sizes) <= 3 and sum(sizes) == sum(reader.metadata.keys_per_db.values())
    with pytest.raises(RuntimeError):
        list(reader)  # single pass


def test_bad_sources_and_options() -> None:
    with pytest.raises(SourceError):
        list(insightkit.read_rdb(12345))
    with pytest.raises(SourceError):
        list(insightkit.read_rdb("/nonexistent/dump.rdb"))
    with pytest.raises(SourceError):
        list(insightkit.read_rdb(io.StringIO("REDIS0009")))
    with pytest.raises(ConfigurationError):
        insightkit.read_rdb(SAMPLE, batch_size=0)
    with pytest.raises(ConfigurationError):
        insightkit.read_rdb(SAMPLE, allocator="tcmalloc")


def test_aof_with_rdb_preamble_stops_at_the_rdb_end() -> None:
    rows, meta = decode_rows(CORPUS / "redis" / "rdb-preamble.aof")
    assert len(rows) == 2 and meta.checksum == "ok"
    assert meta.total_bytes < (CORPUS / "redis" / "rdb-preamble.aof").stat().st_size


_STREAM_SCRIPT = textwrap.dedent(
    """
    import struct, sys
    sys.path.insert(0, sys.argv[1])
    import insightkit
    from insightkit.rdb import crc64

    def stream():
        # ~120 MB RDB: 300k small keys and a 60 MB string value, generated on the fly, CRC included
        crc = 0
        def out(b):
            nonlocal crc
            crc = crc64(b, crc)
            return b
        yield out(b"REDIS0009\\xfe\\x00")
        value = b"x" * 200
        for block in range(300):
            parts = []
            for i in range(1000):
                key = b"key:%d:%d" % (block, i)
                parts.append(b"\\x00" + bytes([len(key)]) + key + b"\\x40\\xc8" + value)
            yield out(b"".join(parts))
        yield out(b"\\x00\\x03big\\x80" + struct.pack(">I", 60 << 20))
        for _ in range(60):
            yield out(b"y" * (1 << 20))
        yield out(b"\\xff")
        yield struct.pack("<Q", crc)

    def hwm():  # peak RSS of this process image (ru_maxrss would include the parent before exec)
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

    # warm up (imports, memory model) on a tiny file so the baseline is the decoder at rest
    list(insightkit.read_rdb(sys.argv[2]))
    base = hwm()
    rows = 0
    for batch in insightkit.read_rdb(stream(), batch_size=8192):
        rows += batch.num_rows
    grew = hwm() - base
    print(rows, grew)
    """
)


def test_long_stream_decodes_in_bounded_memory() -> None:
    """120 MB through an iterator of chunks: peak RSS grows by far less than the stream."""
    repo = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run(
        [sys.executable, "-c", _STREAM_SCRIPT, repo, str(SAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    rows, grew_kib = int(out[0]), int(out[1])
    assert rows == 300_001
    assert grew_kib < 40_000, f"peak RSS grew {grew_kib} KiB for a 120 MB stream"


def test_a_stream_cut_inside_the_checksum_trailer_verifies() -> None:
    """The EOF item is parsed again when its 8-byte trailer arrives in the next chunk; its bytes must
    not be checksummed twice (that failed valid files with a CRC mismatch)."""
    data = SAMPLE.read_bytes()
    for cut in range(len(data) - 10, len(data)):
        reader = insightkit.read_rdb(iter([data[:cut], data[cut:]]))
        reader.read_all()
        assert reader.metadata.checksum == "ok", cut
