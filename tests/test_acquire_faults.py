"""Broken networks and dying servers: a clear InsightkitError, never a result that looks complete, no hang."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from acquire_helpers import fill, server_args
from netfaults import faulty_proxy
from servers import running_server

from insightkit.acquire import open_snapshot, snapshot
from insightkit.errors import ConnectionFailed, SnapshotError, TransferInterrupted

pytestmark = pytest.mark.server


def _payload_connection_bytes(port: int) -> tuple[int, int]:
    """(index of the replication connection, bytes the server sends on it) measured through a clean proxy."""
    with faulty_proxy(port) as proxy:
        snapshot(proxy.url, method="sync", progress=False)
        time.sleep(0.1)
        index = max(range(len(proxy.per_connection)), key=lambda i: proxy.per_connection[i])
        return index, proxy.per_connection[index]


@pytest.mark.parametrize("diskless", ["no", "yes"])
def test_sync_cut_at_several_points(diskless: str, tmp_path: Path) -> None:
    args = server_args("redis70", "--repl-diskless-sync", diskless)
    with running_server("redis70", args=args) as server:
        fill(server, 2000)
        index, total = _payload_connection_bytes(server.port)
        assert total > 20_000
        # handshake, right after +FULLRESYNC, inside the header, mid payload, in the last bytes
        for cut in (3, 20, 70, total // 3, total // 2, total - 45, total - 5):
            out = tmp_path / f"cut-{cut}.rdb"
            with faulty_proxy(server.port, cut_after=cut, only_connection=index) as proxy:
                with (
                    pytest.raises(SnapshotError) as info,
                    open_snapshot(proxy.url, method="sync", path=out, progress=False, batch_size=100) as snap,
                ):
                    for _ in snap.batches():
                        pass
                assert "127.0.0.1" in str(info.value)
                assert not out.exists() and not list(tmp_path.glob("*.part")), cut
            if cut > 100:
                assert isinstance(info.value, TransferInterrupted | ConnectionFailed), (cut, info.value)


def test_dump_cut_mid_stream(tmp_path: Path) -> None:
    with running_server("redis70", args=server_args("redis70")) as server:
        fill(server, 3000)
        with faulty_proxy(server.port) as proxy:
            snapshot(proxy.url, method="dump", progress=False)
            index = max(range(len(proxy.per_connection)), key=lambda i: proxy.per_connection[i])
            total = proxy.per_connection[index]
        for cut in (total // 10, total // 2, total - 10):
            out = tmp_path / "d.rdb"
            with (
                faulty_proxy(server.port, cut_after=cut, only_connection=index) as proxy,
                pytest.raises(ConnectionFailed),
            ):
                snapshot(proxy.url, out, method="dump", progress=False)
            assert not out.exists() and not list(tmp_path.glob("*.part"))


def test_server_killed_mid_transfer(tmp_path: Path) -> None:
    # rdb-key-save-delay slows the child down so that the kill lands mid-payload.
    args = server_args("redis70", "--repl-diskless-sync", "yes", "--rdb-key-save-delay", "200")
    with running_server("redis70", args=args) as server:
        fill(server, 3000)
        out = tmp_path / "k.rdb"
        got = 0
        with (
            pytest.raises(TransferInterrupted) as info,
            open_snapshot(server.url, method="sync", path=out, progress=False, batch_size=50) as snap,
        ):
            for batch in snap.batches():
                got += batch.num_rows
                if got >= 100 and server.alive():
                    server.kill()
        assert 0 < got < 3007
        assert "interrupted" in str(info.value) or "closed" in str(info.value)
        assert not out.exists() and not list(tmp_path.glob("*.part"))


def test_stalled_transfer_times_out(tmp_path: Path) -> None:
    with running_server("redis70", args=server_args("redis70", "--repl-diskless-sync", "no")) as server:
        fill(server, 2000)
        index, total = _payload_connection_bytes(server.port)
        with faulty_proxy(server.port, stall_after=total // 2, only_connection=index) as proxy:
            start = time.monotonic()
            with pytest.raises(TransferInterrupted, match="timed out"):
                snapshot(proxy.url, tmp_path / "s.rdb", method="sync", progress=False, socket_timeout=1)
            assert time.monotonic() - start < 10


def test_silent_server_times_out() -> None:
    """Something accepts the connection but never answers: ConnectionFailed after the timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        start = time.monotonic()
        with pytest.raises(ConnectionFailed, match="timed out"):
            snapshot(f"redis://127.0.0.1:{port}/0", progress=False, socket_timeout=0.5)
        assert time.monotonic() - start < 5
    finally:
        stop.set()
        thread.join()
        for sock in held:
            sock.close()
        listener.close()


def test_nothing_listening() -> None:
    from servers import free_port

    with pytest.raises(ConnectionFailed, match="cannot connect"):
        snapshot(f"redis://127.0.0.1:{free_port()}/0", progress=False)
