"""Live snapshot speed: replica sync + decode vs ``redis-cli --rdb``, and the DUMP method's keys/s.

A real Redis 7.0 (Debian's, jemalloc) on a free loopback port is filled with a mixed keyspace
(90% small strings via DEBUG POPULATE, the rest hashes, sets, sorted sets and lists written through a
pipeline), then:

- ``redis-cli --rdb``: the peer; it only fetches the RDB to a file;
- insightkit replica: ``open_snapshot(method="sync")`` with every batch decoded (rows and RAM estimates);
- insightkit DUMP: the SCAN + pipelined DUMP/PTTL walk alone (assembled RDB discarded), and walk + decode.

Each timing is the best of ``--repeat`` runs (peer and ours interleaved; medians too), for both disk-based
and diskless replication. For disk-based replication the *tail* is printed too: from the payload header
(the master's BGSAVE is done, the bytes start to flow) to the last decoded batch, which is the part of our
time that the peer (fetching only) does not have.

    python benchmarks/bench_snapshot.py                # 1M keys (about two minutes)
    python benchmarks/bench_snapshot.py --keys 200000
"""

from __future__ import annotations

import argparse
import atexit
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def fill(server: object, keys: int) -> None:
    client = server.client()  # type: ignore[attr-defined]
    strings = keys * 9 // 10
    client.execute_command("DEBUG", "POPULATE", strings, "str", 60)
    pipe = client.pipeline(transaction=False)
    rest = keys - strings
    for i in range(rest):
        kind = i % 4
        if kind == 0:
            pipe.hset(f"user:{i}:profile", mapping={"name": f"n{i}", "age": i % 90, "city": "x" * (i % 20)})
        elif kind == 1:
            pipe.sadd(f"tags:{i}", *range(i % 12 + 1))
        elif kind == 2:
            pipe.zadd(f"board:{i}", {f"m{j}": j for j in range(i % 10 + 1)})
        else:
            pipe.rpush(f"queue:{i}", *[f"job-{j}" for j in range(i % 8 + 1)])
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    assert client.dbsize() == keys, client.dbsize()


def best(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-sync", action="store_true", help="only the DUMP method")
    parser.add_argument("--skip-dump", action="store_true", help="only the replica (sync) method")
    args = parser.parse_args()

    from servers import find_cli, running_server

    from insightkit.acquire import open_snapshot, replica
    from insightkit.acquire.connection import RespClient
    from insightkit.acquire.dump import DumpWalker
    from insightkit.acquire.serverinfo import collect
    from insightkit.acquire.sources import parse_source

    cli = find_cli("redis70")
    tmp = Path(tempfile.mkdtemp(prefix="ik-bench-snap-"))
    atexit.register(shutil.rmtree, tmp, True)  # redis-cli's copy of the RDB (36 MB per 1M keys)
    server_args = ["--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes"]
    with running_server("redis70", args=server_args) as server:
        t0 = time.perf_counter()
        fill(server, args.keys)
        print(f"filled {args.keys:,} keys in {time.perf_counter() - t0:.1f}s")

        def redis_cli() -> None:
            subprocess.run(
                [str(cli), "-p", str(server.port), "--rdb", str(tmp / "cli.rdb")],
                check=True,
                capture_output=True,
            )

        header_at: list[float] = []
        read_header = replica.ReplicaStream._read_header

        def timed_header(self: replica.ReplicaStream) -> str:
            header = read_header(self)
            header_at.append(time.perf_counter())
            return header

        replica.ReplicaStream._read_header = timed_header  # type: ignore[method-assign]
        tails: list[float] = []

        def ours(method: str) -> Callable[[], None]:
            def run() -> None:
                rows = 0
                header_at.clear()
                with open_snapshot(server.url, method=method, progress=False) as snap:
                    for batch in snap.batches():
                        rows += batch.num_rows
                if header_at:
                    tails.append(time.perf_counter() - header_at[0])
                assert rows == args.keys, rows

            return run

        def dump_walk_only() -> None:
            spec = parse_source(server.url, {})
            with RespClient(spec) as client:
                info = collect(client)
                walker = DumpWalker(client, dbs=info.keyspace(), aux={}, default_rdb_version=10)
                size = sum(len(c) for c in walker.chunks())
            assert walker.stats.keys == args.keys and size > 0

        client = server.client()
        print(f"load average before the sync runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(
            f"\n{'mode':10} {'redis-cli --rdb':>16} {'insightkit sync+decode':>23} {'ratio':>7}   (medians)"
        )
        for diskless in () if args.skip_sync else ("no", "yes"):
            client.config_set("repl-diskless-sync", diskless)
            # Interleaved (peer, ours, peer, ours …) so that a change in machine load hits both alike.
            peers, mine = [], []
            tails.clear()
            for _ in range(args.repeat):
                peers.append(best(1, redis_cli))
                mine.append(best(1, ours("sync")))
            mode = "diskless" if diskless == "yes" else "disk"
            p, m = min(peers), min(mine)
            pm, mm = statistics.median(peers), statistics.median(mine)
            print(f"{mode:10} {p:15.3f}s {m:22.3f}s {m / p:6.3f}x   ({pm:.3f}s / {mm:.3f}s = {mm / pm:.3f}x)")
            if diskless == "no" and tails:
                print(
                    f"{'':10} tail (payload header -> last batch): best {min(tails):.3f}s, median {statistics.median(tails):.3f}s"
                )
        if not args.skip_sync:
            print(f"(RDB size {(tmp / 'cli.rdb').stat().st_size / 1e6:.1f} MB)")

        def cpu_of(fn: Callable[[], object]) -> tuple[float, float, float]:
            """(wall, our CPU, server CPU) seconds for one run."""
            before = resource.getrusage(resource.RUSAGE_SELF)
            server_before = client.info("cpu")
            start = time.perf_counter()
            fn()
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_SELF)
            server_after = client.info("cpu")
            ours_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            server_cpu = sum(server_after[k] - server_before[k] for k in ("used_cpu_user", "used_cpu_sys"))
            return wall, ours_cpu, server_cpu

        if args.skip_dump:
            return
        print(f"\nload average before the DUMP runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        for label, fn in (
            ("DUMP walk (SCAN + DUMP + PTTL, RDB assembled)", dump_walk_only),
            ("DUMP walk + decode", ours("dump")),
        ):
            runs = [cpu_of(fn) for _ in range(args.repeat)]
            wall, mine_cpu, server_cpu = min(runs)
            bound = max(mine_cpu, server_cpu)
            print(
                f"{label:46} {wall:6.2f}s wall = {args.keys / wall:>9,.0f} keys/s; CPU: ours {mine_cpu:.2f}s, "
                f"server {server_cpu:.2f}s -> {args.keys / bound:,.0f} keys/s when neither waits for a core"
            )


if __name__ == "__main__":
    main()
