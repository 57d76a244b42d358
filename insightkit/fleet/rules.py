"""The recommendation rules of insightkit.rules, run on a fleet's lazy table instead of pandas.

Nothing is re-written here: the rule definitions and the engine that prices them are insightkit.rules'
own. On DuckDB this is just ``insightkit.rules.evaluate(relation, …)`` — their engine wraps the relation
with narwhals and pushes every filter and sum down, so one row of totals per rule comes back.

Dask needs one adapter. The engine's shared derived columns include four *window* columns (keys per
pattern, keys per expiry second, total keys, several dbs), and narwhals' Dask backend cannot filter a
frame after ``over()`` ("objects are not co-aligned"). So for Dask the row-wise derived columns come
from the engine's own ``prepare`` run on each partition, the window columns are computed globally
(small group-by counts, broadcast back with a join), and each partition runs the engine's own
``_offending`` for every key rule; the per-(rule, pattern) totals are reduced into the engine's own
finding rows. If the engine grows a derived column this adapter does not know, it refuses loudly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import narwhals as nw
import pandas as pd

from insightkit.fleet.dataset import FILE_ID
from insightkit.fleet.duck import SNAPSHOT_COLUMN
from insightkit.schema import PATTERN_COLUMN

#: Derived columns computed over the whole table (window functions), recomputed globally for Dask.
WINDOW_COLUMNS = ("total_keys", "several_dbs", "pattern_keys", "expiry_second_keys")
_INTERNAL = (SNAPSHOT_COLUMN, FILE_ID)


def _is_dask(table: Any) -> bool:
    return type(table).__module__.startswith("dask")


def evaluate(
    table: Any, metadata: Mapping[str, Any], thresholds: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """insightkit.rules' findings for a lazy fleet table (DuckDB relation or Dask DataFrame)."""
    if _is_dask(table):
        return _evaluate_dask(table, metadata, thresholds)
    from insightkit.rules import evaluate as evaluate_rules

    return evaluate_rules(table, None, metadata, thresholds)


def offenders(table: Any, metadata: Mapping[str, Any], rule_id: str, thresholds: Any = None) -> pd.DataFrame:
    """The offending rows of one key rule (only those are materialised)."""
    if _is_dask(table):
        rows = _offenders_dask(table, metadata, rule_id, thresholds)
    else:
        from insightkit.rules import offenders as rule_offenders

        rows = rule_offenders(table, None, metadata, rule_id, thresholds)
    return rows.drop(columns=[c for c in _INTERNAL if c in rows.columns]).reset_index(drop=True)


def _check_derived() -> None:
    from insightkit.rules.engine import DERIVED

    row_wise = {"key_len", "static_prefix_chars", "pattern_segments", "expiry_second"}
    unknown = set(DERIVED) - set(WINDOW_COLUMNS) - row_wise
    if unknown:
        raise NotImplementedError(f"fleet rules: the rules engine has new derived columns {sorted(unknown)}")


def _snapshot_finding(rule: Any, ctx: Any) -> dict[str, Any] | None:
    from insightkit.rules import engine

    assert rule.check is not None
    finding = rule.check(ctx)
    if finding is None:
        return None
    saving, memory = finding.estimated_savings_bytes, finding.offending_memory_bytes
    return engine._row(rule, ctx, saving, 0, 0, memory, [], finding.detail, None)


def _ordered(found: list[dict[str, Any]]) -> pd.DataFrame:
    """Findings as the engine orders them: biggest saving first, then severity, then rule order."""
    from insightkit.rules import engine

    result = pd.DataFrame(found, columns=engine.RESULT_COLUMNS)
    if result.empty:
        return result.astype({engine.SAVINGS: "int64", "offending_keys": "int64"})
    rank = result["severity"].map({s: i for i, s in enumerate(engine.SEVERITIES)})
    ordered = result.assign(_rank=rank).sort_values(
        [engine.SAVINGS, "_rank"], ascending=[False, True], kind="stable"
    )
    return ordered.drop(columns="_rank").reset_index(drop=True)


# --- Dask -----------------------------------------------------------------------------------------


def _row_wise(part: pd.DataFrame) -> pd.DataFrame:
    """The engine's derived columns for one partition (the window ones are replaced afterwards)."""
    from insightkit.rules.engine import prepare

    native = prepare(part).collect().to_native()
    return native if isinstance(native, pd.DataFrame) else pd.DataFrame(native)


def prepare_dask(ddf: Any) -> Any:
    """``engine.prepare`` for a Dask DataFrame, with the window columns computed over all partitions."""
    import dask

    _check_derived()
    rows = ddf.map_partitions(_row_wise, meta=_row_wise(ddf._meta))
    total, db_min, db_max, per_pattern, per_second = dask.compute(
        ddf.shape[0],
        ddf["db"].min(),
        ddf["db"].max(),
        rows.groupby(PATTERN_COLUMN, dropna=False).size(),
        rows.groupby("expiry_second", dropna=False).size(),
    )
    several_dbs = bool(total) and int(db_min) != int(db_max)
    rows = rows.drop(columns=list(WINDOW_COLUMNS)).assign(total_keys=int(total), several_dbs=several_dbs)
    pattern_keys = per_pattern.rename("pattern_keys").reset_index()
    second_keys = per_second.rename("expiry_second_keys").reset_index()
    return rows.merge(pattern_keys, on=PATTERN_COLUMN, how="left").merge(
        second_keys, on="expiry_second", how="left"
    )


