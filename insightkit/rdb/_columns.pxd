# The Arrow column builder's C side: growable buffers for a batch's key and label data (and the LZF
# scratch), and raw pointers into the NumPy arrays of a batch's block. _reserve is inline (the key loop
# calls it per key); growing is one call into _columns.pyx.

from libc.stdint cimport int64_t

from insightkit.rdb._kinds cimport N_ENCODING_LABELS, N_TYPE_LABELS


cdef struct Buf:
    # A growable C buffer (key data of one batch, LZF scratch), owned by a Decoder or ColumnBuilder (freed
    # in __dealloc__). A plain struct, not an object, so that the key loop can run without the GIL.
    unsigned char* data
    int64_t size
    int64_t cap


cdef int _grow(Buf* b, int64_t want) except -1 nogil


cdef inline int _reserve(Buf* b, int64_t extra) except -1 nogil:
    """Room for extra more bytes after b.size."""
    if b.size + extra <= b.cap:
        return 0
    return _grow(b, b.size + extra)


cdef int* _i32(object a) except NULL
cdef int64_t* _i64(object a) except NULL
cdef unsigned char* _u8p(object a) except NULL


# The `type` and `encoding` columns are written as Arrow string data row by row (a memcpy of a few
# bytes), which is cheaper than a dictionary take over the batch afterwards. Every built-in label is
# shorter than its table slot and copied as a fixed-size block: TYPE_LABEL_COPY bytes for types (all
# shorter), LABEL_PAD for encodings (template-listpack is 17).
cdef enum:
    LABEL_PAD = 32
    TYPE_LABEL_COPY = 16

cdef struct LabelTable:
    char type_label[N_TYPE_LABELS][LABEL_PAD]
    int type_len[N_TYPE_LABELS]
    char encoding_label[N_ENCODING_LABELS][LABEL_PAD]
    int encoding_len[N_ENCODING_LABELS]


cdef int _fill_labels(LabelTable* t) except -1
