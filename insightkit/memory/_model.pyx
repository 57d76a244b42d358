# cython: language_level=3
"""First-cut memory model (placeholder arithmetic; the memory-model work replaces the internals).

Only the interface in _model.pxd is fixed; every number here is to be checked against real servers.
"""

from libc.stdint cimport int64_t

ENCODING_NAMES = (
    "raw", "int", "embstr", "hashtable", "linkedlist", "ziplist", "listpack", "listpackex",
    "intset", "zipmap", "quicklist", "skiplist", "stream", "module",
)
KIND_NAMES = ("string", "list", "set", "zset", "hash", "stream", "module")


cdef inline int64_t _round_up(int64_t n, int64_t step) noexcept nogil:
    return (n + step - 1) // step * step


cdef class MemoryModel:
    def __init__(self, str family="redis", tuple version=(7, 0), str allocator="jemalloc"):
        self.family = family
        self.version = version
        self.allocator = allocator

    cdef int64_t alloc(self, int64_t size) noexcept nogil:
        if size <= 0:
            return 0
        return _round_up(size, 8)

    cdef int64_t sds_alloc(self, int64_t length) noexcept nogil:
        cdef int64_t hdr = 3 if length < 256 else (5 if length < 65536 else 9)
        return self.alloc(hdr + length + 1)

    cdef int64_t element(self, KeyFacts* facts, int64_t a_len, int64_t b_len) noexcept nogil:
        cdef int64_t n = self.sds_alloc(a_len) + self.alloc(24)
        if b_len > 0:
            n += self.sds_alloc(b_len)
        return n

    cdef int64_t blob(self, KeyFacts* facts, int64_t nbytes, int64_t compressed) noexcept nogil:
        return self.alloc(compressed if compressed >= 0 else nbytes)

    cdef void estimate(self, KeyFacts* facts, MemBreakdown* out) noexcept nogil:
        out.key_bytes = self.sds_alloc(facts.key_len)
        out.overhead_bytes = 16 + self.alloc(24)
        if facts.kind == KIND_STRING:
            out.value_bytes = 0 if facts.int_value else self.sds_alloc(facts.value_len)
        elif facts.kind == KIND_MODULE:
            out.value_bytes = facts.module_bytes
        else:
            out.value_bytes = facts.blob_alloc + facts.elem_alloc
        out.expires_bytes = self.alloc(24) if facts.has_expire else 0
        out.total = out.key_bytes + out.overhead_bytes + out.value_bytes


def model_for(redis_ver=None, rdb_version=None, allocator=None, server_version=None):
    """Pick the model for the server that wrote a file (placeholder: always Redis 7.0 / jemalloc)."""
    return MemoryModel("redis", (7, 0), allocator or "jemalloc")
