"""Every rule, in one list, and the table ``insightkit.recommend.rules()`` shows."""

from __future__ import annotations

import pandas as pd

from insightkit.errors import ConfigurationError
from insightkit.recommend import (
    config,
    encoding,
    keys,
    libraries,
    operations,
    programmability,
    security,
    streams,
    ttl,
)
from insightkit.recommend.base import Rule

FAMILIES = {
    "encoding": encoding.RULES,
    "keys": keys.RULES,
    "ttl": ttl.RULES,
    "config": config.RULES,
    "streams": streams.RULES,
    "operations": operations.RULES,
    "programmability": programmability.RULES,
    "security": security.RULES,
    "libraries": libraries.RULES,
}
ALL_RULES: list[Rule] = [rule for family in FAMILIES.values() for rule in family]
BY_ID: dict[str, Rule] = {rule.id: rule for rule in ALL_RULES}
if len(BY_ID) != len(ALL_RULES):
    raise RuntimeError("duplicate rule id")


def get(rule_id: str) -> Rule:
    """The rule of that id; a ConfigurationError (the API's one error type for bad arguments) names
    the id when there is none."""
    rule = BY_ID.get(rule_id) if isinstance(rule_id, str) else None
    if rule is None:
        raise ConfigurationError(f"no rule {rule_id!r}; insightkit.rules() lists them")
    return rule


def table() -> pd.DataFrame:
    family_of = {rule.id: name for name, rules in FAMILIES.items() for rule in rules}
    return pd.DataFrame(
        [
            {
                "rule": r.id,
                "title": r.title,
                "category": r.category,
                "severity": r.severity,  # findings that price bytes are graded (rules.severity)
                "risk": r.risk,  # the least a priced finding of this rule is graded
                "frees": r.frees,  # used_memory or rss: which total its saving enters
                "description": r.description,
                "family": family_of[r.id],
                "per_key": r.per_key,
                "thresholds": list(r.thresholds),
                "peers": list(r.peers),
            }
            for r in ALL_RULES
        ]
    )
