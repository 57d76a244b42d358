"""Build small key tables from a few fields per key: the fire/quiet cases of every rule are written so.

``key_table([{"key": "user:1", "type": "hash", "encoding": "hashtable", "num_elements": 200}])`` fills
every other KEY_SCHEMA column with a plausible value (memory from the same arithmetic the rules use), so
a case states only what makes it fire or stay quiet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import pyarrow as pa

from insightkit.schema import KEY_SCHEMA, PATTERN_COLUMN

_DEFAULT_ENCODING = {
    "string": "embstr",
    "hash": "listpack",
    "set": "listpack",
    "zset": "listpack",
    "list": "quicklist",
    "stream": "stream",
    "array": "sliced-array",
    "gcra": "raw",
}


def _row(spec: Mapping[str, Any]) -> dict[str, Any]:
    kind = spec.get("type", "string")
    n = int(spec.get("num_elements", 1))
    largest = int(spec.get("largest_element_bytes", 10))
    per_element = 2 if kind in ("hash", "zset") else 1
    element_bytes = int(spec.get("element_bytes", largest * n * per_element))
    key = str(spec.get("key", "k"))
    key_bytes = int(spec.get("key_bytes", len(key) + 8))
    overhead = int(spec.get("overhead_bytes", 40))
    if "value_bytes" in spec:
        value = int(spec["value_bytes"])
    elif kind == "string":
        value = element_bytes + 4
    else:
        value = (
            element_bytes + 64 * n
            if spec.get("encoding") in ("hashtable", "skiplist")
            else element_bytes + 3 * n
        )
    row: dict[str, Any] = {
        "db": 0,
        "key": key,
        "key_binary": False,
        "type": kind,
        "encoding": _DEFAULT_ENCODING.get(kind, "raw"),
        "num_elements": n,
        "largest_element_bytes": largest,
        "element_bytes": element_bytes,
        "serialized_bytes": element_bytes + len(key) + 10,
        "expires_at": None,
        "lru_idle_s": None,
        "lfu_freq": None,
        "all_integers": None,
        "volatile_fields": None,
        "min_field_expires_at": None,
        "stream_entries": n if kind == "stream" else None,
        "stream_groups": 0 if kind == "stream" else None,
        "stream_consumers": 0 if kind == "stream" else None,
        "stream_pending": 0 if kind == "stream" else None,
        "module": None,
        "memory_bytes": key_bytes + overhead + value,
        "key_bytes": key_bytes,
        "overhead_bytes": overhead,
        "value_bytes": value,
        "expires_bytes": 0,
    }
    row.update({k: v for k, v in spec.items() if k in row and k not in ("memory_bytes",)})
    if kind == "set" and row["all_integers"] is None:
        row["all_integers"] = row["encoding"] == "intset"
    if row["expires_at"] is not None and "expires_bytes" not in spec:
        row["expires_bytes"] = 32
    row["memory_bytes"] = int(
        spec.get("memory_bytes", row["key_bytes"] + row["overhead_bytes"] + row["value_bytes"])
    )
    if PATTERN_COLUMN in spec:
        row[PATTERN_COLUMN] = spec[PATTERN_COLUMN]
    return row


def expand(specs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Specs with ``"repeat": n`` become n rows whose key gets ``{i}`` filled in (``"user:{i}"``)."""
    rows: list[dict[str, Any]] = []
    for spec in specs:
        repeat = int(spec.get("repeat", 1))
        for i in range(repeat):
            one = {k: v for k, v in spec.items() if k != "repeat"}
            if repeat > 1 or "{i}" in str(one.get("key", "")):
                one["key"] = str(one.get("key", "k:{i}")).replace("{i}", str(i))
            rows.append(_row(one))
    return rows


def key_table(specs: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """An Arrow-backed key table (KEY_SCHEMA columns, plus ``pattern`` when the specs give one)."""
    rows = expand(specs)
    table = pa.Table.from_pylist(
        [{name: row[name] for name in KEY_SCHEMA.names} for row in rows], schema=KEY_SCHEMA
    )
    frame = table.to_pandas(types_mapper=pd.ArrowDtype)
    if any(PATTERN_COLUMN in row for row in rows):
        patterns = pa.array([row.get(PATTERN_COLUMN) for row in rows], pa.string())
        frame[PATTERN_COLUMN] = pd.Series(pd.arrays.ArrowExtensionArray(patterns), index=frame.index)
    return frame
