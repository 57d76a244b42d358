"""Snapshot diff: what grew, shrank, appeared, vanished, changed encoding or lost its TTL.

``diff(old, new)`` takes two Analyses, RSNAP/RDB paths or key DataFrames and returns a ``DiffResult``
of small DataFrames. The computation is SQL on DuckDB (compute.py) over Arrow tables, so the same
queries serve RSNAP datasets in insightkit.fleet.
"""

from __future__ import annotations

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
        return diff_relations(
            con,
            snapshot_a=side_a.snapshot_time_ms,
            snapshot_b=side_b.snapshot_time_ms,
            sources=(side_a.source, side_b.source),
            max_keys=max_keys,
        )
    finally:
        con.close()
