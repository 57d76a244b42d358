"""What a rule selects and what its selection saves, as narwhals expressions on any engine: the
condition (null meaning "not selected"), the saving steps in as few ``with_columns`` calls as their
reads allow, and the per-pattern totals of one rule's selection (``per_rule_partials``), each distinct
row priced once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import narwhals as nw
import pandas as pd

from insightkit.recommend import compiled
from insightkit.recommend.base import Context, Rule
from insightkit.recommend.cost import TEMP
from insightkit.recommend.frames import is_eager
from insightkit.recommend.needs import expr_columns, rule_columns, union
from insightkit.recommend.owners import unowned
from insightkit.schema import PATTERN_COLUMN

SAVINGS = "estimated_savings_bytes"


#: Optional key-table columns (library-owned keys: who owns them, what for) whose values among a rule's
#: offenders reach its fix text (``Aggregates.owners`` / ``roles``); absent columns are simply skipped.
OWNER_COLUMNS = ("owner", "role")


#: Columns the partials read besides a rule's own (the saving's bound, the per-pattern totals)
PARTIAL_READS = frozenset(
    {PATTERN_COLUMN, "memory_bytes", "expires_bytes", "num_elements", "largest_element_bytes", *OWNER_COLUMNS}
)


def saving_steps(rule: Rule, ctx: Context) -> list[tuple[str, nw.Expr]]:
    saving = rule.saving(ctx) if rule.saving is not None else nw.lit(0)
    return saving if isinstance(saving, list) else [(SAVINGS, saving)]


def key_footprint() -> nw.Expr:
    """What deleting the key gives back: its MEMORY USAGE figure and its expires entry."""
    return nw.col("memory_bytes") + nw.col("expires_bytes").fill_null(0)


def final_saving(expr: nw.Expr) -> nw.Expr:
    """A key's saving: never negative, and never more than deleting the key would free."""
    bounded = nw.min_horizontal(nw.max_horizontal(expr.fill_null(0), nw.lit(0)), key_footprint())
    return bounded.round(0).cast(nw.Int64)


def rule_condition(rule: Rule, ctx: Context) -> nw.Expr:
    assert rule.select is not None, f"{rule.id} is a snapshot rule"
    if not rule.library_keys:  # the keys' layout is a library's: leave them to its settings
        return rule.select(ctx) & unowned()
    return rule.select(ctx)


def rule_selection(rule: Rule, ctx: Context) -> nw.Expr:
    """The rule's condition with null (a missing value) meaning "not selected"."""
    return rule_condition(rule, ctx).fill_null(False)


def select_offenders(frame: nw.LazyFrame[Any], rule: Rule, ctx: Context) -> nw.LazyFrame[Any]:
    """The rows one rule selects, each with its own saving (steps run on those rows only)."""
    # A lazy engine drops rows whose condition is null by itself; without the COALESCE around it,
    # DuckDB pushes the rule's plain comparisons (type, encoding) into the Parquet scan.
    condition = rule_selection(rule, ctx) if is_eager(frame) else rule_condition(rule, ctx)
    return with_saving(frame.filter(condition), rule, ctx)


def with_saving(
    selected: nw.LazyFrame[Any], rule: Rule, ctx: Context, *, drop: bool = True
) -> nw.LazyFrame[Any]:
    """Selected rows with the rule's saving (``estimated_savings_bytes``), its temporary columns dropped
    (kept with ``drop=False``, for a caller that aggregates next)."""
    steps = saving_steps(rule, ctx)
    for batch in step_batches([*steps[:-1], (SAVINGS, final_saving(steps[-1][1]))]):
        selected = compiled.with_columns(selected, *batch)
    temporary = [name for name, _ in steps[:-1] if name.startswith(TEMP)]
    return selected.drop(*temporary) if temporary and drop else selected


def step_batches(steps: list[tuple[str, nw.Expr]]) -> list[list[nw.Expr]]:
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


def step_levels(steps: list[tuple[str, nw.Expr]]) -> list[list[nw.Expr]]:
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


def saving_columns(rule: Rule, ctx: Context) -> frozenset[str] | None:
    """The key-table columns a rule's saving reads (None: cannot be told), besides the key's footprint."""
    if rule.saving is None:
        return frozenset()
    written: set[str] = set()
    found: list[frozenset[str] | None] = []
    for name, expr in saving_steps(rule, ctx):
        read = expr_columns(expr)
        found.append(None if read is None else read - written)
        written.add(name)
    return union(found)


#: The count of keys a row of a deduplicated selection stands for.
REPEATS = f"{TEMP}repeats"


def priced_totals(off: nw.LazyFrame[Any], rule: Rule, ctx: Context, owners: list[str]) -> nw.LazyFrame[Any]:
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
    reads = saving_columns(rule, ctx)
    if reads is None or REPEATS in reads:
        priced = compiled.with_columns(with_saving(off, rule, ctx, drop=False), nw.lit(1).alias(REPEATS))
    else:
        distinct = off.group_by(*kept_columns(reads, owners)).agg(nw.len().alias(REPEATS))
        priced = with_saving(distinct, rule, ctx, drop=False)
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


def kept_columns(reads: frozenset[str], owners: list[str]) -> list[str]:
    """The columns a deduplicated selection keeps: what the saving reads and what the partials total."""
    return sorted(
        reads
        | {PATTERN_COLUMN, "memory_bytes", "expires_bytes", "num_elements", "largest_element_bytes", *owners}
    )


def per_rule_partials(
    chunk: nw.LazyFrame[Any], rules: list[Rule], ctx: Context, flags: Mapping[str, str] | None = None
) -> list[pd.DataFrame]:
    """Per (rule, pattern) totals: each rule filters (on an in-memory slice, or as one query on a lazy
    engine), then prices only its own rows (each distinct row once: ``priced_totals``). ``flags``:
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
            condition = rule_selection(rule, ctx) if eager else rule_condition(rule, ctx)
        grouped = priced_totals(mine.filter(condition), rule, ctx, owners).collect().to_pandas()
        if len(grouped):
            found.append(grouped.assign(rule=rule.id))
    return found


def selected_columns(rules: list[Rule], ctx: Context) -> list[nw.Expr]:
    return [
        nw.when(rule_condition(r, ctx)).then(1).otherwise(0).alias(f"{TEMP}ov{i}")
        for i, r in enumerate(rules)
    ]


def selected_twice(rules: list[Rule]) -> nw.Expr:
    return nw.sum_horizontal(*[nw.col(f"{TEMP}ov{i}") for i in range(len(rules))]) >= 2
