"""The recommendation rules of insightkit.recommend, run on a fleet's lazy table instead of pandas.

Nothing is re-written here: the rule definitions and the engine that prices them are insightkit.rules'
own. On DuckDB this is just ``insightkit.recommend.evaluate(relation, …)`` — their engine wraps the relation
with narwhals and pushes every filter and sum down, so one row of totals per rule comes back.

Dask needs one adapter: the engine's ``Globals`` (key count, db range, key memory, keys per pattern and
per expiry second) are measured over all partitions with Dask's own group-bys, then every partition runs
the engine's ``partials`` with them, and the per-(rule, pattern) totals are reduced by the engine's own
``findings``. Savings are then counted once like everywhere else: a second map over the partitions
(``engine.overlaps``: a key lives in one partition) gives what earlier findings already claimed of each
finding's keys, reduced by ``engine.count_once``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import narwhals as nw
import pandas as pd

from insightkit.schema import PATTERN_COLUMN
from insightkit.table import INTERNAL_COLUMNS


def _is_dask(table: Any) -> bool:
    return type(table).__module__.startswith("dask")


def evaluate(
    table: Any, metadata: Mapping[str, Any], thresholds: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """insightkit.recommend's findings for a lazy fleet table (DuckDB relation or Dask DataFrame)."""
    if _is_dask(table):
        return _evaluate_dask(table, metadata, thresholds)
    from insightkit.recommend import evaluate as evaluate_rules

    return evaluate_rules(table, None, metadata, thresholds)


def offenders(table: Any, metadata: Mapping[str, Any], rule_id: str, thresholds: Any = None) -> pd.DataFrame:
    """The offending rows of one key rule (only those are materialised)."""
    if _is_dask(table):
        rows = _offenders_dask(table, metadata, rule_id, thresholds)
    else:
        from insightkit.recommend import offenders as rule_offenders

        rows = rule_offenders(table, None, metadata, rule_id, thresholds)
    return rows.drop(columns=[c for c in INTERNAL_COLUMNS if c in rows.columns]).reset_index(drop=True)


# --- Dask -----------------------------------------------------------------------------------------


def _globals_dask(ddf: Any, ctx: Any) -> Any:
    """The engine's ``Globals`` over all partitions (small group-bys), as pandas tables to broadcast."""
    import dask

    from insightkit.recommend.frames import FOREVER_COUNTS, Globals, with_row_columns

    idle_s = int(ctx["no_ttl_idle_s"])

    def row_wise(part: pd.DataFrame) -> pd.DataFrame:
        native = with_row_columns(nw.from_native(part).lazy(), ctx).collect().to_native()
        native = native if isinstance(native, pd.DataFrame) else pd.DataFrame(native)
        # keys without a TTL, and those of them idle (the engine's per-pattern counts)
        forever = native["expires_at"].isna().to_numpy(dtype=bool)
        idle = forever & (native["lru_idle_s"].fillna(0).to_numpy(dtype="int64") >= idle_s)
        return native.assign(
            **{FOREVER_COUNTS[0]: forever.astype("int64"), FOREVER_COUNTS[1]: idle.astype("int64")}
        )

    rows = ddf.map_partitions(row_wise, meta=row_wise(ddf._meta))
    total, db_min, db_max, memory, per_pattern, forever, per_second = dask.compute(
        rows.shape[0],
        rows["db"].min(),
        rows["db"].max(),
        rows["memory_bytes"].sum(),
        rows.groupby(PATTERN_COLUMN, dropna=False).size(),
        rows.groupby(PATTERN_COLUMN, dropna=False)[list(FOREVER_COUNTS)].sum(),
        rows[~rows["expiry_second"].isna()].groupby("expiry_second").size(),
    )
    seconds = per_second.rename("expiry_second_keys").reset_index()
    counts = pd.concat([per_pattern.rename("pattern_keys"), forever], axis=1).reset_index()
    pattern_keys = nw.from_native(counts).lazy()
    lo, hi = _int_or_zero(db_min), _int_or_zero(db_max)
    seconds_keys = nw.from_native(seconds).lazy()
    return Globals.of(int(total), lo, hi, pattern_keys, seconds_keys, ctx, _int_or_zero(memory))


def _int_or_zero(value: Any) -> int:
    return 0 if value is None or pd.isna(value) else int(value)


def _partials(part: pd.DataFrame, rules: list[Any], ctx: Any, measured: Any) -> pd.DataFrame:
    from insightkit.recommend.engine import partials

    return partials(part, rules, ctx, measured)


def _overlaps(part: pd.DataFrame, rules: list[Any], ctx: Any, measured: Any) -> pd.DataFrame:
    from insightkit.recommend.engine import overlaps

    return overlaps(part, rules, ctx, measured)


def _evaluate_dask(
    ddf: Any, metadata: Mapping[str, Any], thresholds: Mapping[str, Any] | None
) -> pd.DataFrame:
    """Map: every key rule's (rule, pattern) totals per partition. Reduce: the engine's own findings."""
    from insightkit.recommend import engine, registry
    from insightkit.recommend.base import Context

    ctx = Context.build(metadata, thresholds)
    running = engine.active(registry.ALL_RULES, ctx)
    key_rules = [r for r in running if r.per_key]
    empty = engine.partials(ddf._meta, [], ctx)
    if not key_rules:
        return engine.count_once(engine.findings(running, empty, ctx), engine.overlaps(ddf._meta, [], ctx))
    measured = _globals_dask(ddf, ctx)
    parts = ddf.map_partitions(_partials, key_rules, ctx, measured, meta=empty).compute()
    result = engine.findings(running, parts, ctx, measured.memory_bytes)
    claims = engine.claimants(result)
    meta = engine.overlaps(ddf._meta, claims, ctx, measured).iloc[:0]
    claimed = ddf.map_partitions(_overlaps, claims, ctx, measured, meta=meta).compute()
    return engine.count_once(result, claimed)


def _offending_part(part: pd.DataFrame, rule: Any, ctx: Any, measured: Any) -> pd.DataFrame:
    from insightkit.recommend.frames import DERIVED, with_row_columns
    from insightkit.recommend.pricing import select_offenders

    frame = measured.attach(with_row_columns(nw.from_native(part).lazy(), ctx))
    return select_offenders(frame, rule, ctx).drop(*DERIVED).collect().to_pandas()


def _offenders_dask(ddf: Any, metadata: Mapping[str, Any], rule_id: str, thresholds: Any) -> pd.DataFrame:
    from insightkit.recommend import registry
    from insightkit.recommend.base import Context

    rule = registry.get(rule_id)
    if not rule.per_key:
        raise ValueError(f"rule {rule_id!r} looks at the snapshot's INFO/CONFIG, not at keys")
    ctx = Context.build(metadata, thresholds)
    measured = _globals_dask(ddf, ctx)
    meta = _offending_part(ddf._meta, rule, ctx, measured)
    if rule.gate is not None and not rule.gate(ctx):
        return meta
    return ddf.map_partitions(_offending_part, rule, ctx, measured, meta=meta).compute()
