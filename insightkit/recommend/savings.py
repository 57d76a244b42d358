"""The savings total of a set of findings: every key's bytes counted once, RSS apart.

Per finding, ``estimated_savings_bytes`` is what that fix would save alone. The total is built from
``counted_savings_bytes`` (rules.engine.count_once): where several findings price the same key, the fixes
are applied in the order the findings are listed and each is priced on what the previous ones left, so a
key gives at most its own memory (memory_bytes + expires_bytes) to the total.

Two totals, because two different kinds of memory are freed:

- ``estimated_savings_bytes``: bytes inside ``used_memory`` — the keys' counted savings plus snapshot
  findings that free memory Redis accounts for (client output buffers, the Lua script cache); never
  above ``used_memory`` when the snapshot knows it.
- ``estimated_rss_savings_bytes``: RSS the process holds beyond ``used_memory`` — fragmentation,
  allocator and process overheads (high-fragmentation already contains its parts, which then count 0);
  never above ``used_memory_rss − used_memory``. These bytes are not in ``used_memory`` at all, so they
  never enter the first total.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from insightkit.recommend.base import Context

TOTAL = "estimated_savings_bytes"
RSS_TOTAL = "estimated_rss_savings_bytes"
COUNTED = "counted_savings_bytes"


def savings_totals(
    recommendations: pd.DataFrame, metadata: Mapping[str, Any] | None = None
) -> dict[str, int]:
    """``{estimated_savings_bytes, estimated_rss_savings_bytes}`` of ``evaluate()``'s findings."""
    if recommendations is None or len(recommendations) == 0:
        return {TOTAL: 0, RSS_TOTAL: 0}
    column = COUNTED if COUNTED in recommendations.columns else TOTAL
    counted = recommendations[column].fillna(0).astype("int64").clip(lower=0)
    frees = (
        recommendations["frees"]
        if "frees" in recommendations.columns
        else pd.Series("used_memory", index=recommendations.index)
    )
    inside = int(counted[frees != "rss"].sum())
    rss = int(counted[frees == "rss"].sum())
    ctx = Context.build(metadata)
    used = ctx.used_memory
    if used is not None:
        inside = min(inside, used)
        resident = ctx.info_total("used_memory_rss")
        if resident is not None:
            rss = min(rss, max(0, resident - used))
    return {TOTAL: inside, RSS_TOTAL: rss}
