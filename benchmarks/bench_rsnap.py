"""RSNAP at scale: write and read a 10M-row key table with bounded memory, against naive peers.

Each measurement runs in its own child process so peak RSS (ru_maxrss) belongs to that step alone.
Peers: building the whole table in memory and writing it with ``pyarrow.parquet.write_table``; reading
the whole file with ``pandas.read_parquet``; DuckDB aggregating the file directly.

    python benchmarks/bench_rsnap.py              # 10M rows (about a minute)
    python benchmarks/bench_rsnap.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BATCH = 65536


def batches(rows: int) -> Iterator[pa.RecordBatch]:
    """Decoder-like record batches (KEY_SCHEMA), generated vectorised so the generator is not the cost."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from insightkit.schema import KEY_SCHEMA

    namespaces = pa.array(["user", "session", "cache:product", "feed", "order", "rate", "job"])
    suffixes = pa.array(["profile", "cart", "seen", "tokens"])
    types = pa.array(["string", "hash", "list", "set", "zset"])
    encodings = pa.array(["embstr", "listpack", "quicklist", "intset", "skiplist"])
    for start in range(0, rows, BATCH):
        n = min(BATCH, rows - start)
        rng = np.random.default_rng(start)
        ids = np.arange(start, start + n)
        kind = pa.array(ids % 5)
        key = pc.binary_join_element_wise(
            pc.take(namespaces, pa.array(ids % 7)),
            pc.cast(pa.array(ids * 2654435761 % 10**9), pa.string()),
            pc.take(suffixes, pa.array(ids % 4)),
            ":",
        )
        memory = rng.integers(48, 50_000, n)
        expires = 1_800_000_000_000 + ids
        columns = {
            "db": pa.array(ids % 4, pa.int32()),
            "key": key,
            "key_binary": pa.array(np.zeros(n, bool)),
            "type": pc.take(types, kind),
            "encoding": pc.take(encodings, kind),
            "num_elements": pa.array(rng.integers(1, 1000, n)),
            "largest_element_bytes": pa.array(rng.integers(1, 500, n)),
            "element_bytes": pa.array(rng.integers(1, 40_000, n)),
            "serialized_bytes": pa.array(rng.integers(10, 40_000, n)),
            "expires_at": pa.array(expires, mask=ids % 3 != 0),
            "lru_idle_s": pa.array(rng.integers(0, 10**6, n)),
            "lfu_freq": pa.nulls(n, pa.int16()),
            "all_integers": pa.nulls(n, pa.bool_()),
            "volatile_fields": pa.nulls(n, pa.int64()),
            "min_field_expires_at": pa.nulls(n, pa.int64()),
            "stream_entries": pa.nulls(n, pa.int64()),
            "stream_groups": pa.nulls(n, pa.int64()),
            "stream_consumers": pa.nulls(n, pa.int64()),
            "stream_pending": pa.nulls(n, pa.int64()),
            "module": pa.nulls(n, pa.string()),
            "memory_bytes": pa.array(memory),
            "key_bytes": pa.array(np.full(n, 40)),
            "overhead_bytes": pa.array(np.full(n, 24)),
            "value_bytes": pa.array(memory - 64),
            "expires_bytes": pa.array(np.where(ids % 3 == 0, 24, 0)),
        }
        yield pa.RecordBatch.from_arrays(list(columns.values()), schema=KEY_SCHEMA)


# --- steps (each runs in a child process) ---------------------------------------------------------


def step_write_rsnap(path: str, rows: int) -> dict[str, object]:
    from insightkit.rsnap import write_rsnap

    write_rsnap(path, batches(rows), {"method": "file", "source": "bench"})
    return {"bytes": os.path.getsize(path)}


def step_write_whole_table(path: str, rows: int) -> dict[str, object]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_batches(list(batches(rows)))  # everything in memory, then one write
    pq.write_table(table, path, compression="zstd")
    return {"bytes": os.path.getsize(path)}


def step_generate_only(path: str, rows: int) -> dict[str, object]:
    del path
    return {"rows": sum(b.num_rows for b in batches(rows))}


