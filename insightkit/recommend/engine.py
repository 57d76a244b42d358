"""Run rules over a key table on any narwhals backend: pandas in notebooks, DuckDB for big RSNAPs.

The key table arrives as a pandas DataFrame, a pyarrow Table or a DuckDB relation (e.g.
``duckdb.read_parquet("big.rsnap/*.parquet")``) and is wrapped with narwhals, so every rule's filter and
saving expressions run where the data is. Evaluation is one pass, whatever the number of rules:

1. *Globals* — what a rule may compare a key with: the table's key count and first db, keys per
   pattern, keys per expiry second. Small group-bys, computed once (never as window functions, which
   DuckDB runs on one thread and which a chunked pass could not see).
2. *Partials* — for every (rule, pattern): offending keys, their memory and savings, the largest
   collection and element. On a lazy engine one scan (``_census``) groups the keys by pattern and by
   which rules select them (leaving out the rules whose per-pattern terms no pattern passes:
   ``_possible``): the firing rules without a saving are totalled from it; those with one are priced,
   each distinct row of their selection once (weighted by its key count): their rows are reduced in
   one more scan to those distinct rows, on which every one is priced in one query
   (``_reduced_partials``, their steps sharing ``with_columns`` calls: ``_levels``) and which the
   overlap pass reads. Eager tables are walked in chunks of rows, each rule's selection evaluated once
   as a column (``Flagged``). An in-memory table handed to DuckDB gets its derived columns on Arrow
   once (``prepare_on``).
3. *Findings* — the partials reduced per rule (pandas, a few thousand rows).

``offenders`` is the one call that materialises key rows, and only the offending ones.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from insightkit.errors import ConfigurationError
from insightkit.recommend import compiled, severity
from insightkit.recommend.base import Aggregates, Context, Rule
from insightkit.recommend.cost import TEMP
from insightkit.recommend.frames import (
    DERIVED,
    Engine,
    Globals,
    as_int,
    connection,
    is_eager,
    prepare_on,
    slices,
    table_errors,
    to_lazy,
    with_row_columns,
)
from insightkit.recommend.needs import conjuncts, expr_columns, rule_columns, union
from insightkit.recommend.owners import owners_of, unowned
from insightkit.schema import PATTERN_COLUMN

SAVINGS = "estimated_savings_bytes"
COUNTED = "counted_savings_bytes"
RESULT_COLUMNS = [
    "rule",
    "title",
    "category",
    "severity",
    "frees",
    SAVINGS,
    "offending_keys",
    "offending_patterns",
    "offending_memory_bytes",
    "top_patterns",
    "fix",
    "description",
    "detail",
    "owner",
    "role",
]
#: One row per (rule, pattern) with offenders: what a finding is reduced from.
PARTIAL_COLUMNS = ["rule", PATTERN_COLUMN, "keys", "memory", "savings", "max_elements", "max_element"]
#: Optional key-table columns (library-owned keys: who owns them, what for) whose values among a rule's
#: offenders reach its fix text (``Aggregates.owners`` / ``roles``); absent columns are simply skipped.
OWNER_COLUMNS = ("owner", "role")
#: Columns the partials read besides a rule's own (the saving's bound, the per-pattern totals)
PARTIAL_READS = frozenset(
    {PATTERN_COLUMN, "memory_bytes", "expires_bytes", "num_elements", "largest_element_bytes", *OWNER_COLUMNS}
)


def _saving_steps(rule: Rule, ctx: Context) -> list[tuple[str, nw.Expr]]:
    saving = rule.saving(ctx) if rule.saving is not None else nw.lit(0)
    return saving if isinstance(saving, list) else [(SAVINGS, saving)]


def _footprint() -> nw.Expr:
    """What deleting the key gives back: its MEMORY USAGE figure and its expires entry."""
    return nw.col("memory_bytes") + nw.col("expires_bytes").fill_null(0)


def _final_saving(expr: nw.Expr) -> nw.Expr:
    """A key's saving: never negative, and never more than deleting the key would free."""
    bounded = nw.min_horizontal(nw.max_horizontal(expr.fill_null(0), nw.lit(0)), _footprint())
    return bounded.round(0).cast(nw.Int64)


def _condition(rule: Rule, ctx: Context) -> nw.Expr:
    assert rule.select is not None, f"{rule.id} is a snapshot rule"
    if not rule.library_keys:  # the keys' layout is a library's: leave them to its settings
        return rule.select(ctx) & unowned()
    return rule.select(ctx)


