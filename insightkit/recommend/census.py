"""The rules on a lazy engine (DuckDB over Arrow or an RSNAP): one census scan tells which rules
fire and totals those without a saving; the firing rules with one are priced on their selected rows
reduced to distinct values (``Reduced``), which the overlap pass reads again (``lazy_overlaps``)."""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from insightkit.recommend import compiled, frames
from insightkit.recommend.base import Context, Rule
from insightkit.recommend.cost import TEMP
from insightkit.recommend.frames import Globals, as_int, connection
from insightkit.recommend.needs import conjuncts, expr_columns, rule_columns, union
from insightkit.recommend.pricing import (
    OWNER_COLUMNS,
    REPEATS,
    final_saving,
    kept_columns,
    key_footprint,
    per_rule_partials,
    rule_condition,
    saving_columns,
    saving_steps,
    selected_columns,
    selected_twice,
    step_levels,
)
from insightkit.schema import PATTERN_COLUMN

#: At most this many distinct rows make the table the firing rules are priced on (``reduced_rows``);
#: beyond, each rule prices its own rows in a query of its own.
REDUCED_ROWS = 500_000


@dataclass(frozen=True)
class Reduced:
    """The rows any firing rule selects, reduced to their distinct values of the columns the rules'
    savings and the partials read, with the count of keys each stands for (``REPEATS``) and one boolean
    column per rule (``flags``: rule id → column): small, so every rule's pricing and the overlap pass
    run on it instead of scanning the key table again. Held on Arrow below ``frames.DUCKDB_ROWS`` rows
    (priced by direct compute calls, ``compiled``), on DuckDB above."""

    table: nw.LazyFrame[Any]
    flags: dict[str, str]


#: Rules per mask column: their bits in one non-negative BIGINT.
MASK_BITS = 62


def _masks(rules: list[Rule], ctx: Context) -> list[nw.Expr]:
    """Which rules select a key, as the bits of integers (``MASK_BITS`` rules each): a grouping column
    for many rules instead of one a rule. A plain sum of CASE WHENs (none is null): ``sum_horizontal``
    would wrap every term in a COALESCE."""
    masks = []
    for start in range(0, len(rules), MASK_BITS):
        bits = [
            nw.when(rule_condition(rule, ctx)).then(nw.lit(1 << i, dtype=nw.Int64())).otherwise(0)
            for i, rule in enumerate(rules[start : start + MASK_BITS])
        ]
        masks.append(functools.reduce(operator.add, bits).alias(f"{TEMP}rules{start // MASK_BITS}"))
    return masks


def _selects(rows: pa.Table, at: int) -> np.ndarray:
    """Which of the ``_distinct_rows`` the ``at``-th of their rules selects."""
    masks = rows.column(f"{TEMP}rules{at // MASK_BITS}").to_numpy()
    return np.asarray((masks >> (at % MASK_BITS)) & 1 == 1)


def _distinct_rows(
    frame: nw.LazyFrame[Any],
    measured: Globals,
    rules: list[Rule],
    ctx: Context,
    owners: list[str],
    reads: frozenset[str],
) -> pa.Table | None:
    """The rows any of ``rules`` selects, reduced in one scan to their distinct values of the columns
    the savings (``reads``) and the partials read, with their key counts (``REPEATS``) and which rules
    select them (``_masks``, ``_selects``); None past ``REDUCED_ROWS`` distinct rows."""
    patterns, seconds = measured.joins_for(rules, ctx)
    owners = owners if patterns else []  # the owner columns come with the per-pattern join
    attached = measured.attach(frame, patterns=patterns, seconds=seconds)
    masks = _masks(rules, ctx)
    names = [f"{TEMP}rules{i}" for i in range(len(masks))]
    selected = attached.with_columns(*masks)
    # the per-pattern columns follow from the pattern: grouped by it alone, looked up again after
    kept = kept_columns(reads, owners)
    by_pattern = [c for c in kept if c in measured.pattern_columns] if patterns else []
    grouping = [c for c in kept if c not in by_pattern]
    any_rule = functools.reduce(operator.or_, [nw.col(name) > 0 for name in names])
    distinct = selected.filter(any_rule).group_by(*names, *grouping).agg(nw.len().alias(REPEATS))
    rows = distinct.head(REDUCED_ROWS + 1).collect().to_arrow()
    if len(rows) > REDUCED_ROWS:
        return None
    if by_pattern:
        per_pattern = measured.per_pattern.select(PATTERN_COLUMN, *by_pattern).collect().to_arrow()
        known = per_pattern.column(PATTERN_COLUMN).cast(rows.schema.field(PATTERN_COLUMN).type)
        at = pc.index_in(rows.column(PATTERN_COLUMN), value_set=known, skip_nulls=True)
        for name in by_pattern:
            rows = rows.append_column(name, per_pattern.column(name).take(at))
    return rows


