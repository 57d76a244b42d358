# cython: language_level=3
"""What MEMORY USAGE key SAMPLES 0 reports, per server generation and allocator.

Every rule here mirrors what the server's objectComputeSize() and memoryCommand() add up (Redis
src/object.c, Valkey src/object.c, t_hash.c, hashtable.c), rounded the way the server's allocator
rounds (jemalloc size classes, or glibc's malloc_usable_size). The decoder calls element()/blob()
per element/blob and estimate() per key, all nogil arithmetic: no Python objects per key.

Exact per key except where the server itself is random: skiplist node levels (p = 1/4) and, on
Valkey >= 8.1, the number of overflow ("child") buckets in a hashtable; both use expected values.
"""

from libc.math cimport exp as c_exp
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memset

# The layout's numbers (layout.pxd, one home for C and Python) and the arithmetic on them: allocator
# size classes and sds/listpack headers (_sizes.pxd), arrays (_arrays.pxd), stream trees (_streams.pxd).
from insightkit.memory.layout cimport *
from insightkit.memory._sizes cimport alloc_size, lp_entry, next_pow2, sds_hdr, sds_hdr_min8
from insightkit.memory cimport _arrays
from insightkit.memory._streams cimport group_rax_share, rax_bytes

from insightkit.memory.layout import (
    ALLOCATORS,
    allocator_code,
    generation,
    nack_bytes,
    redis_equivalent,
    stream_consumer_struct,
    stream_group_struct,
)

# Names of the shared Kind / Encoding enums (insightkit/rdb/_kinds.pxd; _decoder checks them at import).
from insightkit.rdb.kinds import ENCODING_NAMES, KIND_NAMES


