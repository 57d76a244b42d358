"""``aggregate_patterns``: one row per pattern — where memory goes, what it is, how long it lives.

All per-key work is ``bincount``/``groupby`` over integer pattern codes; the per-pattern strings (type
mix, examples) are built only for the distinct patterns.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pyarrow as pa

from insightkit.errors import ConfigurationError
from insightkit.expiry import TTL_COLUMNS, expiries, remaining_ms, ttl_codes_of_remaining
from insightkit.schema import PATTERN_COLUMN

COLUMNS = [
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


def _codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Dense integer codes and their values, without materialising Python strings per row."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy(dtype=np.int64)
        names = np.asarray(column.cat.categories, dtype=object)
    elif isinstance(column.dtype, pd.ArrowDtype) or str(column.dtype).startswith("string"):
        encoded = pa.chunked_array(pa.array(column.array)).combine_chunks().dictionary_encode()
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        codes = np.where(np.isnan(codes), -1, codes).astype(np.int64) if codes.dtype.kind == "f" else codes
        names = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    else:
        raw, uniques = pd.factorize(column, use_na_sentinel=True)
        codes, names = raw.astype(np.int64), np.asarray(uniques, dtype=object)
    if (codes < 0).any():  # missing values get a group of their own
        codes = np.where(codes < 0, len(names), codes)
        names = np.append(names, np.array(["?"], dtype=object))
    used = np.bincount(codes, minlength=len(names)) > 0
    if not used.all():
        remap = np.cumsum(used) - 1
        codes, names = remap[codes], names[used]
    return codes, names


def _mix(codes: np.ndarray, values: pd.Series, n_groups: int) -> tuple[list[str], list[str]]:
    """Per group: the dominant value and ``"hash 98%, string 2%"``."""
    v_codes, v_names = _codes(values)
    width = max(len(v_names), 1)
    counts = np.bincount(codes * width + v_codes, minlength=n_groups * width).reshape(n_groups, width)
    dominant, described = [], []
    for row in counts:
        total = row.sum()
        order = np.argsort(-row, kind="stable")
        parts = [f"{v_names[j]} {row[j] / total:.0%}" for j in order if row[j]]
        dominant.append(str(v_names[order[0]]) if total else "")
        described.append(", ".join(parts))
    return dominant, described


def _group_stats(codes: np.ndarray, values: np.ndarray, groups: int, how: list[str]) -> dict[str, np.ndarray]:
    """Arrow's multi-threaded hash aggregation over integer codes; NaN for groups without values."""
    out = {name: np.full(groups, np.nan) for name in how}
    if len(codes) == 0:
        return out
    table = pa.table({"g": pa.array(codes, pa.int64()), "v": pa.array(values)})
    result = table.group_by("g").aggregate([("v", name) for name in how])
    at = result.column("g").to_numpy()
    for name in how:
        out[name][at] = result.column(f"v_{name}").to_numpy(zero_copy_only=False)
    return out


