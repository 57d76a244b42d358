# The RDB layout steps that both parsers take: the segment scanner (_scan.pyx, lengths only) and the value
# parsers (_values_*.pyx, which also validate and price). Each step is stated here once, inline, so a format
# change is made in one place; see docs/architecture.md ("Inside the decoder") for what stays separate.

from libc.stdint cimport int64_t, uint64_t


cdef enum:
    # strings: a length with 11xxxxxx is a special encoding numbered by its low 6 bits
    STR_ENC_LZF = 3            # 0xC3: LZF, then the compressed and the plain length, then the block
    # streams
    STREAM_ID_BYTES = 16       # a stream ID: ms and seq, 8 bytes each, big-endian (node keys, PEL, NACKs)
    STREAM_PEL_ENTRY = 24      # a group's PEL entry: the ID, the 8-byte delivery time (then the count)
    # zsets
    ZSET2_SCORE = 8            # type 5: a binary double
    ZSET_SCORE_SPECIAL = 253   # type 3: a score text length of 253-255 means nan, +inf, -inf (no text)


cdef inline int str_int_width(uint64_t enc) noexcept nogil:
    """Bytes of an integer-encoded string (special encodings 0, 1, 2: int8, int16, int32), else 0."""
    return 1 if enc == 0 else (2 if enc == 1 else (4 if enc == 2 else 0))


cdef inline int64_t small_str_end(const unsigned char* p, int64_t q, int64_t end, int64_t* ulen) noexcept nogil:
    """Where the string at p[q] ends when it has the short form small keys and values take: a 6-bit
    length (*ulen = -1), or LZF with 6-bit compressed and plain lengths (0xC3 clen ulen: *ulen set, the
    block at q + 3). -1 for any other form or a header not all buffered; the end may lie past `end`."""
    cdef unsigned char b
    if q >= end:
        return -1
    b = p[q]
    if b < 0x40:
        ulen[0] = -1
        return q + 1 + b
    if b != 0xC0 + STR_ENC_LZF or q + 3 > end or p[q + 1] >= 0x40 or p[q + 2] >= 0x40:
        return -1
    ulen[0] = p[q + 2]
    return q + 3 + p[q + 1]


cdef inline int stream_meta_lens(int t) noexcept nogil:
    """Lengths after a stream's entry count: last ID (ms, seq); from type 19 on also the first ID, the
    max deleted ID and the entries-added counter."""
    return 7 if t >= 19 else 2


cdef inline int stream_group_lens(int t) noexcept nogil:
    """Lengths after a group's name: its last ID (ms, seq); from type 19 on also entries-read."""
    return 3 if t >= 19 else 2


cdef inline int stream_consumer_times(int t) noexcept nogil:
    """Bytes after a consumer's name: its seen time; from type 21 on also its active time (8 bytes each)."""
    return 16 if t >= 21 else 8


cdef inline bint stream_pel_ok(int64_t n) noexcept nogil:
    """A count of 16-byte IDs (a consumer's PEL) whose bytes cannot overflow int64 (below 2^58)."""
    return n < ((<int64_t>1) << 58)


cdef inline bint stream_has_nacks(int t) noexcept nogil:
    """Type 27: each group ends with its NACKed entries (a count, then 16-byte IDs)."""
    return t >= 27


cdef inline bint stream_has_idmp(int t) noexcept nogil:
    """Types 26 and 27: the stream ends with its idempotent producers (duration, max entries, producers
    each with their IIDs and stream IDs, two counters)."""
    return t >= 26
