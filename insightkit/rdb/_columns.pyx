# cython: language_level=3
"""The Arrow column builder's buffers and label table (see _columns.pxd)."""

from libc.stdint cimport int64_t
from libc.stdlib cimport realloc
from libc.string cimport memcpy, memset

from insightkit.rdb.kinds import ENCODING_LABELS, TYPE_NAMES


cdef int _fill_labels(LabelTable* t) except -1:
    """The built-in labels (kinds.TYPE_NAMES, kinds.ENCODING_LABELS) into their zero-padded slots."""
    cdef bytes b
    cdef int i
    memset(t, 0, sizeof(LabelTable))
    for i in range(N_TYPE_LABELS):
        b = TYPE_NAMES[i].encode()
        if len(b) >= TYPE_LABEL_COPY:
            raise ImportError(f"label {b!r} is too long for its fixed-size copy")
        memcpy(t.type_label[i], <const char*>b, len(b))
        t.type_len[i] = len(b)
    for i in range(N_ENCODING_LABELS):
        b = ENCODING_LABELS[i].encode()
        if len(b) >= LABEL_PAD:
            raise ImportError(f"label {b!r} is too long for its fixed-size copy")
        memcpy(t.encoding_label[i], <const char*>b, len(b))
        t.encoding_len[i] = len(b)
    return 0


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
