"""Recommendations: each rule a small declarative query over the key table, priced in bytes.

``rules()`` lists them; ``evaluate(keys, patterns, metadata)`` runs them all (pandas, pyarrow or a
DuckDB relation — the same narwhals expressions run on each) and returns one row per finding sorted by
``estimated_savings_bytes``; ``offenders(..., rule_id)`` returns every offending key row.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from insightkit.recommend import engine as _engine
from insightkit.recommend import registry
from insightkit.recommend.base import Case, Context, Finding, Rule
from insightkit.recommend.savings import savings_totals
from insightkit.recommend.thresholds import Thresholds

__all__ = [
    "RULE_BOOK",
    "Case",
    "Context",
    "Finding",
    "Rule",
    "RuleBook",
    "Thresholds",
    "evaluate",
    "get_rule",
    "offenders",
    "rules",
    "savings_totals",
]


def rules() -> pd.DataFrame:
    """Every rule: ``rule``, ``title``, ``category``, ``severity``, ``description`` (+ family, thresholds)."""
    return registry.table()


def get_rule(rule_id: str) -> Rule:
    return registry.get(rule_id)


def evaluate(
    keys: Any,
    patterns: Any = None,
    metadata: Mapping[str, Any] | None = None,
    thresholds: Mapping[str, Any] | None = None,
    *,
    only: Iterable[str] | None = None,
    engine: _engine.Engine = "auto",
) -> pd.DataFrame:
    """Run the rules (all, or ``only`` these ids) and return the findings, ranked: security first,
    then by severity (graded by impact, see ``insightkit.recommend.severity``), then by saving.

    ``estimated_savings_bytes`` is what each fix would save alone; ``counted_savings_bytes`` the part
    of it that counts in the total, every key's bytes counted once (``savings_totals``).
    ``keys`` is the key table (with ``pattern`` when patterns were assigned) as pandas, pyarrow or a
    DuckDB relation; ``patterns`` is accepted for the Analysis contract — the rules read the per-key
    ``pattern`` column so that they also run on tables too big for memory. ``engine``: ``"auto"`` runs
    big in-memory tables on DuckDB and small pandas ones on Arrow (same findings, faster), ``"native"``
    on the table's own engine.
    """
    if isinstance(only, str):  # one id, not its letters
        only = [only]
    selected = registry.ALL_RULES if only is None else [registry.get(r) for r in only]
    return _engine.run(selected, keys, metadata, thresholds, engine)


def offenders(
    keys: Any,
    patterns: Any = None,
    metadata: Mapping[str, Any] | None = None,
    rule_id: str = "",
    thresholds: Mapping[str, Any] | None = None,
    engine: _engine.Engine = "auto",
    largest: int | None = None,
) -> pd.DataFrame:
    """Every key row one rule flags, with its own ``estimated_savings_bytes``; ``largest=n``: only
    the ``n`` with the largest saving (then memory), chosen where the rows are (a few rows out of
    millions need not all be fetched)."""
    return _engine.offending_rows(registry.get(rule_id), keys, metadata, thresholds, engine, largest)


class RuleBook:
    """``insightkit.rules``: call it for the table of rules; everything else this package offers is
    reachable through it (``insightkit.rules.evaluate(...)``, ``insightkit.rules.Thresholds``,
    ``insightkit.rules.cost``), so the public name and the package (``insightkit.recommend``) need not
    share a name, which the import system would let the package win."""

    def __call__(self) -> pd.DataFrame:
        return rules()

    def __getattr__(self, name: str) -> Any:
        package = sys.modules[__name__]
        if name.startswith("__") or hasattr(package, name):
            return getattr(package, name)
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError:
            raise AttributeError(f"insightkit.rules has no attribute {name!r}") from None

    def __dir__(self) -> list[str]:
        return sorted(__all__)

    def __repr__(self) -> str:
        return f"<insightkit.rules: {len(registry.ALL_RULES)} rules; call it for their table>"


#: What ``insightkit.rules`` is.
RULE_BOOK = RuleBook()
