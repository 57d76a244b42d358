"""The Dask engine: the dataset as a Dask DataFrame with one partition per Parquet row group.

For fleets bigger than one machine: the same tables as the DuckDB engine, computed by a Dask
``distributed`` cluster (a ``LocalCluster`` in tests, any scheduler address in production). Each task
reads one row group of one RSNAP file, so a worker never holds more than a row group; partition values
and the file's snapshot time are attached as constant columns while reading. The tables are not written
again here: each partition runs the partial queries of ``insightkit.table.queries`` (DuckDB over the
partition) and their merge gives what the DuckDB engine gives.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from insightkit.rsnap.dataset import FleetDataset, FleetFile
from insightkit.schema import FILE_ID
from insightkit.table.keytable import SNAPSHOT_COLUMN, session
from insightkit.table.queries import (
    cells_partial_sql,
    merge_pattern_partials,
    pattern_extras_partial_sql,
    summary_from_partials,
    summary_partial_sql,
)


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


def _on_partition(part: pd.DataFrame, queries: list[str]) -> list[pa.Table]:
    """The partial queries of insightkit.table.queries run by DuckDB over one partition's rows."""
    con = session()
    try:
        con.register("part", pa.Table.from_pandas(part, preserve_index=False))
        return [con.sql(query).to_arrow_table() for query in queries]
    finally:
        con.close()


def _partials(ddf: Any, queries: list[str]) -> list[pa.Table]:
    """Each partial query over every partition (one task a partition), concatenated per query."""
    import dask

    tasks = [dask.delayed(_on_partition)(part, queries) for part in ddf.to_delayed()]
    results = dask.compute(*tasks)
    return [pa.concat_tables([r[i] for r in results]) for i in range(len(queries))]


def summary_tables(ddf: Any, dataset: FleetDataset) -> dict[str, Any]:
    """The same tables as the DuckDB engine: the summary's partial query per partition, then its merge."""
    (cells,) = _partials(ddf, [summary_partial_sql("part", dataset.partition_columns)])
    return summary_from_partials(cells, dataset.partition_columns, by_partition=True)


def patterns(ddf: Any, dataset: FleetDataset) -> pd.DataFrame:
    """The same table as the DuckDB engine: the pattern table's partial queries per partition, then
    its merge."""
    cells, extras = _partials(
        ddf, [cells_partial_sql("part", dataset.partition_columns), pattern_extras_partial_sql("part")]
    )
    return merge_pattern_partials(cells, extras, dataset.partition_columns)
