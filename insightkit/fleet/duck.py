"""The DuckDB engine: one ``keys`` view over every file of a dataset, and SQL for summaries and patterns.

DuckDB scans the Parquet files in parallel, streams them through each aggregate and spills to disk
when a join or group-by outgrows its memory limit, so no query here ever holds the key table. Each row
is joined (on the file it came from) to a tiny ``files`` table with its partition values and its own
snapshot time: TTL buckets are measured from the snapshot that saw the key, not from the newest one.
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from insightkit.expiry import TTL_BUCKETS, remaining_sql, ttl_bucket_sql, ttl_column_filters_sql
from insightkit.rsnap.dataset import FILE_ID, FleetDataset

#: Per-row snapshot time (from the row's file), used for TTL buckets; not part of KEY_SCHEMA.
SNAPSHOT_COLUMN = "_snapshot_time_ms"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def connect(
    memory_limit: str | None = None, threads: int | None = None, temp_directory: str | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that spills to ``temp_directory`` (default: the system's temp dir) once it
    reaches ``memory_limit``, and does not keep insertion order (which costs memory and nothing here
    needs)."""
    con = duckdb.connect()
    con.execute(f"SET temp_directory = '{temp_directory or tempfile.gettempdir()}'")
    con.execute("SET preserve_insertion_order = false")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def files_table(dataset: FleetDataset) -> pa.Table:
    """One row per file: its id, path, partition values and snapshot time."""
    columns: dict[str, Any] = {
        FILE_ID: pa.array([f.file_id for f in dataset.files], pa.int32()),
        "filename": pa.array([str(f.path) for f in dataset.files], pa.string()),
        "snapshot_time_ms": pa.array([f.snapshot_time_ms for f in dataset.files], pa.int64()),
    }
    for name in dataset.partition_columns:
        columns[name] = pa.array([f.partitions.get(name) for f in dataset.files], pa.string())
    return pa.table(columns)


def register(
    con: duckdb.DuckDBPyConnection, dataset: FleetDataset, name: str = "keys"
) -> duckdb.DuckDBPyRelation:
    """Define the view ``name``: every key row with its file's partition columns and ``file_id``."""
    files_name = f"{name}_files"
    con.register(files_name, files_table(dataset))
    paths = ", ".join("'" + str(f.path).replace("'", "''") + "'" for f in dataset.files)
    extra = ", ".join(f"f.{_quote(c)}" for c in [FILE_ID, *dataset.partition_columns])
    con.execute(
        f"""
        CREATE OR REPLACE VIEW {_quote(name)} AS
        SELECT k.* EXCLUDE (filename), f.snapshot_time_ms AS {SNAPSHOT_COLUMN}, {extra}
        FROM read_parquet([{paths}], filename = true, union_by_name = true, hive_partitioning = false) AS k
        JOIN {_quote(files_name)} AS f USING (filename)
        """
    )
    return con.view(name)


def _share(frame: pd.DataFrame, total: int) -> pd.DataFrame:
    frame["share"] = frame["memory_bytes"] / total if total else 0.0
    return frame


