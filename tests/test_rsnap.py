"""RSNAP files: round trips, streaming, atomicity, metadata hygiene, versions, datasets, other readers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from keytables import key_batch, key_batches

from insightkit.errors import RsnapError
from insightkit.rsnap import (
    RSNAP_SCHEMA_VERSION,
    RsnapWriter,
    iter_rsnap,
    read_rsnap,
    read_rsnap_metadata,
    write_rsnap,
)
from insightkit.rsnap.format import META_KEY, VERSION_KEY, file_schema
from insightkit.schema import KEY_COLUMNS

META = {
    "method": "file",
    "source": "dump.rdb",
    "snapshot_time_ms": 1_700_000_000_000,
    "server": {"family": "redis", "version": "7.0.15", "allocator": "jemalloc"},
    "rdb": {"rdb_version": 10, "aux": {"redis-ver": "7.0.15"}, "functions": [], "modules": []},
}


def _sql(query: str) -> list[tuple[Any, ...]]:
    return duckdb.connect().execute(query).fetchall()


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_round_trip_file(tmp_path: Path) -> None:
    batches = key_batches(20_000, batch_size=3000)
    path = write_rsnap(tmp_path / "x.rsnap.parquet", iter(batches), META)
    table, metadata = read_rsnap(path)
    assert table.equals(pa.Table.from_batches(batches))
    assert table.column_names == KEY_COLUMNS
    assert metadata == {**META, "rsnap_schema_version": RSNAP_SCHEMA_VERSION, "insightkit_version": "0.1.0"}
    assert read_rsnap_metadata(path) == metadata
    assert _leftovers(tmp_path) == []


def test_a_reread_analysis_is_stored_with_its_original_method(tmp_path: Path) -> None:
    """load() labels an Analysis method="rsnap"; writing it again by any path keeps how the keys were
    read (a report three round trips later still says "sync"), not the label of the last reading."""
    loaded = {**META, "method": "rsnap", "original_method": "sync", "rsnap_source": "/tmp/x"}
    first = write_rsnap(tmp_path / "a.rsnap.parquet", iter(key_batches(10, 10)), loaded)
    stored = read_rsnap_metadata(first)
    assert stored["method"] == "sync"
    assert "original_method" not in stored and "rsnap_source" not in stored
    with RsnapWriter(tmp_path / "b.rsnap.parquet") as writer:
        writer.write(key_batch(0, 5))
        second = writer.close({**stored, "method": "rsnap", "original_method": stored["method"]})
    assert read_rsnap_metadata(second)["method"] == "sync"


def test_streams_into_bounded_row_groups(tmp_path: Path) -> None:
    path = write_rsnap(tmp_path / "x.parquet", iter(key_batches(50_000, 4096)), META, row_group_rows=10_000)
    footer = pq.read_metadata(path)
    sizes = [footer.row_group(i).num_rows for i in range(footer.num_row_groups)]
    assert sizes == [10_000] * 5
    assert max(len(b) for b in iter_rsnap(path, batch_size=7000)) <= 7000
    assert sum(len(b) for b in iter_rsnap(path, columns=["key", "memory_bytes"])) == 50_000


def test_other_readers_open_it_untouched(tmp_path: Path) -> None:
    path = write_rsnap(tmp_path / "x.rsnap.parquet", key_batch(0, 1000), META)
    expected = pa.Table.from_batches([key_batch(0, 1000)])
    assert pq.read_table(path).equals(expected)
    frame = pd.read_parquet(path)
    assert (
        len(frame) == 1000
        and int(frame["memory_bytes"].sum()) == pa.compute.sum(expected["memory_bytes"]).as_py()
    )
    rows = _sql(f"select type, count(*) n, sum(memory_bytes) m from '{path}' group by 1 order by 1")
    assert [r[0] for r in rows] == ["hash", "list", "set", "string", "zset"]
    assert sum(r[1] for r in rows) == 1000
    # the column documentation travels with the schema
    assert b"MEMORY USAGE" in pq.read_schema(path).field("memory_bytes").metadata[b"description"]


def test_failure_mid_stream_leaves_nothing_and_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "x.rsnap.parquet"
    write_rsnap(target, key_batch(0, 10), META)
    before = target.read_bytes()

    def broken() -> Iterator[pa.RecordBatch]:
        yield key_batch(0, 5000)
        raise ConnectionError("transfer died")

    with pytest.raises(ConnectionError):
        write_rsnap(target, broken(), META, row_group_rows=1000)
    assert target.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_failure_inside_context_manager_discards_dataset(tmp_path: Path) -> None:
    target = tmp_path / "cluster.rsnap"
    with pytest.raises(RuntimeError), RsnapWriter(target, META, dataset=True) as writer:
        writer.write(key_batch(0, 100).append_column("node", pa.array(["a:1"] * 100)))
        raise RuntimeError("boom")
    assert not target.exists()
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("column", ["value", "payload", "members"])
def test_refuses_columns_that_could_hold_values(tmp_path: Path, column: str) -> None:
    batch = key_batch(0, 10).append_column(column, pa.array(["secret"] * 10))
    with pytest.raises(RsnapError, match="refusing"):
        write_rsnap(tmp_path / "x.parquet", batch, META)
    assert list(tmp_path.iterdir()) == []


def test_refuses_a_table_without_the_key_columns(tmp_path: Path) -> None:
    with pytest.raises(RsnapError, match="key columns"):
        write_rsnap(tmp_path / "x.parquet", pa.table({"key": ["a"]}), META)


def test_metadata_never_carries_credentials(tmp_path: Path) -> None:
    metadata = {
        **META,
        "source": "redis://admin:hunter2-pw@10.0.0.1:6380/0?password=hunter3-pw",
        "config": {"maxmemory": "0", "requirepass": "hunter4-pw", "masterauth": "hunter5-pw"},
        "nodes": [{"source": "rediss://:hunter6-pw@10.0.0.2:6380", "config": {"requirepass": "hunter7-pw"}}],
    }
    path = write_rsnap(tmp_path / "x.parquet", key_batch(0, 10), metadata)
    assert b"hunter" not in path.read_bytes()
    stored = read_rsnap_metadata(path)
    assert stored["source"] == "redis://10.0.0.1:6380/0?password=***"
    # Secrets survive only as "is it set" (the no-password rule needs that much).
    assert stored["config"] == {"maxmemory": "0", "requirepass": "<set>", "masterauth": "<set>"}
    assert stored["nodes"][0]["source"] == "rediss://10.0.0.2:6380"
    assert stored["nodes"][0]["config"] == {"requirepass": "<set>"}


def test_metadata_is_completed_at_close(tmp_path: Path) -> None:
    """A live snapshot's metadata is complete only after its batches: close() takes the rest."""
    with RsnapWriter(tmp_path / "x.parquet", {"method": "sync"}) as writer:
        writer.write(key_batch(0, 10))
        writer.close({"snapshot_time_ms": 5, "info": {"memory": {"used_memory": "123"}}})
    stored = read_rsnap_metadata(tmp_path / "x.parquet")
    assert stored["method"] == "sync" and stored["snapshot_time_ms"] == 5
    assert stored["info"]["memory"]["used_memory"] == "123"


