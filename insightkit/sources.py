"""Where a key table comes from: a live server, an RDB file or an RSNAP, told apart and opened.

Kept out of the facade so that ``analyze()``, fleet ingest and the CLI share one routing, and none of
them reaches into another's private names.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from insightkit.errors import ConfigurationError, InsightkitError, RdbError, SourceError
from insightkit.rsnap import iter_rsnap, read_rsnap_metadata, sanitize_metadata, strip_credentials

log = logging.getLogger(__name__)

LIVE_SCHEMES = ("redis://", "rediss://", "unix://", "valkey://", "valkeys://")
_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$")
FOREIGN_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
RDB_MAGICS = (b"REDIS", b"VALKEY")
PARQUET_MAGIC = b"PAR1"
#: ``analyze(out_of_core=None)`` streams RDB files from this size on (~2M small keys, ~1 GB in memory)
AUTO_OUT_OF_CORE_RDB_BYTES = 128 * 1024 * 1024
#: ...and RSNAPs from this many keys; a live snapshot or a smaller RDB file that passes this many keys
#: while it is read goes on out of core from there (``hold_up_to``)
AUTO_OUT_OF_CORE_KEYS = 2_000_000


def progress_batches(
    batches: Iterable[pa.RecordBatch], progress: bool, desc: str
) -> Iterator[pa.RecordBatch]:
    if not progress:  # no bar: not even tqdm's import (asyncio, multiprocessing) on the CLI's path
        yield from batches
        return
    from tqdm.auto import tqdm

    with tqdm(desc=desc, unit=" keys", unit_scale=True, disable=not progress, leave=False) as bar:
        for batch in batches:
            bar.update(len(batch))
            yield batch


def hold_up_to(
    batches: Iterator[pa.RecordBatch], keys: int
) -> tuple[list[pa.RecordBatch], Generator[pa.RecordBatch, None, None] | None]:
    """The batches of a stream while they hold fewer than ``keys`` keys in all: ``(all of them, None)``
    when it ends first. Otherwise ``([], the whole stream)``: what was read, then the rest, each held
    batch let go as it is handed on. How ``analyze()`` keeps a snapshot whose size it could not know
    beforehand (a live server, a small file of many tiny keys) from filling memory."""
    held: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        held.append(batch)
        count += batch.num_rows
        if count >= keys:
            return [], _resumed(held, batches)
    return held, None


def _resumed(
    held: list[pa.RecordBatch], rest: Iterator[pa.RecordBatch]
) -> Generator[pa.RecordBatch, None, None]:
    queue = held[::-1]
    held.clear()
    while queue:
        yield queue.pop()
    yield from rest


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


def display_source(source: Any) -> str:
    """A source for the log: URLs without their password, a client by its type."""
    if isinstance(source, str | os.PathLike):
        return strip_credentials(str(source))
    return type(source).__name__


def sniff(path: Path) -> str:
    """``"rdb"`` or ``"rsnap"`` from the first bytes; SourceError for anything else."""
    if path.is_dir():
        return "rsnap"
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if head.startswith(RDB_MAGICS):
        return "rdb"
    if head.startswith(PARQUET_MAGIC):
        return "rsnap"
    if not head:
        raise SourceError(f"{path}: empty file, not an RDB or RSNAP")
    raise SourceError(f"{path}: not an RDB file (no REDIS/VALKEY magic) and not an RSNAP (Parquet)")


def is_live(source: object) -> bool:
    if isinstance(source, str):
        if source.startswith(LIVE_SCHEMES):
            return True
        return bool(_HOST_PORT.match(source)) and not Path(source).exists()
    module = type(source).__module__
    return module.startswith(("redis.", "valkey.")) or hasattr(source, "connection_pool")


def file_metadata(path: Path, rdb: dict[str, Any]) -> dict[str, Any]:
    aux = rdb.get("aux") or {}
    try:
        snapshot_ms = int(aux["ctime"]) * 1000
    except (KeyError, TypeError, ValueError):
        snapshot_ms = int(path.stat().st_mtime * 1000)
    model = rdb.get("memory_model") or {}
    writer = rdb.get("server") or {}
    family = (
        writer.get("family") or model.get("family") or ("valkey" if rdb.get("magic") == "VALKEY" else "redis")
    )
    if family == "valkey":
        version = aux.get("valkey-ver") or writer.get("version")
    else:
        version = rdb.get("redis_version") or aux.get("redis-ver") or writer.get("version")
    return {
        "method": "file",
        "source": str(path),
        "snapshot_time_ms": snapshot_ms,
        "server": {"family": family, "version": version, "allocator": model.get("allocator")},
        "rdb": rdb,
    }


def _rdb_batches(reader: Any, path: Path) -> Iterator[pa.RecordBatch]:
    """The reader's batches, with decode errors naming the file."""
    try:
        yield from reader
    except RdbError as exc:
        raise type(exc)(f"{path}: {exc.reason}", offset=exc.offset, key=exc.key) from None


