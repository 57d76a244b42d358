# cython: language_level=3
"""Value parsers for the RDB 13-15 types (Redis 8.6-8.10): arrays (28), GCRA rate limiters (33; 29 in
RDB 14), hashes whose field names live in a template (29-32) and the 0xF2 record declaring a template
(_template_record), which shares their field-name reads."""

from libc.stdint cimport INT64_MAX, UINT64_MAX, int64_t, uint64_t
from libc.stdio cimport snprintf
from libc.stdlib cimport strtod
from libc.string cimport memchr, memcmp, memcpy, memset

from insightkit.memory._model cimport ArrayShape, MemoryModel
from insightkit.rdb._blobs cimport _le_at
from insightkit.rdb._columns cimport Buf, _reserve
from insightkit.rdb._kinds cimport *
from insightkit.rdb._state cimport *
from insightkit.rdb._text cimport _digits, _format_int
from insightkit.rdb._tmpl cimport _Templates, _tmpl_find
from insightkit.rdb._values_blobs cimport _blob_str, _lp_entry_r


cdef int64_t _float_text_len(double d) noexcept nogil:
    """Length of an array float as ARGET prints it: the shortest text that reads back as d, with
    ".0" appended when that looks like an integer (sparsearray.c arFormatFloat)."""
    cdef char buf[48]
    cdef int n = 0, prec
    for prec in range(15, 18):
        n = snprintf(buf, sizeof(buf), "%.*g", prec, d)
        if d != d or strtod(buf, NULL) == d:
            break
    if n < 0:
        return 0
    if memchr(buf, 46, n) == NULL and memchr(buf, 101, n) == NULL and memchr(buf, 110, n) == NULL \
            and memchr(buf, 105, n) == NULL:  # no '.', 'e', nan or inf
        n += 2
    return n


cdef int _array(Rd* r, MemoryModel model) except -1 nogil:
    """Type 28 (Redis >= 8.8): count, insert-index flag [+ index], then per element its index
    (strictly ascending), a type tag and the value (0 string, 1 int64, 2 double, 3 short string)."""
    cdef int64_t count, flag, i, tag, slen = 0, heap, iv, at
    cdef uint64_t idx, prev = 0, u
    cdef bint enc
    cdef double d
    cdef StrRef s
    cdef ArrayShape shape
    r.facts.kind = KIND_ARRAY
    r.facts.encoding = ENC_SLICED_ARRAY
    _ext(r)
    r.row_type = T_ARRAY
    r.row_encoding = ENC_SLICED_ARRAY
    at = r.pos
    count = _plain_len(r)
    if count == 0:
        r.pos = at
        with gil:
            _fail(r, "array with no elements (Redis deletes an array when it empties)")
    at = r.pos
    flag = _plain_len(r)
    if flag > 1:
        r.pos = at
        with gil:
            _fail(r, f"array insert-index flag is {flag}, not 0 or 1")
    if flag == 1:
        _skip_len(r)  # the insert index (ARINSERT's cursor)
    memset(&shape, 0, sizeof(ArrayShape))
    for i in range(count):
        at = r.pos
        idx = _len(r, &enc)
        if enc or idx == UINT64_MAX:
            r.pos = at
            with gil:
                _fail(r, "array index is a string encoding" if enc else "array index 2^64-1 is reserved")
        if i > 0 and idx <= prev:
            r.pos = at
            with gil:
                _fail(r, f"array indices not strictly ascending: {idx} after {prev}")
        prev = idx
        at = r.pos
        tag = _plain_len(r)
        heap = -1
        if tag == 0 or tag == 3:  # a string: out of line (an arString) beyond 7 bytes
            _str(r, &s, 0)
            slen = s.length
            if slen > 7:
                heap = slen
        elif tag == 1:  # an int64: inline when it fits 62 bits
            iv = <int64_t>_le(r, 8)
            slen = _digits(iv)
            if iv < -(<int64_t>1 << 61) or iv > (<int64_t>1 << 61) - 1:
                heap = slen
        elif tag == 2:  # a double, always inline (64-bit builds)
            u = _le(r, 8)
            memcpy(&d, &u, 8)
            slen = _float_text_len(d)
        else:
            r.pos = at
            with gil:
                _fail(r, f"array element type tag {tag} unknown (0-3)")
        _elem(r, slen)
        model.array_element(&shape, idx, heap)
    # ARLEN: the highest index + 1 (saturating: indices go up to 2^64-2)
    r.facts.num_elements = INT64_MAX if prev >= <uint64_t>INT64_MAX else <int64_t>prev + 1
    _ext(r).value_alloc = model.array_bytes(&shape)
    return 0


