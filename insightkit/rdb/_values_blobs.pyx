# cython: language_level=3
"""Value parsers for the compact encodings, one blob a value: ziplists (10, 12, 13), listpacks (16, 17,
20), listpackex hashes (23, 25), intsets (11), zipmaps (9) and quicklists (14, 18). A blob is read by
_blob_str (LZF: the structure's header is checked against the claimed length before the rest is
inflated) and walked by _blobs.pyx; what a walker reports as malformed is raised here (_blob_fail)."""

from libc.stdint cimport int64_t

from insightkit.memory._model cimport MemoryModel
from insightkit.rdb._blobs cimport (
    BE_NOMEM, BlobErr, Stats, _lp_entry, _stats_init, walk_intset, walk_listpack, walk_zipmap, walk_ziplist,
)
from insightkit.rdb._kinds cimport *
from insightkit.rdb._lzf cimport _lzf_head
from insightkit.rdb._state cimport *

from insightkit.rdb._blobs import blob_error_message


cdef int _blob_str(Rd* r, StrRef* s, int kind) except -1 nogil:
    """A string holding a compact structure (``kind``, a BLOB_ constant): bytes needed. When LZF,
    the structure's header is inflated first and checked against the claimed length."""
    if kind != BLOB_ANY and r.pos < r.end and r.p[r.pos] == 0xC3:
        return _blob_lzf(r, s, kind)
    _str(r, s, 1)
    if s.is_int:
        with gil:
            _fail(r, "expected a serialized blob, found an integer")
    return 0


cdef int _blob_lzf(Rd* r, StrRef* s, int kind) except -1 nogil:
    """An LZF-compressed blob: after _lzf_claim (the block comes to exactly its claimed length),
    the header of the structure is inflated alone and must agree with that length (total bytes,
    what its counts need at least) before the rest is inflated. Header errors name the offset
    after the blob, as the walkers' do; a bomb claiming a huge blob whose header says otherwise
    is refused having inflated a few bytes."""
    cdef int64_t clen, ulen, total, count, width, at
    cdef int hl = 10 if kind == BLOB_ZIPLIST else (8 if kind == BLOB_INTSET else (0 if kind == BLOB_STREAM_ID else 6))
    cdef unsigned char h[16]
    r.pos += 1  # 0xC3
    clen = _plain_len(r)
    ulen = _plain_len(r)
    _lzf_claim(r, clen, ulen)
    at = r.pos
    if kind == BLOB_STREAM_ID and ulen != 16:
        r.pos = at + clen
        with gil:
            _fail(r, f"stream node key has {ulen} bytes, expected 16")
    if hl and ulen >= hl:
        _lzf_head(r.p + at, clen, h, hl)
        total = h[0] | (h[1] << 8) | (h[2] << 16) | (<int64_t>h[3] << 24)
        if kind == BLOB_INTSET:
            width = total
            count = h[4] | (h[5] << 8) | (h[6] << 16) | (<int64_t>h[7] << 24)
            if width != 2 and width != 4 and width != 8:
                r.pos = at + clen
                with gil:
                    _fail(r, f"intset has element width {width}")
            if 8 + width * count != ulen:
                r.pos = at + clen
                with gil:
                    _fail(r, f"intset claims {count} elements of {width} bytes in a {ulen}-byte blob")
        else:
            count = (h[8] | (h[9] << 8)) if kind == BLOB_ZIPLIST else (h[4] | (h[5] << 8))
            if total != ulen:
                r.pos = at + clen
                with gil:
                    _fail(r, f"{'ziplist' if kind == BLOB_ZIPLIST else 'listpack'} header says "
                               f"{total} bytes, blob has {ulen}")
            # every entry takes 2 bytes at least (ziplist: prevlen, encoding; listpack: encoding,
            # back-length), and the end marker one
            if count != 0xFFFF and hl + 2 * count + 1 > ulen and kind != BLOB_STREAM_LP:
                r.pos = at + clen
                with gil:
                    _fail(r, f"{'ziplist' if kind == BLOB_ZIPLIST else 'listpack'} header says "
                               f"{count} entries, more than {ulen} bytes hold")
    _lzf_into(r, &r.val_scratch, clen, ulen)
    s.is_int = False
    s.ptr = r.val_scratch.data
    s.length = ulen
    s.lzf = clen
    r.pos = at + clen
    return 0


