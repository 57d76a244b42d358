"""Key-shape rules: long key names, too many tiny keys, and big keys (strings, hashes, sets, lists)."""

from __future__ import annotations

from collections.abc import Callable

import narwhals as nw

from insightkit.recommend import cost
from insightkit.recommend._expr import encoded, is_type
from insightkit.recommend.base import Aggregates, Case, Context, Rule


def _short_prefix(ctx: Context) -> nw.Expr:
    return nw.col("pattern_segments") * int(ctx["short_prefix_chars_per_segment"])


def _long_key_saving(ctx: Context) -> cost.Steps:
    shorter = nw.col("key_len") - nw.col("static_prefix_chars") + _short_prefix(ctx)
    # the key's bytes, and where the key shares an allocation with the object, that allocation's rounding
    now = cost.key_steps("now", nw.col("key_len"), ctx.allocator, ctx.key_layout)
    after = cost.key_steps("after", shorter, ctx.allocator, ctx.key_layout)
    return cost.saving_steps(now, after, saving=lambda a, b: a - b)


LONG_KEYS = Rule(
    id="long-key-names",
    title="Long key prefixes on high-count patterns",
    category="code",
    severity="medium",
    description=(
        "Every key stores its full name. In a pattern with many keys a long literal prefix "
        '("application:production:user-session:*") is paid once per key; a short one ("ap:pr:us:*") '
        "keeps the namespace readable enough. The saving is priced per key with the allocator's size "
        "classes, so it counts only the bytes that really come back. Trade-off: terse names are harder "
        "to read in tools; document the abbreviations."
    ),
    fix=lambda ctx, agg: (
        f"Rename with a shorter prefix ({ctx['short_prefix_chars_per_segment']} characters per segment), e.g.\n"
        "  application:production:user-session:8812  →  ap:pr:us:8812\n"
        "  (RENAME during a migration, or write new keys under the new prefix and let old ones expire)"
    ),
    select=lambda ctx: (
        (nw.col("pattern_keys") >= ctx["long_key_pattern_keys"])
        & (nw.col("static_prefix_chars") >= ctx["long_key_prefix_chars"])
        & (nw.col("static_prefix_chars") > _short_prefix(ctx))
    ),
    saving=_long_key_saving,
    thresholds=("long_key_pattern_keys", "long_key_prefix_chars", "short_prefix_chars_per_segment"),
    mechanical=True,
    peers=("RedisInsight v1/v2 useSmallerKeys", "RedisInsight v1 use-smaller-keys"),
    library_keys=False,
    fire=Case(
        keys=(
            {
                "key": "application:production:user-session:{i}",
                "pattern": "application:production:user-session:*",
                "repeat": 1100,
            },
        )
    ),
    quiet=Case(keys=({"key": "u:{i}", "pattern": "u:*", "repeat": 1100},)),
)

MANY_TINY_KEYS = Rule(
    id="many-tiny-keys",
    title="Over a million keys, most of them tiny",
    category="code",
    severity="info",
    description=(
        "With millions of keys the fixed cost per key (dict entry, robj, key sds, expires entry) adds up "
        "to a large share of memory, and the main dict's rehash allocates one big table. Model objects "
        "as hashes instead of one key per attribute; see small-strings-to-hashes and long-key-names for "
        "the priced parts. Trade-off: fewer, bigger keys lose per-key TTL and eviction granularity."
    ),
    fix="Group attributes of one object in one hash (HSET user:1 name … email …) instead of one key each.",
    select=lambda ctx: (
        (nw.col("total_keys") > ctx["many_keys"]) & (nw.col("memory_bytes") < ctx["tiny_key_memory_bytes"])
    ),
    thresholds=("many_keys", "tiny_key_memory_bytes"),
    peers=("RedisInsight v2 useSmallerKeys (total keys > 1M)",),
    library_keys=False,
    fire=Case(keys=({"key": "k:{i}", "repeat": 30},), thresholds={"many_keys": 20}),
    quiet=Case(keys=({"key": "k:{i}", "repeat": 30},)),
)

