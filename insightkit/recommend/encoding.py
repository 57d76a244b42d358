"""Encoding rules: keys held in a big encoding (hashtable, skiplist) that a compact one could hold.

Each rule here raises one encoding limit just enough to cover the keys sitting a little over it, and
prices the change as what the key costs now (the snapshot's ``value_bytes``) minus the compact blob
it would become (``cost.listpack_alloc`` / ``cost.intset_alloc``). Existing keys convert when they are
rewritten or the server reloads its dataset (restart, failover, DEBUG RELOAD), so fixes say so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import narwhals as nw

from insightkit.memory.layout import DICT_SLOT, LISTPACK_HEADER
from insightkit.recommend import cost
from insightkit.recommend._expr import encoded, is_type, max_element_bytes, max_elements, nice_limit, no_ttl
from insightkit.recommend.base import Aggregates, Case, Context, Rule

ZSET_SCORE_ENTRY_BYTES = 4  # a listpack score entry: small integer scores take 2-4 bytes, floats more

_RELOAD = (
    "Existing keys convert when they are next written or when the dataset is reloaded (restart, "
    "failover, or DEBUG RELOAD on a replica); persist the setting in redis.conf."
)


def _entries_cap(ctx: Context, name: str) -> int:
    return min(int(ctx[name]) * int(ctx["listpack_headroom"]), int(ctx["listpack_max_entries"]))


def _value_cap(ctx: Context, name: str) -> int:
    return min(int(ctx[name]) * int(ctx["listpack_headroom"]), int(ctx["listpack_max_value"]))


def _limit_fix(setting: str, value_setting: str | None = None) -> Callable[[Context, Aggregates | None], str]:
    def fix(ctx: Context, agg: Aggregates | None) -> str:
        lines = []
        if value_setting is None:
            target = nice_limit(max_elements(agg, int(ctx[setting])), int(ctx[setting]))
            lines.append(f"CONFIG SET {ctx.config_name(setting)} {target}")
        else:
            target = nice_limit(max_element_bytes(agg, int(ctx[value_setting])), int(ctx[value_setting]))
            lines.append(f"CONFIG SET {ctx.config_name(value_setting)} {target}")
        return "\n".join(lines) + f"\n# {_RELOAD}"

    return fix


def _now_minus(part: tuple[cost.Steps, nw.Expr]) -> cost.Steps:
    return cost.saving_steps(part, saving=lambda after: nw.col("value_bytes") - after)


def _hash_listpack_saving(ctx: Context) -> cost.Steps:
    entries = nw.col("num_elements") * 2
    return _now_minus(cost.listpack_steps("lp", entries, nw.col("element_bytes"), ctx.allocator))


def _zset_listpack_saving(ctx: Context) -> cost.Steps:
    payload = nw.col("element_bytes") + nw.col("num_elements") * (ZSET_SCORE_ENTRY_BYTES - 2)
    return _now_minus(cost.listpack_steps("lp", nw.col("num_elements") * 2, payload, ctx.allocator))


def _set_listpack_saving(ctx: Context) -> cost.Steps:
    return _now_minus(
        cost.listpack_steps("lp", nw.col("num_elements"), nw.col("element_bytes"), ctx.allocator)
    )


def _intset_saving(ctx: Context) -> cost.Steps:
    return _now_minus(
        cost.intset_steps("is", nw.col("num_elements"), nw.col("largest_element_bytes"), ctx.allocator)
    )


@dataclass(frozen=True)
class _Listpack:
    """What differs between the listpack limits of one type: the rest of its two rules is shared."""

    kind: str  # the key type
    big: str  # the encoding a key takes past the limits
    saving: Callable[[Context], cost.Steps]  # what the key costs now minus its listpack
    extra: Callable[[], nw.Expr] | None = None  # a further condition on the keys (hash field TTLs)
    gate: Callable[[Context], bool] | None = None  # versions that have these limits

    @property
    def entries(self) -> str:
        return f"{self.kind}-max-listpack-entries"

    @property
    def value(self) -> str:
        return f"{self.kind}-max-listpack-value"

    def _select(self, over: Callable[[Context], nw.Expr]) -> Callable[[Context], nw.Expr]:
        def select(ctx: Context) -> nw.Expr:
            expr = is_type(self.kind) & encoded(self.big) & over(ctx)
            return expr if self.extra is None else expr & self.extra()

        return select

    def entries_rule(self, **data: Any) -> Rule:
        """Keys with a few more members than ``entries`` allows, each member short enough."""
        return Rule(
            category="configuration",
            fix=_limit_fix(self.entries),
            gate=self.gate,
            select=self._select(
                lambda ctx: (
                    (nw.col("num_elements") > ctx[self.entries])
                    & (nw.col("num_elements") <= _entries_cap(ctx, self.entries))
                    & (nw.col("largest_element_bytes") <= ctx[self.value])
                )
            ),
            saving=self.saving,
            mechanical=True,
            **data,
        )

    def value_rule(self, **data: Any) -> Rule:
        """Keys with few members, converted by one member a little longer than ``value`` allows."""
        return Rule(
            category="configuration",
            fix=_limit_fix(self.entries, self.value),
            gate=self.gate,
            select=self._select(
                lambda ctx: (
                    (nw.col("num_elements") <= ctx[self.entries])
                    & (nw.col("largest_element_bytes") > ctx[self.value])
                    & (nw.col("largest_element_bytes") <= _value_cap(ctx, self.value))
                )
            ),
            saving=self.saving,
            mechanical=True,
            **data,
        )


def _no_field_ttls() -> nw.Expr:
    return nw.col("volatile_fields").fill_null(0) == 0


def _not_integers() -> nw.Expr:
    return ~nw.col("all_integers").fill_null(False)


_HASH = _Listpack("hash", "hashtable", _hash_listpack_saving, extra=_no_field_ttls)
_ZSET = _Listpack("zset", "skiplist", _zset_listpack_saving)
# sets of strings are packed since 7.2 (intsets hold the all-integer ones: set-intset-entries)
_SET = _Listpack(
    "set", "hashtable", _set_listpack_saving, extra=_not_integers, gate=lambda ctx: ctx.version >= (7, 2, 0)
)

HASH_ENTRIES = _HASH.entries_rule(
    id="hash-listpack-entries",
    title="Hashes just over hash-max-listpack-entries",
    severity="high",
    description=(
        "A hash with more fields than hash-max-listpack-entries is kept as a hashtable: every field "
        "and value becomes its own allocation plus a 24-byte dict entry, several times the size of the "
        "same data packed in a listpack. Raising the limit a little over these hashes' field counts packs "
        "them again. Trade-off: listpack lookups scan the blob (O(n)), so keep the limit in the low "
        "thousands and values short; HGET on a 1000-field listpack is still microseconds."
    ),
    thresholds=("hash-max-listpack-entries", "hash-max-listpack-value", "listpack_headroom"),
    peers=(
        "RedisInsight v1/v2 hashHashtableToZiplist",
        "RedisInsight v1 convert-hashtable-to-ziplist-for-hashes",
    ),
    fire=Case(
        keys=({"key": "user:{i}", "type": "hash", "encoding": "hashtable", "num_elements": 700, "repeat": 3},)
    ),
    quiet=Case(
        keys=(
            {"key": "user:1", "type": "hash", "encoding": "listpack", "num_elements": 100},
            {"key": "big:1", "type": "hash", "encoding": "hashtable", "num_elements": 100_000},
        )
    ),
)

HASH_VALUE = _HASH.value_rule(
    id="hash-listpack-value",
    title="Hashes converted by one long value (hash-max-listpack-value)",
    severity="medium",
    description=(
        "RedisInsight only counts fields; a hash with few fields also leaves the listpack when a single "
        "field or value is longer than hash-max-listpack-value bytes. These hashes have few fields but "
        "a value a little over the limit, so raising the value limit packs them. Trade-off: every update "
        "rewrites the listpack, so very long values in listpacks make writes costlier."
    ),
    thresholds=("hash-max-listpack-entries", "hash-max-listpack-value", "listpack_headroom"),
    fire=Case(
        keys=(
            {
                "key": "doc:1",
                "type": "hash",
                "encoding": "hashtable",
                "num_elements": 10,
                "largest_element_bytes": 90,
                "element_bytes": 600,
            },
        )
    ),
    quiet=Case(
        keys=(
            {
                "key": "doc:2",
                "type": "hash",
                "encoding": "hashtable",
                "num_elements": 10,
                "largest_element_bytes": 5000,
            },
        )
    ),
)

ZSET_ENTRIES = _ZSET.entries_rule(
    id="zset-listpack-entries",
    title="Sorted sets just over zset-max-listpack-entries",
    severity="high",
    description=(
        "A sorted set with more members than zset-max-listpack-entries becomes a skiplist plus a dict: "
        "each member costs a skiplist node, an sds and a dict entry, against a few bytes in a listpack. "
        "Raising the limit over these sets' sizes packs them again. Trade-off: ZADD/ZRANK on a listpack "
        "are O(n); fine into the low thousands, not for sets that keep growing."
    ),
    thresholds=("zset-max-listpack-entries", "zset-max-listpack-value", "listpack_headroom"),
    peers=("RedisInsight v1/v2 zSetHashtableToZiplist",),
    fire=Case(
        keys=({"key": "rank:{i}", "type": "zset", "encoding": "skiplist", "num_elements": 300, "repeat": 2},)
    ),
    quiet=Case(keys=({"key": "rank:1", "type": "zset", "encoding": "listpack", "num_elements": 100},)),
)

ZSET_VALUE = _ZSET.value_rule(
    id="zset-listpack-value",
    title="Sorted sets converted by one long member (zset-max-listpack-value)",
    severity="medium",
    description=(
        "A small sorted set leaves the listpack as soon as one member is longer than "
        "zset-max-listpack-value. These sets are small but have a member a little over the limit; "
        "raising it packs them. Trade-off: long members make listpack updates rewrite more bytes."
    ),
    thresholds=("zset-max-listpack-entries", "zset-max-listpack-value", "listpack_headroom"),
    fire=Case(
        keys=(
            {
                "key": "z:1",
                "type": "zset",
                "encoding": "skiplist",
                "num_elements": 20,
                "largest_element_bytes": 100,
            },
        )
    ),
    quiet=Case(
        keys=(
            {
                "key": "z:1",
                "type": "zset",
                "encoding": "skiplist",
                "num_elements": 20,
                "largest_element_bytes": 30,
            },
        )
    ),
)

SET_INTSET = Rule(
    id="set-intset-entries",
    title="Integer sets over set-max-intset-entries",
    category="configuration",
    severity="high",
    description=(
        "A set whose members are all integers is stored as a sorted array of 2-, 4- or 8-byte integers "
        "(intset) until it has more than set-max-intset-entries members; then every member becomes an "
        "sds string with a dict entry, ten times the size. RedisInsight flags any set over the limit; "
        "here only sets whose members really are integers count, and the saving is priced per set. "
        "Trade-off: SADD/SREM on an intset move memory (O(n)); SISMEMBER stays O(log n)."
    ),
    fix=_limit_fix("set-max-intset-entries"),
    select=lambda ctx: (
        is_type("set")
        & encoded("hashtable", "listpack")
        & nw.col("all_integers").fill_null(False)
        & (nw.col("num_elements") > ctx["set-max-intset-entries"])
        & (nw.col("num_elements") <= int(ctx["set-max-intset-entries"]) * int(ctx["listpack_headroom"]))
    ),
    saving=_intset_saving,
    thresholds=("set-max-intset-entries", "listpack_headroom"),
    mechanical=True,
    peers=("RedisInsight v2 increaseSetMaxIntsetEntries", "RedisInsight v1 switch-from-set-to-intset"),
    fire=Case(
        keys=(
            {
                "key": "ids:{i}",
                "type": "set",
                "encoding": "hashtable",
                "num_elements": 1000,
                "all_integers": True,
                "largest_element_bytes": 6,
                "repeat": 2,
            },
        )
    ),
    quiet=Case(
        keys=(
            {"key": "ids:1", "type": "set", "encoding": "intset", "num_elements": 400, "all_integers": True},
            {
                "key": "tags:1",
                "type": "set",
                "encoding": "hashtable",
                "num_elements": 1000,
                "all_integers": False,
            },
        )
    ),
)

SET_LISTPACK = _SET.entries_rule(
    id="set-listpack-entries",
    title="Small non-integer sets just over set-max-listpack-entries (7.2+)",
    severity="medium",
    description=(
        "Since Redis 7.2 (and Valkey), sets of short strings are packed in a listpack up to "
        "set-max-listpack-entries members of at most set-max-listpack-value bytes. These sets sit a "
        "little over the limit; raising it packs them. Trade-off: SISMEMBER on a listpack is a scan."
    ),
    thresholds=("set-max-listpack-entries", "set-max-listpack-value"),
    fire=Case(
        keys=(
            {
                "key": "tags:1",
                "type": "set",
                "encoding": "hashtable",
                "num_elements": 300,
                "all_integers": False,
            },
        ),
        metadata={"server": {"family": "valkey", "version": "8.1.0", "allocator": "libc"}},
    ),
    quiet=Case(
        keys=(
            {
                "key": "tags:1",
                "type": "set",
                "encoding": "hashtable",
                "num_elements": 300,
                "all_integers": False,
            },
        ),
        metadata={"server": {"family": "redis", "version": "7.0.15", "allocator": "jemalloc"}},
    ),
)

SET_LISTPACK_VALUE = _SET.value_rule(
    id="set-listpack-value",
    title="Small sets converted by one long member (set-max-listpack-value, 7.2+)",
    severity="low",
    description=(
        "A small set of strings leaves its listpack as soon as one member is longer than "
        "set-max-listpack-value bytes. These sets are small but have a member a little over the limit; "
        "raising it packs them. Trade-off: long members make listpack scans and updates costlier."
    ),
    thresholds=("set-max-listpack-entries", "set-max-listpack-value", "listpack_headroom"),
    fire=Case(
        keys=(
            {
                "key": "urls:1",
                "type": "set",
                "encoding": "hashtable",
                "num_elements": 40,
                "largest_element_bytes": 100,
                "element_bytes": 2000,
                "all_integers": False,
            },
        ),
        metadata={"server": {"family": "valkey", "version": "8.1.1", "allocator": "libc"}},
    ),
    quiet=Case(
        keys=(
            {
                "key": "urls:1",
                "type": "set",
                "encoding": "hashtable",
                "num_elements": 40,
                "largest_element_bytes": 3000,
                "all_integers": False,
            },
        ),
        metadata={"server": {"family": "valkey", "version": "8.1.1", "allocator": "libc"}},
    ),
)

STRING_IDS = Rule(
    id="string-ids-as-integers",
    title="Sets of short string ids that could be integers",
    category="code",
    severity="low",
    description=(
        "Sets whose members are all short but not all integers are often ids with a prefix or padding "
        '("user:1234", "0001234"). Storing the bare integer lets Redis keep the set as an intset: '
        "2-8 bytes per member instead of an sds string and a dict entry. The saving assumes every member "
        "becomes an integer; check a few members before rewriting. Trade-off: the prefix moves into the "
        "key name or the code."
    ),
    fix=(
        "Store the numeric part only:\n"
        "  SADD followers:42 user:1001 user:1002   # before\n"
        "  SADD followers:42 1001 1002             # after: intset"
    ),
    select=lambda ctx: (
        is_type("set")
        & ~nw.col("all_integers").fill_null(True)
        & (nw.col("largest_element_bytes") <= ctx["string_id_max_bytes"])
        & (nw.col("num_elements") >= ctx["string_id_min_members"])
        & (nw.col("num_elements") <= ctx["set-max-intset-entries"])
    ),
    # the bare ids have at most as many digits as the longest member has bytes: the intset width that
    # needs is an upper bound, so the saving is a lower bound
    saving=lambda ctx: _now_minus(
        cost.intset_steps("is", nw.col("num_elements"), nw.col("largest_element_bytes"), ctx.allocator)
    ),
    thresholds=("string_id_max_bytes", "string_id_min_members", "set-max-intset-entries"),
    mechanical=True,
    library_keys=False,
    fire=Case(
        keys=(
            {
                "key": "followers:1",
                "type": "set",
                "encoding": "hashtable",
                "num_elements": 300,
                "largest_element_bytes": 9,
                "all_integers": False,
            },
        )
    ),
    quiet=Case(
        keys=(
            {"key": "f:1", "type": "set", "encoding": "intset", "num_elements": 300, "all_integers": True},
            {
                "key": "urls:1",
                "type": "set",
                "encoding": "hashtable",
                "num_elements": 300,
                "largest_element_bytes": 80,
            },
        )
    ),
)


def _list_node_bytes(ctx: Context) -> int:
    size = int(ctx["list-max-listpack-size"])
    return 4096 * 2 ** (min(max(-size, 1), 5) - 1) if size < 0 else 8192


def _list_compression_saving(ctx: Context) -> cost.Steps:
    node = _list_node_bytes(ctx)
    raw, nodes, ratio = (f"{cost.TEMP}{name}" for name in ("raw", "nodes", "ratio"))
    # The RDB holds every quicklist node LZF-compressed when that helps (rdbcompression yes), so the
    # serialized size says how well this list's own data compresses.
    return [
        (raw, cost.listpack_bytes(nw.col("num_elements"), nw.col("element_bytes"))),
        (nodes, nw.max_horizontal(cost.ceil_div(nw.col(raw), node), nw.lit(1))),
        (ratio, ((nw.col("serialized_bytes") - nw.col("key_len") - 16) / nw.col(raw)).clip(0.0, 1.0)),
        (
            "saving",
            nw.col(raw)
            * (nw.max_horizontal(nw.col(nodes) - 2, nw.lit(0)) / nw.col(nodes))
            * (1 - nw.col(ratio)),
        ),
    ]


LIST_COMPRESSION = Rule(
    id="list-compression",
    title="Long lists without list compression",
    category="configuration",
    severity="medium",
    description=(
        "With list-compress-depth 0 every quicklist node of a long list is kept raw. Depth 1 keeps the "
        "head and tail nodes raw (where LPUSH/RPOP work) and LZF-compresses the middle. The saving is "
        "priced from how well each list compressed in the snapshot itself (RDB nodes are LZF-compressed), "
        "not from a guessed ratio. Trade-off: reading the middle of a list (LINDEX, LRANGE) decompresses "
        "nodes, costing CPU."
    ),
    fix=lambda ctx, agg: "CONFIG SET list-compress-depth 1\n# " + _RELOAD,
    gate=lambda ctx: int(ctx["list-compress-depth"]) == 0,
    select=lambda ctx: is_type("list") & (nw.col("num_elements") >= ctx["long_list_elements"]),
    saving=_list_compression_saving,
    thresholds=("list-compress-depth", "list-max-listpack-size", "long_list_elements"),
    mechanical=True,
    peers=("RedisInsight v1/v2 compressionForList", "RedisInsight v1 enable-compression-for-list"),
    fire=Case(
        keys=(
            {
                "key": "log:1",
                "type": "list",
                "num_elements": 50_000,
                "largest_element_bytes": 40,
                "element_bytes": 2_000_000,
                "serialized_bytes": 300_000,
            },
        )
    ),
    quiet=Case(
        keys=({"key": "log:1", "type": "list", "num_elements": 50_000},),
        metadata={"config": {"list-compress-depth": "1"}},
    ),
)


def _bucket(ctx: Context) -> int:
    return max(1, min(int(ctx["bucket_size"]), int(ctx["hash-max-listpack-entries"])))


def _small_string_saving(ctx: Context) -> cost.Steps:
    bucket = _bucket(ctx)
    value = nw.col("element_bytes")
    # field: the id's last two digits, a 1-byte listpack integer plus its back-length (2 bytes); the
    # value: its bytes plus encoding header and back-length. The bucket's listpack holds `bucket` pairs.
    per_key_payload = value + cost.listpack_entry_overhead(value)
    blob = cost.alloc_steps("blob", (per_key_payload + 2) * bucket + LISTPACK_HEADER, ctx.allocator)
    key = cost.key_steps("bkey", nw.col("key_len") - 2, ctx.allocator, ctx.key_layout)
    fixed = DICT_SLOT

    def saving(blob_bytes: nw.Expr, key_bytes: nw.Expr) -> nw.Expr:
        after = (blob_bytes + key_bytes + fixed) / bucket
        return nw.col("memory_bytes") + DICT_SLOT - after

    return cost.saving_steps(blob, key, saving=saving)


SMALL_STRINGS = Rule(
    id="small-strings-to-hashes",
    title="Many small strings that could share hash buckets",
    category="code",
    severity="high",
    description=(
        "Every top-level key costs a dict entry, a robj and the key's own sds: some 50-70 bytes before "
        "the value. A pattern of many small string values pays this per key. Folding them into hashes "
        "of ~100 fields (object:1234 → HSET object:12 34 <value>) keeps each bucket a listpack, where a "
        "field costs a few bytes. Only keys without a TTL count (a hash field TTL needs 7.4+). "
        "Trade-off: the keys lose per-key TTL, eviction and keyspace notifications, and code must map ids "
        "to buckets."
    ),
    fix=lambda ctx, agg: (
        f"Bucket by id into hashes of {_bucket(ctx)} fields (keep below hash-max-listpack-entries):\n"
        "  SET object:123456 v          # before\n"
        "  HSET object:1234 56 v        # after: bucket = id // 100, field = id % 100"
    ),
    select=lambda ctx: (
        is_type("string")
        & no_ttl()
        & (
            nw.col("element_bytes")
            <= min(int(ctx["small_string_value_bytes"]), int(ctx["hash-max-listpack-value"]))
        )
        & (nw.col("pattern_keys") >= ctx["small_string_pattern_keys"])
        & nw.col("pattern_variable")
    ),
    saving=_small_string_saving,
    thresholds=(
        "small_string_value_bytes",
        "small_string_pattern_keys",
        "bucket_size",
        "hash-max-listpack-value",
    ),
    mechanical=True,
    peers=(
        "RedisInsight v1/v2 combineSmallStringsToHashes",
        "RedisInsight v1 combine-smaller-strings-to-hashes",
    ),
    library_keys=False,
    fire=Case(
        keys=(
            {
                "key": "object:{i}",
                "type": "string",
                "element_bytes": 10,
                "pattern": "object:*",
                "repeat": 1200,
            },
        )
    ),
    quiet=Case(
        keys=(
            {"key": "object:{i}", "type": "string", "element_bytes": 10, "pattern": "object:*", "repeat": 50},
            {
                "key": "sess:{i}",
                "type": "string",
                "element_bytes": 10,
                "pattern": "sess:*",
                "expires_at": 1_900_000_000_000,
                "repeat": 1200,
            },
        )
    ),
)

HASH_FIELD_NAMES = Rule(
    id="hash-field-names",
    title="Big hashes with long field names",
    category="code",
    severity="low",
    description=(
        "In a hashtable-encoded hash every field name is its own sds string. In big hashes with long "
        "average field+value sizes, shorter field names (or a compact serialisation of the value) cut "
        "memory directly. RedisInsight flags every hash over 1000 fields; this rule also requires long "
        "elements. The saving depends on the new names and is not priced. Trade-off: readability. "
        "Hashes backed by a Redis 8.10 template keep their names once, in the template, and are left out."
    ),
    fix='Shorten field names ("last_login_timestamp" → "ll") or store the object as one serialized value.',
    select=lambda ctx: (
        is_type("hash")
        & ~encoded("template-listpack", "template-array")  # names kept once, in a shared template
        & (nw.col("num_elements") > ctx["hash_field_names_elements"])
        & (nw.col("element_bytes") / (nw.col("num_elements") * 2) > ctx["hash_field_names_avg_bytes"])
    ),
    thresholds=("hash_field_names_elements", "hash_field_names_avg_bytes"),
    peers=("RedisInsight v2 compressHashFieldNames", "RedisInsight v1 compress-field-names"),
    library_keys=False,
    fire=Case(
        keys=(
            {
                "key": "h:1",
                "type": "hash",
                "encoding": "hashtable",
                "num_elements": 2000,
                "largest_element_bytes": 40,
            },
        )
    ),
    quiet=Case(
        keys=(
            {
                "key": "h:1",
                "type": "hash",
                "encoding": "hashtable",
                "num_elements": 2000,
                "largest_element_bytes": 8,
            },
            {
                "key": "t:1",
                "type": "hash",
                "encoding": "template-array",
                "num_elements": 2000,
                "largest_element_bytes": 40,
            },
        )
    ),
)

HASHES_AS_LISTS = Rule(
    id="hashes-as-lists",
    title="Many small hashes of one shape: their field names repeat in every key",
    category="code",
    severity="info",
    description=(
        "A family of thousands of small listpack hashes (user:*:profile with the same few fields) stores "
        "every field name again in every key. When the fields are fixed, a list (or one serialized value) "
        "indexed by position keeps only the values: the names live once, in the code. A snapshot keeps "
        "sizes, not field names, so the saving is not priced; it is roughly the field names' bytes plus "
        "two bytes of listpack entry overhead per field. Trade-off: the code must map names to positions, "
        "HGET/HINCRBY on single fields become LINDEX/LSET, and adding a field needs a migration."
    ),
    fix=(
        "Store fixed-shape objects by position and keep the field order in code:\n"
        "  HSET user:123:profile name Bob city CA plan pro   # before\n"
        "  RPUSH user:123:profile Bob CA pro                 # after: name=0, city=1, plan=2"
    ),
    select=lambda ctx: (
        is_type("hash")
        & encoded("listpack", "ziplist", "zipmap")
        & (nw.col("num_elements") <= ctx["hash_list_max_fields"])
        & (nw.col("pattern_keys") >= ctx["hash_list_pattern_keys"])
        & nw.col("pattern_variable")
    ),
    thresholds=("hash_list_pattern_keys", "hash_list_max_fields"),
    peers=("RedisInsight v1 convert-to-list-instead-of-hash",),
    library_keys=False,
    fire=Case(
        keys=(
            {
                "key": "user:{i}:profile",
                "type": "hash",
                "encoding": "listpack",
                "num_elements": 5,
                "pattern": "user:*:profile",
                "repeat": 1200,
            },
        )
    ),
    quiet=Case(
        keys=(
            {
                "key": "user:{i}:profile",
                "type": "hash",
                "encoding": "listpack",
                "num_elements": 5,
                "pattern": "user:*:profile",
                "repeat": 50,
            },
            {
                "key": "cart:{i}",
                "type": "hash",
                "encoding": "listpack",
                "num_elements": 60,
                "pattern": "cart:*",
                "repeat": 1200,
            },
        )
    ),
)

RULES = [
    HASH_ENTRIES,
    HASH_VALUE,
    ZSET_ENTRIES,
    ZSET_VALUE,
    SET_INTSET,
    SET_LISTPACK,
    SET_LISTPACK_VALUE,
    STRING_IDS,
    LIST_COMPRESSION,
    SMALL_STRINGS,
    HASH_FIELD_NAMES,
    HASHES_AS_LISTS,
]
