"""Server configuration rules: eviction setup, logical databases, versions with memory wins."""

from __future__ import annotations

import narwhals as nw

from insightkit.rules import cost
from insightkit.rules._expr import encoded, is_type
from insightkit.rules.base import Case, Context, Finding, Rule, parse_version
from insightkit.rules.owners import owners_present

_LIVE = {"info": {"memory": {"used_memory": 50_000_000}}}


def _policy(ctx: Context) -> str | None:
    value = ctx.config("maxmemory-policy")
    return str(value) if value is not None else None


def _maxmemory_unset(ctx: Context) -> Finding | None:
    value = ctx.config("maxmemory")
    if value is None or int(float(value)) != 0:
        return None
    used = ctx.info_num("memory", "used_memory") or 0
    return Finding(detail=f"maxmemory is 0 with {int(used):,} bytes used: growth is bounded only by the OS")


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
        "those libraries need it. Trade-off: evicted data must be recomputable."
    ),
    fix=lambda ctx, agg: _noeviction_fix(ctx),
    gate=lambda ctx: _policy(ctx) == "noeviction",
    select=lambda ctx: ~nw.col("expires_at").is_null(),
    fire=Case(
        keys=({"key": "c:1", "expires_at": 1_900_000_000_000},),
        metadata={"config": {"maxmemory-policy": "noeviction"}},
    ),
    quiet=Case(
        keys=({"key": "c:1", "expires_at": 1_900_000_000_000},),
        metadata={"config": {"maxmemory-policy": "volatile-lru"}},
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


def _outdated(ctx: Context) -> Finding | None:
    if not (ctx.server.get("version") or ctx.info("server", "redis_version")):
        return None
    minimum = parse_version(ctx["min_recommended_version"])
    if ctx.version >= minimum:
        return None
    return Finding(detail=f"server {'.'.join(map(str, ctx.version))} < {ctx['min_recommended_version']}")


OUTDATED = Rule(
    id="outdated-version",
    title="Old server version",
    category="operations",
    severity="medium",
    description=(
        "Versions before 6.0 lack ACLs, TLS, client-side caching and the memory work of later releases "
        "(listpacks everywhere in 7.0, listpack sets in 7.2, smaller dict entries in Valkey 8). They no "
        "longer get security fixes. Trade-off: an upgrade needs testing."
    ),
    fix="Upgrade to a supported Redis (7.2+) or Valkey (8.x) release.",
    check=_outdated,
    thresholds=("min_recommended_version",),
    peers=("RedisInsight v2 redisVersion",),
    fire=Case(metadata={"server": {"family": "redis", "version": "5.0.14"}}),
    quiet=Case(metadata={"server": {"family": "redis", "version": "7.0.15"}}),
)

RULES = [MAXMEMORY_UNSET, NOEVICTION_VOLATILE, VOLATILE_NO_TTL, SEVERAL_DBS, UPGRADE_LISTPACK_SETS, OUTDATED]
