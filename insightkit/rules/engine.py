"""Run rules over a key table on any narwhals backend: pandas in notebooks, DuckDB for big RSNAPs.

The key table arrives as a pandas DataFrame, a pyarrow Table or a DuckDB relation (e.g.
``duckdb.read_parquet("big.rsnap/*.parquet")``); it is wrapped as a narwhals LazyFrame, so each rule's
filter and saving expressions are pushed down to the engine and only one row of totals per rule comes
back. ``offenders`` is the one call that materialises rows, and only the offending ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import narwhals as nw
import pandas as pd

from insightkit.errors import ConfigurationError
from insightkit.rules.base import SEVERITIES, Aggregates, Context, Rule
from insightkit.rules.cost import TEMP
from insightkit.schema import PATTERN_COLUMN

SAVINGS = "estimated_savings_bytes"
DERIVED = (
    "key_len",
    "pattern_keys",
    "static_prefix_chars",
    "pattern_segments",
    "total_keys",
    "several_dbs",
    "expiry_second",
    "expiry_second_keys",
)
RESULT_COLUMNS = [
    "rule",
    "title",
    "category",
    "severity",
    SAVINGS,
    "offending_keys",
    "offending_patterns",
    "offending_memory_bytes",
    "top_patterns",
    "fix",
    "description",
    "detail",
]


def to_lazy(keys: Any) -> nw.LazyFrame[Any]:
    """Any narwhals-supported table (pandas, pyarrow, DuckDB relation, polars) as a LazyFrame."""
    if isinstance(keys, nw.LazyFrame):
        return keys
    if isinstance(keys, nw.DataFrame):
        return keys.lazy()
    try:
        frame = nw.from_native(keys)
    except TypeError as exc:
        raise ConfigurationError(f"rules: cannot query a {type(keys).__name__} as a key table") from exc
    return frame.lazy() if isinstance(frame, nw.DataFrame) else frame


def prepare(keys: Any) -> nw.LazyFrame[Any]:
    """The key table plus the derived columns rules share (key length, keys per pattern, prefix size)."""
    frame = to_lazy(keys)
    names = frame.collect_schema().names()
    if PATTERN_COLUMN not in names:
        # No pattern discovery ran (plain read_rdb output): digits stand in for ids.
        frame = frame.with_columns(nw.col("key").str.replace_all(r"[0-9]+", "*").alias(PATTERN_COLUMN))
    else:
        frame = frame.with_columns(nw.col(PATTERN_COLUMN).fill_null(nw.col("key")))
    pattern = nw.col(PATTERN_COLUMN).fill_null(nw.col("key"))
    literal = pattern.str.replace_all("*", "", literal=True)
    frame = frame.with_columns(
        nw.col("key").str.len_chars().alias("key_len"),
        nw.len().alias("total_keys"),
        (nw.col("db").max() != nw.col("db").min()).alias("several_dbs"),
        (nw.col("expires_at") // 1000).alias("expiry_second"),
        nw.len().over(PATTERN_COLUMN).alias("pattern_keys"),
        literal.str.len_chars().alias("static_prefix_chars"),
        (literal.str.len_chars() - literal.str.replace_all(":", "", literal=True).str.len_chars() + 1).alias(
            "pattern_segments"
        ),
    )
    frame = frame.with_columns(nw.len().over("expiry_second").alias("expiry_second_keys"))
    return _materialize(frame)


def _materialize(frame: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
    """On DuckDB, compute the shared columns (window functions) once into a temporary table.

    Every rule runs two or three queries; without this each would recompute the per-pattern windows
    over the whole (possibly on-disk) table. DuckDB spills the temporary table to disk when needed.
    """
    if frame.implementation is not nw.Implementation.DUCKDB:
        return frame
    relation = frame.to_native()
    name = f"ik_rules_{uuid.uuid4().hex}"
    relation.query("ik_source", f"CREATE TEMPORARY TABLE {name} AS SELECT * FROM ik_source")
    return nw.from_native(relation.query("ik_source", f"SELECT * FROM {name}")).lazy()


def _int(value: Any) -> int:
    try:
        if value is None or pd.isna(value):
            return 0
    except (TypeError, ValueError):
        pass
    return int(value)


def _offending(frame: nw.LazyFrame[Any], rule: Rule, ctx: Context) -> nw.LazyFrame[Any]:
    assert rule.select is not None
    selected = frame.filter(rule.select(ctx))
    saving = rule.saving(ctx) if rule.saving is not None else nw.lit(0)
    steps = saving if isinstance(saving, list) else [(SAVINGS, saving)]
    for name, expr in steps[:-1]:
        selected = selected.with_columns(expr.alias(name))
    final = nw.max_horizontal(steps[-1][1].fill_null(0), nw.lit(0)).round(0).cast(nw.Int64)
    selected = selected.with_columns(final.alias(SAVINGS))
    temporary = [name for name, _ in steps[:-1] if name.startswith(TEMP)]
    return selected.drop(*temporary) if temporary else selected


def _key_finding(frame: nw.LazyFrame[Any], rule: Rule, ctx: Context) -> dict[str, Any] | None:
    assert rule.select is not None
    # Most rules find nothing: count first, price only when there is something to price.
    if _int(frame.filter(rule.select(ctx)).select(nw.len()).collect().item()) == 0:
        return None
    off = _offending(frame, rule, ctx)
    totals = (
        off.select(
            nw.len().alias("keys"),
            nw.col("memory_bytes").sum().alias("memory"),
            nw.col(SAVINGS).sum().alias("savings"),
            nw.col(PATTERN_COLUMN).n_unique().alias("patterns"),
            nw.col("num_elements").max().alias("max_elements"),
            nw.col("largest_element_bytes").max().alias("max_element"),
        )
        .collect()
        .rows(named=True)[0]
    )
    if _int(totals["keys"]) == 0:
        return None
    agg = Aggregates(
        keys=_int(totals["keys"]),
        memory_bytes=_int(totals["memory"]),
        savings_bytes=_int(totals["savings"]),
        patterns=_int(totals["patterns"]),
        max_elements=_int(totals["max_elements"]),
        max_element_bytes=_int(totals["max_element"]),
    )
    top = (
        off.group_by(PATTERN_COLUMN)
        .agg(nw.col("memory_bytes").sum().alias("m"))
        .sort("m", descending=True)
        .head(5)
        .collect()
    )
    patterns = [str(p) for p in top[PATTERN_COLUMN].to_list()]
    detail = f"{agg.keys:,} keys in {agg.patterns:,} patterns"
    return _row(rule, ctx, agg.savings_bytes, agg.keys, agg.patterns, agg.memory_bytes, patterns, detail, agg)


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
    return {
        "rule": rule.id,
        "title": rule.title,
        "category": rule.category,
        "severity": rule.severity,
        SAVINGS: int(savings),
        "offending_keys": int(keys),
        "offending_patterns": int(patterns),
        "offending_memory_bytes": int(memory),
        "top_patterns": top,
        "fix": rule.fix_text(ctx, agg),
        "description": rule.description,
        "detail": detail,
    }


def run(
    rules: list[Rule], keys: Any, metadata: Mapping[str, Any] | None, thresholds: Mapping[str, Any] | None
) -> pd.DataFrame:
    """One row per rule that fired, largest saving first, then by severity."""
    ctx = Context.build(metadata, thresholds)
    frame = prepare(keys)
    found: list[dict[str, Any]] = []
    for rule in rules:
        if rule.gate is not None and not rule.gate(ctx):
            continue
        if rule.per_key:
            row = _key_finding(frame, rule, ctx)
        else:
            assert rule.check is not None
            finding = rule.check(ctx)
            row = (
                None
                if finding is None
                else _row(
                    rule,
                    ctx,
                    finding.estimated_savings_bytes,
                    0,
                    0,
                    finding.offending_memory_bytes,
                    [],
                    finding.detail,
                    None,
                )
            )
        if row is not None:
            found.append(row)
    result = pd.DataFrame(found, columns=RESULT_COLUMNS)
    if result.empty:
        return result.astype({SAVINGS: "int64", "offending_keys": "int64"})
    rank = result["severity"].map({s: i for i, s in enumerate(SEVERITIES)})
    order = sorted(range(len(result)), key=lambda i: (-int(result[SAVINGS].iloc[i]), int(rank.iloc[i])))
    return result.iloc[order].reset_index(drop=True)


def offending_rows(
    rule: Rule, keys: Any, metadata: Mapping[str, Any] | None, thresholds: Any = None
) -> pd.DataFrame:
    """Every offending key row of a key rule, with its own ``estimated_savings_bytes``, as pandas."""
    if not rule.per_key:
        raise ValueError(f"rule {rule.id!r} looks at the snapshot's INFO/CONFIG, not at keys")
    ctx = Context.build(metadata, thresholds)
    frame = prepare(keys)
    if rule.gate is not None and not rule.gate(ctx):
        frame = frame.filter(nw.col("num_elements") < -1)  # the rule does not apply: no offenders
    off = _offending(frame, rule, ctx).drop(*DERIVED).collect()
    native = off.to_native()
    return native if isinstance(native, pd.DataFrame) else off.to_pandas()