def _selection(rule: Rule, ctx: Context) -> nw.Expr:
    """The rule's condition with null (a missing value) meaning "not selected"."""
    return _condition(rule, ctx).fill_null(False)


def select_offenders(frame: nw.LazyFrame[Any], rule: Rule, ctx: Context) -> nw.LazyFrame[Any]:
    """The rows one rule selects, each with its own saving (steps run on those rows only)."""
    # A lazy engine drops rows whose condition is null by itself; without the COALESCE around it,
    # DuckDB pushes the rule's plain comparisons (type, encoding) into the Parquet scan.
    condition = _selection(rule, ctx) if is_eager(frame) else _condition(rule, ctx)
    return _priced(frame.filter(condition), rule, ctx)


def _priced(selected: nw.LazyFrame[Any], rule: Rule, ctx: Context, *, drop: bool = True) -> nw.LazyFrame[Any]:
    """Selected rows with the rule's saving (``estimated_savings_bytes``), its temporary columns dropped
    (kept with ``drop=False``, for a caller that aggregates next)."""
    steps = _saving_steps(rule, ctx)
    for batch in _step_batches([*steps[:-1], (SAVINGS, _final_saving(steps[-1][1]))]):
        selected = compiled.with_columns(selected, *batch)
    temporary = [name for name, _ in steps[:-1] if name.startswith(TEMP)]
    return selected.drop(*temporary) if temporary and drop else selected


def _step_batches(steps: list[tuple[str, nw.Expr]]) -> list[list[nw.Expr]]:
    """Saving steps grouped into as few ``with_columns`` calls as their order allows: a step joins the
    current batch unless it reads (or rewrites) a column written in it, or what it reads cannot be told.
    Each call is one more query layer for a lazy engine to plan (and, on DuckDB, to bind)."""
    batches: list[list[nw.Expr]] = []
    written: set[str] = set()
    for name, expr in steps:
        reads = expr_columns(expr)
        if not batches or reads is None or reads & written or name in written:
            batches.append([])
            written = set()
        batches[-1].append(expr.alias(name))
        written.add(name)
    return batches


def _levels(steps: list[tuple[str, nw.Expr]]) -> list[list[nw.Expr]]:
    """Steps (several rules' one after another) in as few ``with_columns`` calls as what they read and
    write allows, each as early as it can run: after the last write of every column it reads and of its
    own name, and not before a step that reads its name under the value it holds before (a step may
    join that one's call: in one call every expression sees the table as it was). A step whose reads
    cannot be told runs after every write so far, and no later step runs before it. The result is that
    of running the steps one by one; independent rules' steps share calls."""
    levels: list[list[nw.Expr]] = []
    written: dict[str, int] = {}  # column → level of its latest write
    read: dict[str, int] = {}  # column → last level it is read at
    floor = 0
    for name, expr in steps:
        reads = expr_columns(expr)
        level = max(floor, written.get(name, -1) + 1, read.get(name, 0))
        if reads is None:
            level = max([level, *(at + 1 for at in written.values())])
            floor = level
        else:
            level = max([level, *(written[c] + 1 for c in reads if c in written)])
            for column in reads:
                read[column] = max(read.get(column, 0), level)
        written[name] = level
        levels += [[] for _ in range(level + 1 - len(levels))]
        levels[level].append(expr.alias(name))
    return levels


def _saving_columns(rule: Rule, ctx: Context) -> frozenset[str] | None:
    """The key-table columns a rule's saving reads (None: cannot be told), besides the key's footprint."""
    if rule.saving is None:
        return frozenset()
    written: set[str] = set()
    found: list[frozenset[str] | None] = []
    for name, expr in _saving_steps(rule, ctx):
        read = expr_columns(expr)
        found.append(None if read is None else read - written)
        written.add(name)
    return union(found)


#: The count of keys a row of a deduplicated selection stands for.
REPEATS = f"{TEMP}repeats"


