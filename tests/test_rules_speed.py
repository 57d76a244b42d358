"""The rules engine's shortcuts (issue 20) give the findings of the plain per-rule queries.

- an in-memory table handed to DuckDB with its derived columns already on Arrow (``prepare_on``);
- the firing rules priced on their reduced rows (``_reduced``), all in one query
  (``census._reduced_partials``), and the overlap pass reading them; a rule's bit in any mask column;
- each distinct row of a selection priced once (``pricing.priced_totals``);
- rules that no pattern lets fire left out of the count over every key (``census.possible``);
- saving steps batched into as few ``with_columns`` as their order allows (``pricing.step_batches``).
"""

from __future__ import annotations

import duckdb
import narwhals as nw
import pandas as pd
import pyarrow as pa
import pytest
from keytables import key_batches

from insightkit.patterns import assign_patterns
from insightkit.recommend import census, evaluate, frames, needs, pricing

METADATA = {"server": {"version": "7.0.15"}, "snapshot_time_ms": 1_800_000_000_000}


@pytest.fixture(scope="module")
def keys() -> pa.Table:
    frame = pa.Table.from_batches(key_batches(60_000, seed=5)).to_pandas(types_mapper=pd.ArrowDtype)
    frame["pattern"] = assign_patterns(frame, progress=False).astype(str)
    return pa.Table.from_pandas(frame, preserve_index=False)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    a, b = a.copy(), b.copy()
    for frame in (a, b):
        frame["top_patterns"] = frame["top_patterns"].map(list)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_in_memory_duckdb_matches_lazy_relation(keys: pa.Table) -> None:
    on_arrow = evaluate(keys, None, METADATA, engine="duckdb")  # derived columns on Arrow, no joins
    lazy = evaluate(duckdb.connect().from_arrow(keys), None, METADATA)  # joined per query
    assert (on_arrow["offending_keys"] > 0).sum() >= 3
    _same(on_arrow, lazy)


