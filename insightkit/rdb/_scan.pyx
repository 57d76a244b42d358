# cython: language_level=3
"""The segment scanner: lengths-only steps over RDB items, and the DUMP payload checks built on them.

The lead decoder delimits runs of keys with these (lengths only: no values decoded, nothing priced)
so that other threads can decode the runs in parallel. They take the value parsers' (_values_*.pyx)
steps, the shared ones from _layout.pxd and _lengths.pxd, and give up (SK_STOP) on anything unusual;
the full decoder then handles that item itself, so errors are always raised by the same code and name
the same offsets.
"""

from libc.stdint cimport INT64_MAX, int64_t, uint64_t

from insightkit.rdb._crc64 cimport crc64_update
from insightkit.rdb._kinds cimport *
from insightkit.rdb._layout cimport (
    STR_ENC_LZF, STREAM_ID_BYTES, STREAM_PEL_ENTRY, ZSET2_SCORE, ZSET_SCORE_SPECIAL, small_str_end, str_int_width,
    stream_consumer_times, stream_group_lens, stream_has_idmp, stream_has_nacks, stream_meta_lens, stream_pel_ok,
)
from insightkit.rdb._lengths cimport rdb_len
from insightkit.rdb._lzf cimport _lzf_claim_ok
from insightkit.rdb._tmpl cimport TmplTable, _tmpl_find


cdef inline int _sk_len(const unsigned char* p, int64_t* pos, int64_t end, uint64_t* v, bint* enc) noexcept nogil:
    return rdb_len(p, pos, end, v, enc)  # the decoder's own length read (_lengths.pxd)


cdef inline int _sk_plain(const unsigned char* p, int64_t* pos, int64_t end, int64_t* n) noexcept nogil:
    """A length that is not a string encoding (counts, container kinds)."""
    cdef uint64_t v
    cdef bint enc
    cdef int st = _sk_len(p, pos, end, &v, &enc)
    if st != SK_OK:
        return st
    if enc or v > <uint64_t>INT64_MAX:
        return SK_STOP
    n[0] = <int64_t>v
    return SK_OK


cdef inline int _sk_skip(int64_t* pos, int64_t end, int64_t n) noexcept nogil:
    if n > end - pos[0]:
        return SK_SHORT
    pos[0] += n
    return SK_OK


cdef inline int _sk_str(const unsigned char* p, int64_t* pos, int64_t end) noexcept nogil:
    cdef uint64_t v
    cdef bint enc
    cdef int64_t clen, ulen
    cdef int st = _sk_len(p, pos, end, &v, &enc)
    if st != SK_OK:
        return st
    if not enc:
        if v > <uint64_t>INT64_MAX:
            return SK_STOP
        return _sk_skip(pos, end, <int64_t>v)
    if str_int_width(v):
        return _sk_skip(pos, end, str_int_width(v))
    if v == STR_ENC_LZF:
        st = _sk_plain(p, pos, end, &clen)
        if st == SK_OK:
            st = _sk_plain(p, pos, end, &ulen)
        if st != SK_OK:
            return st
        if not _lzf_claim_ok(clen, ulen):
            return SK_STOP
        return _sk_skip(pos, end, clen)
    return SK_STOP


cdef inline int _sk_str_fast(const unsigned char* p, int64_t* pos, int64_t end) noexcept nogil:
    """_sk_str, inlined for what small keys hold: 6-bit lengths, plain or LZF (0xC3 clen ulen), the
    decoder's small-string step (_layout.pxd; a segment decoder checks an LZF claim, as the lead would)."""
    cdef int64_t ulen
    cdef int64_t n = small_str_end(p, pos[0], end, &ulen)
    if n < 0:
        return _sk_str(p, pos, end)
    if n > end:
        return SK_SHORT
    pos[0] = n
    return SK_OK


