# Redis 8.8+ arrays (RDB type 28): the shape an array's elements build as they arrive, and what its
# allocations come to (ar->alloc_size). Inline nogil helpers behind MemoryModel.array_element() /
# array_bytes(); derived from the Redis 8.8 sources (src/sparsearray.h, sparsearray.c): no server
# writing this format could be run, nothing here is measured.

from libc.stdint cimport int64_t, uint64_t

from insightkit.memory.layout cimport *
from insightkit.memory._sizes cimport alloc_size, next_pow2

# The shape of an array as its elements arrive in ascending index order (array_element() simulates
# Redis' slices; the decoder only zeroes it per array key). Cimported by the decoder through _model.pxd.
cdef struct ArrayShape:
    int64_t elements
    int64_t slices_alloc     # allocations of the finished slices
    int64_t strings_alloc    # out-of-line strings (arString)
    uint64_t slice_id        # the slice being filled
    int64_t count            # its elements
    int64_t cap              # sparse capacity (while sparse)
    int64_t first_off        # its lowest and latest offsets
    int64_t last_off
    int64_t win_off          # dense window (winsize 0 while sparse)
    int64_t winsize
    uint64_t block           # superdir block (2048 slices) of the slice being filled
    int64_t blocks           # distinct superdir blocks


cdef inline int64_t array_slice_bytes(ArrayShape* a, int allocator) noexcept nogil:
    """The slice being filled: its header and a dense window, or sparse offsets (padded) and values."""
    cdef int64_t offsets
    if a.winsize > 0:
        return alloc_size(allocator, AR_SLICE + 8 * a.winsize)
    offsets = 2 * a.cap
    return alloc_size(allocator, AR_SLICE + offsets + (8 - offsets % 8) % 8 + 8 * a.cap)


cdef inline void array_element(ArrayShape* a, int allocator, uint64_t idx, int64_t heap_len) noexcept nogil:
    """Redis' arSet() for ascending indices (what an RDB load does, one element at a time): a new
    slice starts sparse with room for 4 and doubles up to kmax (10); the 11th element promotes it
    to a dense window (a power of two >= the span, 8 at least), which then doubles to the right."""
    cdef uint64_t sid = idx >> AR_SLICE_BITS
    cdef int64_t off = <int64_t>(idx & (AR_SLICE_SIZE - 1)), w, o
    if a.elements == 0 or sid != a.slice_id:
        if a.elements > 0:
            a.slices_alloc += array_slice_bytes(a, allocator)
        if a.elements == 0 or (sid >> AR_BLOCK_BITS) != a.block:
            a.blocks += 1
            a.block = sid >> AR_BLOCK_BITS
        a.slice_id = sid
        a.count = 0
        a.cap = AR_SPARSE_CAP0
        a.winsize = 0
        a.first_off = off
    if a.winsize == 0 and a.count >= AR_KMAX:
        # promote: a window over the elements so far, placed at the lowest, inside the slice
        w = next_pow2(a.last_off - a.first_off + 1)
        if w < AR_DENSE_MIN:
            w = AR_DENSE_MIN
        o = a.first_off
        if w >= AR_SLICE_SIZE:
            w = AR_SLICE_SIZE
            o = 0
        elif o + w > AR_SLICE_SIZE:
            o = AR_SLICE_SIZE - w
        a.winsize = w
        a.win_off = o
    if a.winsize > 0:
        if off >= a.win_off + a.winsize:  # grow to the right (indices only ascend here)
            w = a.winsize
            while off >= a.win_off + w and w < AR_SLICE_SIZE:
                w <<= 1
            if w >= AR_SLICE_SIZE:
                w = AR_SLICE_SIZE
                a.win_off = 0
            elif a.win_off + w > AR_SLICE_SIZE:
                a.win_off = AR_SLICE_SIZE - w
            a.winsize = w
    elif a.count >= a.cap:
        a.cap = a.cap * 2 if a.cap * 2 < AR_KMAX else AR_KMAX
    a.count += 1
    a.last_off = off
    a.elements += 1
    if heap_len >= 0:  # an arString: 2-byte header up to 32767 bytes, else 8
        a.strings_alloc += alloc_size(
            allocator, (AR_STRING_SHORT_HDR if heap_len <= AR_STRING_SHORT else AR_STRING_LONG_HDR) + heap_len)


cdef inline int64_t array_bytes(ArrayShape* a, int allocator) noexcept nogil:
    """ar->alloc_size: header, directory (flat below slice id 2048, else a superdir of 2048-slot
    blocks), slices and out-of-line strings. MEMORY USAGE adds it to the key's object."""
    cdef int64_t total, cap
    if a.elements == 0:
        return alloc_size(allocator, AR_HEADER)
    total = alloc_size(allocator, AR_HEADER) + a.slices_alloc + array_slice_bytes(a, allocator) + a.strings_alloc
    if a.slice_id < AR_BLOCK_SLOTS:
        total += alloc_size(allocator, 8 * next_pow2(<int64_t>a.slice_id + 1))
    else:
        cap = AR_SDIR_CAP0
        while cap < a.blocks:
            cap *= 2
        total += alloc_size(allocator, AR_SDIR_ENTRY * cap) + a.blocks * alloc_size(allocator, 8 * AR_BLOCK_SLOTS)
    return total
