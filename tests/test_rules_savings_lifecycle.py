"""Acceptance, continued from test_rules_savings.py: the rules whose fix expires, deletes or shrinks keys
(TTLs, idle keys, big values, streams' pending entries, time series in zsets) and the library rules,
where the job and cache libraries themselves write the data and the library's own setting is the fix.
Each scenario is measured on a real server by tests/savings_harness.py.
"""

from __future__ import annotations

import json
import random
import re
import time
import zlib
from typing import Any

import pandas as pd
import pytest
import redis
from savings_harness import (
    Scenario,
    pipe,
    run_scenario,
    scenario_id,
)

pytestmark = pytest.mark.server


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
    pipe(c, (lambda p, i=i: p.set(f"user:{i}", f"u{i}") for i in range(3000)))


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
    pipe(
        c, (lambda p, i=i: p.set(f"session:{i}", f"s{i:06d}:" + "x" * 120, px=1000) for i in range(SESSIONS))
    )
    pipe(c, (lambda p, i=i: p.set(f"token:{i}", "t" * 60, ex=DAY) for i in range(3000)))
    pipe(c, (lambda p, i=i: p.set(f"user:{i}", f"u{i}") for i in range(3000)))
    time.sleep(1.5)


def _scan_patterns(c: redis.Redis, finding: pd.Series) -> None:
    """The fix's "SCAN the pattern to trigger lazy expiry", on the patterns the finding lists."""
    for pattern in finding["top_patterns"]:
        for _ in c.scan_iter(match=str(pattern), count=1000):
            pass


CACHE_ENTRIES, IDLE_ENTRIES = 5500, 3500


def _cache_without_ttl(c: redis.Redis) -> None:
    """Product cache entries written without a TTL; most were not read for three days."""
    pipe(
        c, (lambda p, i=i: p.set(f"cache:product:{i}", json.dumps(_product(i))) for i in range(CACHE_ENTRIES))
    )
    pipe(
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
    pipe(c, (lambda p, k=k, idle=idle: p.expire(k, ttl - idle) for k, idle in pairs))


def _archive_and_idle(c: redis.Redis) -> None:
    """Orders and reports nobody read for 40 days beside users read today (6,000 keys; 4,500 remain, so
    the keyspace table keeps its size: a reload would shrink it at once, a live server only below
    10 % fill)."""
    pipe(
        c,
        (
            lambda p, i=i: p.hset(
                f"order:{i}", mapping={"status": "shipped", "total": f"{i * 3}.50", "items": "sku-1,sku-2"}
            )
            for i in range(2000)
        ),
    )
    pipe(c, (lambda p, i=i: p.set(f"report:{i}", f"report {i}: " + "r" * 300) for i in range(500)))
    pipe(c, (lambda p, i=i: p.set(f"user:{i}", f"u{i}") for i in range(3500)))
    _age(c, 40 * DAY, [f"order:{i}" for i in range(0, 2000, 2)] + [f"report:{i}" for i in range(500)])


def _cold_under_lfu(c: redis.Redis) -> None:
    """Under allkeys-lfu: documents whose access counter decayed to 0 beside hot ones (RESTORE … FREQ
    sets the counter the decay would have left)."""
    pipe(c, (lambda p, i=i: p.set(f"doc:{i}", json.dumps(_product(i))) for i in range(4000)))
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
    pipe(
        c, (lambda p, i=i: p.xadd(f"activity:{i}", {"event": "signup", "plan": "free"}) for i in range(1500))
    )
    for i in range(1500, 1540):
        pipe(
            c,
            (
                lambda p, i=i, j=j: p.xadd(f"activity:{i}", {"event": "view", "page": f"/p/{j % 50}"})
                for j in range(250)
            ),
        )
    for i in range(1520, 1540):
        c.xgroup_create(f"activity:{i}", "mailer", id="0")
        c.xreadgroup("mailer", "mailer-1", {f"activity:{i}": ">"}, count=40)
    pipe(c, (lambda p, i=i: p.set(f"user:{i}", f"u{i}") for i in range(3000)))
    _age(
        c,
        40 * DAY,
        [f"activity:{i}" for i in range(0, 1500, 2)] + [f"activity:{i}" for i in range(1500, 1540)],
    )


def _delete_offenders(c: redis.Redis, finding: pd.Series, offenders: pd.DataFrame) -> None:
    """The fix's "DEL them": exactly the keys the finding lists."""
    names = list(offenders["key"].astype(str))
    pipe(c, (lambda p, k=k: p.delete(k) for k in names))


ORDER_STREAMS = 4


def _unacked_orders(c: redis.Redis) -> None:
    """Order streams fed by a pipelined producer; three billing workers read 500 entries at a time and
    crash before XACK (3,000 pending entries a stream)."""
    for i in range(ORDER_STREAMS):
        pipe(
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
        pipe(
            c,
            (lambda p, i=i, j=j: p.xadd(f"device:{i}:alerts", {"temp": str(20 + j % 7)}) for j in range(30)),
        )
    pipe(
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
        pipe(
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
        pipe(
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


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_estimated_saving_matches_measured_drop(scenario: Scenario) -> None:
    run_scenario(scenario, OFFENDERS)