MetadataSource = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class Source:
    """A source told apart once (``classify``): a live server, an RDB file or an RSNAP."""

    kind: Literal["live", "rdb", "rsnap"]
    value: Any
    path: Path | None = None


def classify(source: Any) -> Source:
    """What ``source`` is, reading a file's first bytes once; SourceError for what cannot be analyzed."""
    if isinstance(source, Source):
        return source
    if is_live(source):
        return Source("live", source)
    if not isinstance(source, str | os.PathLike):
        raise SourceError(
            f"cannot analyze {_article(type(source).__name__)} {type(source).__name__}: give a redis:// "
            "URL, a redis-py client, an .rdb path or an RSNAP path"
        )
    path = Path(source)
    if not path.exists():
        scheme = FOREIGN_SCHEME.match(str(source)) if isinstance(source, str) else None
        if scheme:
            from insightkit.acquire.sources import unsupported_scheme

            raise SourceError(unsupported_scheme(scheme.group(1)))
        raise SourceError(f"{strip_credentials(str(path))}: no such file or directory")
    return Source("rdb" if sniff(path) == "rdb" else "rsnap", source, path)


def check_batch_size(batch_size: int) -> None:
    """Refuse a batch size no reader can use (checked once, at the public entry points)."""
    if batch_size <= 0:
        raise ConfigurationError(f"batch_size must be positive, not {batch_size}")


@contextlib.contextmanager
def open_source(
    source: Any, *, batch_size: int, progress: bool, options: dict[str, Any]
) -> Iterator[tuple[Iterator[pa.RecordBatch], MetadataSource]]:
    """Batches of any source (or a ``classify``-ed one) and a callable for its metadata (complete once
    the batches are drained)."""
    found = classify(source)
    if found.kind == "live":
        from insightkit.acquire import open_snapshot

        method = options.pop("method", "auto")
        log.info("source: live server %s (method %s)", display_source(found.value), method)
        with open_snapshot(
            found.value, method=method, batch_size=batch_size, progress=progress, **options
        ) as snap:

            def live_metadata() -> dict[str, Any]:
                metadata = dict(snap.metadata)
                metadata.setdefault("snapshot_time_ms", int(time.time() * 1000))
                return sanitize_metadata(metadata)

            yield iter(snap.batches()), live_metadata
        return
    path = found.path
    assert path is not None
    log.info("source: %s file %s", found.kind.upper(), strip_credentials(str(path)))
    if found.kind == "rsnap":
        if options:
            raise ConfigurationError(f"options {sorted(options)} do not apply to an RSNAP")
        yield iter_rsnap(path, batch_size=batch_size), lambda: read_rsnap_metadata(path)
        return
    decode, metadata = rdb_file(path, batch_size, options)
    yield progress_batches(decode(), progress, path.name), metadata


def rdb_file(
    path: Path, batch_size: int, options: dict[str, Any], *, bounded: bool = False
) -> tuple[Callable[[], Iterator[pa.RecordBatch]], MetadataSource]:
    """An RDB file's batches, decodable any number of times, and the metadata of the last decode.

    ``bounded`` reads the file in chunks instead of memory-mapping it: as fast, and the pages read
    do not stay in the process (a mapped 5 GB dump would count 5 GB of resident memory by the end).
    """
    from insightkit.rdb import read_rdb

    unknown = set(options) - {"verify_checksum", "allocator", "server_version"}
    if unknown:
        raise ConfigurationError(f"options {sorted(unknown)} do not apply to an RDB file")
    readers: list[Any] = []

    def decode() -> Iterator[pa.RecordBatch]:
        if not bounded:
            reader = read_rdb(str(path), batch_size=batch_size, **options)
            readers.append(reader)
            yield from _rdb_batches(reader, path)
            return
        with open(path, "rb") as handle:
            reader = read_rdb(handle, batch_size=batch_size, **options)
            readers.append(reader)
            yield from _rdb_batches(reader, path)

    return decode, lambda: file_metadata(path, readers[-1].metadata.to_dict())


def is_big(source: Source) -> bool:
    """Whether ``analyze()`` should stream ``source`` rather than hold its key table (~450 bytes a key)."""
    path = source.path
    if path is None:
        return False
    if source.kind == "rdb":
        return path.stat().st_size >= AUTO_OUT_OF_CORE_RDB_BYTES
    if source.kind == "rsnap":
        from insightkit.rsnap.dataset import scan

        try:
            return scan(path).rows >= AUTO_OUT_OF_CORE_KEYS
        except InsightkitError:
            return False
    return False
