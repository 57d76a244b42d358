"""A real 3-primary cluster: analyze → directory RSNAP partitioned by node → load, DuckDB, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import redis
from servers import Server, start_cluster

from insightkit.analysis import analyze, load
from insightkit.schema import KEY_COLUMNS

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cluster() -> Iterator[list[Server]]:
    servers = start_cluster("redis70", 3, args=["--repl-diskless-sync-delay", "0"])
    try:
        client = redis.RedisCluster(host="127.0.0.1", port=servers[0].port)
        pipe = client.pipeline()
        for i in range(600):
            pipe.set(f"user:{i}:name", "x" * (i % 30), ex=3600 if i % 2 else None)
        for i in range(60):
            pipe.hset(f"{{tenant:{i % 5}}}:profile:{i}", mapping={"a": i})
        pipe.execute()
        client.close()
        yield servers
    finally:
        for server in servers:
            server.stop()


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["node", "db", "key"]).reset_index(drop=True)


def test_cluster_round_trip_as_a_node_partitioned_dataset(cluster: list[Server], tmp_path: Path) -> None:
    analysis = analyze(f"redis://127.0.0.1:{cluster[0].port}/0", method="dump", progress=False)
    keys = analysis.keys
    assert len(keys) == 660 and {"node", "slot"} <= set(keys.columns)
    path = analysis.to_rsnap(tmp_path / "cluster.rsnap")
    assert path.is_dir()
    assert sorted(p.name for p in path.iterdir()) == sorted(f"node=127.0.0.1%3A{s.port}" for s in cluster)
    again = load(path)
    columns = [*KEY_COLUMNS, "node", "slot"]
    pd.testing.assert_frame_equal(_sorted(again.keys[columns]), _sorted(keys[columns]), check_dtype=False)
    assert len(again.metadata["nodes"]) == 3
    assert again.summary().to_dict() == analysis.summary().to_dict()
    per_node = (
        duckdb.connect()
        .execute(
            f"select node, count(*) from read_parquet('{path}/*/*.parquet', hive_partitioning=true) group by 1"
        )
        .fetchall()
    )
    assert dict(per_node) == keys["node"].astype(str).value_counts().to_dict()
    result = subprocess.run(
        [sys.executable, "-m", "insightkit", "summary", str(path), "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["keys"] == 660
