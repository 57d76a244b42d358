"""The prefix-level view of patterns: ``user`` → ``user:*`` → ``user:*:profile``.

Each row is a node (a pattern prefix ending before a structural separator) with the keys and memory of
every pattern beneath it, so a treemap can nest children in parents and a flame chart can stack depths.
Works from ``aggregate_patterns`` output (or anything with ``pattern``, ``keys``, ``memory_bytes``).
"""

from __future__ import annotations

import pandas as pd

from insightkit.errors import ConfigurationError
from insightkit.patterns.tokens import split_levels


def pattern_hierarchy(patterns: pd.DataFrame) -> pd.DataFrame:
    """Columns: ``node``, ``parent`` (``""`` at the top), ``label`` (what the level adds), ``depth`` (1 =
    top), ``keys``, ``memory_bytes``, ``share``, ``patterns`` (patterns beneath), ``is_pattern``.
    Sorted by depth, then memory (descending)."""
    for column in ("pattern", "keys", "memory_bytes"):
        if column not in patterns.columns:
            raise ConfigurationError(
                f"pattern_hierarchy needs a {column!r} column (aggregate_patterns output)"
            )
    nodes: dict[str, list[int]] = {}
    meta: dict[str, tuple[str, int]] = {}
    exact: set[str] = set()
    total = int(patterns["memory_bytes"].sum())
    for pattern, keys, memory in zip(
        patterns["pattern"].astype(str), patterns["keys"], patterns["memory_bytes"], strict=True
    ):
        exact.add(pattern)
        parent = ""
        for depth, prefix in enumerate(split_levels(pattern), start=1):
            acc = nodes.setdefault(prefix, [0, 0, 0])
            acc[0] += int(keys)
            acc[1] += int(memory)
            acc[2] += 1
            meta.setdefault(prefix, (parent, depth))
            parent = prefix
    rows = []
    for node, (keys, memory, count) in nodes.items():
        parent, depth = meta[node]
        rows.append(
            {
                "node": node,
                "parent": parent,
                "label": node[len(parent) :],
                "depth": depth,
                "keys": keys,
                "memory_bytes": memory,
                "share": memory / total if total else 0.0,
                "patterns": count,
                "is_pattern": node in exact,
            }
        )
    columns = ["node", "parent", "label", "depth", "keys", "memory_bytes", "share", "patterns", "is_pattern"]
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["depth", "memory_bytes"], ascending=[True, False], kind="stable").reset_index(
        drop=True
    )
