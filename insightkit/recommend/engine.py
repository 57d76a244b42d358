"""Run rules over a key table on any narwhals backend: pandas in notebooks, DuckDB for big RSNAPs.

The key table arrives as a pandas DataFrame, a pyarrow Table or a DuckDB relation (e.g.
``duckdb.read_parquet("big.rsnap/*.parquet")``) and is wrapped with narwhals, so every rule's filter and
saving expressions run where the data is. Evaluation is one pass, whatever the number of rules:

1. *Globals* — what a rule may compare a key with: the table's key count and first db, keys per
   pattern, keys per expiry second. Small group-bys, computed once (never as window functions, which
   DuckDB runs on one thread and which a chunked pass could not see).
2. *Partials* — for every (rule, pattern): offending keys, their memory and savings, the largest
   collection and element. On a lazy engine (``census``) one scan groups the keys by pattern and by
   which rules select them (leaving out the rules whose per-pattern terms no pattern passes:
   ``census.possible``): the firing rules without a saving are totalled from it; those with one are
   priced, each distinct row of their selection once (weighted by its key count): their rows are
   reduced in one more scan to those distinct rows, on which every one is priced in one query (their
   steps sharing ``with_columns`` calls: ``pricing.step_levels``) and which the overlap pass reads.
   In-memory tables are walked in chunks of rows (``eager``), each rule's selection evaluated once
   as a column (``eager.Flagged``), on Arrow by direct compute calls (``compiled``). An in-memory
   table handed to DuckDB gets its derived columns on Arrow once (``frames.prepare_on``).
3. *Findings* — the partials reduced per rule (pandas, a few thousand rows).

``offenders`` is the one call that materialises key rows, and only the offending ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from insightkit._text import plural
from insightkit.errors import ConfigurationError
from insightkit.recommend import severity
from insightkit.recommend.base import Aggregates, Context, Rule
from insightkit.recommend.census import Reduced, lazy_overlaps, lazy_partials
from insightkit.recommend.eager import Flagged, eager_overlaps, flagged_slice
from insightkit.recommend.frames import (
    DERIVED,
    Engine,
    Globals,
    as_int,
    is_eager,
    prepare_on,
    slices,
    table_errors,
    to_lazy,
    with_row_columns,
)
from insightkit.recommend.owners import owners_of
from insightkit.recommend.pricing import OWNER_COLUMNS, SAVINGS, per_rule_partials, select_offenders
from insightkit.schema import PATTERN_COLUMN

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
    lazy engine made them (``reduced_rows``), an in-memory table's slices with their rules' selections.
    ``gated``: ``measured`` is the table's own, so its patterns are every key's (``possible``)."""
    found: list[pd.DataFrame] = []
    reduced: Reduced | list[Flagged] | None = None
    if is_eager(frame):
        reduced = []
        for chunk in slices(frame):
            flagged = flagged_slice(measured.attach(chunk), rules, ctx)
            firing = [rule for rule in rules if rule.id in flagged.flags]
            found += per_rule_partials(flagged.rows, firing, ctx, flagged.flags)
            reduced.append(flagged)
    else:
        lazy, reduced = lazy_partials(frame, measured, rules, ctx, gated=gated)
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
                claimed += eager_overlaps(flagged.rows, rules, ctx, flagged.flags)
        elif is_eager(frame):
            for chunk in slices(frame):
                claimed += eager_overlaps(measured.attach(chunk), rules, ctx)
        else:
            claimed += lazy_overlaps(frame, measured, rules, ctx, reduced)
    return pd.DataFrame({"rule": [r.id for r in rules], OVERLAP: claimed})


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
            detail = f"{plural(agg.keys, 'key')} in {plural(agg.patterns, 'pattern')}"
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
    rule: Rule,
    keys: Any,
    metadata: Mapping[str, Any] | None,
    thresholds: Any = None,
    engine: Engine = "auto",
    largest: int | None = None,
) -> pd.DataFrame:
    """Every offending key row of a key rule, with its own ``estimated_savings_bytes``, as pandas;
    ``largest``: only that many, those with the largest saving (then memory; ties by db and key),
    chosen by the engine."""
    if not rule.per_key:
        raise ConfigurationError(f"rule {rule.id!r} looks at the snapshot's INFO/CONFIG, not at keys")
    ctx = Context.build(metadata, thresholds)
    with table_errors():
        frame, measured = prepare_on(keys, engine, ctx)
        if rule.gate is not None and not rule.gate(ctx):
            frame = frame.filter(nw.col("num_elements") < -1)  # the rule does not apply: no offenders
        order, descending = [SAVINGS, "memory_bytes", "db", "key"], [True, True, False, False]
        parts = []
        for chunk in slices(frame):
            selected = select_offenders(measured.attach(chunk), rule, ctx).drop(*DERIVED)
            if largest is not None:  # ties by (db, key), as top() has them
                selected = selected.sort(order, descending=descending, nulls_last=True).head(largest)
            parts.append(selected.collect())
    # Through Arrow with Arrow dtypes: a nullable int64 (expires_at) must not become float64 on the way.
    rows = [
        p.to_native()
        if isinstance(p.to_native(), pd.DataFrame)
        else p.to_arrow().to_pandas(types_mapper=pd.ArrowDtype)
        for p in parts
    ]
    whole = rows[0] if len(rows) == 1 else pd.concat(rows, ignore_index=True)
    if largest is not None and len(rows) > 1:  # the largest of each slice's largest
        ascending = [not d for d in descending]
        whole = whole.sort_values(order, ascending=ascending, kind="stable").head(largest)
    return whole.reset_index(drop=True) if largest is not None else whole
