"""A 3-primary cluster started by the test: every primary snapshotted in parallel, node and slot columns."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from acquire_helpers import table_of
from servers import Server, start_cluster

from insightkit.acquire import open_snapshot, snapshot
from insightkit.acquire.cluster import key_slot

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def cluster() -> Iterator[list[Server]]:
    servers = start_cluster("redis70", 3, args=["--repl-diskless-sync-delay", "0"])
    try:
        client = redis.RedisCluster(host="127.0.0.1", port=servers[0].port)
        pipe = client.pipeline()
        for i in range(1500):
            pipe.set(f"user:{i}", "x" * (i % 50))
        for i in range(100):
            pipe.hset(f"{{tenant:{i % 7}}}:profile:{i}", mapping={"a": i})
        pipe.set(b"bin:\xff{t}", b"v")
        pipe.execute()
        client.close()
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.mark.parametrize("method", ["auto", "dump"])
def test_cluster_snapshot_every_primary(cluster: list[Server], method: str, tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{cluster[1].port}/0"  # any node will do as the entry point
    with open_snapshot(url, method=method, path=tmp_path, progress=False, batch_size=200) as snap:
        table = table_of(snap.batches())
        meta = snap.metadata
    assert table.num_rows == 1601
    assert {"node", "slot"} <= set(table.schema.names)
    nodes = {f"127.0.0.1:{s.port}" for s in cluster}
    assert set(table.column("node").to_pylist()) == nodes
    assert len(meta["nodes"]) == 3
    assert meta["method"] == ("sync" if method == "auto" else "dump")
    assert all(n["rdb"]["checksum"] == "ok" for n in meta["nodes"])
    assert sorted(p.name for p in tmp_path.glob("*.rdb")) == sorted(
        f"127.0.0.1-{s.port}.rdb" for s in cluster
    )
    # Each row's slot is CLUSTER KEYSLOT, and the node is the one that owns that slot.
    by_key = {
        (k, b): (n, s)
        for k, b, n, s in zip(
            table.column("key").to_pylist(),
            table.column("key_binary").to_pylist(),
            table.column("node").to_pylist(),
            table.column("slot").to_pylist(),
            strict=True,
        )
    }
    client = cluster[0].client()
    for key in ["user:1", "user:77", "{tenant:3}:profile:3", "{tenant:5}:profile:12"]:
        node, slot = by_key[(key, False)]
        assert slot == client.execute_command("CLUSTER", "KEYSLOT", key)
        owner = next(n for n in meta["nodes"] if n["node"] == node)
        assert any(lo <= slot <= hi for lo, hi in owner["slots"])
    tagged = {s for (k, _), (_, s) in by_key.items() if k.startswith("{tenant:3}")}
    assert len(tagged) == 1


def test_key_slot_matches_the_server(cluster: list[Server]) -> None:
    client = cluster[0].client()
    for key in [b"", b"a", b"foo{bar}baz", b"{}x", b"{x}{y}", b"\xff\x00{\xfe}", b"user:1000"]:
        assert key_slot(key) == client.execute_command("CLUSTER", "KEYSLOT", key), key


def test_cluster_snapshot_metadata_function(cluster: list[Server]) -> None:
    meta = snapshot(f"127.0.0.1:{cluster[2].port}", progress=False)
    assert meta["cluster"] is True
    assert sum(sum(int(v) for v in n["rdb"]["keys_per_db"].values()) for n in meta["nodes"]) == 1601


def test_analyze_a_cluster_keeps_node_and_slot(cluster: list[Server]) -> None:
    import insightkit

    analysis = insightkit.analyze(f"redis://127.0.0.1:{cluster[0].port}/0", progress=False)
    assert len(analysis.keys) == 1601
    assert analysis.keys["node"].nunique() == 3
    assert analysis.keys["slot"].between(0, 16383).all()
    assert analysis.summary().totals["keys"] == 1601
    assert len(analysis.metadata["nodes"]) == 3
