"""A loopback TCP proxy that breaks connections on purpose: cut after N bytes, or stall.

Sits between insightkit and a real server. ``cut_after`` closes both sides once that many bytes have
gone from the server to the client; ``stall_after`` stops forwarding (but keeps the sockets open) to
exercise timeouts. Every loop is bounded by socket timeouts and the proxy's ``close()``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

from loopback import LoopbackListener


class FaultyProxy(LoopbackListener):
    def __init__(
        self,
        target_port: int,
        *,
        cut_after: int | None = None,
        stall_after: int | None = None,
        only_connection: int | None = None,
    ) -> None:
        self.target_port = target_port
        self.only_connection = only_connection  # apply the fault to the k-th connection only (0-based)
        self.connections = 0
        self.per_connection: list[int] = []  # server → client bytes of each connection
        self.cut_after = cut_after
        self.stall_after = stall_after
        self.forwarded = 0  # server → client bytes, over the faulty connections
        super().__init__(backlog=8)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def on_accept(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
        self._sockets += [client, upstream]
        index = self.connections
        self.connections += 1
        self.per_connection.append(0)
        faulty = self.only_connection is None or self.only_connection == index
        threading.Thread(target=self._pump, args=(client, upstream, None, False), daemon=True).start()
        threading.Thread(target=self._pump, args=(upstream, client, index, faulty), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, index: int | None, faulty: bool) -> None:
        src.settimeout(0.2)
        try:
            while not self._closed.is_set():
                try:
                    data = src.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                if index is not None:
                    self.per_connection[index] += len(data)
                if index is not None and faulty:
                    if self.stall_after is not None and self.forwarded + len(data) > self.stall_after:
                        keep = self.stall_after - self.forwarded
                        if keep > 0:
                            dst.sendall(data[:keep])
                            self.forwarded += keep
                        self._closed.wait()  # hold everything until the test closes the proxy
                        return
                    if self.cut_after is not None and self.forwarded + len(data) >= self.cut_after:
                        keep = self.cut_after - self.forwarded
                        if keep > 0:
                            dst.sendall(data[:keep])
                            self.forwarded += keep
                        break
                    self.forwarded += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()


@contextlib.contextmanager
def faulty_proxy(target_port: int, **kwargs: int | None) -> Iterator[FaultyProxy]:
    proxy = FaultyProxy(target_port, **kwargs)
    try:
        yield proxy
    finally:
        proxy.close()
