"""The least ``analyze()`` can cost on a 1M-key file in this design, against the bare decode (issue 20).

    python benchmarks/bench_analyze_floor.py [--rdb /tmp/ik-bench/e2e-1m-redis62.rdb] [--rounds 5]
                                             [--duckdb-threads N]

``bench_analyze.py`` times what ``analyze()`` does; this times, in one process and in CPU seconds, only
the one pass over every key that each of its stages cannot do without, each taken alone on inputs
prepared beforehand (untimed):

- ``decode``: ``insightkit.read_rdb(path)`` consumed to the end, each batch freed (the target's unit);
- ``hold``: the same decode keeping every batch, as one Arrow table (what every later stage reads);
- ``shapes``: every key with its digits zeroed, then dictionary-encoded: the per-key part of pattern
  assignment (the template rewrite and discovery run once per distinct shape, not timed here);
- ``cells``: the pattern table's one grouped scan (``table.queries.cells``), without its examples
  query;
- ``census``: the rules' one scan over every key (``recommend.census._census``): each key rule's
  condition evaluated on each key, grouped by pattern and by which rules select the key. This is where
  the rules' per-key cost lives; the reducing scan, pricing and findings are not timed.

Each of these is one DuckDB or Arrow/numpy pass over 1M rows. Their sum, beside ``decode``, is a lower
bound on ``analyze()`` for any arrangement of the present pipeline (rule conditions evaluated by DuckDB,
patterns by Arrow/numpy), and the printed ratio says whether the 2.5x target fits under it.
``--duckdb-threads 1`` runs DuckDB on one thread: slower in wall time, but without the CPU time two
threads spend handing work over, so the floor in CPU seconds is lowest.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

DEFAULT_RDB = os.path.join(os.environ.get("IK_BENCH_DIR", "/tmp/ik-bench"), "e2e-1m-redis62.rdb")


def _cpu(work: Callable[[], Any]) -> float:
    gc.collect()
    started = time.process_time()
    work()
    return time.process_time() - started


def _decode(path: str) -> None:
    import insightkit

    for _ in insightkit.read_rdb(path):
        pass


def _hold(path: str) -> Any:
    import pyarrow as pa

    import insightkit

    return pa.Table.from_batches(list(insightkit.read_rdb(path)))


def _census_inputs(path: str) -> tuple[Any, Any, Any, Any]:
    """The rules' prepared frame, globals, counted rules and context, as ``engine.run`` makes them."""
    import insightkit
    from insightkit.recommend import census, frames, registry
    from insightkit.recommend.base import Context
    from insightkit.recommend.engine import active

    analysis = insightkit.analyze(path, out_of_core=False, progress=False)
    rows = analysis._with_patterns().native()
    ctx = Context.build(analysis.metadata, None)
    rules = [rule for rule in active(registry.ALL_RULES, ctx) if rule.per_key]
    frame, measured = frames.prepare_on(rows, "auto", ctx)
    counted = census.possible(measured, rules, ctx)
    attached = measured.attach(frame, patterns=True, seconds=True)
    return analysis, attached, counted, ctx


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rdb", default=DEFAULT_RDB)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duckdb-threads", type=int, help="DuckDB's threads (default: one per core)")
    args = parser.parse_args()
    if not os.path.exists(args.rdb):
        sys.exit(f"{args.rdb}: missing (make it with benchmarks/bench_end_to_end.py --peer-keys 1000000)")
    import insightkit
    from insightkit.patterns.digits import zero_digits
    from insightkit.recommend import census
    from insightkit.table import queries, session

    print(f"insightkit {insightkit.__file__}; {args.rdb} ({os.path.getsize(args.rdb) / 2**20:.0f} MiB)")
    if args.duckdb_threads:
        session().execute(f"SET threads = {int(args.duckdb_threads)}")  # the process's one database
    _decode(args.rdb)  # warm-up: imports, the page cache
    table = _hold(args.rdb)
    keys = table.column("key")
    analysis, attached, counted, ctx = _census_inputs(args.rdb)
    key_table = analysis._with_patterns()

    def shapes() -> None:
        zeroed = zero_digits(keys)
        assert zeroed is not None
        zeroed.dictionary_encode()

    def cells() -> None:
        sql = queries.cells_partial_sql(queries.KEYS_VIEW, key_table.partition_columns, True)
        key_table.connection.sql(sql).to_arrow_table()

    stages: dict[str, Callable[[], Any]] = {
        "decode": lambda: _decode(args.rdb),
        "hold": lambda: _hold(args.rdb),
        "shapes": shapes,
        "cells": cells,
        "census": lambda: census._census(attached, counted, ctx),
    }
    times: dict[str, list[float]] = {name: [] for name in stages}
    for _ in range(args.rounds):  # interleaved, so that a change in the machine's speed touches all
        for name, work in stages.items():
            times[name].append(_cpu(work))
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{len(table):,} keys, {len(counted)} key rules counted; median CPU s of {args.rounds} rounds:")
    for name, value in median.items():
        print(f"  {name:7s} {value:.3f}  ({min(times[name]):.3f} – {max(times[name]):.3f})")
    beyond = (median["hold"] - median["decode"]) + median["shapes"] + median["cells"] + median["census"]
    floor = median["decode"] + beyond
    print(
        f"floor: decode {median['decode']:.3f} + {beyond:.3f} (holding, shapes, cells, census) = {floor:.3f} s"
        f" → {floor / median['decode']:.2f}x the bare decode (target ≤ 2.5x, which leaves"
        f" {1.5 * median['decode']:.3f} s beyond the decode)"
    )
    analysis.close()


if __name__ == "__main__":
    main()
