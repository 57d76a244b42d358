"""Bad arguments to the rules API raise insightkit's ConfigurationError (an InsightkitError and a
ValueError), never a bare KeyError / ValueError / a backend's exception."""

from __future__ import annotations

from typing import Any

import pytest
from rule_examples import key_table

import insightkit.recommend as rules_api
from insightkit.errors import ConfigurationError, InsightkitError
from insightkit.recommend.thresholds import Thresholds


def _keys() -> Any:
    return key_table([{"key": "a"}])


@pytest.mark.parametrize(
    "call",
    [
        lambda: rules_api.evaluate(_keys(), None, {}, only=["no-such-rule"]),
        lambda: rules_api.offenders(_keys(), None, {}, "no-such-rule"),
        lambda: rules_api.get_rule("no-such-rule"),
        lambda: rules_api.offenders(_keys(), None, {}, "no-password"),  # a snapshot rule has no key rows
        lambda: rules_api.evaluate(_keys(), None, {}, {"no-such-threshold": 1}),
        lambda: rules_api.evaluate(_keys(), None, {}, engine="spark"),
        lambda: rules_api.evaluate(_keys(), None, ["not", "a", "mapping"]),
        lambda: rules_api.evaluate(_keys(), None, {}, ["not", "a", "mapping"]),
        lambda: rules_api.evaluate(object(), None, {}),
        lambda: rules_api.evaluate(_keys().drop(columns=["memory_bytes"]), None, {}),
        lambda: rules_api.offenders(_keys().drop(columns=["type"]), None, {}, "big-strings"),
        lambda: Thresholds()["no-such-threshold"],
    ],
    ids=[
        "unknown-rule-in-only",
        "unknown-rule-offenders",
        "unknown-rule-get",
        "offenders-of-a-snapshot-rule",
        "unknown-threshold",
        "unknown-engine",
        "metadata-not-a-mapping",
        "thresholds-not-a-mapping",
        "not-a-table",
        "table-without-a-column",
        "offenders-table-without-a-column",
        "threshold-lookup",
    ],
)
def test_bad_arguments_raise_configuration_error(call: Any) -> None:
    with pytest.raises(ConfigurationError) as raised:
        call()
    assert isinstance(raised.value, InsightkitError)
    assert str(raised.value)  # says what was wrong


def test_unknown_rule_error_names_the_rule() -> None:
    with pytest.raises(ConfigurationError, match="no-such-rule"):
        rules_api.evaluate(_keys(), None, {}, only=["big-strings", "no-such-rule"])


def test_one_rule_id_is_not_read_as_its_letters() -> None:
    case = rules_api.get_rule("big-strings").fire
    found = rules_api.evaluate(key_table(case.keys), None, case.metadata, only="big-strings")  # type: ignore[arg-type]
    assert list(found["rule"]) == ["big-strings"]
