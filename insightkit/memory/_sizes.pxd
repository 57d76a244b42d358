# Allocation and encoding sizes as inline nogil C helpers (compiled into each module that cimports them:
# the memory model, _arrays.pxd, _streams.pxd). The numbers are layout.pxd's; only the arithmetic
# that turns a request into a size class or a header into bytes lives here.

from libc.stdint cimport int64_t

from insightkit.memory.layout cimport *


cdef extern from *:
    int __builtin_clzll(unsigned long long) nogil


cdef inline int64_t floor_log2(int64_t n) noexcept nogil:
    """floor(log2(n)) for n >= 1."""
    return 63 - __builtin_clzll(<unsigned long long>n)


cdef inline int64_t next_pow2(int64_t n) noexcept nogil:
    if n <= 1:
        return 1
    return (<int64_t>1) << (64 - __builtin_clzll(<unsigned long long>(n - 1)))


cdef inline int64_t je_size(int64_t n) noexcept nogil:
    """jemalloc 5 size class for a request of n bytes (8-byte tiny class, 16-byte quantum, 4 per doubling)."""
    cdef int64_t lg, sp
    if n <= JE_TINY:
        return JE_TINY
    if n <= JE_QUANTUM_MAX:
        return (n + JE_QUANTUM - 1) & ~(<int64_t>(JE_QUANTUM - 1))
    lg = floor_log2(n - 1)
    sp = (<int64_t>1) << (lg - JE_LG_CLASSES)
    return (n + sp - 1) & ~(sp - 1)


cdef inline int64_t je8_size(int64_t n) noexcept nogil:
    """The same with an 8-byte quantum (Redis/Valkey's bundled jemalloc): steps of 8 up to 64, of 16 to 128."""
    if n <= JE_FINE_MAX:
        return JE_TINY if n <= JE_TINY else (n + JE_QUANTUM_BUNDLED - 1) & ~(<int64_t>(JE_QUANTUM_BUNDLED - 1))
    return je_size(n)


cdef inline int64_t glibc_size(int64_t n) noexcept nogil:
    """glibc malloc_usable_size() for a request of n bytes (16-byte chunks, 8-byte header, mmap >= 128 KiB)."""
    cdef int64_t chunk = (n + LIBC_HEADER + LIBC_CHUNK - 1) & ~(<int64_t>(LIBC_CHUNK - 1))
    if chunk < LIBC_MIN_CHUNK:
        chunk = LIBC_MIN_CHUNK
    if n >= LIBC_MMAP_THRESHOLD:
        return ((chunk + LIBC_HEADER + LIBC_PAGE - 1) & ~(<int64_t>(LIBC_PAGE - 1))) - LIBC_MMAP_HEADER
    return chunk - LIBC_HEADER


cdef inline int64_t alloc_size(int allocator, int64_t size) noexcept nogil:
    """What allocator ALLOC_* hands out for a request of `size` bytes (0 for none)."""
    if size <= 0:
        return 0
    if allocator == ALLOC_JE8:
        return je8_size(size)
    if allocator == ALLOC_JE16:
        return je_size(size)
    return glibc_size(size)


cdef inline int64_t sds_hdr(int64_t length) noexcept nogil:
    """sdsReqType's header size: sds5 below 32 bytes (sdsnewlen keeps type 5 for keys/elements)."""
    if length < SDS5_BELOW:
        return SDS5_HDR
    if length < SDS8_BELOW:
        return SDS8_HDR
    if length < SDS16_BELOW:
        return SDS16_HDR
    if length < (<int64_t>4294967296):
        return SDS32_HDR
    return SDS64_HDR


cdef inline int64_t sds_hdr_min8(int64_t length) noexcept nogil:
    if length < SDS8_BELOW:
        return SDS8_HDR
    return sds_hdr(length)


cdef inline int64_t lp_entry(int64_t length) noexcept nogil:
    """Listpack bytes of a string entry of `length` bytes (encoding header + data + back-length)."""
    cdef int64_t hl = 1 if length < LP_STR6_BELOW else (2 if length < LP_STR12_BELOW else 5)
    cdef int64_t l = hl + length
    return l + (1 if l < 128 else (2 if l < 16384 else (3 if l < 2097152 else 4)))
