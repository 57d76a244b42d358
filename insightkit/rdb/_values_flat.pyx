# cython: language_level=3
"""Value parsers for the encodings stored element by element: strings (type 0, streamed past when huge),
linked lists and hashtable sets (1, 2), skiplist zsets (3, 5), hashtable hashes (4) and hashes with
field TTLs stored field by field (Redis 22 pre-GA / 24, Valkey HASH_2 22). Each fills the key's facts
and row extras in an Rd (_state.pxd) and prices elements with the memory model."""

from libc.stdint cimport INT64_MAX, int64_t, uint64_t

from insightkit.memory._model cimport MemoryModel
from insightkit.rdb._kinds cimport *
from insightkit.rdb._layout cimport ZSET2_SCORE, ZSET_SCORE_SPECIAL, small_str_end
from insightkit.rdb._lzf cimport _lzf_claim_ok, _lzf_walk
from insightkit.rdb._state cimport *
from insightkit.rdb._text cimport _is_canonical_int


cdef int _string_value(Rd* r, MemoryModel model) except -1 nogil:
    cdef bint enc
    cdef uint64_t v
    cdef StrRef s
    cdef int64_t here = r.pos, avail
    r.facts.kind = T_STRING
    r.row_type = T_STRING
    r.facts.num_elements = 1
    # A huge plain value is passed by as it arrives instead of being buffered whole (only a
    # 32/64-bit length, first byte 0x80/0x81, can reach STREAM_THRESHOLD).
    _need(r, 1)
    if r.p[r.pos] == 0x80 or r.p[r.pos] == 0x81:
        v = _len(r, &enc)
    else:
        v = 0
        enc = True
    if not enc and v > <uint64_t>(r.end - r.pos) and v >= STREAM_THRESHOLD:
        if v > <uint64_t>INT64_MAX:
            with gil:
                _fail(r, f"string length {v} out of range")
        avail = r.end - r.pos
        r.skip_remaining = <int64_t>v - avail
        r.pos = r.end
        r.facts.value_len = <int64_t>v
        r.row_encoding = ENC_RAW
        r.facts.encoding = ENC_RAW
        _elem(r, <int64_t>v)
        return 0
    r.pos = here
    if not _small_str(r, &s):
        _str(r, &s, 0)
    r.facts.value_len = s.length
    _elem(r, s.length)
    if s.is_int or (s.ptr != NULL and s.length <= 20 and _is_canonical_int(s.ptr, s.length)):
        r.facts.int_value = True
        r.row_encoding = ENC_INT
    elif _embstr_fits(r, model, s.length):
        r.row_encoding = ENC_EMBSTR
    else:
        r.row_encoding = ENC_RAW
    r.facts.encoding = r.row_encoding
    return 0


cdef inline bint _small_str(Rd* r, StrRef* s) except -1 nogil:
    """_str(s, 0) inline for a buffered string with 6-bit lengths, plain or LZF (small_str_end, the
    scanner's step too); False (nothing read) for anything else."""
    cdef int64_t q = r.pos, clen, ulen
    cdef int64_t n = small_str_end(r.p, q, r.end, &ulen)
    if n < 0 or n > r.end:
        return False
    if ulen < 0:
        s.ptr = r.p + q + 1
        s.length = n - q - 1
        s.is_int = False
        s.lzf = -1
        r.pos = n
        return True
    clen = n - q - 3
    if not _lzf_claim_ok(clen, ulen):
        return False
    r.pos = q + 3  # where _str validates from (error offsets)
    if _lzf_walk(r.p + r.pos, clen, ulen) != ulen:
        _lzf_claim(r, clen, ulen)  # walks it again, raising to say why
    s.ptr = NULL
    s.length = ulen
    s.is_int = False
    s.lzf = clen
    r.pos = n
    return True


cdef bint _embstr_fits(Rd* r, MemoryModel model, int64_t value_len) noexcept nogil:
    if r.embedded_keys:
        # the key shares the value's allocation (Valkey >= 8.1, Redis >= 8.2): the memory model
        # knows each generation's rule
        return model.string_embedded(r.key_len, value_len, r.has_expire)
    return value_len <= _embstr_limit(r)


