"""Write RSNAP files batch by batch, atomically.

Memory stays bounded by ``row_group_rows``: batches are buffered only until a row group is full, then
handed to ``pyarrow.parquet.ParquetWriter``. Everything is written under a temporary name next to the
target and renamed into place on ``close()``; on any error the temporary file or directory is removed,
so a reader never sees a half-written RSNAP and an older RSNAP at the same path survives a failure.

Two layouts:
- one Parquet file (the default for one server);
- a directory dataset for clusters and very large snapshots: ``node=<host%3Aport>/part-00000.parquet``
  (hive partitioning, readable as one table by pyarrow.dataset, pandas and DuckDB), or
  ``part-00000.parquet`` files rolled every ``max_rows_per_file`` rows when there is no node column.
Every file carries the full metadata in its footer, so any one file is self-describing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc

from insightkit._files import check_output_path, os_error
from insightkit.errors import InsightkitError, RsnapError
from insightkit.rsnap.format import conform, encode_metadata, file_schema
from insightkit.rsnap.redact import Redactor
from insightkit.schema import KEY_COLUMNS, NODE_COLUMN, PATTERN_COLUMN

DEFAULT_ROW_GROUP_ROWS = 256 * 1024
DEFAULT_MAX_ROWS_PER_FILE = 16 * 1024 * 1024
PART_NAME = "part-{:05d}.parquet"
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # what hive-style readers take for a null value


class _Part:
    """One output file of a partition: a ParquetWriter plus the rows buffered for its next row group."""

    def __init__(self, path: Path, schema: pa.Schema, compression: str) -> None:
        import pyarrow.parquet as pq  # here: ~12 ms to import, which a run that writes no RSNAP skips

        self.path = path
        self.writer = pq.ParquetWriter(
            path,
            schema,
            compression=compression,
            # Dictionary pages for every column but the (unique) key: most columns hold a few distinct
            # values (db, type, sizes of small keys), so the file shrinks and a DuckDB scan of it runs
            # ~20 % faster; a column that turns out high-cardinality falls back to plain by itself.
            use_dictionary=[name for name in schema.names if name != "key"],
            # Min/max of key and pattern names cost a fifth of the encoding and prune nothing (keys
            # arrive in hash order, so every row group spans the alphabet); numbers keep theirs.
            write_statistics=[name for name in schema.names if name not in ("key", PATTERN_COLUMN)],
        )
        self.rows_written = 0

    def write(self, table: pa.Table, row_group_rows: int) -> None:
        self.writer.write_table(table, row_group_size=row_group_rows)
        self.rows_written += len(table)

    def close(self, kv: dict[bytes, bytes]) -> None:
        self.writer.add_key_value_metadata(kv)
        self.writer.close()


class _Partition:
    """All rows of one node (or of the whole snapshot): buffered, then rolled into parts."""

    def __init__(self, directory: Path, schema: pa.Schema, writer: RsnapWriter) -> None:
        self.directory = directory
        self.schema = schema
        self.owner = writer
        self.buffer: list[pa.Table] = []
        self.buffered = 0
        self.parts: list[_Part] = []

    def add(self, table: pa.Table) -> None:
        if len(table):
            self.buffer.append(table)
            self.buffered += len(table)
        while self.buffered >= self.owner.row_group_rows:
            self.flush(self.owner.row_group_rows)

    def flush(self, rows: int | None = None) -> None:
        """Write ``rows`` buffered rows (all when None) as one row group."""
        if not self.buffered:
            return
        combined = pa.concat_tables(self.buffer)
        take = len(combined) if rows is None else min(rows, len(combined))
        head, rest = combined.slice(0, take), combined.slice(take)
        self._current_part().write(head, self.owner.row_group_rows)
        self.buffer = [rest] if len(rest) else []
        self.buffered = len(rest)

    def _current_part(self) -> _Part:
        owner = self.owner
        if not owner.dataset:  # one file: never rolled
            if not self.parts:
                self.parts.append(_Part(owner._tmp, self.schema, owner.compression))
            return self.parts[0]
        limit = owner.max_rows_per_file
        if not self.parts or (limit and self.parts[-1].rows_written >= limit):
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / PART_NAME.format(len(self.parts))
            self.parts.append(_Part(path, self.schema, owner.compression))
        return self.parts[-1]

    def close(self, kv: dict[bytes, bytes]) -> None:
        self.flush()
        for part in self.parts:
            part.close(kv)

    def abort(self) -> None:
        for part in self.parts:
            with contextlib.suppress(Exception):
                part.writer.close()


# Set by load() on the Analysis it returns; they describe that reading, not the keys.
LOAD_ONLY = ("original_method", "rsnap_source")


def stored_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """``metadata`` as a file keeps it: the original method, not ``"rsnap"``.

    ``load()`` marks an Analysis ``method="rsnap"`` and keeps the file's own in ``original_method``; the
    method is how the keys were obtained (sync, dump, file), so writing that Analysis again, by whatever
    path, stores the original: a report from the third round trip still says how the keys were read.
    """
    out = dict(metadata)
    original = out.get("original_method")
    if out.get("method") == "rsnap" and original and original != "rsnap":
        out["method"] = original
    for name in LOAD_ONLY:
        out.pop(name, None)
    return out


class RsnapWriter:
    """Streaming RSNAP writer: ``write()`` batches, then ``close(metadata)``.

    ``dataset``: True for a directory, False for one file, None to decide from the first batch (a
    directory when it has a ``node`` column). Use as a context manager: an exception inside the block
    discards everything written.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        metadata: Mapping[str, Any] | None = None,
        *,
        dataset: bool | None = None,
        redactor: Redactor | None = None,
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
        max_rows_per_file: int | None = DEFAULT_MAX_ROWS_PER_FILE,
        compression: str = "zstd",
    ) -> None:
        self.path = Path(path)
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.dataset = dataset
        self.redactor = redactor
        self.row_group_rows = max(1, int(row_group_rows))
        self.max_rows_per_file = max_rows_per_file
        self.compression = compression
        self.rows = 0
        self._schema: pa.Schema | None = None
        self._partitioned = False
        self._partitions: dict[str | None, _Partition] = {}
        self._closed = False
        check_output_path(self.path, RsnapError, directory_ok=True)  # an RSNAP dataset is a directory
        self._tmp = self.path.parent / f".{self.path.name}.{uuid.uuid4().hex[:12]}.tmp"

    # --- writing --------------------------------------------------------------------------------

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        """Append rows; they go to disk whenever a row group fills up."""
        if self._closed:
            raise RsnapError(f"{self.path}: writer already closed")
        if not len(data) and self._schema is not None:
            return
        try:
            self._write(data)
        except OSError as exc:
            self.abort()
            raise self._os_error(exc) from exc
        except BaseException:
            self.abort()
            raise

    def _write(self, data: pa.RecordBatch | pa.Table) -> None:
        if self._schema is None:
            self._start(list(data.schema.names))
        assert self._schema is not None
        table = conform(data, self._schema)
        if self.redactor is not None:
            patterns = table.column(PATTERN_COLUMN) if PATTERN_COLUMN in table.column_names else None
            binary = table.column("key_binary") if "key_binary" in table.column_names else None
            redacted = self.redactor.redact_array(table.column("key"), patterns, binary)
            table = table.set_column(table.schema.get_field_index("key"), self._schema.field("key"), redacted)
            if patterns is not None:
                index = table.schema.get_field_index(PATTERN_COLUMN)
                table = table.set_column(
                    index, self._schema.field(PATTERN_COLUMN), self.redactor.redact_patterns(patterns)
                )
        self.rows += len(table)
        if not self._partitioned:
            self._partition(None).add(table)
            return
        nodes = table.column(NODE_COLUMN)
        rest = table.drop_columns([NODE_COLUMN])
        for node in pc.unique(nodes).to_pylist():
            mask = pc.is_null(nodes) if node is None else pc.equal(nodes, node)
            self._partition(node).add(rest.filter(mask))

    def _start(self, columns: list[str]) -> None:
        if self.dataset is None:
            self.dataset = NODE_COLUMN in columns
        self._schema = file_schema(columns)
        self._partitioned = bool(self.dataset) and NODE_COLUMN in columns
        if self.dataset:
            self._tmp.mkdir()

    def _partition(self, node: str | None) -> _Partition:
        partition = self._partitions.get(node)
        if partition is None:
            assert self._schema is not None
            if not self.dataset:
                directory, schema = self._tmp.parent, self._schema
            elif self._partitioned:
                label = NULL_PARTITION if node is None else quote(str(node), safe="")
                directory = self._tmp / f"{NODE_COLUMN}={label}"
                schema = self._schema.remove(self._schema.get_field_index(NODE_COLUMN))
            else:
                directory, schema = self._tmp, self._schema
            partition = _Partition(directory, schema, self)
            self._partitions[node] = partition
        return partition

    # --- finishing ------------------------------------------------------------------------------

    def close(self, metadata: Mapping[str, Any] | None = None) -> Path:
        """Finish every file with ``metadata`` (merged over the constructor's) and move into place."""
        if self._closed:
            return self.path
        if metadata:
            self.metadata.update(metadata)
        self.metadata = stored_metadata(self.metadata)
        if self.redactor is not None:
            self.metadata["redaction"] = self.redactor.describe()
            owned = self.metadata.get("library_patterns")
            if isinstance(owned, dict):  # named as the (redacted) pattern column names them
                self.metadata["library_patterns"] = {
                    self.redactor.redact_pattern(p): v for p, v in owned.items()
                }
        try:
            if self._schema is None:  # no rows at all: still a valid, empty RSNAP
                self._start(KEY_COLUMNS)
                self._partition(None)
            kv = encode_metadata(self.metadata)
            for partition in self._partitions.values():
                if not partition.parts and not partition.buffered:
                    partition._current_part()  # an empty file still records schema and metadata
                partition.close(kv)
            self._move_into_place()
        except OSError as exc:
            self.abort()
            raise self._os_error(exc) from exc
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.path

    def _os_error(self, exc: OSError) -> InsightkitError:
        """The failure said of the target the user named, not of our temporary names beside it."""
        return os_error(self.path, exc, RsnapError)

    def _move_into_place(self) -> None:
        if not self.dataset:
            if self.path.is_dir() and not self.path.is_symlink():
                raise RsnapError(f"{self.path}: is a directory; give a file path to write to")
            (part,) = self._partitions[None].parts
            os.replace(part.path, self.path)
            return
        trash = None
        if self.path.is_dir() and not self.path.is_symlink():
            trash = self.path.parent / f".{self.path.name}.{uuid.uuid4().hex[:12]}.old"
            os.replace(self.path, trash)
        elif self.path.exists():
            self.path.unlink()
        os.replace(self._tmp, self.path)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)

    def abort(self) -> None:
        """Discard everything written so far; the target path is left as it was."""
        for partition in self._partitions.values():
            partition.abort()
        self._closed = True
        if self.dataset:
            shutil.rmtree(self._tmp, ignore_errors=True)
        for partition in self._partitions.values():
            for part in partition.parts:
                with contextlib.suppress(FileNotFoundError):
                    part.path.unlink()

    def __enter__(self) -> RsnapWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._closed:
            self.close()


