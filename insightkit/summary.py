"""The one-screen answer to "where does the memory go": by db, type, encoding and TTL, plus totals.

Every table is memory-weighted (``memory_bytes`` and its ``share``) because key counts alone mislead:
a handful of big hashes usually outweigh millions of small strings. TTL buckets are measured from the
snapshot time, not from now, so an old RSNAP reads the same tomorrow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from insightkit._text import human_bytes, human_count, render_table, wrap
from insightkit.expiry import TTL_BUCKETS, ttl_bucket_codes
from insightkit.table import KeyTable, summary_tables

__all__ = ["TTL_BUCKETS", "FleetSummary", "Summary", "summarize", "summary_of", "ttl_bucket_codes"]

SUMMARY_COLUMNS = ["db", "type", "encoding", "memory_bytes", "expires_at"]  # all summarize() reads


@dataclass
class Summary:
    """Memory by db, type, encoding and TTL bucket; ``totals`` beside INFO when it is known."""

    by_db: pd.DataFrame
    by_type: pd.DataFrame
    by_encoding: pd.DataFrame
    ttl_buckets: pd.DataFrame
    totals: Mapping[str, Any] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "by_db": self.by_db,
            "by_type": self.by_type,
            "by_encoding": self.by_encoding,
            "ttl_buckets": self.ttl_buckets,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: each table as a list of records, plus totals."""
        out: dict[str, Any] = {"totals": json_plain(self.totals)}
        for name, frame in self.tables().items():
            out[name] = [json_plain(r) for r in frame.to_dict(orient="records")]
        return out

    def _totals_lines(self) -> list[str]:
        t = self.totals
        lines = [f"keys: {human_count(t.get('keys', 0))}   memory: {human_bytes(t.get('memory_bytes', 0))}"]
        if t.get("dataset_overhead_bytes"):
            lines[0] += f"   + dict overhead: {human_bytes(t['dataset_overhead_bytes'])}"
        if "used_memory" in t:
            extra = [f"INFO used_memory: {human_bytes(t['used_memory'])}"]
            for name in ("used_memory_dataset", "used_memory_overhead"):
                if name in t:
                    extra.append(f"{name.removeprefix('used_memory_')}: {human_bytes(t[name])}")
            lines.append("   ".join(extra))
        if "estimated_savings_bytes" in t:
            line = f"estimated savings, each key counted once: {human_bytes(t['estimated_savings_bytes'])}"
            if t.get("estimated_rss_savings_bytes"):
                line += f"   + RSS beyond used_memory: {human_bytes(t['estimated_rss_savings_bytes'])}"
            lines.append(line)
        return lines

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:  # a REPL shows the tables in human units, not the dataclass' raw numbers
        return self.render()

    def render(self, width: int | None = None) -> str:
        """The terminal text; ``width`` is the column budget (None: as wide as the tables are)."""
        titles = {
            "by_db": "By database",
            "by_type": "By type",
            "by_encoding": "By encoding",
            "ttl_buckets": "By time to live (from the snapshot time)",
            "by_partition": "By partition",
        }
        totals = [part for line in self._totals_lines() for part in wrap(line, width, indent="  ", first="")]
        blocks = ["\n".join(totals)]
        for name, frame in self.tables().items():
            blocks.append(render_table(frame, title=titles[name], width=width))
        return "\n\n".join(blocks)

    def _repr_html_(self) -> str:
        """The tables with human units (the frames keep their numbers); presentation imported only here."""
        import html

        from insightkit.present.tables import STYLE, html_table

        parts = [STYLE, f"<p>{'<br>'.join(html.escape(line) for line in self._totals_lines())}</p>"]
        for name, frame in self.tables().items():
            parts.append(f"<h4>{name.replace('_', ' ')}</h4>")
            parts.append(html_table(frame))
        return f'<div class="ik-html">{"".join(parts)}</div>'


@dataclass
class FleetSummary(Summary):
    """Summary over a whole dataset, plus memory by partition (instance, node, snapshot time…)."""

    by_partition: pd.DataFrame = field(default_factory=pd.DataFrame)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {**super().tables(), "by_partition": self.by_partition}


def json_plain(value: Any) -> Any:
    """numpy / pandas scalars → Python, NaN/NA → None (for JSON)."""
    if isinstance(value, Mapping):
        return {str(k): json_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_plain(v) for v in value]
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def summarize(keys: pd.DataFrame, metadata: dict[str, Any]) -> Summary:
    """Build the Summary of a key table (the tables of ``insightkit.table.queries.summary_tables``)."""
    table = KeyTable.from_frame(keys, SUMMARY_COLUMNS, metadata.get("snapshot_time_ms"))
    try:
        return summary_of(table, metadata)
    finally:
        table.close()


def summary_of(table: KeyTable, metadata: dict[str, Any], by_partition: bool = False) -> Summary:
    """The Summary of a KeyTable, in memory or on disk; ``by_partition``: a fleet's FleetSummary."""
    tables = summary_tables(table, by_partition)
    n, memory = tables.pop("keys"), tables.pop("memory_bytes")
    partitions = tables.pop("by_partition", None)
    totals = summary_totals(n, memory, metadata)
    if partitions is None:
        return Summary(**tables, totals=totals)
    return FleetSummary(**tables, totals=totals, by_partition=partitions)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _node_metadatas(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = metadata.get("nodes")
    if isinstance(nodes, dict):
        nodes = list(nodes.values())
    return [n for n in nodes if isinstance(n, dict)] if isinstance(nodes, list) and nodes else [metadata]


_UNCHARGED_TABLES = ("main_dict_bytes", "expires_dict_bytes")  # keyspace bucket arrays


def summary_totals(keys: int, memory: int, metadata: dict[str, Any]) -> dict[str, Any]:
    totals: dict[str, Any] = {"keys": keys, "memory_bytes": memory}
    overhead = 0
    info_sums: dict[str, int] = {}
    info_complete = True
    for node in _node_metadatas(metadata):
        per_db = (node.get("rdb") or {}).get("dataset_overhead") or {}
        for entry in per_db.values():
            if isinstance(entry, dict):
                # Only the tables no key is charged for: the overhead_hashtable_* figures (MEMORY
                # STATS' view) already contain these arrays plus per-key entries inside memory_bytes.
                overhead += sum(_int_or_none(entry.get(name)) or 0 for name in _UNCHARGED_TABLES)
        memory_info = (node.get("info") or {}).get("memory") or {}
        if not memory_info:
            info_complete = False
        for name in ("used_memory", "used_memory_dataset", "used_memory_overhead"):
            value = _int_or_none(memory_info.get(name))
            if value is not None:
                info_sums[name] = info_sums.get(name, 0) + value
    totals["dataset_overhead_bytes"] = overhead
    if info_complete:
        totals.update(info_sums)
    return totals
