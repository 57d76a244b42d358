"""``KeyTable``: the per-key rows and where they live, behind one DuckDB relation.

Whether the rows are an Arrow table in this process (registered zero-copy), one RSNAP file or a
dataset of them (read by DuckDB's Parquet scan, spilling beyond ``memory_limit``), every query in
``insightkit.table.queries`` runs against the same two views:

- ``rows``: the key table as the user knows it (KEY_SCHEMA, ``pattern``, and a dataset's partition
  columns such as ``instance`` or ``node``), what the rules, ``top()`` and ``offenders()`` read;
- ``keys``: the same rows plus ``_snapshot_time_ms`` (each row's own snapshot, so TTL buckets are
  measured from the snapshot that saw the key) and ``file_id``, what the summary and pattern tables read.
"""

from __future__ import annotations

import atexit
import contextlib
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

import duckdb
import pandas as pd
import pyarrow as pa

from insightkit.errors import ClosedError
from insightkit.schema import FILE_ID, KEY_SCHEMA

if TYPE_CHECKING:
    from insightkit.rsnap.dataset import FleetDataset

#: Per-row snapshot time (from the row's file), used for TTL buckets; not part of KEY_SCHEMA.
SNAPSHOT_COLUMN = "_snapshot_time_ms"
#: Columns the ``keys`` view adds to each row (never shown to the user).
INTERNAL_COLUMNS = (SNAPSHOT_COLUMN, FILE_ID)
ROWS_VIEW = "rows"
T = TypeVar("T")
KEYS_VIEW = "keys"


def quote(name: str) -> str:
    """``name`` as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def connect(
    memory_limit: str | None = None, threads: int | None = None, temp_directory: str | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that spills to ``temp_directory`` (default: the system's temp dir) once it
    reaches ``memory_limit``, and does not keep insertion order (which costs memory and nothing here
    needs). Without options, a connection to the process's shared database (``session``)."""
    if memory_limit is None and threads is None and temp_directory is None:
        return session()
    return _configured(_opened(duckdb.connect()), memory_limit, threads, temp_directory)


def _configured(
    con: duckdb.DuckDBPyConnection,
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_directory: str | None = None,
) -> duckdb.DuckDBPyConnection:
    directory = (temp_directory or tempfile.gettempdir()).replace("'", "''")
    con.execute(f"SET temp_directory = '{directory}'")
    con.execute("SET preserve_insertion_order = false")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


_shared: duckdb.DuckDBPyConnection | None = None
_shared_lock = threading.Lock()
#: The databases this process opened (weakly: one nobody holds closes itself), closed at exit
#: (``close_databases``).
_databases: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()


