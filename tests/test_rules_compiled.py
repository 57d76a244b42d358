"""Rule expressions run as direct Arrow compute calls on in-memory tables (``recommend.compiled``) give
exactly what narwhals gives on the same table: values, nulls and types, for every rule's selection and
saving steps on real key tables, for the edge cases of each translated node, and for whole findings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import narwhals as nw
import pandas as pd
import pyarrow as pa
import pytest
from rule_examples import key_table
from test_rules import _all_cases

import insightkit
import insightkit.recommend as rules_api
from insightkit.recommend import compiled
from insightkit.recommend.base import Context
from insightkit.recommend.frames import prepare_on
from insightkit.recommend.pricing import final_saving, rule_selection, saving_steps
from insightkit.recommend.registry import ALL_RULES
from insightkit.schema import KEY_SCHEMA

KEY_RULES = [rule for rule in ALL_RULES if rule.per_key]
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "samples" / "sample.rdb"


def _same(table: pa.Table, exprs: list[nw.Expr]) -> pa.Table:
    """``with_columns(*exprs)`` compiled and on narwhals: the same table, column for column."""
    got = compiled.project(table, exprs)
    want = nw.from_native(table).with_columns(*exprs).to_native()
    assert got.column_names == want.column_names
    for name in want.column_names:
        left, right = got.column(name).combine_chunks(), want.column(name).combine_chunks()
        assert left.type == right.type, name
        assert left.equals(right), (name, left.to_pylist()[:10], right.to_pylist()[:10])
    return want


def _attached(table: pa.Table, metadata: dict[str, Any]) -> tuple[pa.Table, Context]:
    ctx = Context.build(metadata, None)
    frame, measured = prepare_on(table, "native", ctx)
    attached = compiled.arrow_table(measured.attach(frame).collect().lazy())
    assert attached is not None
    return attached, ctx


def _same_or_same_error(table: pa.Table, exprs: list[nw.Expr]) -> pa.Table | None:
    """``_same``, or both ways raising the same Arrow error (None then)."""
    try:
        return _same(table, exprs)
    except pa.ArrowException as exc:
        with pytest.raises(type(exc)):
            nw.from_native(table).with_columns(*exprs).to_native()
        return None


def _check_every_rule(table: pa.Table, ctx: Context) -> int:
    """Each key rule's selection, then its saving steps one after another, on every row and on the
    rows the rule selects (the engine prices only those: elsewhere a step may divide by zero and a
    cast refuse the infinity); the count of expressions compared."""
    checked = 0
    for rule in KEY_RULES:
        flagged = _same(table, [rule_selection(rule, ctx).alias("selected")])
        checked += 1
        if rule.saving is None:
            continue
        steps = saving_steps(rule, ctx)
        steps = [*steps[:-1], ("estimated_savings_bytes", final_saving(steps[-1][1]))]
        for rows in (table, table.filter(flagged.column("selected"))):
            current: pa.Table | None = rows
            for name, expr in steps:
                if current is None:
                    break
                current = _same_or_same_error(current, [expr.alias(name)])
                checked += 1
    return checked


def test_every_rule_expression_matches_narwhals_on_the_rule_cases() -> None:
    specs, metadata = _all_cases()
    frame = key_table(specs)
    table, ctx = _attached(pa.Table.from_pandas(frame, preserve_index=False), metadata)
    assert _check_every_rule(table, ctx) >= 140


@pytest.mark.parametrize(
    "server", [{"version": "6.2.14"}, {"version": "7.0.15"}, {"version": "8.1.1", "family": "valkey"}]
)
def test_every_rule_expression_matches_narwhals_on_real_snapshots(
    corpus: Path, server: dict[str, str]
) -> None:
    """Real decoded files (streams, module types, odd encodings, nulls where a field is unknown)."""
    tables = []
    for path in [SAMPLE, *sorted(corpus.rglob("*.rdb"))]:
        try:
            tables.append(pa.Table.from_batches(list(insightkit.read_rdb(path)), schema=KEY_SCHEMA))
        except insightkit.InsightkitError:
            continue
    table = pa.concat_tables(tables)
    assert table.num_rows > 4000 and len(set(table.column("type").to_pylist())) >= 7
    attached, ctx = _attached(table, {"server": server, "snapshot_time_ms": 1_800_000_000_000})
    assert _check_every_rule(attached, ctx) >= 140


EDGES = pa.table(
    {
        "i": pa.array([1, 2, None, 7, -3], pa.int64()),
        "j": pa.array([2, 0, 4, None, 2], pa.int64()),
        "small": pa.array([1, 2, 3, 4, 5], pa.int32()),
        "f": pa.array([0.5, 2.5, None, -1.5, 1e300], pa.float64()),
        "b": pa.array([True, None, False, True, None]),
        "s": pa.array(["hash", None, "list", "set", "hash"]),
    }
)


@pytest.mark.parametrize(
    "expr",
    [
        nw.col("i") / nw.col("j"),  # int / int is float division, x/0 is inf, nulls stay null
        nw.col("small") / 2,
        nw.col("small") * 2.5,  # an int32 column times a float: float64, as eagerly
        nw.col("small") - 2,  # int32 minus a Python int: int64
        1 - nw.col("f"),
        nw.col("i") ** 2,
        (nw.col("f") * 10).round(0),  # half towards infinity: 25 -> 25, -15 -> -15, 5 -> 5
        (nw.col("f") + 0.5).round(0),
        nw.col("f").ceil() + nw.col("f").floor(),
        nw.col("j").sqrt(),
        nw.col("j").log(2),
        nw.col("i").fill_null(0),
        nw.col("f").fill_null(0),  # the fill value takes the column's type
        nw.col("b").fill_null(False),
        nw.col("s").is_in(["hash", "set"]),  # null stays null
        nw.col("s") == "hash",
        nw.col("s").is_null(),
        ~nw.col("b"),
        nw.col("b") & (nw.col("i") > 1),
        nw.col("b") | (nw.col("i") > 1),
        nw.when(nw.col("b")).then(nw.col("i")),  # a null predicate is false; no otherwise is null
        nw.when(nw.col("b"), nw.col("i") > 0).then(nw.col("f")).otherwise(nw.col("i")),
        nw.when(nw.col("b")).then(1).otherwise(nw.col("f")),
        nw.max_horizontal(nw.col("i"), nw.col("j"), 0),  # nulls skipped
        nw.min_horizontal(nw.col("f"), nw.col("small")),
        nw.all_horizontal(nw.col("b"), nw.col("i") > 0, ignore_nulls=True),
        nw.col("i").clip(0, nw.col("j")),
        nw.col("small").cast(nw.Int64),
        nw.col("i").cast(nw.Float64),
        nw.lit(3, dtype=nw.Int32()) * nw.col("small"),
        nw.lit(7),
    ],
    ids=repr,
)
def test_each_node_gives_narwhals_arrays(expr: nw.Expr) -> None:
    _same(EDGES, [expr.alias("out")])


def test_with_columns_replaces_in_place_and_reads_the_table_as_it_was() -> None:
    got = _same(EDGES, [(nw.col("i") + 1).alias("i"), (nw.col("i") * 10).alias("new")])
    assert got.column("new").to_pylist() == [10, 20, None, 70, -30]


@pytest.mark.parametrize(
    "expr",
    [
        nw.col("i").sum(),
        nw.col("i").max().over("s"),
        nw.col("s").str.len_chars(),
        nw.col("i").abs(),
        nw.col("i") // 2,
        nw.col("i") % 3,
    ],
    ids=repr,
)
def test_untranslated_nodes_fall_back_to_narwhals(expr: nw.Expr) -> None:
    with pytest.raises(compiled.Unsupported):
        compiled.project(EDGES, [expr.alias("out")])
    frame = nw.from_native(EDGES).lazy()
    got = compiled.with_columns(frame, expr.alias("out")).collect().to_native()
    assert got.equals(frame.with_columns(expr.alias("out")).collect().to_native())


def test_multi_column_expressions_are_not_translated() -> None:
    with pytest.raises(compiled.Unsupported):
        compiled.project(EDGES, [(nw.col("i", "j") + 1).alias("out")])


def test_arrow_errors_and_unknown_columns_fall_back_to_narwhals() -> None:
    frame = nw.from_native(EDGES).lazy()
    with pytest.raises(nw.exceptions.ColumnNotFoundError):
        compiled.with_columns(frame, (nw.col("missing") + 1).alias("out")).collect()
    with pytest.raises(pa.ArrowInvalid):  # a float that is no int: narwhals raises Arrow's own error
        compiled.with_columns(frame, nw.col("f").cast(nw.Int64).alias("out")).collect()


def test_other_engines_are_left_to_narwhals() -> None:
    pandas = nw.from_native(EDGES.to_pandas()).lazy()
    assert compiled.arrow_table(pandas) is None
    got = compiled.with_columns(pandas, (nw.col("small") * 2).alias("out")).collect().to_native()
    assert isinstance(got, pd.DataFrame) and got["out"].tolist() == [2, 4, 6, 8, 10]


def test_findings_are_the_same_without_the_compiled_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every rule's fire and quiet cases at once, on Arrow: the whole findings table with every
    expression compiled equals the one narwhals evaluates node by node."""
    specs, metadata = _all_cases()
    frame = key_table(specs)
    fast = rules_api.evaluate(frame, None, metadata)
    calls: list[int] = []

    def refused(table: pa.Table, exprs: Any) -> pa.Table:
        calls.append(len(exprs))
        raise compiled.Unsupported("turned off for this test")

    monkeypatch.setattr(compiled, "project", refused)
    slow = rules_api.evaluate(frame, None, metadata)
    assert len(calls) >= 10  # the in-memory path did try to compile
    assert len(fast) >= 30
    pd.testing.assert_frame_equal(fast, slow)
