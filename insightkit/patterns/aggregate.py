"""``aggregate_patterns``: one row per pattern — where memory goes, what it is, how long it lives.

The table is defined once, as DuckDB SQL in ``insightkit.table.queries``; this is its entry point for a
DataFrame that already has a ``pattern`` column (the frame's Arrow buffers are scanned in place).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

from insightkit.errors import ConfigurationError
from insightkit.schema import PATTERN_COLUMN
from insightkit.table import PATTERN_COLUMNS, KeyTable, pattern_table

COLUMNS = PATTERN_COLUMNS
_READ = (PATTERN_COLUMN, "key", "memory_bytes", "type", "encoding", "expires_at")


def _arrow_columns(frame: pd.DataFrame) -> pa.Table:
    """The columns the pattern table reads, as Arrow (zero copy for Arrow-backed frames); absent
    optional ones as typed nulls."""
    columns: dict[str, Any] = {}
    n = len(frame)
    defaults = {"type": pa.string(), "encoding": pa.string(), "expires_at": pa.int64()}
    for name in _READ:
        if name in frame.columns:
            series = frame[name]
            if isinstance(series.dtype, pd.ArrowDtype):
                columns[name] = series.array.__arrow_array__()  # zero copy
            else:
                columns[name] = pa.array(series, from_pandas=True)
        else:
            columns[name] = pa.nulls(n, defaults[name])
    table = pa.table(columns)
    if not pa.types.is_string(table.schema.field(PATTERN_COLUMN).type):
        table = table.set_column(0, PATTERN_COLUMN, table.column(0).cast(pa.string()))
    return table


def aggregate_patterns(
    keys_with_pattern: pd.DataFrame, *, now_ms: int | None = None, examples: int = 3
) -> pd.DataFrame:
    """One row per pattern, sorted by ``memory_bytes`` (descending).

    ``now_ms`` is the reference for TTLs (pass the snapshot time; defaults to now); ``ttl_median_s`` is
    approximate (DuckDB's ``approx_quantile``). ``examples``: the pattern's largest keys, ties by name.
    """
    df = keys_with_pattern
    for column in (PATTERN_COLUMN, "key", "memory_bytes"):
        if column not in df.columns:
            raise ConfigurationError(f"aggregate_patterns needs a {column!r} column")
    table = KeyTable.from_arrow(_arrow_columns(df), now_ms)
    try:
        return pattern_table(table, examples)
    finally:
        table.close()
