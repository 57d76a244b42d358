"""Replica method against real servers: disk and diskless payloads, auth, ACLs, TLS, renamed commands."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import redis
from acquire_helpers import SECRET, fill, rows, saved_rows, server_args, table_of
from servers import FLAVOURS as FLAVOUR_SPECS
from servers import Server, find_cli, make_tls_files, running_server, start_tls_server, tls_client

from insightkit.acquire import open_snapshot, snapshot
from insightkit.errors import AuthenticationFailed, InsightkitError, ReplicationRefused, SnapshotError
from insightkit.rdb import read_rdb

pytestmark = pytest.mark.server
FLAVOURS = sorted(FLAVOUR_SPECS)


def _transfer_the_server_chose(server: Server) -> str:
    log = (server.workdir / "server.log").read_text(errors="replace")
    targets = [line for line in log.splitlines() if "Starting BGSAVE for SYNC with target:" in line]
    assert targets, "the server logged no full sync"
    return "diskless" if "target: replicas sockets" in targets[-1] else "disk"


@pytest.mark.parametrize("diskless", ["no", "yes"])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_sync_matches_what_the_server_saves(flavour: str, diskless: str, tmp_path: Path) -> None:
    with running_server(flavour, args=server_args(flavour, "--repl-diskless-sync", diskless)) as server:
        fill(server, 200, dbs=(0, 2, 15))
        out = tmp_path / "snap.rdb"
        with open_snapshot(server.url, method="sync", path=out, progress=False, batch_size=100) as snap:
            table = table_of(snap.batches())
            meta = snap.metadata
        assert rows(table) == saved_rows(server)
        assert meta["method"] == "sync"
        # The server's own log says which transfer it chose (Valkey 9.1 streams over the socket to a
        # replica that announces EOF support even with repl-diskless-sync no).
        assert meta["transfer"]["format"] == _transfer_the_server_chose(server)
        if flavour != "valkey91":
            assert meta["transfer"]["format"] == ("diskless" if diskless == "yes" else "disk")
        assert meta["transfer"]["complete"] is True
        assert meta["rdb"]["checksum"] == "ok"
        assert meta["rdb"]["keys_per_db"] == {"0": 207, "2": 207, "15": 207} or meta["rdb"][
            "keys_per_db"
        ] == {
            0: 207,
            2: 207,
            15: 207,
        }
        # The file written on the way holds exactly the bytes that were decoded.
        assert out.stat().st_size == meta["transfer"]["received_bytes"]
        assert rows(read_rdb(str(out)).read_all()) == rows(table)
        assert not list(tmp_path.glob("*.part"))
        assert meta["server"]["family"] == FLAVOUR_SPECS[flavour].family
        for section in ("server", "memory", "keyspace", "clients", "stats", "persistence"):
            assert meta["info"][section], section
        assert "hash-max-ziplist-entries" in meta["config"] or "hash-max-listpack-entries" in meta["config"]
        assert meta["config"]["maxmemory-policy"] == "noeviction"
        assert meta["config_missing"] == []
        # The master dropped us: no replica lingers.
        deadline = time.monotonic() + 5
        while server.client().info("replication")["connected_slaves"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.client().info("replication")["connected_slaves"] == 0


def test_sync_payload_equals_redis_cli_rdb(tmp_path: Path) -> None:
    """The bytes we receive decode to the same keys as what `redis-cli --rdb` fetches."""
    with running_server("redis70", args=server_args("redis70", "--repl-diskless-sync", "no")) as server:
        fill(server, 500)
        cli_out = tmp_path / "cli.rdb"
        import subprocess

        subprocess.run(
            [find_cli("redis70") or "redis-cli", "-p", str(server.port), "--rdb", str(cli_out)],
            check=True,
            capture_output=True,
            timeout=60,
        )
        ours = tmp_path / "ours.rdb"
        meta = snapshot(server.url, ours, method="sync", progress=False)
        assert ours.stat().st_size == meta["transfer"]["expected_bytes"]
        # Both are the master's BGSAVE output: same size; only aux timestamps may differ.
        assert ours.stat().st_size == cli_out.stat().st_size
        assert rows(read_rdb(str(ours)).read_all()) == rows(read_rdb(str(cli_out)).read_all())


def test_requirepass_and_no_credentials_anywhere(tmp_path: Path) -> None:
    with running_server("redis70", args=server_args("redis70"), password=SECRET) as server:
        fill(server, 50)
        url = f"redis://default:{SECRET}@127.0.0.1:{server.port}/0"
        meta = snapshot(url, tmp_path / "a.rdb", progress=False)
        assert meta["method"] == "sync"
        assert SECRET not in json.dumps(meta, default=str)
        assert meta["source"] == f"redis://127.0.0.1:{server.port}/0"
        # Password as an option instead of in the URL.
        meta = snapshot(f"127.0.0.1:{server.port}", password=SECRET, method="dump", progress=False)
        assert meta["method"] == "dump" and SECRET not in json.dumps(meta, default=str)
        # Wrong password: a clear error that does not repeat it.
        wrong = SECRET + "-wrong"
        for method in ("sync", "dump"):
            with pytest.raises(AuthenticationFailed) as info:
                snapshot(f"redis://:{wrong}@127.0.0.1:{server.port}/0", method=method, progress=False)
            text = f"{info.value!s} {info.value!r} {info.value.__cause__!r} {info.value.__context__!r}"
            assert SECRET not in text and "127.0.0.1" in text
        # No password at all
        with pytest.raises(InsightkitError) as info:
            snapshot(f"redis://127.0.0.1:{server.port}/0", progress=False)
        assert "NOAUTH" in str(info.value) or "auth" in str(info.value).lower()


def _acl_server(flavour: str, **kwargs: object):  # type: ignore[no-untyped-def]
    return running_server(
        flavour,
        args=server_args(flavour),
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_acl_users_with_and_without_replication_rights(flavour: str) -> None:
    with _acl_server(flavour) as server:
        fill(server, 40)
        admin = server.client()
        base = [
            "on",
            f">{SECRET}",
            "~*",
            "+@read",
            "+@connection",
            "+info",
            "+select",
            "+scan",
            "+dump",
            "+pttl",
        ]
        base += ["+object", "+config|get", "+cluster|info", "+replconf", "+client"]
        admin.execute_command("ACL", "SETUSER", "reader", *base)
        admin.execute_command("ACL", "SETUSER", "replicator", *base, "+sync", "+psync")
        url = "redis://{user}:" + SECRET + "@127.0.0.1:" + str(server.port) + "/0"

        meta = snapshot(url.format(user="replicator"), progress=False)
        assert meta["method"] == "sync" and "fallback_reason" not in meta

        meta = snapshot(url.format(user="reader"), progress=False)
        assert meta["method"] == "dump"
        assert "NOPERM" in meta["fallback_reason"] and "psync" in meta["fallback_reason"].lower()
        assert meta["dump"]["keys"] == 47
        assert SECRET not in json.dumps(meta, default=str)

        with pytest.raises(ReplicationRefused) as info:
            snapshot(url.format(user="reader"), method="sync", progress=False)
        assert "NOPERM" in str(info.value) and SECRET not in str(info.value)


@pytest.mark.parametrize(
    "renamed",
    [
        ["--rename-command", "SYNC", ""],
        ["--rename-command", "PSYNC", "", "--rename-command", "SYNC", "hidden-sync"],
    ],
)
def test_renamed_replication_commands_fall_back_to_dump(renamed: list[str]) -> None:
    with running_server("redis70", args=server_args("redis70", *renamed)) as server:
        fill(server, 30)
        meta = snapshot(server.url, progress=False)
        if "PSYNC" in renamed:
            assert meta["method"] == "dump"
            assert "unknown command" in meta["fallback_reason"].lower()
        else:  # only SYNC renamed: PSYNC still works
            assert meta["method"] == "sync"


def test_both_renamed_refuses_forced_sync() -> None:
    args = server_args("redis70", "--rename-command", "PSYNC", "", "--rename-command", "SYNC", "")
    with running_server("redis70", args=args) as server:
        fill(server, 10)
        with pytest.raises(ReplicationRefused, match="SYNC"):
            snapshot(server.url, method="sync", progress=False)
        assert snapshot(server.url, progress=False)["method"] == "dump"


def test_replica_without_master_link_refuses() -> None:
    """A replica whose master is gone answers -NOMASTERLINK: ReplicationRefused, and auto falls back."""
    from servers import free_port

    dead = free_port()
    with running_server(
        "redis70", args=server_args("redis70", "--replicaof", "127.0.0.1", str(dead))
    ) as server:
        with pytest.raises(ReplicationRefused, match=r"NOMASTERLINK|master"):
            snapshot(server.url, method="sync", progress=False, socket_timeout=5)
        meta = snapshot(server.url, progress=False)
        assert meta["method"] == "dump" and "fallback_reason" in meta


def test_tls_with_client_certificates(tmp_path: Path) -> None:
    files = make_tls_files(tmp_path / "tls")
    server = start_tls_server("redis70", files, password=SECRET, args=server_args("redis70"))
    try:
        client = tls_client(server, files)
        client.mset({f"k{i}": i for i in range(100)})
        url = f"rediss://:{SECRET}@127.0.0.1:{server.port}/0"
        tls = {
            "ssl_ca_certs": files["ca"],
            "ssl_certfile": files["client_cert"],
            "ssl_keyfile": files["client_key"],
        }
        for method in ("sync", "dump"):
            with open_snapshot(url, method=method, progress=False, **tls) as snap:
                table = table_of(snap.batches())
            assert table.num_rows == 100
            assert snap.metadata["source"].startswith("rediss://127.0.0.1:")
        # A redis-py client carries its TLS settings over.
        assert snapshot(client, progress=False)["method"] == "sync"
        # Without the CA the server's certificate is not trusted: a clear error, no hang.
        with pytest.raises(InsightkitError, match=r"TLS|certificate"):
            snapshot(url, progress=False, ssl_certfile=files["client_cert"], ssl_keyfile=files["client_key"])
    finally:
        server.stop()


def test_unix_socket_and_redis_py_client(tmp_path: Path) -> None:
    sock = tmp_path / "r.sock"
    with running_server("redis70", args=server_args("redis70", "--unixsocket", str(sock))) as server:
        fill(server, 20)
        meta = snapshot(f"unix://{sock}", progress=False)
        assert meta["method"] == "sync" and meta["rdb"]["checksum"] == "ok"
        assert meta["source"].startswith("unix://")
        meta = snapshot(redis.Redis(unix_socket_path=str(sock)), method="dump", progress=False)
        assert meta["dump"]["keys"] == 27


@pytest.mark.parametrize("method", ["sync", "dump"])
def test_writes_during_the_snapshot(method: str) -> None:
    """Writers keep going while we snapshot: a coherent result, counts within what existed."""
    with running_server("redis70", args=server_args("redis70", "--repl-diskless-sync", "yes")) as server:
        fill(server, 3000)
        before = server.client().dbsize()
        stop = threading.Event()
        written = [0]

        def writer() -> None:
            client = server.client()
            while not stop.is_set() and written[0] < 50_000:
                pipe = client.pipeline(transaction=False)
                for _ in range(50):
                    pipe.set(f"new:{written[0]}", "x" * 30)
                    pipe.incr("counter")
                    written[0] += 1
                pipe.execute()

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            time.sleep(0.05)
            with open_snapshot(server.url, method=method, progress=False, scan_count=100) as snap:
                table = table_of(snap.batches())
        finally:
            stop.set()
            thread.join()
        after = server.client().dbsize()
        assert before <= table.num_rows <= after
        assert len(set(table.column("key").to_pylist())) == table.num_rows  # no duplicates
        assert snap.metadata["rdb"]["checksum"] == "ok"


def test_batches_are_decoded_while_the_payload_arrives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No temp file and no waiting for the whole payload: the first rows come out long before the end."""
    monkeypatch.chdir(tmp_path)
    args = server_args("redis70", "--repl-diskless-sync", "yes", "--rdb-key-save-delay", "100")
    with running_server("redis70", args=args) as server:
        fill(server, 2000)
        start = time.monotonic()
        first = None
        rows_seen = 0
        with open_snapshot(server.url, method="sync", progress=False, batch_size=100) as snap:
            for batch in snap.batches():
                if first is None:
                    first = time.monotonic() - start
                    assert list(tmp_path.iterdir()) == []  # nothing written to disk on the way
                rows_seen += batch.num_rows
        total = time.monotonic() - start
        assert rows_seen == 2007 and first is not None
        assert first < total / 2, (first, total)


