"""Server configuration rules: eviction setup, logical databases, versions with memory wins."""

from __future__ import annotations

import datetime as dt
import time

import narwhals as nw

from insightkit._text import human_bytes
from insightkit.recommend import cost
from insightkit.recommend._expr import encoded, is_type
from insightkit.recommend.base import Case, Context, Finding, Rule, known_version
from insightkit.recommend.owners import owners_present

_LIVE = {"info": {"memory": {"used_memory": 50_000_000}}}


def _policy(ctx: Context) -> str | None:
    value = ctx.config("maxmemory-policy")
    return str(value) if value is not None else None


def _maxmemory(ctx: Context) -> int | None:
    """maxmemory in bytes from the server's CONFIG, or None when it was not read."""
    value = ctx.config("maxmemory")
    try:
        return int(float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def _maxmemory_unset(ctx: Context) -> Finding | None:
    if _maxmemory(ctx) != 0:
        return None
    used = ctx.info_num("memory", "used_memory") or 0
    return Finding(detail=f"maxmemory is 0 with {human_bytes(used)} used: growth is bounded only by the OS")


MAXMEMORY_UNSET = Rule(
    id="maxmemory-unset",
    title="maxmemory is not set",
    category="configuration",
    severity="medium",
    description=(
        "Without maxmemory Redis grows until the kernel's OOM killer stops it, or until the host swaps. "
        "Set it below the memory available to the process (leave room for fork copy-on-write and "
        "buffers). Trade-off: at the limit, writes fail (noeviction) or keys are evicted."
    ),
    fix="CONFIG SET maxmemory <about 75% of the host's RAM>   # and persist in redis.conf",
    check=_maxmemory_unset,
    fire=Case(metadata={"config": {"maxmemory": "0"}, **_LIVE}),
    quiet=Case(metadata={"config": {"maxmemory": "1073741824"}, **_LIVE}),
)


def _noeviction_fix(ctx: Context) -> str:
    """volatile-lru, unless a job queue or broker lives here: then why noeviction stays."""
    brokers = [library for library in owners_present(ctx) if library.broker]
    if not brokers:
        return "CONFIG SET maxmemory-policy volatile-lru"
    names = ", ".join(library.title for library in brokers)
    return (
        f"Keep maxmemory-policy noeviction: {names} keep jobs and queues here, and an eviction policy "
        "would drop them silently (jobs enqueued with a TTL are volatile-* candidates too); the "
        "libraries ask for noeviction. Instead: leave maxmemory headroom and alert on used_memory / "
        "OOM errors, keep results short-lived (see results-without-expiry), and move caches with TTLs "
        "to an instance of their own with volatile-lru or allkeys-lru."
    )


NOEVICTION_VOLATILE = Rule(
    id="noeviction-with-volatile-keys",
    title="noeviction policy while keys carry TTLs",
    category="configuration",
    severity="medium",
    description=(
        "Keys with a TTL are usually cache data that may be dropped early, yet with maxmemory-policy "
        "noeviction a full server rejects writes instead of evicting them. volatile-lru (or volatile-lfu) "
        "evicts only keys that carry a TTL. Where a job queue or broker (RQ, Celery, Sidekiq, BullMQ, "
        "dramatiq, huey, arq) keeps its keys, the finding explains why noeviction stays instead: "
        "those libraries need it. Silent while maxmemory is 0 (no limit, so no policy ever applies; "
        "maxmemory-unset covers that). Trade-off: evicted data must be recomputable."
    ),
    fix=lambda ctx, agg: _noeviction_fix(ctx),
    gate=lambda ctx: _policy(ctx) == "noeviction" and (_maxmemory(ctx) or 0) > 0,
    select=lambda ctx: ~nw.col("expires_at").is_null(),
    fire=Case(
        keys=({"key": "c:1", "expires_at": 1_900_000_000_000},),
        metadata={"config": {"maxmemory-policy": "noeviction", "maxmemory": "1073741824"}},
    ),
    quiet=Case(
        keys=({"key": "c:1", "expires_at": 1_900_000_000_000},),
        metadata={"config": {"maxmemory-policy": "noeviction", "maxmemory": "0"}},
    ),
)

VOLATILE_NO_TTL = Rule(
    id="volatile-policy-keys-without-ttl",
    title="volatile-* eviction policy cannot evict these keys",
    category="configuration",
    severity="low",
    description=(
        "A volatile-* policy evicts only keys with a TTL. Keys without one can never be evicted, so if "
        "they fill memory the server answers OOM errors although an eviction policy is set. Either give "
        "them TTLs or use an allkeys-* policy. Trade-off: allkeys-* may evict data you meant to keep."
    ),
    fix="CONFIG SET maxmemory-policy allkeys-lru   # or give these keys a TTL",
    gate=lambda ctx: (_policy(ctx) or "").startswith("volatile-"),
    select=lambda ctx: nw.col("expires_at").is_null(),
    fire=Case(keys=({"key": "u:1"},), metadata={"config": {"maxmemory-policy": "volatile-lru"}}),
    quiet=Case(keys=({"key": "u:1"},), metadata={"config": {"maxmemory-policy": "allkeys-lru"}}),
)

SEVERAL_DBS = Rule(
    id="several-logical-dbs",
    title="Keys spread over several logical databases",
    category="operations",
    severity="low",
    description=(
        "Logical databases share one thread and one config, are not supported by Redis Cluster, and "
        "FLUSHALL or a restore hits them all; each also carries its own dict tables. Prefer key "
        "prefixes or separate instances. Trade-off: moving data needs a migration."
    ),
    fix="Move the keys of db N under a prefix in db 0 (MOVE is per key; or a separate instance per app).",
    select=lambda ctx: nw.col("several_dbs") & (nw.col("db") != nw.col("first_db")),
    peers=("RedisInsight v1/v2 avoidLogicalDatabases",),
    fire=Case(keys=({"key": "a"}, {"key": "b", "db": 3})),
    quiet=Case(keys=({"key": "a", "db": 2}, {"key": "b", "db": 2})),
)

UPGRADE_LISTPACK_SETS = Rule(
    id="upgrade-for-listpack-sets",
    title="Small string sets that Redis 7.2+ would pack",
    category="configuration",
    severity="low",
    description=(
        "Before Redis 7.2 a set that is not all integers is always a hashtable, even with three members. "
        "7.2 (and every Valkey) stores small sets as listpacks; these sets would shrink by the priced "
        "amount on upgrade. Trade-off: an upgrade needs testing like any other."
    ),
    fix="Upgrade to Redis >= 7.2 or Valkey >= 7.2 (set-max-listpack-entries 128, set-max-listpack-value 64).",
    gate=lambda ctx: ctx.version < (7, 2, 0),
    select=lambda ctx: (
        is_type("set")
        & encoded("hashtable")
        & ~nw.col("all_integers").fill_null(False)
        & (nw.col("num_elements") <= 128)
        & (nw.col("largest_element_bytes") <= 64)
    ),
    saving=lambda ctx: cost.saving_steps(
        cost.listpack_steps("lp", nw.col("num_elements"), nw.col("element_bytes"), ctx.allocator),
        saving=lambda after: nw.col("value_bytes") - after,
    ),
    fire=Case(
        keys=(
            {
                "key": "tags:1",
                "type": "set",
                "encoding": "hashtable",
                "num_elements": 5,
                "all_integers": False,
            },
        ),
        metadata={"server": {"family": "redis", "version": "7.0.15"}},
    ),
    quiet=Case(
        keys=(
            {
                "key": "tags:1",
                "type": "set",
                "encoding": "listpack",
                "num_elements": 5,
                "all_integers": False,
            },
        ),
        metadata={"server": {"family": "redis", "version": "7.2.4"}},
    ),
)


# Support windows, as the projects publish them (reviewed December 2026):
# - Redis (SECURITY.md): 8.2.x, 8.0.x and 7.4.x get security fixes; 6.2.x "may be removed after the end
#   of 2025"; everything else does not. RedisInsight's redisVersion check flags redis_version < 7.3
#   ("upgrade to version 8 or above"), so flagging < 7.4 is at least as strict for every real release.
# - Valkey (valkey.io/topics/releases): each minor gets bug and security fixes for 3 years from its
#   first release; the table below gives each minor's end of maintenance.
VALKEY_MAINTENANCE_END = {
    (7, 2): "2027-04-16",
    (8, 0): "2027-09-15",
    (8, 1): "2028-03-31",
    (9, 0): "2028-10-21",
}


def _reference_day(ctx: Context) -> dt.date:
    """The day the question is asked for: the snapshot's, else today."""
    ms = ctx.now_ms
    seconds = ms / 1000 if ms is not None else time.time()
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).date()


