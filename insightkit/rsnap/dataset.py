"""What an RSNAP dataset is made of: its Parquet files, their hive partitions and their metadata.

A fleet dataset is a directory of RSNAP files laid out by whatever partitions the user keeps —
``instance=cache-1/time=2026-11-24T10/part-00000.parquet``, a cluster snapshot's ``node=host%3Aport/``
directories, or several of these side by side. Partition values come from the ``name=value`` directory
names (URL-unquoted, as the RSNAP writer quotes them); per-file facts — its partitions, its own snapshot
time, its row count — come from the Parquet footers alone, so opening a dataset reads no rows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pyarrow.parquet as pq

from insightkit.errors import RsnapError
from insightkit.rsnap.format import decode_metadata
from insightkit.rsnap.writer import NULL_PARTITION
from insightkit.schema import KEY_COLUMNS


@dataclass(frozen=True)
class FleetFile:
    """One RSNAP Parquet file of the dataset."""

    file_id: int
    path: Path
    partitions: dict[str, str | None]
    metadata: dict[str, Any]
    rows: int
    columns: tuple[str, ...]

    @property
    def snapshot_time_ms(self) -> int | None:
        value = self.metadata.get("snapshot_time_ms")
        return int(value) if value is not None else None


@dataclass
class FleetDataset:
    """The files of a dataset and the partition columns they define."""

    root: Path
    files: list[FleetFile]
    partition_columns: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def has_patterns(self) -> bool:
        """True when every file carries a ``pattern`` column (insightkit writes it by default)."""
        return all("pattern" in f.columns for f in self.files)

    def data_columns(self) -> list[str]:
        """Columns present in at least one file (KEY_SCHEMA order first)."""
        seen: list[str] = []
        for file in self.files:
            seen.extend(c for c in file.columns if c not in seen)
        return [c for c in KEY_COLUMNS if c in seen] + [c for c in seen if c not in KEY_COLUMNS]

    def metadata(self) -> dict[str, Any]:
        """A fleet-level metadata dict: the first file's server facts plus one ``nodes`` entry per file.

        Rules read thresholds from ``config``; a fleet whose instances disagree on a threshold is judged
        by the first file's, and each file's own metadata stays available under ``nodes``.
        """
        first = self.files[0].metadata if self.files else {}
        merged: dict[str, Any] = {
            k: v for k, v in first.items() if k in ("server", "config", "config_missing", "rdb", "info")
        }
        times = [f.snapshot_time_ms for f in self.files if f.snapshot_time_ms is not None]
        merged.update(
            {
                "method": "fleet",
                "source": str(self.root),
                # the earliest: what the rules take for "now" (expired-keys: expires_at < now) holds
                # for every file's keys; the latest would call a key of an earlier snapshot expired
                # when only a later snapshot's clock had passed its expiry
                "snapshot_time_ms": min(times) if times else None,
                "nodes": [
                    {**f.metadata, "partitions": f.partitions, "file": str(f.path.relative_to(self.root))}
                    for f in self.files
                ],
            }
        )
        owned: dict[str, Any] = {}  # patterns are fleet-wide names: what any file's library owns
        for f in self.files:
            mine = f.metadata.get("library_patterns")
            if isinstance(mine, dict):
                owned.update(mine)
        if owned:
            merged["library_patterns"] = owned
        return merged


def _partitions(relative: Path) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for part in relative.parts[:-1]:
        name, sep, value = part.partition("=")
        if sep and name:
            found[name] = None if value == NULL_PARTITION else unquote(value)
    return found


def _parquet_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise RsnapError(f"{root}: no such file or directory")
    files = sorted(
        p
        for p in root.rglob("*.parquet")
        if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(root).parts)
    )
    if not files:
        raise RsnapError(f"{root}: holds no RSNAP files (*.parquet)")
    return files


def scan(path: str | os.PathLike[str]) -> FleetDataset:
    """Read the footers of every RSNAP file under ``path`` (a directory, or one file)."""
    root = Path(path)
    files: list[FleetFile] = []
    for i, file in enumerate(_parquet_files(root)):
        try:
            footer = pq.read_metadata(file)
        except (OSError, ValueError) as exc:
            raise RsnapError(f"{file}: not a readable Parquet file ({exc})") from None
        metadata = decode_metadata(footer.metadata, str(file))
        relative = file.relative_to(root) if root.is_dir() else Path(file.name)
        columns = tuple(footer.schema.to_arrow_schema().names)
        files.append(FleetFile(i, file, _partitions(relative), metadata, footer.num_rows, columns))
    names: list[str] = []
    for f in files:
        names.extend(n for n in f.partitions if n not in names)
    clash = [n for n in names if any(n in f.columns for f in files)]
    if clash:
        raise RsnapError(f"{root}: partition directories {clash} clash with columns of the files")
    missing = sorted({c for f in files for c in KEY_COLUMNS if c not in f.columns})
    if missing:
        raise RsnapError(f"{root}: some files lack the key columns {missing}")
    return FleetDataset(root if root.is_dir() else root.parent, files, names)
