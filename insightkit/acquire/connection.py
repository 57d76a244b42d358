"""Our own sockets to the server: TCP, unix or TLS, with timeouts on every read.

redis-py cannot hand over a raw socket for the replication stream, and its reply parser is the
bottleneck of a pipelined DUMP walk, so both methods share this small layer instead: ``Connection``
moves bytes (``read_line``/``recv``) and ``RespClient`` speaks RESP with hiredis' C parser.
Every failure becomes an ``insightkit.errors`` exception that names the server, never its credentials.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections.abc import Iterable, Sequence
from typing import Any

import hiredis

from insightkit.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    LimitExceeded,
    ProtocolViolation,
    SnapshotError,
)

from .sources import ConnectionSpec

RECV_SIZE = 1 << 20
# A read that returns less than this goes through a reused buffer: ``sock.recv(RECV_SIZE)`` allocates
# (and the kernel zero-fills) a fresh 1 MB object per call, which costs ~80 us when a diskless master
# trickles 16 KB per read; big reads are left to ``sock.recv`` (no extra copy).
_SMALL_READ = RECV_SIZE // 4
Arg = bytes | str | int | float
# Bytes that count as progress on their own, without a complete reply: a trickle below this rate
# (one byte every 20 s never trips a per-read timeout) is a stall.
PROGRESS_BYTES = 1024
_SNIFF = 48  # first bytes of a connection, quoted when the peer turns out not to speak RESP


class ServerError(SnapshotError):
    """The server answered a command with an error reply (``-ERR …``, ``-NOPERM …``)."""

    def __init__(self, message: str, *, command: str) -> None:
        self.reply = message
        self.command = command
        super().__init__(f"{command}: {message}")

    @property
    def code(self) -> str:
        return self.reply.split(" ", 1)[0]


def encode_command(args: Sequence[Arg]) -> bytes:
    """RESP array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _tls_context(spec: ConnectionSpec) -> ssl.SSLContext:
    opts = spec.tls_options
    context = ssl.create_default_context()
    reqs = str(opts.get("ssl_cert_reqs", "required")).lower()
    if reqs in ("none", "cert_none", str(int(ssl.CERT_NONE))):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.check_hostname = bool(opts.get("ssl_check_hostname", True))
        if reqs in ("optional", "cert_optional"):
            context.verify_mode = ssl.CERT_OPTIONAL
    if opts.get("ssl_ca_certs") or opts.get("ssl_ca_path") or opts.get("ssl_ca_data"):
        context.load_verify_locations(
            cafile=opts.get("ssl_ca_certs"), capath=opts.get("ssl_ca_path"), cadata=opts.get("ssl_ca_data")
        )
    if opts.get("ssl_certfile"):
        context.load_cert_chain(opts["ssl_certfile"], opts.get("ssl_keyfile"), opts.get("ssl_password"))
    return context


