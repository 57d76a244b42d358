"""The columns each rule is found to read (insightkit.recommend.needs) are all it reads, and not much more:
the engine joins and projects by them, so a missing one would change findings on DuckDB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import narwhals as nw
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rule_examples import key_table

from insightkit.recommend import frames, pricing, registry
from insightkit.recommend.base import Context, Rule
from insightkit.recommend.needs import expr_columns, rule_columns

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "sample.rsnap.parquet"
KEY_RULES = [r for r in registry.ALL_RULES if r.per_key]
#: What the engine itself reads around a rule's expressions (the key to compare rows by, the footprint
#: that bounds a saving)
ENGINE_READS = {"key", "memory_bytes", "expires_bytes"}


@pytest.fixture(scope="module")
def sample_keys() -> pa.Table:
    return pq.read_table(SAMPLE)


def _attached(keys: pa.Table, ctx: Context) -> pa.Table:
    """Every column a rule could read: the key table with its derived and joined columns."""
    frame, measured = frames.prepare(keys, ctx)
    return measured.attach(frame).collect().to_arrow()


def _offending(table: pa.Table, rule: Rule, ctx: Context) -> list[tuple[str, int]]:
    found = (
        pricing.select_offenders(nw.from_native(table).lazy(), rule, ctx)
        .select("key", pricing.SAVINGS)
        .collect()
    )
    return sorted(zip(found["key"].to_list(), found[pricing.SAVINGS].to_list(), strict=True))


@pytest.mark.parametrize("rule", KEY_RULES, ids=lambda r: r.id)
def test_declared_columns_are_enough(rule: Rule, sample_keys: pa.Table) -> None:
    """The rule on a table holding only its columns finds the same keys and savings as on the whole
    table: the bundled sample's keys (real data) with the rule's own anti-pattern and best practice."""
    own = key_table([*rule.fire.keys, *rule.quiet.keys]).reindex(columns=sample_keys.column_names)
    own_table = pa.Table.from_pandas(
        own.astype({"pattern": "object"}), sample_keys.schema, preserve_index=False
    )
    keys = pa.concat_tables([sample_keys, own_table])
    metadata: dict[str, Any] = {"snapshot_time_ms": 1_800_000_000_000, **rule.fire.metadata}
    ctx = Context.build(metadata, rule.fire.thresholds)
    columns = rule_columns(rule, ctx)
    assert columns is not None, "every rule's expressions can be read without running them"
    whole = _attached(keys, ctx)
    assert columns <= set(whole.column_names), "a declared column the table does not have"
    full = _offending(whole, rule, ctx)
    lean = _offending(whole.select(sorted(columns | ENGINE_READS)), rule, ctx)
    assert full, "the rule's own anti-pattern is among the keys"
    assert lean == full
    # not wildly over-declared: a rule reads a handful of the table's ~45 columns
    assert len(columns) <= 16


def test_declared_joins_match_the_columns() -> None:
    ctx = Context.build({}, None)
    assert rule_columns(registry.get("big-strings"), ctx) is not None
    assert "pattern_keys" in (rule_columns(registry.get("small-strings-to-hashes"), ctx) or ())
    assert "expiry_second_keys" in (rule_columns(registry.get("mass-expiry"), ctx) or ())


def test_expressions_the_walker_cannot_read_mean_every_column() -> None:
    assert expr_columns(nw.col("a") + nw.col("b").fill_null(nw.col("c"))) == {"a", "b", "c"}
    assert expr_columns(nw.when(nw.col("a") > 1).then(nw.col("b")).otherwise(0)) == {"a", "b"}
    assert expr_columns(nw.max_horizontal("a", nw.col("b"))) == {"a", "b"}
    assert expr_columns(nw.col("a").str.contains("b")) == {"a"}  # a pattern, not a column
    assert expr_columns(nw.col("a").is_in(["b"])) == {"a"}
    assert expr_columns(nw.all().sum()) is None
    assert expr_columns(nw.nth(0)) is None
