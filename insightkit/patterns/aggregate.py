"""``aggregate_patterns``: one row per pattern — where memory goes, what it is, how long it lives.

All per-key work is ``bincount``/``groupby`` over integer pattern codes; the per-pattern strings (type
mix, examples) are built only for the distinct patterns.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from insightkit.errors import ConfigurationError
from insightkit.schema import PATTERN_COLUMN

#: TTL buckets (upper bounds in seconds), named as in ``Summary.ttl_buckets``.
TTL_BUCKETS: list[tuple[str, float]] = [
    ("ttl_expired", 0.0),
    ("ttl_under_1h", 3600.0),
    ("ttl_1h_1d", 86400.0),
    ("ttl_1d_7d", 7 * 86400.0),
    ("ttl_7d_30d", 30 * 86400.0),
    ("ttl_over_30d", np.inf),
]

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
    *[name for name, _ in TTL_BUCKETS],
    "examples",
]


def _codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(column.dtype, pd.CategoricalDtype):
        cat = column.cat.remove_unused_categories()
        return cat.cat.codes.to_numpy(dtype=np.int64), np.asarray(cat.cat.categories, dtype=object)
    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def _mix(codes: np.ndarray, values: pd.Series, n_groups: int) -> tuple[list[str], list[str]]:
    """Per group: the dominant value and ``"hash 98%, string 2%"``."""
    v_codes, v_names = pd.factorize(values.astype(object).fillna("?"))
    counts = np.bincount(codes * len(v_names) + v_codes, minlength=n_groups * len(v_names))
    counts = counts.reshape(n_groups, max(len(v_names), 1))
    dominant, described = [], []
    for row in counts:
        total = row.sum()
        order = np.argsort(-row, kind="stable")
        parts = [f"{v_names[j]} {row[j] / total:.0%}" for j in order if row[j]]
        dominant.append(str(v_names[order[0]]) if total else "")
        described.append(", ".join(parts))
    return dominant, described


def aggregate_patterns(
    keys_with_pattern: pd.DataFrame, *, now_ms: int | None = None, examples: int = 3
) -> pd.DataFrame:
    """One row per pattern, sorted by ``memory_bytes`` (descending).

    ``now_ms`` is the reference for TTLs (pass the snapshot time; defaults to now). ``examples`` keys per
    pattern: its largest key first, then the first others seen.
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
    by_code = pd.Series(memory).groupby(codes, sort=True)
    memory_max = by_code.max().reindex(range(groups), fill_value=0).to_numpy()
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

    now = float(time.time() * 1000 if now_ms is None else now_ms)
    if "expires_at" in df.columns:
        expires = df["expires_at"].to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        expires = np.full(len(df), np.nan)
    volatile = ~np.isnan(expires)
    out["keys_without_ttl"] = np.bincount(codes[~volatile], minlength=groups)
    ttl_s = (expires[volatile] - now) / 1000.0
    vcodes = codes[volatile]
    stats = pd.Series(ttl_s).groupby(vcodes).agg(["min", "median", "max"]).reindex(range(groups))
    out["ttl_min_s"] = stats["min"].to_numpy()
    out["ttl_median_s"] = stats["median"].to_numpy()
    out["ttl_max_s"] = stats["max"].to_numpy()
    bounds = np.array([b for _, b in TTL_BUCKETS])
    bucket = np.searchsorted(bounds, ttl_s, side="left")
    bucket_counts = np.bincount(vcodes * len(bounds) + bucket, minlength=groups * len(bounds))
    bucket_counts = bucket_counts.reshape(groups, len(bounds))
    for j, (name, _) in enumerate(TTL_BUCKETS):
        out[name] = bucket_counts[:, j]

    out["examples"] = _examples(df["key"], codes, memory, groups, examples)
    out = out[COLUMNS].sort_values(["memory_bytes", "keys"], ascending=False, kind="stable")
    return out.reset_index(drop=True)


def _examples(keys: pd.Series, codes: np.ndarray, memory: np.ndarray, groups: int, n: int) -> list[list[str]]:
    if n <= 0:
        return [[] for _ in range(groups)]
    positions = pd.Series(np.arange(len(codes)))
    largest = pd.Series(memory).groupby(codes).idxmax()
    firsts = positions.groupby(codes).head(n)
    chosen: dict[int, list[int]] = {
        int(g): [int(i)] for g, i in zip(largest.index, largest.to_numpy(), strict=True)
    }
    for pos in firsts.to_numpy():
        picks = chosen.setdefault(int(codes[pos]), [])
        if len(picks) < n and pos not in picks:
            picks.append(int(pos))
    wanted = sorted({p for picks in chosen.values() for p in picks})
    texts = dict(zip(wanted, keys.iloc[wanted].astype(object).tolist(), strict=True))
    return [[str(texts[p]) for p in chosen.get(g, [])] for g in range(groups)]
