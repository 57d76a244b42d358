"""Small fake servers on loopback that misbehave on purpose: endless replies, trickles, keepalives
forever, SCAN cursors that never end, malformed DUMP replies, and ports that are not Redis at all.

``FakeRedis`` answers just enough of RESP for a snapshot (INFO, CONFIG GET, ACL LIST, CLIENT, SELECT,
SCAN, DUMP, PTTL, REPLCONF, PSYNC/SYNC); a scenario overrides one method. Every server thread is a
daemon, its sockets time out, and ``serve()`` closes them all, so a test that fails cannot hang.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import hiredis
from loopback import LoopbackListener

from insightkit.acquire import rdbwriter
from insightkit.rdb import crc64

SERVER_INFO = b"# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\narch_bits:64\r\n"


def bulk(data: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(data), data)


def array(items: list[bytes]) -> bytes:
    return b"*%d\r\n%s" % (len(items), b"".join(items))


def dump_payload(
    value: bytes = b"v",
    *,
    version: int = 10,
    trailing: bytes = b"",
    bad_crc: bool = False,
    body: bytes | None = None,
) -> bytes:
    """A DUMP payload of a string (type 0), as a server writes it; optionally broken. ``body``
    replaces the type byte and object (a valid CRC over whatever it is)."""
    if body is None:
        body = b"\x00" + rdbwriter.encode_string(value)
    body = body + trailing + version.to_bytes(2, "little")
    crc = crc64(body) ^ (1 if bad_crc else 0)
    return body + crc.to_bytes(8, "little")


class Closed(Exception):
    """The client hung up: the scenario stops writing."""


class FakeRedis(LoopbackListener):
    """A TCP server on 127.0.0.1 speaking enough RESP; subclass and override to misbehave."""

    keyspace = b"db0:keys=1,expires=0"

    def __init__(self) -> None:
        self.sent = 0  # bytes written to clients, all connections
        self.commands: list[list[bytes]] = []
        super().__init__(backlog=16)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    # --- plumbing ---------------------------------------------------------------------------------

    def on_accept(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        self._sockets.append(conn)
        threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(Closed, OSError):
            self.on_connect(conn)
            reader = hiredis.Reader()
            while not self._closed.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    return
                self.on_bytes(conn, data)
                reader.feed(data)
                while (command := reader.gets()) is not False:
                    self.commands.append(command)
                    self.handle(conn, command)
        with contextlib.suppress(OSError):
            conn.close()

    def send(self, conn: socket.socket, data: bytes) -> None:
        if self._closed.is_set():
            raise Closed
        try:
            conn.sendall(data)
        except OSError:
            raise Closed from None
        self.sent += len(data)

    # --- behaviour ----------------------------------------------------------------------------------

    def on_connect(self, conn: socket.socket) -> None:
        """Called before reading anything (an SSH server talks first)."""

    def on_bytes(self, conn: socket.socket, data: bytes) -> None:
        """Every chunk received, before it is parsed (an HTTP server answers whatever comes)."""

    def handle(self, conn: socket.socket, command: list[bytes]) -> None:
        name = command[0].upper()
        if name == b"INFO":
            self.send(conn, self.info(command[1].lower() if len(command) > 1 else b"server"))
        elif name in (b"CONFIG", b"ACL"):
            self.send(conn, b"*0\r\n")
        elif name == b"SCAN":
            self.send(conn, self.scan(command[1]))
        elif name == b"DUMP":
            self.send(conn, self.dump(command[1]))
        elif name in (b"PTTL", b"PEXPIRETIME"):  # the DUMP walker asks PEXPIRETIME of a 7.0 server
            self.send(conn, self.pttl(command[1]))
        elif name == b"PSYNC":
            self.send(conn, self.psync(conn))
        elif name in (b"SYNC",):
            self.send(conn, b"-ERR unknown command 'SYNC'\r\n")
        else:  # AUTH, CLIENT, SELECT, REPLCONF…
            self.send(conn, b"+OK\r\n")

    def info(self, section: bytes) -> bytes:
        if section == b"server":
            return bulk(SERVER_INFO)
        if section == b"keyspace":
            return bulk(b"# Keyspace\r\n" + self.keyspace + b"\r\n")
        if section == b"memory":
            return bulk(b"# Memory\r\nused_memory:1000\r\nmem_allocator:libc\r\n")
        return bulk(b"# " + section + b"\r\n")

    def scan(self, cursor: bytes) -> bytes:
        return array([bulk(b"0"), array([bulk(b"k")])])

    def dump(self, key: bytes) -> bytes:
        return bulk(dump_payload())

    def pttl(self, key: bytes) -> bytes:
        return b":-1\r\n"

    def psync(self, conn: socket.socket) -> bytes:
        return b"-ERR unknown command 'PSYNC'\r\n"


# --- scenarios ----------------------------------------------------------------------------------------


class EndlessInfo(FakeRedis):
    """INFO announces a 10 GB bulk string and keeps writing it."""

    def info(self, section: bytes) -> bytes:
        return b"$10000000000\r\n" + b"x" * 65536

    def handle(self, conn: socket.socket, command: list[bytes]) -> None:
        super().handle(conn, command)
        if command[0].upper() == b"INFO":
            chunk = b"field:" + b"x" * 65530
            while True:
                self.send(conn, chunk)


class EndlessDump(FakeRedis):
    """DUMP announces a 10 GB payload and keeps writing it."""

    def dump(self, key: bytes) -> bytes:
        return b"$10000000000\r\n"

    def handle(self, conn: socket.socket, command: list[bytes]) -> None:
        super().handle(conn, command)
        if command[0].upper() == b"DUMP":
            chunk = b"\x00" * 65536
            while True:
                self.send(conn, chunk)


class Trickle(FakeRedis):
    """INFO answers one byte every ``interval`` seconds: each read returns, none ever times out."""

    interval = 0.4

    def handle(self, conn: socket.socket, command: list[bytes]) -> None:
        if command[0].upper() != b"INFO":
            return super().handle(conn, command)
        for byte in bulk(b"x" * 1000):
            self.send(conn, bytes((byte,)))
            time.sleep(self.interval)
        return None


class KeepaliveForever(FakeRedis):
    """A master that accepts PSYNC and then sends a keepalive newline every 0.2 s, forever."""

    def psync(self, conn: socket.socket) -> bytes:
        self.send(conn, b"+FULLRESYNC " + b"a" * 40 + b" 0\r\n")
        while True:
            time.sleep(0.2)
            self.send(conn, b"\n")


class ScanSameCursor(FakeRedis):
    """SCAN answers cursor 17 forever."""

    def scan(self, cursor: bytes) -> bytes:
        return array([bulk(b"17"), array([bulk(b"k")])])


class ScanEndless(FakeRedis):
    """SCAN counts up forever with empty pages: no cursor repeats, it just never reaches 0."""

    def scan(self, cursor: bytes) -> bytes:
        return array([bulk(b"%d" % (int(cursor) + 1)), b"*0\r\n"])


class HttpServer(FakeRedis):
    """An HTTP port: whatever arrives gets a 400 and the connection is closed."""

    def on_bytes(self, conn: socket.socket, data: bytes) -> None:
        self.send(conn, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        conn.close()
        raise Closed


class TlsPort(FakeRedis):
    """A TLS-only port: plaintext gets a TLS alert record (protocol version) and the connection closed."""

    def on_bytes(self, conn: socket.socket, data: bytes) -> None:
        self.send(conn, b"\x15\x03\x03\x00\x02\x02\x46")
        conn.close()
        raise Closed


class SshServer(FakeRedis):
    """An SSH port: the server speaks first (its banner), then waits for a client banner."""

    def on_connect(self, conn: socket.socket) -> None:
        self.send(conn, b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n")

    def handle(self, conn: socket.socket, command: list[bytes]) -> None:
        return None


class BadDump(FakeRedis):
    """DUMP (or PTTL) answers what ``reply`` says."""

    def __init__(self, dump_reply: bytes, pttl_reply: bytes = b":-1\r\n") -> None:
        self.dump_reply = dump_reply
        self.pttl_reply = pttl_reply
        super().__init__()

    def dump(self, key: bytes) -> bytes:
        return self.dump_reply

    def pttl(self, key: bytes) -> bytes:
        return self.pttl_reply


MALFORMED_DUMPS: dict[str, tuple[bytes, bytes]] = {
    "integer instead of a payload": (b":42\r\n", b":-1\r\n"),
    "array instead of a payload": (array([bulk(b"a")]), b":-1\r\n"),
    "bulk string instead of a PTTL": (bulk(dump_payload()), bulk(b"soon")),
    "bad CRC64": (bulk(dump_payload(bad_crc=True)), b":-1\r\n"),
    "trailing bytes": (bulk(dump_payload(trailing=b"\x00\x01k\x01v")), b":-1\r\n"),
    "unknown version": (bulk(dump_payload(version=50)), b":-1\r\n"),
    "too short": (bulk(b"\x00\x01"), b":-1\r\n"),
    "truncated object": (bulk(dump_payload(body=b"\x00\x28vvv")), b":-1\r\n"),
    "unknown type": (bulk(dump_payload(body=b"\x63\x01v")), b":-1\r\n"),
    "malformed length": (bulk(dump_payload(body=b"\x02\xc7v")), b":-1\r\n"),
}


@contextlib.contextmanager
def serve(server: FakeRedis) -> Iterator[FakeRedis]:
    try:
        yield server
    finally:
        server.close()
