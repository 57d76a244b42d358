"""Memory-estimate accuracy: insightkit's model against MEMORY USAGE key SAMPLES 0, beside rdbtools'.

Each server flavour (tests/servers.py: Redis 6.2 libc, Redis 7.0 jemalloc with 16-byte classes, Valkey
8.1 libc, Redis 8.2 jemalloc with 8-byte classes, Valkey 9.1 libc) gets the calibration keyspace of
insightkit.memory.accuracy (every type x encoding, both sides of every encoding limit, TTLs), MEMORY
USAGE is recorded per key ("live"), the server SAVEs, the RDB is decoded, then DEBUG RELOAD and MEMORY
USAGE again against the decode with state="loaded" ("reloaded"). A second run per server with
list-compress-depth 1 and long lists checks compressed quicklist nodes. rdbtools reads only RDB <= 9, so
it is compared on the Redis 6.2 file (its memory profiler with redis_version="6.2", 64-bit). Also prints
the model's own cost per million keys.

    python benchmarks/bench_memory_accuracy.py [--scale 1.0] [--flavours redis62,redis70,valkey81,redis82,valkey91]
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

# what a file cannot say: libc builds, and Debian's redis-server on the system jemalloc (16-byte classes)
ALLOCATOR = {
    "redis62": "libc",
    "redis70": "jemalloc-16",
    "valkey81": "libc",
    "redis82": None,
    "valkey91": "libc",
}


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


def _decode(path: Path, flavour: str, state: str, depth: int = 0) -> pd.DataFrame:
    reader = insightkit.read_rdb(
        str(path), allocator=ALLOCATOR[flavour], memory_state=state, list_compress_depth=depth
    )
    return reader.read_all().to_pandas()


def _args(flavour: str, *extra: str) -> list[str]:
    return [*extra] + ([] if flavour == "redis62" else ["--enable-debug-command", "yes"])


def run(flavour: str, scale: float) -> dict[str, accuracy.Accuracy]:
    with running_server(flavour, args=_args(flavour)) as server:
        client = server.client()
        accuracy.load_mix(client, scale=scale)
        measured = accuracy.measure(client)
        path = server.save()
        results = {"insightkit live": accuracy.compare(measured, _decode(path, flavour, "live"))}
        if flavour == "redis62":
            results["rdbtools"] = accuracy.compare(measured, rdbtools_estimates(path))
        client.execute_command("DEBUG", "RELOAD")
        reloaded = accuracy.measure(client)
        results["insightkit reloaded"] = accuracy.compare(reloaded, _decode(path, flavour, "loaded"))
    return results


def run_compressed(flavour: str) -> dict[str, accuracy.Accuracy]:
    """list-compress-depth 1, 20 lists of 4,000-5,900 items: the model told the depth, and not told."""
    keys = [f"ikmem:clist:{i}" for i in range(20)]
    with running_server(flavour, args=_args(flavour, "--list-compress-depth", "1")) as server:
        client = server.client()
        for i, key in enumerate(keys):
            client.rpush(key, *[f"item-{j % 50:04d}-{'x' * (j % 7)}" for j in range(4000 + i * 100)])
        measured = accuracy.measure(client, [k.encode() for k in keys])
        path = server.save()
        return {
            "compressed, depth 1": accuracy.compare(measured, _decode(path, flavour, "live", 1)),
            "compressed, depth 0": accuracy.compare(measured, _decode(path, flavour, "live", 0)),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="keyspace size (1.0: ~2 400 keys)")
    parser.add_argument("--flavours", default="redis62,redis70,valkey81,redis82,valkey91")
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    for flavour in args.flavours.split(","):
        results = run(flavour, args.scale)
        print(f"\n== {flavour}: estimate vs MEMORY USAGE key SAMPLES 0 (error = (est - actual) / actual)")
        print(accuracy.format_table(results))
        compressed = run_compressed(flavour)
        print(f"\n== {flavour}: list-compress-depth 1")
        print(
            pd.DataFrame([acc.summary_row(label) for label, acc in compressed.items()]).to_string(index=False)
        )
    print("\n== model cost (estimate() + element()/blob() calls, nogil; typical mix)")
    for family, version, allocator in (
        ("redis", (7, 0), "jemalloc-16"),
        ("valkey", (8, 1), "libc"),
        ("redis", (8, 2), "jemalloc"),
        ("valkey", (9, 1), "libc"),
    ):
        model = MemoryModel(family, version, allocator)
        model.benchmark(10_000)
        best = min(model.benchmark(1_000_000) for _ in range(3))
        print(f"{family} {version[0]}.{version[1]} {allocator}: {best:.3f} s per 1M keys")


if __name__ == "__main__":
    main()