BIG_STRING = Rule(
    id="big-strings",
    title="Big string values",
    category="code",
    severity="medium",
    description=(
        "Strings over the size limit block the server while they are written, read, replicated or "
        "deleted, and often hold JSON or HTML that compresses well. The saving is what the value would "
        "cost if compressed as well as the snapshot's own LZF compression managed (rdbcompression), so "
        "incompressible blobs (images, already-gzipped data) show no saving. Trade-off: compressing in "
        "the client costs CPU there and hides the value from commands like GETRANGE/APPEND."
    ),
    fix="Compress in the client (zstd/gzip) before SET, or split into chunks/hash fields read on demand.",
    select=lambda ctx: is_type("string") & (nw.col("element_bytes") > ctx["big_string_bytes"]),
    saving=lambda ctx: cost.saving_steps(
        cost.alloc_steps("z", nw.col("serialized_bytes") - nw.col("key_len") - 8, ctx.allocator),
        saving=lambda after: nw.col("value_bytes") - after,
    ),
    thresholds=("big_string_bytes",),
    peers=("RedisInsight v2 bigStrings", "RedisInsight v1 compress-values"),
    risk="medium",  # a big value blocks the server while it is written, read, replicated or deleted
    fire=Case(
        keys=(
            {
                "key": "page:1",
                "type": "string",
                "encoding": "raw",
                "element_bytes": 400_000,
                "largest_element_bytes": 400_000,
                "serialized_bytes": 60_000,  # LZF in the RDB: HTML compresses well
            },
        )
    ),
    quiet=Case(keys=({"key": "page:1", "type": "string", "encoding": "raw", "element_bytes": 4000},)),
)


def _shards(ctx: Context) -> tuple[int, float]:
    return int(ctx["hash-max-listpack-entries"]), float(ctx["shard_fill"])


def _shard_saving(ctx: Context) -> cost.Steps:
    """Split into ``cost.hash_shards`` shards by crc32(field): each a listpack of n/S fields, each
    shard a key of the server generation's layout."""
    limit, fill = _shards(ctx)
    shard_steps, shards = cost.hash_shard_steps("shards", nw.col("num_elements"), limit, fill)
    per_shard = nw.col("num_elements") / shards
    blob = cost.listpack_steps("lp", per_shard * 2, nw.col("element_bytes") / shards, ctx.allocator)
    key = cost.key_steps("skey", nw.col("key_len") + 4, ctx.allocator, ctx.key_layout)
    fits = (nw.col("largest_element_bytes") <= ctx["hash-max-listpack-value"]) & encoded("hashtable")

    def saving(blob_bytes: nw.Expr, key_bytes: nw.Expr) -> nw.Expr:
        after = shards * (blob_bytes + key_bytes)
        return nw.when(fits).then(nw.col("value_bytes") - after).otherwise(0)

    return [*shard_steps, *cost.saving_steps(blob, key, saving=saving)]


def _shard_fix(ctx: Context, agg: Aggregates | None) -> str:
    limit, fill = _shards(ctx)
    fields = max(int(agg.max_elements if agg is not None else 0), int(ctx["big_hash_elements"]) + 1)
    shards = cost.hash_shards(fields, limit, fill)
    return (
        "Shard by field hash: HSET big:{shard} field value with shard = crc32(field) % S, where S is the "
        f"smallest count with n/S + sqrt(2 ln S * n/S) <= {fill:g} * {limit} (the fullest shard of a "
        f"crc32 split stays under {fill:.0%} of hash-max-listpack-entries, room to grow):\n"
        f"  largest offender: {fields:,} fields: {shards} shards of ~{fields // shards} fields\n"
        "  insightkit.rules.cost.hash_shards(n, limit, fill) gives S for any n"
    )


BIG_HASH = Rule(
    id="big-hashes",
    title="Big hashes",
    category="code",
    severity="medium",
    description=(
        "A hash with many thousand fields is one key on one shard: HGETALL/DEL block the server, it "
        "cannot be spread over a cluster, and in hashtable form each field costs a dict entry and two "
        "sds strings. Sharding it by crc32(field) into enough buckets that even the fullest stays under "
        "hash-max-listpack-entries (with shard_fill headroom: crc32 buckets are uneven, so n/limit "
        "buckets would leave about half of them over the limit) turns the hashtable into listpacks; the "
        "saving is priced for that layout (when values fit the listpack value limit). Trade-off: "
        "HGETALL/HLEN over the whole object need one call per shard."
    ),
    fix=_shard_fix,
    select=lambda ctx: is_type("hash") & (nw.col("num_elements") > ctx["big_hash_elements"]),
    saving=_shard_saving,
    thresholds=("big_hash_elements", "hash-max-listpack-entries", "shard_fill"),
    mechanical=True,
    peers=("RedisInsight v1/v2 bigHashes / shardHashes", "RedisInsight v1 shard-big-hashes-to-small-hashes"),
    library_keys=False,
    risk="medium",  # HGETALL/DEL block the server whatever the hash saves
    fire=Case(keys=({"key": "catalog", "type": "hash", "encoding": "hashtable", "num_elements": 50_000},)),
    quiet=Case(keys=({"key": "catalog", "type": "hash", "encoding": "hashtable", "num_elements": 3000},)),
)

