"""The fallback method: walk every non-empty db with SCAN, fetch each key with pipelined DUMP + expiry.

The expiry is PEXPIRETIME where the server has it (Redis >= 7.0, Valkey): the exact 64-bit value it
stores; older servers answer PTTL, added to our clock. Each round trip carries the DUMP/expiry (and OBJECT IDLETIME or FREQ, read *before* DUMP touches the key)
for one SCAN page plus the next SCAN, so the server is never idle waiting for us. The pieces are
assembled into an RDB (rdbwriter) and yielded as chunks, exactly like a replication payload.
Keys that disappear between SCAN and DUMP are skipped and counted; SCAN's rare duplicates are dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import hiredis

from insightkit._text import display_key
from insightkit.errors import LimitExceeded, ProtocolViolation, SnapshotError

from . import rdbwriter
from .connection import RespClient, ServerError, encode_command
from .rdbwriter import check_payload

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@dataclass
class DumpStats:
    """Counters recorded in the snapshot metadata under ``dump``."""

    keys: int = 0
    vanished: int = 0
    duplicates: int = 0
    scan_calls: int = 0
    commands: int = 0
    rdb_version: int | None = None
    lru: str | None = None  # "idle", "freq" or None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "keys": self.keys,
            "vanished": self.vanished,
            "duplicates": self.duplicates,
            "scan_calls": self.scan_calls,
            "commands": self.commands,
            "rdb_version": self.rdb_version,
            "lru": self.lru,
            "notes": list(self.notes),
        }


class SeenKeys:
    """Which keys a SCAN already returned: SCAN may repeat keys while the server resizes its tables,
    and a repeated key would make the assembled RDB unloadable.

    Keeps the 64-bit hash of every key (about 60 bytes per key in a Python set: the one part of the DUMP
    method whose memory grows with the keyspace). Sorted numpy runs would take 8 bytes per key but cost
    ~3 µs per key in binary searches, more than the rest of the walk, so the set stays.
    """

    def __init__(self) -> None:
        self._seen: set[int] = set()

    def fresh(self, keys: list[bytes]) -> tuple[list[bytes], int]:
        """(keys not seen before, in SCAN order; how many were repeats) — and remember them."""
        seen = self._seen
        out = []
        for key in keys:
            h = hash(key)
            if h in seen:
                continue
            seen.add(h)
            out.append(key)
        return out, len(keys) - len(out)

    def __len__(self) -> int:
        return len(self._seen)


def _shape(reply: Any) -> str:
    """A short description of an unexpected reply, for error messages."""
    if isinstance(reply, list):
        return f"an array of {len(reply)}"
    if isinstance(reply, bytes):
        return f"a bulk string {reply[:30]!r}"
    return f"a {type(reply).__name__} {str(reply)[:30]!r}"


class ScanGuard:
    """Ends a SCAN walk that cannot end: a cursor seen twice (SCAN's cursor only moves forward through
    the table, even across resizes), or far more calls or keys than the db could need.

    Bounds: 10,000 calls plus 20 per page the db's size asks for, and 10x its keys plus 100,000 keys
    (a legitimate walk repeats a few keys during rehashing, never that many).
    """

    def __init__(self, where: str, db: int, keys_hint: int, scan_count: int) -> None:
        self.where = where
        self.db = db
        self.cursors: set[bytes] = set()
        self.calls = 0
        self.keys = 0
        self.max_calls = 10_000 + 20 * (max(keys_hint, 0) // max(scan_count, 1) + 1)
        self.max_keys = 10 * max(keys_hint, 0) + 100_000

    def check(self, cursor: bytes, page: int) -> None:
        self.calls += 1
        self.keys += page
        if cursor != b"0":
            if cursor in self.cursors:
                self._fail(f"the SCAN cursor {cursor.decode()} came back a second time")
            self.cursors.add(cursor)
        if self.calls > self.max_calls:
            self._fail(f"SCAN did not return to cursor 0 after {self.calls} calls")
        if self.keys > self.max_keys:
            self._fail(f"SCAN returned {self.keys} keys, far more than the db holds")

    def _fail(self, what: str) -> None:
        raise LimitExceeded(f"{self.where}: {what} in db {self.db} (SCAN cycle check)", limit="scan")


class RateLimiter:
    """Keeps the average command rate at or below ``ops_per_sec`` by sleeping between round trips."""

    def __init__(self, ops_per_sec: float | None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = ops_per_sec
        self.start = time.monotonic()
        self.ops = 0
        self._sleep = sleep

    def spend(self, ops: int) -> None:
        self.ops += ops
        if not self.rate:
            return
        due = self.start + self.ops / self.rate
        delay = due - time.monotonic()
        if delay > 0:
            self._sleep(delay)


def lru_mode(policy: str | None) -> str | None:
    """What the RDB of this server would carry: IDLE under LRU policies, FREQ under LFU, else nothing."""
    policy = (policy or "").lower()
    if "lfu" in policy:
        return "freq"
    if "lru" in policy:
        return "idle"
    return None


def rdb_version_for(info_server: dict[str, Any]) -> int:
    """The RDB version a server writes, for the header of an empty dataset (no payload to read it from)."""
    from insightkit.versions import RDB_WRITERS, parse_version

    if info_server.get("valkey_version"):
        _, version = parse_version(str(info_server["valkey_version"]))
        return 80 if version and version >= (9, 0) else 11
    _, version = parse_version(str(info_server.get("redis_version") or "7.0"))
    version = version or (7, 0)
    # the newest format whose oldest writer is this release or older (8.9 unstable builds: RDB 14)
    return max((rdb for rdb, (oldest, _) in RDB_WRITERS.items() if oldest <= version), default=9)


class DumpWalker:
    """Yields an RDB assembled from SCAN + DUMP; ``stats`` is complete once the iterator is exhausted."""

    def __init__(
        self,
        client: RespClient,
        *,
        dbs: dict[int, tuple[int, int]],
        aux: dict[str, str],
        default_rdb_version: int,
        lru: str | None = None,
        scan_count: int = 1000,
        max_ops_per_sec: float | None = None,
        exact_expiry: bool = False,
        server: str = "the server",
    ) -> None:
        self.client = client
        # PEXPIRETIME (Redis >= 7.0, Valkey) answers the stored expiry itself; PTTL + our clock only
        # approximates it, off by the clock skew and the round trip.
        self.expiry_command = b"PEXPIRETIME" if exact_expiry else b"PTTL"
        self.server = server
        self.redis_server = server.startswith("Redis ")  # INFO says Redis: no Valkey-numbered payloads
        self.dbs = dict(sorted(dbs.items()))
        self.aux = aux
        self.default_rdb_version = default_rdb_version
        self.stats = DumpStats(lru=lru)
        per_key = 3 if lru else 2
        if max_ops_per_sec:
            # A round trip must not be a burst far above the limit: at most ~1/10 s of work at once.
            scan_count = max(1, min(scan_count, int(max_ops_per_sec / (10 * per_key))))
        self.scan_count = scan_count
        self.limiter = RateLimiter(max_ops_per_sec)
        self._assembler = rdbwriter.RdbAssembler()
        self._started = False

    def _begin(self, rdb_version: int) -> bytes:
        self._started = True
        self.stats.rdb_version = rdb_version
        parts = [rdbwriter.header(rdb_version)]
        parts += [rdbwriter.aux(k, v) for k, v in self.aux.items()]
        return self._assembler.emit(b"".join(parts))

    def chunks(self) -> Iterator[bytes]:
        client = self.client
        # Redis >= 7.2 / Valkey: do not let our reads change the keys' LRU/LFU (best effort).
        try:
            client.execute("CLIENT", "NO-TOUCH", "ON")
        except ServerError:
            self.stats.notes.append("CLIENT NO-TOUCH unavailable: DUMP refreshes the keys' LRU/LFU clocks")
        for db, (keys, expires) in self.dbs.items():
            client.execute("SELECT", db)
            yield from self._walk_db(db, keys, expires)
        if not self._started:
            yield self._begin(self.default_rdb_version)
        yield self._assembler.finish()

    def _walk_db(self, db: int, keys_hint: int, expires_hint: int) -> Iterator[bytes]:
        """Two pages in flight: each write is [SCAN for page N+1][DUMPs of page N], so the SCAN reply
        arrives before page N's dumps and page N+1 is requested while the server still works on page N
        and we assemble page N-1."""
        client = self.client
        stats = self.stats
        seen = SeenKeys()
        self._cycle = ScanGuard(client.where, db, keys_hint, self.scan_count)
        db_header = rdbwriter.select_db(db, keys_hint, expires_hint)
        db_started = False
        client.send_raw(encode_command([b"SCAN", b"0", b"COUNT", str(self.scan_count).encode()]))
        cursor, page = self._scan_reply(db)
        pending: tuple[list[bytes], str | None] | None = None  # requested, replies not read yet
        while True:
            fresh, repeats = seen.fresh(page)
            stats.duplicates += repeats
            more = cursor != b"0"
            if fresh or more:
                self._request(fresh, next_cursor=cursor if more else None)
            self.limiter.spend(len(fresh) * (3 if stats.lru else 2) + more)
            out = []
            if pending:
                replies = client.read_replies(len(pending[0]) * (3 if pending[1] else 2), dumps=True)
                rdb_chunk = self._assemble(pending[0], pending[1], replies)
                if not self._started:
                    out.append(self._begin(stats.rdb_version or self.default_rdb_version))
                if not db_started:
                    out.append(self._assembler.emit(db_header))
                    db_started = True
                if rdb_chunk:
                    out.append(self._assembler.emit(rdb_chunk))
            pending = (fresh, stats.lru) if fresh else None
            if out:
                yield b"".join(out)
            if not more:
                break
            cursor, page = self._scan_reply(db)
        if pending:
            replies = client.read_replies(len(pending[0]) * (3 if pending[1] else 2), dumps=True)
            rdb_chunk = self._assemble(pending[0], pending[1], replies)
            out = []
            if not self._started:
                out.append(self._begin(stats.rdb_version or self.default_rdb_version))
            if not db_started:
                out.append(self._assembler.emit(db_header))
            out.append(self._assembler.emit(rdb_chunk))
            yield b"".join(out)

    def _scan_reply(self, db: int) -> tuple[bytes, list[bytes]]:
        reply = self.client.read_reply()
        self.stats.scan_calls += 1
        if isinstance(reply, hiredis.ReplyError):
            raise SnapshotError(f"{self.client.where}: SCAN failed in db {db}: {reply}")
        if (
            not isinstance(reply, list)
            or len(reply) != 2
            or not isinstance(reply[0], bytes)
            or not reply[0].isdigit()
            or not isinstance(reply[1], list)
            or not all(isinstance(k, bytes) for k in reply[1])
        ):
            raise ProtocolViolation(
                f"{self.client.where}: SCAN in db {db} answered {_shape(reply)}, not [cursor, [keys]]"
            )
        self._cycle.check(reply[0], len(reply[1]))
        return reply[0], reply[1]

    def _request(self, keys: list[bytes], *, next_cursor: bytes | None) -> None:
        """One write: the next SCAN (if any), then per key [OBJECT IDLETIME|FREQ], DUMP, PEXPIRETIME|PTTL."""
        lru = self.stats.lru
        if lru == "idle":
            prefix = b"*3\r\n$6\r\nOBJECT\r\n$8\r\nIDLETIME\r\n"
        elif lru == "freq":
            prefix = b"*3\r\n$6\r\nOBJECT\r\n$4\r\nFREQ\r\n"
        else:
            prefix = b""
        parts = []
        if next_cursor is not None:
            parts.append(encode_command([b"SCAN", next_cursor, b"COUNT", str(self.scan_count).encode()]))
        for key in keys:
            arg = b"$%d\r\n%s\r\n" % (len(key), key)
            parts.append(
                b"%s%s*2\r\n$4\r\nDUMP\r\n%s*2\r\n$%d\r\n%s\r\n%s"
                % (prefix, prefix and arg, arg, len(self.expiry_command), self.expiry_command, arg)
            )
        self.client.send_raw(b"".join(parts))
        self.stats.commands += len(keys) * (3 if lru else 2) + (next_cursor is not None)

    def _assemble(self, keys: list[bytes], lru: str | None, replies: list[Any]) -> bytes:
        """Turn one page's replies into RDB key records; vanished keys are skipped and counted."""
        stats = self.stats
        where = self.client.where
        per_key = 3 if lru else 2
        now_ms = int(time.time() * 1000)
        records: list[bytes] = []
        append = records.append
        reply_error = hiredis.ReplyError
        encode_length = rdbwriter.encode_length
        version = stats.rdb_version
        exact = self.expiry_command == b"PEXPIRETIME"
        for i, key in enumerate(keys):
            base = i * per_key
            meta = b""
            if lru:
                value = replies[base]
                base += 1
                if isinstance(value, reply_error):
                    self._lru_failed(str(value))
                elif value is not None and (not isinstance(value, int) or not 0 <= value < 1 << 62):
                    raise ProtocolViolation(f"{where}: OBJECT for key {key[:100]!r} answered {_shape(value)}")
                elif value is not None:
                    meta = (
                        b"\xf8" + encode_length(value) if lru == "idle" else b"\xf9" + bytes((value & 0xFF,))
                    )
            payload = replies[base]
            pttl = replies[base + 1]
            if payload is None or pttl == -2:
                stats.vanished += 1
                continue
            if isinstance(payload, reply_error) or isinstance(pttl, reply_error):
                error = str(payload if isinstance(payload, reply_error) else pttl)
                hint = ""
                if error.startswith("NOPERM"):  # an ACL user limited to some keys (~app:*)
                    hint = " (a snapshot reads every key: the ACL user needs ~* and +dump, or use a user that has them)"
                raise SnapshotError(
                    f"{where}: DUMP/{self.expiry_command.decode()} failed for key "
                    f"{display_key(key[:100])}: {error}{hint}"
                )
            # any int64 is a real answer: Redis takes PEXPIREAT k 9223372036854775807 and reports it
            if not isinstance(pttl, int) or not -2 <= pttl <= _INT64_MAX:
                command = self.expiry_command.decode()
                raise ProtocolViolation(f"{where}: {command} for key {key[:100]!r} answered {_shape(pttl)}")
            payload_version = check_payload(
                payload, key, where=where, server=self.server, redis_server=self.redis_server
            )
            n = len(payload)
            if payload_version != version:
                if version is not None:
                    raise SnapshotError(
                        f"{where}: DUMP payloads changed RDB version mid-snapshot "
                        f"({version} → {payload_version}); was the server upgraded?"
                    )
                version = stats.rdb_version = payload_version
            if pttl >= 0:
                at = pttl if exact else now_ms + pttl
                # signed, as Redis stores it; a PTTL near 2**63 plus our clock must not wrap around
                at = min(max(at, _INT64_MIN), _INT64_MAX)
                meta = b"\xfc" + at.to_bytes(8, "little", signed=True) + meta
            klen = len(key)
            key_len = bytes((klen,)) if klen < 64 else encode_length(klen)
            append(b"%s%c%s%s%s" % (meta, payload[0], key_len, key, payload[1 : n - 10]))
        stats.keys += len(records)
        return b"".join(records)

    def _lru_failed(self, error: str) -> bool:
        """OBJECT errored: a vanished key (returns False) or OBJECT not allowed (stop asking)."""
        if error.startswith(("NOPERM", "ERR unknown")) or "policy" in error.lower():
            self.stats.notes.append(f"OBJECT IDLETIME/FREQ unavailable ({error}); no LRU/LFU data")
            self.stats.lru = None
            return True
        return False
