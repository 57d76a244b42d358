"""The 10M-key RDB the end-to-end benchmark reads, written by a real Redis 7.0.

Most keys come from ``DEBUG POPULATE`` (the fastest way a server makes keys); the rest is a realistic mix
sent as raw RESP through ``redis-cli --pipe``: user hashes, sessions and rate limiters with TTLs, carts
as intsets, feeds as lists, leaderboards as sorted sets, a few big hashes and sets in hashtable
encoding. Generated once and cached next to the benchmark (the file is ~0.5 GB; never committed).
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from servers import find_cli, running_server  # noqa: E402

MIX_KEYS = 4_000_000  # written through pipelines; DEBUG POPULATE makes the rest


def _resp(*parts: object) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _mix(total: int, seed: int = 10) -> Iterator[bytes]:
    """RESP commands for ``total`` keys in realistic proportions."""
    rng = random.Random(seed)
    shares = {
        "user": 0.375,
        "session": 0.25,
        "rate": 0.125,
        "cart": 0.1,
        "feed": 0.075,
        "lb": 0.05,
        "big": 0.0001,
    }
    counts = {name: int(total * share) for name, share in shares.items()}
    counts["config"] = total - sum(counts.values())
    for i in range(counts["user"]):
        yield _resp(
            "HSET",
            f"user:{100000 + i}:profile",
            "name",
            f"user{i}",
            "email",
            f"u{i}@example.com",
            "plan",
            rng.choice(("free", "pro", "team")),
            "visits",
            rng.randint(0, 5000),
        )
    for _ in range(counts["session"]):
        yield _resp(
            "SET",
            f"session:{rng.getrandbits(64):016x}",
            "s" * rng.randint(40, 300),
            "EX",
            rng.randint(60, 86_400),
        )
    for i in range(counts["rate"]):
        yield _resp(
            "SET",
            f"rate:10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}:{i % 60}",
            rng.randint(1, 500),
            "EX",
            rng.randint(5, 120),
        )
    for i in range(counts["cart"]):
        yield _resp("SADD", f"cart:{i}", *[rng.randint(1, 10**6) for _ in range(rng.randint(1, 12))])
    for i in range(counts["feed"]):
        yield _resp(
            "RPUSH", f"feed:{i}:items", *[f"post-{rng.randint(1, 10**7)}" for _ in range(rng.randint(2, 20))]
        )
    for i in range(counts["lb"]):
        args: list[object] = []
        for j in range(rng.randint(3, 30)):
            args += [rng.randint(0, 10**6), f"player:{j}"]
        yield _resp("ZADD", f"lb:game:{i}", *args)
    for i in range(counts["big"]):
        yield _resp("HSET", f"catalog:{i}", *[x for j in range(2000) for x in (f"sku-{j}", "y" * 60)])
    for i in range(counts["config"]):
        yield _resp("SET", f"config:flag:{i}", "on")


def make(target: Path, keys: int = 10_000_000, *, flavour: str = "redis70") -> Path:
    """Write ``keys`` keys into a fresh server, SAVE, and copy the RDB to ``target``."""
    mix = min(MIX_KEYS, keys // 2)
    populate = keys - mix
    cli = find_cli(flavour)
    if cli is None:
        raise RuntimeError(f"no redis-cli for {flavour}")
    started = time.perf_counter()
    debug = ["--enable-debug-command", "yes"] if flavour != "redis62" else []  # 6.2 always allows DEBUG
    with running_server(flavour, args=debug) as server:
        client = server.client(socket_timeout=900)
        client.execute_command("DEBUG", "POPULATE", populate, "cache:obj", 64)
        feeder = subprocess.Popen(
            [cli, "-p", str(server.port), "--pipe"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
        )
        assert feeder.stdin is not None
        buffer: list[bytes] = []
        for command in _mix(mix):
            buffer.append(command)
            if len(buffer) >= 10_000:
                feeder.stdin.write(b"".join(buffer))
                buffer.clear()
        feeder.stdin.write(b"".join(buffer))
        feeder.stdin.close()
        if feeder.wait() != 0:
            raise RuntimeError("redis-cli --pipe failed")
        written = client.dbsize()
        client.save()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(server.rdb_path, target)
    print(
        f"{target}: {written:,} keys, {target.stat().st_size / 2**20:.0f} MiB "
        f"in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    return target


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/ik-bench/e2e-10m.rdb")
    make(out, int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000)