BIG_SET = Rule(
    id="big-sets",
    title="Big sets",
    category="code",
    severity="medium",
    description=(
        "Sets with many thousand members block the server on SMEMBERS/SINTER/DEL and cannot be spread "
        "over a cluster. Integer sets sharded below set-max-intset-entries become intsets; the saving is "
        "priced for those only. Trade-off: set algebra across shards moves to the client."
    ),
    fix="Shard by member hash (SADD big:{shard} member), or use a Bloom filter / HyperLogLog when only "
    "membership or cardinality is needed.",
    select=lambda ctx: is_type("set") & (nw.col("num_elements") > ctx["big_set_elements"]),
    saving=lambda ctx: cost.saving_steps(
        cost.intset_steps("is", nw.col("num_elements"), nw.col("largest_element_bytes"), ctx.allocator),
        saving=lambda after: (
            nw.when(nw.col("all_integers").fill_null(False) & encoded("hashtable"))
            .then(nw.col("value_bytes") - after)
            .otherwise(0)
        ),
    ),
    thresholds=("big_set_elements",),
    mechanical=True,
    peers=("RedisInsight v2 bigSets", "RedisInsight v1 switch-to-bloom-filter"),
    library_keys=False,
    risk="medium",  # SMEMBERS/SINTER/DEL block the server whatever the set saves
    fire=Case(
        keys=(
            {
                "key": "seen",
                "type": "set",
                "encoding": "hashtable",
                "num_elements": 80_000,
                "all_integers": True,
                "largest_element_bytes": 7,
            },
        )
    ),
    quiet=Case(keys=({"key": "seen", "type": "set", "encoding": "hashtable", "num_elements": 800},)),
)


def _trim_saving(limit: str) -> Callable[[Context], nw.Expr]:
    def saving(ctx: Context) -> nw.Expr:
        keep = int(ctx[limit])
        n = nw.col("num_elements")
        return (nw.col("value_bytes") * ((n - keep) / n)).round(0).cast(nw.Int64)

    return saving


BIG_ZSET = Rule(
    id="big-zsets",
    title="Big sorted sets",
    category="code",
    severity="low",
    description=(
        "Sorted sets with many thousand members are fine for ranking, but ZRANGE over all of it, DEL, "
        "and migration block the server. If only the top (or the most recent) part is read, trim the "
        "rest after each write; the saving is priced as keeping the big_zset_elements highest-scored "
        "members (ZREMRANGEBYRANK), the trimmed share of what the set costs now. Trade-off: trimming "
        "loses history, and which part to keep is a product decision — move the rest to cold storage "
        "first if it matters."
    ),
    fix=lambda ctx, agg: (
        f"ZADD key score member; ZREMRANGEBYRANK key 0 -{int(ctx['big_zset_elements']) + 1}   "
        f"# keep the {ctx['big_zset_elements']} highest scores (or ZREMRANGEBYSCORE key -inf <cutoff>)"
    ),
    select=lambda ctx: is_type("zset") & (nw.col("num_elements") > ctx["big_zset_elements"]),
    saving=_trim_saving("big_zset_elements"),
    thresholds=("big_zset_elements",),
    mechanical=True,
    library_keys=False,
    fire=Case(keys=({"key": "board", "type": "zset", "encoding": "skiplist", "num_elements": 60_000},)),
    quiet=Case(keys=({"key": "board", "type": "zset", "encoding": "skiplist", "num_elements": 600},)),
)