cdef int _sk_strs(const unsigned char* p, int64_t* pos, int64_t end, int64_t n) noexcept nogil:
    cdef int st
    while n > 0:
        st = _sk_str(p, pos, end)
        if st != SK_OK:
            return st
        n -= 1
    return SK_OK


cdef int _sk_lens(const unsigned char* p, int64_t* pos, int64_t end, int n) noexcept nogil:
    """n lengths whose values do not matter (stream ids and counters; may be -1): not string encodings."""
    cdef uint64_t v
    cdef bint enc
    cdef int st
    while n > 0:
        st = _sk_len(p, pos, end, &v, &enc)
        if st != SK_OK:
            return st
        if enc:
            return SK_STOP
        n -= 1
    return SK_OK


cdef int _sk_stream(const unsigned char* p, int64_t* pos, int64_t end, int t) noexcept nogil:
    cdef int64_t nodes, groups, pel, consumers, cpel, i, j, nacked, producers, entries
    cdef int st = _sk_plain(p, pos, end, &nodes)
    if st != SK_OK:
        return st
    st = _sk_strs(p, pos, end, 2 * nodes) if nodes <= INT64_MAX // 2 else SK_STOP
    if st == SK_OK:
        st = _sk_lens(p, pos, end, 1 + stream_meta_lens(t))  # the entry count, then the IDs and counters
    if st == SK_OK:
        st = _sk_plain(p, pos, end, &groups)
    i = 0
    while st == SK_OK and i < groups:
        st = _sk_str(p, pos, end)
        if st == SK_OK:
            st = _sk_lens(p, pos, end, stream_group_lens(t))
        if st == SK_OK:
            st = _sk_plain(p, pos, end, &pel)
        j = 0
        while st == SK_OK and j < pel:
            st = _sk_skip(pos, end, STREAM_PEL_ENTRY)
            if st == SK_OK:
                st = _sk_lens(p, pos, end, 1)
            j += 1
        if st == SK_OK:
            st = _sk_plain(p, pos, end, &consumers)
        j = 0
        while st == SK_OK and j < consumers:
            st = _sk_str(p, pos, end)
            if st == SK_OK:
                st = _sk_skip(pos, end, stream_consumer_times(t))
            if st == SK_OK:
                st = _sk_plain(p, pos, end, &cpel)
            if st == SK_OK:
                st = _sk_skip(pos, end, STREAM_ID_BYTES * cpel) if stream_pel_ok(cpel) else SK_STOP
            j += 1
        if st == SK_OK and stream_has_nacks(t):  # the group's NACK zone
            st = _sk_plain(p, pos, end, &nacked)
            if st == SK_OK:
                st = _sk_skip(pos, end, STREAM_ID_BYTES * nacked) if stream_pel_ok(nacked) else SK_STOP
        i += 1
    if st == SK_OK and stream_has_idmp(t):  # idempotent producers: duration, max entries, producers, 2 counters
        st = _sk_plain(p, pos, end, &nacked)
        if st == SK_OK:
            st = _sk_plain(p, pos, end, &nacked)
        if st == SK_OK:
            st = _sk_plain(p, pos, end, &producers)
        i = 0
        while st == SK_OK and i < producers:
            st = _sk_str(p, pos, end)
            if st == SK_OK:
                st = _sk_plain(p, pos, end, &entries)
            j = 0
            while st == SK_OK and j < entries:
                st = _sk_str(p, pos, end)
                if st == SK_OK:
                    st = _sk_lens(p, pos, end, 2)
                j += 1
            i += 1
        if st == SK_OK:
            st = _sk_lens(p, pos, end, 2)
    return st


cdef int _sk_module_ops(const unsigned char* p, int64_t* pos, int64_t end) noexcept nogil:
    """A module value's opcodes up to and including EOF (what _skip_module_ops reads)."""
    cdef int64_t op, v
    cdef int st
    while True:
        st = _sk_plain(p, pos, end, &op)
        if st != SK_OK or op == 0:
            return st
        if op == 1 or op == 2:
            st = _sk_plain(p, pos, end, &v)
        elif op == 3:
            st = _sk_skip(pos, end, 4)
        elif op == 4:
            st = _sk_skip(pos, end, 8)
        elif op == 5:
            st = _sk_str(p, pos, end)
        else:
            return SK_STOP
        if st != SK_OK:
            return st