def aggregate_patterns(
    keys_with_pattern: pd.DataFrame, *, now_ms: int | None = None, examples: int = 3
) -> pd.DataFrame:
    """One row per pattern, sorted by ``memory_bytes`` (descending).

    ``now_ms`` is the reference for TTLs (pass the snapshot time; defaults to now); ``ttl_median_s`` is
    approximate (t-digest). ``examples`` keys per pattern: its largest key first, then the first others
    seen.
    """
    df = keys_with_pattern
    for column in (PATTERN_COLUMN, "key", "memory_bytes"):
        if column not in df.columns:
            raise ConfigurationError(f"aggregate_patterns needs a {column!r} column")
    codes, names = _codes(df[PATTERN_COLUMN])
    groups = len(names)
    if groups == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    memory = df["memory_bytes"].to_numpy(dtype=np.int64, na_value=0)
    keys = np.bincount(codes, minlength=groups)
    memory_sum = np.bincount(codes, weights=memory, minlength=groups).astype(np.int64)
    memory_max = _group_stats(codes, memory, groups, ["max"])["max"].astype(np.int64)
    out = pd.DataFrame(
        {
            "pattern": names,
            "keys": keys,
            "key_share": keys / max(len(df), 1),
            "memory_bytes": memory_sum,
            "share": memory_sum / max(int(memory_sum.sum()), 1),
            "mean_memory_bytes": memory_sum / np.maximum(keys, 1),
            "max_memory_bytes": memory_max,
        }
    )
    for column, (dominant_name, mix_name) in {
        "type": ("type", "types"),
        "encoding": (None, "encodings"),
    }.items():
        if column in df.columns:
            dominant, described = _mix(codes, df[column], groups)
            if dominant_name:
                out[dominant_name] = dominant
            out[mix_name] = described
        else:
            if dominant_name:
                out[dominant_name] = ""
            out[mix_name] = ""

    now = int(time.time() * 1000 if now_ms is None else now_ms)
    if "expires_at" in df.columns:
        expires, volatile = expiries(df["expires_at"])
    else:
        expires, volatile = np.zeros(len(df), dtype=np.int64), np.zeros(len(df), dtype=bool)
    out["keys_without_ttl"] = np.bincount(codes[~volatile], minlength=groups)
    # the difference in int64 first (exact, saturating), seconds as float only after: 2**63 ms is fine
    left_ms = remaining_ms(expires[volatile], now)
    ttl_s = left_ms / 1000.0
    vcodes = codes[volatile]
    stats = _group_stats(vcodes, ttl_s, groups, ["min", "approximate_median", "max"])
    out["ttl_min_s"] = stats["min"]
    out["ttl_median_s"] = stats["approximate_median"]
    out["ttl_max_s"] = stats["max"]
    bucket = ttl_codes_of_remaining(left_ms)
    n_buckets = len(TTL_COLUMNS)
    bucket_counts = np.bincount(vcodes * n_buckets + bucket, minlength=groups * n_buckets)
    bucket_counts = bucket_counts.reshape(groups, n_buckets)
    for j, name in enumerate(TTL_COLUMNS):
        out[name] = bucket_counts[:, j]

    out["examples"] = _examples(df["key"], codes, memory, groups, examples, memory_max)
    out = out[COLUMNS].sort_values(["memory_bytes", "keys"], ascending=False, kind="stable")
    return out.reset_index(drop=True)


def _examples(
    keys: pd.Series,
    codes: np.ndarray,
    memory: np.ndarray,
    groups: int,
    n: int,
    group_max: np.ndarray | None = None,
) -> list[list[str]]:
    """Per group: its largest key, then the first keys seen (looked for in a bounded prefix).
    ``group_max``: each group's largest ``memory`` when the caller has it already."""
    if n <= 0 or len(codes) == 0:
        return [[] for _ in range(groups)]
    chosen: list[list[int]] = [[] for _ in range(groups)]
    if group_max is None:
        group_max = _group_stats(codes, memory, groups, ["max"])["max"]
    at_max = np.flatnonzero(memory == group_max[codes])
    largest = pd.Series(codes[at_max]).drop_duplicates()  # first row holding its group's maximum
    firsts = pd.Series(codes).drop_duplicates()  # first row of every group
    prefix = codes[: min(len(codes), 200 * n * max(groups, 1), 2_000_000)]
    more = pd.Series(np.arange(len(prefix))).groupby(prefix, sort=False).head(n).to_numpy()
    for pos in np.concatenate([at_max[largest.index.to_numpy()], firsts.index.to_numpy(), more]):
        picks = chosen[int(codes[pos])]
        if len(picks) < n and pos not in picks:
            picks.append(int(pos))
    wanted = sorted({p for picks in chosen for p in picks})
    texts = dict(zip(wanted, keys.take(wanted).astype(object).tolist(), strict=True))
    return [[str(texts[p]) for p in picks] for picks in chosen]
