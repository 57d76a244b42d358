# cython: language_level=3
"""Blob walkers: ziplists, listpacks, stream listpack nodes, intsets and zipmaps, checked and measured
(see _blobs.pxd)."""

from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint32_t
from libc.stdlib cimport free, malloc


cdef int walk_ziplist(const unsigned char* z, int64_t n, int stride, int mask, Stats* st, BlobErr* e) noexcept nogil:
    """Validate a ziplist and gather element lengths; entry i counts when mask has bit i % stride."""
    cdef int64_t pos = 10, count = 0, hdr_count, l, elen, total
    cdef unsigned char enc
    cdef bint isint
    if n < 11:
        return _blob_err(e, BE_ZL_SHORT, 0, 0)
    total = z[0] | (z[1] << 8) | (z[2] << 16) | (<int64_t>z[3] << 24)
    if total != n:
        return _blob_err(e, BE_ZL_TOTAL, total, n)
    hdr_count = z[8] | (z[9] << 8)
    while True:
        if pos >= n:
            return _blob_err(e, BE_ZL_PAST, 0, 0)
        if z[pos] == 0xFF:
            break
        # prevlen
        if z[pos] == 0xFE:
            pos += 5
        else:
            pos += 1
        if pos >= n:
            return _blob_err(e, BE_ZL_ENTRY_PAST, 0, 0)
        enc = z[pos]
        isint = False
        if enc < 0x40:
            l = enc & 0x3F
            pos += 1
        elif enc < 0x80:
            if pos + 2 > n:
                return _blob_err(e, BE_ZL_ENTRY_PAST, 0, 0)
            l = ((enc & 0x3F) << 8) | z[pos + 1]
            pos += 2
        elif enc == 0x80:
            if pos + 5 > n:
                return _blob_err(e, BE_ZL_ENTRY_PAST, 0, 0)
            l = (<int64_t>z[pos + 1] << 24) | (z[pos + 2] << 16) | (z[pos + 3] << 8) | z[pos + 4]
            pos += 5
        else:
            isint = True
            pos += 1
            if enc == 0xC0:
                elen = 2
                l = _digits(<int16_t>(z[pos] | (z[pos + 1] << 8))) if pos + 2 <= n else 0
            elif enc == 0xD0:
                elen = 4
                l = _digits(<int32_t>(z[pos] | (z[pos + 1] << 8) | (z[pos + 2] << 16) | (<uint32_t>z[pos + 3] << 24))) if pos + 4 <= n else 0
            elif enc == 0xE0:
                elen = 8
                l = _digits(<int64_t>_le_at(z + pos, 8)) if pos + 8 <= n else 0
            elif enc == 0xF0:
                elen = 3
                l = _digits(((<int32_t>((z[pos] << 8) | (z[pos + 1] << 16) | (<uint32_t>z[pos + 2] << 24))) >> 8)) if pos + 3 <= n else 0
            elif enc == 0xFE:
                elen = 1
                l = _digits(<int8_t>z[pos]) if pos + 1 <= n else 0
            elif 0xF1 <= enc <= 0xFD:
                elen = 0
                l = 1 if (enc & 0x0F) - 1 < 10 else 2
            else:
                return _blob_err(e, BE_ZL_BAD_ENCODING, enc, 0)
            if pos + elen > n:
                return _blob_err(e, BE_ZL_ENTRY_PAST, 0, 0)
            pos += elen
        if not isint:
            if pos + l > n:
                return _blob_err(e, BE_ZL_STRING_PAST, 0, 0)
            pos += l
        if (mask >> (count % stride)) & 1:
            if l > st.largest:
                st.largest = l
            st.total += l
            if not isint:
                st.all_int = False
        count += 1
    if pos != n - 1:
        return _blob_err(e, BE_ZL_TRAILING, 0, 0)
    if hdr_count != 0xFFFF and hdr_count != count:
        return _blob_err(e, BE_ZL_COUNT, hdr_count, count)
    st.entries = count
    return 0


cdef int walk_listpack(const unsigned char* z, int64_t n, int stride, int mask, int ttl_slot, Stats* st,
                       BlobErr* e) noexcept nogil:
    """Validate a listpack and gather element lengths (see walk_ziplist); ttl_slot marks field TTLs."""
    cdef int64_t pos = 6, count = 0, hdr_count, l, total, ival
    cdef int kind
    if n < 7:
        return _blob_err(e, BE_LP_SHORT, 0, 0)
    total = z[0] | (z[1] << 8) | (z[2] << 16) | (<int64_t>z[3] << 24)
    if total != n:
        return _blob_err(e, BE_LP_TOTAL, total, n)
    hdr_count = z[4] | (z[5] << 8)
    while True:
        kind = _lp_entry(z, n, &pos, &ival, e)
        if kind == 2:
            break
        if kind < 0:
            return -1
        l = _digits(ival) if kind == 1 else ival
        if ttl_slot >= 0 and count % stride == ttl_slot:
            if kind == 1 and ival > 0:
                st.volatile += 1
                if st.min_ttl < 0 or ival < st.min_ttl:
                    st.min_ttl = ival
        elif (mask >> (count % stride)) & 1:
            if l > st.largest:
                st.largest = l
            st.total += l
            if kind != 1:
                st.all_int = False
        count += 1
    if pos != n - 1:
        return _blob_err(e, BE_LP_TRAILING, 0, 0)
    if hdr_count != 0xFFFF and hdr_count != count:
        return _blob_err(e, BE_LP_COUNT, hdr_count, count)
    st.entries = count
    return 0