cdef int _sk_key_meta(const unsigned char* p, int64_t* pos, int64_t end) noexcept nogil:
    cdef int64_t n, i
    cdef int st = _sk_plain(p, pos, end, &n)
    if st != SK_OK:
        return st
    if n > KEY_META_MAX_CLASSES:
        return SK_STOP
    for i in range(n):
        st = _sk_skip(pos, end, 4)
        if st == SK_OK:
            st = _sk_module_ops(p, pos, end)
        if st != SK_OK:
            return st
    return SK_OK


cdef int _sk_array(const unsigned char* p, int64_t* pos, int64_t end) noexcept nogil:
    cdef int64_t count, flag, tag, i
    cdef uint64_t v
    cdef bint enc
    cdef int st = _sk_plain(p, pos, end, &count)
    if st == SK_OK:
        st = _sk_plain(p, pos, end, &flag)
    if st != SK_OK:
        return st
    if flag > 1:
        return SK_STOP
    if flag == 1:
        st = _sk_lens(p, pos, end, 1)
    i = 0
    while st == SK_OK and i < count:
        st = _sk_len(p, pos, end, &v, &enc)
        if st == SK_OK and enc:
            return SK_STOP
        if st == SK_OK:
            st = _sk_plain(p, pos, end, &tag)
        if st == SK_OK:
            if tag == 0 or tag == 3:
                st = _sk_str(p, pos, end)
            elif tag == 1 or tag == 2:
                st = _sk_skip(pos, end, 8)
            else:
                return SK_STOP
        i += 1
    return st


cdef int _sk_lp_count(const unsigned char* p, int64_t pos, int64_t end, int64_t* count) noexcept nogil:
    """The entry count in the header of the listpack string at pos (a plain string; LZF: SK_STOP)."""
    cdef uint64_t v
    cdef bint enc
    cdef int st = _sk_len(p, &pos, end, &v, &enc)
    if st != SK_OK:
        return st
    if enc or v < 7:
        return SK_STOP
    if pos + 6 > end:
        return SK_SHORT
    count[0] = p[pos + 4] | (<int64_t>p[pos + 5] << 8)
    return SK_STOP if count[0] == 0xFFFF else SK_OK


cdef int _sk_template(const unsigned char* p, int64_t* pos, int64_t end, int t, const ScanFmt* f) noexcept nogil:
    """Types 29-32: template hashes (a REF form's template must be in the table already)."""
    cdef int64_t fmt, n = 0, e
    cdef uint64_t v
    cdef bint enc
    cdef int st
    if t == 30:
        return _sk_str(p, pos, end)
    if t == 32:
        st = _sk_len(p, pos, end, &v, &enc)
        if st != SK_OK:
            return st
        e = -1 if enc else _tmpl_find(f.tmpl, v)
        if e < 0:
            return SK_STOP
        return _sk_strs(p, pos, end, f.tmpl.entries[e].fields)
    st = _sk_plain(p, pos, end, &fmt)
    if st != SK_OK:
        return st
    if fmt == 0:  # the names in one listpack: its header has the count (needed to pass type 31's values)
        if t == 31:
            st = _sk_lp_count(p, pos[0], end, &n)
            if st != SK_OK:
                return st
        st = _sk_str(p, pos, end)
    elif fmt == 1:
        st = _sk_plain(p, pos, end, &n)
        if st == SK_OK and n == 0:
            return SK_STOP
        if st == SK_OK:
            st = _sk_strs(p, pos, end, n)
    else:
        return SK_STOP
    if st != SK_OK:
        return st
    return _sk_str(p, pos, end) if t == 29 else _sk_strs(p, pos, end, n)