cdef int _blob_fail(Rd* r, BlobErr* e) except -1 nogil:
    """Raise what a blob walker reported (see _blobs.pxd)."""
    with gil:
        if e.code == BE_NOMEM:
            raise MemoryError()
        _fail(r, blob_error_message(e.code, e.a, e.b, e.c))
    return -1


cdef int _walk_ziplist(Rd* r, const unsigned char* z, int64_t n, int stride, int mask, Stats* st) except -1 nogil:
    cdef BlobErr e
    if walk_ziplist(z, n, stride, mask, st, &e):
        return _blob_fail(r, &e)
    return 0


cdef int _walk_listpack(Rd* r, const unsigned char* z, int64_t n, int stride, int mask, int ttl_slot, Stats* st) except -1 nogil:
    cdef BlobErr e
    if walk_listpack(z, n, stride, mask, ttl_slot, st, &e):
        return _blob_fail(r, &e)
    return 0


cdef int _lp_entry_r(Rd* r, const unsigned char* z, int64_t n, int64_t* pos, int64_t* ival) except -1 nogil:
    """_blobs._lp_entry, raising: 1 = integer (*ival), 0 = string of *ival bytes, 2 = the end marker."""
    cdef BlobErr e
    cdef int kind = _lp_entry(z, n, pos, ival, &e)
    if kind < 0:
        return _blob_fail(r, &e)
    return kind


cdef int _ziplist_value(Rd* r, MemoryModel model, int t) except -1 nogil:
    cdef StrRef s
    cdef Stats st
    _blob_str(r, &s, BLOB_ZIPLIST)
    _stats_init(&st)
    if t == 10:
        r.facts.kind = T_LIST
        _walk_ziplist(r, s.ptr, s.length, 1, 1, &st)
        r.facts.num_elements = st.entries
    else:
        r.facts.kind = T_ZSET if t == 12 else T_HASH
        _walk_ziplist(r, s.ptr, s.length, 2, 1 if t == 12 else 3, &st)
        if st.entries % 2:
            with gil:
                _fail(r, "ziplist of pairs has an odd number of entries")
        r.facts.num_elements = st.entries // 2
    r.row_type = r.facts.kind
    r.row_encoding = ENC_ZIPLIST
    r.facts.encoding = ENC_ZIPLIST
    _take_stats(r, &st)
    _blob(r, model, s.length, -1)
    return 0


cdef int _listpack_value(Rd* r, MemoryModel model, int t) except -1 nogil:
    cdef StrRef s
    cdef Stats st
    _blob_str(r, &s, BLOB_LISTPACK)
    _stats_init(&st)
    if t == 20:
        r.facts.kind = T_SET
        _walk_listpack(r, s.ptr, s.length, 1, 1, -1, &st)
        r.facts.num_elements = st.entries
        r.row_allint = 1 if st.all_int else 0
    else:
        r.facts.kind = T_ZSET if t == 17 else T_HASH
        _walk_listpack(r, s.ptr, s.length, 2, 1 if t == 17 else 3, -1, &st)
        if st.entries % 2:
            with gil:
                _fail(r, "listpack of pairs has an odd number of entries")
        r.facts.num_elements = st.entries // 2
    r.row_type = r.facts.kind
    r.row_encoding = ENC_LISTPACK
    r.facts.encoding = ENC_LISTPACK
    _take_stats(r, &st)
    _blob(r, model, s.length, -1)
    return 0


