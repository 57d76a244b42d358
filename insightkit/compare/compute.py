"""The diff as SQL over two relations ``a`` (old) and ``b`` (new), run by DuckDB.

SQL rather than pandas because the same queries then run on two in-memory Arrow tables or on two RSNAP
datasets on disk (insightkit.fleet) without loading either into pandas; the per-key join on
``(db, key)`` is a hash join DuckDB spills to disk when it must.

Each relation needs ``db, key, type, encoding, memory_bytes, expires_at, pattern``.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pandas as pd

from insightkit.expiry import TTL_BUCKETS, ttl_bucket_sql


def _grouped(con: duckdb.DuckDBPyConnection, by: list[str]) -> pd.DataFrame:
    """keys/memory per group on each side, full outer joined (groups on one side only get zeros)."""
    cols = ", ".join(by)
    on = " AND ".join(f"ga.{c} IS NOT DISTINCT FROM gb.{c}" for c in by)
    picked = ", ".join(f"coalesce(ga.{c}, gb.{c}) AS {c}" for c in by)
    sql = f"""
        WITH ga AS (SELECT {cols}, count(*) AS n, sum(memory_bytes) AS m FROM a GROUP BY {cols}),
             gb AS (SELECT {cols}, count(*) AS n, sum(memory_bytes) AS m FROM b GROUP BY {cols})
        SELECT {picked},
               coalesce(ga.n, 0)::BIGINT AS keys_a, coalesce(gb.n, 0)::BIGINT AS keys_b,
               coalesce(ga.m, 0)::BIGINT AS memory_bytes_a, coalesce(gb.m, 0)::BIGINT AS memory_bytes_b
        FROM ga FULL OUTER JOIN gb ON {on}
    """
    return _with_deltas(con.sql(sql).df(), by)


def _with_deltas(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    frame["keys_delta"] = frame["keys_b"] - frame["keys_a"]
    frame["memory_delta_bytes"] = frame["memory_bytes_b"] - frame["memory_bytes_a"]
    before = frame["memory_bytes_a"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = np.where(before > 0, frame["memory_delta_bytes"].to_numpy(dtype="float64") / before, np.nan)
    frame["growth"] = growth
    frame["status"] = np.select(
        [
            frame["keys_a"].eq(0).to_numpy(),
            frame["keys_b"].eq(0).to_numpy(),
            frame["memory_delta_bytes"].gt(0).to_numpy(),
            frame["memory_delta_bytes"].lt(0).to_numpy(),
        ],
        ["new", "vanished", "grown", "shrunk"],
        default="unchanged",
    )
    # Biggest move first; ties (e.g. unchanged groups) by name, so the order never depends on the engine.
    ranked = frame.assign(_move=frame["memory_delta_bytes"].abs())
    ranked = ranked.sort_values(["_move", *by], ascending=[False] + [True] * len(by), kind="stable")
    return ranked.drop(columns="_move").reset_index(drop=True)


def _churn_by_pattern(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per pattern: keys added, removed, that changed encoding, that lost or gained a TTL."""
    sql = """
        SELECT coalesce(b.pattern, a.pattern) AS pattern,
               count(*) FILTER (WHERE a.key IS NULL) AS keys_added,
               count(*) FILTER (WHERE b.key IS NULL) AS keys_removed,
               count(*) FILTER (WHERE a.key IS NOT NULL AND b.key IS NOT NULL
                                AND (a.encoding <> b.encoding OR a.type <> b.type)) AS keys_changed_encoding,
               count(*) FILTER (WHERE a.expires_at IS NOT NULL AND b.key IS NOT NULL
                                AND b.expires_at IS NULL) AS keys_lost_ttl,
               count(*) FILTER (WHERE a.key IS NOT NULL AND a.expires_at IS NULL
                                AND b.expires_at IS NOT NULL) AS keys_gained_ttl
        FROM a FULL OUTER JOIN b ON a.db = b.db AND a.key = b.key
        GROUP BY 1
    """
    return con.sql(sql).df()


