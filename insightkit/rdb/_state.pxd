# The state every parser of the decoder works on (one `Rd` per Decoder): the input cursor, the writer's
# format facts, the key being decoded and its row extras. The value parsers (_values_*.pyx) and the row
# writer (_rows.pyx) are plain functions over an `Rd*`; the Decoder class owns it and drives them.
# The per-byte reads are inline here (compiled into each module that uses them); their cold paths
# (errors, refills, LZF) are one call into _state.pyx each.

from libc.stdint cimport INT64_MAX, int64_t, uint64_t
from libc.string cimport memset

from insightkit.memory._model cimport KeyFacts, KeyFacts15, MemoryModel
from insightkit.rdb._blobs cimport Stats
from insightkit.rdb._columns cimport Buf
from insightkit.rdb._kinds cimport *
from insightkit.rdb._tmpl cimport TmplTable


cdef enum:
    STREAM_THRESHOLD = 1048576  # plain string values at least this big stream through unbuffered


cdef struct StrRef:
    const unsigned char* ptr   # the bytes when available (raw, or decompressed on request), else NULL
    int64_t length             # byte length of the string form
    bint is_int                # stored as an RDB integer encoding
    int64_t ival
    int64_t lzf                # compressed size when LZF-encoded in the file, else -1


cdef struct Rd:
    # the input: one contiguous buffer (positions relative to p)
    const unsigned char* p
    int64_t pos, end
    int64_t base_offset        # absolute offset of p[0]
    int64_t item_start         # start (relative) of the item being parsed
    int64_t want               # bytes the buffer must hold before parsing resumes (set when short)
    int64_t skip_remaining     # bytes of a streamed string value still to pass
    # the writer's format
    int ver_major, ver_minor   # Redis-equivalent version of the writer (encodings)
    bint valkey_types          # VALKEY magic: type 22 is HASH_2
    bint embedded_keys         # Valkey >= 8.1, Redis >= 8.2: the key lives in the value object
    bint gcra29                # RDB 14: type 29 is the pre-GA GCRA (33 from RDB 15 on)
    const TmplTable* tt        # hash templates declared so far
    # the key's pending opcodes
    int db
    bint has_expire
    int64_t expire_ms
    bint has_idle
    int64_t idle
    bint has_freq
    int freq
    int64_t key_meta           # KEY_META classes before the key's type byte
    int64_t key_item_start     # absolute offset where the key's first opcode started (-1 none)
    # the key being decoded
    KeyFacts facts
    KeyFacts15 facts15         # facts.rdb15 points here for keys with RDB 13-15 facts (_ext())
    Buf key_scratch
    Buf val_scratch
    Buf name_scratch           # the previous field name of a hash template (order check)
    const unsigned char* key_ptr
    const unsigned char* key_buf_ptr  # == key_ptr when the key lies in the input buffer, else NULL
    int64_t key_len
    bint in_key                # errors name the key
    # its row's extras
    int row_type, row_encoding, row_module
    int64_t row_largest, row_elem_bytes
    int row_allint             # -1 null, 0/1
    bint row_hfe
    int64_t row_volatile, row_minfield
    bint row_stream
    int64_t s_entries, s_groups, s_consumers, s_pending


# --- cold paths (_state.pyx) ---------------------------------------------------------------------------
cdef int _fail(Rd* r, str message, object cls=*) except -1
cdef int _need_slow(Rd* r, int64_t n) except -1 nogil
cdef uint64_t _len_slow(Rd* r, bint* encoded) except? 0xFFFFFFFFFFFFFFFF nogil
cdef int64_t _bad_plain_len(Rd* r, bint enc, uint64_t v) except -1 nogil
cdef int _str_slow(Rd* r, StrRef* s, uint64_t v, bint enc, int want) except -1 nogil
cdef int _lzf_claim(Rd* r, int64_t clen, int64_t ulen) except -1 nogil
cdef int _lzf_into(Rd* r, Buf* scratch, int64_t clen, int64_t ulen) except -1 nogil
cdef object _key_repr(Rd* r)


# --- inline reads --------------------------------------------------------------------------------------