def test_empty_snapshot_is_a_valid_rsnap(tmp_path: Path) -> None:
    path = write_rsnap(tmp_path / "empty.parquet", iter([]), META)
    table, metadata = read_rsnap(path)
    assert table.num_rows == 0 and table.column_names == KEY_COLUMNS
    assert metadata["method"] == "file"
    assert _sql(f"select count(*) from '{path}'") == [(0,)]


def _raw_parquet(path: Path, table: pa.Table, kv: dict[bytes, bytes] | None) -> None:
    pq.write_table(table.replace_schema_metadata(kv), path)


def test_refuses_newer_schema_versions(tmp_path: Path) -> None:
    path = tmp_path / "future.parquet"
    kv = {META_KEY: json.dumps(META).encode(), VERSION_KEY: str(RSNAP_SCHEMA_VERSION + 1).encode()}
    _raw_parquet(path, pa.Table.from_batches([key_batch(0, 5)]), kv)
    with pytest.raises(RsnapError, match="newer than this insightkit reads"):
        read_rsnap(path)


def test_reads_an_older_file_missing_columns(tmp_path: Path) -> None:
    """Forward compatibility: columns a file predates come back as nulls, the rest unchanged."""
    path = tmp_path / "old.parquet"
    table = pa.Table.from_batches([key_batch(0, 5)]).drop_columns(["stream_pending", "volatile_fields"])
    _raw_parquet(path, table, {META_KEY: json.dumps(META).encode(), VERSION_KEY: b"1"})
    read, _ = read_rsnap(path)
    assert read.column_names == KEY_COLUMNS
    assert read.column("stream_pending").null_count == 5
    assert read.column("key").equals(table.column("key"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not an RSNAP"),
        (b"REDIS0011garbage", "not an RSNAP"),
        (b"PAR1" + b"\0" * 50, "not a valid Parquet"),
    ],
)
def test_bad_files_raise_rsnap_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.parquet"
    path.write_bytes(content)
    with pytest.raises(RsnapError, match=message):
        read_rsnap(path)


def test_plain_parquet_is_not_an_rsnap(tmp_path: Path) -> None:
    path = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"a": [1]}), path)
    with pytest.raises(RsnapError, match="not an RSNAP"):
        read_rsnap(path)
    with pytest.raises(RsnapError, match="no such file"):
        read_rsnap(tmp_path / "missing.parquet")