cdef int _hash_listpack_ex(Rd* r, MemoryModel model, int t) except -1 nogil:
    cdef StrRef s
    cdef Stats st
    if t == 25:
        _le(r, 8)  # minimum field expiry; recomputed from the entries
    _blob_str(r, &s, BLOB_LISTPACK)
    _stats_init(&st)
    _walk_listpack(r, s.ptr, s.length, 3, 3, 2, &st)
    if st.entries % 3:
        with gil:
            _fail(r, "listpackex hash entries are not field/value/ttl triplets")
    r.facts.kind = T_HASH
    r.row_type = T_HASH
    r.row_encoding = ENC_LISTPACKEX
    r.facts.encoding = ENC_LISTPACKEX
    r.facts.num_elements = st.entries // 3
    r.row_hfe = True
    r.row_volatile = st.volatile
    r.row_minfield = st.min_ttl
    r.facts.volatile_fields = st.volatile
    _take_stats(r, &st)
    _blob(r, model, s.length, -1)
    return 0


cdef int _intset(Rd* r, MemoryModel model) except -1 nogil:
    cdef StrRef s
    cdef Stats st
    cdef BlobErr e
    _blob_str(r, &s, BLOB_INTSET)
    _stats_init(&st)
    if walk_intset(s.ptr, s.length, &st, &e):
        return _blob_fail(r, &e)
    _take_stats(r, &st)
    r.facts.kind = T_SET
    r.row_type = T_SET
    r.row_encoding = ENC_INTSET
    r.facts.encoding = ENC_INTSET
    r.facts.num_elements = st.entries
    r.row_allint = 1
    _blob(r, model, s.length, -1)
    return 0


cdef int _zipmap(Rd* r, MemoryModel model) except -1 nogil:
    cdef StrRef s
    cdef Stats st
    cdef BlobErr e
    _blob_str(r, &s, BLOB_ANY)
    _stats_init(&st)
    if walk_zipmap(s.ptr, s.length, &st, &e):
        return _blob_fail(r, &e)
    _take_stats(r, &st)
    r.facts.kind = T_HASH
    r.row_type = T_HASH
    r.row_encoding = ENC_ZIPMAP
    r.facts.encoding = ENC_ZIPMAP
    r.facts.num_elements = st.entries
    _blob(r, model, s.length, -1)
    return 0


cdef int _quicklist(Rd* r, MemoryModel model, int t) except -1 nogil:
    cdef int64_t nodes = _plain_len(r), i, container, total = 0, packed = 0
    cdef StrRef s
    cdef Stats st
    cdef int64_t compressed
    r.facts.kind = T_LIST
    r.row_type = T_LIST
    for i in range(nodes):
        container = 2
        if t == 18:
            container = _plain_len(r)
            if container != 1 and container != 2:
                with gil:
                    _fail(r, f"quicklist node container {container} unknown")
        _blob_str(r, &s, BLOB_ANY if container == 1 else (BLOB_ZIPLIST if t == 14 else BLOB_LISTPACK))
        # LZF in the file means the node was held compressed (never the head or tail node)
        compressed = s.lzf if (s.lzf >= 0 and i > 0 and i < nodes - 1) else -1
        if compressed >= 0:
            r.facts.compressed_nodes += 1
        if container == 1:
            r.facts.plain_nodes += 1
            _elem(r, s.length)
            total += 1
        else:
            _stats_init(&st)
            if t == 14:
                _walk_ziplist(r, s.ptr, s.length, 1, 1, &st)
            else:
                _walk_listpack(r, s.ptr, s.length, 1, 1, -1, &st)
            _take_stats(r, &st)
            total += st.entries
            packed += 1
        _blob(r, model, s.length, compressed)
    r.facts.num_elements = total
    if t == 18 and nodes == 1 and packed == 1 and _at_least(r, 7, 2) and r.facts.blob_bytes <= 8192:
        r.row_encoding = ENC_LISTPACK
    else:
        r.row_encoding = ENC_QUICKLIST
    r.facts.encoding = r.row_encoding
    return 0
