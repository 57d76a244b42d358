# cython: language_level=3
"""The Arrow column builder's buffers (see _columns.pxd)."""

from libc.stdint cimport int64_t
from libc.stdlib cimport realloc


cdef int _grow(Buf* b, int64_t want) except -1 nogil:
    """Grow b (doubling from 4 KiB) to hold at least want bytes."""
    cdef int64_t cap = b.cap if b.cap else 4096
    cdef unsigned char* p
    if want <= b.cap:
        return 0
    while cap < want:
        cap *= 2
    p = <unsigned char*>realloc(b.data, cap)
    if p == NULL:
        with gil:
            raise MemoryError()
    b.data = p
    b.cap = cap
    return 0


cdef int* _i32(object a) except NULL:
    cdef int[::1] v = a
    return &v[0]


cdef int64_t* _i64(object a) except NULL:
    cdef int64_t[::1] v = a
    return &v[0]


cdef unsigned char* _u8p(object a) except NULL:
    cdef unsigned char[::1] v = a
    return &v[0]
