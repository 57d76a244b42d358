"""Fleet scale: RSNAP datasets (many instances, cluster nodes, points in time) analysed out of core.

``open_fleet(path, engine="duckdb" | "dask")`` → ``Fleet`` with ``summary()``, ``patterns``,
``recommendations`` and ``offenders()``, computed on DuckDB (default) or a Dask cluster from the same
rule definitions ``Analysis`` uses, without loading the key table into pandas.
"""

from insightkit.fleet.fleet import Fleet, FleetSummary, open_fleet
from insightkit.rsnap.dataset import FleetDataset, FleetFile, scan

__all__ = ["Fleet", "FleetDataset", "FleetFile", "FleetSummary", "open_fleet", "scan"]
