"""The tables every view of a key table shows, each defined once as DuckDB SQL.

The summary (memory by db, type, encoding, TTL bucket and partition), the pattern table (memory, types,
TTLs and examples per pattern) and top-N. Each aggregate runs in two stages so that one definition
serves every engine: *partial* queries over any set of rows, whose results can be concatenated, and a
*merge* over partials. The key rows are scanned twice for the summary and the pattern table together:
once for the cells both are read from (``cells_partial_sql``, kept on the KeyTable) and once for what
only a per-pattern pass can give (``pattern_extras_partial_sql``: examples, TTL median). DuckDB runs the
partials over the whole ``keys`` view (in memory or out of core); the Dask engine runs them on each of
its partitions (DuckDB over the partition's Arrow buffers) and the same merges over their concatenation.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from insightkit.errors import ConfigurationError
from insightkit.expiry import TTL_BUCKETS, TTL_COLUMNS, remaining_sql, ttl_bucket_sql
from insightkit.schema import FILE_ID
from insightkit.table.keytable import KEYS_VIEW, ROWS_VIEW, SNAPSHOT_COLUMN, KeyTable, quote, session

#: The pattern table's columns (``partitions`` is added for datasets with partition columns).
PATTERN_COLUMNS = [
    "pattern",
    "keys",
    "key_share",
    "memory_bytes",
    "share",
    "mean_memory_bytes",
    "max_memory_bytes",
    "type",
    "types",
    "encodings",
    "keys_without_ttl",
    "ttl_min_s",
    "ttl_median_s",
    "ttl_max_s",
    *TTL_COLUMNS,
    "examples",
]
EXAMPLES = 3  # keys shown per pattern: its largest, ties by name

_TYPED = {"type": "VARCHAR", "encoding": "VARCHAR", "pattern": "VARCHAR"}


def _partition_key(partition_columns: list[str]) -> list[str]:
    """What tells one snapshot's rows from another's: the partition columns, else the file."""
    return list(partition_columns) or [FILE_ID]


# --- cells: the one scan both tables are read from ---------------------------------------------


def cells_partial_sql(view: str, partition_columns: list[str], patterns: bool = True) -> str:
    """Per (pattern, db, type, encoding, TTL bucket, partition): keys, memory (sum and largest),
    volatile keys and the TTL extremes. A few thousand rows whatever the key count, and additive (sums,
    minima, maxima), so partials of any row sets combine into the whole; the summary, the pattern
    table's counts and its type/encoding mix are each a small group-by of them, so the key rows are
    scanned once for all three. ``patterns=False`` leaves the pattern out (a table without one yet)."""
    parts = ", ".join(quote(c) for c in _partition_key(partition_columns))
    left = remaining_sql("expires_at", SNAPSHOT_COLUMN)  # HUGEINT: exact for every int64 expiry
    pattern = "pattern::VARCHAR AS pattern, " if patterns else ""
    return f"""SELECT {pattern}db, type, encoding, {ttl_bucket_sql(SNAPSHOT_COLUMN)} AS code, {parts},
                   count(*)::BIGINT AS keys, coalesce(sum(memory_bytes), 0)::BIGINT AS memory_bytes,
                   coalesce(max(memory_bytes), 0)::BIGINT AS max_memory_bytes,
                   count(expires_at)::BIGINT AS volatile_keys,
                   min({left}) AS ttl_min_ms, max({left}) AS ttl_max_ms
            FROM {view} GROUP BY ALL"""


def summary_partial_sql(view: str, partition_columns: list[str]) -> str:
    """The cells without patterns: what the summary needs from a table that may have none."""
    return cells_partial_sql(view, partition_columns, patterns=False)


def cells(table: KeyTable) -> pa.Table:
    """The whole table's cells (``cells_partial_sql``), computed once until its rows change: the
    summary and the pattern table share them. With patterns when the table has them."""
    patterns = "pattern" in table.keys.columns
    sql = cells_partial_sql(KEYS_VIEW, table.partition_columns, patterns)
    return table.memo(("cells", patterns), lambda: table.connection.sql(sql).to_arrow_table())


# --- summary ----------------------------------------------------------------------------------------


def summary_from_partials(
    cells: pa.Table, partition_columns: list[str], by_partition: bool = False
) -> dict[str, Any]:
    """The summary tables from concatenated cells: by_db, by_type, by_encoding, ttl_buckets (and
    ``by_partition``: per partition, or per file where there are no partition columns), plus the
    ``keys`` and ``memory_bytes`` totals. Arrow group-bys: the cells are small, and pandas'
    per-call overhead would outweigh them."""
    n = int(pc.sum(cells.column("keys")).as_py() or 0)
    total = int(pc.sum(cells.column("memory_bytes")).as_py() or 0)

    def by(columns: list[str], counts: list[str], order: list[tuple[str, str]]) -> pd.DataFrame:
        grouped = cells.group_by(columns, use_threads=False).aggregate([(c, "sum") for c in counts])
        grouped = grouped.rename_columns([c.removesuffix("_sum") for c in grouped.column_names])
        frame = grouped.sort_by(order).select([*columns, *counts]).to_pandas()
        frame = frame.astype({c: "int64" for c in counts})
        frame["share"] = frame["memory_bytes"] / total if total else 0.0
        return frame

    def largest_first(columns: list[str]) -> list[tuple[str, str]]:
        return [("memory_bytes", "descending"), *((c, "ascending") for c in columns)]

    sums, with_volatile = ["keys", "memory_bytes"], ["keys", "memory_bytes", "volatile_keys"]
    by_db = by(["db"], with_volatile, [("db", "ascending")]).astype({"db": "int64"})
    ttl = by(["code"], sums, [("code", "ascending")]).set_index("code")
    ttl = ttl.reindex(range(len(TTL_BUCKETS)), fill_value=0)
    ttl_buckets = pd.DataFrame(
        {
            "bucket": TTL_BUCKETS,
            "keys": ttl["keys"].to_numpy(dtype="int64"),
            "memory_bytes": ttl["memory_bytes"].to_numpy(dtype="int64"),
            "share": ttl["share"].to_numpy(dtype="float64"),
        }
    )
    tables: dict[str, Any] = {
        "by_db": by_db[["db", "keys", "memory_bytes", "share", "volatile_keys"]],
        "by_type": by(["type"], sums, largest_first(["type"])),
        "by_encoding": by(["type", "encoding"], sums, largest_first(["type", "encoding"])),
        "ttl_buckets": ttl_buckets,
    }
    if by_partition:
        parts = _partition_key(partition_columns)
        tables["by_partition"] = by(parts, with_volatile, largest_first(parts))
    tables["keys"], tables["memory_bytes"] = n, total
    return tables


def summary_tables(table: KeyTable, by_partition: bool = False) -> dict[str, Any]:
    """``summary_from_partials`` over the whole key table (its cells: one scan, shared)."""
    return summary_from_partials(cells(table), table.partition_columns, by_partition)


# --- the pattern table ------------------------------------------------------------------------------


def pattern_extras_partial_sql(view: str, examples: int = EXAMPLES) -> str:
    """Per pattern, what the cells cannot hold: the ``examples`` largest keys (ties by name) with
    their sizes, and an approximate TTL median with the keys it was taken over."""
    n = max(int(examples), 1)
    size = "coalesce(memory_bytes, 0)"
    # the remaining time as DOUBLE: the median is approximate anyway, and HUGEINT costs it ~40 %
    left = f"(expires_at::DOUBLE - {SNAPSHOT_COLUMN}::DOUBLE) / 1000.0"
    return f"""SELECT pattern::VARCHAR AS pattern,
               min_by(key, {{'n': -{size}, 'k': key}}, {n}) AS examples, max({size}, {n}) AS example_bytes,
               approx_quantile({left}, 0.5)::DOUBLE AS ttl_median_s, count(expires_at)::BIGINT AS ttl_keys
        FROM {view} GROUP BY pattern"""


def pattern_extras_merge_sql(partials: str, examples: int = EXAMPLES) -> str:
    """Extras of the same pattern combined: the largest keys of all partials, and the median of
    several partials as their medians' mean weighted by keys (one partial: its own median, as the
    DuckDB engines always have). A partial's keys and sizes pair up position by position: both are
    sorted largest first, so the sizes of the chosen keys are the largest sizes."""
    pairs = "list_transform(list_zip(examples, example_bytes), lambda z: {'n': -z[2], 'k': z[1]})"
    return f"""SELECT pattern,
               CASE WHEN count(*) = 1 THEN any_value(ttl_median_s)
                    ELSE sum(ttl_median_s * ttl_keys) / nullif(sum(ttl_keys) FILTER (WHERE ttl_median_s IS NOT NULL), 0)
               END::DOUBLE AS ttl_median_s,
               list_transform(list_slice(list_sort(flatten(list({pairs}))), 1, {max(int(examples), 0)}), lambda e: e.k) AS examples
        FROM {partials} GROUP BY pattern"""


def pattern_counts_sql(cells: str) -> str:
    """Per pattern from the cells: keys, memory, the largest key's size, keys without a TTL, keys per
    TTL class (the summary's buckets after "no ttl") and the TTL extremes."""
    classes = ",\n".join(
        f"coalesce(sum(keys) FILTER (WHERE code = {code}), 0)::BIGINT AS {name}"
        for code, name in enumerate(TTL_COLUMNS, start=1)
    )
    return f"""SELECT pattern, sum(keys)::BIGINT AS keys, sum(memory_bytes)::BIGINT AS memory_bytes,
               max(max_memory_bytes)::BIGINT AS max_memory_bytes,
               coalesce(sum(keys) FILTER (WHERE code = 0), 0)::BIGINT AS keys_without_ttl,
               {classes},
               (min(ttl_min_ms) / 1000.0)::DOUBLE AS ttl_min_s, (max(ttl_max_ms) / 1000.0)::DOUBLE AS ttl_max_s
        FROM {cells} GROUP BY pattern"""


def _pattern_stats(
    cells: pa.Table, extras: pa.Table, examples: int, con: duckdb.DuckDBPyConnection
) -> pd.DataFrame:
    """Per-pattern figures: the cells' counts beside the merged extras."""
    con.register("_ik_cells", cells)
    con.register("_ik_extras", extras)
    try:
        return con.sql(
            f"""SELECT c.*, e.ttl_median_s, e.examples FROM ({pattern_counts_sql("_ik_cells")}) AS c
                JOIN ({pattern_extras_merge_sql("_ik_extras", examples)}) AS e
                ON c.pattern IS NOT DISTINCT FROM e.pattern"""
        ).df()
    finally:
        con.unregister("_ik_cells")
        con.unregister("_ik_extras")


def _mix(cells: pa.Table, partition_columns: list[str]) -> pd.DataFrame:
    """Keys per (pattern, type, encoding, partition), from the cells."""
    parts = _partition_key(partition_columns)
    grouped = cells.group_by(["pattern", "type", "encoding", *parts], use_threads=False).aggregate(
        [("keys", "sum")]
    )
    return grouped.rename_columns([*grouped.column_names[:-1], "n"]).to_pandas()


def pattern_table_from(
    stats: pd.DataFrame, mix: pd.DataFrame, partition_columns: list[str], by_partition: bool = False
) -> pd.DataFrame:
    """The pattern table from merged per-pattern figures and the keys per (pattern, type, encoding,
    partition) (``_mix``); ``by_partition`` adds ``partitions``: in how many partitions (files, where
    there are none) each pattern lives."""
    columns = PATTERN_COLUMNS + (["partitions"] if by_partition else [])
    if stats.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    n, total = int(stats["keys"].sum()), int(stats["memory_bytes"].sum())
    stats["key_share"] = stats["keys"] / max(n, 1)
    stats["share"] = stats["memory_bytes"] / max(total, 1)
    stats["mean_memory_bytes"] = stats["memory_bytes"] / stats["keys"].clip(lower=1)
    stats["examples"] = [list(e) if e is not None else [] for e in stats["examples"]]
    patterns = stats["pattern"].tolist()
    mixed = mix["pattern"].tolist()
    counts = mix["n"].tolist()
    types = _mix_text(mixed, mix["type"].tolist(), counts)
    encodings = _mix_text(mixed, mix["encoding"].tolist(), counts)
    stats["type"] = [types.get(p, ("", ""))[0] for p in patterns]
    stats["types"] = [types.get(p, ("", ""))[1] for p in patterns]
    stats["encodings"] = [encodings.get(p, ("", ""))[1] for p in patterns]
    if by_partition:
        parts = _partition_key(partition_columns)
        seen = {(p, *where) for p, *where in zip(mixed, *(mix[c].tolist() for c in parts), strict=True)}
        spread: dict[Any, int] = {}
        for p, *_ in seen:
            spread[p] = spread.get(p, 0) + 1
        stats["partitions"] = [spread.get(p, 0) for p in patterns]
    stats = stats.sort_values(
        ["memory_bytes", "keys", "pattern"], ascending=[False, False, True], kind="stable"
    )
    return stats[columns].reset_index(drop=True)


def _mix_text(patterns: list[Any], values: list[Any], counts: list[int]) -> dict[Any, tuple[str, str]]:
    """Per pattern: its dominant value and ``"hash 98%, string 2%"``, most keys first, ties by name
    (plain Python: a few rows per pattern)."""
    per: dict[Any, dict[Any, int]] = {}
    for pattern, value, n in zip(patterns, values, counts, strict=True):
        tally = per.setdefault(pattern, {})
        tally[value] = tally.get(value, 0) + int(n)
    out: dict[Any, tuple[str, str]] = {}
    for pattern, tally in per.items():
        ranked = sorted(
            ((v, n) for v, n in tally.items() if n > 0), key=lambda item: (-item[1], str(item[0]))
        )
        total = sum(n for _, n in ranked)
        if total:
            out[pattern] = (str(ranked[0][0]), ", ".join(f"{v} {n / total:.0%}" for v, n in ranked))
    return out


def pattern_table(table: KeyTable, examples: int = EXAMPLES, by_partition: bool = False) -> pd.DataFrame:
    """One row per pattern, largest memory first, with its ``examples`` largest keys (and, with
    ``by_partition``, the number of partitions it lives in)."""
    con, shared = table.connection, cells(table)
    extras = con.sql(pattern_extras_partial_sql(KEYS_VIEW, examples)).to_arrow_table()
    stats = _pattern_stats(shared, extras, examples, con)
    return pattern_table_from(
        stats, _mix(shared, table.partition_columns), table.partition_columns, by_partition
    )


def merge_pattern_partials(
    cells: pa.Table,
    extras: pa.Table,
    partition_columns: list[str],
    examples: int = EXAMPLES,
    by_partition: bool = True,
) -> pd.DataFrame:
    """The pattern table from concatenated cells and extras partials (e.g. one per Dask partition)."""
    con = session()
    try:
        stats = _pattern_stats(cells, extras, examples, con)
    finally:
        con.close()
    return pattern_table_from(stats, _mix(cells, partition_columns), partition_columns, by_partition)


# --- top-N ------------------------------------------------------------------------------------------

_NUMERIC = ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "DOUBLE", "FLOAT", "DECIMAL", "U")


