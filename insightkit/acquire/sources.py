"""Where to connect and how: URL, host:port or a redis-py client, turned into one ``ConnectionSpec``.

The spec is the only place credentials live. Its ``display`` (used in metadata, logs and every error
message) never contains them, and its ``repr`` hides them too, so a traceback cannot leak a password.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from insightkit.errors import ConfigurationError, SourceError

_SCHEMES = {"redis": "redis", "rediss": "rediss", "unix": "unix", "valkey": "redis", "valkeys": "rediss"}
_HOST_PORT = re.compile(r"^(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):(?P<port>\d{1,5})$")

# Option names as redis-py spells them (so its users can pass what they already pass to redis.Redis).
TLS_OPTIONS = (
    "ssl_ca_certs",
    "ssl_ca_path",
    "ssl_ca_data",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_password",
    "ssl_cert_reqs",
    "ssl_check_hostname",
)
CONNECTION_OPTIONS = (
    "host",
    "port",
    "db",
    "username",
    "password",
    "unix_socket_path",
    "ssl",
    "socket_timeout",
    "socket_connect_timeout",
    *TLS_OPTIONS,
)

MAX_REPLY_BYTES = 64 << 20
# A DUMP reply is a key's whole value: strings reach 512 MB (proto-max-bulk-len), collections more.
MAX_DUMP_BYTES = 1 << 30
STALL_TIMEOUT_S = 60.0
SYNC_WAIT_S = 600.0


@dataclass(frozen=True)
class Limits:
    """Bounds that keep a hostile or broken server from holding a snapshot forever or filling RAM.

    ``max_reply_bytes`` caps one command reply (INFO, CONFIG, ACL, a SCAN page) and ``max_dump_bytes``
    one DUMP reply (a key's value: bigger keys need ``method="sync"``); the RDB payload of a replica
    sync is streamed and has no cap. ``stall_timeout``: no progress (a complete reply, or
    1 KiB of bytes) for this long ends the snapshot, however the bytes trickle. ``sync_wait``: how long
    a master may keep us on keepalive newlines before the RDB payload starts (its fork writing the
    file). ``deadline`` is the ``time.monotonic()`` by which the whole snapshot must end (from
    ``timeout=``, kept in ``timeout`` for messages).
    """

    max_reply_bytes: int = MAX_REPLY_BYTES
    max_dump_bytes: int = MAX_DUMP_BYTES
    stall_timeout: float = STALL_TIMEOUT_S
    sync_wait: float = SYNC_WAIT_S
    timeout: float | None = None
    deadline: float | None = None


@dataclass(frozen=True)
class ConnectionSpec:
    """Everything needed to open a connection to one server. Credentials are excluded from repr."""

    host: str = "127.0.0.1"
    port: int = 6379
    unix_path: str | None = None
    # None: every db. A URL's or a pool's db 0 is None too: redis-py writes and defaults to db 0 for "the
    # server" (``redis://host:6379/0``), so only another db in the URL, or ``db=`` given as an option
    # (0 included), narrows the snapshot to one db.
    db: int | None = None
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    tls_options: dict[str, Any] = field(default_factory=dict, repr=False)
    connect_timeout: float = 10.0
    timeout: float = 30.0
    limits: Limits = field(default_factory=Limits)

    @property
    def address(self) -> str:
        """``host:port`` or the socket path: how nodes are named in messages and the ``node`` column."""
        if self.unix_path:
            return self.unix_path
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def display(self) -> str:
        """The source as a URL without credentials (safe for metadata, logs and error messages)."""
        db = self.db or 0
        if self.unix_path:
            return f"unix://{quote(self.unix_path)}?db={db}"
        return f"{'rediss' if self.tls else 'redis'}://{self.address}/{db}"

    def for_node(self, host: str, port: int) -> ConnectionSpec:
        """The same credentials and TLS settings for another node of a cluster."""
        return dataclasses.replace(self, host=host, port=port, unix_path=None, db=None)


def parse_source(source: Any, options: dict[str, Any]) -> ConnectionSpec:
    """Build a spec from a URL / ``host:port`` / redis-py client plus keyword ``options`` (which win)."""
    unknown = set(options) - set(CONNECTION_OPTIONS)
    if unknown:
        raise ConfigurationError(f"unknown connection options: {', '.join(sorted(unknown))}")
    if isinstance(source, str):
        kwargs = _from_url(source)
    elif hasattr(source, "connection_pool"):
        kwargs = _from_pool(source.connection_pool)
    elif hasattr(source, "connection_kwargs"):  # a redis.ConnectionPool (or valkey's) on its own
        kwargs = _from_pool(source)
    else:
        raise SourceError(
            f"cannot snapshot a {type(source).__name__}: give a redis://, rediss:// or unix:// URL, "
            "host:port, a redis-py client or a ConnectionPool"
        )
    if kwargs.get("db") in (0, "0"):
        del kwargs["db"]
    kwargs.update({k: v for k, v in options.items() if v is not None})
    return _spec(kwargs)


def _from_url(url: str) -> dict[str, Any]:
    match = _HOST_PORT.match(url)
    if match:
        return {"host": match.group("host").strip("[]"), "port": int(match.group("port"))}
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() not in _SCHEMES:
        raise SourceError(unsupported_scheme(scheme))
    if not sep:
        raise SourceError("not a live source: expected redis://, rediss://, unix:// or host:port")
    from redis.connection import SSLConnection, UnixDomainSocketConnection, parse_url

    path = urlsplit(f"x://{rest}").path.strip("/")
    if path and not path.isdigit() and scheme.lower() != "unix":
        # redis-py ignores a path it cannot read as a db: say so rather than snapshot every db
        raise SourceError(f"the db in a {scheme}:// URL must be a number, not {path!r}")

    try:
        parsed = parse_url(f"{_SCHEMES[scheme.lower()]}://{rest}")
    except (ValueError, TypeError):
        # redis-py's message may quote the URL: never repeat it (it can hold a password).
        raise SourceError(f"cannot parse the {scheme}:// URL (check host, port and db)") from None
    connection_class = parsed.pop("connection_class", None)
    if connection_class is SSLConnection:
        parsed["ssl"] = True
    if connection_class is UnixDomainSocketConnection:
        parsed["unix_socket_path"] = parsed.pop("path")
    return parsed


def unsupported_scheme(scheme: str) -> str:
    """The message for ``http://…`` and the like (the rest of the URL may hold credentials: not quoted)."""
    return (
        f"unsupported source scheme {scheme.lower()}://: give redis://, rediss://, valkey://, unix://, "
        "host:port, or a path to an .rdb or RSNAP file"
    )


def _from_pool(pool: Any) -> dict[str, Any]:
    """Read a redis-py (or valkey-py) pool's connection settings; we open our own sockets.

    redis-py always sets ``db`` (0 by default), so a pool's db 0 means "every db" as a URL without a
    path does; any other db is honoured.
    """
    kwargs = dict(getattr(pool, "connection_kwargs", {}) or {})
    connection_class = getattr(pool, "connection_class", None)
    name = getattr(connection_class, "__name__", "")
    out: dict[str, Any] = {}
    if kwargs.get("path"):
        out["unix_socket_path"] = kwargs["path"]
    for key in ("host", "port", "username", "password", "socket_timeout", "socket_connect_timeout"):
        if kwargs.get(key) is not None:
            out[key] = kwargs[key]
    if kwargs.get("db"):
        out["db"] = kwargs["db"]
    provider = kwargs.get("credential_provider")
    if provider is not None:
        credentials = provider.get_credentials()
        if len(credentials) == 2:
            out["username"], out["password"] = credentials
        else:
            out["password"] = credentials[0]
    if name.startswith("SSL") or kwargs.get("ssl"):
        out["ssl"] = True
        for key in TLS_OPTIONS:
            if kwargs.get(key) is not None:
                out[key] = kwargs[key]
    return out


def _spec(kw: dict[str, Any]) -> ConnectionSpec:
    tls = bool(kw.get("ssl")) or any(kw.get(k) is not None for k in TLS_OPTIONS)
    try:
        port = int(kw.get("port") or 6379)
        db = None if kw.get("db") is None else int(kw["db"])
        connect_timeout = float(kw.get("socket_connect_timeout") or 10.0)
        timeout = float(kw.get("socket_timeout") or 30.0)
    except (TypeError, ValueError):
        raise ConfigurationError("port, db and timeouts must be numbers") from None
    if not 0 < port < 65536:
        raise ConfigurationError(f"port out of range: {port}")
    if db is not None and db < 0:
        raise ConfigurationError(f"db must be 0 or more, got {db}")
    return ConnectionSpec(
        host=str(kw.get("host") or "127.0.0.1"),
        port=port,
        unix_path=kw.get("unix_socket_path"),
        db=db,
        username=kw.get("username") or None,
        password=kw.get("password") or None,
        tls=tls,
        tls_options={k: kw[k] for k in TLS_OPTIONS if kw.get(k) is not None},
        connect_timeout=connect_timeout,
        timeout=timeout,
    )