_PARTIAL = ["rule", PATTERN_COLUMN, "keys", "memory", "savings", "max_elements", "max_element"]


def _partials(part: pd.DataFrame, rules: list[Any], ctx: Any) -> pd.DataFrame:
    """Per (rule, pattern) in one partition: the sums and maxima ``_key_finding`` reports."""
    from insightkit.rules.engine import SAVINGS, _offending

    frames = []
    lazy = nw.from_native(part).lazy()
    for rule in rules:
        off = _offending(lazy, rule, ctx).collect().to_pandas()
        if off.empty:
            continue
        grouped = off.groupby(PATTERN_COLUMN, dropna=False, sort=False).agg(
            keys=("memory_bytes", "size"),
            memory=("memory_bytes", "sum"),
            savings=(SAVINGS, "sum"),
            max_elements=("num_elements", "max"),
            max_element=("largest_element_bytes", "max"),
        )
        frames.append(grouped.reset_index().assign(rule=rule.id))
    if not frames:
        return _empty_partials()
    return pd.concat(frames, ignore_index=True)[_PARTIAL].astype({PATTERN_COLUMN: "object"})


def _empty_partials() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="int64") for c in _PARTIAL})
    return frame.astype({"rule": "object", PATTERN_COLUMN: "object"})


def _evaluate_dask(
    ddf: Any, metadata: Mapping[str, Any], thresholds: Mapping[str, Any] | None
) -> pd.DataFrame:
    """Map: every key rule's offenders per partition, reduced to (rule, pattern) totals. Reduce: pandas."""
    from insightkit.rules import engine, registry
    from insightkit.rules.base import Aggregates, Context

    ctx = Context.build(metadata, thresholds)
    active = [r for r in registry.ALL_RULES if r.gate is None or r.gate(ctx)]
    key_rules = [r for r in active if r.per_key]
    partials = (
        prepare_dask(ddf).map_partitions(_partials, key_rules, ctx, meta=_empty_partials()).compute()
        if key_rules
        else _empty_partials()
    )
    per_pattern = partials.groupby(["rule", PATTERN_COLUMN], dropna=False, sort=False).agg(
        keys=("keys", "sum"),
        memory=("memory", "sum"),
        savings=("savings", "sum"),
        max_elements=("max_elements", "max"),
        max_element=("max_element", "max"),
    )
    found: list[dict[str, Any]] = []
    for rule in active:
        if rule.per_key:
            if rule.id not in per_pattern.index.get_level_values("rule"):
                continue
            mine = per_pattern.xs(rule.id, level="rule")
            agg = Aggregates(
                keys=int(mine["keys"].sum()),
                memory_bytes=int(mine["memory"].sum()),
                savings_bytes=int(mine["savings"].sum()),
                patterns=len(mine),
                max_elements=int(mine["max_elements"].max()),
                max_element_bytes=int(mine["max_element"].max()),
            )
            top = [str(p) for p in mine["memory"].sort_values(ascending=False, kind="stable").head(5).index]
            detail = f"{agg.keys:,} keys in {agg.patterns:,} patterns"
            found.append(
                engine._row(
                    rule, ctx, agg.savings_bytes, agg.keys, agg.patterns, agg.memory_bytes, top, detail, agg
                )
            )
        else:
            row = _snapshot_finding(rule, ctx)
            if row is not None:
                found.append(row)
    return _ordered(found)


def _offending_part(part: pd.DataFrame, rule: Any, ctx: Any) -> pd.DataFrame:
    from insightkit.rules.engine import DERIVED, _offending

    off = _offending(nw.from_native(part).lazy(), rule, ctx).drop(*DERIVED).collect()
    return off.to_pandas()


def _offenders_dask(ddf: Any, metadata: Mapping[str, Any], rule_id: str, thresholds: Any) -> pd.DataFrame:
    from insightkit.rules import registry
    from insightkit.rules.base import Context

    rule = registry.get(rule_id)
    if not rule.per_key:
        raise ValueError(f"rule {rule_id!r} looks at the snapshot's INFO/CONFIG, not at keys")
    ctx = Context.build(metadata, thresholds)
    frame = prepare_dask(ddf)
    if rule.gate is not None and not rule.gate(ctx):
        return _offending_part(frame._meta, rule, ctx)
    meta = _offending_part(frame._meta, rule, ctx)
    return frame.map_partitions(_offending_part, rule, ctx, meta=meta).compute()