cdef int _sk_value(const unsigned char* p, int64_t* pos, int64_t end, int t, const ScanFmt* f) noexcept nogil:
    """Step over the value of a key of RDB type t (the key name already passed)."""
    cdef int64_t n, i, slen
    cdef int st
    if t == 0 or (t >= 9 and t <= 13) or t == 16 or t == 17 or t == 20:
        return _sk_str(p, pos, end)
    if t == 1 or t == 2 or t == 14:
        st = _sk_plain(p, pos, end, &n)
        return _sk_strs(p, pos, end, n) if st == SK_OK else st
    if t == 4:
        st = _sk_plain(p, pos, end, &n)
        if st != SK_OK:
            return st
        return _sk_strs(p, pos, end, 2 * n) if n <= INT64_MAX // 2 else SK_STOP
    if t == 3 or t == 5:
        st = _sk_plain(p, pos, end, &n)
        i = 0
        while st == SK_OK and i < n:
            st = _sk_str(p, pos, end)
            if st == SK_OK:
                if t == 5:
                    st = _sk_skip(pos, end, ZSET2_SCORE)
                elif pos[0] >= end:
                    st = SK_SHORT
                else:
                    slen = p[pos[0]]
                    pos[0] += 1
                    if slen < ZSET_SCORE_SPECIAL:
                        st = _sk_skip(pos, end, slen)
            i += 1
        return st
    if t == 18:
        st = _sk_plain(p, pos, end, &n)
        i = 0
        while st == SK_OK and i < n:
            st = _sk_plain(p, pos, end, &slen)  # container
            if st == SK_OK:
                st = _sk_str(p, pos, end)
            i += 1
        return st
    if t == 15 or t == 19 or t == 21:
        return _sk_stream(p, pos, end, t)
    if t == 22 and f.valkey:
        st = _sk_plain(p, pos, end, &n)
        i = 0
        while st == SK_OK and i < n:
            st = _sk_strs(p, pos, end, 2)
            if st == SK_OK:
                st = _sk_skip(pos, end, 8)
            i += 1
        return st
    if t == 22 or t == 24:
        st = _sk_skip(pos, end, 8) if t == 24 else SK_OK
        if st == SK_OK:
            st = _sk_plain(p, pos, end, &n)
        i = 0
        while st == SK_OK and i < n:
            st = _sk_plain(p, pos, end, &slen)  # field TTL
            if st == SK_OK:
                st = _sk_strs(p, pos, end, 2)
            i += 1
        return st
    if t == 23 or t == 25:
        st = _sk_skip(pos, end, 8) if t == 25 else SK_OK
        return _sk_str(p, pos, end) if st == SK_OK else st
    if t == 26 or t == 27:
        return _sk_stream(p, pos, end, t)
    if t == 28:
        return _sk_array(p, pos, end)
    if t == 33 or (t == 29 and f.gcra29):
        return _sk_lens(p, pos, end, 1)
    if t >= 29 and t <= 32:
        return _sk_template(p, pos, end, t, f)
    return SK_STOP  # module values (6, 7) and unknown types