def _priced_totals(off: nw.LazyFrame[Any], rule: Rule, ctx: Context, owners: list[str]) -> nw.LazyFrame[Any]:
    """Per-pattern totals of a rule's selected rows (``off``, not yet priced).

    A key's saving is a function of the few columns its steps read, and most keys of a pattern share
    their values (same sizes, same encoding): the rows are first reduced to their distinct values of
    those columns with a count, priced once each, and the totals weighted by the counts, so the
    pricing expressions (size classes, CASE ladders) run on thousands of rows instead of millions.
    The totals are the same integers as pricing every key (each key's saving is rounded first).
    """
    if rule.saving is None:  # nothing to price: the per-pattern totals straight from the rows
        return (
            off.group_by(PATTERN_COLUMN)
            .agg(
                nw.len().alias("keys"),
                nw.col("memory_bytes").sum().alias("memory"),
                nw.col("num_elements").max().alias("max_elements"),
                nw.col("largest_element_bytes").max().alias("max_element"),
                *[nw.col(c).max().alias(c) for c in owners],
            )
            .with_columns(nw.lit(0, dtype=nw.Int64()).alias("savings"))
        )
    reads = _saving_columns(rule, ctx)
    if reads is None or REPEATS in reads:
        priced = compiled.with_columns(_priced(off, rule, ctx, drop=False), nw.lit(1).alias(REPEATS))
    else:
        distinct = off.group_by(*_kept(reads, owners)).agg(nw.len().alias(REPEATS))
        priced = _priced(distinct, rule, ctx, drop=False)
    repeats = nw.col(REPEATS)
    per_key = compiled.with_columns(
        priced,
        (nw.col("memory_bytes") * repeats).alias(f"{TEMP}memory"),
        (nw.col(SAVINGS) * repeats).alias(SAVINGS),
    )
    return per_key.group_by(PATTERN_COLUMN).agg(
        repeats.sum().alias("keys"),
        nw.col(f"{TEMP}memory").sum().alias("memory"),
        nw.col(SAVINGS).sum().alias("savings"),
        nw.col("num_elements").max().alias("max_elements"),
        nw.col("largest_element_bytes").max().alias("max_element"),
        *[nw.col(c).max().alias(c) for c in owners],
    )


def _kept(reads: frozenset[str], owners: list[str]) -> list[str]:
    """The columns a deduplicated selection keeps: what the saving reads and what the partials total."""
    return sorted(
        reads
        | {PATTERN_COLUMN, "memory_bytes", "expires_bytes", "num_elements", "largest_element_bytes", *owners}
    )


#: At most this many distinct rows make the table the firing rules are priced on (``_reduced``);
#: beyond, each rule prices its own rows in a query of its own.
REDUCED_ROWS = 500_000


@dataclass(frozen=True)
class Reduced:
    """The rows any firing rule selects, reduced to their distinct values of the columns the rules'
    savings and the partials read, with the count of keys each stands for (``REPEATS``) and one boolean
    column per rule (``flags``: rule id → column): small, so every rule's pricing and the overlap pass
    run on it instead of scanning the key table again."""

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
            nw.when(_condition(rule, ctx)).then(nw.lit(1 << i, dtype=nw.Int64())).otherwise(0)
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
    kept = _kept(reads, owners)
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
    return Reduced(nw.from_native(connection().from_arrow(rows)).lazy(), flags)


def _reduced(
    frame: nw.LazyFrame[Any], measured: Globals, rules: list[Rule], ctx: Context, owners: list[str]
) -> Reduced | None:
    """One scan for all firing rules (``Reduced``); None when a saving's columns cannot be told, a
    saving step rewrites a key-table column (the rules are priced in one query, ``_reduced_partials``,
    where another rule would read it), or the distinct rows are too many to be worth holding (then
    each rule gets a query of its own)."""
    reads = union(_saving_columns(rule, ctx) for rule in rules)
    if reads is None or REPEATS in reads or len(rules) < 2:
        return None
    if any(not name.startswith(TEMP) for rule in rules for name, _ in _saving_steps(rule, ctx)[:-1]):
        return None
    rows = _distinct_rows(frame, measured, rules, ctx, owners, reads)
    return None if rows is None else _flagged(rows, rules, rules)


