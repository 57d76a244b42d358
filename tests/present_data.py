"""A realistic keyspace written into a real server, saved, and analysed: the data presentation tests read.

Namespaces people recognise (users, sessions, caches, leaderboards, queues, rate limiters, events),
every type in small and large encodings, TTLs from seconds to months, two databases, and a few keys
whose names are markup, to prove the HTML escapes them.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import redis
from servers import Server, running_server

HOSTILE_KEY = "<script>alert('ik')</script>:1"


def populate(server: Server, *, seed: int = 7) -> None:
    """Write about 5,000 keys through pipelines (a second or so on a local server)."""
    rng = random.Random(seed)
    pipe = server.client().pipeline(transaction=False)
    for i in range(800):
        pipe.hset(
            f"user:{1000 + i}:profile",
            mapping={"name": f"user{i}", "email": f"u{i}@example.com", "plan": "pro"},
        )
        if i % 3 == 0:
            pipe.set(f"user:{1000 + i}:session", "s" * rng.randint(40, 400), ex=rng.randint(60, 86_400))
    for i in range(600):
        pipe.set(
            f"cache:page:/products/{i}",
            "x" * rng.choice([30, 200, 2_000, 20_000]),
            ex=rng.randint(600, 7 * 86_400),
        )
    for _ in range(400):
        pipe.set(f"rate:{rng.randint(1, 10**9)}:minute", rng.randint(1, 500), ex=rng.randint(5, 60))
    for i in range(200):
        pipe.set(f"config:feature:{i}", "on")  # no TTL: a "keys without TTL" family
    for board in range(3):
        members = {f"player:{j}": rng.random() * 1000 for j in range(50 if board else 2_000)}
        pipe.zadd(f"leaderboard:{board}", members)
    for q in range(20):
        pipe.rpush(f"queue:jobs:{q}", *[f"job-{q}-{j}" for j in range(rng.choice([5, 50, 300]))])
    for t in range(300):
        pipe.sadd(f"tags:item:{t}", *range(rng.randint(1, 30)))
    pipe.sadd("tags:all", *[f"tag-{j}" for j in range(3_000)])
    pipe.hset("catalog:big", mapping={f"sku-{j}": "y" * 80 for j in range(2_000)})
    for e in range(500):
        pipe.xadd("events:stream", {"type": "click", "n": str(e)})
    # Just past the compact-encoding limits: the rules price raising the limits or reshaping these.
    for t in range(20):
        pipe.hset(f"settings:tenant:{t}", mapping={f"opt{j}": str(j) for j in range(200)})
    for s in range(10):
        pipe.sadd(f"followers:{s}", *range(10_000, 10_600))
    for z in range(10):
        pipe.zadd(f"scores:match:{z}", {f"p{j}": j for j in range(150)})
    for c in range(2_000):
        pipe.set(f"counter:item:{c}", rng.randint(1, 10**6))
    pipe.set("report:html:daily", "<tr><td>row</td></tr>" * 30_000)  # a big, compressible string
    pipe.set(HOSTILE_KEY, "markup in a key name")
    pipe.execute()
    archive: redis.Redis = server.client(db=1)
    pipe = archive.pipeline(transaction=False)
    for i in range(150):
        pipe.set(f"archive:2024:{i}", "z" * 500, ex=40 * 86_400)
    pipe.execute()


def make_rdb(target: Path, flavour: str = "redis70") -> Path:
    """Populate a fresh server, SAVE, and copy its RDB to ``target``."""
    with running_server(flavour) as server:
        populate(server)
        shutil.copyfile(server.save(), target)
    return target


def analysed_sample(workdir: Path) -> object:
    """``insightkit.analyze`` of :func:`make_rdb`'s file: real decoder, patterns, rules, summary."""
    import insightkit

    rdb = make_rdb(workdir / "present.rdb")
    return insightkit.analyze(rdb, progress=False)
