"""DUMP method against real servers: the assembled RDB loads into redis-server with identical values."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from acquire_helpers import fill, rows, saved_rows, server_args, table_of
from rdb_population import populate
from servers import FLAVOURS, running_server, start_server

from insightkit.acquire import dump as dump_module
from insightkit.acquire import open_snapshot, snapshot
from insightkit.errors import ConfigurationError
from insightkit.rdb import read_rdb

pytestmark = pytest.mark.server


def _load_into_fresh_server(flavour: str, rdb: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    workdir = tmp_path / f"load-{flavour}"
    workdir.mkdir()
    shutil.copy(rdb, workdir / "dump.rdb")
    return start_server(flavour, workdir=workdir, args=server_args(flavour))


def _all_keys(client) -> list[bytes]:  # type: ignore[no-untyped-def]
    return sorted(client.scan_iter(count=1000))


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_assembled_rdb_loads_with_identical_values(flavour: str, tmp_path: Path) -> None:
    with running_server(flavour, args=server_args(flavour)) as server:
        populate(server, big=False)
        out = tmp_path / "dump.rdb"
        meta = snapshot(server.url, out, method="dump", progress=False)
        assert meta["method"] == "dump" and "fallback_reason" not in meta
        assert meta["rdb"]["checksum"] == "ok"
        source_keyspace = server.client().info("keyspace")
        loaded = _load_into_fresh_server(flavour, out, tmp_path)
        try:
            assert loaded.client().info("keyspace").keys() == source_keyspace.keys()
            for db in source_keyspace:
                n = int(db[2:])
                src, dst = server.client(db=n), loaded.client(db=n)
                assert dst.dbsize() == src.dbsize()
                keys = _all_keys(src)
                assert _all_keys(dst) == keys
                for key in keys:
                    assert dst.execute_command("DEBUG", "DIGEST-VALUE", key) == src.execute_command(
                        "DEBUG", "DIGEST-VALUE", key
                    ), key
                    assert dst.type(key) == src.type(key)
                    src_ttl, dst_ttl = src.pttl(key), dst.pttl(key)
                    if src_ttl < 0:
                        assert dst_ttl == src_ttl, key
                    else:
                        assert abs(dst_ttl - src_ttl) < 5000, key
        finally:
            loaded.stop()
        # The decoder sees the same keys, types and encodings as in what the server saves itself.
        assert rows(read_rdb(str(out)).read_all()) == saved_rows(server)


def test_several_dbs_and_progress_bar(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with running_server("redis70", args=server_args("redis70")) as server:
        total = fill(server, 100, dbs=(0, 5, 15))
        with open_snapshot(server.url, method="dump", progress=True, batch_size=50) as snap:
            table = table_of(snap.batches())
        assert table.num_rows == total
        assert sorted(set(table.column("db").to_pylist())) == [0, 5, 15]
        err = capfd.readouterr().err
        assert "snapshot" in err and f"/{total}" in err  # keys done / DBSIZE
        snapshot(server.url, method="dump", progress=False)
        assert capfd.readouterr().err == ""


def test_empty_server_gives_a_loadable_rdb(tmp_path: Path) -> None:
    with running_server("redis70", args=server_args("redis70")) as server:
        out = tmp_path / "empty.rdb"
        meta = snapshot(server.url, out, method="dump", progress=False)
        assert meta["dump"]["keys"] == 0 and meta["rdb"]["checksum"] == "ok"
        loaded = _load_into_fresh_server("redis70", out, tmp_path)
        try:
            assert loaded.client().dbsize() == 0
            assert "Done loading RDB" in (loaded.workdir / "server.log").read_text()
        finally:
            loaded.stop()


def test_keys_vanishing_between_scan_and_dump_are_skipped_and_counted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with running_server("redis70", args=server_args("redis70")) as server:
        for i in range(600):
            server.client().set(f"k{i}", i)
        deleter = server.client()
        deleted: list[bytes] = []
        original = dump_module.DumpWalker._request

        def request_after_deleting(self, keys, *, next_cursor):  # type: ignore[no-untyped-def]
            # Between SCAN's answer and our DUMP: delete some keys, expire others (a real server does it).
            doomed = keys[::4]
            expired = keys[1::4]
            deleter.delete(*doomed)
            for key in expired:
                deleter.pexpire(key, 1)
            time.sleep(0.005)
            deleted.extend(doomed + expired)
            return original(self, keys, next_cursor=next_cursor)

        monkeypatch.setattr(dump_module.DumpWalker, "_request", request_after_deleting)
        out = tmp_path / "v.rdb"
        meta = snapshot(server.url, out, method="dump", progress=False, scan_count=50)
        assert meta["dump"]["vanished"] == len(deleted) > 0
        assert meta["dump"]["keys"] == 600 - len(deleted)
        table = read_rdb(str(out)).read_all()
        assert table.num_rows == 600 - len(deleted)
        assert not set(table.column("key").to_pylist()) & {k.decode() for k in deleted}


def test_max_ops_per_sec_limits_the_rate() -> None:
    with running_server("redis70", args=server_args("redis70")) as server:
        server.client().mset({f"k{i}": i for i in range(1000)})
        before = int(server.client().info("stats")["total_commands_processed"])
        start = time.monotonic()
        meta = snapshot(server.url, method="dump", progress=False, max_ops_per_sec=4000)
        elapsed = time.monotonic() - start
        ops = meta["dump"]["commands"]
        assert ops >= 2000  # DUMP + PTTL per key
        assert elapsed >= 0.9 * ops / 4000
        # The server saw no more than the limit allows (plus our INFO/CONFIG handful).
        used = int(server.client().info("stats")["total_commands_processed"]) - before
        assert used / elapsed < 4000 * 1.2 + 50
        fast = time.monotonic()
        snapshot(server.url, method="dump", progress=False)
        assert time.monotonic() - fast < elapsed * 0.6
        with pytest.raises(ConfigurationError):
            snapshot(server.url, method="dump", progress=False, max_ops_per_sec=0)


@pytest.mark.parametrize(("policy", "column"), [("allkeys-lru", "lru_idle_s"), ("allkeys-lfu", "lfu_freq")])
def test_lru_and_lfu_are_carried_over(policy: str, column: str) -> None:
    with running_server("valkey81", args=server_args("valkey81", "--maxmemory-policy", policy)) as server:
        fill(server, 30)
        with open_snapshot(server.url, method="dump", progress=False) as snap:
            table = table_of(snap.batches())
        assert table.column(column).null_count == 0
        other = "lfu_freq" if column == "lru_idle_s" else "lru_idle_s"
        assert table.column(other).null_count == table.num_rows
        assert snap.metadata["dump"]["lru"] == ("idle" if column == "lru_idle_s" else "freq")


def test_config_blocked_is_best_effort() -> None:
    args = server_args("redis70", "--rename-command", "CONFIG", "")
    with running_server("redis70", args=args) as server:
        fill(server, 20)
        meta = snapshot(server.url, method="dump", progress=False)
        assert meta["dump"]["keys"] == 27
        assert meta["config"] == {}
        assert (
            "maxmemory-policy" in meta["config_missing"]
            and "hash-max-listpack-entries" in meta["config_missing"]
        )
        assert "mem_allocator" not in meta["config_missing"]  # INFO still answered
        assert meta["server"]["allocator"].startswith("jemalloc")