def top_keys(table: KeyTable, n: int, by: str = "memory_bytes", *, collections: bool = False) -> pd.DataFrame:
    """The ``n`` rows with the largest ``by`` (any numeric column), ties to the larger key (by
    ``memory_bytes``), then by (db, key); ``collections``: only keys that are not strings (a length in
    elements means nothing for them)."""
    if n < 0:
        raise ConfigurationError(f"top(n={n}): n must be >= 0")
    types = table.column_types()
    if by not in types:
        numeric = ", ".join(c for c, t in types.items() if t.startswith(_NUMERIC))
        raise ConfigurationError(f"top(by={by!r}): no such column; the numeric ones are {numeric}")
    if not types[by].startswith(_NUMERIC):
        raise ConfigurationError(f"top(by={by!r}): column is not numeric")
    where = "WHERE type <> 'string'" if collections else ""
    larger = "" if by == "memory_bytes" else "memory_bytes DESC NULLS LAST, "
    ranked = table.connection.sql(
        f"SELECT * FROM {ROWS_VIEW} {where} "
        f"ORDER BY {quote(by)} DESC NULLS LAST, {larger}db, key LIMIT {int(n)}"
    ).to_arrow_table()
    return ranked.to_pandas(types_mapper=pd.ArrowDtype)


def key_columns(table: KeyTable, columns: list[str]) -> pd.DataFrame:
    """``columns`` of every row (Arrow-backed): what a view over all keys reads (a histogram of sizes,
    memory freed by expiry), without the key names and the other columns of a table held on disk."""
    missing = [c for c in columns if c not in table.column_types()]
    if missing:
        raise ConfigurationError(f"no such column: {', '.join(missing)}")
    picked = ", ".join(quote(c) for c in columns)
    rows = table.connection.sql(f"SELECT {picked} FROM {ROWS_VIEW}").to_arrow_table()
    return rows.to_pandas(types_mapper=pd.ArrowDtype)