def step_iter_rsnap(path: str, rows: int) -> dict[str, object]:
    import pyarrow.compute as pc

    from insightkit.rsnap import iter_rsnap

    total, seen = 0, 0
    for batch in iter_rsnap(path, columns=["type", "memory_bytes"]):
        total += pc.sum(batch.column(1)).as_py() or 0
        seen += len(batch)
    assert seen == rows
    return {"memory_bytes": total}


def step_read_rsnap_all(path: str, rows: int) -> dict[str, object]:
    from insightkit.rsnap import read_rsnap

    table, _ = read_rsnap(path)
    assert table.num_rows == rows
    return {}


def step_load(path: str, rows: int) -> dict[str, object]:
    import insightkit

    analysis = insightkit.load(path)
    assert analysis.summary().totals["keys"] == rows  # summary() needs no pattern discovery
    return {}


def step_pandas_read(path: str, rows: int) -> dict[str, object]:
    import pandas as pd

    assert len(pd.read_parquet(path)) == rows
    return {}


def step_duckdb(path: str, rows: int) -> dict[str, object]:
    import duckdb

    result = duckdb.connect().execute(f"select type, sum(memory_bytes) from '{path}' group by 1").fetchall()
    assert len(result) == 5
    return {}


STEPS = {name.removeprefix("step_"): fn for name, fn in globals().items() if name.startswith("step_")}


def _child(step: str, path: str, rows: int) -> None:
    import pandas  # noqa: F401  # imports count as baseline, not as the step's memory
    import pyarrow.parquet  # noqa: F401

    import insightkit.rsnap  # noqa: F401

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    extra = STEPS[step](path, rows)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {"seconds": elapsed, "peak_mb": peak / 1024, "growth_mb": (peak - baseline) / 1024, **extra}
        )
    )


def measure(step: str, path: Path, rows: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", step, str(path), str(rows)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--child", nargs=3, metavar=("STEP", "PATH", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], args.child[1], int(args.child[2]))
        return
    rows = args.rows
    with tempfile.TemporaryDirectory(prefix="ik-bench-") as tmp:
        rsnap, whole = Path(tmp) / "bench.rsnap.parquet", Path(tmp) / "whole.parquet"
        r: dict[str, dict[str, float]] = {}
        r["generate only"] = measure("generate_only", rsnap, rows)
        r["write_rsnap (streaming)"] = measure("write_rsnap", rsnap, rows)
        r["peer: whole table + pq.write_table"] = measure("write_whole_table", whole, rows)
        r["iter_rsnap (2 columns, streaming)"] = measure("iter_rsnap", rsnap, rows)
        r["read_rsnap (whole table)"] = measure("read_rsnap_all", rsnap, rows)
        r["insightkit.load + summary()"] = measure("load", rsnap, rows)
        r["peer: pandas.read_parquet"] = measure("pandas_read", rsnap, rows)
        r["peer: DuckDB group-by on the file"] = measure("duckdb", rsnap, rows)
    print(f"RSNAP benchmark: {rows:,} rows, batches of {BATCH:,}; peak RSS growth per step (child process)\n")
    print(f"{'step':38} {'seconds':>8} {'rows/s':>12} {'RSS growth':>11}")
    for name, m in r.items():
        print(f"{name:38} {m['seconds']:8.2f} {rows / m['seconds']:12,.0f} {m['growth_mb']:9.0f} MB")
    size = r["write_rsnap (streaming)"]["bytes"]
    print(f"\nfile size: {size / 2**20:,.0f} MB ({size / rows:.1f} bytes/row)")
    w, peer = r["write_rsnap (streaming)"], r["peer: whole table + pq.write_table"]
    gen = r["generate only"]
    print(
        f"write: memory {peer['growth_mb'] / max(w['growth_mb'], 1):.1f}x less than the whole-table peer; "
        f"time {(w['seconds'] - gen['seconds']) / max(peer['seconds'] - gen['seconds'], 1e-9):.2f}x the peer's "
        "(generation time subtracted from both)"
    )
    it, pd_read = r["iter_rsnap (2 columns, streaming)"], r["peer: pandas.read_parquet"]
    print(
        f"read: streaming memory {pd_read['growth_mb'] / max(it['growth_mb'], 1):.1f}x less than "
        f"pandas.read_parquet; load() takes {r['insightkit.load + summary()']['seconds'] / pd_read['seconds']:.2f}x "
        "pandas.read_parquet's time"
    )


if __name__ == "__main__":
    main()
