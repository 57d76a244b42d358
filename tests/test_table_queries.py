"""The key table's shared scan: the pattern table and the summary read the same cells, partials of any
split merge into the whole, and the cells follow the rows when they change."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from insightkit.expiry import TTL_COLUMNS, ttl_bucket_codes
from insightkit.table import KeyTable, pattern_table, summary_tables
from insightkit.table.queries import (
    cells_partial_sql,
    merge_pattern_partials,
    pattern_extras_partial_sql,
)

NOW_MS = 1_700_000_000_000
HOUR_MS = 3_600_000


def _rows(n: int, seed: int = 7) -> pa.Table:
    """Keys of a few patterns and types, sizes with many ties, TTLs in every bucket (and none)."""
    rng = np.random.default_rng(seed)
    patterns = rng.choice(["user:*", "cache:*", "q:*:jobs"], n)
    ttl = rng.choice([-5, HOUR_MS // 2, 5 * HOUR_MS, 50 * HOUR_MS, 300 * HOUR_MS, 2000 * HOUR_MS], n)
    expires = pa.array(np.where(rng.random(n) < 0.4, None, NOW_MS + ttl).tolist(), pa.int64())
    return pa.table(
        {
            "db": pa.array(rng.integers(0, 3, n), pa.int32()),
            "key": [f"{p.replace('*', str(i))}" for i, p in enumerate(patterns)],
            "type": rng.choice(["string", "hash", "list"], n),
            "encoding": rng.choice(["raw", "listpack"], n),
            "memory_bytes": pa.array(rng.choice([56, 72, 72, 120, 4096], n), pa.int64()),
            "expires_at": expires,
            "pattern": patterns,
        }
    )


def _expected(rows: pa.Table) -> pd.DataFrame:
    """The pattern table's exact columns, computed key by key in pandas."""
    frame = rows.to_pandas()
    frame["code"] = ttl_bucket_codes(rows.column("expires_at"), NOW_MS)
    frame["left_s"] = (frame["expires_at"] - NOW_MS) / 1000.0
    out = []
    for pattern, group in frame.groupby("pattern"):
        ranked = sorted(zip(-group["memory_bytes"], group["key"], strict=True))
        row = {
            "pattern": pattern,
            "keys": len(group),
            "memory_bytes": int(group["memory_bytes"].sum()),
            "max_memory_bytes": int(group["memory_bytes"].max()),
            "keys_without_ttl": int((group["code"] == 0).sum()),
            "ttl_min_s": group["left_s"].min(),
            "ttl_max_s": group["left_s"].max(),
            "examples": [k for _, k in ranked[:3]],
        }
        row |= {name: int((group["code"] == code).sum()) for code, name in enumerate(TTL_COLUMNS, start=1)}
        out.append(row)
    return pd.DataFrame(out).set_index("pattern").sort_index()


def _exact(table: pd.DataFrame) -> pd.DataFrame:
    columns = ["keys", "memory_bytes", "max_memory_bytes", "keys_without_ttl", "ttl_min_s", "ttl_max_s"]
    picked = table.set_index("pattern")[[*columns, *TTL_COLUMNS, "examples"]].sort_index()
    return picked.astype(dict.fromkeys([*columns[:4], *TTL_COLUMNS], "int64")).astype(
        {"ttl_min_s": "float64", "ttl_max_s": "float64"}
    )


def test_pattern_table_is_exact_key_by_key() -> None:
    rows = _rows(3000)
    table = KeyTable.from_arrow(rows, NOW_MS)
    got = _exact(pattern_table(table))
    want = _expected(rows)
    got["examples"] = got["examples"].map(list)
    pd.testing.assert_frame_equal(got, want[got.columns], check_exact=False, rtol=1e-12)
    table.close()


def test_summary_and_pattern_table_agree() -> None:
    table = KeyTable.from_arrow(_rows(2000), NOW_MS)
    patterns = pattern_table(table)
    summary = summary_tables(table)
    assert patterns["keys"].sum() == summary["keys"] == 2000
    assert patterns["memory_bytes"].sum() == summary["memory_bytes"]
    # the TTL classes of the pattern table are the summary's buckets after "no ttl"
    ttl = summary["ttl_buckets"].set_index("bucket")["keys"].tolist()
    assert patterns["keys_without_ttl"].sum() == ttl[0]
    assert [int(patterns[c].sum()) for c in TTL_COLUMNS] == ttl[1:]
    table.close()


@pytest.mark.parametrize("parts", [2, 5])
def test_partials_of_any_split_merge_into_the_whole(parts: int) -> None:
    """What the Dask engine does: cells and extras per partition, merged."""
    import duckdb

    rows = _rows(2500, seed=3)
    whole = KeyTable.from_arrow(rows, NOW_MS)
    expected = _exact(pattern_table(whole, by_partition=True))
    cells, extras = [], []
    bounds = np.linspace(0, rows.num_rows, parts + 1).astype(int)
    for start, stop in itertools.pairwise(bounds):
        con = duckdb.connect()
        part = rows.slice(start, stop - start).append_column(
            "_snapshot_time_ms", pa.array([NOW_MS] * (stop - start), pa.int64())
        )
        part = part.append_column("file_id", pa.array([0] * (stop - start), pa.int32()))
        con.register("part", part)
        cells.append(con.sql(cells_partial_sql("part", [])).to_arrow_table())
        extras.append(con.sql(pattern_extras_partial_sql("part")).to_arrow_table())
        con.close()
    merged = merge_pattern_partials(pa.concat_tables(cells), pa.concat_tables(extras), [])
    got = _exact(merged)
    got["examples"] = got["examples"].map(list)
    expected["examples"] = expected["examples"].map(list)
    pd.testing.assert_frame_equal(got, expected)
    whole.close()


def test_cells_follow_the_rows() -> None:
    """The scan both tables share is kept only while the rows stay the same."""
    rows = _rows(1000)
    table = KeyTable.from_arrow(rows.drop_columns(["pattern"]), NOW_MS)
    assert summary_tables(table)["keys"] == 1000
    table.replace_arrow(rows.slice(0, 400).drop_columns(["pattern"]), NOW_MS)
    assert summary_tables(table)["keys"] == 400
    table.replace_arrow(rows.slice(0, 400), NOW_MS)
    assert pattern_table(table)["keys"].sum() == 400
    table.close()


def test_key_tables_share_a_database_not_their_rows() -> None:
    """In-memory key tables are connections to one process-wide DuckDB (a new database costs ~25 ms):
    each still sees only its own rows, and closing one leaves the others working."""
    first = KeyTable.from_arrow(_rows(300), NOW_MS)
    second = KeyTable.from_arrow(_rows(700, seed=1), NOW_MS + HOUR_MS)
    assert summary_tables(first)["keys"] == 300
    assert first.keys.aggregate("max(_snapshot_time_ms)").fetchall() == [(NOW_MS,)]
    assert second.keys.aggregate("max(_snapshot_time_ms)").fetchall() == [(NOW_MS + HOUR_MS,)]
    assert summary_tables(second)["keys"] == 700
    first.close()
    assert pattern_table(second)["keys"].sum() == 700
    assert second.count() == 700 and len(second.rows.fetchall()) == 700
    second.close()
