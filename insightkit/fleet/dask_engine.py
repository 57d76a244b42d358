"""The Dask engine: the dataset as a Dask DataFrame with one partition per Parquet row group.

For fleets bigger than one machine: the same tables as the DuckDB engine, computed by a Dask
``distributed`` cluster (a ``LocalCluster`` in tests, any scheduler address in production). Each task
reads one row group of one RSNAP file, so a worker never holds more than a row group; partition values
and the file's snapshot time are attached as constant columns while reading.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from insightkit.expiry import TTL_BUCKETS, ttl_bucket_codes
from insightkit.fleet.duck import PATTERN_COLUMNS, SNAPSHOT_COLUMN
from insightkit.rsnap.dataset import FILE_ID, FleetDataset, FleetFile


def _read(piece: tuple[FleetFile, int, int], wanted: list[str], partition_columns: list[str]) -> pd.DataFrame:
    """One row group as pandas (Arrow-backed), with file id, snapshot time and partition columns.

    The index is the row's position in the whole dataset: unique and sorted across partitions, which
    window expressions (``over``) need to align their results.
    """
    file, row_group, start = piece
    columns = wanted
    present = [c for c in columns if c in file.columns]
    table = pq.ParquetFile(file.path).read_row_group(row_group, columns=present)
    for name in columns:
        if name not in present:  # e.g. an older file without the pattern column
            table = table.append_column(name, pa.nulls(len(table), pa.string()))
    n = len(table)
    table = table.select(columns)
    table = table.append_column(FILE_ID, pa.array(np.full(n, file.file_id, dtype=np.int32)))
    table = table.append_column(SNAPSHOT_COLUMN, pa.array([file.snapshot_time_ms] * n, pa.int64()))
    for name in partition_columns:
        table = table.append_column(name, pa.array([file.partitions.get(name)] * n, pa.string()))
    out = table.to_pandas(types_mapper=pd.ArrowDtype)
    out.index = pd.RangeIndex(start, start + n)
    return out


def frame(dataset: FleetDataset, columns: list[str] | None = None) -> Any:
    """A lazy Dask DataFrame over every row group of every file."""
    import dask.dataframe as dd

    columns = columns or dataset.data_columns()
    pieces: list[tuple[FleetFile, int, int]] = []
    start = 0
    for file in dataset.files:
        footer = pq.ParquetFile(file.path).metadata
        for group in range(footer.num_row_groups):
            rows = footer.row_group(group).num_rows
            if rows:
                pieces.append((file, group, start))
                start += rows
    if not pieces:  # an empty fleet still has a schema
        pieces = [(dataset.files[0], 0, 0)]
    meta = _read(pieces[0], columns, dataset.partition_columns).iloc[:0]
    return dd.from_map(
        _read,
        pieces,
        wanted=columns,
        partition_columns=dataset.partition_columns,
        meta=meta,
    )


def _ttl_codes(part: pd.DataFrame) -> pd.DataFrame:
    codes = np.zeros(len(part), dtype=np.int64)
    snapshots = part[SNAPSHOT_COLUMN].to_numpy(dtype="float64", na_value=np.nan)
    for snapshot in np.unique(snapshots[~np.isnan(snapshots)]):
        mask = snapshots == snapshot
        codes[mask] = ttl_bucket_codes(part["expires_at"][mask], int(snapshot))
    return pd.DataFrame({"code": codes, "memory_bytes": part["memory_bytes"].to_numpy(dtype="int64")})


def _counted(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.reset_index()
    return out.astype({c: "int64" for c in ("keys", "memory_bytes", "volatile_keys") if c in out.columns})


def summary_tables(ddf: Any, dataset: FleetDataset) -> dict[str, Any]:
    """The same tables as duck.summary_tables, computed by Dask in one pass over the data."""
    import dask

    partition_cols = dataset.partition_columns or [FILE_ID]
    base = ddf[["db", "type", "encoding", "memory_bytes", "expires_at", SNAPSHOT_COLUMN, *partition_cols]]
    base = base.assign(volatile=base["expires_at"].notnull().astype("int64"))
    sums = {"keys": ("memory_bytes", "count"), "memory_bytes": ("memory_bytes", "sum")}
    with_volatile = {**sums, "volatile_keys": ("volatile", "sum")}
    codes = base.map_partitions(_ttl_codes, meta={"code": "int64", "memory_bytes": "int64"})
    by_db, by_type, by_encoding, ttl, by_partition = dask.compute(
        base.groupby("db").agg(**with_volatile),
        base.groupby("type").agg(**sums),
        base.groupby(["type", "encoding"]).agg(**sums),
        codes.groupby("code").agg(**sums),
        base.groupby(partition_cols, dropna=False).agg(**with_volatile),
    )
    by_db = _counted(by_db).astype({"db": "int64"}).sort_values("db").reset_index(drop=True)
    by_type = _counted(by_type).sort_values(["memory_bytes", "type"], ascending=[False, True])
    by_encoding = _counted(by_encoding).sort_values(
        ["memory_bytes", "type", "encoding"], ascending=[False, True, True]
    )
    ttl = _counted(ttl).set_index("code").reindex(range(len(TTL_BUCKETS)), fill_value=0)
    ttl_buckets = pd.DataFrame(
        {
            "bucket": TTL_BUCKETS,
            "keys": ttl["keys"].to_numpy(),
            "memory_bytes": ttl["memory_bytes"].to_numpy(),
        }
    )
    by_partition = _counted(by_partition).sort_values(
        ["memory_bytes", *partition_cols], ascending=[False] + [True] * len(partition_cols), kind="stable"
    )
    n, total = int(by_type["keys"].sum()), int(by_type["memory_bytes"].sum())
    tables = {"by_db": by_db, "by_type": by_type, "by_encoding": by_encoding, "ttl_buckets": ttl_buckets}
    tables["by_partition"] = by_partition
    for table in tables.values():
        table["share"] = table["memory_bytes"] / total if total else 0.0
    tables["by_db"] = by_db[["db", "keys", "memory_bytes", "share", "volatile_keys"]]
    return {**{k: v.reset_index(drop=True) for k, v in tables.items()}, "keys": n, "memory_bytes": total}


def _largest_per_pattern(part: pd.DataFrame) -> pd.DataFrame:
    ordered = part.sort_values(["memory_bytes", "key"], ascending=[False, True], kind="stable")
    return ordered.drop_duplicates("pattern")[["pattern", "key", "memory_bytes"]]


def patterns(ddf: Any, dataset: FleetDataset) -> pd.DataFrame:
    """The same table as duck.patterns, computed by Dask (reductions, then small pandas joins)."""
    import dask

    partition_cols = dataset.partition_columns or [FILE_ID]
    base = ddf[["pattern", "key", "type", "memory_bytes", "expires_at", *partition_cols]]
    base = base.assign(no_ttl=base["expires_at"].isnull().astype("int64"))
    stats, types, spread, largest = dask.compute(
        base.groupby("pattern").agg(
            keys=("memory_bytes", "count"),
            memory_bytes=("memory_bytes", "sum"),
            max_memory_bytes=("memory_bytes", "max"),
            keys_without_ttl=("no_ttl", "sum"),
        ),
        base.groupby(["pattern", "type"]).size(),
        base.groupby(["pattern", *partition_cols], dropna=False).size(),
        base.map_partitions(_largest_per_pattern, meta=base[["pattern", "key", "memory_bytes"]]._meta),
    )
    types = types.rename("n").reset_index()
    types = types.sort_values(["pattern", "n", "type"], ascending=[True, False, True]).drop_duplicates(
        "pattern"
    )
    spread = spread.reset_index()
    example = _largest_per_pattern(largest).set_index("pattern")["key"]

    out = stats.reset_index()
    total_keys, total_memory = int(out["keys"].sum()), int(out["memory_bytes"].sum())
    out = out.astype(
        {"keys": "int64", "memory_bytes": "int64", "max_memory_bytes": "int64", "keys_without_ttl": "int64"}
    )
    out["key_share"] = out["keys"] / max(total_keys, 1)
    out["share"] = out["memory_bytes"] / total_memory if total_memory else 0.0
    out["mean_memory_bytes"] = out["memory_bytes"] / out["keys"]
    out["type"] = out["pattern"].map(types.set_index("pattern")["type"])
    out["partitions"] = out["pattern"].map(spread.groupby("pattern").size()).astype("int64")
    out["example"] = out["pattern"].map(example)
    out = out.sort_values(["memory_bytes", "pattern"], ascending=[False, True]).reset_index(drop=True)
    return out[PATTERN_COLUMNS]
