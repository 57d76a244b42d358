# The interface between the decoder's hot loop and the memory model.
#
# The decoder fills one KeyFacts per key while it parses (structure-level facts only, never values),
# calls MemoryModel.element()/blob() for each element of a non-compact encoding and each compact blob,
# and MemoryModel.estimate() when the key is complete. The model owns every version/allocator detail.
#
# Fields may be appended (never reordered or removed) by either side; keep both .pyx files in step.
# Fields after `module_bytes` belong to the model: element()/blob() fill them, the decoder only has to
# zero the struct per key (it memsets it).

cimport cython
from libc.stdint cimport int64_t, uint64_t

# Kind (KIND_*) and Encoding (ENC_*) are shared with the decoder: insightkit/rdb/_kinds.pxd.
from insightkit.rdb._kinds cimport *

# What RDB 13-15 added to a key (Redis 8.6-8.10), kept out of KeyFacts so that the struct the decoder
# clears for every key stays small: KeyFacts.rdb15 points at one when the key has any of it.
cdef struct KeyFacts15:
    int64_t key_meta_classes # KEY_META (0xF3) classes attached to the key: one 8-byte kvobj slot each
    int64_t value_alloc      # arrays: array_bytes(); template arrays: template_value() summed
    int64_t stream_nacked    # type 27: group PEL entries in the NACK zone (owned by no consumer)
    int64_t idmp_producers   # types 26/27: idempotent producers
    int64_t idmp_entries     # ... the IIDs they track
    int64_t idmp_alloc       # ... priced by idmp_producer()/idmp_entry()

cdef struct KeyFacts:
    int kind                 # Kind
    int encoding             # Encoding as held in memory by the writing server
    int rdb_type             # the RDB object type byte
    int64_t key_len          # bytes in the key name
    bint has_expire
    int64_t num_elements     # members / fields / items / stream entries; 1 for strings
    int64_t value_len        # strings: byte length of the (decompressed) value
    bint int_value           # strings: value is a canonical integer that fits in a signed 64-bit long
    int64_t blob_count       # compact blobs held in memory (listpack, ziplist, intset, zipmap, quicklist nodes)
    int64_t blob_bytes       # their uncompressed byte sizes, summed
    int64_t blob_alloc       # sum of MemoryModel.blob() over them
    int64_t elem_alloc       # sum of MemoryModel.element() over elements of non-compact encodings
    int64_t compressed_nodes # quicklist nodes held LZF-compressed
    int64_t plain_nodes      # quicklist nodes in plain (non-listpack) container
    int64_t volatile_fields  # hash fields with a TTL
    int64_t stream_nodes     # stream radix-tree listpack nodes
    int64_t stream_groups
    int64_t stream_consumers
    int64_t stream_pel       # group PEL entries (sum over groups)
    int64_t stream_name_bytes  # sum of group and consumer name lengths
    int64_t module_bytes     # module values: serialized payload size
    # --- filled by the model itself (element()/blob()); the decoder only zeroes them ---
    int64_t blob_held        # sum of blob sizes as the server counts them unrounded (LZF size when held compressed)
    int64_t last_blob_bytes  # size of the most recent blob (a stream's last node is preallocated)
    int64_t elem_packed      # linked-list items: bytes they take once packed into ziplist/listpack nodes
    int64_t stream_cg_alloc  # consumer groups and consumers priced one by one (stream_group()/stream_consumer())
    int64_t stream_cg_calls  # how many stream_group()/stream_consumer() calls made it
    bint elements_all_int    # sets (RDB type 2): every member is a canonical integer (set by the decoder)
    # --- appended for RDB 13-15: NULL, or the key's KeyFacts15 (decoder-owned, set for arrays, GCRA,
    # template hashes, streams 26/27 and keys with metadata; the model prices it in _rdb15_value()) ---
    KeyFacts15* rdb15

# The shape of an array (RDB type 28) as its elements arrive in ascending index order: defined with the
# simulation that fills it (insightkit/memory/_arrays.pxd), cimported from here by the decoder.
from insightkit.memory._arrays cimport ArrayShape