cdef int _gcra(Rd* r) except -1 nogil:
    """Type 33 (29 in RDB 14 pre-GA builds): a rate limiter's theoretical arrival time, one number."""
    cdef bint enc
    cdef int64_t at = r.pos
    r.facts.kind = KIND_GCRA
    r.facts.encoding = ENC_RAW
    _ext(r)
    r.facts.num_elements = 1
    r.row_type = T_GCRA
    r.row_encoding = ENC_RAW
    _len(r, &enc)
    if enc:
        r.pos = at
        with gil:
            _fail(r, "GCRA state is a string encoding, expected a number")
    return 0


cdef int _tmpl_name(Rd* r, const unsigned char* name, int64_t length, int64_t i,
                    int64_t* total, int64_t* longest) except -1 nogil:
    """Field name i of a template: strictly after the previous one (shorter first, then bytes)."""
    cdef Buf* prev = &r.name_scratch
    cdef int c
    if i > 0:
        c = -1 if prev.size < length else (1 if prev.size > length else memcmp(prev.data, name, <size_t>length))
        if c >= 0:
            return 1
    prev.size = 0
    _reserve(prev, length + 1)
    if length:
        memcpy(prev.data, name, <size_t>length)
    prev.size = length
    total[0] += length
    if length > longest[0]:
        longest[0] = length
    return 0


cdef int _tmpl_raw_names(Rd* r, MemoryModel model, int64_t n, int64_t* total, int64_t* longest,
                         int64_t* names_alloc) except -1 nogil:
    """n field names as RDB strings (0xF2 records, FIELDS_RAW): checked for order, measured."""
    cdef int64_t i, at
    cdef StrRef s
    cdef unsigned char digits[24]
    cdef const unsigned char* name
    for i in range(n):
        at = r.pos
        _str(r, &s, 1)
        if s.is_int:
            s.length = _format_int(s.ival, digits)
            name = digits
        else:
            name = s.ptr
        if _tmpl_name(r, name, s.length, i, total, longest):
            r.pos = at
            with gil:
                _fail(r, f"hash template field names not strictly sorted (by length, then bytes) at field {i}")
        if names_alloc != NULL:
            names_alloc[0] += model.sds_alloc(s.length)
    return 0


cdef int64_t _tmpl_lp_names(Rd* r, int64_t* total, int64_t* longest) except -1 nogil:
    """FIELDS_LP (types 29/31): the field names as one listpack; returns their count."""
    cdef StrRef s
    cdef const unsigned char* z
    cdef int64_t n, pos = 6, q, v, count = 0, hdr
    cdef unsigned char digits[24]
    cdef const unsigned char* name
    cdef int kind
    cdef unsigned char enc
    _blob_str(r, &s, BLOB_LISTPACK)
    z = s.ptr
    n = s.length
    if n < 7 or <int64_t>_le_at(z, 4) != n or z[n - 1] != 0xFF:
        with gil:
            _fail(r, "hash template field-name listpack is malformed")
    while True:
        q = pos
        kind = _lp_entry_r(r, z, n, &pos, &v)
        if kind == 2:
            break
        if kind == 1:
            v = _format_int(v, digits)
            name = digits
        else:
            enc = z[q]
            name = z + q + (1 if enc < 0xC0 else (2 if enc < 0xF0 else 5))
        if _tmpl_name(r, name, v, count, total, longest):
            with gil:
                _fail(r, f"hash template field names not strictly sorted (by length, then bytes) at field {count}")
        count += 1
    hdr = z[4] | (z[5] << 8)
    if pos != n - 1 or (hdr != 0xFFFF and hdr != count):
        with gil:
            _fail(r, "hash template field-name listpack is malformed")
    if count == 0:
        with gil:
            _fail(r, "hash template has no fields")
    return count


cdef int64_t _tmpl_values_lp(Rd* r, const unsigned char* z, int64_t n, int64_t* count) except? -1 nogil:
    """A template-listpack's values: entry 0 is the template id (an integer, returned), then one
    value per field (counted into *count and measured)."""
    cdef int64_t pos = 6, v, id, c = 0, hdr
    cdef int kind
    if n < 7 or <int64_t>_le_at(z, 4) != n or z[n - 1] != 0xFF:
        with gil:
            _fail(r, "template-listpack blob is malformed")
    kind = _lp_entry_r(r, z, n, &pos, &id)
    if kind == 2:
        with gil:
            _fail(r, "template-listpack is empty")
    if kind != 1:
        with gil:
            _fail(r, "template-listpack's first entry (the template id) is not an integer")
    while True:
        kind = _lp_entry_r(r, z, n, &pos, &v)
        if kind == 2:
            break
        _elem(r, _digits(v) if kind == 1 else v)
        c += 1
    hdr = z[4] | (z[5] << 8)
    if pos != n - 1 or (hdr != 0xFFFF and hdr != c + 1):
        with gil:
            _fail(r, "template-listpack blob is malformed")
    count[0] = c
    return id


