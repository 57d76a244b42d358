"""The key table: its rows wherever they live (``KeyTable``), and the tables computed over them
(summary, pattern table, top-N), each defined once as DuckDB SQL (``queries``)."""

from insightkit.table.keytable import INTERNAL_COLUMNS, SNAPSHOT_COLUMN, KeyTable, connect, session
from insightkit.table.queries import (
    PATTERN_COLUMNS,
    key_columns,
    pattern_table,
    summary_tables,
    top_keys,
)

__all__ = [
    "INTERNAL_COLUMNS",
    "PATTERN_COLUMNS",
    "SNAPSHOT_COLUMN",
    "KeyTable",
    "connect",
    "key_columns",
    "pattern_table",
    "session",
    "summary_tables",
    "top_keys",
]
