"""Bring each side of a diff to the same shape: an Arrow table of the columns the diff reads.

A side may be an ``Analysis``, a path ``analyze`` accepts (RSNAP or ``.rdb``), a key DataFrame, or a
``(DataFrame, metadata)`` pair. Patterns are assigned *jointly* over both sides by default: discovery
is cardinality-based, so a family of 3 keys before and 3,000 after would otherwise be named
differently on each side and show up as one vanished and one new pattern instead of growth.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa

from insightkit.errors import ConfigurationError
from insightkit.schema import KEY_SCHEMA, PATTERN_COLUMN

#: What the diff reads of each key.
DIFF_COLUMNS = ["db", "key", "type", "encoding", "memory_bytes", "expires_at", PATTERN_COLUMN]
PatternMode = Literal["joint", "own"]


@dataclass
class Side:
    """One snapshot as the diff sees it."""

    table: pa.Table  # DIFF_COLUMNS
    metadata: dict[str, Any]

    @property
    def snapshot_time_ms(self) -> int:
        value = self.metadata.get("snapshot_time_ms")
        return int(value) if value is not None else int(time.time() * 1000)

    @property
    def source(self) -> str:
        return str(self.metadata.get("rsnap_source") or self.metadata.get("source") or "?")


def _arrow(series: pd.Series, typ: pa.DataType) -> pa.ChunkedArray:
    """A pandas column as Arrow without a copy when it is Arrow-backed already."""
    arrow = pa.array(series.array) if isinstance(series.array, pd.arrays.ArrowExtensionArray) else None
    if arrow is None:
        arrow = pa.array(series, from_pandas=True)  # categoricals become dictionary arrays
    chunked = arrow if isinstance(arrow, pa.ChunkedArray) else pa.chunked_array([arrow])
    return chunked if chunked.type == typ else chunked.cast(typ)


def _key_frame(source: Any) -> tuple[pd.DataFrame, dict[str, Any], bool]:
    """(keys, metadata, has own patterns) for anything diff() accepts.

    An ``Analysis`` is recognised by what it offers (``decoded_keys``, ``metadata``), not imported:
    the diff sits below the facade and reads paths through ``insightkit.sources`` itself.
    """
    if isinstance(source, str | os.PathLike):
        frame, metadata = _read(Path(source))
        return frame, metadata, PATTERN_COLUMN in frame.columns
    if callable(getattr(source, "decoded_keys", None)) and isinstance(
        getattr(source, "metadata", None), dict
    ):
        return source.decoded_keys(), dict(source.metadata), True
    if isinstance(source, tuple) and len(source) == 2 and isinstance(source[0], pd.DataFrame):
        return source[0], dict(source[1] or {}), PATTERN_COLUMN in source[0].columns
    if isinstance(source, pd.DataFrame):
        return source, {}, PATTERN_COLUMN in source.columns
    raise ConfigurationError(
        f"cannot diff a {type(source).__name__}: give an Analysis, an RSNAP or .rdb path, "
        "a key DataFrame or a (DataFrame, metadata) pair"
    )


def _read(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """An RDB or RSNAP file's key table and metadata (an RSNAP's stored patterns kept)."""
    from insightkit.sources import classify, open_source

    source = classify(path)
    with open_source(source, batch_size=65_536, progress=False, options={}) as (batches, metadata):
        read = list(batches)
        found = metadata()
    table = pa.Table.from_batches(read) if read else KEY_SCHEMA.empty_table()
    if source.kind == "rsnap":
        found = {**found, "rsnap_source": str(path)}
    return table.to_pandas(types_mapper=pd.ArrowDtype), found


def _check(frame: pd.DataFrame, which: str) -> None:
    missing = [c for c in DIFF_COLUMNS[:-1] if c not in frame.columns]
    if missing:
        raise ConfigurationError(f"diff: the {which} key table lacks columns {missing}")


def _own_patterns(frame: pd.DataFrame, source: Any) -> pa.ChunkedArray:
    if callable(getattr(source, "decoded_keys", None)):  # an Analysis: its own patterns
        frame = source.keys
    if PATTERN_COLUMN in frame.columns:
        return _arrow(frame[PATTERN_COLUMN], pa.string())
    from insightkit.patterns import assign_patterns

    return _arrow(assign_patterns(frame), pa.string())


def _joint_patterns(a: pd.DataFrame, b: pd.DataFrame, custom: Any) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """Patterns discovered over the keys of both sides at once, split back per side."""
    from insightkit.patterns import assign_patterns

    columns = ["key", "key_binary"] if "key_binary" in a.columns and "key_binary" in b.columns else ["key"]
    both = pd.concat([a[columns], b[columns]], ignore_index=True)
    patterns = _arrow(assign_patterns(both, custom=custom), pa.string())
    return patterns.slice(0, len(a)), patterns.slice(len(a))


def _table(frame: pd.DataFrame, patterns: pa.ChunkedArray) -> pa.Table:
    arrays = [_arrow(frame[name], KEY_SCHEMA.field(name).type) for name in DIFF_COLUMNS[:-1]]
    return pa.Table.from_arrays([*arrays, patterns], names=DIFF_COLUMNS)


def prepare(old: Any, new: Any, *, patterns: PatternMode = "joint", custom: Any = None) -> tuple[Side, Side]:
    """Both sides as ``Side`` objects with a comparable ``pattern`` column."""
    if patterns not in ("joint", "own"):
        raise ConfigurationError(f"diff(patterns={patterns!r}): use 'joint' or 'own'")
    frame_a, meta_a, _ = _key_frame(old)
    frame_b, meta_b, _ = _key_frame(new)
    _check(frame_a, "old")
    _check(frame_b, "new")
    if patterns == "joint":
        pat_a, pat_b = _joint_patterns(frame_a, frame_b, custom)
    else:
        pat_a, pat_b = _own_patterns(frame_a, old), _own_patterns(frame_b, new)
    return Side(_table(frame_a, pat_a), meta_a), Side(_table(frame_b, pat_b), meta_b)