def summary_tables(
    con: duckdb.DuckDBPyConnection, dataset: FleetDataset, view: str = "keys"
) -> dict[str, Any]:
    """The Summary tables (by_db, by_type, by_encoding, ttl_buckets), plus by_partition and totals.

    One scan: keys, memory and volatile keys per (db, type, encoding, TTL bucket, partition) — a few
    hundred rows — summed each way in pandas.
    """
    v = _quote(view)
    partition_cols = list(dataset.partition_columns) or [FILE_ID]
    partitions = ", ".join(_quote(c) for c in partition_cols)
    cells = con.sql(
        f"""SELECT db, type, encoding, {ttl_bucket_sql(SNAPSHOT_COLUMN)} AS code, {partitions},
                   count(*)::BIGINT AS keys, coalesce(sum(memory_bytes), 0)::BIGINT AS memory_bytes,
                   count(expires_at)::BIGINT AS volatile_keys
            FROM {v} GROUP BY ALL"""
    ).df()
    n, total = int(cells["keys"].sum()), int(cells["memory_bytes"].sum())

    def by(columns: list[str], counts: list[str]) -> pd.DataFrame:
        grouped = cells.groupby(columns, dropna=False, sort=False)[counts].sum().reset_index()
        return grouped.astype({c: "int64" for c in counts})

    sums, with_volatile = ["keys", "memory_bytes"], ["keys", "memory_bytes", "volatile_keys"]
    by_db = by(["db"], with_volatile).sort_values("db", kind="stable").reset_index(drop=True)
    by_db = _share(by_db, total)[["db", "keys", "memory_bytes", "share", "volatile_keys"]]
    by_type = by(["type"], sums).sort_values(["memory_bytes", "type"], ascending=[False, True], kind="stable")
    by_encoding = by(["type", "encoding"], sums).sort_values(
        ["memory_bytes", "type", "encoding"], ascending=[False, True, True], kind="stable"
    )
    ttl = by(["code"], sums).set_index("code").reindex(range(len(TTL_BUCKETS)), fill_value=0)
    ttl_buckets = pd.DataFrame(
        {
            "bucket": TTL_BUCKETS,
            "keys": ttl["keys"].to_numpy(dtype="int64"),
            "memory_bytes": ttl["memory_bytes"].to_numpy(dtype="int64"),
        }
    )
    by_partition = by(partition_cols, with_volatile).sort_values(
        ["memory_bytes", *partition_cols],
        ascending=[False] + [True] * len(partition_cols),
        kind="stable",
        na_position="last",
    )
    return {
        "by_db": by_db,
        "by_type": _share(by_type.reset_index(drop=True), total),
        "by_encoding": _share(by_encoding.reset_index(drop=True), total),
        "ttl_buckets": _share(ttl_buckets, total),
        "by_partition": _share(by_partition.reset_index(drop=True), total),
        "keys": n,
        "memory_bytes": total,
    }


PATTERN_COLUMNS = [
    "pattern",
    "keys",
    "key_share",
    "memory_bytes",
    "share",
    "mean_memory_bytes",
    "max_memory_bytes",
    "type",
    "keys_without_ttl",
    "partitions",
    "example",
]


def patterns(con: duckdb.DuckDBPyConnection, dataset: FleetDataset, view: str = "keys") -> pd.DataFrame:
    """Memory by pattern over the whole dataset: the core columns of aggregate_patterns, plus in how
    many partitions (distinct instance/node/time values; files when there are none) each pattern lives."""
    v = _quote(view)
    where = [_quote(c) for c in dataset.partition_columns] or [FILE_ID]
    frame = con.sql(
        f"""
        WITH totals AS (SELECT count(*) AS n, sum(memory_bytes) AS m FROM {v}),
        stats AS (SELECT pattern, count(*)::BIGINT AS keys, count(*) / any_value(totals.n) AS key_share,
               sum(memory_bytes)::BIGINT AS memory_bytes,
               sum(memory_bytes) / nullif(any_value(totals.m), 0) AS share,
               avg(memory_bytes) AS mean_memory_bytes, max(memory_bytes)::BIGINT AS max_memory_bytes,
               mode(type) AS type, count(*) FILTER (WHERE expires_at IS NULL)::BIGINT AS keys_without_ttl,
               count(DISTINCT row({", ".join(where)}))::BIGINT AS partitions
        FROM {v}, totals GROUP BY pattern),
        -- the example is the pattern's largest key, the first by name among equals (deterministic)
        examples AS (SELECT k.pattern, min(k.key) AS example FROM {v} AS k
                     JOIN stats AS s ON k.pattern IS NOT DISTINCT FROM s.pattern
                                    AND k.memory_bytes = s.max_memory_bytes
                     GROUP BY k.pattern)
        SELECT stats.*, examples.example FROM stats
        LEFT JOIN examples ON stats.pattern IS NOT DISTINCT FROM examples.pattern
        ORDER BY memory_bytes DESC, pattern
        """
    ).df()
    frame["share"] = frame["share"].fillna(0.0)
    return frame[PATTERN_COLUMNS]