def test_leaving_early_closes_the_replica_connection() -> None:
    with running_server("redis70", args=server_args("redis70", "--repl-diskless-sync", "yes")) as server:
        fill(server, 3000)
        with open_snapshot(server.url, method="sync", progress=False, batch_size=100) as snap:
            batches = snap.batches()
            assert next(batches).num_rows == 100
        with pytest.raises(StopIteration):
            next(batches)
        deadline = time.monotonic() + 5
        while server.client().info("replication")["connected_slaves"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.client().info("replication")["connected_slaves"] == 0


def test_diskless_end_mark_found_across_small_paced_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 40-byte end mark may straddle reads of any size; paced reads change nothing in the output."""
    from insightkit.acquire import replica
    from insightkit.errors import TransferInterrupted

    class FakeConn:
        def __init__(self, reads: list[bytes]) -> None:
            self.reads = reads

        def recv(self) -> bytes:
            return self.reads.pop(0) if self.reads else b""

    def stream_of(reads: list[bytes]) -> replica.ReplicaStream:
        stream = object.__new__(replica.ReplicaStream)
        stream.where = "fake"
        stream.transfer = replica.Transfer()
        stream.conn = FakeConn(reads)  # type: ignore[assignment]
        return stream

    monkeypatch.setattr(replica, "PACE_S", 0.0005)
    mark = b"0123456789abcdef0123456789abcdef01234567"
    assert len(mark) == replica.EOF_MARK_LEN
    payload = bytes(range(256)) * 40 + mark[:39] + b"X" + mark[1:]  # near-marks at the end
    wire = payload + mark + b"\n*1\r\n$4\r\nPING\r\n"  # what follows the mark is not ours
    for piece in (1, 7, 39, 40, 41, 1000, 70_000):
        stream = stream_of([wire[i : i + piece] for i in range(0, len(wire), piece)])
        assert b"".join(stream._until_mark(mark)) == payload, piece
        assert stream.transfer.received_bytes == len(payload)
    # a stream that stops before the mark is an interrupted transfer, never a complete one
    with pytest.raises(TransferInterrupted):
        b"".join(stream_of([payload[:5000]])._until_mark(mark))


@pytest.mark.parametrize("diskless", ["no", "yes"])
def test_diskless_payloads_are_decoded_on_one_thread(diskless: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A diskless master's child writes the stream while we read it: a second decoding thread would only
    take its core. A disk-based payload arrives all at once after the fork: both cores decode it."""
    import importlib

    snapshot_module = importlib.import_module("insightkit.acquire.snapshot")
    seen: list[object] = []
    real = snapshot_module.read_rdb

    def spy(source: object, **options: object) -> object:
        seen.append(options.get("threads"))
        return real(source, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(snapshot_module, "read_rdb", spy)
    with running_server("redis70", args=server_args("redis70", "--repl-diskless-sync", diskless)) as server:
        fill(server, 50)
        meta = snapshot(server.url, method="sync", progress=False)
    assert meta["transfer"]["format"] == ("diskless" if diskless == "yes" else "disk")
    assert seen == ([1] if diskless == "yes" else [None])


def test_an_acl_user_limited_to_some_keys_is_told_what_a_snapshot_needs() -> None:
    """DUMP of a key outside the user's key patterns (~app:*) fails: the message names the key as
    redis-cli quotes it (not a Python bytes repr) and says the user needs ~*."""
    with _acl_server("redis70") as server:
        admin = server.client()
        admin.set("app:1", "x")
        admin.set("other:1", "y")
        admin.execute_command(
            "ACL", "SETUSER", "narrow", "on", f">{SECRET}", "~app:*", "+@read", "+@connection", "+info",
            "+select", "+scan", "+dump", "+pttl", "+pexpiretime", "+config|get", "+client",
        )  # fmt: skip
        url = f"redis://narrow:{SECRET}@127.0.0.1:{server.port}/0"
        with pytest.raises(SnapshotError) as info:
            snapshot(url, method="dump", progress=False)
        message = str(info.value)
        assert "NOPERM" in message and "failed for key other:1:" in message and "b'" not in message
        assert "needs ~*" in message and SECRET not in message