def _reduced_partials(
    reduced: Reduced, rules: list[Rule], ctx: Context, owners: dict[str, list[str]]
) -> list[pd.DataFrame]:
    """Per (rule, pattern) totals of every firing rule, in one query on their ``reduced`` rows: each
    rule's saving priced on the rows it selects (its steps wrapped in CASE WHEN, as the overlap pass
    does), then one group-by by pattern with each rule's totals taken over its own rows. The same
    integers as ``_priced_totals`` on each rule's rows: a query and its planning instead of one a rule."""
    table = reduced.table
    repeats = nw.col(REPEATS)
    totals: list[nw.Expr] = []
    steps: list[tuple[str, nw.Expr]] = []
    for i, rule in enumerate(rules):
        selected = nw.col(reduced.flags[rule.id])
        own = _saving_steps(rule, ctx)
        priced = f"{TEMP}priced{i}"
        steps += [(name, nw.when(selected).then(expr)) for name, expr in own[:-1]]
        steps.append((priced, nw.when(selected).then(_final_saving(own[-1][1])).otherwise(0)))
        totals += [
            nw.when(selected).then(repeats).otherwise(0).sum().alias(f"{TEMP}keys{i}"),
            nw.when(selected).then(nw.col("memory_bytes") * repeats).sum().alias(f"{TEMP}memory{i}"),
            (nw.col(priced) * repeats).sum().alias(f"{TEMP}savings{i}"),
            nw.when(selected).then(nw.col("num_elements")).max().alias(f"{TEMP}max_elements{i}"),
            nw.when(selected).then(nw.col("largest_element_bytes")).max().alias(f"{TEMP}max_element{i}"),
            *[nw.when(selected).then(nw.col(c)).max().alias(f"{TEMP}{c}{i}") for c in owners[rule.id]],
        ]
    for level in _levels(steps):
        table = table.with_columns(*level)
    grouped = table.group_by(PATTERN_COLUMN).agg(*totals).collect().to_pandas()
    found = []
    for i, rule in enumerate(rules):
        names = ["keys", "memory", "savings", "max_elements", "max_element", *owners[rule.id]]
        mine = grouped[[PATTERN_COLUMN, *[f"{TEMP}{n}{i}" for n in names]]]
        mine = mine[mine[f"{TEMP}keys{i}"] > 0].reset_index(drop=True)
        if len(mine):
            found.append(mine.set_axis([PATTERN_COLUMN, *names], axis=1).assign(rule=rule.id))
    return found


def _per_rule_partials(
    chunk: nw.LazyFrame[Any], rules: list[Rule], ctx: Context, flags: Mapping[str, str] | None = None
) -> list[pd.DataFrame]:
    """Per (rule, pattern) totals: each rule filters (on an in-memory slice, or as one query on a lazy
    engine), then prices only its own rows (each distinct row once: ``_priced_totals``). ``flags``:
    the slice's columns holding each rule's selection (``Flagged``), read instead of its condition."""
    found = []
    names = chunk.collect_schema().names()
    owners = [c for c in OWNER_COLUMNS if c in names]
    eager = is_eager(chunk)
    for rule in rules:
        mine = chunk
        flag = flags.get(rule.id) if flags else None
        columns = rule_columns(rule, ctx) if eager else None
        if columns is not None:  # in memory: filter and price a table of the rule's columns only
            mine = chunk.select(*[c for c in names if c in columns or c in PARTIAL_READS or c == flag])
        if flag is not None:
            condition = nw.col(flag)
        else:
            condition = _selection(rule, ctx) if eager else _condition(rule, ctx)
        grouped = _priced_totals(mine.filter(condition), rule, ctx, owners).collect().to_pandas()
        if len(grouped):
            found.append(grouped.assign(rule=rule.id))
    return found


@dataclass(frozen=True)
class Flagged:
    """An in-memory slice with each firing rule's selection as a boolean column (``flags``: rule id →
    column): each condition is evaluated once for the count, the partials and the overlap pass."""

    rows: nw.LazyFrame[Any]
    flags: dict[str, str]


def _flagged_slice(chunk: nw.LazyFrame[Any], rules: list[Rule], ctx: Context) -> Flagged:
    """The rules that select a row of an in-memory slice, found by one pass of counts over their
    selections, kept as columns (most rules find nothing, and pricing and grouping a rule's empty
    selection costs more than counting it)."""
    names = [f"{TEMP}sel{i}" for i in range(len(rules))]
    if not rules:
        return Flagged(chunk, {})
    rows = compiled.with_columns(
        chunk, *[_selection(r, ctx).alias(n) for r, n in zip(rules, names, strict=True)]
    )
    rows = rows.collect().lazy()
    counts = rows.select(*[nw.col(n).sum() for n in names]).collect().row(0)
    flags = {r.id: n for r, n, c in zip(rules, names, counts, strict=True) if as_int(c)}
    quiet = [n for n in names if n not in flags.values()]
    return Flagged(rows.drop(*quiet) if quiet else rows, flags)


#: What every key of a table shares besides its pattern's columns (``Globals.attach``).
CONSTANTS = ("total_keys", "several_dbs", "first_db")


