"""The rules on an in-memory table, walked in slices: each rule's selection evaluated once as a
column (``Flagged``, by direct Arrow calls where the table is Arrow: ``compiled``), read again by the
partials and the overlap pass."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import narwhals as nw
import numpy as np

from insightkit.recommend import compiled
from insightkit.recommend.base import Context, Rule
from insightkit.recommend.cost import TEMP
from insightkit.recommend.frames import as_int
from insightkit.recommend.pricing import (
    SAVINGS,
    key_footprint,
    rule_selection,
    selected_columns,
    selected_twice,
    with_saving,
)


@dataclass(frozen=True)
class Flagged:
    """An in-memory slice with each firing rule's selection as a boolean column (``flags``: rule id →
    column): each condition is evaluated once for the count, the partials and the overlap pass."""

    rows: nw.LazyFrame[Any]
    flags: dict[str, str]


def flagged_slice(chunk: nw.LazyFrame[Any], rules: list[Rule], ctx: Context) -> Flagged:
    """The rules that select a row of an in-memory slice, found by one pass of counts over their
    selections, kept as columns (most rules find nothing, and pricing and grouping a rule's empty
    selection costs more than counting it)."""
    names = [f"{TEMP}sel{i}" for i in range(len(rules))]
    if not rules:
        return Flagged(chunk, {})
    rows = compiled.with_columns(
        chunk, *[rule_selection(r, ctx).alias(n) for r, n in zip(rules, names, strict=True)]
    )
    rows = rows.collect().lazy()
    counts = rows.select(*[nw.col(n).sum() for n in names]).collect().row(0)
    flags = {r.id: n for r, n, c in zip(rules, names, counts, strict=True) if as_int(c)}
    quiet = [n for n in names if n not in flags.values()]
    return Flagged(rows.drop(*quiet) if quiet else rows, flags)


def eager_overlaps(
    chunk: nw.LazyFrame[Any], rules: list[Rule], ctx: Context, flags: Mapping[str, str] | None = None
) -> np.ndarray:
    """An in-memory slice: the rows two or more rules select, each rule priced on its own rows (as its
    partials were), composed in order with numpy. ``flags``: the slice's selection columns
    (``Flagged``; a rule without one selects no row of it)."""
    if flags is None:
        selected = selected_columns(rules, ctx)
    else:
        selected = [
            (nw.col(flags[r.id]).cast(nw.Int32) if r.id in flags else nw.lit(0)).alias(f"{TEMP}ov{i}")
            for i, r in enumerate(rules)
        ]
    multi = compiled.with_columns(chunk, *selected).filter(selected_twice(rules)).collect()
    if len(multi) == 0:
        return np.zeros(len(rules))
    row_id = f"{TEMP}row"
    multi = multi.with_row_index(row_id)
    savings = np.zeros((len(multi), len(rules)))
    for i, rule in enumerate(rules):
        mine = with_saving(multi.lazy().filter(nw.col(f"{TEMP}ov{i}") == 1), rule, ctx)
        got = mine.select(row_id, SAVINGS).collect().to_pandas()
        savings[got[row_id].to_numpy(dtype="int64"), i] = got[SAVINGS].to_numpy(dtype="float64")
    memory = multi.select(key_footprint().alias("m")).to_pandas()["m"].to_numpy(dtype="float64")
    left = 1 - savings / np.maximum(memory, 1)[:, None]
    before = np.cumprod(np.hstack([np.ones((len(multi), 1)), left[:, :-1]]), axis=1)
    return np.asarray((savings * (1 - before)).sum(axis=0), dtype="float64")
