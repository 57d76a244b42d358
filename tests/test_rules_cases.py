"""Every rule fires on each of its anti-pattern cases and stays quiet on each of its best-practice
cases (tests/rule_cases.py: at least two of each), on pandas and on DuckDB. The rule's own case pair
is also checked number by number in test_rules.py."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from rule_cases import fires, quiets
from rule_examples import key_table

import insightkit.recommend as rules_api
from insightkit.recommend.base import Case, Rule
from insightkit.recommend.registry import ALL_RULES

_CON = duckdb.connect()


def _run(rule: Rule, case: Case, engine: str) -> pd.DataFrame:
    keys: Any = key_table(case.keys)
    if engine == "duckdb":
        keys = _CON.from_arrow(pa.Table.from_pandas(keys, preserve_index=False))
    return rules_api.evaluate(keys, None, case.metadata, case.thresholds or None, only=[rule.id])


def _more(kind: str) -> list[Any]:
    """(rule, case name, case) for every case but the rule's own (test_rules.py runs those)."""
    cases = fires if kind == "fire" else quiets
    return [
        pytest.param(rule, case, id=f"{rule.id}/{name}")
        for rule in ALL_RULES
        for name, case in cases(rule)
        if name != "own"
    ]


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_every_rule_has_two_cases_of_each_kind(rule: Rule) -> None:
    assert len(fires(rule)) >= 2 and len(quiets(rule)) >= 2
    assert len({repr(c) for _, c in fires(rule)}) == len(fires(rule)), "the same case twice"
    assert len({repr(c) for _, c in quiets(rule)}) == len(quiets(rule)), "the same case twice"


@pytest.mark.parametrize(("rule", "case"), _more("fire"))
@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_rule_fires_on_each_antipattern(rule: Rule, case: Case, engine: str) -> None:
    found = _run(rule, case, engine)
    assert list(found["rule"]) == [rule.id]
    if rule.per_key:
        assert int(found["offending_keys"].iloc[0]) > 0


@pytest.mark.parametrize(("rule", "case"), _more("quiet"))
@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_rule_stays_quiet_on_each_best_practice(rule: Rule, case: Case, engine: str) -> None:
    assert _run(rule, case, engine).empty


def test_small_pandas_tables_give_the_same_findings_on_arrow() -> None:
    """engine="auto" runs small pandas tables on Arrow; the findings are pandas' own, whatever the
    pandas dtypes (numpy object patterns beside Arrow-backed keys, all-None object columns)."""
    specs = [
        {**spec, "key": f"{rule.id}/{spec.get('key', 'k')}"} for rule in ALL_RULES for spec in rule.fire.keys
    ]
    keys = key_table(specs)
    keys["pattern"] = keys["key"].astype(str).str.replace(r"[0-9]+", "*", regex=True).astype(object)
    keys["module"] = pd.Series([None] * len(keys), dtype=object)
    metadata = {"snapshot_time_ms": 1_800_000_000_000, "server": {"version": "7.2.4"}}
    native = rules_api.evaluate(keys, None, metadata, engine="native")
    auto = rules_api.evaluate(keys, None, metadata)
    assert len(native) >= 20
    pd.testing.assert_frame_equal(native, auto)