def _possible(measured: Globals, rules: list[Rule], ctx: Context) -> list[Rule]:
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
            for t in conjuncts(_condition(rule, ctx))
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


def _lazy_partials(
    frame: nw.LazyFrame[Any], measured: Globals, rules: list[Rule], ctx: Context, *, gated: bool = False
) -> tuple[list[pd.DataFrame], Reduced | None]:
    """Per (rule, pattern) totals on a lazy engine. One scan of every key, the ``_census``, tells which
    rules fire (``gated``: leaving out those ``_possible`` rules out) and gives the totals of the
    firing rules that price nothing. With two or more rules with a saving firing, one more scan reduces
    their rows (``_reduced``), on which all are priced in one query (``_reduced_partials``) and which
    the overlap pass reads too; else (or past ``REDUCED_ROWS`` distinct rows) each of them gets one
    filtered group-by query of its own, joined only with the global tables it reads. The keys two or
    more priced rules select are not counted here (that would evaluate every priced condition twice
    per key): the overlap pass counts them itself, over the rules whose findings price a saving."""
    if not rules:
        return [], None
    needs = [(True, True) if measured.joined else measured.joins(rule_columns(rule, ctx)) for rule in rules]
    names = frame.collect_schema().names() + sorted(measured.pattern_columns)
    owners = [c for c in OWNER_COLUMNS if c in names]
    counted = _possible(measured, rules, ctx) if gated else rules
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
    reduced = _reduced(frame, measured, priced, ctx, owners)
    if reduced is not None:
        return found + _reduced_partials(reduced, priced, ctx, owned), reduced
    for rule in priced:
        patterns, seconds = needs[rules.index(rule)]
        attached = measured.attach(frame, patterns=patterns, seconds=seconds)
        found += _per_rule_partials(attached, [rule], ctx)
    return found, reduced


def _census(attached: nw.LazyFrame[Any], rules: list[Rule], ctx: Context) -> pa.Table:
    """One scan of every key: keys, memory and the largest sizes per pattern and set of ``rules`` that
    select them (``_masks``; a few hundred groups). Which rules fire, and the totals of those that
    price nothing (``_census_partials``), are read off it; only the rules with a saving scan the keys
    again (``_reduced``), for the sizes their savings read."""
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


def partials(keys: Any, rules: list[Rule], ctx: Context, measured: Globals | None = None) -> pd.DataFrame:
    """Per (rule, pattern) offender totals of ``rules`` (key rules) over ``keys``.

    ``measured`` lets a caller that splits the table itself (Dask partitions) pass globals measured
    over all of it; by default they are measured over ``keys``.
    """
    frame = with_row_columns(to_lazy(keys), ctx)
    return _partials_of(frame, measured or Globals.measure(frame, ctx), rules, ctx)[0]


def _partials_of(
    frame: nw.LazyFrame[Any], measured: Globals, rules: list[Rule], ctx: Context, *, gated: bool = False
) -> tuple[pd.DataFrame, Reduced | list[Flagged] | None]:
    """The partials, and what the overlap pass may read again: the firing rules' reduced rows when a
    lazy engine made them (``_reduced``), an in-memory table's slices with their rules' selections.
    ``gated``: ``measured`` is the table's own, so its patterns are every key's (``_possible``)."""
    found: list[pd.DataFrame] = []
    reduced: Reduced | list[Flagged] | None = None
    if is_eager(frame):
        reduced = []
        for chunk in slices(frame):
            flagged = _flagged_slice(measured.attach(chunk), rules, ctx)
            firing = [rule for rule in rules if rule.id in flagged.flags]
            found += _per_rule_partials(flagged.rows, firing, ctx, flagged.flags)
            reduced.append(flagged)
    else:
        lazy, reduced = _lazy_partials(frame, measured, rules, ctx, gated=gated)
        found += lazy
    text = ("rule", PATTERN_COLUMN, *OWNER_COLUMNS)
    if not found:
        empty = pd.DataFrame(
            {
                c: pd.Series(dtype="object" if c in text else "int64")
                for c in PARTIAL_COLUMNS + list(OWNER_COLUMNS)
            }
        )
        return empty, reduced
    combined = pd.concat(found, ignore_index=True)
    for column in OWNER_COLUMNS:  # the same columns from every partition, whatever it holds
        if column not in combined.columns:
            combined[column] = None
    columns = PARTIAL_COLUMNS + list(OWNER_COLUMNS)
    return combined[columns].astype(dict.fromkeys(text, "object")), reduced


