"""Time insightkit.recommend.evaluate on a synthetic key table: pandas in memory vs DuckDB over Parquet.

    python benchmarks/bench_rules.py [--rows 1000000]

The same 46 rules (narwhals expressions) run on both engines; DuckDB reads the Parquet file lazily, so
only the per-rule totals come back to Python. Peer: RedisInsight evaluates its 18 rules on a 10k-key
sample over the network (no timing comparable), so the figures here are absolute.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from keytables import key_batches

import insightkit.recommend as rules


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    table = pa.Table.from_batches(key_batches(args.rows))
    metadata = {
        "server": {"family": "redis", "version": "7.0.15", "allocator": "jemalloc"},
        "snapshot_time_ms": 1_800_000_000_000,
    }
    frame = table.to_pandas(types_mapper=__import__("pandas").ArrowDtype)
    start = time.perf_counter()
    on_pandas = rules.evaluate(frame, None, metadata)
    t_pandas = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "keys.parquet"
        pq.write_table(table, path)
        del table, frame
        con = duckdb.connect()
        start = time.perf_counter()
        on_duckdb = rules.evaluate(con.read_parquet(str(path)), None, metadata)
        t_duckdb = time.perf_counter() - start
    same = on_pandas[["rule", "estimated_savings_bytes", "offending_keys"]].equals(
        on_duckdb[["rule", "estimated_savings_bytes", "offending_keys"]]
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"rows {args.rows:,}: {len(on_pandas)} findings; pandas {t_pandas:.1f}s, DuckDB/Parquet {t_duckdb:.1f}s "
        f"(ratio {t_pandas / t_duckdb:.2f}); same results: {same}; peak RSS {rss:.0f} MB"
    )


if __name__ == "__main__":
    main()