def _flagged(rows: pa.Table, rules: list[Rule], firing: list[Rule]) -> Reduced:
    """``_distinct_rows`` of ``rules`` as the ``Reduced`` table of the ``firing`` ones."""
    flags = {}
    for i, rule in enumerate(firing):
        flags[rule.id] = f"{TEMP}firing{i}"
        rows = rows.append_column(flags[rule.id], pa.array(_selects(rows, rules.index(rule))))
    # a few distinct rows (13 at 1M keys of the e2e file): priced on Arrow, where DuckDB would spend
    # ~0.1 s planning the firing rules' CASE WHEN ladders for them
    if len(rows) < frames.DUCKDB_ROWS:
        return Reduced(nw.from_native(rows).lazy(), flags)
    return Reduced(nw.from_native(connection().from_arrow(rows)).lazy(), flags)


def reduced_rows(
    frame: nw.LazyFrame[Any], measured: Globals, rules: list[Rule], ctx: Context, owners: list[str]
) -> Reduced | None:
    """One scan for all firing rules (``Reduced``); None when a saving's columns cannot be told, a
    saving step rewrites a key-table column (the rules are priced in one query, ``_reduced_partials``,
    where another rule would read it), or the distinct rows are too many to be worth holding (then
    each rule gets a query of its own)."""
    reads = union(saving_columns(rule, ctx) for rule in rules)
    if reads is None or REPEATS in reads or len(rules) < 2:
        return None
    if any(not name.startswith(TEMP) for rule in rules for name, _ in saving_steps(rule, ctx)[:-1]):
        return None
    rows = _distinct_rows(frame, measured, rules, ctx, owners, reads)
    return None if rows is None else _flagged(rows, rules, rules)


def _reduced_partials(
    reduced: Reduced, rules: list[Rule], ctx: Context, owners: dict[str, list[str]]
) -> list[pd.DataFrame]:
    """Per (rule, pattern) totals of every firing rule, in one query on their ``reduced`` rows: each
    rule's saving priced on the rows it selects (its steps wrapped in CASE WHEN, as the overlap pass
    does), each rule's figures a column (zero or null on rows it does not select), then one group-by by
    pattern summing them. The same integers as ``priced_totals`` on each rule's rows: one query and its
    planning instead of one a rule, on whichever engine holds the rows."""
    table = reduced.table
    repeats = nw.col(REPEATS)
    inputs: list[nw.Expr] = []  # each rule's figures per row, zero or null where it does not select it
    totals: list[nw.Expr] = []
    steps: list[tuple[str, nw.Expr]] = []
    for i, rule in enumerate(rules):
        selected = nw.col(reduced.flags[rule.id])
        own = saving_steps(rule, ctx)
        priced = f"{TEMP}priced{i}"
        steps += [(name, nw.when(selected).then(expr)) for name, expr in own[:-1]]
        steps.append((priced, nw.when(selected).then(final_saving(own[-1][1])).otherwise(0)))
        figures = {
            "keys": nw.when(selected).then(repeats).otherwise(0),
            "memory": nw.when(selected).then(nw.col("memory_bytes") * repeats),
            "savings": nw.col(priced) * repeats,
            "max_elements": nw.when(selected).then(nw.col("num_elements")),
            "max_element": nw.when(selected).then(nw.col("largest_element_bytes")),
            **{c: nw.when(selected).then(nw.col(c)) for c in owners[rule.id]},
        }
        for name, expr in figures.items():
            inputs.append(expr.alias(f"{TEMP}in_{name}{i}"))
            total = nw.col(f"{TEMP}in_{name}{i}")
            totals.append(
                (total.sum() if name in ("keys", "memory", "savings") else total.max()).alias(
                    f"{TEMP}{name}{i}"
                )
            )
    for level in step_levels(steps):
        table = compiled.with_columns(table, *level)
    table = compiled.with_columns(table, *inputs)
    grouped = table.group_by(PATTERN_COLUMN).agg(*totals).collect().to_pandas()
    found = []
    for i, rule in enumerate(rules):
        names = ["keys", "memory", "savings", "max_elements", "max_element", *owners[rule.id]]
        mine = grouped[[PATTERN_COLUMN, *[f"{TEMP}{n}{i}" for n in names]]]
        mine = mine[mine[f"{TEMP}keys{i}"] > 0].reset_index(drop=True)
        if len(mine):
            found.append(mine.set_axis([PATTERN_COLUMN, *names], axis=1).assign(rule=rule.id))
    return found