cdef int64_t _embstr_limit(Rd* r) noexcept nogil:
    if r.ver_major > 3 or (r.ver_major == 3 and r.ver_minor >= 2):
        return 44
    if r.ver_major == 3:
        return 39
    return -1


cdef int _plain_collection(Rd* r, MemoryModel model, int t) except -1 nogil:
    """Type 1 (linked list) and 2 (hashtable set): a count then one string per element."""
    cdef int64_t n = _plain_len(r), i
    cdef StrRef s
    cdef bint all_int = True
    r.facts.kind = T_LIST if t == 1 else T_SET
    r.row_type = r.facts.kind
    r.row_encoding = ENC_LINKEDLIST if t == 1 else ENC_HASHTABLE
    r.facts.encoding = r.row_encoding
    for i in range(n):
        _str(r, &s, 0)
        _elem(r, s.length)
        if all_int and not s.is_int and (s.ptr == NULL or not _is_canonical_int(s.ptr, s.length)):
            all_int = False
        r.facts.elem_alloc += model.element(&r.facts, s.length, 0)
    r.facts.num_elements = n
    if t == 2:
        r.row_allint = 1 if all_int else 0
        r.facts.elements_all_int = all_int
    return 0


cdef int _zset_plain(Rd* r, MemoryModel model, int t) except -1 nogil:
    cdef int64_t n = _plain_len(r), i, slen
    cdef StrRef s
    r.facts.kind = T_ZSET
    r.row_type = T_ZSET
    r.row_encoding = ENC_SKIPLIST
    r.facts.encoding = ENC_SKIPLIST
    for i in range(n):
        _str(r, &s, 0)
        _elem(r, s.length)
        if t == 5:
            _need(r, ZSET2_SCORE)
            r.pos += ZSET2_SCORE
        else:
            slen = _u8(r)
            if slen < ZSET_SCORE_SPECIAL:
                _need(r, slen)
                r.pos += slen
        r.facts.elem_alloc += model.element(&r.facts, s.length, 0)
    r.facts.num_elements = n
    return 0


cdef int _hash_plain(Rd* r, MemoryModel model) except -1 nogil:
    cdef int64_t n = _plain_len(r), i
    cdef StrRef f, v
    r.facts.kind = T_HASH
    r.row_type = T_HASH
    r.row_encoding = ENC_HASHTABLE
    r.facts.encoding = ENC_HASHTABLE
    for i in range(n):
        _str(r, &f, 0)
        _str(r, &v, 0)
        _elem(r, f.length)
        _elem(r, v.length)
        r.facts.elem_alloc += model.element(&r.facts, f.length, v.length)
    r.facts.num_elements = n
    return 0


cdef int _hash_ttl(Rd* r, MemoryModel model, int t) except -1 nogil:
    """Hashes with field TTLs stored field by field: Redis 22 (pre-GA) / 24, Valkey HASH_2 (22)."""
    cdef int64_t n, i, ttl, min_exp = 0, exp
    cdef StrRef f, v
    cdef bint valkey = r.valkey_types and t == 22
    r.facts.kind = T_HASH
    r.row_type = T_HASH
    r.row_encoding = ENC_HASHTABLE
    r.facts.encoding = ENC_HASHTABLE
    r.row_hfe = True
    if t == 24:
        min_exp = <int64_t>_le(r, 8)
    n = _plain_len(r)
    for i in range(n):
        exp = 0
        if valkey:
            _str(r, &f, 0)
            _str(r, &v, 0)
            exp = <int64_t>_le(r, 8)
            if exp < 0:
                exp = 0
        else:
            ttl = _plain_len(r)
            if t == 24:
                exp = ttl + min_exp - 1 if ttl != 0 else 0
            else:
                exp = ttl
            _str(r, &f, 0)
            _str(r, &v, 0)
        if exp > 0:
            r.row_volatile += 1
            if r.row_minfield < 0 or exp < r.row_minfield:
                r.row_minfield = exp
        _elem(r, f.length)
        _elem(r, v.length)
        r.facts.elem_alloc += model.element(&r.facts, f.length, v.length)
    r.facts.num_elements = n
    r.facts.volatile_fields = r.row_volatile
    return 0
