"""How findings are graded and ranked: severity follows impact, security comes first.

*Memory findings* — a rule that prices a saving per key, or a check that returned bytes, or one that
frees RSS — are graded by their saving's share of the instance's memory: ``used_memory`` from INFO (summed
over a cluster's primaries), or the key table's memory when that is larger or INFO is unknown:

- ``high``   at least ``severity_high_share`` (10 %) and at least ``severity_min_bytes`` (1 MiB),
- ``medium`` at least ``severity_medium_share`` (1 %) and at least ``severity_min_bytes``,
- ``low``    otherwise (a saving of 59 KB is low wherever it is found).

A rule's ``risk`` is a floor for what its bytes do not say (a big hash blocks the server whatever it
saves), so such a finding is the higher of the two. *Risk findings* — everything that prices nothing
(security, configuration and operations checks, advice) — keep the level their rule declares.

Ranking, everywhere findings are listed (``evaluate``, the CLI, the HTML report, the explorer): security
findings first, then by severity (high, medium, low, info), then by estimated saving, then in catalogue
order.
"""

from __future__ import annotations

import pandas as pd

from insightkit.recommend.base import SEVERITIES, Context

SAVINGS = "estimated_savings_bytes"
_RANK = {name: i for i, name in enumerate(SEVERITIES)}


def share_base(ctx: Context, key_memory: int = 0) -> int:
    """The memory a saving is a share of: INFO used_memory, or the keys' memory when larger/unknown."""
    return max(ctx.used_memory or 0, int(key_memory or 0))


def impact(saving: int, base: int, ctx: Context) -> str:
    """The level a saving of ``saving`` bytes out of ``base`` earns."""
    if saving < int(ctx["severity_min_bytes"]) or base <= 0:
        return "low"
    share = saving / base
    if share >= float(ctx["severity_high_share"]):
        return "high"
    if share >= float(ctx["severity_medium_share"]):
        return "medium"
    return "low"


def _higher(a: str, b: str | None) -> str:
    return a if b is None or _RANK[a] <= _RANK[b] else b


def grade(result: pd.DataFrame, ctx: Context, key_memory: int = 0) -> pd.DataFrame:
    """``severity`` of each finding by the rule above (the other columns untouched)."""
    from insightkit.recommend import registry

    base = share_base(ctx, key_memory)
    levels = []
    for rule_id, declared, saving, frees in zip(
        result["rule"], result["severity"], result[SAVINGS], result["frees"], strict=True
    ):
        rule = registry.BY_ID.get(str(rule_id))
        memory_finding = int(saving) > 0 or frees == "rss" or (rule is not None and rule.priced)
        if not memory_finding:
            levels.append(str(declared))
            continue
        levels.append(_higher(impact(int(saving), base, ctx), rule.risk if rule is not None else None))
    return result.assign(severity=levels)


def rank(result: pd.DataFrame) -> pd.DataFrame:
    """Security first, then severity, then saving, then catalogue order (stable)."""
    from insightkit.recommend import registry

    order = {rule.id: i for i, rule in enumerate(registry.ALL_RULES)}
    keys = pd.DataFrame(
        {
            "security": (result["category"] != "security").astype(int),
            "severity": result["severity"].map(_RANK).fillna(len(SEVERITIES)),
            "saving": -result[SAVINGS].astype("int64"),
            "order": result["rule"].map(order).fillna(len(order)),
        },
        index=result.index,
    )
    ordered = keys.sort_values(["security", "severity", "saving", "order"], kind="stable").index
    return result.loc[ordered].reset_index(drop=True)
