"""insightkit.fleet on an RSNAP dataset written by three real servers (one snapshotted twice).

Oracle: the in-memory pandas path on the very same keys — Summary per snapshot, aggregate_patterns
and the rules engine over the concatenated key tables. DuckDB (default) and a Dask LocalCluster must
both agree with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from fleet_data import FleetFiles, make_fleet

from insightkit.errors import ConfigurationError, RsnapError
from insightkit.fleet import Fleet, open_fleet
from insightkit.fleet import rules as fleet_rules
from insightkit.patterns import aggregate_patterns, assign_patterns
from insightkit.rsnap import RsnapWriter, write_rsnap

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def fleet_files(tmp_path_factory: pytest.TempPathFactory) -> FleetFiles:
    return make_fleet(tmp_path_factory.mktemp("fleet") / "dataset")


@pytest.fixture(scope="module")
def fleet(fleet_files: FleetFiles) -> Iterator[Fleet]:
    with open_fleet(fleet_files.root) as opened:
        yield opened


@pytest.fixture(scope="module")
def dask_client() -> Iterator[object]:
    import distributed

    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="module")
def dask_fleet(fleet_files: FleetFiles, dask_client: object) -> Iterator[Fleet]:
    with open_fleet(fleet_files.root, engine="dask", client=dask_client) as opened:
        yield opened


def _all_keys(files: FleetFiles) -> pd.DataFrame:
    return pd.concat([a.keys for a in files.analyses.values()], ignore_index=True)


def test_dataset_is_scanned_from_footers(fleet: Fleet, fleet_files: FleetFiles) -> None:
    assert fleet.dataset.partition_columns == ["instance", "time"]
    assert len(fleet.dataset.files) == len(fleet_files.analyses) == 4
    assert fleet.dataset.rows == sum(len(a.keys) for a in fleet_files.analyses.values())
    nodes = fleet.metadata["nodes"]
    assert {(n["partitions"]["instance"], n["partitions"]["time"]) for n in nodes} == set(
        fleet_files.analyses
    )
    assert {n["server"]["family"] for n in nodes} == {"redis", "valkey"}


def test_summary_equals_the_sum_of_each_snapshots_summary(fleet: Fleet, fleet_files: FleetFiles) -> None:
    summary = fleet.summary()
    per_snapshot = [a.summary() for a in fleet_files.analyses.values()]
    assert summary.totals["keys"] == sum(s.totals["keys"] for s in per_snapshot)
    assert summary.totals["memory_bytes"] == sum(s.totals["memory_bytes"] for s in per_snapshot)
    assert summary.totals["dataset_overhead_bytes"] == sum(
        s.totals["dataset_overhead_bytes"] for s in per_snapshot
    )
    # TTL buckets: each key measured from its own snapshot's time.
    expected_ttl = sum(s.ttl_buckets.set_index("bucket")["keys"] for s in per_snapshot)
    assert summary.ttl_buckets.set_index("bucket")["keys"].tolist() == expected_ttl.tolist()
    expected_enc = (
        pd.concat([s.by_encoding for s in per_snapshot]).groupby(["type", "encoding"])["memory_bytes"].sum()
    )
    got_enc = summary.by_encoding.set_index(["type", "encoding"])["memory_bytes"]
    assert got_enc.sort_index().to_dict() == expected_enc.sort_index().to_dict()
    partitions = summary.by_partition.set_index(["instance", "time"])
    for (instance, time), analysis in fleet_files.analyses.items():
        assert partitions.loc[(instance, time), "keys"] == len(analysis.keys)
    assert summary.by_partition["share"].sum() == pytest.approx(1.0)
    assert "By partition" in str(summary) and "cache-c" in str(summary)
    assert summary.to_dict()["by_partition"][0]["instance"] in {"cache-a", "cache-b"}


def test_patterns_equal_pandas_aggregation(fleet: Fleet, fleet_files: FleetFiles) -> None:
    expected = aggregate_patterns(_all_keys(fleet_files)).set_index("pattern")
    got = fleet.patterns.set_index("pattern")
    assert sorted(got.index) == sorted(expected.index)
    for column in ("keys", "memory_bytes", "max_memory_bytes", "keys_without_ttl"):
        assert got[column].to_dict() == expected[column].reindex(got.index).to_dict(), column
    assert got.loc["invoice:*:pdf", "partitions"] == 1  # only cache-c's second snapshot has invoices
    assert got.loc["user:*:profile", "partitions"] == 4
    assert got["memory_bytes"].is_monotonic_decreasing


def test_rules_are_the_rules_engines_own(fleet: Fleet, fleet_files: FleetFiles) -> None:
    expected = fleet_rules.evaluate(_all_keys(fleet_files), fleet.metadata)  # pandas, same definitions
    got = fleet.recommendations
    assert len(got) > 0
    columns = ["rule", "estimated_savings_bytes", "offending_keys", "offending_memory_bytes"]
    pd.testing.assert_frame_equal(
        got[columns].sort_values("rule").reset_index(drop=True),
        expected[columns].sort_values("rule").reset_index(drop=True),
        check_dtype=False,
    )
    rule = str(got.loc[got["offending_keys"] > 0, "rule"].iloc[0])
    rows = fleet.offenders(rule)
    assert len(rows) == int(got.set_index("rule").loc[rule, "offending_keys"])
    assert {"instance", "time"} <= set(rows.columns)  # offenders say where they live
    with pytest.raises(ConfigurationError):  # an InsightkitError, like every bad argument
        fleet.offenders("no-such-rule")


def test_dask_engine_agrees_with_duckdb(fleet: Fleet, dask_fleet: Fleet) -> None:
    duck, dask = fleet.summary(), dask_fleet.summary()
    for name in ("by_db", "by_type", "by_encoding", "ttl_buckets", "by_partition"):
        pd.testing.assert_frame_equal(
            getattr(dask, name).reset_index(drop=True),
            getattr(duck, name).reset_index(drop=True),
            check_dtype=False,
            obj=name,
        )
    assert dask.totals == duck.totals
    # the pattern table: the same partial and merge queries, so equal but for the TTL median, which
    # Dask merges from its partitions' approximate medians (weighted by keys)
    exact = [c for c in fleet.patterns.columns if c != "ttl_median_s"]
    pd.testing.assert_frame_equal(dask_fleet.patterns[exact], fleet.patterns[exact], check_dtype=False)
    both = pd.concat([dask_fleet.patterns, fleet.patterns["ttl_median_s"].rename("duck")], axis=1).dropna(
        subset=["duck"]
    )
    # within a tenth of the pattern's TTL span, plus a second: both are t-digest estimates whose
    # threads merge in no fixed order, so where every TTL lies within a second of the others they
    # may differ by fractions of it (0.375 s seen on a 1 s span)
    span = (both["ttl_max_s"] - both["ttl_min_s"]).astype(float)
    assert ((both["ttl_median_s"].astype(float) - both["duck"].astype(float)).abs() <= 0.1 * span + 1).all()


def test_dask_engine_runs_the_same_rules(fleet: Fleet, dask_fleet: Fleet) -> None:
    columns = [
        "rule",
        "estimated_savings_bytes",
        "offending_keys",
        "offending_patterns",
        "offending_memory_bytes",
    ]
    pd.testing.assert_frame_equal(
        dask_fleet.recommendations[columns].sort_values("rule").reset_index(drop=True),
        fleet.recommendations[columns].sort_values("rule").reset_index(drop=True),
        check_dtype=False,
    )
    assert dask_fleet.recommendations["fix"].tolist() == fleet.recommendations["fix"].tolist()
    rule = str(fleet.recommendations.loc[fleet.recommendations["offending_keys"] > 0, "rule"].iloc[0])
    duck_rows, dask_rows = fleet.offenders(rule), dask_fleet.offenders(rule)
    assert sorted(dask_rows["key"]) == sorted(duck_rows["key"])
    assert int(dask_rows["estimated_savings_bytes"].sum()) == int(duck_rows["estimated_savings_bytes"].sum())


def test_repattern_discovers_fleet_wide(fleet_files: FleetFiles, tmp_path: Path) -> None:
    """Files without a pattern column get patterns discovered over every key of the fleet."""
    root = tmp_path / "bare"
    for (instance, time), analysis in fleet_files.analyses.items():
        target = root / f"instance={instance}" / f"time={time}"
        target.mkdir(parents=True)
        bare = analysis.keys.drop(columns=["pattern"])
        write_rsnap(target / "part-00000.parquet", bare, analysis.metadata)
    with open_fleet(root, workdir=tmp_path / "work") as fleet:
        assert fleet.dataset.has_patterns and fleet.dataset.root == tmp_path / "work"
        got = fleet.patterns.set_index("pattern")["keys"].to_dict()
    keys = _all_keys(fleet_files)
    keys = keys.assign(pattern=assign_patterns(keys.drop(columns=["pattern"])))
    expected = aggregate_patterns(keys).set_index("pattern")["keys"].to_dict()
    assert got == expected


def test_cluster_node_partitions(fleet_files: FleetFiles, tmp_path: Path) -> None:
    """A cluster snapshot (node=host%3Aport directories, as RsnapWriter writes them) is a fleet too."""
    analysis = next(iter(fleet_files.analyses.values()))
    table = pa.Table.from_pandas(analysis.keys, preserve_index=False)
    nodes = pa.array(["127.0.0.1:7001" if i % 3 else "127.0.0.1:7002" for i in range(len(table))])
    with RsnapWriter(tmp_path / "cluster.rsnap", analysis.metadata, dataset=True) as writer:
        writer.write(table.append_column("node", nodes))
    with open_fleet(tmp_path / "cluster.rsnap") as fleet:
        by_node = fleet.summary().by_partition.set_index("node")["keys"].to_dict()
    assert by_node == {"127.0.0.1:7001": len(table) - len(table[::3]), "127.0.0.1:7002": len(table[::3])}


def test_bad_datasets(tmp_path: Path, fleet_files: FleetFiles) -> None:
    with pytest.raises(RsnapError, match="no such file"):
        open_fleet(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RsnapError, match="no RSNAP files"):
        open_fleet(tmp_path / "empty")
    with pytest.raises(ConfigurationError, match="engine"):
        open_fleet(fleet_files.root, engine="spark")  # type: ignore[arg-type]
    (tmp_path / "plain").mkdir()
    pa.parquet.write_table(pa.table({"x": [1]}), tmp_path / "plain" / "x.parquet")
    with pytest.raises(RsnapError, match="not an RSNAP"):
        open_fleet(tmp_path / "plain")


def test_ingest_rdb_matches_analyze(tmp_path: Path) -> None:
    """The bounded-memory RDB → RSNAP path gives the same patterns and findings as analyze()."""
    from present_data import make_rdb

    import insightkit
    from insightkit.fleet.ingest import ingest_rdb

    rdb = make_rdb(tmp_path / "sample.rdb")
    analysis = insightkit.analyze(rdb, progress=False)
    target = tmp_path / "sample.rsnap.parquet"
    with ingest_rdb(rdb, target) as fleet:
        columns = ["keys", "memory_bytes", "max_memory_bytes"]
        pd.testing.assert_frame_equal(
            fleet.patterns.set_index("pattern")[columns].sort_index(),
            analysis.patterns.set_index("pattern")[columns].sort_index(),
            check_dtype=False,
        )
        findings = ["rule", "estimated_savings_bytes", "offending_keys"]
        pd.testing.assert_frame_equal(
            fleet.recommendations[findings].sort_values("rule").reset_index(drop=True),
            analysis.recommendations[findings].sort_values("rule").reset_index(drop=True),
            check_dtype=False,
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "sample.rdb",
        "sample.rsnap.parquet",
    ]  # no scratch left
    loaded = insightkit.load(target)
    assert loaded.metadata["original_method"] == "file" and len(loaded.keys) == len(analysis.keys)
    by_key = loaded.keys.set_index("key")["pattern"].astype(str)
    expected = analysis.keys.set_index("key")["pattern"].astype(str)
    assert by_key.sort_index().tolist() == expected.sort_index().tolist()


def test_a_fleet_of_snapshots_taken_apart_calls_no_key_expired_that_was_not(tmp_path: Path) -> None:
    """Two snapshots an hour apart: the earlier one's keys expire half an hour after it was taken.
    Judged at the later snapshot's clock they would look expired; no snapshot holds an expired key."""
    import pyarrow.compute as pc
    from keytables import key_batch

    earlier = 1_800_000_000_000
    for part in ("time=1", "time=2"):
        (tmp_path / "fleet" / part).mkdir(parents=True)
    batch = key_batch(0, 400)
    soon = pc.if_else(pc.is_valid(batch.column("expires_at")), earlier + 1_800_000, None)
    batch = batch.set_column(batch.schema.get_field_index("expires_at"), "expires_at", soon.cast(pa.int64()))
    write_rsnap(tmp_path / "fleet" / "time=1" / "a.rsnap.parquet", batch, {"snapshot_time_ms": earlier})
    later = key_batch(1000, 400)
    later = later.set_column(
        later.schema.get_field_index("expires_at"), "expires_at", pa.nulls(len(later), pa.int64())
    )
    write_rsnap(
        tmp_path / "fleet" / "time=2" / "b.rsnap.parquet", later, {"snapshot_time_ms": earlier + 3_600_000}
    )
    with open_fleet(tmp_path / "fleet") as fleet:
        assert "expired-keys" not in set(fleet.recommendations["rule"])
        assert fleet.metadata["snapshot_time_ms"] == earlier


