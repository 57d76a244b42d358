"""Regenerate data/samples/sample.rdb (and its RSNAP) from a real Redis 7.0 server.

The sample imitates a small web application's cache/session store: a few thousand keys over three
databases, namespaced the way applications do it (``user:<id>:profile``, ``session:<uuid>``,
``cache:product:<id>``, …), every type, compact and non-compact encodings, TTLs from seconds to months,
and LRU idle times (allkeys-lru). Values are fake but shaped like real ones. Deterministic for a given
seed, except for timestamps the server writes (ctime, TTL bases, idle times).

    python data/samples/make_sample.py               # writes sample.rdb and sample.rsnap.parquet
    python data/samples/make_sample.py --rsnap-only  # re-derives the RSNAP (after decoder/model changes)
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import redis  # noqa: E402
from servers import running_server  # noqa: E402

DAY = 86_400


def _name(rng: random.Random) -> str:
    first = rng.choice(["ana", "bo", "chen", "dev", "eli", "fatima", "gus", "hana", "ivan", "jo", "kai"])
    return f"{first}{rng.randint(1, 999)}"


def populate(client: redis.Redis, seed: int = 7) -> None:
    """Write the sample keyspace through ``client``."""
    rng = random.Random(seed)
    uid = lambda: str(uuid.UUID(int=rng.getrandbits(128)))  # noqa: E731
    pipe = client.pipeline(transaction=False)

    # db 0: the web application
    pipe.select(0)
    users = list(range(1000, 1900))
    for u in users:
        name = _name(rng)
        pipe.hset(
            f"user:{u}:profile",
            mapping={
                "name": name,
                "email": f"{name}@example.com",
                "created": str(1_600_000_000 + rng.randint(0, 10**8)),
                "plan": rng.choice(["free", "free", "pro", "team"]),
            },
        )
        if rng.random() < 0.35:  # logged-in users hold sessions
            for _ in range(rng.randint(1, 3)):
                pipe.set(f"user:{u}:session:{uid()}", uid(), ex=rng.randint(600, DAY))
        if rng.random() < 0.2:
            items: dict[Any, Any] = {
                f"sku-{rng.randint(1, 5000)}": str(rng.randint(1, 4)) for _ in range(rng.randint(1, 12))
            }
            pipe.hset(f"cart:{u}", mapping=items)
            pipe.expire(f"cart:{u}", 7 * DAY)
        if rng.random() < 0.25:
            followers = rng.sample(users, rng.randint(1, 40))
            pipe.sadd(f"followers:{u}", *followers)  # integers → intset
    for _ in range(400):
        payload = json.dumps({"uid": rng.choice(users), "csrf": uid(), "ua": "Mozilla/5.0 (X11; Linux)"})
        pipe.set(f"session:{uid()}", payload, ex=rng.randint(1800, 4 * 3600))
    for p in range(1, 601):
        doc = {
            "id": p,
            "title": f"Product {p}",
            "price": round(rng.uniform(1, 500), 2),
            "description": "lorem ipsum dolor sit amet " * rng.randint(1, 40),
        }
        ttl = rng.choice([None, 3600, DAY, 3 * DAY, 14 * DAY])
        pipe.set(f"cache:product:{p}", json.dumps(doc), ex=ttl)
    for p in range(1, 201):
        pipe.sadd(f"tags:product:{p}", *rng.sample(["red", "blue", "sale", "new", "eco", "xl", "kids"], 3))
    for i in range(300):
        ip = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        pipe.set(f"rate:{ip}:{28_000_000 + i}", rng.randint(1, 120), ex=rng.randint(30, 90))
    for i in range(150):
        u = rng.choice(users)
        events = [json.dumps({"t": "like", "post": rng.randint(1, 10**6)}) for _ in range(rng.randint(1, 60))]
        pipe.rpush(f"feed:{u}:{i}", *events)
    for i in range(2):  # a few runaway feeds (quicklist with many nodes)
        pipe.rpush(f"feed:bot{i}:timeline", *[f"event-{n}-" + "x" * 80 for n in range(2500)])
    for game in ("chess", "go", "poker"):
        for season in range(1, 5):
            size = 40 if season < 4 else 1500  # the live season is big → skiplist
            pipe.zadd(
                f"leaderboard:{game}:s{season}", {f"player{n}": rng.randint(0, 10**6) for n in range(size)}
            )
    pipe.hset("config:feature-flags", mapping={f"flag_{n}": rng.choice(["on", "off"]) for n in range(300)})
    for d in range(30):
        pipe.set(f"counter:pageviews:2026-10-{d + 1:02d}", rng.randint(10**4, 10**6))
        pipe.pfadd(f"hll:visitors:2026-10-{d + 1:02d}", *[f"v{rng.randint(1, 10**6)}" for _ in range(300)])
    for _ in range(40):
        pipe.set(f"lock:invoice:{rng.randint(10**5, 10**6)}", uid(), px=rng.randint(5_000, 60_000))
    pipe.geoadd("geo:stores", [-0.1276, 51.5072, "london", 2.3522, 48.8566, "paris", 13.405, 52.52, "berlin"])
    pipe.set("blob:report:2026-Q3", b"%PDF-1.7 " + bytes(rng.getrandbits(8) for _ in range(30000)))
    pipe.set(b"bin:\x00\xff\xfe:raw", b"binary key name")
    pipe.set("legacy_cache_" + "k" * 120, "long key name, no separators")
    for s in range(4):
        stream = f"stream:events:{s}"
        for _ in range(rng.randint(50, 400)):
            pipe.xadd(stream, {"type": rng.choice(["click", "view", "buy"]), "uid": str(rng.choice(users))})
    pipe.execute()
    client.xgroup_create("stream:events:0", "billing", id="0")
    client.xgroup_create("stream:events:0", "analytics", id="0")
    client.xreadgroup("billing", "worker-1", {"stream:events:0": ">"}, count=25)

    # db 1: background jobs
    pipe.select(1)
    for j in range(250):
        pipe.hset(
            f"job:{90_000 + j}",
            mapping={
                "state": rng.choice(["queued", "running", "done", "failed"]),
                "tries": rng.randint(0, 5),
            },
        )
        if rng.random() < 0.5:
            pipe.expire(f"job:{90_000 + j}", rng.randint(DAY, 30 * DAY))
    for q in ("mail", "thumbnails", "webhooks"):
        pipe.rpush(f"queue:{q}", *[str(90_000 + rng.randint(0, 249)) for _ in range(rng.randint(20, 300))])
    # db 2: a forgotten namespace nobody expires
    pipe.select(2)
    for _ in range(200):
        pipe.set(f"tmp:import:{uid()}", "x" * rng.randint(10, 2000))
    pipe.execute()


def main() -> None:
    target = HERE / "sample.rdb"
    if "--rsnap-only" not in sys.argv[1:]:
        write_rdb(target)
    import insightkit

    os.chdir(HERE)  # so the RSNAP records the relative path, not this machine's layout
    analysis = insightkit.analyze(target.name, progress=False)
    out = analysis.to_rsnap("sample.rsnap.parquet")
    print(f"wrote {HERE / out} ({(HERE / out).stat().st_size:,} bytes, {len(analysis.keys):,} keys)")


def write_rdb(target: Path) -> None:
    """Populate a fresh Redis 7.0 and keep the RDB it saves."""
    with running_server("redis70", args=["--maxmemory-policy", "allkeys-lru"]) as server:
        client = server.client()
        populate(client)
        server.save()
        shutil.copyfile(server.rdb_path, target)
    print(f"wrote {target} ({target.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