cdef inline int _lp_int(const unsigned char* z, int64_t n, int64_t* pos, int64_t* v, BlobErr* e) noexcept nogil:
    """The next entry, which must be an integer, into *v: 0, or -1 (*e says why)."""
    cdef int kind = _lp_entry(z, n, pos, v, e)
    if kind == 1:
        return 0
    if kind < 0:
        return -1
    return _blob_err(e, BE_ST_NOT_INT, 0, 0)


cdef inline int _lp_len(const unsigned char* z, int64_t n, int64_t* pos, int64_t* l, BlobErr* e) noexcept nogil:
    """Byte length (as a string) of the next entry, which must not be the end marker, into *l."""
    cdef int64_t v
    cdef int kind = _lp_entry(z, n, pos, &v, e)
    if kind < 0:
        return -1
    if kind == 2:
        return _blob_err(e, BE_ST_ENDS_INSIDE, 0, 0)
    l[0] = _digits(v) if kind == 1 else v
    return 0


cdef inline void _elem(Stats* st, int64_t nbytes) noexcept nogil:
    if nbytes > st.largest:
        st.largest = nbytes
    st.total += nbytes


cdef int walk_stream_node(const unsigned char* z, int64_t n, Stats* st, BlobErr* e) noexcept nogil:
    """Field and value sizes of the live entries of one stream listpack node (t_stream.c layout: a
    master entry with the node's field names, then entries that reuse them or carry their own), added
    to st.largest / st.total."""
    cdef int64_t pos = 6, nf, i, k, flags, l, v
    cdef int64_t* master = NULL
    cdef int r, kind
    if _lp_int(z, n, &pos, &v, e) or _lp_int(z, n, &pos, &v, e) or _lp_int(z, n, &pos, &nf, e):
        return -1  # (live count, deleted count, master fields)
    if nf < 0 or nf > n:
        return _blob_err(e, BE_ST_MASTER_FIELDS, nf, 0)
    master = <int64_t*>malloc((nf + 1) * sizeof(int64_t))
    if master == NULL:
        return _blob_err(e, BE_NOMEM, 0, 0)
    r = 0
    for i in range(nf):
        if _lp_len(z, n, &pos, &master[i], e):
            r = -1
            break
    if r == 0:
        if _lp_int(z, n, &pos, &v, e):
            r = -1
        elif v != 0:
            r = _blob_err(e, BE_ST_MASTER_TERM, 0, 0)
    while r == 0:
        kind = _lp_entry(z, n, &pos, &v, e)
        if kind == 2:
            break
        if kind < 0:
            r = -1
            break
        flags = v
        if _lp_int(z, n, &pos, &v, e) or _lp_int(z, n, &pos, &v, e):  # ms delta, seq delta
            r = -1
            break
        if flags & 2:  # same fields as the master entry: values only
            for i in range(nf):
                if _lp_len(z, n, &pos, &l, e):
                    r = -1
                    break
                if not flags & 1:
                    _elem(st, master[i])
                    _elem(st, l)
        else:
            if _lp_int(z, n, &pos, &k, e):
                r = -1
                break
            if k < 0 or k > n:
                r = _blob_err(e, BE_ST_ENTRY_FIELDS, k, 0)
                break
            for i in range(2 * k):
                if _lp_len(z, n, &pos, &l, e):
                    r = -1
                    break
                if not flags & 1:
                    _elem(st, l)
        if r == 0 and _lp_int(z, n, &pos, &v, e):  # the entry's element count (for backward iteration)
            r = -1
    if r == 0 and pos != n - 1:
        r = _blob_err(e, BE_ST_TRAILING, 0, 0)
    free(master)
    return r


cdef int walk_intset(const unsigned char* z, int64_t n, Stats* st, BlobErr* e) noexcept nogil:
    """Validate an intset and gather its elements' lengths as strings."""
    cdef int64_t width, count, i, v
    if n < 8:
        return _blob_err(e, BE_IS_SHORT, 0, 0)
    width = <int64_t>_le_at(z, 4)
    count = <int64_t>_le_at(z + 4, 4)
    if width != 2 and width != 4 and width != 8:
        return _blob_err(e, BE_IS_WIDTH, width, 0)
    if 8 + width * count != n:
        _blob_err(e, BE_IS_SIZE, count, width)
        e.c = n
        return -1
    for i in range(count):
        v = <int64_t>_le_at(z + 8 + i * width, <int>width)
        if width == 2:
            v = <int16_t>v
        elif width == 4:
            v = <int32_t>v
        _elem(st, _digits(v))
    st.entries = count
    return 0


