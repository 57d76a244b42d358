"""Expiry and access rules: missing TTLs on cache-like data, expired and idle keys, mass expiry."""

from __future__ import annotations

import narwhals as nw

from insightkit.rules.base import Case, Context, Rule

_NOW = 1_800_000_000_000  # snapshot time used by the examples
_DAY = 86_400


def _now(ctx: Context) -> int:
    return ctx.now_ms or 0


EXPIRED = Rule(
    id="expired-keys",
    title="Keys already expired at snapshot time",
    category="memory",
    severity="low",
    description=(
        "These keys had passed their expiry when the snapshot was taken but were still in memory: Redis "
        "reclaims expired keys lazily (on access) and by sampling. A large share means the active expiry "
        "cycle is falling behind. Trade-off: a higher active-expire-effort costs CPU."
    ),
    fix="CONFIG SET active-expire-effort 4   # (1-10, default 1); or SCAN the pattern to trigger lazy expiry",
    gate=lambda ctx: ctx.now_ms is not None,
    select=lambda ctx: ~nw.col("expires_at").is_null() & (nw.col("expires_at") < _now(ctx)),
    saving=lambda ctx: nw.col("memory_bytes") + nw.col("expires_bytes"),
    peers=("RedisInsight v1 reclaim expired keys",),
    fire=Case(keys=({"key": "s:1", "expires_at": _NOW - 60_000},), metadata={"snapshot_time_ms": _NOW}),
    quiet=Case(keys=({"key": "s:1", "expires_at": _NOW + 60_000},), metadata={"snapshot_time_ms": _NOW}),
)

NO_TTL_CACHE = Rule(
    id="no-ttl-cache-keys",
    title="Cache-like keys without a TTL",
    category="code",
    severity="medium",
    description=(
        "Keys in patterns named like caches, sessions, tokens, locks or temporary data usually should "
        "expire, yet these have no TTL and will live until deleted. The saving counts the ones idle for "
        "more than a day (when the snapshot carries LRU idle times), the part a TTL would have removed. "
        "Trade-off: a TTL that is too short turns hits into misses."
    ),
    fix="Set a TTL when writing: SET cache:… value EX 3600 (or EXPIRE key 3600 for existing keys).",
    select=lambda ctx: (
        nw.col("expires_at").is_null()
        & nw.col("pattern").fill_null(nw.col("key")).str.contains(str(ctx["cache_pattern_regex"]))
    ),
    saving=lambda ctx: (
        nw.when(nw.col("lru_idle_s").fill_null(0) >= _DAY).then(nw.col("memory_bytes")).otherwise(0)
    ),
    thresholds=("cache_pattern_regex",),
    fire=Case(
        keys=({"key": "cache:page:{i}", "pattern": "cache:page:*", "lru_idle_s": 200_000, "repeat": 3},)
    ),
    quiet=Case(
        keys=(
            {"key": "cache:page:1", "pattern": "cache:page:*", "expires_at": _NOW},
            {"key": "user:1", "pattern": "user:*"},
        )
    ),
)

IDLE = Rule(
    id="idle-keys",
    title="Keys idle for a long time",
    category="memory",
    severity="low",
    description=(
        "The snapshot's LRU clock (maxmemory-policy *-lru) says these keys have not been read or written "
        "for weeks; with an LFU policy a logarithmic counter of 0 says the same. Such data is a "
        "candidate for deletion, a TTL, or cheaper storage. Trade-off: rarely read is not never read."
    ),
    fix="Review the patterns listed; add TTLs (EXPIRE) or archive and DEL them; OBJECT IDLETIME key confirms.",
    select=lambda ctx: nw.col("lru_idle_s").fill_null(0) >= int(ctx["idle_days"]) * _DAY,
    saving=lambda ctx: nw.col("memory_bytes") + nw.col("expires_bytes"),
    thresholds=("idle_days",),
    peers=("RedisInsight v1 idle keys",),
    fire=Case(keys=({"key": "old:1", "lru_idle_s": 90 * _DAY},)),
    quiet=Case(keys=({"key": "old:1", "lru_idle_s": 600}, {"key": "hot:1", "lfu_freq": 40})),
)

MASS_EXPIRY = Rule(
    id="mass-expiry",
    title="Many keys expiring in the same second",
    category="operations",
    severity="low",
    description=(
        "When thousands of keys share one expiry second, they all disappear at once: the expiry cycle "
        "works harder (latency spike) and the cache they formed goes cold together (a stampede on the "
        "backend). Add jitter to TTLs. Not a memory saving."
    ),
    fix="Add jitter: EXPIRE key (ttl + random(0, ttl/10))",
    select=lambda ctx: (
        ~nw.col("expires_at").is_null() & (nw.col("expiry_second_keys") >= ctx["mass_expiry_keys"])
    ),
    thresholds=("mass_expiry_keys",),
    fire=Case(
        keys=({"key": "c:{i}", "expires_at": _NOW, "repeat": 12},), thresholds={"mass_expiry_keys": 10}
    ),
    quiet=Case(keys=({"key": "c:{i}", "expires_at": _NOW, "repeat": 12},)),
)

RULES = [EXPIRED, NO_TTL_CACHE, IDLE, MASS_EXPIRY]