def write_rsnap(
    path: str | os.PathLike[str],
    data: pa.Table | pa.RecordBatch | Iterable[pa.RecordBatch] | Any,
    metadata: Mapping[str, Any] | None = None,
    **options: Any,
) -> Path:
    """Write ``data`` (Arrow table, pandas DataFrame or an iterable of record batches) as an RSNAP.

    Options are those of ``RsnapWriter`` (``dataset``, ``redactor``, ``row_group_rows``, …). An
    iterable is consumed lazily, so a decoder's batches stream straight to disk.
    """
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        data = pa.Table.from_pandas(data, preserve_index=False)
    redactor = options.get("redactor")
    if redactor is not None and not redactor.fitted and isinstance(data, pa.Table | pa.RecordBatch):
        # the whole table is here: learn its skeleton (a stream of batches cannot, and keeps no word)
        columns = data.schema.names
        if PATTERN_COLUMN in columns:
            owned = (metadata or {}).get("library_patterns")
            redactor.fit(
                data.column("key"), data.column(PATTERN_COLUMN), owned if isinstance(owned, dict) else None
            )
    with RsnapWriter(path, metadata, **options) as writer:
        if isinstance(data, pa.Table | pa.RecordBatch):
            for batch in data.to_batches() if isinstance(data, pa.Table) else [data]:
                writer.write(batch)
        else:
            for batch in data:
                writer.write(batch)
        return writer.close()