def pattern_details(
    con: duckdb.DuckDBPyConnection, now_ms: int | None, view: str = "keys", examples: int = 3
) -> pd.DataFrame:
    """``insightkit.patterns.aggregate_patterns``' table, computed by DuckDB over the view.

    The same columns and definitions, so an out-of-core Analysis shows what an in-memory one does;
    two differences of detail: ``ttl_median_s`` is DuckDB's approximate quantile, and ``examples``
    are the pattern's largest keys (in-memory: the largest, then the first others seen).
    """
    from insightkit.patterns.aggregate import COLUMNS

    v = _quote(view)
    now = int(time.time() * 1000) if now_ms is None else int(now_ms)
    buckets = [
        f"count(*) FILTER (WHERE ttl_ms IS NOT NULL AND {condition})::BIGINT AS {name}"
        for name, condition in ttl_column_filters_sql("ttl_ms")
    ]
    stats = con.sql(
        f"""
        SELECT pattern, count(*)::BIGINT AS keys, sum(memory_bytes)::BIGINT AS memory_bytes,
               max(memory_bytes)::BIGINT AS max_memory_bytes,
               count(*) FILTER (WHERE expires_at IS NULL)::BIGINT AS keys_without_ttl,
               min(ttl) AS ttl_min_s, approx_quantile(ttl, 0.5) AS ttl_median_s, max(ttl) AS ttl_max_s,
               {", ".join(buckets)},
               max_by(key, memory_bytes, {int(examples)}) AS examples
        FROM (SELECT pattern, key, memory_bytes, expires_at, {remaining_sql("expires_at", now)} AS ttl_ms,
                     {remaining_sql("expires_at", now)} / 1000.0 AS ttl FROM {v})
        GROUP BY pattern
        """
    ).df()
    if stats.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    n, total = int(stats["keys"].sum()), int(stats["memory_bytes"].sum())
    stats["key_share"] = stats["keys"] / max(n, 1)
    stats["share"] = stats["memory_bytes"] / max(total, 1)
    stats["mean_memory_bytes"] = stats["memory_bytes"] / stats["keys"].clip(lower=1)
    stats["examples"] = [list(e) if e is not None else [] for e in stats["examples"]]
    # one scan for both mixes: keys per (pattern, type, encoding), summed each way in pandas
    combos = con.sql(f"SELECT pattern, type, encoding, count(*) AS n FROM {v} GROUP BY ALL").df()
    for column, (dominant, described) in {"type": ("type", "types"), "encoding": (None, "encodings")}.items():
        counts = combos.groupby(["pattern", column], dropna=False, sort=False)["n"].sum().reset_index()
        mix = _mix_text(counts.rename(columns={column: "v"}))
        if dominant:
            stats[dominant] = stats["pattern"].map(lambda p, mix=mix: mix.get(p, ("", ""))[0])
        stats[described] = stats["pattern"].map(lambda p, mix=mix: mix.get(p, ("", ""))[1])
    stats = stats.sort_values(
        ["memory_bytes", "keys", "pattern"], ascending=[False, False, True], kind="stable"
    )
    return stats[COLUMNS].reset_index(drop=True)


def _mix_text(counts: pd.DataFrame) -> dict[Any, tuple[str, str]]:
    """Per pattern: its dominant value and ``"hash 98%, string 2%"`` (as aggregate_patterns writes it)."""
    out: dict[Any, tuple[str, str]] = {}
    ordered = counts.sort_values(["pattern", "n", "v"], ascending=[True, False, True], kind="stable")
    for pattern, group in ordered.groupby("pattern", sort=False, dropna=False):
        total = int(group["n"].sum())
        parts = [f"{v} {n / total:.0%}" for v, n in zip(group["v"], group["n"], strict=True)]
        out[pattern] = (str(group["v"].iloc[0]), ", ".join(parts))
    return out