cdef int _template_hash(Rd* r, MemoryModel model, int t) except -1 nogil:
    """Types 29-32 (Redis 8.10): hashes whose field names live in a template. 30 (LP_REF) and 32
    (ARRAY_REF) name a template declared by 0xF2; 29 and 31 (DUMP payloads) carry the names.
    29/30 hold the values in a listpack, 31/32 as strings."""
    cdef bint lp = t == 29 or t == 30
    cdef int64_t at, fields = 0, names_total = 0, names_max = 0, count, e = -1, fmt, i, id
    cdef uint64_t uid
    cdef bint enc
    cdef StrRef s
    r.facts.kind = T_HASH
    _ext(r)
    r.row_type = T_HASH
    r.row_encoding = ENC_TMPL_LP if lp else ENC_TMPL_ARRAY
    r.facts.encoding = r.row_encoding
    if t == 32:
        at = r.pos
        uid = _len(r, &enc)
        e = -1 if enc else _tmpl_find(r.tt, uid)
        if e < 0:
            r.pos = at
            with gil:
                if enc:
                    _fail(r, "hash template id is a string encoding")
                _fail(r, f"unknown hash template id {uid} (no 0xF2 record declared it before)")
    elif t == 29 or t == 31:
        at = r.pos
        fmt = _plain_len(r)
        if fmt == 0:
            fields = _tmpl_lp_names(r, &names_total, &names_max)
        elif fmt == 1:
            fields = _plain_len(r)
            if fields == 0:
                r.pos = at
                with gil:
                    _fail(r, "hash template has no fields")
            _tmpl_raw_names(r, model, fields, &names_total, &names_max, NULL)
        else:
            r.pos = at
            with gil:
                _fail(r, f"hash template fields format {fmt} unknown (0 listpack, 1 strings)")
    if lp:
        at = r.pos
        _blob_str(r, &s, BLOB_LISTPACK)
        id = _tmpl_values_lp(r, s.ptr, s.length, &count)
        if t == 30:
            e = _tmpl_find(r.tt, <uint64_t>id) if id >= 0 else -1
            if e < 0:
                r.pos = at
                with gil:
                    _fail(r, f"unknown hash template id {id} (no 0xF2 record declared it before)")
            fields = r.tt.entries[e].fields
        if count != fields:
            r.pos = at
            with gil:
                _fail(r, f"template-listpack holds {count} values for a template of {fields} fields")
        _blob(r, model, s.length, -1)
    if t == 30 or t == 32:
        fields = r.tt.entries[e].fields
        names_total = r.tt.entries[e].names_total
        names_max = r.tt.entries[e].names_max
    if not lp:
        for i in range(fields):
            _str(r, &s, 0)
            _elem(r, s.length)
            model.template_value(&r.facts, s.length)
    r.row_elem_bytes += names_total
    if names_max > r.row_largest:
        r.row_largest = names_max
    r.facts.num_elements = fields
    return 0


cdef int _template_record(Rd* r, MemoryModel model, _Templates templates) except -1:
    """0xF2 (RDB 15): id, field count, then the field names sorted by length, then bytes."""
    cdef int64_t at = r.pos, n, total = 0, longest = 0, names_alloc = 0
    cdef bint enc
    cdef uint64_t id = _len(r, &enc)
    if enc:
        r.pos = at
        _fail(r, "hash template id is a string encoding")
    if _tmpl_find(r.tt, id) >= 0:
        r.pos = at
        _fail(r, f"duplicate hash template id {id}")
    if r.tt.n >= MAX_TEMPLATES:
        r.pos = at - 1
        _fail(r, f"more than {MAX_TEMPLATES} hash templates")
    at = r.pos
    n = _plain_len(r)
    if n == 0:
        r.pos = at
        _fail(r, f"hash template {id} has no fields")
    _tmpl_raw_names(r, model, n, &total, &longest, &names_alloc)
    templates.add(id, n, total, longest, model.template_bytes(n, names_alloc))
    return 0