# --- savings counted once ------------------------------------------------------------------------
# A key that several findings price (big-lists and list-compression on one list) gives its bytes to
# the total once. The fixes are applied in the order the findings are listed; each prices the same
# share of a key it would save alone, of what the earlier ones left: a key of m bytes (memory_bytes +
# expires_bytes) with savings s1, s2, … counts s1 for the first finding, s2·(1 − s1/m) for the second,
# s3·(1 − s1/m)(1 − s2/m) for the third, so m·(1 − Π(1 − si/m)) <= m in all. Keys priced by one finding
# only count their own saving; only keys two or more findings price are looked at again.
OVERLAP = "overlap"


def claimants(result: pd.DataFrame) -> list[Rule]:
    """The key rules whose findings price a saving, in the order the findings are listed."""
    from insightkit.recommend import registry

    rules = [registry.BY_ID.get(str(r)) for r in result.loc[result[SAVINGS] > 0, "rule"]]
    return [r for r in rules if r is not None and r.per_key]


def overlaps(keys: Any, rules: list[Rule], ctx: Context, measured: Globals | None = None) -> pd.DataFrame:
    """Per rule of ``rules`` (in order): the bytes of its saving that earlier rules already claimed on
    the same keys (``overlap``, a float). Partitions of a table may be summed."""
    frame = with_row_columns(to_lazy(keys), ctx)
    return _overlaps_of(frame, measured or Globals.measure(frame, ctx), rules, ctx)


def _overlaps_of(
    frame: nw.LazyFrame[Any],
    measured: Globals,
    rules: list[Rule],
    ctx: Context,
    reduced: Reduced | list[Flagged] | None = None,
) -> pd.DataFrame:
    claimed = np.zeros(len(rules))
    if len(rules) >= 2:
        if isinstance(reduced, list):  # the partials' slices, each rule's selection a column already
            for flagged in reduced:
                claimed += _eager_overlaps(flagged.rows, rules, ctx, flagged.flags)
        elif is_eager(frame):
            for chunk in slices(frame):
                claimed += _eager_overlaps(measured.attach(chunk), rules, ctx)
        else:
            claimed += _lazy_overlaps(frame, measured, rules, ctx, reduced)
    return pd.DataFrame({"rule": [r.id for r in rules], OVERLAP: claimed})


def _selected_columns(rules: list[Rule], ctx: Context) -> list[nw.Expr]:
    return [
        nw.when(_condition(r, ctx)).then(1).otherwise(0).alias(f"{TEMP}ov{i}") for i, r in enumerate(rules)
    ]


def _several(rules: list[Rule]) -> nw.Expr:
    return nw.sum_horizontal(*[nw.col(f"{TEMP}ov{i}") for i in range(len(rules))]) >= 2


