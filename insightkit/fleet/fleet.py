"""``Fleet``: an Analysis-like view of an RSNAP dataset that never loads the key table into pandas.

``open_fleet(path)`` scans the footers; ``summary()``, ``patterns``, ``recommendations`` and
``offenders()`` each run as queries on the chosen engine — DuckDB in this process (default), or a
Dask cluster for multi-machine scale. Results are small pandas tables, the same shapes ``Analysis``
gives for one snapshot, plus ``Summary.by_partition`` (memory per instance/node/time).
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from insightkit._frames import arrow_backed
from insightkit.errors import ConfigurationError
from insightkit.fleet import rules
from insightkit.rsnap.dataset import FleetDataset, scan
from insightkit.summary import FleetSummary, summary_of, summary_totals
from insightkit.table import KeyTable, pattern_table

Engine = Literal["duckdb", "dask"]

__all__ = ["Fleet", "FleetSummary", "open_fleet"]


class Fleet:
    """Many snapshots (instances, nodes, points in time) analysed together, out of core."""

    def __init__(
        self,
        dataset: FleetDataset,
        *,
        engine: Engine = "duckdb",
        client: Any = None,
        memory_limit: str | None = None,
        threads: int | None = None,
        workdir: Path | None = None,
    ) -> None:
        if engine not in ("duckdb", "dask"):
            raise ConfigurationError(f"open_fleet(engine={engine!r}): use 'duckdb' or 'dask'")
        self.dataset = dataset
        self.engine = engine
        self.client = client
        self.metadata = dataset.metadata()
        # a working copy (patterns added) goes with the Fleet even when close() is never called:
        # when it is collected, or at exit
        self._discard = (
            weakref.finalize(self, shutil.rmtree, str(workdir), True) if workdir is not None else None
        )
        self._table: KeyTable | None = None
        if engine == "duckdb":
            self._table = KeyTable.from_dataset(dataset, memory_limit=memory_limit, threads=threads)

    def __repr__(self) -> str:
        return (
            f"<Fleet {self.dataset.rows:,} keys in {len(self.dataset.files)} files from {self.dataset.root} "
            f"({self.engine}; partitions {', '.join(self.dataset.partition_columns) or 'none'})>"
        )

    # --- the key table, lazily --------------------------------------------------------------------

    def table(self) -> Any:
        """The lazy key table: a DuckDB relation (the ``rows`` view) or a Dask DataFrame."""
        if self._table is not None:
            return self._table.rows
        from insightkit.fleet import dask_engine

        return dask_engine.frame(self.dataset)

    @property
    def key_table(self) -> KeyTable:
        """The rows as an insightkit.table.KeyTable (engine='duckdb')."""
        if self._table is None:
            raise ConfigurationError("key_table needs engine='duckdb'")
        return self._table

    @property
    def connection(self) -> Any:
        """The DuckDB connection whose ``rows`` view is this fleet (engine='duckdb')."""
        return self.key_table.connection

    def sql(self, query: str) -> Any:
        """Run SQL over the ``rows`` view (every key row with its partition columns) and return the
        relation (engine='duckdb')."""
        return self.key_table.connection.sql(query)

    # --- what Analysis offers -----------------------------------------------------------------------

    def summary(self, *, savings: bool = True) -> FleetSummary:
        """Memory by db, type, encoding, TTL bucket and partition over every file.

        ``totals`` carries the recommendations' savings counted once (insightkit.recommend.savings) unless
        ``savings=False`` (which does not run the rules).
        """
        if self._table is not None:
            summary = summary_of(self._table, self.metadata, by_partition=True)
            assert isinstance(summary, FleetSummary)
        else:
            from insightkit.fleet import dask_engine

            tables = self._compute(lambda: dask_engine.summary_tables(self.table(), self.dataset))
            n, memory = tables.pop("keys"), tables.pop("memory_bytes")
            summary = FleetSummary(**tables, totals=summary_totals(n, memory, self.metadata))
        if savings:
            from insightkit.recommend import savings_totals

            summary.totals = {**summary.totals, **savings_totals(self._recommendations, self.metadata)}
        return summary

    @functools.cached_property
    def patterns(self) -> pd.DataFrame:
        """Memory by pattern over the whole fleet; Arrow-backed like ``Analysis.patterns``."""
        from insightkit.patterns.libraries import METADATA_KEY, with_owners

        owned = self.metadata.get(METADATA_KEY)
        if self._table is not None:
            return arrow_backed(with_owners(pattern_table(self._table, by_partition=True), owned))
        from insightkit.fleet import dask_engine

        frame = self._compute(lambda: dask_engine.patterns(self.table(), self.dataset))
        return arrow_backed(with_owners(frame, owned))

    @functools.cached_property
    def recommendations(self) -> pd.DataFrame:
        """Every insightkit.recommend rule over the whole fleet; Arrow-backed like ``Analysis.recommendations``."""
        return arrow_backed(self._recommendations)

    @functools.cached_property
    def _recommendations(self) -> pd.DataFrame:
        """The findings as the rules engine returns them (savings_totals reads these)."""
        return self._compute(lambda: rules.evaluate(self.table(), self.metadata))

    def offenders(self, rule_id: str) -> pd.DataFrame:
        """The offending key rows of one rule (only those leave the engine)."""
        return self._compute(lambda: rules.offenders(self.table(), self.metadata, rule_id))

    def _compute(self, work: Any) -> Any:
        """Run ``work`` with the fleet's Dask client as the default scheduler (when there is one)."""
        if self.engine != "dask" or self.client is None:
            return work()
        import dask

        with dask.config.set(scheduler=self.client.get):
            return work()

    def close(self) -> None:
        if self._table is not None:
            self._table.close()
            self._table = None
        if self._discard is not None:
            self._discard()  # (once: a finalizer runs at most once)

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_fleet(
    path: str | os.PathLike[str],
    *,
    engine: Engine = "duckdb",
    client: Any = None,
    repattern: bool | None = None,
    workdir: str | os.PathLike[str] | None = None,
    memory_limit: str | None = None,
    threads: int | None = None,
    progress: bool = False,
) -> Fleet:
    """Open an RSNAP dataset (a directory of RSNAP files in any partition layout, or one file).

    ``repattern``: discover patterns fleet-wide (streaming, written to ``workdir`` or a temporary
    directory removed on ``close()``); the default does so only when some file has no ``pattern``
    column. ``engine="dask"`` computes on ``client`` (a ``distributed.Client``) or Dask's default
    scheduler; ``memory_limit``/``threads`` tune DuckDB.
    """
    dataset = scan(path)
    own_workdir: Path | None = None
    if repattern or (repattern is None and not dataset.has_patterns):
        from insightkit.fleet.repattern import write_with_patterns

        if workdir is None:
            own_workdir = Path(tempfile.mkdtemp(prefix="insightkit-fleet-"))
            target = own_workdir
        else:
            target = Path(workdir)
        dataset = write_with_patterns(dataset, target, progress=progress)
    return Fleet(
        dataset, engine=engine, client=client, memory_limit=memory_limit, threads=threads, workdir=own_workdir
    )
