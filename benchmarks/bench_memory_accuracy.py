"""Memory-estimate accuracy: insightkit's model against MEMORY USAGE key SAMPLES 0, beside rdbtools'.

Each server flavour (Redis 6.2 libc, Redis 7.0 jemalloc, Valkey 8.1 libc; tests/servers.py) gets the
calibration keyspace of insightkit.memory.accuracy (every type x encoding, both sides of every
encoding limit, TTLs), MEMORY USAGE is recorded per key, the server SAVEs and the RDB is decoded.
rdbtools reads only RDB <= 9, so it is compared on the Redis 6.2 file (its memory profiler with
redis_version="6.2", 64-bit). Also prints the model's own cost per million keys.

    python benchmarks/bench_memory_accuracy.py [--scale 1.0] [--flavours redis62,redis70,valkey81]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from servers import running_server  # noqa: E402

import insightkit  # noqa: E402
from insightkit.memory import MemoryModel, accuracy  # noqa: E402

ALLOCATOR = {"redis62": "libc", "redis70": None, "valkey81": "libc"}


def rdbtools_estimates(path: Path) -> pd.DataFrame:
    """rdbtools' per-key memory estimate (its `rdb -c memory` profiler)."""
    from rdbtools import RdbParser
    from rdbtools.memprofiler import MemoryCallback

    rows: list[dict[str, Any]] = []

    class Collect:
        def next_record(self, record: Any) -> None:
            if record.key is None:
                return
            key = record.key.decode("utf-8", "replace") if isinstance(record.key, bytes) else record.key
            rows.append({"key": key, "memory_bytes": int(record.bytes)})

        def end_rdb(self) -> None:
            pass

    callback = MemoryCallback(Collect(), 64, redis_version="6.2")
    RdbParser(callback).parse(str(path))
    return pd.DataFrame(rows)


def run(flavour: str, scale: float) -> dict[str, accuracy.Accuracy]:
    with running_server(flavour) as server:
        client = server.client()
        accuracy.load_mix(client, scale=scale)
        measured = accuracy.measure(client)
        path = server.save()
        rows = insightkit.read_rdb(str(path), allocator=ALLOCATOR[flavour]).read_all().to_pandas()
        results = {"insightkit": accuracy.compare(measured, rows)}
        if flavour == "redis62":
            results["rdbtools"] = accuracy.compare(measured, rdbtools_estimates(path))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="keyspace size (1.0: ~2 400 keys)")
    parser.add_argument("--flavours", default="redis62,redis70,valkey81")
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    for flavour in args.flavours.split(","):
        results = run(flavour, args.scale)
        print(f"\n== {flavour}: estimate vs MEMORY USAGE key SAMPLES 0 (error = (est - actual) / actual)")
        print(accuracy.format_table(results))
    print("\n== model cost (estimate() + element()/blob() calls, nogil; typical mix)")
    for family, version, allocator in (("redis", (7, 0), "jemalloc"), ("valkey", (8, 1), "libc")):
        model = MemoryModel(family, version, allocator)
        model.benchmark(10_000)
        best = min(model.benchmark(1_000_000) for _ in range(3))
        print(f"{family} {version[0]}.{version[1]} {allocator}: {best:.3f} s per 1M keys")


if __name__ == "__main__":
    main()