def _lazy_overlaps(
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
        multi = reduced.table.with_columns(
            *[
                nw.when(nw.col(reduced.flags[rule.id])).then(1).otherwise(0).alias(f"{TEMP}ov{i}")
                for i, rule in enumerate(rules)
            ]
        ).filter(_several(rules))
        weight = nw.col(REPEATS)
    else:
        patterns, seconds = measured.joins_for(rules, ctx)
        multi = measured.attach(frame, patterns=patterns, seconds=seconds)
        multi = multi.with_columns(*_selected_columns(rules, ctx)).filter(_several(rules))
    if not as_int(multi.select(nw.len()).collect().item()):
        return np.zeros(len(rules))  # a cheap count first: pricing steps cost more to plan than to run
    for i, rule in enumerate(rules):
        selected = nw.col(f"{TEMP}ov{i}") == 1
        steps = _saving_steps(rule, ctx)
        for name, expr in steps[:-1]:
            multi = multi.with_columns(nw.when(selected).then(expr).alias(name))
        final = nw.when(selected).then(_final_saving(steps[-1][1])).otherwise(0)
        multi = multi.with_columns(final.alias(f"{TEMP}s{i}"))
        temporary = sorted({name for name, _ in steps[:-1]})
        if temporary:
            multi = multi.drop(*temporary)
    footprint = nw.max_horizontal(_footprint(), nw.lit(1))
    claims = []
    for i in range(len(rules)):
        saving = nw.col(f"{TEMP}s{i}")
        if i:
            claim = saving * (1 - nw.col(f"{TEMP}left{i - 1}")) * weight
            claims.append(claim.sum().alias(f"{TEMP}o{i}"))
        left = 1 - saving / footprint
        multi = multi.with_columns(
            (left if i == 0 else nw.col(f"{TEMP}left{i - 1}") * left).alias(f"{TEMP}left{i}")
        )
    if not claims:
        return np.zeros(len(rules))
    row = multi.select(*claims).collect().row(0)
    return np.array([0.0, *(float(v or 0.0) for v in row)])


def _eager_overlaps(
    chunk: nw.LazyFrame[Any], rules: list[Rule], ctx: Context, flags: Mapping[str, str] | None = None
) -> np.ndarray:
    """An in-memory slice: the rows two or more rules select, each rule priced on its own rows (as its
    partials were), composed in order with numpy. ``flags``: the slice's selection columns
    (``Flagged``; a rule without one selects no row of it)."""
    if flags is None:
        selected = _selected_columns(rules, ctx)
    else:
        selected = [
            (nw.col(flags[r.id]).cast(nw.Int32) if r.id in flags else nw.lit(0)).alias(f"{TEMP}ov{i}")
            for i, r in enumerate(rules)
        ]
    multi = compiled.with_columns(chunk, *selected).filter(_several(rules)).collect()
    if len(multi) == 0:
        return np.zeros(len(rules))
    row_id = f"{TEMP}row"
    multi = multi.with_row_index(row_id)
    savings = np.zeros((len(multi), len(rules)))
    for i, rule in enumerate(rules):
        mine = _priced(multi.lazy().filter(nw.col(f"{TEMP}ov{i}") == 1), rule, ctx)
        got = mine.select(row_id, SAVINGS).collect().to_pandas()
        savings[got[row_id].to_numpy(dtype="int64"), i] = got[SAVINGS].to_numpy(dtype="float64")
    memory = multi.select(_footprint().alias("m")).to_pandas()["m"].to_numpy(dtype="float64")
    left = 1 - savings / np.maximum(memory, 1)[:, None]
    before = np.cumprod(np.hstack([np.ones((len(multi), 1)), left[:, :-1]]), axis=1)
    return np.asarray((savings * (1 - before)).sum(axis=0), dtype="float64")


def count_once(result: pd.DataFrame, overlap: pd.DataFrame) -> pd.DataFrame:
    """``counted_savings_bytes``: the part of each finding's saving that counts in the total — its own
    saving less what earlier findings already claimed on the same keys (``overlaps``)."""
    claimed = overlap.groupby("rule")[OVERLAP].sum() if len(overlap) else pd.Series(dtype="float64")
    taken = result["rule"].map(claimed).fillna(0.0).round().astype("int64")
    counted = (result[SAVINGS].astype("int64") - taken).clip(lower=0)
    out = result.copy()
    out.insert(list(out.columns).index(SAVINGS) + 1, COUNTED, counted.astype("int64"))
    return out


def _distinct(frame: pd.DataFrame | pd.Series, column: str) -> tuple[str, ...]:
    if not isinstance(frame, pd.DataFrame) or column not in frame.columns:
        return ()
    return tuple(sorted({str(v) for v in frame[column] if v is not None and not pd.isna(v)}))


def _row(
    rule: Rule,
    ctx: Context,
    savings: int,
    keys: int,
    patterns: int,
    memory: int,
    top: list[str],
    detail: str,
    agg: Aggregates | None,
) -> dict[str, Any]:
    pairs = owners_of(ctx, top)
    return {
        "rule": rule.id,
        "title": rule.title,
        "category": rule.category,
        "severity": rule.severity,
        "frees": rule.frees,
        SAVINGS: int(savings),
        "offending_keys": int(keys),
        "offending_patterns": int(patterns),
        "offending_memory_bytes": int(memory),
        "top_patterns": top,
        "fix": rule.fix_text(ctx, agg),
        "description": rule.description,
        "detail": detail,
        "owner": ", ".join(dict.fromkeys(o for o, _ in pairs)) or None,
        "role": ", ".join(dict.fromkeys(r for _, r in pairs)) or None,
    }


def findings(rules: list[Rule], parts: pd.DataFrame, ctx: Context, key_memory: int = 0) -> pd.DataFrame:
    """Reduce partials (from any number of slices or partitions) and snapshot checks into findings.

    One row per rule that fired, graded and ranked by ``severity.rank`` (security first, then by
    severity, then by saving); ``key_memory`` (the key table's memory) is the share's base when the
    snapshot carries no INFO.
    """
    owner_facts = {c: (c, "first") for c in OWNER_COLUMNS if c in parts.columns}
    per_pattern = parts.groupby(["rule", PATTERN_COLUMN], dropna=False, sort=False).agg(
        keys=("keys", "sum"),
        memory=("memory", "sum"),
        savings=("savings", "sum"),
        max_elements=("max_elements", "max"),
        max_element=("max_element", "max"),
        **owner_facts,
    )
    fired = set(per_pattern.index.get_level_values("rule"))
    found: list[dict[str, Any]] = []
    for rule in rules:
        if rule.per_key:
            if rule.id not in fired:
                continue
            mine = per_pattern.xs(rule.id, level="rule")
            # largest first, ties by name: the same patterns whatever order an engine grouped them in
            sizes = zip(mine["memory"].astype("int64").tolist(), map(str, mine.index), strict=True)
            top = [p for _, p in sorted(sizes, key=lambda size: (-size[0], size[1]))[:5]]
            agg = Aggregates(
                keys=as_int(mine["keys"].sum()),
                memory_bytes=as_int(mine["memory"].sum()),
                savings_bytes=as_int(mine["savings"].sum()),
                patterns=len(mine),
                max_elements=as_int(mine["max_elements"].max()),
                max_element_bytes=as_int(mine["max_element"].max()),
                top_patterns=tuple(top),
                owners=_distinct(mine, "owner"),
                roles=_distinct(mine, "role"),
            )
            detail = f"{agg.keys:,} keys in {agg.patterns:,} patterns"
            if rule.detail is not None:
                detail = rule.detail(ctx, agg) or detail
            found.append(
                _row(rule, ctx, agg.savings_bytes, agg.keys, agg.patterns, agg.memory_bytes, top, detail, agg)
            )
        else:
            assert rule.check is not None
            finding = rule.check(ctx)
            if finding is not None:
                saving, memory = finding.estimated_savings_bytes, finding.offending_memory_bytes
                found.append(_row(rule, ctx, saving, 0, 0, memory, [], finding.detail, None))
    result = pd.DataFrame(found, columns=RESULT_COLUMNS)
    if result.empty:
        return result.astype({SAVINGS: "int64", "offending_keys": "int64"})
    return severity.rank(severity.grade(result, ctx, key_memory))


def active(rules: list[Rule], ctx: Context) -> list[Rule]:
    """The rules whose gate (a condition on the snapshot's config) lets them run."""
    return [rule for rule in rules if rule.gate is None or rule.gate(ctx)]


def run(
    rules: list[Rule],
    keys: Any,
    metadata: Mapping[str, Any] | None,
    thresholds: Mapping[str, Any] | None,
    engine: Engine = "auto",
) -> pd.DataFrame:
    """One row per rule that fired, ranked (``severity.rank``), each saving also counted once."""
    ctx = Context.build(metadata, thresholds)
    running = active(rules, ctx)
    with table_errors():
        frame, measured = prepare_on(keys, engine, ctx)
        parts, reduced = _partials_of(frame, measured, [r for r in running if r.per_key], ctx, gated=True)
        result = findings(running, parts, ctx, measured.memory_bytes)
        claims = claimants(result)  # the overlap pass first counts the keys two of them select
        return count_once(result, _overlaps_of(frame, measured, claims, ctx, reduced))


def offending_rows(
    rule: Rule, keys: Any, metadata: Mapping[str, Any] | None, thresholds: Any = None, engine: Engine = "auto"
) -> pd.DataFrame:
    """Every offending key row of a key rule, with its own ``estimated_savings_bytes``, as pandas."""
    if not rule.per_key:
        raise ConfigurationError(f"rule {rule.id!r} looks at the snapshot's INFO/CONFIG, not at keys")
    ctx = Context.build(metadata, thresholds)
    with table_errors():
        frame, measured = prepare_on(keys, engine, ctx)
        if rule.gate is not None and not rule.gate(ctx):
            frame = frame.filter(nw.col("num_elements") < -1)  # the rule does not apply: no offenders
        parts = [
            select_offenders(measured.attach(chunk), rule, ctx).drop(*DERIVED).collect()
            for chunk in slices(frame)
        ]
    # Through Arrow with Arrow dtypes: a nullable int64 (expires_at) must not become float64 on the way.
    rows = [
        p.to_native()
        if isinstance(p.to_native(), pd.DataFrame)
        else p.to_arrow().to_pandas(types_mapper=pd.ArrowDtype)
        for p in parts
    ]
    return rows[0] if len(rows) == 1 else pd.concat(rows, ignore_index=True)
