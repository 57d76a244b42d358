"""``analyze()`` against the bare decode of the same file, in one process (issue 20).

    python benchmarks/bench_analyze.py [--rdb /tmp/ik-bench/e2e-1m-redis62.rdb] [--rounds 3] [--profile out.prof]

Each round first consumes ``insightkit.read_rdb(path)`` to the end (the decode floor), then runs
``analyze(path, out_of_core=False)`` and asks for its patterns, recommendations and summary, timing
every stage in CPU seconds (``time.process_time``: the machine is shared, so wall time says more about
the neighbours than about the code) and wall seconds. The rounds alternate decode and analyze so that
a change in machine load touches both; one untimed decode first warms imports and the page cache.
The target is analyze ≤ 2.5× decode in CPU. ``PYTHONPATH=<other checkout>`` times another tree.

The 1M-key file is made by ``bench_end_to_end.py --peer-keys 1000000`` (Redis 6.2, ``e2e_dataset``).
``--profile`` writes a cProfile of the last round's analyze stages.
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


def _timed(work: Callable[[], Any]) -> tuple[Any, float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = work()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def _decode(path: str) -> int:
    import insightkit

    rows = 0
    for batch in insightkit.read_rdb(path):
        rows += batch.num_rows if hasattr(batch, "num_rows") else len(batch)
    return rows


def _analyze(path: str) -> tuple[dict[str, tuple[float, float]], dict[str, int]]:
    """Per-stage (cpu, wall) seconds and what was found."""
    import insightkit

    stages: dict[str, tuple[float, float]] = {}
    a, c, w = _timed(lambda: insightkit.analyze(path, out_of_core=False, progress=False))
    stages["decode"] = (c, w)
    _, c, w = _timed(lambda: a.keys)
    stages["assign_patterns"] = (c, w)
    patterns, c, w = _timed(lambda: a.patterns)
    stages["pattern_table"] = (c, w)
    recs, c, w = _timed(lambda: a.recommendations)
    stages["rules"] = (c, w)
    summary, c, w = _timed(a.summary)
    stages["summary"] = (c, w)
    found = {"keys": int(summary.totals["keys"]), "patterns": len(patterns), "findings": len(recs)}
    a.close()
    return stages, found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rdb", default=DEFAULT_RDB)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", help="write a cProfile of the last round's analyze stages here")
    args = parser.parse_args()
    if not os.path.exists(args.rdb):
        sys.exit(f"{args.rdb}: missing (make it with benchmarks/bench_end_to_end.py --peer-keys 1000000)")
    import insightkit

    print(f"insightkit {insightkit.__file__}; {args.rdb} ({os.path.getsize(args.rdb) / 2**20:.0f} MiB)")
    _decode(args.rdb)  # warm-up, not timed: imports, the page cache, the allocator's first pages
    decodes: list[tuple[float, float]] = []
    totals: list[tuple[float, float]] = []
    per_stage: dict[str, list[float]] = {}
    for i in range(args.rounds):
        gc.collect()
        rows, c, w = _timed(lambda: _decode(args.rdb))
        decodes.append((c, w))
        gc.collect()
        if args.profile and i == args.rounds - 1:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
            stages, found = _analyze(args.rdb)
            profiler.disable()
            profiler.dump_stats(args.profile)
        else:
            stages, found = _analyze(args.rdb)
        cpu = sum(s[0] for s in stages.values())
        wall = sum(s[1] for s in stages.values())
        totals.append((cpu, wall))
        for name, (sc, _) in stages.items():
            per_stage.setdefault(name, []).append(sc)
        breakdown = "  ".join(f"{n} {sc:.2f}/{sw:.2f}" for n, (sc, sw) in stages.items())
        print(
            f"round {i + 1}: decode {rows:,} keys cpu {c:.2f}s wall {w:.2f}s | analyze cpu {cpu:.2f}s "
            f"wall {wall:.2f}s (ratio cpu {cpu / c:.2f}x, wall {wall / w:.2f}x) | {found}\n"
            f"  stages cpu/wall s: {breakdown}"
        )
    decode_cpu = statistics.median(d[0] for d in decodes)
    analyze_cpu = statistics.median(t[0] for t in totals)
    decode_wall = statistics.median(d[1] for d in decodes)
    analyze_wall = statistics.median(t[1] for t in totals)
    print(
        f"median: decode cpu {decode_cpu:.2f}s, analyze cpu {analyze_cpu:.2f}s → {analyze_cpu / decode_cpu:.2f}x "
        f"(wall {analyze_wall / decode_wall:.2f}x; target ≤ 2.5x)"
    )
    print("median stage cpu s: " + "  ".join(f"{n} {statistics.median(v):.2f}" for n, v in per_stage.items()))


if __name__ == "__main__":
    main()
