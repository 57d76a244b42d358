"""Which separators structure this keyspace, read off the discovered patterns.

Every candidate separator is tried while tokenizing; the ones that survive in patterns as literals are
the keyspace's structure (``:`` for ``user:*:profile``, ``_`` for ``session_*``, ``.`` for
``metrics.cpu.host*``), while separators inside values (the ``-`` of a UUID or a slug) fold away.
"""

from __future__ import annotations

import pandas as pd

from insightkit.errors import ConfigurationError
from insightkit.patterns.tokens import SEPARATORS, STRONG_SEPARATORS


def keyspace_separators(patterns: pd.DataFrame) -> pd.DataFrame:
    """Per separator seen in ``aggregate_patterns`` output: ``separator``, ``strength`` (strong/weak),
    ``patterns``, ``keys`` and ``key_share`` of the keys whose pattern uses it; most used first."""
    for column in ("pattern", "keys"):
        if column not in patterns.columns:
            raise ConfigurationError(f"keyspace_separators needs a {column!r} column")
    total = int(patterns["keys"].sum())
    rows = []
    names = patterns["pattern"].astype(str)
    for sep in SEPARATORS:
        uses = names.str.contains(sep, regex=False)
        if uses.any():
            keys = int(patterns.loc[uses.to_numpy(), "keys"].sum())
            rows.append(
                {
                    "separator": sep,
                    "strength": "strong" if sep in STRONG_SEPARATORS else "weak",
                    "patterns": int(uses.sum()),
                    "keys": keys,
                    "key_share": keys / total if total else 0.0,
                }
            )
    columns = ["separator", "strength", "patterns", "keys", "key_share"]
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values("keys", ascending=False, kind="stable").reset_index(drop=True)
