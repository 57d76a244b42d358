# cython: language_level=3
"""Value parser for streams (types 15, 19, 21; RDB 13-15: 26 with idempotent producers, 27 with NACKed
entries too): listpack nodes, then the consumer groups, their PELs and consumers, priced as walked."""

from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc, qsort
from libc.string cimport memcmp

from insightkit.memory._model cimport MemoryModel
from insightkit.rdb._blobs cimport BlobErr, Stats, _le_at, _stats_init, walk_stream_node
from insightkit.rdb._kinds cimport *
from insightkit.rdb._layout cimport (
    STREAM_ID_BYTES, STREAM_PEL_ENTRY, stream_consumer_times, stream_group_lens, stream_has_idmp, stream_has_nacks,
    stream_meta_lens, stream_pel_ok,
)
from insightkit.rdb._state cimport *
from insightkit.rdb._values_blobs cimport _blob_fail, _blob_str


cdef int _cmp_id16(const void* a, const void* b) noexcept nogil:
    return memcmp((<const unsigned char**>a)[0], (<const unsigned char**>b)[0], STREAM_ID_BYTES)


cdef int _walk_stream_node(Rd* r, const unsigned char* z, int64_t n) except -1 nogil:
    """Field and value sizes of the live entries of one stream listpack node (row largest/bytes)."""
    cdef Stats st
    cdef BlobErr e
    _stats_init(&st)
    if walk_stream_node(z, n, &st, &e):
        return _blob_fail(r, &e)
    _take_stats(r, &st)
    return 0


cdef int _stream(Rd* r, MemoryModel model, int t) except -1 nogil:
    cdef int64_t nodes = _plain_len(r), i, groups, pel, consumers, j, cpel, name_bytes = 0
    cdef int64_t total_pel = 0, total_consumers = 0, runs, gname, cname, k, pel_at
    cdef const unsigned char* prev
    cdef StrRef s
    r.facts.kind = T_STREAM
    r.row_type = T_STREAM
    r.row_encoding = ENC_STREAM
    r.facts.encoding = ENC_STREAM
    for i in range(nodes):
        _blob_str(r, &s, BLOB_STREAM_ID)
        if s.length != STREAM_ID_BYTES:
            with gil:
                _fail(r, f"stream node key has {s.length} bytes, expected 16")
        _blob_str(r, &s, BLOB_STREAM_LP)
        if s.length < 7 or s.ptr[s.length - 1] != 0xFF or <int64_t>_le_at(s.ptr, 4) != s.length:
            with gil:
                _fail(r, "stream listpack node is malformed")
        _walk_stream_node(r, s.ptr, s.length)
        r.facts.stream_nodes += 1
        _blob(r, model, s.length, -1)
    r.s_entries = _plain_len(r)
    for k in range(stream_meta_lens(t)):  # last ID [, first ID, max deleted ID, entries added]
        _skip_len(r)
    groups = _plain_len(r)
    for i in range(groups):
        _str(r, &s, 0)
        name_bytes += s.length
        gname = s.length
        for k in range(stream_group_lens(t)):  # last ID [, entries read (-1 when unknown)]
            _skip_len(r)
        pel = _plain_len(r)
        total_pel += pel
        runs = 0
        prev = NULL
        pel_at = r.pos
        for j in range(pel):
            _need(r, STREAM_PEL_ENTRY)
            # runs of consecutive PEL IDs sharing the millisecond part (the rax's shape)
            if prev == NULL or memcmp(prev, r.p + r.pos, 8) != 0:
                runs += 1
            prev = r.p + r.pos
            r.pos += STREAM_PEL_ENTRY
            _skip_len(r)  # delivery count
        model.stream_group(&r.facts, gname, pel, runs)
        consumers = _plain_len(r)
        total_consumers += consumers
        for j in range(consumers):
            _str(r, &s, 0)
            name_bytes += s.length
            cname = s.length
            _need(r, stream_consumer_times(t))  # seen time [, active time]
            r.pos += stream_consumer_times(t)
            cpel = _plain_len(r)
            if not stream_pel_ok(cpel):
                with gil:
                    _fail(r, "consumer PEL size out of range")
            _need(r, STREAM_ID_BYTES * cpel)
            runs = 0
            prev = NULL
            for k in range(cpel):
                if prev == NULL or memcmp(prev, r.p + r.pos + STREAM_ID_BYTES * k, 8) != 0:
                    runs += 1
                prev = r.p + r.pos + STREAM_ID_BYTES * k
            r.pos += STREAM_ID_BYTES * cpel
            model.stream_consumer(&r.facts, cname, cpel, runs)
        if stream_has_nacks(t):
            _nack_zone(r, pel, pel_at)
    if stream_has_idmp(t):
        _idmp(r, model)
    r.facts.num_elements = r.s_entries
    r.facts.stream_groups = groups
    r.facts.stream_consumers = total_consumers
    r.facts.stream_pel = total_pel
    r.facts.stream_name_bytes = name_bytes
    r.row_stream = True
    r.s_groups = groups
    r.s_consumers = total_consumers
    r.s_pending = total_pel
    return 0


