"""``analyze(source)`` never holds more than ``sources.AUTO_OUT_OF_CORE_KEYS`` keys of a snapshot whose size
it could not know beforehand: a live server (any size), or an RDB file small in bytes but of many keys.
Past that many keys it goes on out of core, with the same answers as an in-memory analysis."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from acquire_helpers import server_args
from library_workloads import installed, rq_workload
from netfaults import faulty_proxy
from servers import Server, running_server

import insightkit.sources as sources_module
from insightkit.analysis import Analysis, analyze, load
from insightkit.errors import InsightkitError
from insightkit.sources import hold_up_to

REPO = Path(__file__).resolve().parent.parent
SAMPLE_RDB = REPO / "data" / "samples" / "sample.rdb"
FINDING_COLUMNS = ["rule", "estimated_savings_bytes", "offending_keys", "offending_patterns", "top_patterns"]
KEY_TOTALS = ("keys", "memory_bytes", "estimated_savings_bytes")
PATTERN_COLUMNS = ["pattern", "keys", "memory_bytes", "max_memory_bytes", "keys_without_ttl"]


def _same_answers(mem: Analysis, ooc: Analysis) -> None:
    assert not mem.out_of_core and ooc.out_of_core
    assert not mem.recommendations.empty
    pd.testing.assert_frame_equal(
        mem.recommendations[FINDING_COLUMNS], ooc.recommendations[FINDING_COLUMNS], check_dtype=False
    )
    pd.testing.assert_frame_equal(
        mem.patterns[PATTERN_COLUMNS].sort_values("pattern").reset_index(drop=True),
        ooc.patterns[PATTERN_COLUMNS].sort_values("pattern").reset_index(drop=True),
        check_dtype=False,
    )
    s_mem, s_ooc = mem.summary(), ooc.summary()
    for total in KEY_TOTALS:  # (a live server's INFO figures move between two snapshots)
        assert s_mem.totals[total] == s_ooc.totals[total], total
    for name in ("by_db", "by_type", "by_encoding"):
        pd.testing.assert_frame_equal(
            getattr(s_mem, name).reset_index(drop=True),
            getattr(s_ooc, name).reset_index(drop=True),
            check_dtype=False,
        )
    assert mem.metadata.get("library_patterns") == ooc.metadata.get("library_patterns")
    assert sorted(mem.keys["key"]) == sorted(ooc.keys["key"])


@pytest.fixture
def workdirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp directory of the test's own, where out-of-core analyses make their working RSNAPs."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def _left_behind(directory: Path) -> list[Path]:
    return list(directory.glob("insightkit-analysis-*"))


# --- the stream helper ------------------------------------------------------------------------------


def _batches(sizes: list[int]) -> Iterator[pa.RecordBatch]:
    start = 0
    for size in sizes:
        yield pa.record_batch({"n": list(range(start, start + size))})
        start += size


def test_hold_up_to_keeps_a_short_stream_whole() -> None:
    held, rest = hold_up_to(_batches([3, 3, 3]), 10)
    assert rest is None and [b.num_rows for b in held] == [3, 3, 3]


def test_hold_up_to_hands_on_the_whole_stream_in_order_once_past_the_limit() -> None:
    held, rest = hold_up_to(_batches([3, 3, 3, 3]), 6)  # the limit reached on the second batch
    assert held == [] and rest is not None
    values = [v for batch in rest for v in batch.column("n").to_pylist()]
    assert values == list(range(12))


# --- RDB files ------------------------------------------------------------------------------------


def test_a_small_file_of_many_keys_goes_out_of_core(monkeypatch: pytest.MonkeyPatch, workdirs: Path) -> None:
    mem = analyze(SAMPLE_RDB, progress=False, out_of_core=False)
    n = len(mem.keys)
    assert SAMPLE_RDB.stat().st_size < sources_module.AUTO_OUT_OF_CORE_RDB_BYTES  # not by its size
    monkeypatch.setattr(sources_module, "AUTO_OUT_OF_CORE_KEYS", n + 1)
    assert not analyze(SAMPLE_RDB, progress=False, batch_size=512).out_of_core  # one key short
    monkeypatch.setattr(sources_module, "AUTO_OUT_OF_CORE_KEYS", n)
    with analyze(SAMPLE_RDB, progress=False, batch_size=512) as exact:
        assert exact.out_of_core and exact.summary().totals["keys"] == n
    monkeypatch.setattr(sources_module, "AUTO_OUT_OF_CORE_KEYS", 1000)
    with analyze(SAMPLE_RDB, progress=False, batch_size=512) as ooc:
        _same_answers(mem, ooc)
        assert ooc.metadata["method"] == mem.metadata["method"]
    assert not _left_behind(workdirs)  # close() removed the working RSNAP
    # asked for in memory, it stays there whatever its size
    assert not analyze(SAMPLE_RDB, progress=False, out_of_core=False, batch_size=512).out_of_core


# --- live servers -----------------------------------------------------------------------------------


@pytest.fixture
def rq_server() -> Iterator[Server]:
    """A Redis 7.0 whose keys RQ wrote: a backlog nobody works on, kept results, a failed job."""
    if not installed("rq"):
        pytest.fail("rq missing: run .ci/run to install the test dependencies")
    with running_server("redis70", args=server_args("redis70")) as server:
        rq_workload(server, backlog=1500, results=150)
        yield server


@pytest.mark.parametrize("method", ["sync", "dump"])
def test_a_live_snapshot_past_the_limit_goes_on_out_of_core(
    rq_server: Server, method: str, monkeypatch: pytest.MonkeyPatch, workdirs: Path
) -> None:
    mem = analyze(rq_server.url, method=method, progress=False, out_of_core=False, batch_size=128)
    n = len(mem.keys)
    assert n > 1500
    assert mem.metadata.get("library_patterns")  # RQ's families, owned by RQ
    monkeypatch.setattr(sources_module, "AUTO_OUT_OF_CORE_KEYS", n + 1)
    assert not analyze(rq_server.url, method=method, progress=False, batch_size=128).out_of_core
    monkeypatch.setattr(sources_module, "AUTO_OUT_OF_CORE_KEYS", 400)
    with analyze(rq_server.url, method=method, progress=False, batch_size=128) as ooc:
        _same_answers(mem, ooc)
        assert ooc.metadata["method"] == method
        assert ooc.metadata["source"] == mem.metadata["source"]
        assert ooc.summary().totals["keys"] == n
    assert not _left_behind(workdirs)


def test_a_network_fault_after_the_switch_leaves_nothing_behind(
    monkeypatch: pytest.MonkeyPatch, workdirs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with running_server("redis70", args=server_args("redis70")) as server:
        client = server.client()
        pipe = client.pipeline(transaction=False)
        for i in range(6000):
            pipe.set(f"session:{i}", "x" * 200, ex=3600)
        pipe.execute()
        with faulty_proxy(server.port) as proxy:  # how many bytes the replication stream is
            analyze(proxy.url, method="sync", progress=False, out_of_core=False)
            index = max(range(len(proxy.per_connection)), key=lambda i: proxy.per_connection[i])
            total = proxy.per_connection[index]
        monkeypatch.setattr(sources_module, "AUTO_OUT_OF_CORE_KEYS", 1000)  # ~1/6 of the stream
        with (
            faulty_proxy(server.port, cut_after=total * 3 // 4, only_connection=index) as proxy,
            pytest.raises(InsightkitError) as info,
            caplog.at_level(logging.INFO, logger="insightkit.analysis"),
        ):
            analyze(proxy.url, method="sync", progress=False, batch_size=128)
        assert "127.0.0.1" in str(info.value)
        assert "more than 1,000 keys: analyzing out of core" in caplog.text  # cut after the switch
    assert not _left_behind(workdirs)  # neither the spill nor the half-written RSNAP
    assert not [p for p in workdirs.rglob("*") if p.is_file()]


def test_load_keeps_a_big_rsnap_where_it_lies(monkeypatch: pytest.MonkeyPatch, workdirs: Path) -> None:
    """``load()`` treats an RSNAP of many keys as ``analyze()`` does: queried in place, not read whole."""
    rsnap = REPO / "data" / "samples" / "sample.rsnap.parquet"
    mem = load(rsnap)
    assert not mem.out_of_core
    monkeypatch.setattr(sources_module, "AUTO_OUT_OF_CORE_KEYS", 1000)
    with load(rsnap) as big:
        assert big.out_of_core
        assert big.metadata["method"] == mem.metadata["method"] == "rsnap"
        assert big.metadata["original_method"] == mem.metadata["original_method"]
        _same_answers(mem, big)
    assert not load(rsnap, out_of_core=False).out_of_core
    monkeypatch.setattr(sources_module, "AUTO_OUT_OF_CORE_KEYS", 10**9)
    with load(rsnap, out_of_core=True) as asked:
        assert asked.out_of_core and len(asked.keys) == len(mem.keys)
    custom = {"user:*": "users"}
    with (
        load(rsnap, patterns=custom, out_of_core=True) as again,
        load(rsnap, patterns=custom, out_of_core=False) as kept,
    ):
        assert again.out_of_core and not kept.out_of_core  # patterns found again, in place
        for name in ("method", "original_method", "rsnap_source"):
            assert again.metadata[name] == kept.metadata[name], name
        assert sorted(again.patterns["pattern"]) == sorted(kept.patterns["pattern"])
    with pytest.raises(InsightkitError):
        load(SAMPLE_RDB, out_of_core=True)  # an RDB is no RSNAP, whichever way it is loaded
    assert not _left_behind(workdirs)