cdef class MemoryModel:
    """The memory model of one server family/version/allocator (see model_for() to pick one)."""

    def __init__(self, str family="redis", tuple version=(7, 0), str allocator="jemalloc",
                 int list_compress_depth=0, int stream_prealloc=-1, str state="live"):
        if family not in ("redis", "valkey"):
            raise ValueError(f"family must be 'redis' or 'valkey', got {family!r}")
        if allocator not in ALLOCATORS:
            raise ValueError(f"allocator must be one of {', '.join(map(repr, ALLOCATORS))}, got {allocator!r}")
        self.family = family
        self.version = (int(version[0]), int(version[1]))
        self.allocator = allocator
        self.jemalloc = allocator != "libc"
        self.quantum8 = allocator == "jemalloc"
        self.alloc_kind = allocator_code(allocator)
        self.list_compress_depth = list_compress_depth
        if state not in ("live", "loaded"):
            raise ValueError(f"state must be 'live' or 'loaded', got {state!r}")
        self._state = state
        self.live = state == "live"
        self.description = {}
        v = self.version
        self.gen = generation(family, v)
        redis_equiv = redis_equivalent(family, v)
        self._init_generation(family, v)
        self.embstr_limit = EMBSTR_LIMIT if redis_equiv >= (3, 2) else EMBSTR_LIMIT_OLD
        self.old_sds = redis_equiv < (3, 2)
        self.sz_dict = DICT_STRUCT_R62 if self.gen == GEN_R62 else (0 if self.gen == GEN_V81 else DICT_STRUCT)
        self.sz_qlnode = QUICKLIST_NODE_R62 if self.gen == GEN_R62 else QUICKLIST_NODE
        self.sz_stream = STREAM_STRUCT_R62 if redis_equiv < (7, 0) else STREAM_STRUCT
        if family == "redis" and v >= (8, 6):
            # + alloc_size, the group-reference index (cgroups_ref, min_cgroup_last_id and its flag)
            # and the idempotent-producer fields (duration, max entries, producers rax, two counters)
            self.sz_stream = STREAM_STRUCT_R86
        elif family == "redis" and v >= (8, 2):
            self.sz_stream = STREAM_STRUCT_R82  # + cgroups_ref, min_cgroup_last_id and its flag (measured on 8.2.3)
        # a pending entry (streamNACK): delivery time, count, consumer; Redis 8.2 adds the entry's node
        # in the group-reference index (measured on 8.2.3: 8 bytes more per pending entry)
        self.sz_nack = nack_bytes(family, v)
        self.sz_cgroup = stream_group_struct(family, v)
        self.sz_consumer = stream_consumer_struct(family, v)
        # Streams: the node being appended to is created with min(4096, stream-node-max-bytes) bytes
        # and keeps them (measured on 6.2, 7.0, 8.2, Valkey 8.1 and 9.1); nodes loaded from an RDB are
        # exact, so a freshly restarted server is lower by that much for each stream until the next
        # XADD. `stream_prealloc` >= 0 is what a live server preallocates (model_for derives it from
        # CONFIG's stream-node-max-bytes).
        self.live_stream_prealloc = STREAM_PREALLOC_MAX if stream_prealloc < 0 else stream_prealloc
        self.stream_prealloc = self.live_stream_prealloc if state == "live" else 0
        self.zsl_header = self.alloc(ZSL_NODE_BASE + ZSL_LEVEL * ZSL_MAXLEVEL)
        if self.zset_node_member:
            # Valkey 9.1 node: score, backward, member sds (here an empty one) inline, then the levels
            self.zsl_header = self.alloc(ZSL_MEMBER_NODE + 1 + ZSL_LEVEL * ZSL_MAXLEVEL)
        self.zsl_node_extra = self._expected_node_size()

    @property
    def state(self) -> str:
        """"live" (collections as their write commands left them) or "loaded" (as after an RDB load)."""
        return self._state

    @state.setter
    def state(self, value: str) -> None:
        if value not in ("live", "loaded"):
            raise ValueError(f"state must be 'live' or 'loaded', got {value!r}")
        self._state = value
        self.live = value == "live"
        self.stream_prealloc = self.live_stream_prealloc if self.live else 0

    def _init_generation(self, str family, tuple v):
        """The per-generation facts beyond `gen` (see the comments where each is used)."""
        self.kv_spare_slot = family == "redis" and v < (8, 6)
        self.kv_embed_expire = family == "redis" and v < (8, 6)
        # Valkey 9.0 embeds a string value while robj + key + value sds fit 64 bytes, 9.1 while they fit
        # 128 and the robj's value pointer is left out (measured on 9.0.0 and 9.1.2: the expiry is not
        # part of the test; object.c shouldEmbedStringObject)
        self.vk_embed_limit = 0 if family != "valkey" or v < (9, 0) else (64 if v < (9, 1) else 128)
        self.vk_embed_robj = ROBJ if v < (9, 1) else ROBJ - 8
        # quicklist {head, tail, count, len, fill/compress/bookmarks} is 40 bytes; Redis 8.4 added a
        # field (derived from the public source, not measured)
        self.sz_quicklist = QUICKLIST_R84 if (family == "redis" and v >= (8, 4)) else QUICKLIST
        # Redis 8.2 prices a zset dict entry as dictEntryMemUsage(no_value=1) = 16 (measured)
        self.zset_entry = DICT_ENTRY_NO_VALUE if self.gen == GEN_R82 else DICT_ENTRY
        # Rehash steps per insert (measured: 7.0 SADD 1, HSET/ZADD 2; 8.2 HSET looks up and inserts in
        # one dict call, so 1)
        self.set_steps = 1
        self.hash_steps = 1 if self.gen == GEN_R82 else 2
        self.zset_steps = 2
        # Valkey hashtable structs as MEMORY USAGE counts them (measured: 8.1 72 for every type; 9.0 +8
        # for hashes; 9.1 +8 for sets, +16 for hashes, and zset + hashtable structs together 88 once the
        # skiplist struct went into the zset)
        self.vk_set_struct = HT_STRUCT + (8 if v >= (9, 1) else 0)
        self.vk_hash_struct = HT_STRUCT + (16 if v >= (9, 1) else (8 if v >= (9, 0) else 0))
        self.zset_node_member = family == "valkey" and v >= (9, 1)
        self.vk_zset_fixed = VK_ZSET_FIXED_91 if self.zset_node_member else ZSET_STRUCT + ZSKIPLIST + HT_STRUCT
        cdef int i
        for i in range(512):
            self.node_cache[i] = -1.0

    cdef double _expected_node(self, int64_t base) noexcept nogil:
        """E[allocation of a skiplist node of `base` bytes + 16 per level], level ~ Geometric(3/4)."""
        cdef double p = 0.75, total = 0.0, tail = 1.0
        cdef int level
        if base < 512 and self.node_cache[base] >= 0.0:
            return self.node_cache[base]
        for level in range(1, ZSL_MAXLEVEL):
            total += tail * p * self.alloc(base + ZSL_LEVEL * level)
            tail *= 0.25
            if tail < 1e-12:
                break
        total += tail * self.alloc(base + ZSL_LEVEL * ZSL_MAXLEVEL)
        if base < 512:
            self.node_cache[base] = total
        return total

    def _expected_node_size(self) -> float:
        """E[zmalloc_size(skiplist node)]: level L with probability (3/4)(1/4)^(L-1), capped at 32."""
        cdef double p = 0.75, total = 0.0, tail = 1.0
        cdef int level
        for level in range(1, ZSL_MAXLEVEL):
            total += tail * p * self.alloc(ZSL_NODE_BASE + ZSL_LEVEL * level)
            tail *= 0.25
        total += tail * self.alloc(ZSL_NODE_BASE + ZSL_LEVEL * ZSL_MAXLEVEL)
        return total

    # --- allocator --------------------------------------------------------------------------------

    cdef int64_t alloc(self, int64_t size) noexcept nogil:
        return alloc_size(self.alloc_kind, size)

    cdef int64_t sds_alloc(self, int64_t length) noexcept nogil:
        if self.old_sds:
            return self.alloc(SDS_OLD_HDR + length + 1)  # Redis < 3.2: struct sdshdr {int len; int free;}
        return self.alloc(sds_hdr(length) + length + 1)

    # --- per element / per blob ---------------------------------------------------------------------

    cdef int64_t element(self, KeyFacts* facts, int64_t a_len, int64_t b_len) noexcept nogil:
        cdef int64_t n, fsize, vsize
        cdef int kind = facts.kind
        if kind == KIND_LIST:
            if self.old_sds:
                # Redis < 3.2 linked list: listNode + robj + sds per item
                return self.alloc(LIST_NODE) + self.alloc(ROBJ) + self.sds_alloc(a_len)
            # A linked-list item: servers >= 3.2 pack items into quicklist nodes on load.
            facts.elem_packed += lp_entry(a_len)
            return 0
        if self.gen == GEN_V81:
            if kind == KIND_HASH:
                fsize = sds_hdr(a_len) + a_len + 1
                vsize = SDS8_OVERHEAD + b_len if b_len < 256 else sds_hdr(b_len) + b_len + 1
                if fsize + vsize <= EMBED_VALUE_MAX:
                    return self.alloc(fsize + vsize)
                return self.alloc(8 + sds_hdr_min8(a_len) + a_len + 1) + self.sds_alloc(b_len)
            if kind == KIND_ZSET and self.zset_node_member:
                # the member sits in its skiplist node: the node's expected allocation (random level)
                return <int64_t>(self._expected_node(ZSL_MEMBER_NODE + sds_hdr(a_len) + a_len) + 0.5)
            # set member / zset element: the sds itself is the hashtable entry
            return self.sds_alloc(a_len)
        if kind == KIND_ZSET:
            return self.zset_entry + self.sds_alloc(a_len)
        if kind == KIND_HASH and self.gen == GEN_R82:
            # Redis >= 7.4 hash fields are mstr (header 1 byte below 32, 3 below 64 KiB, else 9)
            fsize = a_len + 2 if a_len < 32 else (a_len + 4 if a_len < 65536 else a_len + 10)
            return DICT_ENTRY + self.alloc(fsize) + self.sds_alloc(b_len)
        n = DICT_ENTRY + self.sds_alloc(a_len)
        if kind == KIND_HASH:
            n += self.sds_alloc(b_len)
        return n

    cdef int64_t blob(self, KeyFacts* facts, int64_t nbytes, int64_t compressed) noexcept nogil:
        cdef int64_t held = nbytes
        if compressed >= 0 and self.list_compress_depth > 0:
            # held as quicklistLZF {unsigned int sz; char compressed[]}
            facts.blob_held += compressed
            facts.last_blob_bytes = nbytes
            return self.alloc(QUICKLIST_LZF_HEADER + compressed)
        facts.blob_held += held
        facts.last_blob_bytes = nbytes
        return self.alloc(held)

    # --- per key ------------------------------------------------------------------------------------

    cdef int64_t _ht_buckets(self, int64_t n) noexcept nogil:
        """Valkey hashtable buckets when sized for n entries: next power of two >= ceil(n * 5 / 32)."""
        cdef int64_t min_buckets = (n * 5 - 1) // 32 + 1
        return 1 if min_buckets <= 1 else next_pow2(min_buckets)

    cdef int64_t table_bytes(self, int64_t n, int steps_per_insert, int64_t created_at) noexcept nogil:
        """A non-compact collection's table of `n` entries.

        "loaded": as sized by an RDB load (Redis: power of two >= n, at least 4 buckets; Valkey:
        buckets for n at <= 91 % fill).
        "live": as left by the write commands that built it, never read since. Redis dicts: the last
        doubling (at n = old + 1) starts an incremental rehash that moves one bucket per later
        insert (`steps_per_insert`: 1 for SADD, 2 for HSET/ZADD which look up first; 0 when the
        table was presized); until the ~63 % non-empty old buckets are moved, MEMORY USAGE counts
        both bucket arrays. Valkey hashtables: created for `created_at` entries (a conversion from
        a listpack/intset; 0 when built from empty), they double when full (7 per bucket) and rehash
        one bucket per insert, both tables counted meanwhile.
        """
        cdef int64_t buckets, x, old, n0
        cdef double lam, p, expected_children
        if self.gen != GEN_V81:
            buckets = next_pow2(n)
            if buckets < DICT_MIN_BUCKETS:
                buckets = DICT_MIN_BUCKETS
            if self.live and steps_per_insert > 0 and n > 4:
                old = buckets // 2
                if old >= DICT_MIN_BUCKETS and steps_per_insert * (n - old - 1) < 0.632 * old:
                    return self.sz_dict + DICT_SLOT * (buckets + old)
            return self.sz_dict + DICT_SLOT * buckets
        if n <= 0:
            return HT_STRUCT
        old = 0
        if self.live:
            buckets = self._ht_buckets(created_at) if created_at > 0 else 1
            n0 = 0
            while HT_SLOTS * buckets < n:
                old = buckets
                n0 = HT_SLOTS * buckets + 1
                buckets = self._ht_buckets(n0)
            if old > 0 and n - n0 >= old:
                old = 0  # rehash finished
        else:
            buckets = self._ht_buckets(n)
        # child buckets chained onto buckets holding more than 7 entries (expected, Poisson load)
        lam = <double>n / buckets
        p = c_exp(-lam)
        expected_children = 0.0
        for x in range(1, 80):
            p *= lam / x
            if x > HT_SLOTS:
                expected_children += p * ((x - HT_SLOTS + 5) // 6)
            if x > lam and p < 1e-12:
                break
        return HT_STRUCT + HT_BUCKET * (buckets + old + <int64_t>(expected_children * buckets + 0.5))

    cdef bint string_embedded(self, int64_t key_len, int64_t value_len, bint has_expire) noexcept nogil:
        cdef int64_t key_sds = sds_hdr(key_len) + key_len + 1, size
        if self.gen == GEN_R82:
            # kvobjSet(): an embstr value (createStringObject: <= 44 bytes) stays embedded with the key
            # while robj 16 + key (its length + 3: the key's sds header taken as 1 byte) + [expiry 8] +
            # value sds8 (length + 4) fit a 64-byte cache line. 8.6+ leaves the expiry out of the test.
            if value_len > self.embstr_limit or key_len + value_len + 23 > 64:
                return False
            if not (has_expire and self.kv_embed_expire):
                return True
            if key_len + value_len + 31 <= 64:
                return True
            if not self.live:
                return False  # loaded with its expiry: created with it
            # Built by commands: SET made it without an expiry, EXPIRE re-creates it (and re-tests,
            # with the expiry) unless the first allocation had 8 spare bytes for it (measured)
            size = ROBJ + KV_HDR_BYTE + key_sds + SDS8_OVERHEAD + value_len
            return self.kv_spare_slot and self.alloc(size) >= size + EXPIRE_SLOT
        if self.gen == GEN_V81:
            if self.vk_embed_limit > 0:
                return value_len <= 255 and self.vk_embed_robj + 1 + key_sds + SDS8_OVERHEAD + value_len <= self.vk_embed_limit
            # Valkey 8.1 (measured): key + value <= 41 bytes, 39 with a TTL and a key of 32+ bytes
            if has_expire and key_len >= 32:
                return key_len + value_len <= 39
            return key_len + value_len <= 41
        return value_len <= self.embstr_limit

    cdef int64_t _kv_string(self, KeyFacts* facts, MemBreakdown* out) noexcept nogil:
        """Redis >= 8.2 and Valkey >= 9.0: one allocation holds robj, [expiry], the key's header-size
        byte, the key sds and, when embedded, the value as an sds8; key_bytes/overhead_bytes split it,
        the value part (its share of the allocation, or its own sds) is returned."""
        cdef int64_t key_sds = sds_hdr(facts.key_len) + facts.key_len + 1
        cdef int64_t head = ROBJ, obj, whole, size
        cdef bint expiry = facts.has_expire or facts.key_len >= KV_LONG_KEY  # long keys always get the slot
        # the spare-slot case allocates what min + 8 would (the class already had the room)
        if expiry:
            head += EXPIRE_SLOT
        out.key_bytes = 1 + key_sds
        obj = self.alloc(head + out.key_bytes)
        out.overhead_bytes = obj - out.key_bytes
        if facts.int_value:
            return 0
        if self.string_embedded(facts.key_len, facts.value_len, facts.has_expire):
            size = SDS8_OVERHEAD + facts.value_len
            if self.vk_embed_limit > 0 and self.vk_embed_robj < ROBJ:
                # Valkey 9.1 puts the value where the robj's pointer was: it takes at least those 8 bytes
                head -= ROBJ - self.vk_embed_robj
                if size < 8:
                    size = 8
            whole = self.alloc(head + out.key_bytes + size)
            out.overhead_bytes = head
            return whole - head - out.key_bytes
        # a value sds of its own, typed by its length (sdsnewlen: sds5 below 32 bytes)
        return self.alloc(sds_hdr(facts.value_len) + facts.value_len + 1)

    cdef int64_t main_entry_bytes(self, KeyFacts* facts, MemBreakdown* out) noexcept nogil:
        """Fill key_bytes and overhead_bytes (key sds, robj, main-dict entry); returns their sum."""
        cdef int64_t key_sds = (SDS_OLD_HDR if self.old_sds else sds_hdr(facts.key_len)) + facts.key_len + 1
        cdef int64_t robj
        if self.gen == GEN_V81 or self.gen == GEN_R82:
            # robj + [expire] + 1-byte header-size prefix + embedded key sds, one allocation
            robj = ROBJ + KV_HDR_BYTE + key_sds
            if facts.has_expire or facts.key_len >= KV_LONG_KEY:  # long keys always get the expiry slot
                robj += EXPIRE_SLOT
            out.key_bytes = 1 + key_sds
            out.overhead_bytes = self.alloc(robj) - out.key_bytes
        elif self.gen == GEN_V80:
            # dictEntry with the key embedded: value, next, header-size prefix, key sds
            out.key_bytes = 1 + key_sds
            out.overhead_bytes = self.alloc(EMBKEY_ENTRY + key_sds) - out.key_bytes + ROBJ
        else:
            out.key_bytes = self.alloc(key_sds)
            out.overhead_bytes = DICT_ENTRY + ROBJ
        return out.key_bytes + out.overhead_bytes

    cdef void estimate(self, KeyFacts* facts, MemBreakdown* out) noexcept nogil:
        cdef int64_t value = 0, n = facts.num_elements, size, nodes, robj, prealloc
        cdef int kind = facts.kind
        cdef int enc = facts.encoding
        self.main_entry_bytes(facts, out)
        # Valkey >= 8.1 and Redis >= 8.2 keep the expiry in the object and the expires table points at it
        out.expires_bytes = DICT_ENTRY if (facts.has_expire and self.gen != GEN_V81 and self.gen != GEN_R82) else 0
        if kind == KIND_STRING and (self.gen == GEN_R82 or self.vk_embed_limit > 0):
            value = self._kv_string(facts, out)
        elif kind == KIND_STRING:
            if facts.int_value:
                value = 0
            elif self.gen == GEN_V81:
                # Valkey 8.1: embstr when the value fits in 44 bytes and robj + key + [expire] + sds8 value <= 64
                robj = ROBJ + KV_HDR_BYTE + sds_hdr(facts.key_len) + facts.key_len + 1
                if facts.has_expire or (facts.key_len >= KV_LONG_KEY and self.gen == GEN_V81):
                    robj += EXPIRE_SLOT
                if facts.value_len <= self.embstr_limit and robj + SDS8_OVERHEAD + facts.value_len <= 64:
                    value = self.alloc(robj + SDS8_OVERHEAD + facts.value_len) - self.alloc(robj)
                else:
                    value = self.alloc(sds_hdr_min8(facts.value_len) + facts.value_len + 1)
            elif facts.value_len <= self.embstr_limit:
                if self.old_sds:
                    value = self.alloc(ROBJ + SDS_OLD_HDR + facts.value_len + 1) - ROBJ
                elif self.gen == GEN_R62:
                    value = facts.value_len + 2
                else:
                    value = self.alloc(ROBJ + SDS8_OVERHEAD + facts.value_len) - ROBJ
            elif self.old_sds:
                value = self.sds_alloc(facts.value_len)
            else:
                value = self.alloc(sds_hdr_min8(facts.value_len) + facts.value_len + 1)
        elif kind == KIND_MODULE:
            value = facts.module_bytes
        elif kind == KIND_STREAM:
            value = self._stream_value(facts)
        elif kind == KIND_LIST:
            if self.old_sds and (enc == ENC_LINKEDLIST or enc == ENC_QUICKLIST) and facts.blob_count == 0:
                value = LIST_STRUCT + facts.elem_alloc  # struct list + its nodes
            elif enc == ENC_QUICKLIST or enc == ENC_LINKEDLIST:
                if facts.blob_count == 0 and facts.elem_packed > 0:
                    # linked list from an old file: re-packed into ~8 KB nodes on load
                    nodes = (facts.elem_packed + LIST_NODE_TARGET - 1) // LIST_NODE_TARGET
                    size = facts.elem_packed // nodes + LISTPACK_HEADER
                    value = self.sz_quicklist + nodes * (self.sz_qlnode + self.alloc(size))
                elif self.gen == GEN_R62:
                    value = self.sz_quicklist + facts.blob_count * self.sz_qlnode + facts.blob_held
                else:
                    value = self.sz_quicklist + facts.blob_count * self.sz_qlnode + facts.blob_alloc
            elif enc == ENC_ZIPLIST and self.embstr_limit == 44:
                # a ziplist list (RDB type 10) becomes a one-node quicklist on servers >= 3.2
                value = self.sz_quicklist + self.sz_qlnode + self._blob_value(facts)
            else:
                value = self._blob_value(facts)
        elif enc == ENC_LISTPACKEX:
            # Redis >= 7.4 hash with field TTLs: listpackEx {ExpireMeta, key, lp} + the listpack
            value = self.alloc(LISTPACK_EX) + facts.blob_alloc
        elif enc == ENC_HASHTABLE:
            value = self.table_bytes(n, self._live_steps(facts), self._created_at(facts)) + facts.elem_alloc
            if self.gen == GEN_V81:
                value += (self.vk_set_struct if kind == KIND_SET else self.vk_hash_struct) - HT_STRUCT
            if facts.volatile_fields > 0:
                # Redis >= 7.4 field TTLs: dict metadata (ExpireMeta, ebuckets, key) + 8 bytes per field
                value += HFE_DICT_META + HFE_FIELD * facts.volatile_fields
        elif enc == ENC_SKIPLIST and self.gen == GEN_V81:
            value = self.vk_zset_fixed - HT_STRUCT + self.zsl_header + facts.elem_alloc
            value += self.table_bytes(n, self.zset_steps, self._created_at(facts))
            if not self.zset_node_member:
                value += <int64_t>(n * self.zsl_node_extra + 0.5)
        elif enc == ENC_SKIPLIST:
            value = ZSET_STRUCT + ZSKIPLIST + self.zsl_header + self.table_bytes(n, self.zset_steps, self._created_at(facts)) + facts.elem_alloc
            value += <int64_t>(n * self.zsl_node_extra + 0.5)
        else:
            value = self._blob_value(facts)
        if facts.rdb15 != NULL:  # arrays, GCRA, template hashes, stream IDMP, key metadata (RDB 13-15)
            value = self._rdb15_value(facts, out, value)
        out.value_bytes = value
        out.total = out.key_bytes + out.overhead_bytes + out.value_bytes

    cdef int64_t _created_at(self, KeyFacts* facts) noexcept nogil:
        """Valkey: entries when a compact encoding was converted (set 128 / intset 512, hash 512,
        zset 128 with the default limits), or 0 for small tables converted early by a long value."""
        cdef int64_t limit
        if facts.kind == KIND_SET:
            limit = 512 if facts.elements_all_int else 128
        elif facts.kind == KIND_HASH:
            limit = 512
        else:
            limit = 128
        return limit + 1 if facts.num_elements > limit else 0

    cdef int _live_steps(self, KeyFacts* facts) noexcept nogil:
        """Rehash steps per insert while a set/hash grew, or 0 when its table was sized in one go.

        A set that outgrew its intset (512) or, from 7.2, its listpack (128), and a hash that outgrew
        its listpack (512) are converted after the insert, to a table presized for the new count;
        up to twice the limit no doubling follows. Small hashtable hashes were converted early by a
        long value: presized too, as far as anyone can tell from the file.
        """
        cdef int64_t n = facts.num_elements, limit = 0
        if facts.kind == KIND_SET:
            if facts.elements_all_int:
                limit = 512
            elif self.embstr_limit == 44 and self.sz_consumer == 32:  # Redis-equivalent >= 7.2
                limit = 128
            if self.gen == GEN_R82 and limit == 128 and n <= limit:
                return self.set_steps  # converted early by a long member, then grown (measured on 8.2)
            if limit > 0 and n <= 2 * limit:
                return 0
            return self.set_steps
        if facts.kind == KIND_HASH:
            if self.gen == GEN_R62:
                return 2  # 6.2 converts without presizing: always grown insert by insert
            if self.gen == GEN_R82 and n <= 512:
                return self.hash_steps  # converted early by a long value, then grown (measured on 8.2)
            return 0 if n <= 1024 else self.hash_steps
        return self.zset_steps

    cdef int64_t _blob_value(self, KeyFacts* facts) noexcept nogil:
        """A value held as one compact blob (listpack, ziplist, intset, zipmap)."""
        if self.gen == GEN_R62 and not self.old_sds:  # < 3.2 has no MEMORY USAGE: its allocations
            return facts.blob_held
        return facts.blob_alloc

    cdef double _rax_bytes(self, double elements, double ms_runs) noexcept nogil:
        """What MEMORY USAGE charges for a rax of stream IDs (_streams.rax_bytes: Valkey >= 8.0 its
        allocations, Redis 16 per ID + 244 per node)."""
        return rax_bytes(self.gen == GEN_V81 or self.gen == GEN_V80, elements, ms_runs)

    cdef void stream_group(self, KeyFacts* facts, int64_t name_len, int64_t pel, int64_t ms_runs) noexcept nogil:
        facts.stream_cg_alloc += self.sz_cgroup + <int64_t>self._rax_bytes(pel, ms_runs) + self.sz_nack * pel
        facts.stream_cg_calls += 1

    cdef void stream_consumer(self, KeyFacts* facts, int64_t name_len, int64_t pel, int64_t ms_runs) noexcept nogil:
        facts.stream_cg_alloc += self.sz_consumer + name_len + <int64_t>self._rax_bytes(pel, ms_runs)
        facts.stream_cg_calls += 1

    cdef int64_t _stream_value(self, KeyFacts* facts) noexcept nogil:
        cdef int64_t value = self.sz_stream
        cdef int64_t nodes = facts.stream_nodes
        cdef int64_t last = facts.last_blob_bytes
        cdef int64_t groups = facts.stream_groups, consumers = facts.stream_consumers
        cdef double pel = <double>facts.stream_pel
        cdef bint alloc_sized = self.gen == GEN_V81 or self.gen == GEN_V80
        # the listpack rax: keys are master IDs of distinct milliseconds (+1: measured 2k + 2 nodes)
        value += <int64_t>self._rax_bytes(nodes, nodes + (0 if alloc_sized else 1))
        value += facts.blob_alloc
        if nodes > 0 and self.stream_prealloc > last:
            # the node being appended to was created with stream_prealloc bytes and keeps them
            value += self.alloc(self.stream_prealloc) - self.alloc(last)
        if facts.stream_cg_calls > 0:
            return value + facts.stream_cg_alloc
        # groups and consumers from the totals, the PEL split evenly; without the IDs, assume a
        # millisecond change every 4 PEL entries (bursts of XADDs read together)
        if groups > 0:
            value += groups * (self.sz_cgroup + <int64_t>group_rax_share(alloc_sized, groups, pel))
            value += self.sz_nack * facts.stream_pel
        if consumers > 0:
            value += consumers * (self.sz_consumer + <int64_t>group_rax_share(alloc_sized, consumers, pel))
        value += facts.stream_name_bytes
        if groups > 0:
            # group names are keys of the cgroups rax, not charged: only consumer names count, and
            # the decoder sums both, so take the groups' share (assume names of similar length) out
            value -= facts.stream_name_bytes * groups // (groups + consumers)
        return value

    # --- RDB 13-15: arrays, hash templates, GCRA, stream IDMP, key metadata ---------------------------
    #
    # No server writing these formats could be run: every figure below is derived from the Redis
    # 8.6-8.10 sources (allocation sizes and growth rules) and the allocator's size classes, not
    # measured. The key's part (kvobj) is whatever main_entry_bytes() says for the writer's generation.

    cdef void array_element(self, ArrayShape* a, uint64_t idx, int64_t heap_len) noexcept nogil:
        _arrays.array_element(a, self.alloc_kind, idx, heap_len)

    cdef int64_t _array_slice_bytes(self, ArrayShape* a) noexcept nogil:
        return _arrays.array_slice_bytes(a, self.alloc_kind)

    cdef int64_t array_bytes(self, ArrayShape* a) noexcept nogil:
        return _arrays.array_bytes(a, self.alloc_kind)

    cdef void template_value(self, KeyFacts* facts, int64_t value_len) noexcept nogil:
        facts.rdb15.value_alloc += self.sds_alloc(value_len)

    cdef int64_t template_bytes(self, int64_t field_count, int64_t names_alloc) noexcept nogil:
        """A template: its struct with the array of field-name sds, the names, and its registry slot."""
        return self.alloc(TMPL_STRUCT + 8 * field_count) + names_alloc + 8

    cdef void idmp_producer(self, KeyFacts* facts, int64_t pid_len, int64_t entries) noexcept nogil:
        """A producer: its key in the stream's producers rax, the idmpProducer and its dict of IIDs."""
        cdef int64_t buckets = next_pow2(entries if entries > IDMP_MIN_BUCKETS else IDMP_MIN_BUCKETS)
        facts.rdb15.idmp_producers += 1
        facts.rdb15.idmp_alloc += IDMP_RAX_KEY + pid_len + self.alloc(IDMP_PRODUCER) + self.sz_dict + DICT_SLOT * buckets

    cdef void idmp_entry(self, KeyFacts* facts, int64_t iid_len) noexcept nogil:
        """One tracked IID: an idmpEntry with the IID inline, and its dict entry."""
        facts.rdb15.idmp_entries += 1
        facts.rdb15.idmp_alloc += self.alloc(IDMP_ENTRY + iid_len) + DICT_ENTRY

    cdef int64_t _rdb15_value(self, KeyFacts* facts, MemBreakdown* out, int64_t value) noexcept nogil:
        """The value of the kinds and facts RDB 13-15 added (estimate() has priced the rest).

        Arrays: ar->alloc_size (array_bytes()). GCRA: the value lives in the object's pointer, nothing
        more. Template hashes: what the key owns, its values listpack or hashTemplateArray + value sds;
        the template itself is shared and reported once (RdbMetadata.hash_templates): MEMORY USAGE
        adds each key's 1/N of it, and N is only known at the end of the file. Streams: IDMP producers
        on top of the stream (NACKed entries are group PEL entries, already priced). Key metadata:
        one 8-byte slot per class in front of the key's object, added unrounded (the kvobj's size class
        is not recomputed: modules attaching key metadata are rare)."""
        cdef KeyFacts15* ext = facts.rdb15
        if facts.kind == KIND_ARRAY:
            value = ext.value_alloc
        elif facts.kind == KIND_GCRA:
            value = 0
        elif facts.encoding == ENC_TMPL_LP:
            value = facts.blob_alloc
        elif facts.encoding == ENC_TMPL_ARRAY:
            value = self.alloc(TMPL_ARRAY_HDR + 8 * facts.num_elements) + ext.value_alloc
        value += ext.idmp_alloc
        out.overhead_bytes += KEY_META_SLOT * ext.key_meta_classes
        return value

    def array_cost(self, elements) -> int:
        """ar->alloc_size of an array holding `elements`: (index, out-of-line string length or -1)
        pairs in ascending index order (for tests and calibration)."""
        cdef ArrayShape a
        memset(&a, 0, sizeof(ArrayShape))
        for idx, heap_len in elements:
            self.array_element(&a, idx, heap_len)
        return self.array_bytes(&a)

    def template_cost(self, names) -> int:
        """The shared memory of a hash template with these field names (lengths or bytes)."""
        cdef int64_t alloc = 0
        names = list(names)
        for name in names:
            alloc += self.sds_alloc(name if isinstance(name, int) else len(name))
        return self.template_bytes(len(names), alloc)

    # --- Python-visible hooks (tests, calibration, metadata) ----------------------------------------

    def alloc_size(self, size: int) -> int:
        """What the allocator hands out for a request of `size` bytes."""
        return self.alloc(size)

    def sds_size(self, length: int) -> int:
        """Allocation of an sds string of `length` bytes created with sdsnewlen()."""
        return self.sds_alloc(length)

    def element_cost(self, kind: int, a_len: int, b_len: int = 0) -> int:
        cdef KeyFacts f
        _zero(&f)
        f.kind = kind
        return self.element(&f, a_len, b_len)

    def blob_cost(self, kind: int, nbytes: int, compressed: int = -1) -> int:
        cdef KeyFacts f
        _zero(&f)
        f.kind = kind
        return self.blob(&f, nbytes, compressed)

    def dict_table_bytes(self, n: int, steps_per_insert: int = 0, created_at: int = -1) -> int:
        """A collection's hash table (struct + buckets) for `n` entries (see table_bytes);
        `created_at` -1 means presized for n."""
        return self.table_bytes(n, steps_per_insert, n if created_at < 0 else created_at)

    def estimate_facts(self, *, kind, encoding, key_len, has_expire=False, num_elements=1,
                       value_len=0, int_value=False, elements=(), blobs=(), stream_groups=0,
                       stream_consumers=0, stream_pel=0, stream_name_bytes=0, module_bytes=0,
                       rdb_type=0) -> dict:
        """Run a key through element()/blob()/estimate() as the decoder would; returns the breakdown.

        `kind`/`encoding` are names ("hash", "listpack") or numbers; `elements` is a sequence of
        (a_len, b_len) pairs; `blobs` of (nbytes, compressed_or_-1) pairs.
        """
        cdef KeyFacts f
        cdef MemBreakdown mb
        _zero(&f)
        f.kind = KIND_NAMES.index(kind) if isinstance(kind, str) else int(kind)
        f.encoding = ENCODING_NAMES.index(encoding) if isinstance(encoding, str) else int(encoding)
        f.rdb_type = rdb_type
        f.key_len = key_len
        f.has_expire = has_expire
        f.num_elements = num_elements
        f.value_len = value_len
        f.int_value = int_value
        f.module_bytes = module_bytes
        for a_len, b_len in elements:
            f.elem_alloc += self.element(&f, a_len, b_len)
        for nbytes, compressed in blobs:
            f.blob_count += 1
            f.blob_bytes += nbytes
            f.blob_alloc += self.blob(&f, nbytes, compressed)
            if compressed >= 0:
                f.compressed_nodes += 1
            if f.kind == KIND_STREAM:
                f.stream_nodes += 1
        f.stream_groups = stream_groups
        f.stream_consumers = stream_consumers
        f.stream_pel = stream_pel
        f.stream_name_bytes = stream_name_bytes
        self.estimate(&f, &mb)
        return {
            "key_bytes": mb.key_bytes,
            "overhead_bytes": mb.overhead_bytes,
            "value_bytes": mb.value_bytes,
            "expires_bytes": mb.expires_bytes,
            "total": mb.total,
        }

    def benchmark(self, int keys=1000000) -> float:
        """Seconds the model itself takes for `keys` keys of a typical mix (strings, small
        listpacks, a 10-member hashtable set), as the decoder drives it; for the benchmarks."""
        cdef KeyFacts f
        cdef MemBreakdown mb
        cdef int64_t i, j, sink = 0
        import time
        start = time.perf_counter()
        with nogil:
            for i in range(keys):
                memset(&f, 0, sizeof(KeyFacts))
                f.key_len = 10 + (i & 31)
                f.has_expire = (i & 3) == 0
                j = i % 10
                if j < 7:
                    f.kind = KIND_STRING
                    f.encoding = ENC_EMBSTR
                    f.value_len = 5 + (i & 63)
                elif j < 9:
                    f.kind = KIND_HASH
                    f.encoding = ENC_LISTPACK
                    f.blob_alloc += self.blob(&f, 100 + (i & 255), -1)
                else:
                    f.kind = KIND_SET
                    f.encoding = ENC_HASHTABLE
                    f.num_elements = 10
                    for j in range(10):
                        f.elem_alloc += self.element(&f, 8 + j, 0)
                self.estimate(&f, &mb)
                sink += mb.total
        elapsed = time.perf_counter() - start
        return elapsed if sink >= 0 else -1.0

    def describe(self) -> dict:
        """The model's identity and parameters, JSON-safe (for snapshot metadata)."""
        return {
            "family": self.family,
            "version": ".".join(map(str, self.version)),
            "allocator": self.allocator,
            "list_compress_depth": self.list_compress_depth,
            "stream_prealloc": self.stream_prealloc,
            "state": self._state,
            "generation": self._generation_name(),
        }

    def _generation_name(self) -> str:
        if self.gen == GEN_V81 and self.vk_embed_limit > 0:
            return "valkey>=9.1" if self.vk_embed_limit == 128 else "valkey-9.0"
        if self.gen == GEN_R82 and not self.kv_spare_slot:
            return "redis>=8.6"
        if self.gen == GEN_R82 and self.sz_quicklist != QUICKLIST:
            return "redis-8.4"
        return ("redis<=6.2", "redis>=7.0", "valkey-8.0", "valkey-8.1", "redis-8.2")[self.gen]

    def __repr__(self) -> str:
        return f"MemoryModel({self.family!r}, {self.version!r}, {self.allocator!r})"


cdef inline void _zero(KeyFacts* f) noexcept:
    memset(f, 0, sizeof(KeyFacts))
