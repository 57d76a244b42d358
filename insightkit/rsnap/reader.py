"""Read RSNAP files and directory datasets back into Arrow, whole or batch by batch.

A reader opens every schema version up to its own and refuses newer ones (see format.py). Directory
datasets are read with pyarrow.dataset and hive partitioning, so the ``node`` column comes back from the
``node=...`` directory names; hidden and ``_``-prefixed files (temporary names) are ignored.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

from insightkit.errors import RsnapError
from insightkit.rsnap.format import ALLOWED_COLUMNS, decode_metadata, upgrade_table
from insightkit.rsnap.writer import NULL_PARTITION
from insightkit.schema import NODE_COLUMN

PARQUET_MAGIC = b"PAR1"


def _files(path: Path) -> list[Path]:
    """The Parquet files of an RSNAP, in a stable order."""
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*.parquet")
            if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
        )
        if not files:
            raise RsnapError(f"{path}: directory holds no RSNAP parts (*.parquet)")
        return files
    raise RsnapError(f"{path}: no such file or directory")


def _footer(file: Path) -> pq.FileMetaData:
    import pyarrow.parquet as pq  # here: ~12 ms to import, and reading an RDB never needs it

    try:
        with open(file, "rb") as fh:
            if fh.read(4) != PARQUET_MAGIC:
                raise RsnapError(f"{file}: not an RSNAP (not a Parquet file)")
        return pq.read_metadata(file)
    except OSError as exc:
        raise RsnapError(f"{file}: cannot read ({exc.strerror or exc})") from None
    except (pa.ArrowInvalid, pa.ArrowIOError) as exc:
        raise RsnapError(f"{file}: not a valid Parquet file ({exc})") from None


def read_rsnap_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Only the metadata dict (reads footers, not rows). Every file of one snapshot carries the same
    (the writer closes them all with it): files that differ are several snapshots side by side — a
    fleet, which ``insightkit.fleet.open_fleet`` reads — and RsnapError says so rather than adding
    them up as one snapshot."""
    files = _files(Path(path))
    metadata = decode_metadata(_footer(files[0]).metadata, str(files[0]))
    others = []
    for other in files[1:]:
        found = decode_metadata(_footer(other).metadata, str(other))  # every part must be readable
        if found != metadata:
            others.append((other, found))
    if others:
        distinct = {json.dumps(metadata, sort_keys=True, default=str)}
        distinct |= {json.dumps(found, sort_keys=True, default=str) for _, found in others}
        snapshots = {_snapshot_of(metadata)} | {_snapshot_of(found) for _, found in others}
        shown = ", ".join(sorted(snapshots)[:3]) + (" …" if len(snapshots) > 3 else "")
        raise RsnapError(
            f"{path}: its files hold {len(distinct)} different snapshots ({shown}; e.g. "
            f"{files[0].name} and {others[0][0].name}), not one: analyze one of them, or read them "
            "together as a fleet with insightkit.fleet.open_fleet()"
        )
    return metadata


def _snapshot_of(metadata: dict[str, Any]) -> str:
    """A snapshot as a person tells it apart: its source and when it was taken."""
    when = metadata.get("snapshot_time_ms")
    at = ""
    if isinstance(when, int) and 0 <= when < 253_402_300_800_000:  # (up to year 9999)
        at = " at " + dt.datetime.fromtimestamp(when / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return f"{metadata.get('source', '?')}{at}"


def _dataset(path: Path) -> ds.Dataset:
    import pyarrow.dataset as ds  # here, not at import: ~30 ms (and ssl) every CLI run reading no RSNAP

    files = _files(path)
    for file in files:
        decode_metadata(_footer(file).metadata, str(file))
    if path.is_file():
        return ds.dataset(str(path), format="parquet")
    partitioning = None
    if any(part.startswith(f"{NODE_COLUMN}=") for f in files for part in f.relative_to(path).parts):
        partitioning = ds.HivePartitioning(
            pa.schema([(NODE_COLUMN, pa.string())]), null_fallback=NULL_PARTITION
        )
    try:
        return ds.dataset(
            [str(f) for f in files], format="parquet", partitioning=partitioning, partition_base_dir=str(path)
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise RsnapError(f"{path}: parts of this RSNAP do not agree ({exc})") from None


def _ordered(names: Sequence[str]) -> list[str]:
    known = [c for c in ALLOWED_COLUMNS if c in names]
    return known + [c for c in names if c not in known]


def read_rsnap(
    path: str | os.PathLike[str], columns: Sequence[str] | None = None
) -> tuple[pa.Table, dict[str, Any]]:
    """The whole key table (or ``columns`` of it) and the metadata dict."""
    path = Path(path)
    metadata = read_rsnap_metadata(path)
    dataset = _dataset(path)
    wanted = _ordered(dataset.schema.names) if columns is None else list(columns)
    missing = [c for c in wanted if c not in dataset.schema.names]
    try:
        table = dataset.to_table(columns=[c for c in wanted if c not in missing])
    except (pa.ArrowInvalid, OSError) as exc:
        raise RsnapError(f"{path}: cannot read ({exc})") from None
    if columns is None:
        table = upgrade_table(table, int(metadata["rsnap_schema_version"]))
    elif missing:
        table = upgrade_table(table, int(metadata["rsnap_schema_version"])).select(
            [c for c in wanted if c in ALLOWED_COLUMNS]
        )
    return table, metadata


def rsnap_columns(path: str | os.PathLike[str]) -> list[str]:
    """The column names an RSNAP file or directory holds (reads footers, not rows)."""
    return list(_dataset(Path(path)).schema.names)


def iter_rsnap(
    path: str | os.PathLike[str], columns: Sequence[str] | None = None, batch_size: int = 65536
) -> Iterator[pa.RecordBatch]:
    """Record batches of at most ``batch_size`` rows: memory bounded by the batch, not the file."""
    dataset = _dataset(Path(path))
    wanted = _ordered(dataset.schema.names) if columns is None else list(columns)
    yield from dataset.to_batches(columns=wanted, batch_size=batch_size)
