"""``aggregate_patterns``: one row per pattern — where memory goes, what it is, how long it lives.

The table is defined once, as DuckDB SQL in ``insightkit.table.queries``; this is its entry point for a
DataFrame that already has a ``pattern`` column (the frame's Arrow buffers are scanned in place).
"""

from __future__ import annotations

import pandas as pd

from insightkit.errors import ConfigurationError
from insightkit.schema import PATTERN_COLUMN
from insightkit.table import PATTERN_COLUMNS, KeyTable, pattern_table

COLUMNS = PATTERN_COLUMNS
_READ = (PATTERN_COLUMN, "key", "db", "memory_bytes", "type", "encoding", "expires_at")


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
    table = KeyTable.from_frame(df, _READ, now_ms)
    try:
        return pattern_table(table, examples)
    finally:
        table.close()