cdef int _sk_keys(const unsigned char* p, int64_t start, int64_t end, int64_t limit, const ScanFmt* f,
                  int64_t* seg_end, int64_t* nkeys, int64_t* nexpires) noexcept nogil:
    """Delimit up to `limit` whole keys (with their EXPIRE/IDLE/FREQ opcodes) from p[start:end].
    Sets *seg_end just past the last whole key; returns why it stopped (SK_OK: the limit)."""
    cdef int64_t q = start, keys = 0, expires = 0, v, r
    cdef int st = SK_OK, t
    cdef bint expire
    seg_end[0] = start
    while keys < limit:
        # the common case first: a string key (type 0, no opcodes), both strings with 6-bit lengths
        if q + 2 < end and p[q] == 0 and p[q + 1] < 0x40:
            r = q + 2 + p[q + 1]  # past the key name
            if r < end:
                r = small_str_end(p, r, end, &v)  # the value
                if r > 0 and r <= end:
                    q = r
                    keys += 1
                    seg_end[0] = q
                    continue
        expire = False
        while True:
            if q >= end:
                st = SK_SHORT
                break
            t = p[q]
            q += 1
            if t == OP_EXPIRETIME_MS:
                st = _sk_skip(&q, end, 8)
                expire = True
            elif t == OP_EXPIRETIME:
                st = _sk_skip(&q, end, 4)
                expire = True
            elif t == OP_IDLE:
                st = _sk_plain(p, &q, end, &v)
            elif t == OP_FREQ:
                st = _sk_skip(&q, end, 1)
            elif t == OP_KEY_META and f.key_meta:
                st = _sk_key_meta(p, &q, end)
            elif t < OP_RAM_LRU or (t > OP_RAM_LRU and t < OP_HASH_TEMPLATE):
                st = _sk_str_fast(p, &q, end)  # the key name
                if st == SK_OK:
                    st = _sk_str_fast(p, &q, end) if t == 0 else _sk_value(p, &q, end, t, f)
                if st == SK_OK:
                    keys += 1
                    expires += expire
                    seg_end[0] = q
                break
            else:
                st = SK_STOP
            if st != SK_OK:
                break
        if st != SK_OK:
            break
    nkeys[0] = keys
    nexpires[0] = expires
    return st


def value_end(const unsigned char[::1] data, Py_ssize_t pos, int rdb_type, bint valkey=False,
              bint gcra29=False):
    """Offset just past the value of RDB type ``rdb_type`` that starts at ``pos`` (the type byte and any
    key name already passed), read with the segment scan's length-only steps.

    Used to check that a DUMP payload holds exactly one object: -1 when the value runs past the end of
    ``data``, -2 when the scan cannot step over it (module values, hash templates, unknown types, or a
    length it refuses as malformed)."""
    if pos < 0 or pos >= data.shape[0]:
        return -1
    return _value_end(&data[0], pos, data.shape[0], rdb_type, valkey, gcra29)


cdef int64_t _value_end(const unsigned char* p, int64_t pos, int64_t end, int rdb_type, bint valkey,
                        bint gcra29) noexcept nogil:
    cdef ScanFmt f
    cdef int64_t q = pos
    cdef int st
    if rdb_type == 6 or rdb_type == 7 or rdb_type > 33 or rdb_type < 0:
        return -2
    if 29 <= rdb_type <= 32 and not (rdb_type == 29 and gcra29):
        return -2  # template hashes need the file's template table
    f.valkey = valkey
    f.key_meta = False
    f.gcra29 = gcra29
    f.tmpl = NULL
    st = _sk_value(p, &q, end, rdb_type, &f)
    if st == SK_OK:
        return q
    return -1 if st == SK_SHORT else -2


def dump_payload_facts(const unsigned char[::1] data):
    """``(version, crc_ok, value_end)`` of a DUMP payload in one call (the DUMP walk checks every key).

    ``version`` is -1 when the payload is shorter than its 10-byte trailer plus a type byte.
    ``value_end`` is where the object after the type byte ends (see ``value_end``), or -3 when the
    payload starts with key metadata (0xF3, Redis RDB >= 13), which the caller steps over itself."""
    cdef int64_t n = data.shape[0]
    cdef int version
    cdef uint64_t stored = 0, crc
    cdef int i
    cdef int64_t end
    if n < 11:
        return -1, False, -1
    version = data[n - 10] | (data[n - 9] << 8)
    for i in range(8):
        stored |= (<uint64_t>data[n - 8 + i]) << (8 * i)
    with nogil:
        crc = crc64_update(0, &data[0], <size_t>(n - 8))
        if data[0] == 243 and 13 <= version < 80:
            end = -3
        else:
            end = _value_end(&data[0], 1, n - 10, data[0], version >= 80, version == 14)
    return version, crc == stored, end
