"""Synthetic per-key tables (KEY_SCHEMA) for tests that need many rows without a decoder run."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from insightkit.schema import KEY_SCHEMA

TYPES = [
    ("string", "embstr"),
    ("hash", "listpack"),
    ("list", "quicklist"),
    ("set", "intset"),
    ("zset", "skiplist"),
]


def key_batch(start: int, rows: int, *, seed: int = 0, dbs: int = 2) -> pa.RecordBatch:
    """``rows`` plausible keys numbered from ``start``: namespaces, ids, TTLs, mixed types."""
    rng = np.random.default_rng(seed + start)
    ids = np.arange(start, start + rows)
    kinds = ids % len(TYPES)
    names = ["user", "session", "cache", "order", "feed"]
    keys = [f"{names[i % 5]}:{i * 7919 % 1000003}:{'profile' if i % 3 else 'cart'}" for i in ids.tolist()]
    members = rng.integers(1, 500, rows)
    memory = rng.integers(48, 20000, rows)
    expires = np.where(ids % 4 == 0, 1_800_000_000_000 + ids, 0)
    columns = {
        "db": pa.array(ids % dbs, pa.int32()),
        "key": pa.array(keys, pa.string()),
        "key_binary": pa.array(np.zeros(rows, bool)),
        "type": pa.array([TYPES[k][0] for k in kinds.tolist()], pa.string()),
        "encoding": pa.array([TYPES[k][1] for k in kinds.tolist()], pa.string()),
        "num_elements": pa.array(np.where(kinds == 0, 1, members), pa.int64()),
        "largest_element_bytes": pa.array(rng.integers(1, 200, rows), pa.int64()),
        "element_bytes": pa.array(members * 10, pa.int64()),
        "serialized_bytes": pa.array(members * 11 + 20, pa.int64()),
        "expires_at": pa.array(expires, pa.int64(), mask=expires == 0),
        "lru_idle_s": pa.array(rng.integers(0, 86400, rows), pa.int64()),
        "lfu_freq": pa.nulls(rows, pa.int16()),
        "all_integers": pa.array(kinds == 3, pa.bool_(), mask=kinds != 3),
        "volatile_fields": pa.nulls(rows, pa.int64()),
        "min_field_expires_at": pa.nulls(rows, pa.int64()),
        "stream_entries": pa.nulls(rows, pa.int64()),
        "stream_groups": pa.nulls(rows, pa.int64()),
        "stream_consumers": pa.nulls(rows, pa.int64()),
        "stream_pending": pa.nulls(rows, pa.int64()),
        "module": pa.nulls(rows, pa.string()),
        "memory_bytes": pa.array(memory, pa.int64()),
        "key_bytes": pa.array(np.full(rows, 32), pa.int64()),
        "overhead_bytes": pa.array(np.full(rows, 24), pa.int64()),
        "value_bytes": pa.array(memory - 56, pa.int64()),
        "expires_bytes": pa.array(np.where(expires == 0, 0, 24), pa.int64()),
    }
    return pa.RecordBatch.from_arrays(list(columns.values()), schema=KEY_SCHEMA)


def key_batches(total: int, batch_size: int = 65536, **kwargs: object) -> list[pa.RecordBatch]:
    return [
        key_batch(start, min(batch_size, total - start), **kwargs)  # type: ignore[arg-type]
        for start in range(0, total, batch_size)
    ]
