# Blob walkers: the compact encodings inside RDB strings (ziplist, listpack, stream listpack nodes),
# validated and measured without the GIL and without a Decoder. A walker reports a malformed blob in a
# BlobErr (a BE_* code and up to two numbers); _values_blobs._blob_fail raises it as an RdbFormatError,
# with the key and offset, through blob_error_message(). The per-entry helpers are inline here so that
# every module walking a listpack (the template hashes of _values_rdb15 too) uses the same one.

from libc.stdint cimport int64_t, uint64_t

from insightkit.rdb._text cimport _digits

# What a walker gathers about the elements of one blob.
cdef struct Stats:
    int64_t entries            # entries walked in a blob
    int64_t largest
    int64_t total
    bint all_int
    int64_t volatile
    int64_t min_ttl            # -1 when none

cdef struct BlobErr:
    int code                   # BE_*
    int64_t a                  # the numbers its message names (see blob_error_message)
    int64_t b
    int64_t c

cdef enum BlobErrorCode:
    BE_NONE = 0
    BE_NOMEM                   # raise MemoryError
    BE_ZL_SHORT
    BE_ZL_TOTAL                # a: header bytes, b: blob bytes
    BE_ZL_PAST
    BE_ZL_ENTRY_PAST
    BE_ZL_BAD_ENCODING         # a: the encoding byte
    BE_ZL_STRING_PAST
    BE_ZL_TRAILING
    BE_ZL_COUNT                # a: header count, b: entries found
    BE_LP_SHORT
    BE_LP_TOTAL                # a: header bytes, b: blob bytes
    BE_LP_PAST
    BE_LP_ENTRY_PAST
    BE_LP_BAD_ENCODING         # a: the encoding byte
    BE_LP_TRAILING
    BE_LP_COUNT                # a: header count, b: entries found
    BE_ST_NOT_INT
    BE_ST_ENDS_INSIDE
    BE_ST_MASTER_FIELDS        # a: the claimed count
    BE_ST_MASTER_TERM
    BE_ST_ENTRY_FIELDS         # a: the claimed count
    BE_ST_TRAILING
    BE_IS_SHORT
    BE_IS_WIDTH                # a: the width
    BE_IS_SIZE                 # a: count, b: width, c: blob bytes
    BE_ZM_SHORT
    BE_ZM_PAST
    BE_ZM_NO_VALUE
    BE_ZM_ENTRY_PAST
    BE_ZM_TRAILING


cdef inline uint64_t _le_at(const unsigned char* q, int nbytes) noexcept nogil:
    """nbytes little-endian at q."""
    cdef uint64_t v = 0
    cdef int i
    for i in range(nbytes - 1, -1, -1):
        v = (v << 8) | q[i]
    return v


cdef inline void _stats_init(Stats* st) noexcept nogil:
    st.entries = 0
    st.largest = 0
    st.total = 0
    st.all_int = True
    st.volatile = 0
    st.min_ttl = -1


cdef inline int _blob_err(BlobErr* e, int code, int64_t a, int64_t b) noexcept nogil:
    e.code = code
    e.a = a
    e.b = b
    e.c = 0
    return -1


cdef inline int _lp_entry(const unsigned char* z, int64_t n, int64_t* pos, int64_t* ival, BlobErr* e) noexcept nogil:
    """Decode the listpack entry at *pos and step past it: 1 = integer (*ival), 0 = string of *ival
    bytes, 2 = the end marker (not stepped past), -1 = malformed (*e says why)."""
    cdef int64_t p = pos[0], hl, elen, total, v = 0
    cdef unsigned char enc
    cdef int isint = 1
    if p >= n:
        return _blob_err(e, BE_LP_PAST, 0, 0)
    enc = z[p]
    if enc == 0xFF:
        return 2
    if enc < 0x80:
        v = enc
        hl = 1
        elen = 0
    elif enc < 0xC0:
        isint = 0
        hl = 1
        elen = enc & 0x3F
    elif enc < 0xE0:
        hl = 2
        elen = 0
        if p + 2 > n:
            return _blob_err(e, BE_LP_ENTRY_PAST, 0, 0)
        v = ((enc & 0x1F) << 8) | z[p + 1]
        if v >= 4096:
            v -= 8192
    elif enc < 0xF0:
        isint = 0
        hl = 2
        if p + 2 > n:
            return _blob_err(e, BE_LP_ENTRY_PAST, 0, 0)
        elen = ((enc & 0x0F) << 8) | z[p + 1]
    elif enc == 0xF0:
        isint = 0
        hl = 5
        if p + 5 > n:
            return _blob_err(e, BE_LP_ENTRY_PAST, 0, 0)
        elen = <int64_t>_le_at(z + p + 1, 4)
    elif enc >= 0xF1 and enc <= 0xF4:
        hl = 1
        elen = 2 if enc == 0xF1 else (3 if enc == 0xF2 else (4 if enc == 0xF3 else 8))
        if p + 1 + elen > n:
            return _blob_err(e, BE_LP_ENTRY_PAST, 0, 0)
        v = <int64_t>_le_at(z + p + 1, <int>elen)
        if elen < 8 and v >= (<int64_t>1 << (8 * elen - 1)):
            v -= (<int64_t>1 << (8 * elen))
    else:
        return _blob_err(e, BE_LP_BAD_ENCODING, enc, 0)
    total = hl + elen
    # the entry is followed by its back-length: 1 byte per 7 bits of its length
    total += 1 if total < 128 else (2 if total < 16384 else (3 if total < 2097152 else (4 if total < 268435456 else 5)))
    if p + total > n - 1:
        return _blob_err(e, BE_LP_ENTRY_PAST, 0, 0)
    pos[0] = p + total
    ival[0] = v if isint else elen
    return isint


cdef int walk_ziplist(const unsigned char* z, int64_t n, int stride, int mask, Stats* st, BlobErr* e) noexcept nogil
cdef int walk_listpack(const unsigned char* z, int64_t n, int stride, int mask, int ttl_slot, Stats* st,
                       BlobErr* e) noexcept nogil
cdef int walk_stream_node(const unsigned char* z, int64_t n, Stats* st, BlobErr* e) noexcept nogil
cdef int walk_intset(const unsigned char* z, int64_t n, Stats* st, BlobErr* e) noexcept nogil
cdef int walk_zipmap(const unsigned char* z, int64_t n, Stats* st, BlobErr* e) noexcept nogil