def _opened(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    _databases.add(con)
    return con


@atexit.register
def close_databases() -> None:
    """Close every DuckDB database this process opened, with the cursors on it. A database deletes
    its spill files in the temp directory only when it closes; at exit that no longer waits for the
    interpreter to destroy every object (the CLI skips that: ``insightkit.__main__.finish``)."""
    global _shared
    with _shared_lock:
        for con in list(_databases):
            with contextlib.suppress(duckdb.Error):
                con.close()
        _databases.clear()
        _shared = None


def session() -> duckdb.DuckDBPyConnection:
    """A new connection to this process's in-memory DuckDB database, opened on first use with
    ``connect``'s default settings: ~0.5 ms, where a database of its own costs ~25 ms (and an
    ``analyze()`` asks for several). Its registered tables and temporary views are its own; close it
    when done. Settings (memory limit, threads) are the database's, so a caller that needs other ones
    gets a database of its own from ``connect``."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = _configured(_opened(duckdb.connect()))
        return _shared.cursor()


def files_table(dataset: FleetDataset) -> pa.Table:
    """One row per file: its id, path, partition values and snapshot time."""
    columns: dict[str, Any] = {
        FILE_ID: pa.array([f.file_id for f in dataset.files], pa.int32()),
        "filename": pa.array([str(f.path) for f in dataset.files], pa.string()),
        SNAPSHOT_COLUMN: pa.array([f.snapshot_time_ms for f in dataset.files], pa.int64()),
    }
    for name in dataset.partition_columns:
        columns[name] = pa.array([f.partitions.get(name) for f in dataset.files], pa.string())
    return pa.table(columns)


class KeyTable:
    """One snapshot's (or a fleet's) key rows, queried through DuckDB wherever they are held."""

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        partition_columns: list[str],
        arrow: pa.Table | None = None,
    ) -> None:
        self._connection: duckdb.DuckDBPyConnection | None = connection
        self.partition_columns = list(partition_columns)
        self._arrow = arrow
        self._memo: dict[Hashable, Any] = {}

    # --- where the rows live ----------------------------------------------------------------------

    @classmethod
    def from_arrow(
        cls,
        table: pa.Table,
        snapshot_time_ms: int | None = None,
        connection: duckdb.DuckDBPyConnection | None = None,
    ) -> KeyTable:
        """Rows held in memory: DuckDB scans the Arrow buffers in place (no copy).

        ``snapshot_time_ms`` is the reference for TTLs (default: now)."""
        kt = cls(connection or connect(), [], table)
        kt._define_arrow(table, snapshot_time_ms)
        return kt

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, columns: Sequence[str], snapshot_time_ms: int | None = None
    ) -> KeyTable:
        """``columns`` of a pandas key table (zero copy where they are Arrow-backed), for the queries
        that read only them; a column the frame lacks comes as typed nulls (``KEY_SCHEMA``'s type)."""
        arrays: dict[str, Any] = {}
        for name in columns:
            if name not in frame.columns:
                index = KEY_SCHEMA.get_field_index(name)
                kind = KEY_SCHEMA.field(index).type if index >= 0 else pa.string()
                arrays[name] = pa.nulls(len(frame), kind)
                continue
            series = frame[name]
            if isinstance(series.dtype, pd.ArrowDtype):
                arrays[name] = series.array.__arrow_array__()
            else:
                arrays[name] = pa.array(series, from_pandas=True)
        return cls.from_arrow(pa.table(arrays), snapshot_time_ms)

    @classmethod
    def from_dataset(
        cls,
        dataset: FleetDataset,
        *,
        memory_limit: str | None = None,
        threads: int | None = None,
        connection: duckdb.DuckDBPyConnection | None = None,
    ) -> KeyTable:
        """Rows in RSNAP files (one, or a partitioned dataset): DuckDB reads them as it goes."""
        con = connection or connect(memory_limit, threads)
        con.register("_ik_files", files_table(dataset))
        paths = ", ".join("'" + str(f.path).replace("'", "''") + "'" for f in dataset.files)
        extra = ", ".join(f"f.{quote(c)}" for c in [SNAPSHOT_COLUMN, FILE_ID, *dataset.partition_columns])
        con.execute(
            f"""CREATE OR REPLACE TEMP VIEW {KEYS_VIEW} AS
            SELECT k.* EXCLUDE (filename), {extra}
            FROM read_parquet([{paths}], filename = true, union_by_name = true, hive_partitioning = false) AS k
            JOIN _ik_files AS f USING (filename)"""
        )
        kt = cls(con, list(dataset.partition_columns))
        kt._define_rows()
        return kt

    def replace_arrow(self, table: pa.Table, snapshot_time_ms: int | None = None) -> None:
        """Point the views at a new in-memory table (e.g. the same rows with their ``pattern``)."""
        self._arrow = table
        self._memo.clear()
        self._define_arrow(table, snapshot_time_ms)

    def _define_arrow(self, table: pa.Table, snapshot_time_ms: int | None) -> None:
        now = int(time.time() * 1000) if snapshot_time_ms is None else int(snapshot_time_ms)
        self.connection.register("_ik_arrow", table)
        self.connection.execute(
            f"""CREATE OR REPLACE TEMP VIEW {KEYS_VIEW} AS
            SELECT *, CAST({now} AS BIGINT) AS {SNAPSHOT_COLUMN}, CAST(0 AS INTEGER) AS {FILE_ID}
            FROM _ik_arrow"""
        )
        self._define_rows()

    def _define_rows(self) -> None:
        internal = ", ".join(quote(c) for c in INTERNAL_COLUMNS)
        self.connection.execute(
            f"CREATE OR REPLACE TEMP VIEW {ROWS_VIEW} AS SELECT * EXCLUDE ({internal}) FROM {KEYS_VIEW}"
        )

    # --- what callers read --------------------------------------------------------------------------

    @property
    def arrow(self) -> pa.Table | None:
        """The in-memory rows (None when they live in files)."""
        return self._arrow

    @property
    def rows(self) -> duckdb.DuckDBPyRelation:
        """The key rows as the user knows them (no internal columns)."""
        return self.connection.view(ROWS_VIEW)

    @property
    def keys(self) -> duckdb.DuckDBPyRelation:
        """The key rows with each row's snapshot time and file id (what the tables are computed over)."""
        return self.connection.view(KEYS_VIEW)

    def native(self) -> Any:
        """The rows in the cheapest form for an engine that takes Arrow or DuckDB: the Arrow table
        when they are in memory (no query planning for small tables), else the relation."""
        return self._arrow if self._arrow is not None else self.rows

    def memo(self, name: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``'s result, kept until the rows change: what several tables are read from
        (``queries.cells``) is computed once."""
        if name not in self._memo:
            self._memo[name] = compute()
        return cast(T, self._memo[name])

    def column_types(self) -> Mapping[str, str]:
        """DuckDB's type name of every user-visible column."""
        rel = self.rows
        return dict(zip(rel.columns, (str(t) for t in rel.dtypes), strict=True))

    def count(self) -> int:
        if self._arrow is not None:
            return self._arrow.num_rows
        rows = self.connection.execute(f"SELECT count(*) FROM {KEYS_VIEW}").fetchall()
        return int(rows[0][0])

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection every query here runs on; ``ClosedError`` once ``close()`` ran (a
        closed DuckDB connection would raise its own, less telling, error on the next query)."""
        if self._connection is None:
            raise ClosedError("this key table was closed (Analysis.close()): analyze or load it again")
        return self._connection

    @property
    def closed(self) -> bool:
        return self._connection is None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
