"""Time left before a key expires, computed in integers so that no expiry Redis accepts breaks it.

Redis stores an expiry as a signed 64-bit count of milliseconds and accepts any of them
(``PEXPIREAT k 9007199254740993``, ``PEXPIREAT k 9223372036854775807``, pre-1970 values in old RDB
files). A float64 cannot hold those exactly (Arrow refuses the cast outright) and ``expires_at - now``
can leave int64 at the extremes, so the subtraction here saturates instead: a TTL that far out lands
in the last ("beyond any bucket") class either way, and the value in the key table stays untouched.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_INT64 = np.iinfo(np.int64)
_FLOAT_EDGE = float(2**63 - 1024)  # the largest float64 below 2**63: casts to int64 without overflow


def expiries(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(int64 milliseconds, has-expiry mask)`` of an expiry column, exactly, nulls as 0 / False.

    Accepts a pandas Series (Arrow-backed, nullable Int64 or float), a pyarrow (chunked) array or a
    numpy array; never goes through float64 for integer input.
    """
    if isinstance(values, pd.Series):
        if isinstance(values.array, pd.arrays.ArrowExtensionArray):  # zero copy (as analyze() hands it)
            values = pa.array(values.array)
        elif len(values):
            values = pa.array(values, from_pandas=True)
        else:
            values = pa.array([], pa.int64())
    if isinstance(values, np.ndarray):
        values = pa.array(values, from_pandas=True)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    if pa.types.is_null(values.type):
        values = values.cast(pa.int64())
    if pa.types.is_floating(values.type):  # a frame that already went through float64 (old pandas paths)
        values = pc.if_else(pc.is_nan(values), None, values)
        rounded = pc.max_element_wise(pc.round(values), -_FLOAT_EDGE, skip_nulls=False)
        values = pc.min_element_wise(rounded, _FLOAT_EDGE, skip_nulls=False)
        values = pc.cast(values, pa.int64())
    elif values.type != pa.int64():
        values = pc.cast(values, pa.int64())
    valid = pc.is_valid(values).to_numpy(zero_copy_only=False)
    ms = pc.fill_null(values, 0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return ms, np.asarray(valid, dtype=bool)


def remaining_ms(expires_ms: np.ndarray, now_ms: int) -> np.ndarray:
    """``expires_ms - now_ms`` in int64, saturating at the int64 bounds instead of wrapping around."""
    now = int(now_ms)
    low, high = int(_INT64.min) + max(now, 0), int(_INT64.max) + min(now, 0)
    return np.clip(np.asarray(expires_ms, dtype=np.int64), low, high) - np.int64(now)


def remaining_sql(column: str, now: int | str) -> str:
    """``column - now`` in DuckDB, as HUGEINT: exact, and it cannot overflow for any int64 expiry."""
    return f"(CAST({column} AS HUGEINT) - CAST({now} AS HUGEINT))"


# --- TTL buckets: one definition for the summary, the pattern table, DuckDB, Dask and diff ----------

_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS
#: Inclusive upper bounds (ms left at the snapshot) of every bucket after "no ttl"; the last is open.
TTL_EDGES_MS = (0, _HOUR_MS, _DAY_MS, 7 * _DAY_MS, 30 * _DAY_MS)
#: The summary's bucket labels: code 0 is "no ttl", code k > 0 is (edge k-2, edge k-1].
TTL_BUCKETS = ["no ttl", "expired", "< 1h", "1h–1d", "1d–7d", "7d–30d", "> 30d"]
#: The pattern table's count columns, one per bucket after "no ttl" (the same codes, minus one).
TTL_COLUMNS = ["ttl_expired", "ttl_under_1h", "ttl_1h_1d", "ttl_1d_7d", "ttl_7d_30d", "ttl_over_30d"]


def ttl_bucket_codes(expires_at: Any, snapshot_time_ms: int) -> np.ndarray:
    """Index into TTL_BUCKETS for each key (0 = no ttl, 1 = already expired at snapshot time).

    In int64 throughout: any expiry Redis accepts (up to 2**63-1 ms) lands in a bucket, none crashes.
    """
    ms, valid = expiries(expires_at)
    codes = ttl_codes_of_remaining(remaining_ms(ms, snapshot_time_ms)) + 1
    codes[~valid] = 0
    return codes


def ttl_codes_of_remaining(left_ms: np.ndarray) -> np.ndarray:
    """Bucket of each remaining time, counted from "expired" (0) to "> 30d" (5)."""
    return np.digitize(left_ms, np.asarray(TTL_EDGES_MS, dtype=np.int64), right=True)


def ttl_bucket_sql(snapshot_time_ms: int | str, column: str = "expires_at") -> str:
    """``ttl_bucket_codes`` as a DuckDB expression.

    ``snapshot_time_ms``: epoch ms, or the name of a column holding each row's snapshot time.
    """
    snapshot = snapshot_time_ms if isinstance(snapshot_time_ms, str) else str(int(snapshot_time_ms))
    left = remaining_sql(column, snapshot)  # HUGEINT: exact for any int64 expiry, no overflow
    steps = " ".join(f"WHEN {left} <= {edge} THEN {code}" for code, edge in enumerate(TTL_EDGES_MS, start=1))
    return f"CASE WHEN {column} IS NULL THEN 0 {steps} ELSE {len(TTL_EDGES_MS) + 1} END"
