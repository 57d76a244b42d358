"""A small fleet written by real servers: three instances (Redis 7.0, Redis 6.2, Valkey 8.1), one of
them snapshotted twice, stored as RSNAPs in a hive layout ``instance=<name>/time=<n>/part-00000.parquet``.

The Analyses are returned too: the tests compare every fleet table with what pandas computes from
the same keys, so the oracle is insightkit's in-memory path on the same real data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from diff_data import _after, _before
from present_data import populate
from servers import running_server

import insightkit

INSTANCES = {"cache-a": "redis70", "cache-b": "redis62", "cache-c": "valkey81"}


@dataclass
class FleetFiles:
    root: Path
    analyses: dict[tuple[str, str], insightkit.Analysis]  # (instance, time) → Analysis


def make_fleet(root: Path) -> FleetFiles:
    analyses: dict[tuple[str, str], insightkit.Analysis] = {}

    def snapshot(instance: str, time: str, server: object) -> None:
        rdb = server.save()  # type: ignore[attr-defined]
        analysis = insightkit.analyze(rdb, progress=False)
        target = root / f"instance={instance}" / f"time={time}"
        target.mkdir(parents=True)
        analysis.to_rsnap(target / "part-00000.parquet")
        analyses[(instance, time)] = analysis

    for instance, flavour in INSTANCES.items():
        with running_server(flavour) as server:
            if instance == "cache-c":
                _before(server.client())
            else:
                populate(server, seed=len(instance) + ord(instance[-1]))
            snapshot(instance, "1", server)
            if instance == "cache-c":
                _after(server.client())
                snapshot(instance, "2", server)
    return FleetFiles(root, analyses)
