"""``DiffResult``: the tables of a snapshot diff, printable in a terminal and a notebook.

Deltas are always new minus old; ``growth`` is the memory delta relative to the old size (NaN for new
groups). Each table is sorted by the size of its memory delta, so the head of any table is what moved.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from insightkit._text import display_key, epoch_ms, human_bytes, human_count, percent, render_table, wrap
from insightkit.summary import json_plain

PATTERN_COLUMNS = [
    "pattern",
    "status",
    "keys_a",
    "keys_b",
    "keys_delta",
    "memory_bytes_a",
    "memory_bytes_b",
    "memory_delta_bytes",
    "growth",
    "keys_added",
    "keys_removed",
    "keys_changed_encoding",
    "keys_lost_ttl",
]


# Left out of the tables below 120 columns: the old side's absolutes, which old + delta = new restate.
NARROW_DROPS = frozenset({"keys_a", "memory_bytes_a"})


def signed_bytes(value: Any) -> str:
    text = human_bytes(value)
    return "+" + text if isinstance(value, int | float) and not math.isnan(value) and value > 0 else text


def signed_count(value: Any) -> str:
    text = human_count(value)
    return "+" + text if isinstance(value, int | float) and not math.isnan(value) and value > 0 else text


def signed_percent(value: Any) -> str:
    text = percent(value)
    return "+" + text if isinstance(value, int | float) and not math.isnan(value) and value > 0 else text


FORMATS: dict[str, Callable[[Any], str]] = {
    "memory_delta_bytes": signed_bytes,
    "memory_bytes_a": human_bytes,
    "memory_bytes_b": human_bytes,
    "keys_delta": signed_count,
    "growth": signed_percent,
    "share_delta": signed_percent,
    "share_a": percent,
    "share_b": percent,
    "expires_at_a": epoch_ms,  # any 64-bit ms expiry: past year 9999 shown as raw ms, never a crash
    **{
        name: human_count
        for name in (
            "keys_a",
            "keys_b",
            "keys_added",
            "keys_removed",
            "keys_changed_encoding",
            "keys_lost_ttl",
            "keys_gained_ttl",
        )
    },
}


@dataclass
class DiffResult:
    """What changed between two snapshots (``a`` = old, ``b`` = new)."""

    by_pattern: pd.DataFrame
    by_type: pd.DataFrame
    by_encoding: pd.DataFrame
    by_db: pd.DataFrame
    ttl_mix: pd.DataFrame
    encoding_changes: pd.DataFrame  # transitions (type_a, encoding_a) → (type_b, encoding_b)
    changed_keys: pd.DataFrame  # the largest keys that changed encoding (up to max_keys)
    lost_ttl_keys: pd.DataFrame  # the largest keys that had a TTL and no longer do (up to max_keys)
    totals: Mapping[str, Any] = field(default_factory=dict)
    sources: tuple[str, str] = ("a", "b")
    #: why some tables may not mean what they say (key names hashed differently on the two sides)
    warnings: tuple[str, ...] = ()

    # --- convenient views -----------------------------------------------------------------------

    @property
    def new_patterns(self) -> pd.DataFrame:
        """Patterns with keys only in the new snapshot."""
        return self.by_pattern[self.by_pattern["status"] == "new"].reset_index(drop=True)

    @property
    def vanished_patterns(self) -> pd.DataFrame:
        """Patterns with keys only in the old snapshot."""
        return self.by_pattern[self.by_pattern["status"] == "vanished"].reset_index(drop=True)

    def growth(self, n: int = 10) -> pd.DataFrame:
        """The ``n`` patterns that grew the most (bytes)."""
        grown = self.by_pattern[self.by_pattern["memory_delta_bytes"] > 0]
        return grown.nlargest(n, "memory_delta_bytes").reset_index(drop=True)

    def shrinkage(self, n: int = 10) -> pd.DataFrame:
        """The ``n`` patterns that shrank the most (bytes)."""
        shrunk = self.by_pattern[self.by_pattern["memory_delta_bytes"] < 0]
        return shrunk.nsmallest(n, "memory_delta_bytes").reset_index(drop=True)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "by_pattern": self.by_pattern,
            "by_type": self.by_type,
            "by_encoding": self.by_encoding,
            "by_db": self.by_db,
            "ttl_mix": self.ttl_mix,
            "encoding_changes": self.encoding_changes,
            "changed_keys": self.changed_keys,
            "lost_ttl_keys": self.lost_ttl_keys,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: totals, sources and every table as records."""
        out: dict[str, Any] = {
            "sources": list(self.sources),
            "warnings": list(self.warnings),
            "totals": json_plain(dict(self.totals)),
        }
        for name, frame in self.tables().items():
            out[name] = [json_plain(r) for r in frame.to_dict(orient="records")]
        return out

    def plot(self, **options: Any) -> Any:
        """Memory delta by pattern and the TTL mix shift (a matplotlib Figure)."""
        from insightkit.present.diff_chart import plot_diff

        return plot_diff(self, **options)

    # --- rendering ------------------------------------------------------------------------------

    def headline(self) -> list[str]:
        t = self.totals
        return [
            *(f"warning: {warning}" for warning in self.warnings),
            f"old: {display_key(self.sources[0])}",
            f"new: {display_key(self.sources[1])}",
            f"memory: {human_bytes(t.get('memory_bytes_a'))} → {human_bytes(t.get('memory_bytes_b'))} "
            f"({signed_bytes(t.get('memory_delta_bytes', 0))})   keys: {human_count(t.get('keys_a'))} → "
            f"{human_count(t.get('keys_b'))} ({signed_count(t.get('keys_delta', 0))})",
            f"keys added {human_count(t.get('keys_added'))}, removed {human_count(t.get('keys_removed'))}, "
            f"changed encoding {human_count(t.get('keys_changed_encoding'))}, lost TTL "
            f"{human_count(t.get('keys_lost_ttl'))}, gained TTL {human_count(t.get('keys_gained_ttl'))}; "
            f"patterns new {human_count(t.get('patterns_new', 0))}, vanished "
            f"{human_count(t.get('patterns_vanished', 0))}",
        ]

    def _sections(self, top: int) -> list[tuple[str, pd.DataFrame]]:
        moved = self.by_pattern[self.by_pattern["status"] != "unchanged"]
        group_cols = ["keys_a", "keys_b", "memory_bytes_a", "memory_bytes_b", "memory_delta_bytes", "growth"]
        sections = [
            (f"Patterns that moved most (top {top})", moved[PATTERN_COLUMNS[:9]].head(top)),
            ("New patterns", self.new_patterns[["pattern", "keys_b", "memory_bytes_b"]].head(top)),
            ("Vanished patterns", self.vanished_patterns[["pattern", "keys_a", "memory_bytes_a"]].head(top)),
            ("By type", self.by_type[["type", *group_cols]]),
            ("By encoding", self.by_encoding[["type", "encoding", *group_cols]].head(top)),
            (
                "TTL mix (memory share per bucket)",
                self.ttl_mix[["bucket", "keys_a", "keys_b", "share_a", "share_b", "share_delta"]],
            ),
            ("Encoding changes (keys in both snapshots)", self.encoding_changes.head(top)),
            (f"Keys that lost their TTL (largest {top})", self.lost_ttl_keys.head(top)),
        ]
        return [(title, frame) for title, frame in sections if len(frame)]

    def __str__(self) -> str:
        return self.render()

    def render(self, top: int = 15, width: int | None = None) -> str:
        """The terminal text: headline, then each non-empty table cut to ``top`` rows.

        ``width`` is the column budget: lines wrap, and under 120 columns the tables leave out the old
        side's absolute columns (``keys_a``, ``memory_bytes_a``) where a delta and the new side tell them,
        so that pattern names keep room."""
        headline = [part for line in self.headline() for part in wrap(line, width, indent="  ", first="")]
        blocks = ["\n".join(headline)]
        narrow = width is not None and width < 120
        for title, frame in self._sections(top):
            if narrow and "memory_delta_bytes" in frame.columns:
                frame = frame[[c for c in frame.columns if c not in NARROW_DROPS]]
            blocks.append(render_table(frame, title=title, formats=FORMATS, width=width))
        return "\n\n".join(blocks)

    def _repr_html_(self) -> str:
        parts = [f"<p>{'<br>'.join(html.escape(line) for line in self.headline())}</p>"]
        for title, frame in self._sections(15):
            parts.append(f"<h4>{html.escape(title)}</h4>")
            parts.append(frame.to_html(index=False, formatters=dict(FORMATS), escape=True))
        return "\n".join(parts)
