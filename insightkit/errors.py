"""One exception hierarchy for everything insightkit raises on bad input or a failed snapshot.

Every error says *what* went wrong and *where*: a byte offset and key for decode errors, a server address
(never credentials) for snapshot errors, a path for file errors.
"""

from __future__ import annotations


class InsightkitError(Exception):
    """Base class: catch this to handle any insightkit failure."""


# --- decode ---------------------------------------------------------------------------------------


class RdbError(InsightkitError):
    """The RDB stream cannot be decoded.

    ``offset`` is the byte offset in the stream where the problem was found, ``key`` the key being
    decoded at the time (``None`` outside a key).
    """

    def __init__(self, message: str, *, offset: int | None = None, key: str | None = None) -> None:
        self.reason = message
        self.offset = offset
        self.key = key
        where = []
        if offset is not None:
            where.append(f"at byte {offset}")
        if key is not None:
            where.append(f"in key {key!r}")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:  # picklable across processes (Dask)
        return (_rebuild_rdb_error, (type(self), self.reason, self.offset, self.key))


def _rebuild_rdb_error(cls: type[RdbError], reason: str, offset: int | None, key: str | None) -> RdbError:
    return cls(reason, offset=offset, key=key)


class RdbFormatError(RdbError):
    """The bytes do not follow the RDB format (bad magic, unknown type, lying lengths, bad LZF…)."""


class RdbTruncatedError(RdbError):
    """The stream ended before the RDB did."""


class RdbChecksumError(RdbError):
    """The CRC64 trailer does not match the bytes read."""


class RdbVersionError(RdbError):
    """The file was written by a format version this decoder does not know."""


# --- acquire --------------------------------------------------------------------------------------


class SnapshotError(InsightkitError):
    """Taking a snapshot of a live server failed; no partial result is returned."""


class ConnectionFailed(SnapshotError):
    """The server could not be reached or the connection broke."""


class AuthenticationFailed(SnapshotError):
    """The server rejected the credentials."""


class PasswordRequired(AuthenticationFailed):
    """The server answered NOAUTH: it needs a password and none was given (the CLI may prompt)."""


class ReplicationRefused(SnapshotError):
    """The server refused to act as our master (ACL, renamed commands, min-replicas, …)."""


class TransferInterrupted(SnapshotError):
    """The RDB transfer stopped before the payload was complete."""


class ProtocolViolation(SnapshotError):
    """The peer does not speak RESP (an HTTP or SSH port), or answered with a reply of the wrong shape."""


class LimitExceeded(SnapshotError):
    """A live source hit one of the limits that keep a hostile or broken server from holding us forever.

    ``limit`` names it: ``"reply_size"``, ``"stall"``, ``"sync_wait"``, ``"scan"`` or ``"timeout"``.
    """

    def __init__(self, message: str, *, limit: str) -> None:
        self.limit = limit
        super().__init__(message)

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (_rebuild_limit, (type(self), str(self), self.limit))


def _rebuild_limit(cls: type[LimitExceeded], message: str, limit: str) -> LimitExceeded:
    return cls(message, limit=limit)


class BadDumpPayload(SnapshotError):
    """A DUMP reply is not one valid serialized object (bad CRC64, unknown version, trailing bytes…)."""


# --- files and options ----------------------------------------------------------------------------


class RsnapError(InsightkitError):
    """An RSNAP file is missing, unreadable or of a newer schema than this version knows."""


class OutputError(InsightkitError):
    """An output (report, chart, RDB) cannot be written where asked; says which path and why."""


class SourceError(InsightkitError):
    """The ``source`` given to analyze/snapshot/load is not something insightkit can read."""


class ConfigurationError(InsightkitError, ValueError):
    """An option has a value insightkit cannot use."""


class ClosedError(InsightkitError):
    """A table was asked of an ``Analysis`` or ``Fleet`` after ``close()`` released its DuckDB
    connection (and an out-of-core one its working RSNAP): analyze or load the source again."""