def test_a_fleets_working_copy_goes_even_without_close(tmp_path: Path) -> None:
    """An RSNAP without patterns is copied with them into a working directory; a Fleet dropped, or a
    program that ends, without close() leaves nothing of it behind."""
    import gc
    import os
    import subprocess
    import sys

    from insightkit.analysis import convert

    plain = convert(
        Path(__file__).resolve().parent.parent / "data" / "samples" / "sample.rdb",
        tmp_path / "plain.rsnap.parquet",
        progress=False,
    )
    work = tmp_path / "tmp"
    work.mkdir()
    script = (
        "import sys, tempfile; tempfile.tempdir = sys.argv[2]\n"
        "from insightkit.fleet import open_fleet\n"
        "fleet = open_fleet(sys.argv[1]); print(len(fleet.patterns))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(plain), str(work)], capture_output=True, text=True
    )
    assert done.returncode == 0 and int(done.stdout) > 0, done.stderr
    assert os.listdir(work) == []  # the program ended without close()
    fleet = open_fleet(plain)
    copies = [p for p in Path(fleet.dataset.root).parents if p.name.startswith("insightkit-fleet-")]
    copies += (
        [Path(fleet.dataset.root)] if Path(fleet.dataset.root).name.startswith("insightkit-fleet-") else []
    )
    assert copies and copies[0].exists()
    del fleet
    gc.collect()
    assert not copies[0].exists()
