"""fleet.ingest: the two-pass RDB → RSNAP path, re-reading the source or spilling its rows.

Both ways must write the same RSNAP as each other and the same patterns as the in-memory
``assign_patterns``; a source that changes between the reads, or a failure on the writer thread,
must raise and leave nothing at the target or beside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import insightkit
from insightkit.errors import RsnapError, SourceError
from insightkit.fleet import ingest as ingest_module
from insightkit.fleet.ingest import ingest
from insightkit.rdb import read_rdb
from insightkit.rsnap import read_rsnap

SAMPLE_RDB = Path(__file__).resolve().parent.parent / "data" / "samples" / "sample.rdb"


def _decode(batch_size: int = 1000) -> Iterator[pa.RecordBatch]:
    return iter(read_rdb(str(SAMPLE_RDB), batch_size=batch_size))


def _metadata() -> dict[str, Any]:
    return {"method": "file", "source": str(SAMPLE_RDB)}


def _spilled(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The row spills the ingests that follow write (their paths, once each has a row)."""
    spills: list[Path] = []
    original = ingest_module._RowSpill.write

    def write(self: Any, batch: pa.RecordBatch, codes: Any) -> None:
        original(self, batch, codes)
        if self.path.exists() and self.path not in spills:
            spills.append(self.path)

    monkeypatch.setattr(ingest_module._RowSpill, "write", write)
    return spills


def test_reread_and_spill_write_the_same_rsnap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A source that can be read again is decoded twice and spills nothing; one that cannot has its
    rows spilled and read back. Both give the same RSNAP."""
    spills = _spilled(monkeypatch)
    spilled = ingest(_decode(), _metadata, tmp_path / "b.rsnap.parquet")
    assert [p.name for p in spills] == [".b.rsnap.parquet.rows.arrow"]
    reads = []

    def again() -> Iterator[pa.RecordBatch]:
        reads.append(1)
        return _decode()

    reread = ingest(_decode(), _metadata, tmp_path / "a.rsnap.parquet", reopen=again)
    assert reads == [1] and len(spills) == 1  # decoded a second time, no spill
    a, meta_a = read_rsnap(reread)
    b, meta_b = read_rsnap(spilled)
    assert a.equals(b) and meta_a == meta_b
    assert a.num_rows > 1000  # several batches, so codes were carried across batch boundaries
    # the same pattern per key as the in-memory analysis
    keys = insightkit.analyze(SAMPLE_RDB, progress=False).keys
    expected = dict(zip(keys["key"].astype(str), keys["pattern"].astype(str), strict=True))
    got = dict(zip(a.column("key").to_pylist(), a.column("pattern").to_pylist(), strict=True))
    assert got == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.rsnap.parquet", "b.rsnap.parquet"]


def test_batch_size_does_not_change_the_result(tmp_path: Path) -> None:
    small = ingest(_decode(97), _metadata, tmp_path / "a.rsnap.parquet", reopen=lambda: _decode(97))
    big = ingest(_decode(1 << 16), _metadata, tmp_path / "b.rsnap.parquet", reopen=lambda: _decode(1 << 16))
    assert read_rsnap(small)[0].equals(read_rsnap(big)[0])


@pytest.mark.parametrize("change", ["fewer", "more"])
def test_a_source_that_changes_between_reads_fails_cleanly(tmp_path: Path, change: str) -> None:
    def second_read() -> Iterator[pa.RecordBatch]:
        batches = list(_decode())
        yield from (batches[:-1] if change == "fewer" else [*batches, batches[0]])

    with pytest.raises(SourceError, match=r"second read|changed between"):
        ingest(_decode(), _metadata, tmp_path / "out.rsnap.parquet", reopen=second_read)
    assert list(tmp_path.iterdir()) == []


def test_a_writer_failure_is_raised_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    original = ingest_module.RsnapWriter.write

    def failing(self: Any, data: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RsnapError("disk full (simulated)")
        original(self, data)

    monkeypatch.setattr(ingest_module.RsnapWriter, "write", failing)
    with pytest.raises(RsnapError, match="disk full"):
        ingest(_decode(500), _metadata, tmp_path / "out.rsnap.parquet", reopen=lambda: _decode(500))
    assert list(tmp_path.iterdir()) == []


def test_a_decode_error_in_the_second_read_leaves_nothing(tmp_path: Path) -> None:
    def broken() -> Iterator[pa.RecordBatch]:
        for i, batch in enumerate(_decode(500)):
            if i == 2:
                raise SourceError("connection lost (simulated)")
            yield batch

    with pytest.raises(SourceError, match="connection lost"):
        ingest(_decode(500), _metadata, tmp_path / "out.rsnap.parquet", reopen=broken)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_source_gives_an_empty_rsnap(tmp_path: Path) -> None:
    for name, reopen in (("a", lambda: iter(())), ("b", None)):
        target = ingest(iter(()), _metadata, tmp_path / f"{name}.rsnap.parquet", reopen=reopen)
        table = pq.read_table(target)
        assert table.num_rows == 0 and "pattern" in table.column_names


def test_the_rsnap_writer_thread_is_waited_for_after_an_interrupt() -> None:
    """Ctrl-C (or terminate_cleanly's SIGTERM) while the producer waits for the writer thread: leaving
    the block still waits until the batch being written is done, so the writer is never aborted under
    the thread's feet (on CPython < 3.13 an interrupted ``Thread.join`` can mark a running thread as
    stopped: that was a segfault in the Parquet encoder)."""
    import os
    import signal
    import threading
    import time

    written: list[int] = []

    def slow_write(item: int) -> None:
        time.sleep(0.4)
        written.append(item)

    with pytest.raises(KeyboardInterrupt), ingest_module._Background(slow_write) as background:
        background.put(1)
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
        background.join()
    assert written == [1]