#: What every key of a table shares besides its pattern's columns (``Globals.attach``).
CONSTANTS = ("total_keys", "several_dbs", "first_db")


def possible(measured: Globals, rules: list[Rule], ctx: Context) -> list[Rule]:
    """The rules that may select a key. A rule's condition ANDs terms; those reading only what a key
    shares with its whole pattern (the per-pattern columns, the table's constants) are tested once a
    pattern on the per-pattern table, a few rows: where no pattern passes them no key can, and the rule
    is left out of the count over every key (``long-key-names`` without a pattern of 1,000 keys,
    ``several-logical-dbs`` on one db). All are kept when a key may have no pattern (then its
    per-pattern columns are null, which no row of that table shows)."""
    shared = measured.pattern_columns | {PATTERN_COLUMN, *CONSTANTS}
    gates: dict[int, nw.Expr] = {}
    for i, rule in enumerate(rules):
        terms = [
            t
            for t in conjuncts(rule_condition(rule, ctx))
            if (read := expr_columns(t)) is not None and read <= shared
        ]
        if terms:
            gates[i] = functools.reduce(operator.and_, terms)
    if not gates:
        return rules
    table = measured.per_pattern.with_columns(
        nw.lit(measured.total_keys).alias("total_keys"),
        nw.lit(measured.several_dbs).alias("several_dbs"),
        nw.lit(measured.first_db).alias("first_db"),
    )
    passed = (
        table.select(
            nw.col(PATTERN_COLUMN).is_null().any().alias(f"{TEMP}unpatterned"),
            *[gate.fill_null(False).any().alias(f"{TEMP}g{i}") for i, gate in gates.items()],
        )
        .collect()
        .row(0)
    )
    if passed[0] is not False:
        return rules
    closed = {i for i, ok in zip(gates, passed[1:], strict=True) if ok is False}
    return [rule for i, rule in enumerate(rules) if i not in closed]


def lazy_partials(
    frame: nw.LazyFrame[Any], measured: Globals, rules: list[Rule], ctx: Context, *, gated: bool = False
) -> tuple[list[pd.DataFrame], Reduced | None]:
    """Per (rule, pattern) totals on a lazy engine. One scan of every key, the ``_census``, tells which
    rules fire (``gated``: leaving out those ``possible`` rules out) and gives the totals of the
    firing rules that price nothing. With two or more rules with a saving firing, one more scan reduces
    their rows (``reduced_rows``), on which all are priced in one query (``_reduced_partials``) and which
    the overlap pass reads too; else (or past ``REDUCED_ROWS`` distinct rows) each of them gets one
    filtered group-by query of its own, joined only with the global tables it reads. The keys two or
    more priced rules select are not counted here (that would evaluate every priced condition twice
    per key): the overlap pass counts them itself, over the rules whose findings price a saving."""
    if not rules:
        return [], None
    needs = [(True, True) if measured.joined else measured.joins(rule_columns(rule, ctx)) for rule in rules]
    names = frame.collect_schema().names() + sorted(measured.pattern_columns)
    owners = [c for c in OWNER_COLUMNS if c in names]
    counted = possible(measured, rules, ctx) if gated else rules
    patterns, seconds = any(p for p, _ in needs), any(s for _, s in needs)
    firing: list[Rule] = []
    census = None
    if counted:
        census = _census(measured.attach(frame, patterns=patterns, seconds=seconds), counted, ctx)
        firing = [rule for i, rule in enumerate(counted) if _selects(census, i).any()]
    # owner columns where the rule's own query would have joined them
    owned = {rule.id: owners if needs[rules.index(rule)][0] else [] for rule in firing}
    found = []
    if census is not None:
        found = _census_partials(census, counted, [r for r in firing if r.saving is None], measured, owned)
    priced = [rule for rule in firing if rule.saving is not None]
    reduced = reduced_rows(frame, measured, priced, ctx, owners)
    if reduced is not None:
        return found + _reduced_partials(reduced, priced, ctx, owned), reduced
    for rule in priced:
        patterns, seconds = needs[rules.index(rule)]
        attached = measured.attach(frame, patterns=patterns, seconds=seconds)
        found += per_rule_partials(attached, [rule], ctx)
    return found, reduced


