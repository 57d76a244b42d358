# cython: language_level=3
"""The RDB decoder's hot loop: bytes in, per-key facts out, values never kept.

Design: the stream arrives in chunks. The decoder parses one *item* (an opcode or a whole key) at a
time from one contiguous buffer. When an item runs past the buffered bytes it raises ``_NeedMore``
internally, the driver buffers more (at least twice as much, so a huge item is re-parsed only
O(log n) times) and the item is parsed again from its start. Opcodes that precede a key (expiry,
IDLE, FREQ) are committed one by one, so a restart never loses them. Huge plain string values are
streamed: their bytes are skipped as they arrive instead of being buffered whole.

Every length read from the file is checked against the bytes actually present before use; nothing
is allocated from an unchecked length. Errors are raised as ``insightkit.errors`` exceptions naming
the absolute byte offset and, when known, the key.
"""

cimport cython
from libc.stdint cimport int64_t, uint64_t, uint32_t, int16_t, int32_t, int8_t
from libc.string cimport memcmp, memcpy, memset, memchr
from libc.stdlib cimport malloc, realloc, free, qsort, strtod
from libc.stdio cimport snprintf

from insightkit.memory._model cimport ArrayShape, KeyFacts, KeyFacts15, MemBreakdown, MemoryModel
from insightkit.rdb._crc64 cimport crc64_update
from insightkit.rdb._blobs cimport (
    BE_NOMEM, BlobErr, Stats, _le_at, _lp_entry, _stats_init, walk_intset, walk_listpack, walk_stream_node,
    walk_zipmap, walk_ziplist,
)
from insightkit.rdb._columns cimport (
    LABEL_PAD, TYPE_LABEL_COPY, Buf, LabelTable, _fill_labels, _i32, _i64, _reserve, _u8p,
)
from insightkit.rdb._kinds cimport *
from insightkit.rdb._lengths cimport rdb_len
from insightkit.rdb._lzf cimport LZF_MAX_RATIO, _lzf_check, _lzf_claim_ok, _lzf_head, _lzf_inflate
from insightkit.rdb._scan cimport ScanFmt, _sk_keys
from insightkit.rdb._text cimport _digits, _format_int, _is_canonical_int, _utf8_seq
from insightkit.rdb._tmpl cimport TmplEntry, TmplTable, _Templates, _tmpl_find

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_FromStringAndSize, PyByteArray_Resize
from cpython.ref cimport Py_REFCNT

import numpy as np

from insightkit.errors import RdbChecksumError, RdbFormatError, RdbTruncatedError, RdbVersionError
from insightkit.rdb import kinds as _kinds
from insightkit.rdb._blobs import blob_error_message
from insightkit.rdb._lzf import _lzf_error
from insightkit.rdb.kinds import ENCODING_LABELS, TYPE_NAMES


class _NeedMore(Exception):
    """Internal: the current item continues past the buffered bytes."""


# --- constants --------------------------------------------------------------------------------

cdef enum:
    STREAM_THRESHOLD = 1048576  # plain string values at least this big stream through unbuffered

# The compiled enums of _kinds.pxd must land on their names in kinds.py (the one table of names).
_kinds.check_enum(TYPE_NAMES, {"string": T_STRING, "list": T_LIST, "set": T_SET, "zset": T_ZSET, "hash": T_HASH,
                               "stream": T_STREAM, "array": T_ARRAY, "gcra": T_GCRA}, "TypeLabel")
_kinds.check_enum(_kinds.ENCODING_NAMES, {
    "raw": ENC_RAW, "int": ENC_INT, "embstr": ENC_EMBSTR, "hashtable": ENC_HASHTABLE, "linkedlist": ENC_LINKEDLIST,
    "ziplist": ENC_ZIPLIST, "listpack": ENC_LISTPACK, "listpackex": ENC_LISTPACKEX, "intset": ENC_INTSET,
    "zipmap": ENC_ZIPMAP, "quicklist": ENC_QUICKLIST, "skiplist": ENC_SKIPLIST, "stream": ENC_STREAM,
    "module": ENC_MODULE, "sliced-array": ENC_SLICED_ARRAY, "template-listpack": ENC_TMPL_LP,
    "template-array": ENC_TMPL_ARRAY}, "Encoding")
_kinds.check_enum(_kinds.STATUS_NAMES, {
    "need_more": ST_NEED_MORE, "batch_full": ST_BATCH_FULL, "done": ST_DONE, "segment": ST_SEGMENT,
    "flush": ST_FLUSH, "barrier": ST_BARRIER}, "Status")
_kinds.check_enum(_kinds.KIND_NAMES, {
    "string": KIND_STRING, "list": KIND_LIST, "set": KIND_SET, "zset": KIND_ZSET, "hash": KIND_HASH,
    "stream": KIND_STREAM, "module": KIND_MODULE, "array": KIND_ARRAY, "gcra": KIND_GCRA}, "Kind")
if len(TYPE_NAMES) != N_TYPE_LABELS or len(ENCODING_LABELS) != N_ENCODING_LABELS:
    raise ImportError("insightkit.rdb.kinds and _kinds.pxd disagree on the number of labels")

# The `type` and `encoding` columns are written as Arrow string data row by row (a memcpy of a few
# bytes), which is cheaper than a dictionary take over the batch afterwards.
cdef LabelTable _LABELS  # the built-in `type` / `encoding` labels in fixed-size slots (_columns.pxd)
_fill_labels(&_LABELS)
cdef KeyFacts _ZERO_FACTS
memset(&_ZERO_FACTS, 0, sizeof(KeyFacts))
cdef uint32_t _ENDIAN_PROBE = 1
cdef bint _LITTLE_ENDIAN = (<unsigned char*>&_ENDIAN_PROBE)[0] == 1

# Columns written for every row, kept in one block per batch: (name, dtype, rows beyond batch_size).
BLOCK_COLUMNS = [
    ("num_elements", np.int64, 0), ("largest_element_bytes", np.int64, 0), ("element_bytes", np.int64, 0),
    ("serialized_bytes", np.int64, 0), ("memory_bytes", np.int64, 0), ("key_bytes", np.int64, 0),
    ("overhead_bytes", np.int64, 0), ("value_bytes", np.int64, 0), ("expires_bytes", np.int64, 0),
    ("db", np.int32, 0), ("module", np.int32, 0), ("key_off", np.int32, 1), ("type_off", np.int32, 1),
    ("encoding_off", np.int32, 1), ("key_binary", np.uint8, 0),
]
MAX_FREE_BLOCKS = 4
MAX_SPARE_BUFFERS = 3

_MODULE_CHARSET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

cdef int64_t INT64_MAX_ = 0x7FFFFFFFFFFFFFFF
cdef uint64_t UINT64_MAX_ = 0xFFFFFFFFFFFFFFFF


cdef struct StrRef:
    const unsigned char* ptr   # the bytes when available (raw, or decompressed on request), else NULL
    int64_t length             # byte length of the string form
    bint is_int                # stored as an RDB integer encoding
    int64_t ival
    int64_t lzf                # compressed size when LZF-encoded in the file, else -1


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


cdef int _cmp_id16(const void* a, const void* b) noexcept nogil:
    return memcmp((<const unsigned char**>a)[0], (<const unsigned char**>b)[0], 16)