cdef int _nack_zone(Rd* r, int64_t pel, int64_t pel_at) except -1 nogil:
    """Type 27: a group's NACKed entries (16-byte big-endian IDs), each one of the group's PEL
    entries (read from pel_at, `pel` of them) that no consumer owns."""
    cdef int64_t at = r.pos, n = _plain_len(r), i, q
    cdef const unsigned char** ids = NULL
    cdef const unsigned char* want
    cdef unsigned char b
    cdef int64_t lo, hi, mid
    cdef int c
    cdef bint ordered = True
    if n > pel:
        r.pos = at
        with gil:
            _fail(r, f"stream group has {n} NACKed entries but {pel} pending ones")
    _need(r, STREAM_ID_BYTES * n)  # n <= pel, and every PEL entry took at least 25 bytes
    if n > 0:
        ids = <const unsigned char**>malloc(pel * sizeof(const unsigned char*))
        if ids == NULL:
            with gil:
                raise MemoryError()
        q = pel_at
        for i in range(pel):  # the PEL again: id, delivery time, delivery count (a length)
            ids[i] = r.p + q
            if i > 0 and ordered and memcmp(ids[i - 1], ids[i], STREAM_ID_BYTES) >= 0:
                ordered = False
            b = r.p[q + STREAM_PEL_ENTRY]  # the delivery count's length byte: 1, 2, 5 or 9 bytes
            q += STREAM_PEL_ENTRY + (1 if b < 0x40 else (2 if b < 0x80 else (5 if b == 0x80 else 9)))
        if not ordered:
            qsort(ids, pel, sizeof(const unsigned char*), _cmp_id16)
        for i in range(n):
            want = r.p + r.pos + STREAM_ID_BYTES * i
            lo = 0
            hi = pel
            while lo < hi:
                mid = (lo + hi) // 2
                c = memcmp(ids[mid], want, STREAM_ID_BYTES)
                if c == 0:
                    break
                if c < 0:
                    lo = mid + 1
                else:
                    hi = mid
            if lo >= hi:
                free(ids)
                r.pos += STREAM_ID_BYTES * i
                with gil:
                    _fail(r, f"NACKed stream entry {_id_text(want)} is not pending in its group")
        free(ids)
    r.pos += STREAM_ID_BYTES * n
    _ext(r).stream_nacked += n
    return 0


cdef str _id_text(const unsigned char* raw):
    return f"{int.from_bytes(raw[:8], 'big')}-{int.from_bytes(raw[8:16], 'big')}"


cdef int _idmp(Rd* r, MemoryModel model) except -1 nogil:
    """Types 26/27, after the groups: idempotent producers (XADD IDMP) and the IIDs they track."""
    cdef int64_t at = r.pos, duration, max_entries, producers, entries, i, j
    cdef StrRef s
    _ext(r)
    duration = _plain_len(r)
    if duration < 1 or duration > 86400:
        r.pos = at
        with gil:
            _fail(r, f"stream IDMP duration {duration} s outside XCFGSET's range 1-86400")
    at = r.pos
    max_entries = _plain_len(r)
    if max_entries < 1 or max_entries > 10000:
        r.pos = at
        with gil:
            _fail(r, f"stream IDMP max entries {max_entries} outside XCFGSET's range 1-10000")
    producers = _plain_len(r)
    for i in range(producers):
        _str(r, &s, 0)  # producer id
        entries = _plain_len(r)
        model.idmp_producer(&r.facts, s.length, entries)
        for j in range(entries):
            _str(r, &s, 0)  # IID
            _skip_len(r)  # the entry's stream ID (ms, seq)
            _skip_len(r)
            model.idmp_entry(&r.facts, s.length)
    _skip_len(r)  # IIDs added, duplicates seen (all-time counters)
    _skip_len(r)
    return 0