cdef inline int _need(Rd* r, int64_t n) except -1 nogil:
    if n < 0 or n > r.end - r.pos:
        return _need_slow(r, n)  # out of line: keeps this one small enough to inline
    return 0


cdef inline int _u8(Rd* r) except -1 nogil:
    _need(r, 1)
    r.pos += 1
    return r.p[r.pos - 1]


cdef inline uint64_t _le(Rd* r, int nbytes) except? 0xFFFFFFFFFFFFFFFF nogil:
    cdef uint64_t v = 0
    cdef int i
    _need(r, nbytes)
    for i in range(nbytes - 1, -1, -1):
        v = (v << 8) | r.p[r.pos + i]
    r.pos += nbytes
    return v


cdef inline uint64_t _len(Rd* r, bint* encoded) except? 0xFFFFFFFFFFFFFFFF nogil:
    """An RDB length; sets *encoded and returns the special-encoding number for 11xxxxxx."""
    cdef unsigned char b
    if r.pos < r.end:
        b = r.p[r.pos]
        if b < 0x40:  # 00xxxxxx: most lengths in a keyspace of small keys (inlined)
            encoded[0] = False
            r.pos += 1
            return b
        if b >= 0xC0:  # 11xxxxxx: an integer- or LZF-encoded string
            encoded[0] = True
            r.pos += 1
            return b & 0x3F
    return _len_slow(r, encoded)


cdef inline int _skip_len(Rd* r) except -1 nogil:
    """A 64-bit length-encoded number whose value does not matter (ids, counters; may be -1)."""
    cdef bint enc
    _len(r, &enc)
    if enc:
        with gil:
            _fail(r, "expected a number, found a string encoding")
    return 0


cdef inline int64_t _plain_len(Rd* r) except -1 nogil:
    """A length that must not be a special encoding, bounded to int64."""
    cdef bint enc
    cdef uint64_t v = _len(r, &enc)
    if enc or v > <uint64_t>INT64_MAX:
        return _bad_plain_len(r, enc, v)  # out of line: keeps this one small enough to inline
    return <int64_t>v


cdef inline int _str(Rd* r, StrRef* s, int want) except -1 nogil:
    """Read a string. want: 0 = length/int-ness only, 1 = bytes into val scratch, 2 = key scratch."""
    cdef bint enc
    cdef uint64_t v = _len(r, &enc)
    if not enc and v <= <uint64_t>(r.end - r.pos):  # a plain string, buffered
        s.is_int = False
        s.lzf = -1
        s.ptr = r.p + r.pos
        s.length = <int64_t>v
        r.pos += <int64_t>v
        return 0
    return _str_slow(r, s, v, enc, want)


cdef inline int _skip_str(Rd* r) except -1 nogil:
    cdef StrRef s
    _str(r, &s, 0)
    return 0


# --- the key's facts -----------------------------------------------------------------------------------

cdef inline KeyFacts15* _ext(Rd* r) noexcept nogil:
    """The key's RDB 13-15 facts, cleared on first use (keys of older kinds never touch them)."""
    if r.facts.rdb15 == NULL:
        memset(&r.facts15, 0, sizeof(KeyFacts15))
        r.facts.rdb15 = &r.facts15
    return r.facts.rdb15


cdef inline void _elem(Rd* r, int64_t nbytes) noexcept nogil:
    if nbytes > r.row_largest:
        r.row_largest = nbytes
    r.row_elem_bytes += nbytes


cdef inline void _blob(Rd* r, MemoryModel model, int64_t nbytes, int64_t compressed) noexcept nogil:
    r.facts.blob_count += 1
    r.facts.blob_bytes += nbytes
    r.facts.blob_alloc += model.blob(&r.facts, nbytes, compressed)


cdef inline void _take_stats(Rd* r, Stats* st) noexcept nogil:
    if st.largest > r.row_largest:
        r.row_largest = st.largest
    r.row_elem_bytes += st.total


cdef inline bint _at_least(Rd* r, int major, int minor) noexcept nogil:
    return r.ver_major > major or (r.ver_major == major and r.ver_minor >= minor)