def _census(attached: nw.LazyFrame[Any], rules: list[Rule], ctx: Context) -> pa.Table:
    """One scan of every key: keys, memory and the largest sizes per pattern and set of ``rules`` that
    select them (``_masks``; a few hundred groups). Which rules fire, and the totals of those that
    price nothing (``_census_partials``), are read off it; only the rules with a saving scan the keys
    again (``reduced_rows``), for the sizes their savings read."""
    masks = _masks(rules, ctx)
    names = [f"{TEMP}rules{i}" for i in range(len(masks))]
    grouped = (
        attached.with_columns(*masks)
        .group_by(PATTERN_COLUMN, *names)
        .agg(
            nw.len().alias("keys"),
            nw.col("memory_bytes").sum().alias("memory"),
            nw.col("num_elements").max().alias("max_elements"),
            nw.col("largest_element_bytes").max().alias("max_element"),
        )
        .collect()
        .to_arrow()
    )
    totals = ("keys", "memory", "max_elements", "max_element")
    return grouped.cast(
        pa.schema([f.with_type(pa.int64()) if f.name in totals else f for f in grouped.schema])
    )


def _census_partials(
    census: pa.Table, counted: list[Rule], rules: list[Rule], measured: Globals, owners: dict[str, list[str]]
) -> list[pd.DataFrame]:
    """Per (rule, pattern) totals of firing ``rules`` that price no saving, from the ``_census`` of the
    ``counted`` rules: the owner columns are the pattern's (``Globals.per_pattern``)."""
    if not rules:
        return []
    per_pattern = None
    if any(owners[rule.id] for rule in rules):
        per_pattern = measured.per_pattern.select(PATTERN_COLUMN, *OWNER_COLUMNS).collect().to_pandas()
    found = []
    frame = census.select([PATTERN_COLUMN, "keys", "memory", "max_elements", "max_element"]).to_pandas()
    for rule in rules:
        mine = frame[_selects(census, counted.index(rule))]
        mine = mine.groupby(PATTERN_COLUMN, dropna=False, sort=False, as_index=False).agg(
            keys=("keys", "sum"),
            memory=("memory", "sum"),
            max_elements=("max_elements", "max"),
            max_element=("max_element", "max"),
        )
        if per_pattern is not None and owners[rule.id]:
            mine = mine.merge(per_pattern[[PATTERN_COLUMN, *owners[rule.id]]], on=PATTERN_COLUMN, how="left")
        found.append(mine.assign(savings=0, rule=rule.id))
    return found


def lazy_overlaps(
    frame: nw.LazyFrame[Any],
    measured: Globals,
    rules: list[Rule],
    ctx: Context,
    reduced: Reduced | None = None,
) -> np.ndarray:
    """One query: the keys two or more rules select, each rule's saving on them (its steps wrapped in
    CASE WHEN selected, so a step only ever sees the rows it was written for), composed in order.
    With the firing rules' ``reduced`` rows, it reads those (each row weighted by its key count)."""
    weight: nw.Expr = nw.lit(1)
    if reduced is not None and all(rule.id in reduced.flags for rule in rules):
        multi = compiled.with_columns(
            reduced.table,
            *[
                nw.when(nw.col(reduced.flags[rule.id])).then(1).otherwise(0).alias(f"{TEMP}ov{i}")
                for i, rule in enumerate(rules)
            ],
        ).filter(selected_twice(rules))
        weight = nw.col(REPEATS)
    else:
        patterns, seconds = measured.joins_for(rules, ctx)
        multi = measured.attach(frame, patterns=patterns, seconds=seconds)
        multi = multi.with_columns(*selected_columns(rules, ctx)).filter(selected_twice(rules))
    if not as_int(multi.select(nw.len()).collect().item()):
        return np.zeros(len(rules))  # a cheap count first: pricing steps cost more to plan than to run
    for i, rule in enumerate(rules):
        selected = nw.col(f"{TEMP}ov{i}") == 1
        steps = saving_steps(rule, ctx)
        for name, expr in steps[:-1]:
            multi = compiled.with_columns(multi, nw.when(selected).then(expr).alias(name))
        final = nw.when(selected).then(final_saving(steps[-1][1])).otherwise(0)
        multi = compiled.with_columns(multi, final.alias(f"{TEMP}s{i}"))
        temporary = sorted({name for name, _ in steps[:-1]})
        if temporary:
            multi = multi.drop(*temporary)
    footprint = nw.max_horizontal(key_footprint(), nw.lit(1))
    claims = []
    for i in range(len(rules)):
        saving = nw.col(f"{TEMP}s{i}")
        if i:
            claim = saving * (1 - nw.col(f"{TEMP}left{i - 1}")) * weight
            claims.append(claim.sum().alias(f"{TEMP}o{i}"))
        left = 1 - saving / footprint
        multi = compiled.with_columns(
            multi, (left if i == 0 else nw.col(f"{TEMP}left{i - 1}") * left).alias(f"{TEMP}left{i}")
        )
    if not claims:
        return np.zeros(len(rules))
    row = multi.select(*claims).collect().row(0)
    return np.array([0.0, *(float(v or 0.0) for v in row)])
