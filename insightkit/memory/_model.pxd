# The interface between the decoder's hot loop and the memory model.
#
# The decoder fills one KeyFacts per key while it parses (structure-level facts only, never values),
# calls MemoryModel.element()/blob() for each element of a non-compact encoding and each compact blob,
# and MemoryModel.estimate() when the key is complete. The model owns every version/allocator detail.
#
# Fields may be appended (never reordered or removed) by either side; keep both .pyx files in step.

from libc.stdint cimport int64_t

# Logical kinds (match TYPE).
cdef enum Kind:
    KIND_STRING = 0
    KIND_LIST = 1
    KIND_SET = 2
    KIND_ZSET = 3
    KIND_HASH = 4
    KIND_STREAM = 5
    KIND_MODULE = 6

# In-memory encodings (match OBJECT ENCODING names; see ENCODING_NAMES in _model.pyx).
cdef enum Encoding:
    ENC_RAW = 0
    ENC_INT = 1
    ENC_EMBSTR = 2
    ENC_HASHTABLE = 3
    ENC_LINKEDLIST = 4
    ENC_ZIPLIST = 5
    ENC_LISTPACK = 6
    ENC_LISTPACKEX = 7
    ENC_INTSET = 8
    ENC_ZIPMAP = 9
    ENC_QUICKLIST = 10
    ENC_SKIPLIST = 11
    ENC_STREAM = 12
    ENC_MODULE = 13

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

cdef struct MemBreakdown:
    int64_t key_bytes       # key sds allocation
    int64_t overhead_bytes  # robj header + main dict entry
    int64_t value_bytes     # the value's structure
    int64_t expires_bytes   # expires dict entry (not counted by MEMORY USAGE)
    int64_t total           # key_bytes + overhead_bytes + value_bytes == MEMORY USAGE

cdef class MemoryModel:
    cdef public str allocator        # "jemalloc" or "libc"
    cdef public tuple version        # (major, minor) of the server family below
    cdef public str family           # "redis" or "valkey"
    cdef int64_t alloc(self, int64_t size) noexcept nogil
    cdef int64_t sds_alloc(self, int64_t length) noexcept nogil
    # One element of a non-compact encoding: a set member, a hash field+value, a zset member
    # (b_len 0), a linked-list item (b_len 0). Returns bytes to add to facts.elem_alloc.
    cdef int64_t element(self, KeyFacts* facts, int64_t a_len, int64_t b_len) noexcept nogil
    # One compact blob (listpack/ziplist/intset/zipmap, or a quicklist/stream node) of `nbytes`
    # uncompressed bytes; `compressed` is its LZF size when held compressed, else -1.
    cdef int64_t blob(self, KeyFacts* facts, int64_t nbytes, int64_t compressed) noexcept nogil
    cdef void estimate(self, KeyFacts* facts, MemBreakdown* out) noexcept nogil