def _encoding_changes(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    sql = """
        SELECT a.type AS type_a, a.encoding AS encoding_a, b.type AS type_b, b.encoding AS encoding_b,
               count(*)::BIGINT AS keys, sum(a.memory_bytes)::BIGINT AS memory_bytes_a,
               sum(b.memory_bytes)::BIGINT AS memory_bytes_b
        FROM a JOIN b ON a.db = b.db AND a.key = b.key
        WHERE a.encoding <> b.encoding OR a.type <> b.type
        GROUP BY ALL ORDER BY keys DESC, type_a, encoding_a, encoding_b
    """
    frame = con.sql(sql).df()
    frame["memory_delta_bytes"] = frame["memory_bytes_b"] - frame["memory_bytes_a"]
    return frame


def _changed_keys(con: duckdb.DuckDBPyConnection, limit: int) -> pd.DataFrame:
    sql = f"""
        SELECT b.db, b.key, b.pattern, a.type AS type_a, b.type AS type_b,
               a.encoding AS encoding_a, b.encoding AS encoding_b,
               a.memory_bytes AS memory_bytes_a, b.memory_bytes AS memory_bytes_b
        FROM a JOIN b ON a.db = b.db AND a.key = b.key
        WHERE a.encoding <> b.encoding OR a.type <> b.type
        ORDER BY b.memory_bytes DESC, b.db, b.key LIMIT {int(limit)}
    """
    return con.sql(sql).df()


def _lost_ttl_keys(con: duckdb.DuckDBPyConnection, limit: int) -> pd.DataFrame:
    sql = f"""
        SELECT b.db, b.key, b.pattern, b.type, b.encoding, b.memory_bytes,
               a.expires_at AS expires_at_a
        FROM a JOIN b ON a.db = b.db AND a.key = b.key
        WHERE a.expires_at IS NOT NULL AND b.expires_at IS NULL
        ORDER BY b.memory_bytes DESC, b.db, b.key LIMIT {int(limit)}
    """
    return con.sql(sql).df()


def _ttl_mix(con: duckdb.DuckDBPyConnection, snapshot_a: int, snapshot_b: int) -> pd.DataFrame:
    sides = []
    for name, snapshot in (("a", snapshot_a), ("b", snapshot_b)):
        sql = f"""
            SELECT {ttl_bucket_sql(snapshot)} AS code, count(*)::BIGINT AS n,
                   coalesce(sum(memory_bytes), 0)::BIGINT AS m
            FROM {name} GROUP BY 1
        """
        counts = con.sql(sql).df().set_index("code").reindex(range(len(TTL_BUCKETS)), fill_value=0)
        sides.append(counts)
    a, b = sides
    frame = pd.DataFrame(
        {
            "bucket": TTL_BUCKETS,
            "keys_a": a["n"].to_numpy(dtype="int64"),
            "keys_b": b["n"].to_numpy(dtype="int64"),
            "memory_bytes_a": a["m"].to_numpy(dtype="int64"),
            "memory_bytes_b": b["m"].to_numpy(dtype="int64"),
        }
    )
    total_a, total_b = int(frame["memory_bytes_a"].sum()), int(frame["memory_bytes_b"].sum())
    frame["share_a"] = frame["memory_bytes_a"] / total_a if total_a else 0.0
    frame["share_b"] = frame["memory_bytes_b"] / total_b if total_b else 0.0
    frame["share_delta"] = frame["share_b"] - frame["share_a"]
    frame["memory_delta_bytes"] = frame["memory_bytes_b"] - frame["memory_bytes_a"]
    return frame


def compute(
    con: duckdb.DuckDBPyConnection,
    *,
    snapshot_a: int,
    snapshot_b: int,
    max_keys: int = 10_000,
) -> dict[str, Any]:
    """Every table of the diff, from relations ``a`` and ``b`` registered on ``con``."""
    by_pattern = _grouped(con, ["pattern"])
    churn = _churn_by_pattern(con)
    by_pattern = by_pattern.merge(churn, on="pattern", how="left")
    count_columns = [
        "keys_added",
        "keys_removed",
        "keys_changed_encoding",
        "keys_lost_ttl",
        "keys_gained_ttl",
    ]
    by_pattern[count_columns] = by_pattern[count_columns].fillna(0).astype("int64")
    encoding_changes = _encoding_changes(con)
    totals = {
        "keys_a": int(by_pattern["keys_a"].sum()),
        "keys_b": int(by_pattern["keys_b"].sum()),
        "memory_bytes_a": int(by_pattern["memory_bytes_a"].sum()),
        "memory_bytes_b": int(by_pattern["memory_bytes_b"].sum()),
        **{name: int(by_pattern[name].sum()) for name in count_columns},
        "patterns_new": int((by_pattern["status"] == "new").sum()),
        "patterns_vanished": int((by_pattern["status"] == "vanished").sum()),
        "snapshot_time_ms_a": snapshot_a,
        "snapshot_time_ms_b": snapshot_b,
    }
    totals["memory_delta_bytes"] = totals["memory_bytes_b"] - totals["memory_bytes_a"]
    totals["keys_delta"] = totals["keys_b"] - totals["keys_a"]
    return {
        "totals": totals,
        "by_pattern": by_pattern,
        "by_type": _grouped(con, ["type"]),
        "by_encoding": _grouped(con, ["type", "encoding"]),
        "by_db": _grouped(con, ["db"]).sort_values("db", kind="stable").reset_index(drop=True),
        "ttl_mix": _ttl_mix(con, snapshot_a, snapshot_b),
        "encoding_changes": encoding_changes,
        "changed_keys": _changed_keys(con, max_keys),
        "lost_ttl_keys": _lost_ttl_keys(con, max_keys),
    }
