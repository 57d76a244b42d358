"""A TCP listener on 127.0.0.1 whose accept loop runs on a daemon thread: the plumbing shared by the
fault-injecting proxy (netfaults.py) and the misbehaving fake servers (hostile_servers.py).

A subclass sets up its own state, then calls ``LoopbackListener.__init__`` (which starts accepting) and
handles each connection in ``on_accept``. The loop wakes every 0.2 s to notice ``close()``, which
closes the listener and every socket registered in ``_sockets`` and joins the thread, so a test that
fails cannot hang.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class LoopbackListener:
    def __init__(self, *, backlog: int = 8) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(backlog)
        self.listener.settimeout(0.2)
        self.port: int = self.listener.getsockname()[1]
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.on_accept(conn)

    def on_accept(self, conn: socket.socket) -> None:
        """Take over one accepted connection (register its sockets in ``_sockets``; don't block)."""
        raise NotImplementedError

    def close(self) -> None:
        self._closed.set()
        for sock in [self.listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.close()
        self._thread.join(timeout=5)