def _cluster_batches() -> list[pa.RecordBatch]:
    nodes = ["10.0.0.1:7000", "10.0.0.2:7001", "10.0.0.3:7002"]
    out = []
    for i, batch in enumerate(key_batches(9000, 2000)):
        labels = [nodes[(i + j) % 3] for j in range(len(batch))]
        out.append(
            batch.append_column("node", pa.array(labels)).append_column(
                "slot", pa.array([j % 16384 for j in range(len(batch))], pa.int32())
            )
        )
    return out


def test_cluster_dataset_partitioned_by_node(tmp_path: Path) -> None:
    batches = _cluster_batches()
    path = write_rsnap(tmp_path / "cluster.rsnap", iter(batches), {**META, "method": "sync"})
    assert sorted(p.name for p in path.iterdir()) == [
        "node=10.0.0.1%3A7000",
        "node=10.0.0.2%3A7001",
        "node=10.0.0.3%3A7002",
    ]
    table, metadata = read_rsnap(path)
    expected = pa.Table.from_batches(batches)
    order = [("node", "ascending"), ("key", "ascending"), ("db", "ascending")]
    assert table.column_names == [*KEY_COLUMNS, "node", "slot"]
    assert table.sort_by(order).equals(expected.sort_by(order))
    assert metadata["method"] == "sync"
    glob = f"{path}/*/*.parquet"
    rows = _sql(
        f"select node, count(*) from read_parquet('{glob}', hive_partitioning=true) group by 1 order by 1"
    )
    counts = expected.column("node").value_counts().to_pylist()
    want = sorted((c["values"], c["counts"]) for c in counts)
    assert rows == want
    assert sorted(pd.read_parquet(path)["node"].astype(str).value_counts().to_dict().items()) == want


def test_large_dataset_rolls_files(tmp_path: Path) -> None:
    path = write_rsnap(
        tmp_path / "big.rsnap",
        iter(key_batches(25_000, 4000)),
        META,
        dataset=True,
        row_group_rows=5000,
        max_rows_per_file=10_000,
    )
    assert sorted(p.name for p in path.iterdir()) == [f"part-0000{i}.parquet" for i in range(3)]
    table, _ = read_rsnap(path)
    assert table.equals(pa.Table.from_batches(key_batches(25_000, 4000)))
    # overwriting a dataset replaces it whole
    write_rsnap(path, key_batch(0, 10), META, dataset=True)
    assert read_rsnap(path)[0].num_rows == 10


def test_file_schema_orders_columns() -> None:
    schema = file_schema(["pattern", *reversed(KEY_COLUMNS)])
    assert schema.names == [*KEY_COLUMNS, "pattern"]


def test_a_batch_that_changes_shape_aborts_cleanly(tmp_path: Path) -> None:
    def drifting() -> Iterator[pa.RecordBatch]:
        yield key_batch(0, 100)
        yield key_batch(100, 100).append_column("pattern", pa.array(["x:*"] * 100))

    with pytest.raises(RsnapError, match="differ from the file's columns"):
        write_rsnap(tmp_path / "x.parquet", drifting(), META, row_group_rows=50)
    assert list(tmp_path.iterdir()) == []


def test_a_directory_of_several_snapshots_is_not_read_as_one(tmp_path: Path) -> None:
    """Files of one snapshot carry the same metadata; a directory of snapshots taken apart (a server
    today and last week) is a fleet: analyze(), load() and the CLI say so instead of adding them up."""
    import shutil
    import subprocess
    import sys

    from insightkit.analysis import analyze, load

    repo = Path(__file__).resolve().parent.parent
    folder = tmp_path / "snapshots"
    folder.mkdir()
    shutil.copy(repo / "data" / "samples" / "sample.rsnap.parquet", folder / "monday.rsnap.parquet")
    analyze(repo / "data" / "samples" / "sample.rdb", progress=False, allocator="libc").to_rsnap(
        folder / "tuesday.rsnap.parquet"
    )
    import tempfile

    before = set(Path(tempfile.gettempdir()).glob("insightkit-*"))
    for open_it in (
        load,
        lambda p: load(p, out_of_core=True),
        lambda p: analyze(p, progress=False),
        lambda p: analyze(p, out_of_core=True),
    ):
        with pytest.raises(RsnapError, match=r"2 different snapshots .*open_fleet"):
            open_it(folder)
    assert set(Path(tempfile.gettempdir()).glob("insightkit-*")) <= before  # no working copy left
    done = subprocess.run(
        [sys.executable, "-m", "insightkit", "summary", str(folder)], capture_output=True, text=True, cwd=repo
    )
    assert done.returncode == 1 and "2 different snapshots" in done.stderr and "Traceback" not in done.stderr
    from insightkit.fleet import open_fleet

    with open_fleet(folder) as fleet:  # what the message points to: both, as a fleet
        assert int(fleet.summary().totals["keys"]) == 2 * len(load(folder / "monday.rsnap.parquet").keys)
