"""Decoder speed: insightkit.read_rdb against rdb-py (full decode) and rdbtools' memory report.

Builds (once; cached under benchmarks/data/, gitignored) a ~1M-key mixed dataset written by a real
Redis 7.0 (RDB 10, ~200 MB: strings of all sizes, small and big hashes/sets/zsets/lists, streams with
groups, TTLs) and the same data written by Redis 6.2 (RDB 9). rdbtools is pure Python and takes
minutes on the full file, so it is timed on a 1/20 subset of the same mix (RDB 9) and extrapolated
per key; the printout says so.

    python benchmarks/bench_decode.py [--keys 1000000] [--repeat 3] [--skip-rdbtools]
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
WARMUP = REPO / "tests" / "corpus" / "librdb" / "misc_with_stream.rdb"  # the repository's own copy
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from servers import find_cli, running_server  # noqa: E402

import insightkit  # noqa: E402


def _resp(*parts: object) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


_ALPHABET = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _text(rng: random.Random, n: int) -> bytes:
    """Random alphanumerics: realistic entropy, so LZF rarely shrinks them much."""
    return bytes(rng.choices(_ALPHABET, k=n))


def mixed_commands(total: int, seed: int = 1) -> Iterator[bytes]:
    """RESP for ``total`` keys: 60% strings, 20% small hashes, small sets/zsets/lists, big ones, streams."""
    rng = random.Random(seed)
    n_int = total * 20 // 100
    n_str = total * 30 // 100
    n_blob = total * 10 // 100
    n_hash = total * 20 // 100
    n_iset = total * 4 // 100
    n_sset = total * 4 // 100
    n_zset = total * 6 // 100
    n_list = total * 6 // 100
    n_big = max(1, total // 2000)  # of each collection type
    n_stream = max(1, total // 5000)
    pool = [_text(rng, 256) for _ in range(64)]

    def value(n: int) -> bytes:
        return pool[rng.randrange(64)][: n // 2] + _text(rng, n - n // 2)

    for i in range(n_int):
        yield _resp("SET", f"counter:{i}", rng.randint(-(10**9), 10**12))
    for i in range(n_str):
        if i % 5 == 0:
            yield _resp("SET", f"session:{i:08d}", value(rng.randint(20, 120)), "EX", rng.randint(600, 86400))
        else:
            yield _resp("SET", f"cache:item:{i}", value(rng.randint(20, 120)))
    for i in range(n_blob):
        yield _resp("SET", f"page:{i}", value(rng.randint(300, 1000)))
    for i in range(n_hash):
        fields: list[object] = []
        for f in range(rng.randint(3, 8)):
            fields += [f"field{f}", value(rng.randint(4, 24))]
        yield _resp("HSET", f"user:{i}", *fields)
    for i in range(n_iset):
        yield _resp("SADD", f"tags:int:{i}", *rng.sample(range(10**6), rng.randint(2, 10)))
    for i in range(n_sset):
        yield _resp("SADD", f"tags:{i}", *[value(rng.randint(5, 15)) for _ in range(rng.randint(2, 8))])
    for i in range(n_zset):
        pairs: list[object] = []
        for m in range(rng.randint(2, 10)):
            pairs += [rng.random() * 1000, f"member{m}"]
        yield _resp("ZADD", f"rank:{i}", *pairs)
    for i in range(n_list):
        yield _resp("RPUSH", f"queue:{i}", *[value(rng.randint(8, 40)) for _ in range(rng.randint(2, 12))])
    for i in range(n_big):
        fields = []
        for f in range(2000):
            fields += [f"f{f}", value(rng.randint(8, 24))]
        yield _resp("HSET", f"big:hash:{i}", *fields)
        yield _resp("SADD", f"big:set:{i}", *[value(12) for _ in range(2000)])
        pairs = []
        for m in range(1000):
            pairs += [rng.random(), f"player:{m}"]
        yield _resp("ZADD", f"big:zset:{i}", *pairs)
        yield _resp("RPUSH", f"big:list:{i}", *[value(rng.randint(10, 30)) for _ in range(2000)])
    for i in range(n_stream):
        for _ in range(500):
            yield _resp("XADD", f"events:{i}", "*", "user", rng.randint(1, 10**6), "action", "click")
        yield _resp("XGROUP", "CREATE", f"events:{i}", "workers", "0")
        yield _resp("XREADGROUP", "GROUP", "workers", "w1", "COUNT", 50, "STREAMS", f"events:{i}", ">")


def build(flavour: str, total: int, path: Path) -> Path:
    """Write the mixed dataset into a fresh server of ``flavour`` and SAVE it to ``path``."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    cli = find_cli(flavour)
    if cli is None:
        raise SystemExit(f"no redis-cli for {flavour}")
    print(f"building {path.name}: {total:,} keys on {flavour} …", flush=True)
    start = time.perf_counter()
    with running_server(flavour) as server:
        pipe = subprocess.Popen(
            [cli, "-p", str(server.port), "--pipe"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
        )
        assert pipe.stdin is not None
        buf: list[bytes] = []
        size = 0
        for command in mixed_commands(total):
            buf.append(command)
            size += len(command)
            if size > 1 << 20:
                pipe.stdin.write(b"".join(buf))
                buf, size = [], 0
        pipe.stdin.write(b"".join(buf))
        pipe.stdin.close()
        if pipe.wait() != 0:
            raise SystemExit("redis-cli --pipe failed")
        server.client().save()
        shutil.copyfile(server.rdb_path, path)
    print(f"  {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - start:.0f} s", flush=True)
    return path


def time_ours(path: Path, repeat: int, **options: object) -> tuple[float, int, float]:
    """Best wall time, rows, and best CPU time (all threads: on a busy machine wall time lies)."""
    best = best_cpu = float("inf")
    rows = 0
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        rows = 0
        for batch in insightkit.read_rdb(path, **options):  # type: ignore[arg-type]
            rows += batch.num_rows
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best, rows, best_cpu


_STREAM_CHILD = """
import sys, time
sys.path.insert(0, sys.argv[1])
import insightkit
def hwm():  # peak RSS of this process image (ru_maxrss would include the parent before exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

list(insightkit.read_rdb(sys.argv[3]))  # warm up: imports and the memory model are not the decoder's
base = hwm()
start = time.perf_counter()
with open(sys.argv[2], "rb", buffering=0) as handle:
    rows = sum(b.num_rows for b in insightkit.read_rdb(handle))
elapsed = time.perf_counter() - start
print(rows, elapsed, hwm() - base)
"""


def stream_in_child(path: Path) -> tuple[float, float]:
    """Decode through a file object (4 MB reads, no mmap) in a fresh process: (seconds, peak RSS growth MB)."""
    out = subprocess.run(
        [sys.executable, "-c", _STREAM_CHILD, str(REPO), str(path), str(WARMUP)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[1]), int(out[2]) / 1024


def time_rdb_py(path: Path) -> tuple[float, int, float]:
    import rdb

    start, cpu = time.perf_counter(), time.process_time()
    keys = sum(1 for item in rdb.RdbDecoder(path) if "key" in item and item["type"] != "aux_field")
    return time.perf_counter() - start, keys, time.process_time() - cpu


def time_rdbtools(path: Path) -> tuple[float, int, float]:
    import io

    from rdbtools import MemoryCallback, RdbParser
    from rdbtools.memprofiler import PrintAllKeys

    out = io.BytesIO()
    printer = PrintAllKeys(out, None, None)
    start, cpu = time.perf_counter(), time.process_time()
    RdbParser(MemoryCallback(printer, 64)).parse(str(path))
    elapsed = time.perf_counter() - start
    return elapsed, out.getvalue().count(b"\n") - 1, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-rdbtools", action="store_true")
    args = parser.parse_args()

    r70 = build("redis70", args.keys, DATA / f"mixed_{args.keys}_r70.rdb")
    r62 = build("redis62", args.keys, DATA / f"mixed_{args.keys}_r62.rdb")
    subset_keys = max(1000, args.keys // 20)
    r62_subset = build("redis62", subset_keys, DATA / f"mixed_{subset_keys}_r62.rdb")

    for label, path in (("Redis 7.0 / RDB 10", r70), ("Redis 6.2 / RDB 9", r62)):
        mb = path.stat().st_size / 1e6
        ours, rows, cpu = time_ours(path, args.repeat)
        ours_nocrc, _, cpu_nocrc = time_ours(path, args.repeat, verify_checksum=False)
        per_m = ours / rows * 1e6
        print(f"\n{label}: {path.name}, {mb:.0f} MB, {rows:,} keys")
        print(
            f"  insightkit.read_rdb      {ours:6.3f} s  ({per_m:.3f} s per 1M keys, {mb / ours:,.0f} MB/s; "
            f"CPU {cpu:.3f} s incl. the CRC thread)"
        )
        print(f"  … verify_checksum=False  {ours_nocrc:6.3f} s  (CPU {cpu_nocrc:.3f} s)")
        streamed, rss_mb = stream_in_child(path)
        print(
            f"  … as a file-object stream {streamed:5.3f} s, peak RSS growth {rss_mb:.0f} MB (file: {mb:.0f} MB)"
        )
        rdbpy, rdbpy_keys, rdbpy_cpu = time_rdb_py(path)
        print(
            f"  rdb-py full decode       {rdbpy:6.3f} s  (CPU {rdbpy_cpu:.3f} s, {rdbpy_keys:,} keys)"
            f"  → insightkit is {rdbpy / ours:.1f}x faster (CPU: {rdbpy_cpu / cpu:.1f}x)"
        )
        if path is r62 and not args.skip_rdbtools:
            tools, tools_keys, tools_cpu = time_rdbtools(r62_subset)
            sub_ours, _, sub_cpu = time_ours(r62_subset, args.repeat)
            extrapolated = tools / max(tools_keys, 1) * rows
            print(
                f"  rdbtools memory report   {tools:6.3f} s (CPU {tools_cpu:.3f} s) on the 1/20 subset "
                f"({tools_keys:,} keys; insightkit {sub_ours:.3f} s, CPU {sub_cpu:.3f} s there)\n"
                f"                           → ~{extrapolated:,.0f} s extrapolated to the full file"
                f"  → insightkit is ~{extrapolated / ours:,.0f}x faster (CPU: {tools_cpu / sub_cpu:,.0f}x on the subset)"
            )


if __name__ == "__main__":
    main()
