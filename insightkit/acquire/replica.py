"""Pretend to be a replica just long enough to receive one RDB, then hang up.

The handshake is what a real replica sends (AUTH, REPLCONF listening-port / capa eof psync2 /
rdb-only, ``PSYNC ? -1`` with ``SYNC`` as the fallback); the payload arrives either as ``$<len>`` (disk
based: the master wrote a file first) or as ``$EOF:<40-byte mark>`` … mark (diskless: streamed while the
child writes it). Bare newlines before the header are the master's keepalives while it forks.
We never send REPLCONF ACK and close as soon as the payload is complete, so the master drops us and
nothing on the server keeps state for us. A payload that stops early raises ``TransferInterrupted``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from insightkit.errors import (
    ConnectionFailed,
    LimitExceeded,
    PasswordRequired,
    ReplicationRefused,
    TransferInterrupted,
)

from .connection import Connection, auth_command, check_auth_reply, encode_command
from .sources import ConnectionSpec

EOF_MARK_LEN = 40
PACE_BYTES = 64 * 1024
PACE_S = 0.002


@dataclass
class Transfer:
    """What happened on the wire: recorded in the snapshot metadata under ``transfer``."""

    command: str = ""  # "PSYNC" or "SYNC"
    format: str = ""  # "disk" ($<len>) or "diskless" ($EOF:)
    replid: str | None = None
    offset: int | None = None
    expected_bytes: int | None = None
    received_bytes: int = 0
    keepalives: int = 0
    complete: bool = False
    started_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "command": self.command,
            "format": self.format,
            "replid": self.replid,
            "offset": self.offset,
            "expected_bytes": self.expected_bytes,
            "received_bytes": self.received_bytes,
            "keepalives": self.keepalives,
            "complete": self.complete,
            "notes": list(self.notes),
        }


def _is_unknown_or_denied(reply: str) -> bool:
    upper = reply.upper()
    return upper.startswith("-NOPERM") or "UNKNOWN COMMAND" in upper


# The server version this replica announces: high enough that a Valkey master writes its newest RDB.
_ANNOUNCED_VERSION = "255.255.255"


class ReplicaStream:
    """One replication connection: ``ReplicaStream(spec)`` does the handshake, ``chunks()`` the payload.

    ``ReplicationRefused`` from the constructor means nothing was transferred (method ``auto`` may
    fall back to DUMP); errors from ``chunks()`` mean a transfer broke and must not be retried silently.
    """

    def __init__(self, spec: ConnectionSpec, *, timeout: float | None = None) -> None:
        self.spec = spec
        self.where = spec.address
        self.transfer = Transfer()
        self._payload_header: str | None = None
        self._waiting_since = time.monotonic()
        self.conn = Connection(spec, timeout=timeout)
        try:
            self._handshake()
        except BaseException:
            self.conn.close()
            raise

    def _reply(self, what: str) -> str:
        while True:
            line = self.conn.read_line(what)
            if line:
                return line.decode("utf-8", "replace")
            self.transfer.keepalives += 1
            self._keepalive(what)

    def _keepalive(self, what: str) -> None:
        """A bare newline: the master is alive (forking, writing its file), which resets the stall
        window, but it counts as no progress beyond ``sync_wait`` — else keepalives alone, one a
        second, would hold the snapshot forever."""
        waited = time.monotonic() - self._waiting_since
        limit = self.spec.limits.sync_wait
        if waited > limit:
            raise LimitExceeded(
                f"{self.where}: the master sent only keepalives for {waited:.0f}s while we waited for "
                f"{what} (sync_wait {limit:g}s)",
                limit="sync_wait",
            )
        self.conn.progress()

    def _handshake(self) -> None:
        conn = self.conn
        auth = auth_command(self.spec)
        if auth is not None:
            conn.send(encode_command(auth))
            reply = self._reply("AUTH")
            if reply.startswith("-"):
                check_auth_reply(reply[1:], self.where)
        local_port = 0 if self.spec.unix_path else conn.sock.getsockname()[1]
        steps: list[tuple[str, list[bytes | str | int | float], bool]] = [
            ("REPLCONF listening-port", ["REPLCONF", "listening-port", local_port], True),
            ("REPLCONF capa", ["REPLCONF", "capa", "eof", "capa", "psync2"], True),
            # Redis >= 7.0: "I want the RDB only, no command stream" (what redis-cli --rdb says).
            ("REPLCONF rdb-only", ["REPLCONF", "rdb-only", "1"], False),
            # Valkey >= 9 writes a replica that names no version an old RDB (11), which cannot hold hash
            # field TTLs: the sync would fail on the first such hash. Redis answers this with an error.
            ("REPLCONF version", ["REPLCONF", "version", _ANNOUNCED_VERSION], False),
        ]
        conn.send(b"".join(encode_command(args) for _, args, _ in steps))
        for what, _, required in steps:
            reply = self._reply(what)
            if reply.startswith("-NOAUTH"):
                raise PasswordRequired(f"{self.where}: the server requires a password ({reply[1:]})")
            if reply.startswith("-"):
                if required:
                    raise ReplicationRefused(f"{self.where}: {what} refused: {reply[1:]}")
                self.transfer.notes.append(f"{what}: {reply[1:]}")
        conn.send(encode_command(["PSYNC", "?", "-1"]))
        reply = self._reply("PSYNC")
        if reply.startswith("+FULLRESYNC"):
            parts = reply.split()
            self.transfer.command = "PSYNC"
            if len(parts) >= 3:
                self.transfer.replid = parts[1]
                self.transfer.offset = int(parts[2]) if parts[2].lstrip("-").isdigit() else None
            self._header: str | None = None
            return
        if not reply.startswith("-"):
            raise ReplicationRefused(f"{self.where}: unexpected reply to PSYNC: {reply[:80]!r}")
        if not _is_unknown_or_denied(reply):
            raise ReplicationRefused(f"{self.where}: PSYNC refused: {reply[1:]}")
        psync_error = reply[1:]
        conn.send(encode_command(["SYNC"]))
        reply = self._reply("SYNC")
        if reply.startswith("-"):
            raise ReplicationRefused(
                f"{self.where}: PSYNC refused ({psync_error}) and SYNC refused ({reply[1:]})"
            )
        self.transfer.command = "SYNC"
        self.transfer.notes.append(f"PSYNC: {psync_error}")
        self._header = reply  # legacy SYNC answers with the payload header directly

    def _read_header(self) -> str:
        header = self._header
        self._header = None
        while header is None or not header:
            try:
                header = self._reply("the RDB header")
            except ConnectionFailed as exc:
                raise TransferInterrupted(f"{exc} (before the RDB payload started)") from None
        if header.startswith("-"):
            raise ReplicationRefused(f"{self.where}: the master refused to send an RDB: {header[1:]}")
        if not header.startswith("$"):
            raise TransferInterrupted(f"{self.where}: expected the RDB payload header, got {header[:60]!r}")
        return header

    def wait_payload(self) -> str:
        """Wait for the payload header (disk-based: until the master's fork has written its file) and
        return the transfer format, "disk" or "diskless"; ``chunks()`` then starts with the payload.
        Closes the connection if the header does not come."""
        if self._payload_header is None:
            try:
                self._payload_header = self._read_header()
            except BaseException:
                self.close()
                raise
        return "diskless" if self._payload_header.startswith("$EOF:") else "disk"

    def chunks(self) -> Iterator[bytes]:
        """The RDB payload as it arrives; closes the connection when done, however it ends."""
        try:
            header = self._payload_header if self._payload_header is not None else self._read_header()
            if header.startswith("$EOF:"):
                mark = header[5:].encode()
                if len(mark) != EOF_MARK_LEN:
                    raise TransferInterrupted(f"{self.where}: malformed diskless header {header[:60]!r}")
                self.transfer.format = "diskless"
                yield from self._until_mark(mark)
            else:
                try:
                    length = int(header[1:])
                except ValueError:
                    raise TransferInterrupted(
                        f"{self.where}: malformed payload header {header[:60]!r}"
                    ) from None
                self.transfer.format = "disk"
                self.transfer.expected_bytes = length
                yield from self._exactly(length)
            self.transfer.complete = True
        finally:
            self.close()

    def _recv(self) -> bytes:
        try:
            data = self.conn.recv()
        except ConnectionFailed as exc:
            raise TransferInterrupted(f"{exc}; {self._progress()}") from None
        if not data:
            raise TransferInterrupted(f"{self.where}: the master closed the connection; {self._progress()}")
        return data

    def _progress(self) -> str:
        t = self.transfer
        total = f" of {t.expected_bytes}" if t.expected_bytes is not None else ""
        return f"transfer interrupted after {t.received_bytes}{total} bytes of the RDB payload"

    def _exactly(self, length: int) -> Iterator[bytes]:
        remaining = length
        while remaining > 0:
            data = self._recv()
            if len(data) > remaining:  # the command stream that follows is not ours to read
                data = data[:remaining]
            remaining -= len(data)
            self.transfer.received_bytes += len(data)
            yield data

    def _until_mark(self, mark: bytes) -> Iterator[bytes]:
        # Hold back the last 40 bytes of every read: they may be (the start of) the end mark.
        # A diskless master relays its child's output 16 KB at a time; reading each piece as it lands
        # costs a wakeup, a syscall and a decoder round per 16 KB, CPU taken from that child on a busy
        # machine. After a small read, wait until PACE_S has passed since it before reading again, so
        # reads gather ~70 KB (the kernel buffers them meanwhile; no byte waits longer than PACE_S).
        tail = b""
        last = 0.0
        small = False
        while True:
            if small:
                pause = PACE_S - (time.perf_counter() - last)
                if pause > 0:
                    time.sleep(pause)
            chunk = self._recv()
            last = time.perf_counter()
            small = len(chunk) < PACE_BYTES
            data = tail + chunk
            end = data.find(mark)
            if end >= 0:
                if end:
                    self.transfer.received_bytes += end
                    yield data[:end]
                return
            keep = min(len(data), EOF_MARK_LEN - 1)
            tail = data[len(data) - keep :]
            body = data[: len(data) - keep]
            if body:
                self.transfer.received_bytes += len(body)
                yield body

    def close(self) -> None:
        self.conn.close()
