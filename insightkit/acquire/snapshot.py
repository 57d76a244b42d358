"""``open_snapshot`` / ``snapshot``: one live server or a whole cluster, decoded while the bytes arrive.

Per server (``NodeSnapshot``): read INFO/CONFIG on a control connection, then get an RDB byte stream
either as a replica (``method="sync"``) or assembled from SCAN+DUMP (``"dump"``); ``"auto"`` tries the
replica way and falls back when the server refuses it, saying why. The stream goes straight into
``read_rdb`` (and, when a ``path`` is given, into ``<path>.part``, renamed only once complete).
A cluster runs one ``NodeSnapshot`` per primary in threads, feeding a bounded queue.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import queue
import ssl
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import hiredis
import pyarrow as pa
import pyarrow.compute as pc

from insightkit._files import check_output_path
from insightkit.errors import (
    ConfigurationError,
    ConnectionFailed,
    InsightkitError,
    ProtocolViolation,
    ReplicationRefused,
    SnapshotError,
    SourceError,
    TransferInterrupted,
)
from insightkit.rdb import read_rdb

from . import cluster, serverinfo
from .connection import RespClient
from .dump import DumpWalker, lru_mode, rdb_version_for
from .replica import ReplicaStream
from .sources import ConnectionSpec, parse_source

log = logging.getLogger(__name__)

METHODS = ("auto", "sync", "dump")
_QUEUE_DEPTH = 4


class NodeSnapshot:
    """One server's snapshot; iterate ``batches()`` once, then read ``metadata``."""

    def __init__(
        self,
        spec: ConnectionSpec,
        *,
        method: str = "auto",
        path: Path | None = None,
        batch_size: int = 65536,
        max_ops_per_sec: float | None = None,
        scan_count: int = 1000,
        verify_checksum: bool = True,
        info: serverinfo.ServerInfo | None = None,
    ) -> None:
        self.spec = spec
        self.method = method
        self.path = path
        self.batch_size = batch_size
        self.max_ops_per_sec = max_ops_per_sec
        self.scan_count = scan_count
        self.verify_checksum = verify_checksum
        self.info = info
        self.metadata: dict[str, Any] = {"source": spec.display}
        if spec.db is not None:
            self.metadata["db"] = spec.db

    def collect_info(self, client: RespClient) -> serverinfo.ServerInfo:
        if self.info is None:
            self.info = serverinfo.collect(client)
        info = self.info
        databases = str(info.config.get("databases") or "")
        if self.spec.db is not None and databases.isdigit() and self.spec.db >= int(databases):
            raise SourceError(
                f"{self.spec.address}: db {self.spec.db} does not exist "
                f"(the server has databases 0–{int(databases) - 1})"
            )
        self.metadata.update(
            server=info.server_dict(),
            info=info.info,
            config=info.config,
            config_missing=list(info.config_missing),
        )
        if info.info_missing:
            self.metadata["info_missing"] = list(info.info_missing)
        if info.config_error:
            self.metadata["config_error"] = info.config_error
        if info.acl is not None:
            self.metadata["acl"] = info.acl
        return info

    def batches(self) -> Generator[pa.RecordBatch, None, None]:
        meta = self.metadata
        with RespClient(self.spec) as client:
            info = self.collect_info(client)
            stream = self._open_stream(client, info)
            writer = _PartFile(self.path) if self.path else None
            try:
                threads = None  # read_rdb's default: a second decoding thread where there is a core
                if meta["method"] == "sync" and self._replica.wait_payload() == "diskless":
                    # the master's child writes the stream as we read it and needs a core for that; one
                    # decoding thread keeps up with it, a second would only take CPU from it
                    threads = 1
                chunks = stream if writer is None else writer.tee(stream)
                reader = read_rdb(
                    chunks,
                    batch_size=self.batch_size,
                    verify_checksum=self.verify_checksum,
                    allocator=info.allocator,
                    list_compress_depth=info.list_compress_depth,
                    stream_node_max_bytes=info.stream_node_max_bytes,
                    threads=threads,
                )
                db = self.spec.db
                if db is None or meta["method"] == "dump":  # DUMP walks only that db already
                    yield from reader
                else:  # a replica receives every db: keep the rows of the one asked for
                    if writer is not None:
                        meta.setdefault("notes", []).append(
                            f"rows of db {db} only; the RDB file holds every db"
                        )
                    for batch in reader:
                        kept = batch.filter(pc.equal(batch.column("db"), db))
                        if kept.num_rows:
                            yield kept
                for _ in chunks:  # the decoder stops at the RDB's EOF: let the transfer finish too
                    pass
                self._check_complete()
                meta["rdb"] = reader.metadata.to_dict()
                if writer is not None:
                    meta["path"] = str(writer.commit())
            finally:
                stream.close()
                if meta["method"] == "sync":  # also when the payload never started to be read
                    self._replica.close()
                if writer is not None:
                    writer.discard()

    def _open_stream(self, client: RespClient, info: serverinfo.ServerInfo) -> Any:
        meta = self.metadata
        reason = None
        if self.method in ("auto", "sync"):
            try:
                replica = ReplicaStream(self.spec)
            except ReplicationRefused as exc:
                if self.method == "sync":
                    raise
                reason = str(exc)
                log.info("%s: replication refused, falling back to SCAN+DUMP: %s", self.spec.address, reason)
            else:
                self._replica = replica
                log.info(
                    "%s: method sync (the server streams its RDB to us as to a replica)", self.spec.address
                )
                meta["method"] = "sync"
                meta["snapshot_time_ms"] = replica.transfer.started_ms
                meta["transfer"] = replica.transfer.to_dict()
                return replica.chunks()
        meta["method"] = "dump"
        log.info("%s: method dump (SCAN + DUMP, key by key)", self.spec.address)
        if reason:
            meta["fallback_reason"] = reason
        meta["snapshot_time_ms"] = int(time.time() * 1000)
        aux = {
            "redis-ver": str(info.info.get("server", {}).get("redis_version") or "0.0.0"),
            "redis-bits": str(info.info.get("server", {}).get("arch_bits") or "64"),
            "ctime": str(meta["snapshot_time_ms"] // 1000),
            "used-mem": str(info.info.get("memory", {}).get("used_memory") or "0"),
        }
        valkey = info.info.get("server", {}).get("valkey_version")
        if valkey:
            aux["valkey-ver"] = str(valkey)
        aux["aof-base"] = "0"
        policy = info.config.get("maxmemory-policy")
        dbs = info.keyspace()
        if "keyspace" in info.info_missing:
            databases = int(info.config.get("databases") or 16)
            dbs = serverinfo.probe_keyspace(client, databases)
            meta.setdefault("notes", []).append("INFO keyspace not allowed: dbs found with SELECT + DBSIZE")
        if self.spec.db is not None:
            dbs = {db: counts for db, counts in dbs.items() if db == self.spec.db}
        self._walker = DumpWalker(
            client,
            dbs=dbs,
            aux=aux,
            default_rdb_version=rdb_version_for(info.info.get("server", {})),
            lru=lru_mode(policy),
            scan_count=self.scan_count,
            max_ops_per_sec=self.max_ops_per_sec,
            exact_expiry=_has_pexpiretime(info.info.get("server", {})),
            server=f"{info.family.capitalize()} {info.version or '(version unknown)'}",
        )
        return self._walker.chunks()

    def _check_complete(self) -> None:
        """Never report success for a transfer that did not reach its end."""
        if self.metadata["method"] == "sync":
            transfer = self._replica.transfer
            self.metadata["transfer"] = transfer.to_dict()
            if not transfer.complete:
                raise TransferInterrupted(f"{self.spec.address}: the RDB payload did not complete")
        else:
            self.metadata["dump"] = self._walker.stats.to_dict()


class _PartFile:
    """Write to ``<path>.part``; rename over ``path`` only when the snapshot completed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.part = path.with_name(path.name + ".part")
        path.parent.mkdir(parents=True, exist_ok=True)
        check_output_path(path, SnapshotError)
        self.handle = open(self.part, "wb")  # noqa: SIM115 - closed in commit/discard

    def tee(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.handle.write(chunk)
            yield chunk

    def commit(self) -> Path:
        self.handle.close()
        os.replace(self.part, self.path)
        return self.path

    def discard(self) -> None:
        if not self.handle.closed:
            self.handle.close()
        with contextlib.suppress(FileNotFoundError):
            self.part.unlink()


class Snapshot:
    """What ``open_snapshot`` returns: ``batches()`` once, then ``metadata``; a context manager."""

    def __init__(
        self,
        source: Any,
        *,
        method: str = "auto",
        path: str | os.PathLike[str] | None = None,
        batch_size: int = 65536,
        progress: bool = True,
        max_ops_per_sec: float | None = None,
        scan_count: int = 1000,
        verify_checksum: bool = True,
        timeout: float | None = None,
        stall_timeout: float | None = None,
        sync_wait: float | None = None,
        max_reply_bytes: int | None = None,
        max_dump_bytes: int | None = None,
        **connection_options: Any,
    ) -> None:
        if method not in METHODS:
            raise ConfigurationError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        if max_ops_per_sec is not None and max_ops_per_sec <= 0:
            raise ConfigurationError(f"max_ops_per_sec must be positive, got {max_ops_per_sec!r}")
        if scan_count < 1:
            raise ConfigurationError(f"scan_count must be positive, got {scan_count!r}")
        for name, value in (("timeout", timeout), ("stall_timeout", stall_timeout), ("sync_wait", sync_wait)):
            if value is not None and not value > 0:
                raise ConfigurationError(f"{name} must be a positive number of seconds, got {value!r}")
        for name, size in (("max_reply_bytes", max_reply_bytes), ("max_dump_bytes", max_dump_bytes)):
            if size is not None and size < 1024:
                raise ConfigurationError(f"{name} must be at least 1024, got {size!r}")
        spec = parse_source(source, connection_options)
        given: dict[str, Any] = {"timeout": timeout, "stall_timeout": stall_timeout, "sync_wait": sync_wait}
        given.update(max_reply_bytes=max_reply_bytes, max_dump_bytes=max_dump_bytes)
        limits = dataclasses.replace(spec.limits, **{k: v for k, v in given.items() if v is not None})
        self.spec = dataclasses.replace(spec, limits=limits)
        self.method = method
        self.path = Path(path) if path is not None else None
        self.batch_size = batch_size
        self.progress = progress
        self.options: dict[str, Any] = {
            "max_ops_per_sec": max_ops_per_sec,
            "scan_count": scan_count,
            "verify_checksum": verify_checksum,
        }
        self.metadata: dict[str, Any] = {"source": self.spec.display}
        self._started = False
        self._active: Generator[pa.RecordBatch, None, None] | None = None
        self._stop = threading.Event()

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop a snapshot that is still running: sockets are closed, cluster workers told to stop."""
        self._stop.set()
        if self._active is not None:
            self._active.close()

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Decoded record batches (KEY_SCHEMA, plus ``node``/``slot`` for clusters) as the bytes arrive."""
        if self._started:
            raise RuntimeError("a snapshot can be iterated only once")
        self._started = True
        limits = self.spec.limits
        if limits.timeout is not None:  # the clock starts with the first connection
            deadline = time.monotonic() + limits.timeout
            self.spec = dataclasses.replace(self.spec, limits=dataclasses.replace(limits, deadline=deadline))
        self._active = _mapped_errors(self._batches(), self.spec.address)
        return self._active

    def _batches(self) -> Generator[pa.RecordBatch, None, None]:
        with RespClient(self.spec) as client:
            info = serverinfo.collect(client)
            nodes = cluster.primaries(client, self.spec.host) if info.cluster_enabled else None
        only = self.spec.db
        total = sum(keys for db, (keys, _) in info.keyspace().items() if only is None or db == only)
        if nodes is None:
            path = self.path
            if path is not None and path.is_dir():
                path = path / f"{self.spec.address.replace(':', '-').strip('/')}.rdb"
            node = NodeSnapshot(
                self.spec,
                method=self.method,
                path=path,
                batch_size=self.batch_size,
                info=info,
                **self.options,
            )
            with _progress_bar(self.progress, total, self.spec.address) as bar:
                for batch in node.batches():
                    bar.update(batch.num_rows)
                    yield batch
            self.metadata = node.metadata
            return
        yield from self._cluster_batches(nodes)

    def _cluster_batches(self, nodes: list[cluster.Primary]) -> Iterator[pa.RecordBatch]:
        snaps = []
        for primary in nodes:
            spec = self.spec.for_node(primary.host, primary.port)
            path = None
            if self.path is not None:
                path = self.path / f"{primary.host}-{primary.port}.rdb"
            snaps.append(
                (
                    primary,
                    NodeSnapshot(
                        spec, method=self.method, path=path, batch_size=self.batch_size, **self.options
                    ),
                )
            )
        results: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=_QUEUE_DEPTH * len(snaps))
        threads = [
            threading.Thread(
                target=self._run_node,
                args=(primary, snap, results),
                daemon=True,
                name=f"snapshot {primary.address}",
            )
            for primary, snap in snaps
        ]
        for thread in threads:
            thread.start()
        running = len(threads)
        total = 0
        try:
            with _progress_bar(self.progress, None, f"cluster ({len(snaps)} primaries)") as bar:
                while running:
                    kind, value = results.get()
                    if kind == "error":
                        raise value
                    if kind == "done":
                        running -= 1
                        continue
                    if kind == "total":
                        total += value
                        bar.total = total
                        bar.refresh()
                        continue
                    bar.update(value.num_rows)
                    yield value
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(timeout=30)
        self.metadata = _cluster_metadata(self.spec, [(p, s.metadata) for p, s in snaps])

    def _run_node(
        self, primary: cluster.Primary, snap: NodeSnapshot, results: queue.Queue[tuple[str, Any]]
    ) -> None:
        def put(item: tuple[str, Any]) -> bool:
            while not self._stop.is_set():
                try:
                    results.put(item, timeout=0.2)
                    return True
                except queue.Full:
                    continue
            return False

        batches = snap.batches()
        try:
            first = True
            for batch in batches:
                if first:
                    first = False
                    put(("total", sum(k for k, _ in (snap.info.keyspace().values() if snap.info else []))))
                if not put(("batch", cluster.add_node_columns(batch, primary.address))):
                    return
            if first and snap.info is not None:
                put(("total", sum(k for k, _ in snap.info.keyspace().values())))
            put(("done", None))
        except BaseException as exc:
            put(("error", exc))
        finally:
            batches.close()


def _mapped_errors(
    batches: Generator[pa.RecordBatch, None, None], where: str
) -> Generator[pa.RecordBatch, None, None]:
    """The acquire boundary: whatever a socket, hiredis, redis-py or a malformed reply raised below
    becomes one insightkit error naming the server (never its credentials), mapped here once so that
    callers (and the CLI's one-line errors) only ever see ``SnapshotError``."""
    try:
        yield from batches
    except InsightkitError:
        raise
    except hiredis.ProtocolError as exc:
        raise ProtocolViolation(f"{where} does not speak the Redis protocol ({exc})") from None
    except ssl.SSLError as exc:
        raise ConnectionFailed(f"{where}: TLS error ({exc.reason or exc})") from None
    except OSError as exc:
        raise ConnectionFailed(f"{where}: {exc.strerror or exc}") from None
    except (TypeError, ValueError, IndexError, KeyError, AttributeError, UnicodeError) as exc:
        # a reply of a shape no check above expected: the server's doing, not a usage error
        raise ProtocolViolation(
            f"{where}: unexpected reply from the server ({type(exc).__name__}: {exc})"
        ) from exc
    except Exception as exc:
        if type(exc).__module__.startswith(("redis.", "valkey.", "hiredis")):
            raise SnapshotError(f"{where}: {type(exc).__name__}: {exc}") from None
        raise


def _cluster_metadata(
    spec: ConnectionSpec, nodes: list[tuple[cluster.Primary, dict[str, Any]]]
) -> dict[str, Any]:
    per_node = []
    for primary, meta in nodes:
        entry = dict(meta)
        entry["node"] = primary.address
        entry["node_id"] = primary.node_id
        entry["slots"] = [list(r) for r in primary.slots]
        per_node.append(entry)
    methods = {m.get("method") for _, m in nodes}
    first = per_node[0]
    out: dict[str, Any] = {
        "method": "dump" if "dump" in methods else "sync",
        "source": spec.display,
        "cluster": True,
        "snapshot_time_ms": min(int(m.get("snapshot_time_ms") or 0) for _, m in nodes),
        "server": first.get("server"),
        "info": first.get("info"),
        "config": first.get("config"),
        "config_missing": first.get("config_missing", []),
        "nodes": per_node,
    }
    if first.get("acl") is not None:
        out["acl"] = first["acl"]
    reasons = [f"{e['node']}: {e['fallback_reason']}" for e in per_node if e.get("fallback_reason")]
    if reasons:
        out["fallback_reason"] = "; ".join(reasons)
    return out


@contextlib.contextmanager
def _progress_bar(enabled: bool, total: int | None, label: str) -> Iterator[Any]:
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=f"snapshot {label}", unit="keys", disable=not enabled, leave=False)
    try:
        yield bar
    finally:
        bar.close()


def open_snapshot(
    source: Any,
    method: str = "auto",
    path: str | os.PathLike[str] | None = None,
    batch_size: int = 65536,
    progress: bool = True,
    **options: Any,
) -> Snapshot:
    """A live snapshot decoded while it arrives; use as a context manager and iterate ``batches()``.

    ``source``: ``redis://[user:password@]host:port/db``, ``rediss://`` (``ssl_ca_certs``,
    ``ssl_certfile``/``ssl_keyfile``, ``ssl_cert_reqs``…), ``unix://path``, ``host:port`` or a redis-py
    client. ``method``: ``"auto"`` (replica sync, else SCAN+DUMP), ``"sync"`` or ``"dump"``.
    ``path``: also write the RDB there (a directory of per-node files for a cluster).
    Other options: ``max_ops_per_sec`` and ``scan_count`` (DUMP method), ``verify_checksum``, and the
    connection options redis-py uses (``username``, ``password``, ``socket_timeout``…).

    Limits (each ends the snapshot with a ``LimitExceeded`` naming the server and the limit):
    ``timeout`` — seconds for the whole snapshot (default: none); ``stall_timeout`` — seconds without
    progress (default 60); ``sync_wait`` — seconds a master may send only keepalives before the RDB
    starts (default 600); ``max_reply_bytes`` — the size of any one reply other than the streamed RDB
    and DUMP (default 64 MiB); ``max_dump_bytes`` — one DUMP reply, i.e. one key (default 1 GiB). A db in the URL (``redis://host/3``) or ``db=3`` snapshots that db only.
    """
    return Snapshot(source, method=method, path=path, batch_size=batch_size, progress=progress, **options)


def snapshot(
    source: Any,
    path: str | os.PathLike[str] | None = None,
    *,
    method: str = "auto",
    progress: bool = True,
    **options: Any,
) -> dict[str, Any]:
    """Take a snapshot, write the RDB to ``path`` (if given) and return its metadata.

    The stream is decoded on the way (that is what validates it and fills ``metadata["rdb"]``); the
    rows are dropped. Use ``insightkit.analyze`` to keep them.
    """
    with open_snapshot(source, method=method, path=path, progress=progress, **options) as snap:
        for _ in snap.batches():
            pass
        return dict(snap.metadata)


__all__ = ["NodeSnapshot", "Snapshot", "SnapshotError", "open_snapshot", "snapshot"]


def _has_pexpiretime(info_server: dict[str, Any]) -> bool:
    """PEXPIRETIME came with Redis 7.0; every Valkey has it (and reports redis_version 7.2.4)."""
    from insightkit.versions import parse_version

    if info_server.get("valkey_version"):
        return True
    _, version = parse_version(str(info_server.get("redis_version") or ""))
    return bool(version and version >= (7, 0))