cdef int walk_zipmap(const unsigned char* z, int64_t n, Stats* st, BlobErr* e) noexcept nogil:
    """Validate a zipmap (Redis < 2.6 small hashes) and gather its fields' and values' lengths."""
    cdef int64_t pos = 1, l, count = 0, free_
    cdef int which
    if n < 2:
        return _blob_err(e, BE_ZM_SHORT, 0, 0)
    while True:
        if pos >= n:
            return _blob_err(e, BE_ZM_PAST, 0, 0)
        if z[pos] == 0xFF:
            break
        for which in range(2):
            if pos >= n:
                return _blob_err(e, BE_ZM_PAST, 0, 0)
            l = z[pos]
            if l == 254:
                if pos + 5 > n:
                    return _blob_err(e, BE_ZM_PAST, 0, 0)
                l = <int64_t>_le_at(z + pos + 1, 4)
                pos += 5
            elif l == 255:
                return _blob_err(e, BE_ZM_NO_VALUE, 0, 0)
            else:
                pos += 1
            free_ = 0
            if which == 1:
                if pos >= n:
                    return _blob_err(e, BE_ZM_PAST, 0, 0)
                free_ = z[pos]
                pos += 1
            if pos + l + free_ > n:
                return _blob_err(e, BE_ZM_ENTRY_PAST, 0, 0)
            pos += l + free_
            _elem(st, l)
        count += 1
    if pos != n - 1:
        return _blob_err(e, BE_ZM_TRAILING, 0, 0)
    st.entries = count
    return 0


def blob_error_message(int code, int64_t a, int64_t b, int64_t c=0):
    """The message of a walker's BlobErr (the decoder raises it as RdbFormatError)."""
    if code == BE_ZL_SHORT:
        return "ziplist blob too short"
    if code == BE_ZL_TOTAL:
        return f"ziplist header says {a} bytes, blob has {b}"
    if code == BE_ZL_PAST:
        return "ziplist runs past its end"
    if code == BE_ZL_ENTRY_PAST:
        return "ziplist entry runs past its end"
    if code == BE_ZL_BAD_ENCODING:
        return f"bad ziplist entry encoding 0x{a:02x}"
    if code == BE_ZL_STRING_PAST:
        return "ziplist string entry runs past its end"
    if code == BE_ZL_TRAILING:
        return "ziplist has bytes after its end marker"
    if code == BE_ZL_COUNT:
        return f"ziplist header says {a} entries, found {b}"
    if code == BE_LP_SHORT:
        return "listpack blob too short"
    if code == BE_LP_TOTAL:
        return f"listpack header says {a} bytes, blob has {b}"
    if code == BE_LP_PAST:
        return "listpack runs past its end"
    if code == BE_LP_ENTRY_PAST:
        return "listpack entry runs past its end"
    if code == BE_LP_BAD_ENCODING:
        return f"bad listpack entry encoding 0x{a:02x}"
    if code == BE_LP_TRAILING:
        return "listpack has bytes after its end marker"
    if code == BE_LP_COUNT:
        return f"listpack header says {a} entries, found {b}"
    if code == BE_ST_NOT_INT:
        return "stream listpack: expected an integer entry"
    if code == BE_ST_ENDS_INSIDE:
        return "stream listpack ends inside an entry"
    if code == BE_ST_MASTER_FIELDS:
        return f"stream node claims {a} master fields"
    if code == BE_ST_MASTER_TERM:
        return "stream node master entry is not terminated by 0"
    if code == BE_ST_ENTRY_FIELDS:
        return f"stream entry claims {a} fields"
    if code == BE_ST_TRAILING:
        return "stream listpack has bytes after its end marker"
    if code == BE_IS_SHORT:
        return "intset blob too short"
    if code == BE_IS_WIDTH:
        return f"intset has element width {a}"
    if code == BE_IS_SIZE:
        return f"intset claims {a} elements of {b} bytes in a {c}-byte blob"
    if code == BE_ZM_SHORT:
        return "zipmap blob too short"
    if code == BE_ZM_PAST:
        return "zipmap runs past its end"
    if code == BE_ZM_NO_VALUE:
        return "zipmap entry has no value"
    if code == BE_ZM_ENTRY_PAST:
        return "zipmap entry runs past its end"
    if code == BE_ZM_TRAILING:
        return "zipmap has bytes after its end marker"
    return f"internal error: blob error code {code}"
