"""Expiry and access rules: missing TTLs on cache-like data, expired and idle keys, mass expiry."""

from __future__ import annotations

import narwhals as nw

from insightkit.recommend import cost
from insightkit.recommend.base import Case, Context, Rule

_NOW = 1_800_000_000_000  # snapshot time used by the examples
_DAY = 86_400


def _now(ctx: Context) -> int:
    return ctx.now_ms or 0


def idle_without_ttl(ctx: Context) -> nw.Expr:
    """What a TTL would have removed by now: the keys idle for no_ttl_idle_s or more (LRU snapshots),
    each with what deleting it frees."""
    idle = nw.col("lru_idle_s").fill_null(0) >= int(ctx["no_ttl_idle_s"])
    return nw.when(idle).then(cost.freed(ctx)).otherwise(0)


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
    saving=cost.freed,
    peers=("RedisInsight v1 reclaim-expired-keys-memory-faster",),
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
        "no_ttl_idle_s (a day) or more (when the snapshot carries LRU idle times), the part a TTL would "
        "have removed; the TTL the others get costs an expires entry each, not counted. Trade-off: a "
        "TTL that is too short turns hits into misses."
    ),
    fix="Set a TTL when writing: SET cache:… value EX 3600 (or EXPIRE key 3600 for existing keys).",
    select=lambda ctx: nw.col("expires_at").is_null() & nw.col("cache_pattern"),
    saving=lambda ctx: idle_without_ttl(ctx),
    thresholds=("cache_pattern_regex", "no_ttl_idle_s"),
    library_keys=False,
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

LFU_INIT_VAL = 5  # the LFU counter of a newly written key (server.h)


def _idle(ctx: Context) -> nw.Expr:
    lru = nw.col("lru_idle_s").fill_null(0) >= int(ctx["idle_days"]) * _DAY
    if int(ctx["lfu-decay-time"]) <= 0:
        return lru  # a counter that never decays says nothing about recent use
    lfu = ~nw.col("lfu_freq").is_null() & (nw.col("lfu_freq") <= int(ctx["idle_lfu_counter"]))
    return lru | lfu


IDLE = Rule(
    id="idle-keys",
    title="Keys idle for a long time",
    category="memory",
    severity="low",
    description=(
        "Keys nobody reads are a candidate for deletion, a TTL, or cheaper storage. Under a *-lru "
        "policy the snapshot carries each key's idle time, and the rule lists keys idle for idle_days "
        "or more. Under a *-lfu policy the RDB carries only the logarithmic access counter, which gives "
        "no age: a new key starts at LFU_INIT_VAL (5), reads push it up (ever more slowly past 5), and "
        "it falls by one per lfu-decay-time minutes without access (the saved value is already "
        "decayed). Below 5 it can only have got by decay, and a key that was ever hot needs as many "
        "periods to come down as it climbed; so the rule lists counters at or below idle_lfu_counter "
        "(default 0, fully decayed: read less often than once per decay period and the first "
        "allkeys-lfu eviction candidates), never 5 itself, which a key written and never read also "
        "has. With lfu-decay-time 0 the counter never falls and the LFU half stays silent. Trade-off: "
        "rarely read is not never read, and with the default one-minute decay a counter of 0 means "
        "minutes, not weeks, of idleness; check with OBJECT FREQ before deleting."
    ),
    fix="Review the patterns listed; add TTLs (EXPIRE) or archive and DEL them; OBJECT IDLETIME key "
    "(LRU) or OBJECT FREQ key (LFU) confirms.",
    select=_idle,
    saving=cost.freed,
    thresholds=("idle_days", "idle_lfu_counter", "lfu-decay-time"),
    peers=("RedisInsight v1 idle keys",),
    # LRU: idle 90 days; LFU: a counter decayed to 0
    fire=Case(keys=({"key": "old:1", "lru_idle_s": 90 * _DAY}, {"key": "cold:1", "lfu_freq": 0})),
    # LRU: idle 10 minutes; LFU: hot, and fresh (LFU_INIT_VAL: written, not yet decayed)
    quiet=Case(
        keys=(
            {"key": "old:1", "lru_idle_s": 600},
            {"key": "hot:1", "lfu_freq": 40},
            {"key": "new:1", "lfu_freq": LFU_INIT_VAL},
        )
    ),
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
