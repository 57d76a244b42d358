# The RDB length encoding, read once for both parsers: the segment scanner (_scan.pyx, per length) and
# the decoder (_state._len_slow; the inline fast path, _state._len, takes 6-bit lengths and string
# encodings first).

from libc.stdint cimport int64_t, uint64_t

from insightkit.rdb._kinds cimport SK_OK, SK_SHORT, SK_STOP


cdef inline int rdb_len(const unsigned char* p, int64_t* pos, int64_t end, uint64_t* v, bint* enc) noexcept nogil:
    """The length at p[*pos]: SK_OK (*v, *enc: 11xxxxxx, a string encoding numbered *v; *pos stepped
    past it), SK_SHORT (*v: the bytes it needs from *pos, not all buffered) or SK_STOP (an invalid first
    byte)."""
    cdef int64_t q = pos[0]
    cdef unsigned char b
    cdef uint64_t x = 0
    cdef int i, nb
    if q >= end:
        v[0] = 1
        return SK_SHORT
    b = p[q]
    enc[0] = False
    if b < 0x40:
        v[0] = b
        pos[0] = q + 1
        return SK_OK
    if b >= 0xC0:
        enc[0] = True
        v[0] = b & 0x3F
        pos[0] = q + 1
        return SK_OK
    if b < 0x80:
        if q + 2 > end:
            v[0] = 2
            return SK_SHORT
        v[0] = ((<uint64_t>(b & 0x3F)) << 8) | p[q + 1]
        pos[0] = q + 2
        return SK_OK
    if b == 0x80 or b == 0x81:
        nb = 4 if b == 0x80 else 8
        if q + 1 + nb > end:
            v[0] = 1 + nb
            return SK_SHORT
        for i in range(1, nb + 1):
            x = (x << 8) | p[q + i]
        v[0] = x
        pos[0] = q + 1 + nb
        return SK_OK
    return SK_STOP