BIG_LIST = Rule(
    id="big-lists",
    title="Long lists (trim them)",
    category="code",
    severity="medium",
    description=(
        "Lists used as logs grow without bound unless something trims them. LTRIM after each "
        "LPUSH keeps them capped; the saving is priced as trimming to the threshold length. Lists a known "
        "library owns are left out: trimming a job queue (RQ, Celery, Sidekiq, dramatiq …) drops queued "
        "jobs, so a long queue is reported as a backlog instead (queue-backlog). Trade-off: old items "
        "are gone — move them to cold storage first if they matter."
    ),
    fix=lambda ctx, agg: (
        f"LPUSH key item; LTRIM key 0 {int(ctx['big_list_elements']) - 1}   # keep the newest "
        f"{ctx['big_list_elements']}"
    ),
    select=lambda ctx: is_type("list") & (nw.col("num_elements") > ctx["big_list_elements"]),
    saving=_trim_saving("big_list_elements"),
    thresholds=("big_list_elements",),
    mechanical=True,
    library_keys=False,
    fire=Case(keys=({"key": "log", "type": "list", "num_elements": 100_000},)),
    quiet=Case(keys=({"key": "log", "type": "list", "num_elements": 1000},)),
)

BIG_ELEMENT = Rule(
    id="big-elements",
    title="Collections holding a very large element",
    category="code",
    severity="medium",
    description=(
        "Counting elements misses the collection that holds one huge value: a hash field or list item "
        "of hundreds of kilobytes makes every read of it slow and forces the whole key out of its "
        "compact encoding. Keep large payloads in their own string keys (or compress them). Not priced."
    ),
    fix="Move the large field/item to its own key (SET obj:1:blob …) and keep a reference in the collection.",
    select=lambda ctx: ~is_type("string") & (nw.col("largest_element_bytes") > ctx["big_element_bytes"]),
    thresholds=("big_element_bytes",),
    fire=Case(keys=({"key": "h", "type": "hash", "num_elements": 3, "largest_element_bytes": 2_000_000},)),
    quiet=Case(keys=({"key": "h", "type": "hash", "num_elements": 3, "largest_element_bytes": 2000},)),
)

JSON_WITHOUT_SEARCH = Rule(
    id="json-without-search",
    title="JSON documents that a search index could query",
    category="code",
    severity="info",
    description=(
        "The snapshot holds RedisJSON documents. Applications often SCAN them or keep hand-made sets "
        "and sorted sets as indexes; a RediSearch index (FT.CREATE … ON JSON) answers those queries "
        "directly and removes the hand-made index keys. The snapshot cannot see whether an index "
        "exists; check FT._LIST. Trade-off: the index costs memory of its own."
    ),
    fix="FT.CREATE idx ON JSON PREFIX 1 doc: SCHEMA $.name AS name TEXT $.price AS price NUMERIC",
    select=lambda ctx: (
        nw.col("type").is_in(["ReJSON-RL", "json"]) | (nw.col("module").fill_null("") == "ReJSON-RL")
    ),
    peers=("RedisInsight v2 searchJSON",),
    fire=Case(keys=({"key": "doc:1", "type": "ReJSON-RL", "encoding": "module", "module": "ReJSON-RL"},)),
    quiet=Case(keys=({"key": "doc:1", "type": "hash"},)),
)

HASH_SEARCH = Rule(
    id="hashes-for-search",
    title="Many wide hashes that a search index could query",
    category="code",
    severity="info",
    description=(
        "Patterns of many hashes with dozens of fields are usually records that the application "
        "filters by field, often with extra sets or sorted sets as secondary indexes. A RediSearch "
        "index on the prefix answers such queries and can replace those index keys. Trade-off: the "
        "index costs memory and write time."
    ),
    fix="FT.CREATE idx ON HASH PREFIX 1 user: SCHEMA name TEXT age NUMERIC",
    select=lambda ctx: is_type("hash") & (nw.col("num_elements") >= 50) & (nw.col("pattern_keys") >= 1000),
    peers=("RedisInsight v2 searchHash",),
    library_keys=False,
    fire=Case(
        keys=({"key": "user:{i}", "type": "hash", "num_elements": 60, "pattern": "user:*", "repeat": 1001},)
    ),
    quiet=Case(
        keys=({"key": "user:{i}", "type": "hash", "num_elements": 6, "pattern": "user:*", "repeat": 1001},)
    ),
)

RULES = [
    JSON_WITHOUT_SEARCH,
    HASH_SEARCH,
    LONG_KEYS,
    MANY_TINY_KEYS,
    BIG_STRING,
    BIG_HASH,
    BIG_SET,
    BIG_ZSET,
    BIG_LIST,
    BIG_ELEMENT,
]