def _outdated(ctx: Context) -> Finding | None:
    version = ctx.version_known
    if version is None:
        return None  # no version recorded, or not one that reads as a version: no advice
    shown = ".".join(map(str, version))
    if ctx.family == "valkey":
        minimum = known_version(ctx["min_recommended_valkey_version"])
        if minimum is None:
            return None
        if version < minimum:
            return Finding(detail=f"Valkey {shown} is older than {ctx['min_recommended_valkey_version']}")
        end = VALKEY_MAINTENANCE_END.get(version[:2])
        if end is None or _reference_day(ctx) <= dt.date.fromisoformat(end):
            return None  # a maintained minor, or one newer than the table
        return Finding(detail=f"Valkey {version[0]}.{version[1]} left maintenance on {end}")
    minimum = known_version(ctx["min_recommended_version"])
    if minimum is None or version >= minimum:
        return None
    return Finding(
        detail=f"Redis {shown} < {ctx['min_recommended_version']}: no longer patched "
        "(Redis patches 8.2.x, 8.0.x and 7.4.x; RedisInsight flags < 7.3)"
    )


OUTDATED = Rule(
    id="outdated-version",
    title="Server version no longer maintained",
    category="operations",
    severity="medium",
    description=(
        "The server runs a release its project no longer patches: Redis fixes security issues in 7.4.x "
        "and the 8.x lines only, Valkey maintains each minor for three years. Older releases also miss "
        "memory work of later ones (listpacks everywhere in 7.0, listpack sets in 7.2, smaller keyspace "
        "entries in Valkey 8 and new hash tables in 8.1). An unknown or unreadable version gives no "
        "advice. Trade-off: an upgrade needs testing."
    ),
    fix="Upgrade to a maintained release: Redis 8.2 (or 7.4) / Valkey 8.1 or 9.0.",
    check=_outdated,
    thresholds=("min_recommended_version", "min_recommended_valkey_version"),
    peers=("RedisInsight v2 redisVersion",),
    fire=Case(metadata={"server": {"family": "redis", "version": "6.2.14"}}),
    quiet=Case(metadata={"server": {"family": "redis", "version": "8.2.3"}}),
)

RULES = [MAXMEMORY_UNSET, NOEVICTION_VOLATILE, VOLATILE_NO_TTL, SEVERAL_DBS, UPGRADE_LISTPACK_SETS, OUTDATED]