class Connection:
    """A connected socket plus a read buffer; ``timeout`` bounds every single read."""

    def __init__(self, spec: ConnectionSpec, *, timeout: float | None = None) -> None:
        self.spec = spec
        self.where = spec.address
        self.timeout = timeout if timeout is not None else spec.timeout
        self._buf = bytearray()
        self._scratch: memoryview | None = None
        self._last_read = RECV_SIZE
        self.limits = spec.limits
        self.first_bytes = b""
        self._progress_at = time.monotonic()
        self._progress_bytes = 0
        self._sock_timeout: float | None = None
        self.sock = self._open()

    def _open(self) -> socket.socket:
        spec = self.spec
        connect_timeout = spec.connect_timeout
        deadline = self.limits.deadline
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._over_deadline()
            connect_timeout = min(connect_timeout, left)
        try:
            if spec.unix_path:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(connect_timeout)
                sock.connect(spec.unix_path)
            else:
                sock = socket.create_connection((spec.host, spec.port), timeout=connect_timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if spec.tls:
                try:
                    sock = _tls_context(spec).wrap_socket(sock, server_hostname=spec.host)
                except ssl.SSLError as exc:
                    sock.close()
                    raise ConnectionFailed(
                        f"{self.where}: TLS handshake failed: {exc.reason or exc}"
                    ) from None
            sock.settimeout(self.timeout)
            self._sock_timeout = self.timeout
            return sock
        except TimeoutError:
            if deadline is not None and time.monotonic() >= deadline:
                raise self._over_deadline() from None
            raise ConnectionFailed(
                f"{self.where}: connection timed out after {spec.connect_timeout}s"
            ) from None
        except OSError as exc:
            raise ConnectionFailed(f"{self.where}: cannot connect ({exc.strerror or exc})") from None

    # --- limits -------------------------------------------------------------------------------

    def progress(self) -> None:
        """The peer did something useful (a complete reply, a payload chunk): restart the stall window."""
        self._progress_at = time.monotonic()
        self._progress_bytes = 0

    def _over_deadline(self) -> LimitExceeded:
        return LimitExceeded(
            f"{self.where}: the snapshot did not finish within its timeout of {self.limits.timeout:g}s",
            limit="timeout",
        )

    def _stalled(self) -> LimitExceeded:
        return LimitExceeded(
            f"{self.where}: the server made no progress for {self.limits.stall_timeout:g}s "
            f"(stall timeout; {self._progress_bytes} bytes trickled in meanwhile)",
            limit="stall",
        )

    def _arm(self) -> None:
        """Before a read: the socket timeout is the smallest of the per-read timeout, what is left of
        the stall window and what is left before the deadline; raise if one of those is over already."""
        now = time.monotonic()
        wait = self.timeout
        stall_left = self._progress_at + self.limits.stall_timeout - now
        if stall_left <= 0:
            raise self._stalled()
        wait = stall_left if wait is None else min(wait, stall_left)
        deadline = self.limits.deadline
        if deadline is not None:
            left = deadline - now
            if left <= 0:
                raise self._over_deadline()
            wait = min(wait, left)
        if wait != self._sock_timeout:  # settimeout is a syscall (FIONBIO): only when it changes
            self.sock.settimeout(wait)
            self._sock_timeout = wait

    def _timed_out(self) -> SnapshotError:
        """Which limit a socket timeout stands for."""
        now = time.monotonic()
        if self.limits.deadline is not None and now >= self.limits.deadline - 0.01:
            return self._over_deadline()
        if now >= self._progress_at + self.limits.stall_timeout - 0.01:
            return self._stalled()
        return ConnectionFailed(f"{self.where}: no data for {self.timeout}s (timed out)")

    def _account(self, data: bytes | memoryview) -> None:
        n = len(data)
        if len(self.first_bytes) < _SNIFF and n:
            self.first_bytes += bytes(data[: _SNIFF - len(self.first_bytes)])
        self._progress_bytes += n
        if self._progress_bytes >= PROGRESS_BYTES:
            self._progress_at = time.monotonic()
            self._progress_bytes = 0

    def not_resp(self, detail: str = "") -> ProtocolViolation:
        """The error for a peer that answered something other than RESP (an HTTP or SSH port…)."""
        got = self.first_bytes.decode("ascii", "replace").replace("\ufffd", "?")
        got = " ".join(got.split())[:40]
        if self.first_bytes[:1] in (b"\x15", b"\x16") and not self.spec.tls:
            detail = "a TLS port? use rediss://"  # a TLS alert or handshake record
        suffix = f"; {detail}" if detail else ""
        return ProtocolViolation(f"{self.where} does not speak the Redis protocol (got {got!r}{suffix})")

    # --- bytes --------------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise ConnectionFailed(f"{self.where}: send timed out after {self.timeout}s") from None
        except OSError as exc:
            raise ConnectionFailed(
                f"{self.where}: connection lost while sending ({exc.strerror or exc})"
            ) from None

    def recv(self, size: int = RECV_SIZE) -> bytes:
        """Buffered bytes first, else one socket read; ``b""`` means the peer closed."""
        if self._buf:
            data = bytes(self._buf[:size])
            del self._buf[:size]
            return data
        self._arm()
        try:
            if self._last_read >= _SMALL_READ or size > RECV_SIZE:
                data = self.sock.recv(size)
                self._last_read = len(data)
                self._account(data)
                return data
            if self._scratch is None:
                self._scratch = memoryview(bytearray(RECV_SIZE))
            n = self.sock.recv_into(self._scratch[:size])
            self._last_read = n
            data = bytes(self._scratch[:n])
            self._account(data)
            return data
        except TimeoutError:
            raise self._timed_out() from None
        except ssl.SSLError as exc:
            raise ConnectionFailed(f"{self.where}: TLS error while reading ({exc.reason or exc})") from None
        except OSError as exc:
            raise ConnectionFailed(f"{self.where}: connection lost ({exc.strerror or exc})") from None

    def read_line(self, what: str) -> bytes:
        """One CRLF- or LF-terminated line without its terminator."""
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[: end + 1]
                return line.rstrip(b"\r")
            if len(self._buf) > 65536:
                raise self.not_resp(f"the reply to {what} is not a line")
            data = self._raw_recv()
            if not data:
                raise ConnectionFailed(f"{self.where}: the server closed the connection during {what}")
            self._buf += data

    def _raw_recv(self) -> bytes:
        self._arm()
        try:
            data = self.sock.recv(RECV_SIZE)
        except TimeoutError:
            raise self._timed_out() from None
        except OSError as exc:
            raise ConnectionFailed(f"{self.where}: connection lost ({exc.strerror or exc})") from None
        self._account(data)
        return data

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RespClient:
    """Commands and pipelines over a ``Connection``, replies parsed by hiredis."""

    def __init__(self, spec: ConnectionSpec, *, timeout: float | None = None) -> None:
        self.conn = Connection(spec, timeout=timeout)
        self.where = self.conn.where
        self._reader = hiredis.Reader()
        try:
            authenticate(self, spec)
        except BaseException:
            self.conn.close()
            raise

    def send(self, commands: Iterable[Sequence[Arg]]) -> None:
        self.conn.send(b"".join(encode_command(c) for c in commands))

    def send_raw(self, payload: bytes) -> None:
        self.conn.send(payload)

    def _feed(self, pending: int, cap: int, limit: str) -> int:
        """One read into the parser; returns the bytes buffered towards the reply still incomplete.

        A reply growing past ``cap`` (an endless INFO, a lying bulk length) ends here, before it is in
        memory: hiredis keeps the partial reply until it is complete."""
        data = self.conn.recv()
        if not data:
            raise ConnectionFailed(f"{self.where}: the server closed the connection")
        pending += len(data)
        if pending > cap:
            hint = "; method='sync' streams any key size" if limit == "max_dump_bytes" else ""
            raise LimitExceeded(
                f"{self.where}: a reply grew past {cap} bytes ({limit}) without ending{hint}",
                limit="reply_size",
            )
        self._reader.feed(data)
        return pending

    def _gets(self) -> Any:
        try:
            return self._reader.gets()
        except hiredis.ProtocolError as exc:
            raise self.conn.not_resp("" if self.conn.first_bytes else str(exc)) from None
        except MemoryError:  # an aggregate header announcing billions of elements
            raise LimitExceeded(
                f"{self.where}: a reply announced more elements than fit in memory", limit="reply_size"
            ) from None

    def read_reply(self) -> Any:
        """The next reply; error replies come back as ``hiredis.ReplyError`` objects, not raised."""
        pending = 0
        cap = self.conn.limits.max_reply_bytes
        while True:
            reply = self._gets()
            if reply is not False:
                self.conn.progress()
                return reply
            pending = self._feed(pending, cap, "max_reply_bytes")

    def read_replies(self, n: int, *, dumps: bool = False) -> list[Any]:
        """``n`` pipelined replies; ``dumps``: they are DUMP payloads, capped by ``max_dump_bytes``."""
        limits = self.conn.limits
        cap, limit = (
            (limits.max_dump_bytes, "max_dump_bytes")
            if dumps
            else (limits.max_reply_bytes, "max_reply_bytes")
        )
        out: list[Any] = []
        append = out.append
        pending = 0
        got = 0
        while len(out) < n:
            reply = self._gets()
            if reply is False:
                if got:
                    self.conn.progress()
                    got = 0
                pending = self._feed(pending, cap, limit)
                continue
            append(reply)
            pending = 0
            got = 1
        self.conn.progress()
        return out

    def execute(self, *args: Arg) -> Any:
        """One command; an error reply raises ``ServerError``."""
        self.conn.send(encode_command(args))
        reply = self.read_reply()
        if isinstance(reply, hiredis.ReplyError):
            raise ServerError(str(reply), command=str(args[0]).upper())
        return reply

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> RespClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def auth_command(spec: ConnectionSpec) -> list[Arg] | None:
    if spec.password is None:
        return None
    return ["AUTH", spec.username, spec.password] if spec.username else ["AUTH", spec.password]


def check_auth_reply(reply: str, where: str) -> None:
    """Map an AUTH error reply to AuthenticationFailed (the reply never echoes the password)."""
    code = reply.split(" ", 1)[0].upper()
    if code in ("WRONGPASS", "NOPASS", "ERR") or "invalid" in reply.lower() or "password" in reply.lower():
        raise AuthenticationFailed(f"{where}: authentication failed ({reply})")
    raise AuthenticationFailed(f"{where}: AUTH refused ({reply})")


def authenticate(client: RespClient, spec: ConnectionSpec) -> None:
    command = auth_command(spec)
    if command is None:
        return
    client.conn.send(encode_command(command))
    reply = client.read_reply()
    if isinstance(reply, hiredis.ReplyError):
        check_auth_reply(str(reply), client.where)
