# The one home of the memory layout: struct sizes, encoding headers, allocator size classes and the
# accounting generations, as the server sources (64-bit builds) and our measurements fix them.
#
# C code cimports these names as compile-time constants (the memory model's hot loop: no lookup, no
# cost); Python code imports the same names from insightkit.memory.layout, where `cpdef enum` exposes
# them as ints (recommend/cost.py, memory/overhead.py, the stream rules). Change a number here and both
# follow; never restate one elsewhere. Values are C ints: nothing here may exceed 2**31 - 1.

cpdef enum:
    # --- objects and the main dict ---
    ROBJ = 16                   # robj header (type/encoding/lru, refcount, ptr)
    DICT_ENTRY = 24             # dictEntry {key, value, next}
    DICT_ENTRY_NO_VALUE = 16    # dictEntryMemUsage(no_value=1): Redis 8.2 zset entries and keyspace
    DICT_SLOT = 8               # one bucket pointer of a dict's table
    DICT_MIN_BUCKETS = 4        # DICT_HT_INITIAL_SIZE
    DICT_STRUCT_R62 = 96        # sizeof(dict) up to Redis 6.2 (two dictht inline)
    DICT_STRUCT = 56            # sizeof(dict) from Redis 7.0
    EMBKEY_ENTRY = 17           # Valkey 8.0 entry with the key embedded: value, next, header-size byte
    KV_HDR_BYTE = 1             # the header-size byte before a key embedded in its object
    EXPIRE_SLOT = 8             # the expiry a kvobj / Valkey >= 8.1 robj holds in front of the key
    KV_LONG_KEY = 128           # keys of this many bytes or more always get the expiry slot (object.c)
    KEY_META_SLOT = 8           # one KEY_META class's slot in front of a Redis 8.6+ object

    # --- strings: sds headers (sdsReqType), embstr ---
    SDS5_BELOW = 32             # sds type 5 below this length (sdsnewlen keeps it for keys/elements)
    SDS8_BELOW = 256
    SDS16_BELOW = 65536         # type 32 below 2**32, type 64 above (no int: see _sizes.pxd)
    SDS5_HDR = 1
    SDS8_HDR = 3
    SDS16_HDR = 5
    SDS32_HDR = 9
    SDS64_HDR = 17
    SDS_OLD_HDR = 8             # Redis < 3.2: struct sdshdr {int len; int free;}
    SDS8_OVERHEAD = 4           # sds type 8 header (3) + terminator
    EMBSTR_LIMIT = 44           # OBJ_ENCODING_EMBSTR_SIZE_LIMIT from Redis 3.2
    EMBSTR_LIMIT_OLD = 39       # ... before 3.2
    CACHE_LINE = 64             # Redis 8.2 embeds a string value with its key within one cache line

    # --- compact encodings ---
    LISTPACK_HEADER = 7         # total-bytes (4) + num-elements (2) + end marker (1)
    LP_STR6_BELOW = 64          # listpack string entry: 1-byte header below 64 bytes,
    LP_STR12_BELOW = 4096       # 2-byte header below 4096, else 5
    INTSET_HEADER = 8           # encoding (4) + length (4)
    LIST_NODE_TARGET = 8192     # bytes a quicklist node is packed to (list-max-listpack-size -2)

    # --- lists ---
    LIST_STRUCT = 48            # adlist list: head, tail, dup, free, match, len
    LIST_NODE = 24              # adlist listNode: prev, next, value
    QUICKLIST = 40              # quicklist {head, tail, count, len, fill/compress/bookmarks}
    QUICKLIST_R84 = 48          # Redis 8.4 added a field
    QUICKLIST_NODE_R62 = 32     # quicklistNode up to Redis 6.2
    QUICKLIST_NODE = 40         # from 7.0
    QUICKLIST_LZF_HEADER = 4    # quicklistLZF {unsigned int sz; char compressed[]}
    LISTPACK_EX = 32            # Redis >= 7.4 listpackEx {ExpireMeta, key, lp} (hash field TTLs)
    HFE_DICT_META = 32          # Redis >= 7.4 hashtable hash with field TTLs: dict metadata
    HFE_FIELD = 8               # ... and per volatile field

    # --- zsets ---
    ZSET_STRUCT = 16            # zset {dict*, zsl*}
    ZSKIPLIST = 32              # zskiplist {header, tail, length, level}
    ZSL_NODE_BASE = 24          # ele, score, backward
    ZSL_LEVEL = 16              # forward, span
    ZSL_MAXLEVEL = 32
    ZSL_MEMBER_NODE = 18        # Valkey 9.1 node before its member sds and levels (measured size jumps)
    VK_ZSET_FIXED_91 = 88       # Valkey 9.1 zset + hashtable structs (the skiplist struct folded in)

    # --- Valkey hashtable ---
    HT_STRUCT = 72              # hashtable struct
    HT_BUCKET = 64              # one cache line, 7 entry slots
    HT_SLOTS = 7
    EMBED_VALUE_MAX = 128       # Valkey hash entries embed field + value up to this many bytes

    # --- streams ---
    STREAM_ID = 16
    RAX_NODE_COST = 244         # streamRadixTreeMemoryUsage(): sizeof(raxNode) + 30 * sizeof(long) per node
    RAX_STRUCT = 24             # rax {head, numele, numnodes}
    RAX_NODE_HEADER = 4         # raxNode's bit fields
    RAX_CHILD = 9               # the character and the pointer a child takes in its parent (padding aside)
    NACK = 24                   # streamNACK: delivery time, delivery count, consumer
    NACK_R82 = 8                # Redis >= 8.2: + the entry's node in the cgroups_ref index
    STREAM_STRUCT_R62 = 40      # sizeof(stream) before 7.0,
    STREAM_STRUCT = 80          # 7.0+,
    STREAM_STRUCT_R82 = 112     # Redis 8.2 (+ cgroups_ref, min_cgroup_last_id and its flag; measured),
    STREAM_STRUCT_R86 = 160     # Redis 8.6 (+ alloc_size and the idempotent-producer fields)
    STREAM_CG_R62 = 32          # streamCG before 7.0,
    STREAM_CG = 40              # from 7.0
    STREAM_CONSUMER_R70 = 24    # streamConsumer before 7.2,
    STREAM_CONSUMER = 32        # from 7.2 (active-time)
    STREAM_PREALLOC_MAX = 4096  # a stream's open node: lpNew(min(4096, stream-node-max-bytes))

    # --- Redis 8.8+ arrays (src/sparsearray.h, sparsearray.c), at the default configuration ---
    AR_HEADER = 80              # redisArray: 6 x u64, 4 x u32, 2 pointers
    AR_SLICE = 32               # arSlice header; the payload follows in the same allocation
    AR_SLICE_BITS = 12          # array-slice-size 4096
    AR_SLICE_SIZE = 4096
    AR_KMAX = 10                # array-sparse-kmax: a sparse slice holds at most this many elements
    AR_SPARSE_CAP0 = 4          # a new sparse slice's capacity (min(kmax, 4)), doubling up to kmax
    AR_DENSE_MIN = 8            # smallest dense window
    AR_BLOCK_SLOTS = 2048       # slice ids >= this switch the directory to superdir mode
    AR_BLOCK_BITS = 11          # log2(AR_BLOCK_SLOTS)
    AR_SDIR_ENTRY = 24          # arSDirEntry
    AR_SDIR_CAP0 = 4            # a superdir's first capacity, doubling
    AR_STRING_SHORT = 32767     # arString: 2-byte header up to this length,
    AR_STRING_SHORT_HDR = 2
    AR_STRING_LONG_HDR = 8      # else 8
    # --- Redis 8.10 hash templates (PR #15364 / #15604; struct layout from the PR diffs) ---
    TMPL_ARRAY_HDR = 24         # hashTemplateArray {tmpl_id, field_count, alloc_size} before values[]
    TMPL_STRUCT = 64            # hashTemplate before its fields[] (refcount, count, id, hash, fields_lp, …): estimated
    # --- Redis 8.6 streams with idempotent producers (src/stream.h) ---
    IDMP_PRODUCER = 24          # idmpProducer {dict*, head, tail}
    IDMP_ENTRY = 32             # idmpEntry {next, streamID, iid_len} before the inline IID
    IDMP_RAX_KEY = 32           # the producer's rax key and node share: estimated
    IDMP_MIN_BUCKETS = 4

    # --- allocators ---
    JE_TINY = 8                 # jemalloc's smallest class
    JE_QUANTUM = 16             # stock jemalloc: 16-byte steps up to JE_QUANTUM_MAX
    JE_QUANTUM_BUNDLED = 8      # the jemalloc Redis/Valkey bundle: 8-byte steps up to JE_FINE_MAX first
    JE_FINE_MAX = 64
    JE_QUANTUM_MAX = 128        # then 2**JE_LG_CLASSES classes per doubling
    JE_LG_CLASSES = 2
    LIBC_CHUNK = 16             # glibc: 16-byte chunks,
    LIBC_HEADER = 8             # an 8-byte header,
    LIBC_MIN_CHUNK = 32         # 32 bytes at least (24 usable);
    LIBC_MMAP_THRESHOLD = 131072  # from 128 KiB on mmap'd:
    LIBC_PAGE = 4096            # whole pages
    LIBC_MMAP_HEADER = 16       # less a 16-byte header
    ALLOC_JE8 = 0               # allocator codes: "jemalloc" (bundled, 8-byte quantum),
    ALLOC_JE16 = 1              # "jemalloc-16" (stock),
    ALLOC_LIBC = 2              # "libc"

    # --- accounting generations: what MEMORY USAGE adds up changed at these releases ---
    GEN_R62 = 0     # Redis <= 6.2: blobs counted unrounded, embstr as len + 2 + robj, dict is 96 bytes
    GEN_R70 = 1     # Redis >= 7.0 (and Valkey 7.2): allocator sizes everywhere, dict is 56 bytes
    GEN_V80 = 2     # Valkey 8.0: as GEN_R70 but the key is embedded in the main-dict entry
    GEN_V81 = 3     # Valkey >= 8.1: key (+expire) embedded in the robj; sets/hashes/zsets in `hashtable`
    GEN_R82 = 4     # Redis >= 8.2: key (+expire) embedded in the value object (kvobj), collections still dicts