cdef struct MemBreakdown:
    int64_t key_bytes       # key sds allocation
    int64_t overhead_bytes  # robj header + main dict entry
    int64_t value_bytes     # the value's structure
    int64_t expires_bytes   # expires dict entry (not counted by MEMORY USAGE)
    int64_t total           # key_bytes + overhead_bytes + value_bytes == MEMORY USAGE

@cython.final
cdef class MemoryModel:
    cdef public str allocator        # "jemalloc" or "libc"
    cdef public tuple version        # (major, minor) of the server family below
    cdef public str family           # "redis" or "valkey"
    # --- appended by the memory model (private layout; set from __init__) ---
    cdef public int list_compress_depth   # quicklist nodes held LZF-compressed only when > 0
    cdef public int stream_prealloc       # bytes a stream's open (last) listpack node is preallocated to
    cdef public dict description          # what was chosen and why (model_for fills it; JSON-safe)
    cdef str _state                       # "live" (built by commands) or "loaded" (as right after an RDB load)
    cdef int gen                 # accounting generation (GEN_* in _model.pyx)
    cdef bint jemalloc
    cdef bint live               # state == "live"
    cdef int64_t embstr_limit
    cdef bint old_sds            # Redis < 3.2: 8-byte sds header, linked lists, no quicklist
    cdef int64_t sz_dict         # sizeof(dict) (0 for Valkey's hashtable generation)
    cdef int64_t sz_qlnode       # sizeof(quicklistNode)
    cdef int64_t sz_stream       # sizeof(stream)
    cdef int64_t sz_cgroup       # sizeof(streamCG)
    cdef int64_t sz_consumer     # sizeof(streamConsumer)
    cdef double zsl_node_extra   # expected allocator size of a skiplist node (random level, p = 1/4)
    cdef int64_t zsl_header      # allocator size of the skiplist header node (32 levels)
    cdef bint quantum8           # jemalloc with an 8-byte quantum (Redis/Valkey's bundled build)
    cdef int64_t alloc(self, int64_t size) noexcept nogil
    cdef int64_t sds_alloc(self, int64_t length) noexcept nogil
    # One element of a non-compact encoding: a set member, a hash field+value, a zset member
    # (b_len 0), a linked-list item (b_len 0). Returns bytes to add to facts.elem_alloc.
    cdef int64_t element(self, KeyFacts* facts, int64_t a_len, int64_t b_len) noexcept nogil
    # One compact blob (listpack/ziplist/intset/zipmap, or a quicklist/stream node) of `nbytes`
    # uncompressed bytes; `compressed` is its LZF size when held compressed, else -1.
    cdef int64_t blob(self, KeyFacts* facts, int64_t nbytes, int64_t compressed) noexcept nogil
    cdef void estimate(self, KeyFacts* facts, MemBreakdown* out) noexcept nogil
    # --- appended by the memory model ---
    cdef int64_t table_bytes(self, int64_t n, int steps_per_insert, int64_t created_at) noexcept nogil
    cdef int64_t _ht_buckets(self, int64_t n) noexcept nogil
    cdef int64_t main_entry_bytes(self, KeyFacts* facts, MemBreakdown* out) noexcept nogil
    # Optional, more exact stream accounting: call once per consumer group and once per consumer
    # while walking a stream, with its name length, the entries in its PEL and `ms_runs`, the number
    # of runs of consecutive PEL IDs sharing the same millisecond part (IDs in file order; 0 if the
    # PEL is empty). Without these calls the model splits the KeyFacts totals evenly and assumes
    # a millisecond change every 4 PEL IDs.
    cdef void stream_group(self, KeyFacts* facts, int64_t name_len, int64_t pel, int64_t ms_runs) noexcept nogil
    cdef void stream_consumer(self, KeyFacts* facts, int64_t name_len, int64_t pel, int64_t ms_runs) noexcept nogil
    cdef double _rax_bytes(self, double elements, double ms_runs) noexcept nogil
    cdef int _live_steps(self, KeyFacts* facts) noexcept nogil
    cdef int64_t _created_at(self, KeyFacts* facts) noexcept nogil
    cdef int64_t _blob_value(self, KeyFacts* facts) noexcept nogil
    cdef int64_t _stream_value(self, KeyFacts* facts) noexcept nogil
    # --- appended for Redis 8.2+ and Valkey 9 (issue 16) ---
    cdef bint kv_spare_slot      # kvobj: 8 spare bytes in the allocation already hold the expiry (Redis 8.2/8.4)
    cdef bint kv_embed_expire    # kvobjSet's cache-line embed test counts the expiry (Redis 8.2/8.4)
    cdef int64_t vk_embed_limit  # Valkey >= 9.0: embstr while the embedded object stays within this (else 0)
    cdef int64_t vk_embed_robj   # ... counting the robj as this many bytes (9.1 reuses its value pointer)
    cdef int64_t sz_quicklist    # sizeof(quicklist)
    cdef int64_t zset_entry      # what MEMORY USAGE charges per zset dict entry
    cdef int set_steps           # rehash steps per insert while a table grows: SADD,
    cdef int hash_steps          # HSET,
    cdef int zset_steps          # ZADD
    # Whether a string value of `value_len` bytes is held embstr (OBJECT ENCODING) under a key of
    # `key_len` bytes; the decoder names encodings with it on servers that embed the key.
    cdef bint string_embedded(self, int64_t key_len, int64_t value_len, bint has_expire) noexcept nogil
    cdef int64_t _kv_string(self, KeyFacts* facts, MemBreakdown* out) noexcept nogil
    cdef int64_t vk_set_struct   # Valkey >= 9.0: hashtable struct of a set,
    cdef int64_t vk_hash_struct  # of a hash (9.0 added field-expiry metadata),
    cdef int64_t vk_zset_fixed   # and zset + its hashtable struct (9.1 folds the skiplist struct in)
    cdef bint zset_node_member   # Valkey >= 9.1: a zset member lives inside its skiplist node
    cdef double node_cache[512]  # expected skiplist node allocation by fixed size (zset_node_member)
    cdef double _expected_node(self, int64_t base) noexcept nogil
    # --- appended for RDB 13-15 (derived from Redis 8.6-8.10 sources; no server to measure) ---
    # One array element at `idx` (ascending); `heap_len` is the length of a value held out of line
    # (an arString), -1 when it lives in the slot. array_bytes() finishes the shape: ar->alloc_size.
    cdef void array_element(self, ArrayShape* a, uint64_t idx, int64_t heap_len) noexcept nogil
    cdef int64_t array_bytes(self, ArrayShape* a) noexcept nogil
    cdef int64_t _array_slice_bytes(self, ArrayShape* a) noexcept nogil
    # One value of a template-array hash (an sds each), added to facts.value_alloc.
    cdef void template_value(self, KeyFacts* facts, int64_t value_len) noexcept nogil
    # A hash template's own memory (shared by every key that uses it): `names_alloc` is the sum of
    # sds_alloc() over its field names.
    cdef int64_t template_bytes(self, int64_t field_count, int64_t names_alloc) noexcept nogil
    # Streams 26/27: an idempotent producer tracking `entries` IIDs, and one IID of `iid_len` bytes.
    cdef void idmp_producer(self, KeyFacts* facts, int64_t pid_len, int64_t entries) noexcept nogil
    cdef void idmp_entry(self, KeyFacts* facts, int64_t iid_len) noexcept nogil
    cdef int64_t _rdb15_value(self, KeyFacts* facts, MemBreakdown* out, int64_t value) noexcept nogil
    cdef int live_stream_prealloc    # what a live server preallocates a stream's open node to
    cdef int64_t sz_nack             # sizeof(streamNACK) as MEMORY USAGE counts it
    # --- appended when the allocator helpers moved to _sizes.pxd: ALLOC_* (layout.pxd) ---
    cdef int alloc_kind
