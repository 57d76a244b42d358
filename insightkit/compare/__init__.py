"""Snapshot diff: what grew, shrank, appeared, vanished, changed encoding or lost its TTL.

``diff(old, new)`` takes two Analyses, RSNAP/RDB paths or key DataFrames and returns a ``DiffResult``
of small DataFrames. The computation is SQL on DuckDB (compute.py) over Arrow tables, so the same
queries serve RSNAP datasets in insightkit.fleet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import duckdb

from insightkit.compare.compute import compute
from insightkit.compare.inputs import DIFF_COLUMNS, PatternMode, Side, prepare
from insightkit.compare.result import DiffResult

__all__ = ["DIFF_COLUMNS", "DiffResult", "diff", "diff_relations"]


def diff_relations(
    con: duckdb.DuckDBPyConnection,
    *,
    snapshot_a: int,
    snapshot_b: int,
    sources: tuple[str, str] = ("a", "b"),
    max_keys: int = 10_000,
) -> DiffResult:
    """Diff relations (tables or views) named ``a`` and ``b`` already defined on ``con``."""
    tables = compute(con, snapshot_a=snapshot_a, snapshot_b=snapshot_b, max_keys=max_keys)
    totals = tables.pop("totals")
    return DiffResult(**tables, totals=totals, sources=sources)


def diff(
    old: Any,
    new: Any,
    *,
    patterns: PatternMode = "joint",
    custom_patterns: Any = None,
    max_keys: int = 10_000,
    threads: int | None = None,
) -> DiffResult:
    """What changed from ``old`` to ``new``.

    ``patterns="joint"`` (default) discovers patterns over both key sets together so a family is named
    the same on both sides; ``"own"`` keeps each side's own ``pattern`` column. ``max_keys`` caps the
    per-key tables (``changed_keys``, ``lost_ttl_keys``); the counts in ``totals`` are always complete.
    """
    side_a, side_b = prepare(old, new, patterns=patterns, custom=custom_patterns)
    return _diff_sides(side_a, side_b, max_keys=max_keys, threads=threads)


def _diff_sides(side_a: Side, side_b: Side, *, max_keys: int, threads: int | None) -> DiffResult:
    con = duckdb.connect()
    try:
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        con.register("a", side_a.table)
        con.register("b", side_b.table)
        result = diff_relations(
            con,
            snapshot_a=side_a.snapshot_time_ms,
            snapshot_b=side_b.snapshot_time_ms,
            sources=(side_a.source, side_b.source),
            max_keys=max_keys,
        )
    finally:
        con.close()
    warnings = redaction_warnings(side_a.metadata, side_b.metadata)
    warnings += allocator_warnings(side_a.metadata, side_b.metadata)
    return dataclasses.replace(result, warnings=warnings)


def allocator_warnings(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    """Why memory may differ with no key changed: the two sides were estimated for different
    allocators (a live snapshot reads its server's; an RDB file assumes jemalloc unless told)."""
    allocators = []
    for metadata in (old, new):
        server = metadata.get("server")
        allocators.append(str(server.get("allocator")) if isinstance(server, Mapping) else None)
    if None in allocators or allocators[0] == allocators[1]:
        return ()
    return (
        f"memory was estimated for {allocators[0]} in the old snapshot and {allocators[1]} in the new "
        "one, so sizes differ where no key changed; read an RDB file with the server's allocator "
        "(allocator=, --allocator)",
    )


#: What still compares when key names do not: the tables that never match a key or pattern by name.
_STILL_COMPARED = "memory and key counts by type, encoding and db and the TTL mix still compare"


def redaction_warnings(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    """Why keys and patterns of the two snapshots cannot be matched by name, when their names were
    hashed differently: on one side only, or on both with a random secret of each side's own (the
    metadata's ``redaction.key_supplied``; two supplied secrets may still differ, which no file says)."""
    hashed_old, hashed_new = old.get("redaction"), new.get("redaction")
    if not hashed_old and not hashed_new:
        return ()
    if not hashed_old or not hashed_new:
        side = "new" if hashed_new else "old"
        return (
            f"key names are redacted in the {side} snapshot only, so no key or pattern matches across "
            f"them: added, removed and changed keys and the pattern tables are not comparable ({_STILL_COMPARED})",
        )
    random = [
        side
        for side, hashed in (("old", hashed_old), ("new", hashed_new))
        if isinstance(hashed, Mapping) and hashed.get("key_supplied") is False
    ]
    if random:
        return (
            f"the {' and '.join(random)} snapshot{'s were' if len(random) == 2 else ' was'} redacted with a "
            f"random secret, so key names do not match across them: added, removed and changed keys and "
            f"the pattern tables are not comparable ({_STILL_COMPARED}); redact both with one secret "
            "(--redact-key or $INSIGHTKIT_REDACT_KEY) to compare them",
        )
    return ()
