"""Pattern discovery at scale, and against the peers' approaches.

Builds a synthetic keyspace of ``--keys`` keys (default 10M) from the labeled families of
tests/keyspaces.py (ids regenerated, so every key is distinct), then times ``assign_patterns`` and
samples peak RSS while it runs. Peers, on the same keys and on each labeled keyspace:
- first-``:`` split (RedisInsight's namespace view): pattern = text before the first ``:`` + ``:*``;
- digit replacement (rdr, redis-memory-analyzer): every run of digits becomes ``*``.
(HDT3213/rdb's byte radix tree is not run: it holds every key's bytes in tree nodes, which is what
runs out of memory on large keyspaces.)

    python benchmarks/bench_patterns.py [--keys 10000000] [--skip-peers]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keyspaces as ks

from insightkit.patterns import assign_patterns


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRss:
    """Samples RSS every few milliseconds while in the ``with`` block."""

    def __enter__(self) -> PeakRss:
        self.start = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def first_colon(keys: pa.ChunkedArray) -> pa.ChunkedArray:
    has = pc.match_substring(keys, ":")
    head = pc.replace_substring_regex(keys, pattern=":.*", replacement=":*", max_replacements=1)
    return pc.if_else(has, head, keys)


def digits_replaced(keys: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.replace_substring_regex(keys, pattern="[0-9]+", replacement="*")


def peer_groups(peer: object, keys: pa.ChunkedArray) -> np.ndarray:
    """A peer's group code per key, chunked over all cores like assign_patterns (a fair race)."""
    fn = peer  # type: ignore[assignment]

    def encode(start: int) -> tuple[np.ndarray, list[str]]:
        chunk = keys.slice(start, 1 << 20).combine_chunks()
        enc = fn(chunk).dictionary_encode()  # type: ignore[operator]
        return enc.indices.to_numpy(zero_copy_only=False), enc.dictionary.to_pylist()

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        parts = list(pool.map(encode, range(0, len(keys), 1 << 20)))
    codes, _ = pd.factorize(pd.Series([t for _, d in parts for t in d], dtype=object))
    out, offset = [], 0
    for indices, dictionary in parts:
        out.append(codes[offset : offset + len(dictionary)][indices])
        offset += len(dictionary)
    return np.concatenate(out) if out else np.empty(0, dtype=np.int64)


def big_keyspace(n: int, seed: int = 1) -> pd.DataFrame:
    families = [f for make in ks.KEYSPACES.values() for f in make()]
    base = sum(f.count for f in families)
    scale = 1.25 * n / base  # some families repeat values (dates, names): over-generate, then cut
    scaled = [
        ks.Family(
            f.label,
            max(1, round(f.count * scale)) if f.count > 10 else f.count,
            f.make,
            f.type,
            f.encoding,
            f.ttl_s,
        )
        for f in families
    ]
    return ks.build(scaled, seed=seed).head(n).reset_index(drop=True)


def fmt_mb(b: float) -> str:
    return f"{b / 2**20:,.0f} MiB"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=10_000_000)
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="runs of assign_patterns; the best is kept")
    ap.add_argument(
        "--cache",
        type=Path,
        default=Path("/tmp/insightkit-bench-patterns"),
        help="directory for the generated keyspace (Parquet), reused when present",
    )
    args = ap.parse_args()

    print("## Labeled keyspaces: purity / inverse purity of the grouping")
    print(f"{'keyspace':22s} {'keys':>7s}  {'insightkit':>17s}  {'first-colon':>17s}  {'digits->*':>17s}")
    for name in ks.KEYSPACES:
        df = ks.keyspace(name)
        arr = pa.chunked_array([pa.array(df["key"], pa.string())])
        ours = ks.purity(assign_patterns(df), df["expected"])
        colon = ks.purity(first_colon(arr).to_pandas(), df["expected"])
        digits = ks.purity(digits_replaced(arr).to_pandas(), df["expected"])
        cells = [f"{p:.4f} / {i:.4f}" for p, i in (ours, colon, digits)]
        print(f"{name:22s} {len(df):7d}  {cells[0]:>17s}  {cells[1]:>17s}  {cells[2]:>17s}")

    print(f"\n## {args.keys:,} keys")
    t = time.perf_counter()
    cached = args.cache / f"keys-{args.keys}.parquet"
    if cached.exists():
        df = pd.read_parquet(cached, dtype_backend="pyarrow")
        print(f"read {len(df):,} keys from {cached} in {time.perf_counter() - t:.1f}s")
    else:
        df = big_keyspace(args.keys)
        df["key"] = pd.Series(pd.arrays.ArrowExtensionArray(pa.array(df["key"], pa.string())), index=df.index)
        args.cache.mkdir(parents=True, exist_ok=True)
        df.to_parquet(cached)
        print(f"generated {len(df):,} keys in {time.perf_counter() - t:.1f}s (cached in {cached})")
    labels = df.pop("expected").astype(str)
    gc.collect()
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (other work skews wall time)"
    )
    best = None
    for _ in range(args.repeat):
        with PeakRss() as mem:
            t, cpu = time.perf_counter(), time.process_time()
            patterns = assign_patterns(df, progress=False)
            elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
        print(f"  run: {elapsed:.2f}s wall, {cpu:.2f}s CPU, peak RSS +{fmt_mb(mem.peak - mem.start)}")
        if best is None or elapsed < best[0]:
            best = (elapsed, cpu, mem)
        del patterns
        gc.collect()
    assert best is not None
    elapsed, cpu, mem = best
    patterns = assign_patterns(df, progress=False)
    keys_mb = df["key"].array._pa_array.nbytes  # type: ignore[attr-defined]
    print(
        f"insightkit assign_patterns (best of {args.repeat}): {elapsed:.2f}s wall, {cpu:.2f}s CPU "
        f"({len(df) / elapsed / 1e6:.2f} M keys/s), {patterns.nunique()} patterns; RSS before "
        f"{fmt_mb(mem.start)}, peak {fmt_mb(mem.peak)} (+{fmt_mb(mem.peak - mem.start)}; key column "
        f"itself {fmt_mb(keys_mb)})"
    )
    pur, inv = ks.purity(patterns, labels)
    print(f"insightkit grouping on the big keyspace: purity {pur:.4f}, inverse purity {inv:.4f}")
    if args.skip_peers:
        return
    arr = df["key"].array._pa_array  # type: ignore[attr-defined]
    for name, peer in (("first-colon split", first_colon), ("digit replacement", digits_replaced)):
        with PeakRss() as mem:
            t, cpu = time.perf_counter(), time.process_time()
            codes = peer_groups(peer, arr)
            elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
        p, i = ks.purity(pd.Series(codes), labels)
        print(
            f"{name}: {elapsed:.2f}s wall, {cpu:.2f}s CPU, {len(np.unique(codes)):,} groups, "
            f"peak +{fmt_mb(mem.peak - mem.start)}; purity {p:.4f}, inverse purity {i:.4f}"
        )


if __name__ == "__main__":
    main()
