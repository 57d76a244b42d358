# cython: language_level=3
"""The cold paths of the reads in _state.pxd: running short of buffered bytes, errors naming the key and
the byte offset, long lengths, integer- and LZF-encoded strings."""

from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint64_t
from libc.stdlib cimport free

from insightkit.rdb._columns cimport Buf, _reserve
from insightkit.rdb._layout cimport STR_ENC_LZF, str_int_width
from insightkit.rdb._lengths cimport rdb_len
from insightkit.rdb._lzf cimport LZF_MAX_RATIO, _lzf_claim_ok, _lzf_inflate, _lzf_walk
from insightkit.rdb._text cimport _digits

from insightkit.errors import RdbFormatError
from insightkit.rdb._lzf import _lzf_error


class NeedMore(Exception):
    """Internal: the current item continues past the buffered bytes (Rd.want says how many to wait for)."""


cdef object _key_repr(Rd* r):
    cdef bytes raw = (<const char*>r.key_ptr)[:r.key_len] if r.key_len else b""
    return raw.decode("utf-8", "backslashreplace")


cdef int _fail(Rd* r, str message, object cls=None) except -1:
    key = _key_repr(r) if r.in_key else None
    raise (cls or RdbFormatError)(message, offset=r.base_offset + r.pos, key=key)


cdef int _short(Rd* r, int64_t n) except -1 nogil:
    """The item needs n more bytes than are buffered: ask for at least twice the item so far."""
    cdef int64_t have = r.end - r.item_start
    cdef int64_t need = (r.pos - r.item_start) + n
    r.want = need if need > 2 * have else 2 * have
    if r.want < 4096:
        r.want = 4096 if need < 4096 else need
    with gil:
        raise NeedMore()


cdef int _need_slow(Rd* r, int64_t n) except -1 nogil:
    if n < 0:
        with gil:
            _fail(r, "negative length")
    _short(r, n - (r.end - r.pos))
    return -1


cdef uint64_t _len_slow(Rd* r, bint* encoded) except? 0xFFFFFFFFFFFFFFFF nogil:
    cdef uint64_t v
    cdef int64_t q = r.pos
    cdef int st = rdb_len(r.p, &q, r.end, &v, encoded)  # the scanner's read too
    if st == SK_OK:
        r.pos = q
        return v
    if st == SK_SHORT:
        _need(r, <int64_t>v)  # raises: v bytes are not all buffered
    with gil:
        _fail(r, f"invalid length byte 0x{r.p[r.pos]:02x}")
    return 0


cdef int64_t _bad_plain_len(Rd* r, bint enc, uint64_t v) except -1 nogil:
    if enc:
        with gil:
            _fail(r, "expected a length, found a string encoding")
    with gil:
        _fail(r, f"length {v} out of range")
    return -1


cdef int _lzf_claim(Rd* r, int64_t clen, int64_t ulen) except -1 nogil:
    """Before anything is allocated for the LZF block at pos: its claimed length is one clen bytes
    can give (LZF_MAX_RATIO), its bytes are buffered, and walked without output it comes to
    exactly ulen bytes. Inflating it then takes ulen bytes, no more: a lie costs nothing."""
    cdef int64_t got
    if not _lzf_claim_ok(clen, ulen):
        with gil:
            _fail(r, f"LZF header claims {ulen} bytes from {clen} compressed bytes "
                     f"(LZF expands at most {LZF_MAX_RATIO} times)")
    _need(r, clen)
    got = _lzf_walk(r.p + r.pos, clen, ulen)
    if got != ulen:
        with gil:
            _fail(r, _lzf_error(got, ulen))
    return 0


cdef int _lzf_into(Rd* r, Buf* scratch, int64_t clen, int64_t ulen) except -1 nogil:
    """Inflate the LZF block at pos (after _lzf_claim) into scratch. A scratch buffer grown past
    64 MiB for an earlier block is given back first rather than kept for the decoder's life."""
    cdef int64_t got
    if scratch.cap > (64 << 20) and ulen + 1 <= (64 << 20):
        free(scratch.data)
        scratch.data = NULL
        scratch.cap = 0
    scratch.size = 0
    _reserve(scratch, ulen + 1)
    got = _lzf_inflate(r.p + r.pos, clen, scratch.data, ulen)
    if got != ulen:  # _lzf_claim walked this block: never expected
        with gil:
            _fail(r, _lzf_error(got, ulen))
    return 0


cdef int _str_slow(Rd* r, StrRef* s, uint64_t v, bint enc, int want) except -1 nogil:
    """_str after its length (v, enc) was read, for anything but a buffered plain string."""
    cdef int64_t clen, ulen
    cdef uint64_t u
    cdef int w
    cdef Buf* scratch
    s.is_int = False
    s.lzf = -1
    s.ptr = NULL
    if not enc:
        if v > <uint64_t>INT64_MAX:
            with gil:
                _fail(r, f"string length {v} out of range")
        _need(r, <int64_t>v)
        s.ptr = r.p + r.pos
        s.length = <int64_t>v
        r.pos += <int64_t>v
        return 0
    w = str_int_width(v)  # the scanner's step too (_layout.pxd)
    if w:
        u = _le(r, w)
        if w == 1:
            s.ival = <int8_t>u
        elif w == 2:
            s.ival = <int16_t>u
        else:
            s.ival = <int32_t>u
    elif v == STR_ENC_LZF:
        if r.pos + 2 <= r.end and r.p[r.pos] < 0x40 and r.p[r.pos + 1] < 0x40:
            clen = r.p[r.pos]  # both lengths 6-bit (small values): read inline
            ulen = r.p[r.pos + 1]
            r.pos += 2
        else:
            clen = _plain_len(r)
            ulen = _plain_len(r)
        _lzf_claim(r, clen, ulen)
        s.lzf = clen
        s.length = ulen
        if want:
            scratch = &r.key_scratch if want == 2 else &r.val_scratch
            _lzf_into(r, scratch, clen, ulen)
            s.ptr = scratch.data
        r.pos += clen
        return 0
    else:
        with gil:
            _fail(r, f"unknown string encoding {v}")
    s.is_int = True
    s.length = _digits(s.ival)
    return 0