@cython.final
cdef class Decoder:
    """Incremental decoder; driven by insightkit.rdb.reader (feed/parse/take_batch)."""

    # buffer
    cdef object buf                 # object owning the bytes under `p`
    cdef const unsigned char* p
    cdef int64_t pos, end
    cdef int64_t base_offset        # absolute offset of p[0]
    cdef int64_t item_start         # start (relative) of the item being parsed
    cdef list pending
    cdef list spare_buffers         # earlier merge buffers, reused by _absorb once free
    cdef int64_t pending_bytes
    cdef public int64_t want        # bytes the buffer must hold before parsing resumes
    cdef int64_t skip_remaining     # bytes of a streamed string value still to pass

    # checksum
    cdef uint64_t crc
    cdef int64_t crc_pos            # relative position up to which crc covers
    cdef bint verify
    cdef public object crc_sink     # when set: called with each span to checksum (a worker thread)
    cdef public object crc_wait     # ...and this returns the CRC of everything sunk so far

    # format state
    cdef public int rdb_version
    cdef public str magic
    cdef public bint header_done
    cdef public bint eof_seen
    cdef public bint finished
    cdef public object checksum_state
    cdef public int64_t total_bytes
    cdef public dict aux
    cdef public list functions
    cdef public list modules
    cdef public dict resize_db
    cdef public dict keys_per_db
    cdef public dict expires_per_db
    cdef public dict slot_info
    cdef public list notes
    cdef public object on_header       # callable(decoder) -> MemoryModel
    cdef MemoryModel model
    cdef int ver_major, ver_minor      # Redis-equivalent version of the writer (encodings)
    cdef bint valkey_types             # VALKEY magic: type 22 is HASH_2
    cdef bint embedded_keys            # Valkey >= 8.1, Redis >= 8.2: the key lives in the value object
    cdef public bint newer_than_known  # the header's version is newer than the newest this decoder knows
    cdef bint key_meta_ok              # 0xF3 is KEY_META (REDIS magic, RDB >= 13), else SLOT_IMPORT
    cdef bint gcra29                   # RDB 14: type 29 is the pre-GA GCRA (33 from RDB 15 on)
    cdef ScanFmt scan_fmt
    cdef _Templates templates          # hash templates declared so far (shared with segment decoders)
    cdef const TmplTable* tt
    cdef bint barrier_passed           # segment decoders are idle: the template table may grow

    # pending per-key opcodes
    cdef int db
    cdef int64_t db_count            # keys of `db` not yet added to keys_per_db (no dict op per key)
    cdef int64_t db_expires          # ...and those with a TTL, for expires_per_db
    cdef bint has_expire
    cdef int64_t expire_ms
    cdef bint has_idle
    cdef int64_t idle
    cdef bint has_freq
    cdef int freq
    cdef int64_t key_meta           # KEY_META classes before the key's type byte
    cdef int64_t key_item_start     # absolute offset where the key's first opcode started (-1 none)

    # current key
    cdef KeyFacts facts
    cdef KeyFacts15 facts15         # facts.rdb15 points here for keys with RDB 13-15 facts (_ext())
    cdef Buf key_scratch
    cdef Buf val_scratch
    cdef Buf name_scratch           # the previous field name of a hash template (order check)
    cdef const unsigned char* key_ptr
    cdef const unsigned char* key_buf_ptr  # == key_ptr when the key lies in the input buffer, else NULL
    cdef int64_t key_len
    cdef object cur_key_repr        # key named by truncation errors (set when an item ran short)
    cdef bint has_key_repr          # cur_key_repr is not None (tested without the GIL)
    cdef bint in_key

    # output batch
    cdef public int batch_size
    cdef int _batch_limit           # rows at which the lead's batch is full (<= batch_size; see reader)
    cdef public int n

    # segments (see take_segment): runs of keys the reader has decoded on other threads
    cdef public int64_t segment_room   # most keys the next segment may hold (0: never segment)
    cdef public bint slot_open         # the reader's current segment batch has rows
    cdef public int64_t scan_min_bytes # scan for a new segment only with this much buffered...
    cdef public int64_t segment_min_keys  # ...and hand one over only when it holds this many keys
    cdef int64_t scan_after            # (relative) no scan before this position: the lead decodes there
    cdef bint segmenting               # a segment was handed over: hand over every run from now on
    cdef int64_t seg_start, seg_end, seg_keys, seg_base
    cdef int seg_db
    cdef Buf keydata                   # key column string data (offsets in r_key_off)
    cdef Buf typedata                  # `type` column string data (offsets in r_type_off)
    cdef Buf encdata                   # `encoding` column string data (offsets in r_enc_off)
    cdef bytes row_type_label          # a module key's type name (row_type >= N_TYPE_LABELS)
    cdef public list type_names
    cdef dict module_type_index
    cdef object arrays
    cdef list blocks                   # column blocks of earlier batches, reused when free
    cdef object block_layout           # (name, dtype, extra rows, byte offset) per column of a block
    cdef int64_t block_bytes
    # Raw pointers into the batch's column arrays (kept alive by `arrays`): _key checks the row
    # against rows_cap once instead of a check per store, and the key loop needs no GIL.
    cdef int rows_cap
    cdef int* r_key_off
    cdef unsigned char* r_key_binary
    cdef int64_t* r_expires
    cdef unsigned char* v_expires
    cdef int64_t* r_idle
    cdef unsigned char* v_idle
    cdef int16_t* r_freq
    cdef unsigned char* v_freq
    cdef unsigned char* r_allint
    cdef unsigned char* v_allint
    cdef int64_t* r_volatile
    cdef unsigned char* v_hfe
    cdef int64_t* r_minfield
    cdef unsigned char* v_minfield
    cdef int64_t* r_s_entries
    cdef int64_t* r_s_groups
    cdef int64_t* r_s_consumers
    cdef int64_t* r_s_pending
    cdef unsigned char* v_stream
    cdef int* r_db
    cdef int* r_module
    cdef int64_t* r_num
    cdef int64_t* r_largest
    cdef int64_t* r_elem_bytes
    cdef int64_t* r_serialized
    cdef int64_t* r_mem
    cdef int64_t* r_mem_key
    cdef int64_t* r_mem_over
    cdef int64_t* r_mem_value
    cdef int64_t* r_mem_expires
    cdef int* r_type_off
    cdef int* r_enc_off

    # per-row extras for the current key
    cdef int row_type, row_encoding, row_module
    cdef int64_t row_largest, row_elem_bytes
    cdef int row_allint                 # -1 null, 0/1
    cdef bint row_hfe
    cdef int64_t row_volatile, row_minfield
    cdef bint row_stream
    cdef int64_t s_entries, s_groups, s_consumers, s_pending

    def __init__(self, int batch_size=65536, bint verify_checksum=True, object on_header=None):
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size
        self._batch_limit = batch_size
        self.verify = verify_checksum
        self.on_header = on_header
        self.crc_sink = None
        self.crc_wait = None
        self.buf = b""
        self.p = <const unsigned char*>b""
        self.pos = self.end = 0
        self.base_offset = 0
        self.item_start = 0
        self.pending = []
        self.pending_bytes = 0
        self.want = 0
        self.skip_remaining = 0
        self.crc = 0
        self.crc_pos = 0
        self.rdb_version = 0
        self.magic = ""
        self.header_done = False
        self.eof_seen = False
        self.finished = False
        self.checksum_state = None
        self.total_bytes = 0
        self.aux = {}
        self.functions = []
        self.modules = []
        self.resize_db = {}
        self.keys_per_db = {}
        self.expires_per_db = {}
        self.slot_info = {}
        self.notes = []
        self.model = None
        self.ver_major = 0
        self.ver_minor = 0
        self.valkey_types = False
        self.newer_than_known = False
        self.key_meta_ok = False
        self.gcra29 = False
        self.templates = _Templates()
        self.tt = &self.templates.t
        self.barrier_passed = False
        self._set_scan_fmt()
        self.db = 0
        self._clear_key_opcodes()
        self.type_names = list(TYPE_NAMES)
        self.module_type_index = {}
        self.cur_key_repr = None
        self.has_key_repr = False
        self.in_key = False
        self.segment_room = 0
        self.slot_open = False
        self.scan_min_bytes = 256 * 1024
        self.segment_min_keys = 2048
        self.scan_after = 0
        self._new_batch()

    def __dealloc__(self):
        free(self.key_scratch.data)
        free(self.val_scratch.data)
        free(self.name_scratch.data)
        free(self.keydata.data)
        free(self.typedata.data)
        free(self.encdata.data)

    # ----------------------------------------------------------------------------------------
    # buffer management

    def feed(self, chunk):
        """Queue a chunk of the stream. Read-only buffers (bytes, a read-only mmap) are kept by
        reference; writable ones are copied, since a producer may reuse its receive buffer."""
        cdef const unsigned char[::1] view
        if self.finished:
            return
        if not isinstance(chunk, bytes):
            mv = memoryview(chunk)
            if not mv.readonly:
                chunk = mv.tobytes()
            else:
                chunk = mv.cast("B") if mv.format != "B" or mv.ndim != 1 else mv
        view = chunk
        if view.shape[0] == 0:
            return
        self.pending.append(view)
        self.pending_bytes += view.shape[0]

    def ready(self):
        """True when enough bytes are queued for parsing to make progress."""
        return (self.end - self.pos) + self.pending_bytes >= self.want and self.pending_bytes + (self.end - self.pos) > 0

    cdef int _commit_crc(self) except -1:
        """Checksum the bytes parsed since the last call: in large spans, on another thread if asked."""
        if self.pos > self.crc_pos:
            if not self.verify:
                pass
            elif self.crc_sink is not None:
                self.crc_sink(memoryview(self.buf)[self.crc_pos:self.pos])
            else:
                self.crc = crc64_update(self.crc, self.p + self.crc_pos, <size_t>(self.pos - self.crc_pos))
            # never moved back: an item restarted after _NeedMore (the EOF marker, whose checksum
            # trailer was cut off) must not have its bytes checksummed twice
            self.crc_pos = self.pos
        return 0

    cdef int _absorb(self) except -1:
        """Make pending chunks part of the contiguous buffer (zero-copy when the buffer is empty)."""
        cdef int64_t left, total, off
        cdef bytearray merged
        cdef const unsigned char[::1] v
        cdef unsigned char* dst
        if not self.pending:
            return 0
        self._commit_crc()
        left = self.end - self.pos
        self.base_offset += self.pos
        self.scan_after = self.scan_after - self.pos if self.scan_after > self.pos else 0
        if left == 0 and len(self.pending) == 1:
            v = self.pending[0]
            self.buf = v
            self.p = &v[0]
            self.end = v.shape[0]
        else:
            total = left + self.pending_bytes
            merged = self._merge_buffer(total)  # uninitialised: filled just below
            dst = <unsigned char*>PyByteArray_AS_STRING(merged)
            if left:
                memcpy(dst, self.p + self.pos, <size_t>left)
            off = left
            for v in self.pending:
                memcpy(dst + off, &v[0], <size_t>v.shape[0])
                off += v.shape[0]
            self.buf = merged
            self.p = dst
            self.end = total
        self.crc_pos = self.crc_pos - self.pos if self.crc_pos > self.pos else 0
        self.pos = 0
        self.item_start = 0
        self.pending = []
        self.pending_bytes = 0
        return 0

    cdef bytearray _merge_buffer(self, int64_t total):
        """A bytearray of `total` bytes for _absorb: one of the last few merge buffers when nothing
        refers to it any more (no segment, checksum span or row of it alive), else a new one. Fresh
        megabytes cost a page fault per 4 KB written."""
        cdef bytearray buf
        cdef Py_ssize_t i
        if self.spare_buffers is None:
            self.spare_buffers = []
        for i in range(len(self.spare_buffers)):
            buf = self.spare_buffers[i]
            if Py_REFCNT(buf) == 2:  # the list and `buf`: no memoryview of it exists
                if PyByteArray_Resize(buf, total) < 0:
                    raise MemoryError()
                return buf
        buf = PyByteArray_FromStringAndSize(NULL, total)
        if len(self.spare_buffers) < MAX_SPARE_BUFFERS:
            self.spare_buffers.append(buf)
        return buf

    cdef int _short(self, int64_t n) except -1 nogil:
        """The item needs n more bytes than are buffered: ask for at least twice the item so far."""
        cdef int64_t have = self.end - self.item_start
        cdef int64_t need = (self.pos - self.item_start) + n
        self.want = need if need > 2 * have else 2 * have
        if self.want < 4096:
            self.want = 4096 if need < 4096 else need
        with gil:
            raise _NeedMore()

    cdef inline int _need(self, int64_t n) except -1 nogil:
        if n < 0 or n > self.end - self.pos:
            return self._need_slow(n)  # out of line: keeps this one small enough to inline
        return 0

    cdef int _need_slow(self, int64_t n) except -1 nogil:
        if n < 0:
            with gil:
                self._fail("negative length")
        self._short(n - (self.end - self.pos))
        return -1

    cdef int64_t _abs(self) noexcept nogil:
        return self.base_offset + self.pos

    cdef int _fail(self, str message, object cls=None) except -1:
        key = self._key_repr() if self.in_key else None
        raise (cls or RdbFormatError)(message, offset=self.base_offset + self.pos, key=key)

    # ----------------------------------------------------------------------------------------
    # primitives

    cdef inline int _u8(self) except -1 nogil:
        self._need(1)
        self.pos += 1
        return self.p[self.pos - 1]

    cdef inline uint64_t _le(self, int nbytes) except? 0xFFFFFFFFFFFFFFFF nogil:
        cdef uint64_t v = 0
        cdef int i
        self._need(nbytes)
        for i in range(nbytes - 1, -1, -1):
            v = (v << 8) | self.p[self.pos + i]
        self.pos += nbytes
        return v

    cdef inline uint64_t _len(self, bint* encoded) except? 0xFFFFFFFFFFFFFFFF nogil:
        """An RDB length; sets *encoded and returns the special-encoding number for 11xxxxxx."""
        cdef unsigned char b
        if self.pos < self.end:
            b = self.p[self.pos]
            if b < 0x40:  # 00xxxxxx: most lengths in a keyspace of small keys (inlined)
                encoded[0] = False
                self.pos += 1
                return b
            if b >= 0xC0:  # 11xxxxxx: an integer- or LZF-encoded string
                encoded[0] = True
                self.pos += 1
                return b & 0x3F
        return self._len_slow(encoded)

    cdef uint64_t _len_slow(self, bint* encoded) except? 0xFFFFFFFFFFFFFFFF nogil:
        cdef uint64_t v
        cdef int64_t q = self.pos
        cdef int st = rdb_len(self.p, &q, self.end, &v, encoded)  # the scanner's read too
        if st == SK_OK:
            self.pos = q
            return v
        if st == SK_SHORT:
            self._need(<int64_t>v)  # raises: v bytes are not all buffered
        with gil:
            self._fail(f"invalid length byte 0x{self.p[self.pos]:02x}")
        return 0

    cdef int _skip_len(self) except -1 nogil:
        """A 64-bit length-encoded number whose value does not matter (ids, counters; may be -1)."""
        cdef bint enc
        self._len(&enc)
        if enc:
            with gil:
                self._fail("expected a number, found a string encoding")
        return 0

    cdef inline int64_t _plain_len(self) except -1 nogil:
        """A length that must not be a special encoding, bounded to int64."""
        cdef bint enc
        cdef uint64_t v = self._len(&enc)
        if enc or v > <uint64_t>INT64_MAX_:
            return self._bad_plain_len(enc, v)  # out of line: keeps this one small enough to inline
        return <int64_t>v

    cdef int64_t _bad_plain_len(self, bint enc, uint64_t v) except -1 nogil:
        if enc:
            with gil:
                self._fail("expected a length, found a string encoding")
        with gil:
            self._fail(f"length {v} out of range")
        return -1

    cdef int _lzf(self, const unsigned char* src, int64_t clen, unsigned char* dst, int64_t ulen) except -1 nogil:
        """Decompress (dst != NULL) or only validate (dst == NULL) an LZF block of exactly ulen bytes."""
        cdef int64_t r = _lzf_inflate(src, clen, dst, ulen)
        if r != ulen:
            with gil:
                self._fail(_lzf_error(r, ulen))
        return 0

    cdef int _lzf_claim(self, int64_t clen, int64_t ulen) except -1 nogil:
        """Before anything is allocated for the LZF block at pos: its claimed length is one clen bytes
        can give (LZF_MAX_RATIO), its bytes are buffered, and walked without output it comes to
        exactly ulen bytes. Inflating it then takes ulen bytes, no more: a lie costs nothing."""
        if not _lzf_claim_ok(clen, ulen):
            with gil:
                self._fail(f"LZF header claims {ulen} bytes from {clen} compressed bytes "
                           f"(LZF expands at most {LZF_MAX_RATIO} times)")
        self._need(clen)
        if _lzf_check(self.p + self.pos, clen, ulen):
            self._lzf(self.p + self.pos, clen, NULL, ulen)  # raises, saying why
        return 0

    cdef int _lzf_inflate(self, Buf* scratch, int64_t clen, int64_t ulen) except -1 nogil:
        """Inflate the LZF block at pos (after _lzf_claim) into scratch. A scratch buffer grown past
        64 MiB for an earlier block is given back first rather than kept for the decoder's life."""
        if scratch.cap > (64 << 20) and ulen + 1 <= (64 << 20):
            free(scratch.data)
            scratch.data = NULL
            scratch.cap = 0
        scratch.size = 0
        _reserve(scratch, ulen + 1)
        self._lzf(self.p + self.pos, clen, scratch.data, ulen)
        return 0

    cdef int _str(self, StrRef* s, int want) except -1 nogil:
        """Read a string. want: 0 = length/int-ness only, 1 = bytes into val scratch, 2 = key scratch."""
        cdef bint enc
        cdef uint64_t v = self._len(&enc)
        cdef int64_t clen, ulen
        cdef Buf* scratch
        s.is_int = False
        s.lzf = -1
        s.ptr = NULL
        if not enc:
            if v > <uint64_t>INT64_MAX_:
                with gil:
                    self._fail(f"string length {v} out of range")
            self._need(<int64_t>v)
            s.ptr = self.p + self.pos
            s.length = <int64_t>v
            self.pos += <int64_t>v
            return 0
        if v == 0:
            self._need(1)
            s.ival = <int8_t>self.p[self.pos]
            self.pos += 1
        elif v == 1:
            s.ival = <int16_t>self._le(2)
        elif v == 2:
            s.ival = <int32_t>self._le(4)
        elif v == 3:
            if self.pos + 2 <= self.end and self.p[self.pos] < 0x40 and self.p[self.pos + 1] < 0x40:
                clen = self.p[self.pos]  # both lengths 6-bit (small values): read inline
                ulen = self.p[self.pos + 1]
                self.pos += 2
            else:
                clen = self._plain_len()
                ulen = self._plain_len()
            self._lzf_claim(clen, ulen)
            s.lzf = clen
            s.length = ulen
            if want:
                scratch = &self.key_scratch if want == 2 else &self.val_scratch
                self._lzf_inflate(scratch, clen, ulen)
                s.ptr = scratch.data
            self.pos += clen
            return 0
        else:
            with gil:
                self._fail(f"unknown string encoding {v}")
        s.is_int = True
        s.length = _digits(s.ival)
        return 0

    cdef int _skip_str(self) except -1 nogil:
        cdef StrRef s
        self._str(&s, 0)
        return 0

    # ----------------------------------------------------------------------------------------
    # batches

    cdef _new_batch(self):
        cdef int b = self.batch_size
        block = self._free_block()
        a = {name: block[off:off + (b + extra) * np.dtype(dt).itemsize].view(dt)
             for name, dt, extra, off in self.block_layout}
        a.update({
            "expires_at": np.empty(b, np.int64), "expires_at_valid": np.zeros(b, np.uint8),
            "lru_idle_s": np.empty(b, np.int64), "lru_idle_s_valid": np.zeros(b, np.uint8),
            "lfu_freq": np.empty(b, np.int16), "lfu_freq_valid": np.zeros(b, np.uint8),
            "all_integers": np.empty(b, np.uint8), "all_integers_valid": np.zeros(b, np.uint8),
            "volatile_fields": np.empty(b, np.int64), "hfe_valid": np.zeros(b, np.uint8),
            "min_field_expires_at": np.empty(b, np.int64), "min_field_valid": np.zeros(b, np.uint8),
            "stream_entries": np.empty(b, np.int64), "stream_groups": np.empty(b, np.int64),
            "stream_consumers": np.empty(b, np.int64), "stream_pending": np.empty(b, np.int64),
            "stream_valid": np.zeros(b, np.uint8),
        })
        a["key_off"][0] = 0
        a["type_off"][0] = 0
        a["encoding_off"][0] = 0
        self.arrays = a
        self.rows_cap = b
        self.r_db = _i32(a["db"])
        self.r_module = _i32(a["module"]); self.r_key_off = _i32(a["key_off"])
        self.r_type_off = _i32(a["type_off"]); self.r_enc_off = _i32(a["encoding_off"])
        self.r_num = _i64(a["num_elements"]); self.r_largest = _i64(a["largest_element_bytes"])
        self.r_elem_bytes = _i64(a["element_bytes"]); self.r_serialized = _i64(a["serialized_bytes"])
        self.r_mem = _i64(a["memory_bytes"]); self.r_mem_key = _i64(a["key_bytes"])
        self.r_mem_over = _i64(a["overhead_bytes"]); self.r_mem_value = _i64(a["value_bytes"])
        self.r_mem_expires = _i64(a["expires_bytes"])
        self.r_expires = _i64(a["expires_at"]); self.v_expires = _u8p(a["expires_at_valid"])
        self.r_idle = _i64(a["lru_idle_s"]); self.v_idle = _u8p(a["lru_idle_s_valid"])
        cdef int16_t[::1] freq = a["lfu_freq"]
        self.r_freq = &freq[0]; self.v_freq = _u8p(a["lfu_freq_valid"])
        self.r_allint = _u8p(a["all_integers"]); self.v_allint = _u8p(a["all_integers_valid"])
        self.r_volatile = _i64(a["volatile_fields"]); self.v_hfe = _u8p(a["hfe_valid"])
        self.r_minfield = _i64(a["min_field_expires_at"]); self.v_minfield = _u8p(a["min_field_valid"])
        self.r_s_entries = _i64(a["stream_entries"]); self.r_s_groups = _i64(a["stream_groups"])
        self.r_s_consumers = _i64(a["stream_consumers"]); self.r_s_pending = _i64(a["stream_pending"])
        self.v_stream = _u8p(a["stream_valid"]); self.r_key_binary = _u8p(a["key_binary"])
        # the string buffers keep their capacity from batch to batch
        self.keydata.size = 0
        self.typedata.size = 0
        self.encdata.size = 0
        self.n = 0

    cdef object _free_block(self):
        """Bytes for the columns written for every row: one block per batch, reused once nothing refers
        to the batch any more (fresh memory costs a page fault per 4 KB written: ~1,500 per batch)."""
        cdef int b = self.batch_size
        cdef int64_t off = 0
        if self.block_layout is None:
            layout = []
            for name, dt, extra in BLOCK_COLUMNS:
                layout.append((name, dt, extra, off))
                off += ((b + extra) * np.dtype(dt).itemsize + 63) // 64 * 64
            self.block_layout = layout
            self.block_bytes = off
            self.blocks = []
        cdef object block
        cdef Py_ssize_t i
        for i in range(len(self.blocks)):
            block = self.blocks[i]
            # referenced by the list and `block` only: no array, batch or table made from it is alive
            if Py_REFCNT(block) == 2:
                return block
        block = np.empty(self.block_bytes, np.uint8)
        if len(self.blocks) < MAX_FREE_BLOCKS:
            self.blocks.append(block)
        return block

    @property
    def batch_limit(self):
        """Rows at which the batch is full (parse() returns 1): batch_size unless the reader, cutting
        batches where a single decoder would (segments having filled part of one), sets fewer."""
        return self._batch_limit

    @batch_limit.setter
    def batch_limit(self, int rows):
        if rows < 1 or rows > self.batch_size:
            raise ValueError(f"batch_limit must be 1..{self.batch_size}, got {rows}")
        self._batch_limit = rows

    def take_batch(self):
        """Hand over the rows decoded so far: (n, dict of numpy arrays, key bytes) and start anew."""
        n = self.n
        arrays = self.arrays
        keys = bytes((<char*>self.keydata.data)[:self.keydata.size]) if self.keydata.size else b""
        arrays["type_data"] = np.frombuffer(
            (<char*>self.typedata.data)[:self.typedata.size] if self.typedata.size else b"", np.uint8)
        arrays["encoding_data"] = np.frombuffer(
            (<char*>self.encdata.data)[:self.encdata.size] if self.encdata.size else b"", np.uint8)
        self._new_batch()
        return n, arrays, keys

    cdef int _append_key(self) except -1 nogil:
        """Append the current key to the batch's key data, escaping it when it is not UTF-8."""
        cdef const unsigned char* s = self.key_ptr
        cdef int64_t n = self.key_len, i = 0
        cdef int k
        cdef bint ascii = True
        cdef Buf* out = &self.keydata
        cdef unsigned char c
        cdef const char* hexd = b"0123456789abcdef"
        cdef unsigned char acc = 0
        cdef uint64_t w0, w1
        # A short key inside the input buffer with 16 readable bytes from its start: test and copy it
        # as two 8-byte words (bytes past the key are masked off, and never counted in out.size).
        cdef bint word16 = (_LITTLE_ENDIAN and n <= 16 and s == self.key_buf_ptr
                            and (s - self.p) + 16 <= self.end)
        if word16:
            memcpy(&w0, s, 8)
            memcpy(&w1, s + 8, 8)
            if n < 8:
                w0 &= (<uint64_t>1 << (8 * n)) - 1
                w1 = 0
            elif n < 16:
                w1 &= (<uint64_t>1 << (8 * (n - 8))) - 1
            ascii = ((w0 | w1) & <uint64_t>0x8080808080808080) == 0
        else:
            for i in range(n):  # no early exit: the compiler vectorises this
                acc |= s[i]
            ascii = acc < 0x80
        if ascii and word16:
            if out.size + 16 > out.cap:
                _reserve(out, 16)
            memcpy(out.data + out.size, s, 16)
            out.size += n
            if out.size > 0x7FFFFFFF:
                with gil:
                    self._fail("key data of one batch exceeds 2 GiB; use a smaller batch_size")
            self.r_key_binary[self.n] = 0
            self.r_key_off[self.n + 1] = <int>out.size
            return 0
        if not ascii:
            i = 0
            while i < n:
                k = _utf8_seq(s + i, n - i)
                if k == 0:
                    break
                i += k
            ascii = i >= n
        if ascii:
            if out.size + n > out.cap:
                _reserve(out, n)
            memcpy(out.data + out.size, s, <size_t>n)
            out.size += n
            self.r_key_binary[self.n] = 0
        else:
            _reserve(out, 4 * n)
            i = 0
            while i < n:
                c = s[i]
                k = _utf8_seq(s + i, n - i)
                if k == 0:
                    out.data[out.size] = 92
                    out.data[out.size + 1] = 120
                    out.data[out.size + 2] = hexd[c >> 4]
                    out.data[out.size + 3] = hexd[c & 15]
                    out.size += 4
                    i += 1
                elif c == 92:
                    out.data[out.size] = 92
                    out.data[out.size + 1] = 92
                    out.size += 2
                    i += 1
                else:
                    memcpy(out.data + out.size, s + i, <size_t>k)
                    out.size += k
                    i += k
            self.r_key_binary[self.n] = 1
        if out.size > 0x7FFFFFFF:
            with gil:
                self._fail("key data of one batch exceeds 2 GiB; use a smaller batch_size")
        self.r_key_off[self.n + 1] = <int>out.size
        return 0

    cdef inline int _put_label(self, Buf* out, int* offs, int row, const char* s, int64_t n) except -1 nogil:
        if out.size + n > out.cap:
            _reserve(out, n)
        memcpy(out.data + out.size, s, <size_t>n)
        out.size += n
        return self._end_label(out, offs, row)

    cdef inline int _put_padded_label(self, Buf* out, int* offs, int row, const char* s, int n,
                                      int copy) except -1 nogil:
        """A built-in label from a LABEL_PAD-byte table slot (n < copy <= LABEL_PAD): one fixed-size copy."""
        if out.size + LABEL_PAD > out.cap:
            _reserve(out, LABEL_PAD)
        memcpy(out.data + out.size, s, <size_t>copy)
        out.size += n
        return self._end_label(out, offs, row)

    cdef inline int _end_label(self, Buf* out, int* offs, int row) except -1 nogil:
        if out.size > 0x7FFFFFFF:
            with gil:
                self._fail("label data of one batch exceeds 2 GiB; use a smaller batch_size")
        offs[row + 1] = <int>out.size
        return 0

    cdef object _key_repr(self):
        cdef bytes raw = (<const char*>self.key_ptr)[:self.key_len] if self.key_len else b""
        return raw.decode("utf-8", "backslashreplace")

    # ----------------------------------------------------------------------------------------
    # the main loop

    def parse(self):
        """Parse buffered items; returns 0 (needs more bytes), 1 (batch full), 2 (RDB complete),
        3 (a segment is ready: take_segment()) or 4 (close the open segment batch, then parse on)."""
        self._absorb()
        self.want = 0
        try:  # one try for the whole run of items, not one per item
            return self._items()
        except _NeedMore:
            self.cur_key_repr = self._key_repr() if self.in_key else None
            self.has_key_repr = self.cur_key_repr is not None
            self.in_key = False
            self.pos = self.item_start
            self._commit_crc()
            return ST_NEED_MORE

    cdef int _items(self) except -1:
        """Parse items until the batch is full, the RDB ends or an item runs short (_NeedMore)."""
        cdef int st
        while True:
            if self.finished:
                return ST_DONE
            if self.skip_remaining:
                if self.skip_remaining > self.end - self.pos:
                    self.skip_remaining -= self.end - self.pos
                    self.pos = self.end
                    self.want = 1
                    self._commit_crc()
                    return ST_NEED_MORE
                self.pos += self.skip_remaining
                self.skip_remaining = 0
            if self.n >= self._batch_limit:
                self._commit_crc()
                return ST_BATCH_FULL
            self.item_start = self.pos
            if self.segment_room > 0 and self.pos >= self.scan_after and self.key_item_start < 0 \
                    and self.model is not None:
                st = self._try_segment()
                if st >= 0:
                    return st
            if self.slot_open and self.pos < self.end and self._key_item(self.p[self.pos]):
                return ST_FLUSH  # rows decoded here come after the reader's open segment batch
            st = self._item()
            if st:  # ST_DONE or ST_BARRIER (items return 0 otherwise)
                return st

    cdef inline bint _key_item(self, int t) noexcept nogil:
        """t starts a key or one of the opcodes that belong to the next key."""
        return (t < OP_RAM_LRU or (t > OP_RAM_LRU and t < OP_HASH_TEMPLATE) or t == OP_EXPIRETIME_MS
                or t == OP_EXPIRETIME or t == OP_IDLE or t == OP_FREQ
                or (t == OP_KEY_META and self.key_meta_ok))

    cdef void _set_scan_fmt(self) noexcept:
        self.scan_fmt.valkey = self.valkey_types
        self.scan_fmt.key_meta = self.key_meta_ok
        self.scan_fmt.gcra29 = self.gcra29
        self.scan_fmt.tmpl = self.tt

    def pass_barrier(self):
        """The reader has waited for every segment handed out so far (after parse() returned 5): the
        hash template that stopped parsing may now be added to the table the segment decoders read."""
        self.barrier_passed = True

    def hash_templates(self):
        """The hash templates declared in the file (RDB 15): {"count", "fields", "bytes"}, or {}."""
        if self.tt.n == 0:
            return {}
        return {"count": self.tt.n, "fields": self.tt.fields_total, "bytes": self.tt.alloc_total}

    cdef int _try_segment(self) except -2:
        """At an item boundary with no pending key opcodes: delimit a run of whole keys for another
        thread. Returns a parse status, or -1 to decode the next item here."""
        cdef int64_t seg_end, nkeys, nexpires, have = self.end - self.pos
        cdef int st
        if not self.segmenting and have < self.scan_min_bytes:
            return -1
        with nogil:
            st = _sk_keys(self.p, self.pos, self.end, self.segment_room, &self.scan_fmt,
                          &seg_end, &nkeys, &nexpires)
        # once the stream is being handed over, every run goes (rather than decode keys here and cut
        # the open batch short); before, only runs worth a thread hand-over
        if nkeys > 0 and (self.segmenting or nkeys >= self.segment_min_keys
                          or seg_end - self.pos >= self.scan_min_bytes):
            if self.n > 0:  # rows decoded here go first, as a batch of their own
                self._commit_crc()
                return ST_BATCH_FULL
            self.seg_start = self.pos
            self.seg_end = seg_end
            self.seg_keys = nkeys
            self.seg_base = self.base_offset + self.pos
            self.seg_db = self.db
            self.db_count += nkeys
            self.db_expires += nexpires
            self.pos = seg_end
            self.scan_after = seg_end
            self.segmenting = True
            return ST_SEGMENT
        if nkeys == 0 and st == SK_SHORT and have < STREAM_THRESHOLD:
            # the next key is incomplete: wait for more bytes (as _short would) instead of decoding it
            # here, which would cut the open segment batch short
            self.want = 2 * have if 2 * have > 4096 else 4096
            self._commit_crc()
            return ST_NEED_MORE
        # decode these keys (too few to hand over) or this item (not for a segment) here
        self.scan_after = seg_end if nkeys > 0 else self.pos + 1
        return -1

    def take_segment(self):
        """The segment just delimited (after parse() returned 3): (bytes, absolute offset, db, keys).
        Its keys are already counted in keys_per_db/expires_per_db."""
        view = memoryview(self.buf)[self.seg_start:self.seg_end]
        return view, self.seg_base, self.seg_db, self.seg_keys

    def segment_decoder(self):
        """A decoder for this stream's segments (same writer, memory model and batch size)."""
        cdef Decoder d = Decoder(self.batch_size, False, None)
        d.rdb_version = self.rdb_version
        d.magic = self.magic
        d.header_done = True
        d.model = self.model
        d.ver_major = self.ver_major
        d.ver_minor = self.ver_minor
        d.valkey_types = self.valkey_types
        d.embedded_keys = self.embedded_keys
        d.key_meta_ok = self.key_meta_ok
        d.gcra29 = self.gcra29
        d.templates = self.templates  # read only while segments run (see ST_BARRIER)
        d.tt = &d.templates.t
        d._set_scan_fmt()
        return d

    def decode_segment(self, segment, int64_t base_offset, int db, int64_t nkeys):
        """Decode a segment from take_segment() into this decoder's batch (without the GIL); raises
        what the lead decoder would have raised for the same bytes."""
        cdef const unsigned char[::1] view = segment
        cdef int64_t rows = self.n
        cdef int st
        if self.model is None or nkeys < 1 or view.shape[0] == 0 or self.n + nkeys > self.batch_size:
            raise RdbFormatError("internal error: segment does not fit the batch", offset=base_offset)
        self.buf = segment
        self.p = &view[0]
        self.pos = 0
        self.end = view.shape[0]
        self.base_offset = base_offset
        self.db = db
        self._clear_key_opcodes()
        try:
            with nogil:
                st = self._segment_items()
        except _NeedMore:
            raise RdbFormatError("internal error: a key runs past its segment",
                                 offset=self.base_offset + self.item_start) from None
        finally:
            self.buf = None
            self.p = <const unsigned char*>b""
            self.end = self.pos = 0
        if self.n - rows != nkeys:
            raise RdbFormatError(f"internal error: segment of {nkeys} keys decoded as {self.n - rows}",
                                 offset=base_offset)

    cdef int _key_prefix(self, int t) except -1 nogil:
        """Opcode ``t`` when it is one of the key's prefixes (expiry, idle time, LFU counter): read it
        into the key being assembled and return 1; 0 for any other opcode."""
        if t == OP_EXPIRETIME_MS:
            self._mark_key_start()
            self.expire_ms = <int64_t>self._le(8)
            self.has_expire = True
        elif t == OP_EXPIRETIME:
            self._mark_key_start()
            self.expire_ms = (<int64_t><int32_t>self._le(4)) * 1000
            self.has_expire = True
        elif t == OP_IDLE:
            self._mark_key_start()
            self.idle = self._plain_len()
            self.has_idle = True
        elif t == OP_FREQ:
            self._mark_key_start()
            self.freq = self._u8()
            self.has_freq = True
        elif t == OP_KEY_META and self.key_meta_ok:
            self._mark_key_start()
            if self.key_meta == 0:
                memset(&self.facts15, 0, sizeof(KeyFacts15))
            self.key_meta += self._key_meta_opcode()
            self.facts15.key_meta_classes = self.key_meta
        else:
            return 0
        return 1

    cdef int64_t _key_meta_opcode(self) except -1 nogil:
        """KEY_META (RDB >= 13): module classes' metadata for the next key, each a 4-byte class spec
        and a module value (opcodes up to EOF); skipped, counted."""
        cdef int64_t at = self.pos, n = self._plain_len(), i
        if n > KEY_META_MAX_CLASSES:
            self.pos = at
            with gil:
                self._fail(f"key metadata for {n} classes (at most {KEY_META_MAX_CLASSES})")
        for i in range(n):
            self._need(4)
            self.pos += 4
            self._skip_module_ops()
        return n

    cdef int _skip_module_ops(self) except -1 nogil:
        """A module value's opcodes up to EOF (nogil: the segment decoders and the lead decoder alike)."""
        cdef int64_t op, at
        while True:
            at = self.pos
            op = self._plain_len()
            if op == 0:
                return 0
            if op == 1 or op == 2:
                self._plain_len()
            elif op == 3:
                self._need(4)
                self.pos += 4
            elif op == 4:
                self._need(8)
                self.pos += 8
            elif op == 5:
                self._skip_str()
            else:
                self.pos = at
                with gil:
                    self._fail(f"unknown module value opcode {op}")

    cdef int _segment_items(self) except -1 nogil:
        cdef int t
        while self.pos < self.end:
            self.item_start = self.pos
            t = self._u8()
            if self._key_prefix(t):
                pass
            elif self.n >= self.batch_size or not self._key_item(t):
                with gil:
                    self._fail(f"internal error: item {t} in a segment")
            else:
                self._key(t)
        if self.key_item_start >= 0:
            with gil:
                self._fail("internal error: a segment ends inside a key")
        return 0

    def at_stream_end(self):
        """The source is exhausted: raise if the RDB did not end properly."""
        if self.finished:
            return
        self._absorb()
        offset = self.base_offset + self.end
        if self.skip_remaining:
            raise RdbTruncatedError(
                f"stream ended {self.skip_remaining} bytes before the end of a string value",
                offset=offset, key=self.cur_key_repr)
        if not self.header_done and self.end < 9:
            raise RdbTruncatedError("stream ended inside the RDB header", offset=offset)
        raise RdbTruncatedError("stream ended before the RDB's EOF marker", offset=offset,
                                key=self.cur_key_repr)

    def leftover(self):
        """Bytes buffered after the RDB's end (e.g. an AOF tail after an RDB preamble)."""
        return bytes(self.p[self.pos:self.end]) if self.end > self.pos else b""

    cdef int _item(self) except -1:
        cdef int t
        cdef bint enc
        cdef int64_t a, b
        cdef StrRef k, v
        cdef bytes kb
        if not self.header_done:
            return self._header()
        t = self._u8()
        if t == OP_AUX:
            self._str(&k, 1)
            kb = self._strbytes(&k)
            self._str(&v, 1)
            self.aux[kb.decode("utf-8", "backslashreplace")] = self._strtext(&v)
            return 0
        if self.model is None:
            self._choose_model()
        if t < OP_RAM_LRU or (t > OP_RAM_LRU and t < OP_HASH_TEMPLATE):
            return self._key(t)
        if self._key_prefix(t):
            pass
        elif t == OP_HASH_TEMPLATE:
            if self.key_item_start >= 0:
                self.pos -= 1
                self._fail("hash template declared between a key's opcodes and its type byte")
            if self.segmenting and not self.barrier_passed:
                self.pos -= 1  # segment decoders read the table: wait until they are idle
                return ST_BARRIER
            self._hash_template()
            self.barrier_passed = False
        elif t == OP_SELECTDB:
            a = self._plain_len()
            if a > 0x7FFFFFFF:
                self._fail(f"database number {a} out of range")
            self._flush_db_count()
            self.db = <int>a
        elif t == OP_RESIZEDB:
            a = self._plain_len()
            b = self._plain_len()
            self.resize_db[self.db] = {"keys": a, "expires": b}
        elif t == OP_SLOT_INFO:
            a = self._plain_len()
            b = self._plain_len()
            self._plain_len()
            self.slot_info[a] = b
        elif t == OP_SLOT_IMPORT:
            self._skip_str()
            a = self._plain_len()
            while a > 0:
                self._plain_len()
                self._plain_len()
                a -= 1
        elif t == OP_MODULE_AUX:
            self._module_aux()
        elif t == OP_FUNCTION2:
            self._str(&v, 1)
            self._add_function(self._strbytes(&v))
        elif t == OP_FUNCTION_PRE_GA:
            self._function_pre_ga()
        elif t == OP_RAM_LRU:
            self._plain_len()
        elif t == OP_EOF:
            return self._eof()
        else:
            self.pos -= 1
            self._fail(f"unknown opcode or type byte {t}{self._newer_note()}")
        return 0

    cdef str _newer_note(self):
        if not self.newer_than_known:
            return ""
        return (f" (the file is RDB {self.rdb_version}, newer than RDB "
                f"{NEWEST_VALKEY_RDB if self.magic == 'VALKEY' else NEWEST_RDB}, the newest this decoder knows)")

    cdef void _mark_key_start(self) noexcept nogil:
        if self.key_item_start < 0:
            self.key_item_start = self.base_offset + self.item_start

    cdef void _clear_key_opcodes(self) noexcept nogil:
        self.has_expire = False
        self.has_idle = False
        self.has_freq = False
        self.key_meta = 0
        self.key_item_start = -1

    cdef bytes _strbytes(self, StrRef* s):
        if s.is_int:
            return str(s.ival).encode()
        return (<const char*>s.ptr)[:s.length] if s.length else b""

    cdef str _strtext(self, StrRef* s):
        return self._strbytes(s).decode("utf-8", "backslashreplace")

    cdef int _header(self) except -1:
        cdef bytes head
        self._need(9)
        head = (<const char*>self.p)[self.pos:self.pos + 9]
        if head[:5] == b"REDIS" and head[5:9].isdigit():
            self.magic = "REDIS"
            self.rdb_version = int(head[5:9])
            if self.rdb_version < 1:
                raise RdbVersionError(f"unsupported RDB version {self.rdb_version}", offset=5)
            self.newer_than_known = self.rdb_version > NEWEST_RDB
            self.key_meta_ok = self.rdb_version >= 13
            self.gcra29 = self.rdb_version == 14
        elif head[:6] == b"VALKEY" and head[6:9].isdigit():
            self.magic = "VALKEY"
            self.rdb_version = int(head[6:9])
            if self.rdb_version < NEWEST_VALKEY_RDB:  # below 80: Valkey keeps those for Redis' formats
                raise RdbVersionError(f"unsupported Valkey RDB version {self.rdb_version}", offset=6)
            self.newer_than_known = self.rdb_version > NEWEST_VALKEY_RDB
            self.valkey_types = True
        else:
            raise RdbFormatError(f"not an RDB file (starts with {bytes(head)!r})", offset=0)
        if self.newer_than_known:
            known = NEWEST_VALKEY_RDB if self.valkey_types else NEWEST_RDB
            self.notes.append(
                f"RDB version {self.rdb_version} is newer than RDB {known}, the newest this decoder knows: "
                f"read with the RDB {known} rules (an unknown type byte would have stopped decoding)")
        self._set_scan_fmt()
        self.pos += 9
        self.header_done = True
        return 0

    cdef _choose_model(self):
        model = self.on_header(self) if self.on_header is not None else None
        if model is None:
            from insightkit.memory import model_for
            model = model_for(None, self.rdb_version, None, None)
        self.model = model

    def set_writer_version(self, int major, int minor, bint embedded_keys=False):
        """Redis-equivalent version of the writer; decides encoding names (embstr limit, listpack lists).

        ``embedded_keys``: Valkey >= 8.1 and Redis >= 8.2 keep the key inside the value's object, so
        whether a string is embstr depends on key and value length together (the memory model decides).
        """
        self.ver_major = major
        self.ver_minor = minor
        self.embedded_keys = embedded_keys

    cdef _add_function(self, bytes code):
        first = code.split(b"\n", 1)[0].decode("utf-8", "backslashreplace")
        name = None
        for part in first.split():
            if part.startswith("name="):
                name = part[5:]
        self.functions.append(name if name is not None else first)

    cdef int _function_pre_ga(self) except -1:
        cdef StrRef name, s
        cdef int64_t has_desc
        self._str(&name, 1)
        fname = self._strtext(&name)
        self._skip_str()  # engine
        has_desc = self._plain_len()
        if has_desc:
            self._skip_str()
        self._skip_str()  # code
        self.functions.append(fname)
        return 0

    cdef str _module_name(self, uint64_t module_id):
        cdef int j
        chars = []
        for j in range(9):
            chars.append(chr(_MODULE_CHARSET[(module_id >> (64 - 6 * (j + 1))) & 63]))
        return "".join(chars)

    cdef int _module_aux(self) except -1:
        cdef bint enc
        cdef uint64_t mid = self._len(&enc)
        cdef int64_t when_op
        if enc:
            self._fail("bad module id in MODULE_AUX")
        when_op = self._plain_len()
        if when_op != 2:
            self._fail(f"MODULE_AUX 'when' has opcode {when_op}, expected 2")
        self._plain_len()
        self._skip_module_ops()
        name = self._module_name(mid)
        if name not in self.modules:
            self.modules.append(name)
        return 0

    cdef _flush_db_count(self):
        if self.db_count:
            self.keys_per_db[self.db] = self.keys_per_db.get(self.db, 0) + self.db_count
            self.db_count = 0
        if self.db_expires:
            self.expires_per_db[self.db] = self.expires_per_db.get(self.db, 0) + self.db_expires
            self.db_expires = 0

    cdef int _eof(self) except -1:
        cdef uint64_t stored
        cdef int i
        self._flush_db_count()
        self._commit_crc()
        if self.verify and self.crc_sink is not None:
            self.crc = <uint64_t>self.crc_wait()
        if self.rdb_version >= 5:
            self._need(8)
            stored = 0
            for i in range(7, -1, -1):
                stored = (stored << 8) | self.p[self.pos + i]
            self.pos += 8
            if stored == 0:
                self.checksum_state = "disabled"
            elif not self.verify:
                self.checksum_state = "not-verified"
            elif stored != self.crc:
                raise RdbChecksumError(
                    f"CRC64 mismatch: file says {stored:#018x}, computed {self.crc:#018x}",
                    offset=self.base_offset + self.pos - 8)
            else:
                self.checksum_state = "ok"
        else:
            self.checksum_state = "absent"
        self.total_bytes = self.base_offset + self.pos
        self.eof_seen = True
        self.finished = True
        self.crc_pos = self.pos
        return ST_DONE

    # ----------------------------------------------------------------------------------------
    # keys

    cdef int _key(self, int t) except -1 nogil:
        cdef StrRef k
        cdef int64_t start
        cdef MemBreakdown mb
        cdef int row = self.n
        self.facts = _ZERO_FACTS  # all fields zero (a fixed-size struct copy, inlined)
        self.facts.rdb_type = t
        self.in_key = False
        if self.pos < self.end and self.p[self.pos] < 0x40 and self.pos + 1 + self.p[self.pos] <= self.end:
            k.length = self.p[self.pos]  # a plain key of < 64 bytes, buffered: what _str would do, inline
            k.ptr = self.p + self.pos + 1
            k.is_int = False
            k.lzf = -1
            self.pos += 1 + k.length
        else:
            self._str(&k, 2)
        if k.is_int:
            self.key_scratch.size = 0
            _reserve(&self.key_scratch, 24)
            k.length = _format_int(k.ival, self.key_scratch.data)
            self.key_ptr = self.key_scratch.data
        else:
            self.key_ptr = k.ptr
        # the key's bytes lie in the input buffer (not decompressed into key_scratch)
        self.key_buf_ptr = k.ptr if (not k.is_int and k.lzf < 0) else NULL
        self.key_len = k.length
        self.facts.key_len = k.length
        self.facts.has_expire = self.has_expire
        if self.key_meta:  # facts15 was cleared and counted when the KEY_META opcode was read
            self.facts.rdb15 = &self.facts15
        self.row_largest = 0
        self.row_elem_bytes = 0
        self.row_allint = -1
        self.row_hfe = False
        self.row_volatile = 0
        self.row_minfield = -1
        self.row_stream = False
        self.row_module = -1
        self.in_key = True
        self._value(t)
        self.in_key = False
        # the key is complete: fill the row
        start = self.key_item_start if self.key_item_start >= 0 else self.base_offset + self.item_start
        self.model.estimate(&self.facts, &mb)
        if row < 0 or row >= self.rows_cap:  # parse() hands over full batches; never expected
            with gil:
                self._fail(f"internal error: row {row} outside a batch of {self.rows_cap}")
        self.r_db[row] = self.db
        self._append_key()
        if 0 <= self.row_type < N_TYPE_LABELS:
            self._put_padded_label(&self.typedata, self.r_type_off, row,
                                   _LABELS.type_label[self.row_type], _LABELS.type_len[self.row_type], TYPE_LABEL_COPY)
        else:
            with gil:  # a module key
                if self.row_type_label is None:
                    self._fail(f"internal error: type {self.row_type} without a name")
                self._put_label(&self.typedata, self.r_type_off, row,
                                <const char*>self.row_type_label, len(self.row_type_label))
        if not 0 <= self.row_encoding < N_ENCODING_LABELS:
            with gil:
                self._fail(f"internal error: encoding {self.row_encoding}")
        self._put_padded_label(&self.encdata, self.r_enc_off, row,
                               _LABELS.encoding_label[self.row_encoding], _LABELS.encoding_len[self.row_encoding], LABEL_PAD)
        self.r_num[row] = self.facts.num_elements
        self.r_largest[row] = self.row_largest
        self.r_elem_bytes[row] = self.row_elem_bytes
        self.r_serialized[row] = self.base_offset + self.pos + self.skip_remaining - start
        if self.has_expire:
            self.r_expires[row] = self.expire_ms
            self.v_expires[row] = 1
        if self.has_idle:
            self.r_idle[row] = self.idle
            self.v_idle[row] = 1
        if self.has_freq:
            self.r_freq[row] = <int16_t>self.freq
            self.v_freq[row] = 1
        if self.row_allint >= 0:
            self.r_allint[row] = <unsigned char>self.row_allint
            self.v_allint[row] = 1
        if self.row_hfe:
            self.v_hfe[row] = 1
            self.r_volatile[row] = self.row_volatile
            if self.row_minfield >= 0:
                self.r_minfield[row] = self.row_minfield
                self.v_minfield[row] = 1
        if self.row_stream:
            self.v_stream[row] = 1
            self.r_s_entries[row] = self.s_entries
            self.r_s_groups[row] = self.s_groups
            self.r_s_consumers[row] = self.s_consumers
            self.r_s_pending[row] = self.s_pending
        self.r_module[row] = self.row_module
        self.r_mem[row] = mb.total
        self.r_mem_key[row] = mb.key_bytes
        self.r_mem_over[row] = mb.overhead_bytes
        self.r_mem_value[row] = mb.value_bytes
        self.r_mem_expires[row] = mb.expires_bytes
        self.n += 1
        self.db_count += 1
        if self.has_expire:
            self.db_expires += 1
        self._clear_key_opcodes()
        if self.has_key_repr:
            with gil:
                self.cur_key_repr = None
            self.has_key_repr = False
        return 0

    cdef KeyFacts15* _ext(self) noexcept nogil:
        """The key's RDB 13-15 facts, cleared on first use (keys of older kinds never touch them)."""
        if self.facts.rdb15 == NULL:
            memset(&self.facts15, 0, sizeof(KeyFacts15))
            self.facts.rdb15 = &self.facts15
        return self.facts.rdb15

    cdef inline void _elem(self, int64_t nbytes) noexcept nogil:
        if nbytes > self.row_largest:
            self.row_largest = nbytes
        self.row_elem_bytes += nbytes

    cdef inline void _blob(self, int64_t nbytes, int64_t compressed) noexcept nogil:
        self.facts.blob_count += 1
        self.facts.blob_bytes += nbytes
        self.facts.blob_alloc += self.model.blob(&self.facts, nbytes, compressed)

    cdef int _value(self, int t) except -1 nogil:
        if t == 0:
            return self._string_value()
        if t == 1 or t == 2:
            return self._plain_collection(t)
        if t == 3 or t == 5:
            return self._zset_plain(t)
        if t == 4:
            return self._hash_plain()
        if t == 6:
            with gil:
                self._fail("pre-GA module value (type 6) cannot be skipped", RdbVersionError)
        if t == 7:
            with gil:
                self._module_value()
            return 0
        if t == 9:
            return self._zipmap()
        if t == 10 or t == 12 or t == 13:
            return self._ziplist_value(t)
        if t == 11:
            return self._intset()
        if t == 14 or t == 18:
            return self._quicklist(t)
        if t == 15 or t == 19 or t == 21:
            return self._stream(t)
        if t == 16 or t == 17 or t == 20:
            return self._listpack_value(t)
        if t == 22 and self.valkey_types:
            return self._hash_ttl(t)
        if t == 22 or t == 24:
            return self._hash_ttl(t)
        if t == 23 or t == 25:
            return self._hash_listpack_ex(t)
        # RDB 13-15 (Redis 8.6-8.10), accepted whatever the header's version
        if t == 26 or t == 27:
            return self._stream(t)
        if t == 28:
            return self._array()
        if t == 33 or (t == 29 and self.gcra29):
            return self._gcra()
        if t >= 29 and t <= 32:
            return self._template_hash(t)
        self.pos = self.item_start
        with gil:
            self._fail(f"unknown value type {t}{self._newer_note()}")
        return 0

    cdef int _string_value(self) except -1 nogil:
        cdef bint enc
        cdef uint64_t v
        cdef StrRef s
        cdef int64_t here = self.pos, avail
        self.facts.kind = T_STRING
        self.row_type = T_STRING
        self.facts.num_elements = 1
        # A huge plain value is passed by as it arrives instead of being buffered whole (only a
        # 32/64-bit length, first byte 0x80/0x81, can reach STREAM_THRESHOLD).
        self._need(1)
        if self.p[self.pos] == 0x80 or self.p[self.pos] == 0x81:
            v = self._len(&enc)
        else:
            v = 0
            enc = True
        if not enc and v > <uint64_t>(self.end - self.pos) and v >= STREAM_THRESHOLD:
            if v > <uint64_t>INT64_MAX_:
                with gil:
                    self._fail(f"string length {v} out of range")
            avail = self.end - self.pos
            self.skip_remaining = <int64_t>v - avail
            self.pos = self.end
            self.facts.value_len = <int64_t>v
            self.row_encoding = ENC_RAW
            self.facts.encoding = ENC_RAW
            self._elem(<int64_t>v)
            return 0
        self.pos = here
        if not self._small_str(&s):
            self._str(&s, 0)
        self.facts.value_len = s.length
        self._elem(s.length)
        if s.is_int or (s.ptr != NULL and s.length <= 20 and _is_canonical_int(s.ptr, s.length)):
            self.facts.int_value = True
            self.row_encoding = ENC_INT
        elif self._embstr_fits(s.length):
            self.row_encoding = ENC_EMBSTR
        else:
            self.row_encoding = ENC_RAW
        self.facts.encoding = self.row_encoding
        return 0

    cdef inline bint _small_str(self, StrRef* s) except -1 nogil:
        """_str(s, 0) inline for a buffered string with 6-bit lengths, plain or LZF; False (nothing read)
        for anything else."""
        cdef int64_t q = self.pos, clen, ulen
        cdef unsigned char b
        if q >= self.end:
            return False
        b = self.p[q]
        if b < 0x40:
            if q + 1 + b > self.end:
                return False
            s.ptr = self.p + q + 1
            s.length = b
            s.is_int = False
            s.lzf = -1
            self.pos = q + 1 + b
            return True
        if b != 0xC3 or q + 3 > self.end or self.p[q + 1] >= 0x40 or self.p[q + 2] >= 0x40:
            return False
        clen = self.p[q + 1]
        ulen = self.p[q + 2]
        if q + 3 + clen > self.end or not _lzf_claim_ok(clen, ulen):
            return False
        self.pos = q + 3  # where _str validates from (error offsets)
        if _lzf_check(self.p + self.pos, clen, ulen):
            self._lzf(self.p + self.pos, clen, NULL, ulen)  # raises, saying why
        s.ptr = NULL
        s.length = ulen
        s.is_int = False
        s.lzf = clen
        self.pos += clen
        return True

    cdef bint _embstr_fits(self, int64_t value_len) noexcept nogil:
        if self.embedded_keys:
            # the key shares the value's allocation (Valkey >= 8.1, Redis >= 8.2): the memory model
            # knows each generation's rule
            return self.model.string_embedded(self.key_len, value_len, self.has_expire)
        return value_len <= self._embstr_limit()

    cdef int64_t _embstr_limit(self) noexcept nogil:
        if self.ver_major > 3 or (self.ver_major == 3 and self.ver_minor >= 2):
            return 44
        if self.ver_major == 3:
            return 39
        return -1

    cdef bint _at_least(self, int major, int minor) noexcept nogil:
        return self.ver_major > major or (self.ver_major == major and self.ver_minor >= minor)

    cdef int _plain_collection(self, int t) except -1 nogil:
        """Type 1 (linked list) and 2 (hashtable set): a count then one string per element."""
        cdef int64_t n = self._plain_len(), i
        cdef StrRef s
        cdef bint all_int = True
        self.facts.kind = T_LIST if t == 1 else T_SET
        self.row_type = self.facts.kind
        self.row_encoding = ENC_LINKEDLIST if t == 1 else ENC_HASHTABLE
        self.facts.encoding = self.row_encoding
        for i in range(n):
            self._str(&s, 0)
            self._elem(s.length)
            if all_int and not s.is_int and (s.ptr == NULL or not _is_canonical_int(s.ptr, s.length)):
                all_int = False
            self.facts.elem_alloc += self.model.element(&self.facts, s.length, 0)
        self.facts.num_elements = n
        if t == 2:
            self.row_allint = 1 if all_int else 0
            self.facts.elements_all_int = all_int
        return 0

    cdef int _zset_plain(self, int t) except -1 nogil:
        cdef int64_t n = self._plain_len(), i, slen
        cdef StrRef s
        self.facts.kind = T_ZSET
        self.row_type = T_ZSET
        self.row_encoding = ENC_SKIPLIST
        self.facts.encoding = ENC_SKIPLIST
        for i in range(n):
            self._str(&s, 0)
            self._elem(s.length)
            if t == 5:
                self._need(8)
                self.pos += 8
            else:
                slen = self._u8()
                if slen < 253:
                    self._need(slen)
                    self.pos += slen
            self.facts.elem_alloc += self.model.element(&self.facts, s.length, 0)
        self.facts.num_elements = n
        return 0

    cdef int _hash_plain(self) except -1 nogil:
        cdef int64_t n = self._plain_len(), i
        cdef StrRef f, v
        self.facts.kind = T_HASH
        self.row_type = T_HASH
        self.row_encoding = ENC_HASHTABLE
        self.facts.encoding = ENC_HASHTABLE
        for i in range(n):
            self._str(&f, 0)
            self._str(&v, 0)
            self._elem(f.length)
            self._elem(v.length)
            self.facts.elem_alloc += self.model.element(&self.facts, f.length, v.length)
        self.facts.num_elements = n
        return 0

    cdef int _hash_ttl(self, int t) except -1 nogil:
        """Hashes with field TTLs stored field by field: Redis 22 (pre-GA) / 24, Valkey HASH_2 (22)."""
        cdef int64_t n, i, ttl, min_exp = 0, exp
        cdef StrRef f, v
        cdef bint valkey = self.valkey_types and t == 22
        self.facts.kind = T_HASH
        self.row_type = T_HASH
        self.row_encoding = ENC_HASHTABLE
        self.facts.encoding = ENC_HASHTABLE
        self.row_hfe = True
        if t == 24:
            min_exp = <int64_t>self._le(8)
        n = self._plain_len()
        for i in range(n):
            exp = 0
            if valkey:
                self._str(&f, 0)
                self._str(&v, 0)
                exp = <int64_t>self._le(8)
                if exp < 0:
                    exp = 0
            else:
                ttl = self._plain_len()
                if t == 24:
                    exp = ttl + min_exp - 1 if ttl != 0 else 0
                else:
                    exp = ttl
                self._str(&f, 0)
                self._str(&v, 0)
            if exp > 0:
                self.row_volatile += 1
                if self.row_minfield < 0 or exp < self.row_minfield:
                    self.row_minfield = exp
            self._elem(f.length)
            self._elem(v.length)
            self.facts.elem_alloc += self.model.element(&self.facts, f.length, v.length)
        self.facts.num_elements = n
        self.facts.volatile_fields = self.row_volatile
        return 0

    cdef int _module_value(self) except -1:
        cdef bint enc
        cdef int64_t start = self.pos
        cdef uint64_t mid = self._len(&enc)
        cdef int idx
        if enc:
            self._fail("bad module id")
        self._skip_module_ops()
        name = self._module_name(mid)
        if name not in self.modules:
            self.modules.append(name)
        idx = self.module_type_index.get(name, -1)
        if idx < 0:
            idx = len(self.type_names)
            self.type_names.append(name)
            self.module_type_index[name] = idx
        self.facts.kind = KIND_MODULE
        self.facts.encoding = ENC_MODULE
        self.facts.module_bytes = self.pos - start
        self.facts.num_elements = 1
        self._elem(self.facts.module_bytes)
        self.row_type = idx
        self.row_type_label = name.encode()
        self.row_module = idx
        self.row_encoding = ENC_RAW
        return 0

    # --- RDB 13-15 (Redis 8.6-8.10) ------------------------------------------------------------------

    cdef int _nack_zone(self, int64_t pel, int64_t pel_at) except -1 nogil:
        """Type 27: a group's NACKed entries (16-byte big-endian IDs), each one of the group's PEL
        entries (read from pel_at, `pel` of them) that no consumer owns."""
        cdef int64_t at = self.pos, n = self._plain_len(), i, q
        cdef const unsigned char** ids = NULL
        cdef const unsigned char* want
        cdef unsigned char b
        cdef int64_t lo, hi, mid
        cdef int c
        cdef bint ordered = True
        if n > pel:
            self.pos = at
            with gil:
                self._fail(f"stream group has {n} NACKed entries but {pel} pending ones")
        self._need(16 * n)  # n <= pel, and every PEL entry took at least 25 bytes
        if n > 0:
            ids = <const unsigned char**>malloc(pel * sizeof(const unsigned char*))
            if ids == NULL:
                with gil:
                    raise MemoryError()
            q = pel_at
            for i in range(pel):  # the PEL again: id, delivery time, delivery count (a length)
                ids[i] = self.p + q
                if i > 0 and ordered and memcmp(ids[i - 1], ids[i], 16) >= 0:
                    ordered = False
                b = self.p[q + 24]
                q += 25 if b < 0x40 else (26 if b < 0x80 else (29 if b == 0x80 else 33))
            if not ordered:
                qsort(ids, pel, sizeof(const unsigned char*), _cmp_id16)
            for i in range(n):
                want = self.p + self.pos + 16 * i
                lo = 0
                hi = pel
                while lo < hi:
                    mid = (lo + hi) // 2
                    c = memcmp(ids[mid], want, 16)
                    if c == 0:
                        break
                    if c < 0:
                        lo = mid + 1
                    else:
                        hi = mid
                if lo >= hi:
                    free(ids)
                    self.pos += 16 * i
                    with gil:
                        self._fail(f"NACKed stream entry {self._id_text(want)} is not pending in its group")
            free(ids)
        self.pos += 16 * n
        self._ext().stream_nacked += n
        return 0

    cdef str _id_text(self, const unsigned char* raw):
        return f"{int.from_bytes(raw[:8], 'big')}-{int.from_bytes(raw[8:16], 'big')}"

    cdef int _idmp(self) except -1 nogil:
        """Types 26/27, after the groups: idempotent producers (XADD IDMP) and the IIDs they track."""
        cdef int64_t at = self.pos, duration, max_entries, producers, entries, i, j
        cdef StrRef s
        self._ext()
        duration = self._plain_len()
        if duration < 1 or duration > 86400:
            self.pos = at
            with gil:
                self._fail(f"stream IDMP duration {duration} s outside XCFGSET's range 1-86400")
        at = self.pos
        max_entries = self._plain_len()
        if max_entries < 1 or max_entries > 10000:
            self.pos = at
            with gil:
                self._fail(f"stream IDMP max entries {max_entries} outside XCFGSET's range 1-10000")
        producers = self._plain_len()
        for i in range(producers):
            self._str(&s, 0)  # producer id
            entries = self._plain_len()
            self.model.idmp_producer(&self.facts, s.length, entries)
            for j in range(entries):
                self._str(&s, 0)  # IID
                self._skip_len()  # the entry's stream ID (ms, seq)
                self._skip_len()
                self.model.idmp_entry(&self.facts, s.length)
        self._skip_len()  # IIDs added, duplicates seen (all-time counters)
        self._skip_len()
        return 0

    cdef int _array(self) except -1 nogil:
        """Type 28 (Redis >= 8.8): count, insert-index flag [+ index], then per element its index
        (strictly ascending), a type tag and the value (0 string, 1 int64, 2 double, 3 short string)."""
        cdef int64_t count, flag, i, tag, slen = 0, heap, iv, at
        cdef uint64_t idx, prev = 0, u
        cdef bint enc
        cdef double d
        cdef StrRef s
        cdef ArrayShape shape
        self.facts.kind = KIND_ARRAY
        self.facts.encoding = ENC_SLICED_ARRAY
        self._ext()
        self.row_type = T_ARRAY
        self.row_encoding = ENC_SLICED_ARRAY
        at = self.pos
        count = self._plain_len()
        if count == 0:
            self.pos = at
            with gil:
                self._fail("array with no elements (Redis deletes an array when it empties)")
        at = self.pos
        flag = self._plain_len()
        if flag > 1:
            self.pos = at
            with gil:
                self._fail(f"array insert-index flag is {flag}, not 0 or 1")
        if flag == 1:
            self._skip_len()  # the insert index (ARINSERT's cursor)
        memset(&shape, 0, sizeof(ArrayShape))
        for i in range(count):
            at = self.pos
            idx = self._len(&enc)
            if enc or idx == UINT64_MAX_:
                self.pos = at
                with gil:
                    self._fail("array index is a string encoding" if enc else "array index 2^64-1 is reserved")
            if i > 0 and idx <= prev:
                self.pos = at
                with gil:
                    self._fail(f"array indices not strictly ascending: {idx} after {prev}")
            prev = idx
            at = self.pos
            tag = self._plain_len()
            heap = -1
            if tag == 0 or tag == 3:  # a string: out of line (an arString) beyond 7 bytes
                self._str(&s, 0)
                slen = s.length
                if slen > 7:
                    heap = slen
            elif tag == 1:  # an int64: inline when it fits 62 bits
                iv = <int64_t>self._le(8)
                slen = _digits(iv)
                if iv < -(<int64_t>1 << 61) or iv > (<int64_t>1 << 61) - 1:
                    heap = slen
            elif tag == 2:  # a double, always inline (64-bit builds)
                u = self._le(8)
                memcpy(&d, &u, 8)
                slen = _float_text_len(d)
            else:
                self.pos = at
                with gil:
                    self._fail(f"array element type tag {tag} unknown (0-3)")
            self._elem(slen)
            self.model.array_element(&shape, idx, heap)
        # ARLEN: the highest index + 1 (saturating: indices go up to 2^64-2)
        self.facts.num_elements = INT64_MAX_ if prev >= <uint64_t>INT64_MAX_ else <int64_t>prev + 1
        self._ext().value_alloc = self.model.array_bytes(&shape)
        return 0

    cdef int _gcra(self) except -1 nogil:
        """Type 33 (29 in RDB 14 pre-GA builds): a rate limiter's theoretical arrival time, one number."""
        cdef bint enc
        cdef int64_t at = self.pos
        self.facts.kind = KIND_GCRA
        self.facts.encoding = ENC_RAW
        self._ext()
        self.facts.num_elements = 1
        self.row_type = T_GCRA
        self.row_encoding = ENC_RAW
        self._len(&enc)
        if enc:
            self.pos = at
            with gil:
                self._fail("GCRA state is a string encoding, expected a number")
        return 0

    cdef int _hash_template(self) except -1:
        """0xF2 (RDB 15): id, field count, then the field names sorted by length, then bytes."""
        cdef int64_t at = self.pos, n, total = 0, longest = 0, names_alloc = 0
        cdef bint enc
        cdef uint64_t id = self._len(&enc)
        if enc:
            self.pos = at
            self._fail("hash template id is a string encoding")
        if _tmpl_find(self.tt, id) >= 0:
            self.pos = at
            self._fail(f"duplicate hash template id {id}")
        if self.tt.n >= MAX_TEMPLATES:
            self.pos = at - 1
            self._fail(f"more than {MAX_TEMPLATES} hash templates")
        at = self.pos
        n = self._plain_len()
        if n == 0:
            self.pos = at
            self._fail(f"hash template {id} has no fields")
        self._tmpl_raw_names(n, &total, &longest, &names_alloc)
        self.templates.add(id, n, total, longest, self.model.template_bytes(n, names_alloc))
        return 0

    cdef int _tmpl_name(self, const unsigned char* name, int64_t length, int64_t i,
                        int64_t* total, int64_t* longest) except -1 nogil:
        """Field name i of a template: strictly after the previous one (shorter first, then bytes)."""
        cdef Buf* prev = &self.name_scratch
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

    cdef int _tmpl_raw_names(self, int64_t n, int64_t* total, int64_t* longest,
                             int64_t* names_alloc) except -1 nogil:
        """n field names as RDB strings (0xF2 records, FIELDS_RAW): checked for order, measured."""
        cdef int64_t i, at
        cdef StrRef s
        cdef unsigned char digits[24]
        cdef const unsigned char* name
        for i in range(n):
            at = self.pos
            self._str(&s, 1)
            if s.is_int:
                s.length = _format_int(s.ival, digits)
                name = digits
            else:
                name = s.ptr
            if self._tmpl_name(name, s.length, i, total, longest):
                self.pos = at
                with gil:
                    self._fail(f"hash template field names not strictly sorted (by length, then bytes) at field {i}")
            if names_alloc != NULL:
                names_alloc[0] += self.model.sds_alloc(s.length)
        return 0

    cdef int64_t _tmpl_lp_names(self, int64_t* total, int64_t* longest) except -1 nogil:
        """FIELDS_LP (types 29/31): the field names as one listpack; returns their count."""
        cdef StrRef s
        cdef const unsigned char* z
        cdef int64_t n, pos = 6, q, v, count = 0, hdr
        cdef unsigned char digits[24]
        cdef const unsigned char* name
        cdef int kind
        cdef unsigned char enc
        self._blob_str(&s, BLOB_LISTPACK)
        z = s.ptr
        n = s.length
        if n < 7 or <int64_t>_le_at(z, 4) != n or z[n - 1] != 0xFF:
            with gil:
                self._fail("hash template field-name listpack is malformed")
        while True:
            q = pos
            kind = self._lp_entry(z, n, &pos, &v)
            if kind == 2:
                break
            if kind == 1:
                v = _format_int(v, digits)
                name = digits
            else:
                enc = z[q]
                name = z + q + (1 if enc < 0xC0 else (2 if enc < 0xF0 else 5))
            if self._tmpl_name(name, v, count, total, longest):
                with gil:
                    self._fail(f"hash template field names not strictly sorted (by length, then bytes) at field {count}")
            count += 1
        hdr = z[4] | (z[5] << 8)
        if pos != n - 1 or (hdr != 0xFFFF and hdr != count):
            with gil:
                self._fail("hash template field-name listpack is malformed")
        if count == 0:
            with gil:
                self._fail("hash template has no fields")
        return count

    cdef int64_t _tmpl_values_lp(self, const unsigned char* z, int64_t n, int64_t* count) except? -1 nogil:
        """A template-listpack's values: entry 0 is the template id (an integer, returned), then one
        value per field (counted into *count and measured)."""
        cdef int64_t pos = 6, v, id, c = 0, hdr
        cdef int kind
        if n < 7 or <int64_t>_le_at(z, 4) != n or z[n - 1] != 0xFF:
            with gil:
                self._fail("template-listpack blob is malformed")
        kind = self._lp_entry(z, n, &pos, &id)
        if kind == 2:
            with gil:
                self._fail("template-listpack is empty")
        if kind != 1:
            with gil:
                self._fail("template-listpack's first entry (the template id) is not an integer")
        while True:
            kind = self._lp_entry(z, n, &pos, &v)
            if kind == 2:
                break
            self._elem(_digits(v) if kind == 1 else v)
            c += 1
        hdr = z[4] | (z[5] << 8)
        if pos != n - 1 or (hdr != 0xFFFF and hdr != c + 1):
            with gil:
                self._fail("template-listpack blob is malformed")
        count[0] = c
        return id

    cdef int _template_hash(self, int t) except -1 nogil:
        """Types 29-32 (Redis 8.10): hashes whose field names live in a template. 30 (LP_REF) and 32
        (ARRAY_REF) name a template declared by 0xF2; 29 and 31 (DUMP payloads) carry the names.
        29/30 hold the values in a listpack, 31/32 as strings."""
        cdef bint lp = t == 29 or t == 30
        cdef int64_t at, fields = 0, names_total = 0, names_max = 0, count, e = -1, fmt, i, id
        cdef uint64_t uid
        cdef bint enc
        cdef StrRef s
        self.facts.kind = T_HASH
        self._ext()
        self.row_type = T_HASH
        self.row_encoding = ENC_TMPL_LP if lp else ENC_TMPL_ARRAY
        self.facts.encoding = self.row_encoding
        if t == 32:
            at = self.pos
            uid = self._len(&enc)
            e = -1 if enc else _tmpl_find(self.tt, uid)
            if e < 0:
                self.pos = at
                with gil:
                    if enc:
                        self._fail("hash template id is a string encoding")
                    self._fail(f"unknown hash template id {uid} (no 0xF2 record declared it before)")
        elif t == 29 or t == 31:
            at = self.pos
            fmt = self._plain_len()
            if fmt == 0:
                fields = self._tmpl_lp_names(&names_total, &names_max)
            elif fmt == 1:
                fields = self._plain_len()
                if fields == 0:
                    self.pos = at
                    with gil:
                        self._fail("hash template has no fields")
                self._tmpl_raw_names(fields, &names_total, &names_max, NULL)
            else:
                self.pos = at
                with gil:
                    self._fail(f"hash template fields format {fmt} unknown (0 listpack, 1 strings)")
        if lp:
            at = self.pos
            self._blob_str(&s, BLOB_LISTPACK)
            id = self._tmpl_values_lp(s.ptr, s.length, &count)
            if t == 30:
                e = _tmpl_find(self.tt, <uint64_t>id) if id >= 0 else -1
                if e < 0:
                    self.pos = at
                    with gil:
                        self._fail(f"unknown hash template id {id} (no 0xF2 record declared it before)")
                fields = self.tt.entries[e].fields
            if count != fields:
                self.pos = at
                with gil:
                    self._fail(f"template-listpack holds {count} values for a template of {fields} fields")
            self._blob(s.length, -1)
        if t == 30 or t == 32:
            fields = self.tt.entries[e].fields
            names_total = self.tt.entries[e].names_total
            names_max = self.tt.entries[e].names_max
        if not lp:
            for i in range(fields):
                self._str(&s, 0)
                self._elem(s.length)
                self.model.template_value(&self.facts, s.length)
        self.row_elem_bytes += names_total
        if names_max > self.row_largest:
            self.row_largest = names_max
        self.facts.num_elements = fields
        return 0

    # --- compact blobs ---------------------------------------------------------------------------

    cdef int _blob_str(self, StrRef* s, int kind) except -1 nogil:
        """A string holding a compact structure (``kind``, a BLOB_ constant): bytes needed. When LZF,
        the structure's header is inflated first and checked against the claimed length."""
        if kind != BLOB_ANY and self.pos < self.end and self.p[self.pos] == 0xC3:
            return self._blob_lzf(s, kind)
        self._str(s, 1)
        if s.is_int:
            with gil:
                self._fail("expected a serialized blob, found an integer")
        return 0

    cdef int _blob_lzf(self, StrRef* s, int kind) except -1 nogil:
        """An LZF-compressed blob: after _lzf_claim (the block comes to exactly its claimed length),
        the header of the structure is inflated alone and must agree with that length (total bytes,
        what its counts need at least) before the rest is inflated. Header errors name the offset
        after the blob, as the walkers' do; a bomb claiming a huge blob whose header says otherwise
        is refused having inflated a few bytes."""
        cdef int64_t clen, ulen, total, count, width, at
        cdef int hl = 10 if kind == BLOB_ZIPLIST else (8 if kind == BLOB_INTSET else (0 if kind == BLOB_STREAM_ID else 6))
        cdef unsigned char h[16]
        self.pos += 1  # 0xC3
        clen = self._plain_len()
        ulen = self._plain_len()
        self._lzf_claim(clen, ulen)
        at = self.pos
        if kind == BLOB_STREAM_ID and ulen != 16:
            self.pos = at + clen
            with gil:
                self._fail(f"stream node key has {ulen} bytes, expected 16")
        if hl and ulen >= hl:
            _lzf_head(self.p + at, clen, h, hl)
            total = h[0] | (h[1] << 8) | (h[2] << 16) | (<int64_t>h[3] << 24)
            if kind == BLOB_INTSET:
                width = total
                count = h[4] | (h[5] << 8) | (h[6] << 16) | (<int64_t>h[7] << 24)
                if width != 2 and width != 4 and width != 8:
                    self.pos = at + clen
                    with gil:
                        self._fail(f"intset has element width {width}")
                if 8 + width * count != ulen:
                    self.pos = at + clen
                    with gil:
                        self._fail(f"intset claims {count} elements of {width} bytes in a {ulen}-byte blob")
            else:
                count = (h[8] | (h[9] << 8)) if kind == BLOB_ZIPLIST else (h[4] | (h[5] << 8))
                if total != ulen:
                    self.pos = at + clen
                    with gil:
                        self._fail(f"{'ziplist' if kind == BLOB_ZIPLIST else 'listpack'} header says "
                                   f"{total} bytes, blob has {ulen}")
                # every entry takes 2 bytes at least (ziplist: prevlen, encoding; listpack: encoding,
                # back-length), and the end marker one
                if count != 0xFFFF and hl + 2 * count + 1 > ulen and kind != BLOB_STREAM_LP:
                    self.pos = at + clen
                    with gil:
                        self._fail(f"{'ziplist' if kind == BLOB_ZIPLIST else 'listpack'} header says "
                                   f"{count} entries, more than {ulen} bytes hold")
        self._lzf_inflate(&self.val_scratch, clen, ulen)
        s.is_int = False
        s.ptr = self.val_scratch.data
        s.length = ulen
        s.lzf = clen
        self.pos = at + clen
        return 0

    cdef int _blob_fail(self, BlobErr* e) except -1 nogil:
        """Raise what a blob walker reported (see _blobs.pxd)."""
        with gil:
            if e.code == BE_NOMEM:
                raise MemoryError()
            self._fail(blob_error_message(e.code, e.a, e.b, e.c))
        return -1

    cdef int _walk_ziplist(self, const unsigned char* z, int64_t n, int stride, int mask, Stats* st) except -1 nogil:
        cdef BlobErr e
        if walk_ziplist(z, n, stride, mask, st, &e):
            return self._blob_fail(&e)
        return 0

    cdef int _walk_listpack(self, const unsigned char* z, int64_t n, int stride, int mask, int ttl_slot, Stats* st) except -1 nogil:
        cdef BlobErr e
        if walk_listpack(z, n, stride, mask, ttl_slot, st, &e):
            return self._blob_fail(&e)
        return 0

    cdef inline int _lp_entry(self, const unsigned char* z, int64_t n, int64_t* pos, int64_t* ival) except -1 nogil:
        """_blobs._lp_entry, raising: 1 = integer (*ival), 0 = string of *ival bytes, 2 = the end marker."""
        cdef BlobErr e
        cdef int kind = _lp_entry(z, n, pos, ival, &e)
        if kind < 0:
            return self._blob_fail(&e)
        return kind

    cdef int _walk_stream_node(self, const unsigned char* z, int64_t n) except -1 nogil:
        """Field and value sizes of the live entries of one stream listpack node (row largest/bytes)."""
        cdef Stats st
        cdef BlobErr e
        _stats_init(&st)
        if walk_stream_node(z, n, &st, &e):
            return self._blob_fail(&e)
        self._take_stats(&st)
        return 0

    cdef inline void _take_stats(self, Stats* st) noexcept nogil:
        if st.largest > self.row_largest:
            self.row_largest = st.largest
        self.row_elem_bytes += st.total

    cdef int _ziplist_value(self, int t) except -1 nogil:
        cdef StrRef s
        cdef Stats st
        self._blob_str(&s, BLOB_ZIPLIST)
        _stats_init(&st)
        if t == 10:
            self.facts.kind = T_LIST
            self._walk_ziplist(s.ptr, s.length, 1, 1, &st)
            self.facts.num_elements = st.entries
        else:
            self.facts.kind = T_ZSET if t == 12 else T_HASH
            self._walk_ziplist(s.ptr, s.length, 2, 1 if t == 12 else 3, &st)
            if st.entries % 2:
                with gil:
                    self._fail("ziplist of pairs has an odd number of entries")
            self.facts.num_elements = st.entries // 2
        self.row_type = self.facts.kind
        self.row_encoding = ENC_ZIPLIST
        self.facts.encoding = ENC_ZIPLIST
        self._take_stats(&st)
        self._blob(s.length, -1)
        return 0

    cdef int _listpack_value(self, int t) except -1 nogil:
        cdef StrRef s
        cdef Stats st
        self._blob_str(&s, BLOB_LISTPACK)
        _stats_init(&st)
        if t == 20:
            self.facts.kind = T_SET
            self._walk_listpack(s.ptr, s.length, 1, 1, -1, &st)
            self.facts.num_elements = st.entries
            self.row_allint = 1 if st.all_int else 0
        else:
            self.facts.kind = T_ZSET if t == 17 else T_HASH
            self._walk_listpack(s.ptr, s.length, 2, 1 if t == 17 else 3, -1, &st)
            if st.entries % 2:
                with gil:
                    self._fail("listpack of pairs has an odd number of entries")
            self.facts.num_elements = st.entries // 2
        self.row_type = self.facts.kind
        self.row_encoding = ENC_LISTPACK
        self.facts.encoding = ENC_LISTPACK
        self._take_stats(&st)
        self._blob(s.length, -1)
        return 0

    cdef int _hash_listpack_ex(self, int t) except -1 nogil:
        cdef StrRef s
        cdef Stats st
        if t == 25:
            self._le(8)  # minimum field expiry; recomputed from the entries
        self._blob_str(&s, BLOB_LISTPACK)
        _stats_init(&st)
        self._walk_listpack(s.ptr, s.length, 3, 3, 2, &st)
        if st.entries % 3:
            with gil:
                self._fail("listpackex hash entries are not field/value/ttl triplets")
        self.facts.kind = T_HASH
        self.row_type = T_HASH
        self.row_encoding = ENC_LISTPACKEX
        self.facts.encoding = ENC_LISTPACKEX
        self.facts.num_elements = st.entries // 3
        self.row_hfe = True
        self.row_volatile = st.volatile
        self.row_minfield = st.min_ttl
        self.facts.volatile_fields = st.volatile
        self._take_stats(&st)
        self._blob(s.length, -1)
        return 0

    cdef int _intset(self) except -1 nogil:
        cdef StrRef s
        cdef Stats st
        cdef BlobErr e
        self._blob_str(&s, BLOB_INTSET)
        _stats_init(&st)
        if walk_intset(s.ptr, s.length, &st, &e):
            return self._blob_fail(&e)
        self._take_stats(&st)
        self.facts.kind = T_SET
        self.row_type = T_SET
        self.row_encoding = ENC_INTSET
        self.facts.encoding = ENC_INTSET
        self.facts.num_elements = st.entries
        self.row_allint = 1
        self._blob(s.length, -1)
        return 0

    cdef int _zipmap(self) except -1 nogil:
        cdef StrRef s
        cdef Stats st
        cdef BlobErr e
        self._blob_str(&s, BLOB_ANY)
        _stats_init(&st)
        if walk_zipmap(s.ptr, s.length, &st, &e):
            return self._blob_fail(&e)
        self._take_stats(&st)
        self.facts.kind = T_HASH
        self.row_type = T_HASH
        self.row_encoding = ENC_ZIPMAP
        self.facts.encoding = ENC_ZIPMAP
        self.facts.num_elements = st.entries
        self._blob(s.length, -1)
        return 0

    cdef int _quicklist(self, int t) except -1 nogil:
        cdef int64_t nodes = self._plain_len(), i, container, total = 0, packed = 0
        cdef StrRef s
        cdef Stats st
        cdef int64_t compressed
        self.facts.kind = T_LIST
        self.row_type = T_LIST
        for i in range(nodes):
            container = 2
            if t == 18:
                container = self._plain_len()
                if container != 1 and container != 2:
                    with gil:
                        self._fail(f"quicklist node container {container} unknown")
            self._blob_str(&s, BLOB_ANY if container == 1 else (BLOB_ZIPLIST if t == 14 else BLOB_LISTPACK))
            # LZF in the file means the node was held compressed (never the head or tail node)
            compressed = s.lzf if (s.lzf >= 0 and i > 0 and i < nodes - 1) else -1
            if compressed >= 0:
                self.facts.compressed_nodes += 1
            if container == 1:
                self.facts.plain_nodes += 1
                self._elem(s.length)
                total += 1
            else:
                _stats_init(&st)
                if t == 14:
                    self._walk_ziplist(s.ptr, s.length, 1, 1, &st)
                else:
                    self._walk_listpack(s.ptr, s.length, 1, 1, -1, &st)
                self._take_stats(&st)
                total += st.entries
                packed += 1
            self._blob(s.length, compressed)
        self.facts.num_elements = total
        if t == 18 and nodes == 1 and packed == 1 and self._at_least(7, 2) and self.facts.blob_bytes <= 8192:
            self.row_encoding = ENC_LISTPACK
        else:
            self.row_encoding = ENC_QUICKLIST
        self.facts.encoding = self.row_encoding
        return 0

    cdef int _stream(self, int t) except -1 nogil:
        cdef int64_t nodes = self._plain_len(), i, groups, pel, consumers, j, cpel, name_bytes = 0
        cdef int64_t total_pel = 0, total_consumers = 0, runs, gname, cname, k, pel_at
        cdef const unsigned char* prev
        cdef StrRef s
        self.facts.kind = T_STREAM
        self.row_type = T_STREAM
        self.row_encoding = ENC_STREAM
        self.facts.encoding = ENC_STREAM
        for i in range(nodes):
            self._blob_str(&s, BLOB_STREAM_ID)
            if s.length != 16:
                with gil:
                    self._fail(f"stream node key has {s.length} bytes, expected 16")
            self._blob_str(&s, BLOB_STREAM_LP)
            if s.length < 7 or s.ptr[s.length - 1] != 0xFF or <int64_t>_le_at(s.ptr, 4) != s.length:
                with gil:
                    self._fail("stream listpack node is malformed")
            self._walk_stream_node(s.ptr, s.length)
            self.facts.stream_nodes += 1
            self._blob(s.length, -1)
        self.s_entries = self._plain_len()
        self._skip_len()  # last id ms
        self._skip_len()  # last id seq
        if t >= 19:
            self._skip_len()  # first id
            self._skip_len()
            self._skip_len()  # max deleted id
            self._skip_len()
            self._skip_len()  # entries added
        groups = self._plain_len()
        for i in range(groups):
            self._str(&s, 0)
            name_bytes += s.length
            gname = s.length
            self._skip_len()  # group last id
            self._skip_len()
            if t >= 19:
                self._skip_len()  # entries read (-1 when unknown)
            pel = self._plain_len()
            total_pel += pel
            runs = 0
            prev = NULL
            pel_at = self.pos
            for j in range(pel):
                self._need(16 + 8)
                # runs of consecutive PEL IDs sharing the millisecond part (the rax's shape)
                if prev == NULL or memcmp(prev, self.p + self.pos, 8) != 0:
                    runs += 1
                prev = self.p + self.pos
                self.pos += 24
                self._skip_len()  # delivery count
            self.model.stream_group(&self.facts, gname, pel, runs)
            consumers = self._plain_len()
            total_consumers += consumers
            for j in range(consumers):
                self._str(&s, 0)
                name_bytes += s.length
                cname = s.length
                self._need(8)
                self.pos += 8  # seen time
                if t >= 21:
                    self._need(8)
                    self.pos += 8  # active time
                cpel = self._plain_len()
                if cpel >= (<int64_t>1 << 58):
                    with gil:
                        self._fail("consumer PEL size out of range")
                self._need(16 * cpel)
                runs = 0
                prev = NULL
                for k in range(cpel):
                    if prev == NULL or memcmp(prev, self.p + self.pos + 16 * k, 8) != 0:
                        runs += 1
                    prev = self.p + self.pos + 16 * k
                self.pos += 16 * cpel
                self.model.stream_consumer(&self.facts, cname, cpel, runs)
            if t >= 27:
                self._nack_zone(pel, pel_at)
        if t >= 26:
            self._idmp()
        self.facts.num_elements = self.s_entries
        self.facts.stream_groups = groups
        self.facts.stream_consumers = total_consumers
        self.facts.stream_pel = total_pel
        self.facts.stream_name_bytes = name_bytes
        self.row_stream = True
        self.s_groups = groups
        self.s_consumers = total_consumers
        self.s_pending = total_pel
        return 0