def _reduced_made(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every ``census.reduced_rows`` result from now on (None where the rules were priced one by one)."""
    made: list[object] = []
    real = census.reduced_rows

    def spy(*args: object, **kwargs: object) -> object:
        made.append(real(*args, **kwargs))  # type: ignore[arg-type]
        return made[-1]

    monkeypatch.setattr(census, "reduced_rows", spy)
    return made


def test_reduced_rows_match_per_rule_queries(keys: pa.Table, monkeypatch: pytest.MonkeyPatch) -> None:
    relation = duckdb.connect().from_arrow(keys)
    made = _reduced_made(monkeypatch)
    reduced = evaluate(relation, None, METADATA)
    assert made and made[0] is not None  # the firing rules were priced on their reduced rows
    monkeypatch.setattr(census, "REDUCED_ROWS", 0)  # too many distinct rows: each rule's own query
    per_rule = evaluate(relation, None, METADATA)
    _same(reduced, per_rule)
    assert (reduced["counted_savings_bytes"] <= reduced["estimated_savings_bytes"]).all()


def test_reduced_rows_price_the_same_on_arrow_and_on_duckdb(
    keys: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The firing rules' reduced rows are few (13 at 1M keys of the end-to-end file): they are priced on
    Arrow below ``frames.DUCKDB_ROWS`` rows and on DuckDB above; the findings do not depend on which."""
    relation = duckdb.connect().from_arrow(keys)
    made = _reduced_made(monkeypatch)
    on_arrow = evaluate(relation, None, METADATA)
    assert made and isinstance(made[-1], census.Reduced)
    assert made[-1].table.implementation is nw.Implementation.PYARROW
    monkeypatch.setattr(frames, "DUCKDB_ROWS", 0)
    on_duckdb = evaluate(relation, None, METADATA)
    assert isinstance(made[-1], census.Reduced)
    assert made[-1].table.implementation is nw.Implementation.DUCKDB
    assert (on_arrow["estimated_savings_bytes"] > 0).sum() >= 2
    _same(on_arrow, on_duckdb)


def test_rule_bits_over_several_mask_columns(keys: pa.Table, monkeypatch: pytest.MonkeyPatch) -> None:
    relation = duckdb.connect().from_arrow(keys)
    one_mask = evaluate(relation, None, METADATA)
    assert (one_mask["offending_keys"] > 0).sum() >= 3  # firing rules whose bits land in different masks
    monkeypatch.setattr(census, "MASK_BITS", 2)  # as past 62 rules: a rule's bit in the next mask column
    _same(one_mask, evaluate(relation, None, METADATA))


def test_rules_no_pattern_lets_fire_are_not_counted(keys: pa.Table, monkeypatch: pytest.MonkeyPatch) -> None:
    relation = duckdb.connect().from_arrow(keys)
    left_out: list[str] = []
    real = census.possible

    def spy(measured: object, rules: list, ctx: object) -> list:  # type: ignore[type-arg]
        kept = real(measured, rules, ctx)  # type: ignore[arg-type]
        left_out.extend(rule.id for rule in rules if rule not in kept)
        return kept

    monkeypatch.setattr(census, "possible", spy)
    gated = evaluate(relation, None, METADATA)
    assert "many-tiny-keys" in left_out  # 60,000 keys: never past its 1M
    # rules whose per-pattern terms some pattern passes still fire (and must: not left out)
    assert {"long-key-names", "several-logical-dbs", "hashes-as-lists"} <= set(gated["rule"])
    monkeypatch.setattr(census, "possible", lambda measured, rules, ctx: rules)
    _same(gated, evaluate(relation, None, METADATA))


def test_conjuncts_split_and_only() -> None:
    a, b, c, d = (nw.col(name) > 0 for name in "abcd")
    assert [str(t) for t in needs.conjuncts((a & b) & (c & d))] == [str(t) for t in (a, b, c, d)]
    assert [str(t) for t in needs.conjuncts(a & (b | c))] == [str(a), str(b | c)]
    assert len(needs.conjuncts(a | (b & c))) == 1


def test_pricing_distinct_rows_matches_pricing_every_row(
    keys: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = keys.to_pandas(types_mapper=pd.ArrowDtype)  # in memory, in slices (the eager path)
    deduplicated = evaluate(frame, None, METADATA, engine="native")
    monkeypatch.setattr(pricing, "saving_columns", lambda rule, ctx: None)  # columns unknown: every row
    every_row = evaluate(frame, None, METADATA, engine="native")
    _same(deduplicated, every_row)


def test_step_batches_keep_dependent_steps_apart() -> None:
    steps = [
        ("_ik_a", nw.col("x") + 1),
        ("_ik_b", nw.col("y") * 2),  # independent of _ik_a: same batch
        ("_ik_c", nw.col("_ik_a") + nw.col("_ik_b")),  # reads both: a batch of its own
        ("_ik_d", nw.col("x") - 1),
        ("_ik_a", nw.col("z")),  # rewrites _ik_a after c read it: fine beside c (both see the old one)
    ]
    sizes = [len(batch) for batch in pricing.step_batches(steps)]
    assert sizes == [2, 3]  # c, d and the rewrite of _ik_a all read the batch before them
    frame = nw.from_native(pa.table({"x": [1, 2], "y": [3, 4], "z": [5, 6]})).lazy()
    for batch in pricing.step_batches(steps):
        frame = frame.with_columns(*batch)
    out = frame.collect().to_native()
    assert out.column("_ik_c").to_pylist() == [8, 11]
    assert out.column("_ik_a").to_pylist() == [5, 6]


def test_levels_give_the_steps_one_by_one() -> None:
    """Two rules' steps sharing a temporary name (each rewrites ``_ik_t`` after the other read it), and a
    step whose reads cannot be told: the levels give the table the steps give one by one."""
    steps = [
        ("_ik_t", nw.col("x") + 1),  # rule A
        ("_ik_u", nw.col("_ik_t") * 2),
        ("_ik_a", nw.col("_ik_u") + nw.col("_ik_t")),
        ("_ik_t", nw.col("y") * 10),  # rule B: rewrites A's temporary after A read it
        ("_ik_b", nw.col("_ik_t") - nw.col("x")),
        ("_ik_s", nw.sum_horizontal(nw.exclude("_ik_a"))),  # reads cannot be told
        ("_ik_t", nw.col("x") - 3),  # rule C
        ("_ik_c", nw.col("_ik_t") + nw.col("_ik_s")),
    ]
    frame = nw.from_native(pa.table({"x": [1, 2, 3], "y": [4, 5, 6]})).lazy()
    one_by_one = frame
    for name, expr in steps:
        one_by_one = one_by_one.with_columns(expr.alias(name))
    levels = pricing.step_levels(steps)
    assert len(levels) < len(steps)
    leveled = frame
    for level in levels:
        leveled = leveled.with_columns(*level)
    expected = one_by_one.collect().to_native()
    got = leveled.collect().to_native()
    for name in ("_ik_a", "_ik_b", "_ik_c", "_ik_s", "_ik_t"):
        assert got.column(name).to_pylist() == expected.column(name).to_pylist(), name
