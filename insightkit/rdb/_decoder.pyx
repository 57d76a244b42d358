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
from libc.string cimport memcmp, memcpy, memset
from libc.stdlib cimport malloc, realloc, free

from insightkit.memory._model cimport KeyFacts, MemBreakdown, MemoryModel
from insightkit.rdb._crc64 cimport crc64_update

import numpy as np

from insightkit.errors import RdbChecksumError, RdbFormatError, RdbTruncatedError, RdbVersionError


class _NeedMore(Exception):
    """Internal: the current item continues past the buffered bytes."""


# --- constants --------------------------------------------------------------------------------

DEF OP_SLOT_IMPORT = 243
DEF OP_SLOT_INFO = 244
DEF OP_FUNCTION2 = 245
DEF OP_FUNCTION_PRE_GA = 246
DEF OP_MODULE_AUX = 247
DEF OP_IDLE = 248
DEF OP_FREQ = 249
DEF OP_AUX = 250
DEF OP_RESIZEDB = 251
DEF OP_EXPIRETIME_MS = 252
DEF OP_EXPIRETIME = 253
DEF OP_SELECTDB = 254
DEF OP_EOF = 255
DEF OP_RAM_LRU = 107  # Redis Enterprise: LRU hint, one length; ignored (no-op for the key table)

DEF STREAM_THRESHOLD = 1048576  # plain string values at least this big stream through unbuffered

# Type names (TYPE command); module keys get their module name appended at runtime.
TYPE_NAMES = ["string", "list", "set", "zset", "hash", "stream"]
DEF T_STRING = 0
DEF T_LIST = 1
DEF T_SET = 2
DEF T_ZSET = 3
DEF T_HASH = 4
DEF T_STREAM = 5

# Encoding names (OBJECT ENCODING) as emitted in the `encoding` column.
ENCODING_LABELS = [
    "raw", "int", "embstr", "hashtable", "linkedlist", "ziplist", "listpack", "listpackex",
    "intset", "zipmap", "quicklist", "skiplist", "stream",
]
DEF E_RAW = 0
DEF E_INT = 1
DEF E_EMBSTR = 2
DEF E_HASHTABLE = 3
DEF E_LINKEDLIST = 4
DEF E_ZIPLIST = 5
DEF E_LISTPACK = 6
DEF E_LISTPACKEX = 7
DEF E_INTSET = 8
DEF E_ZIPMAP = 9
DEF E_QUICKLIST = 10
DEF E_SKIPLIST = 11
DEF E_STREAM = 12
DEF E_MODULE = 13  # KeyFacts only; the column says "raw" as OBJECT ENCODING does

# The `type` and `encoding` columns are written as Arrow string data row by row (a memcpy of a few
# bytes), which is cheaper than a dictionary take over the batch afterwards.
DEF N_TYPE_LABELS = 6
DEF N_ENCODING_LABELS = 13
_LABEL_BYTES = [name.encode() for name in TYPE_NAMES + ENCODING_LABELS]
cdef KeyFacts _ZERO_FACTS
memset(&_ZERO_FACTS, 0, sizeof(KeyFacts))
cdef uint32_t _ENDIAN_PROBE = 1
cdef bint _LITTLE_ENDIAN = (<unsigned char*>&_ENDIAN_PROBE)[0] == 1
DEF LABEL_PAD = 16  # every built-in label is shorter; copied as a fixed 16-byte block
cdef char _TYPE_LABEL[N_TYPE_LABELS][LABEL_PAD]
cdef int _TYPE_LABEL_LEN[N_TYPE_LABELS]
cdef char _ENCODING_LABEL[N_ENCODING_LABELS][LABEL_PAD]
cdef int _ENCODING_LABEL_LEN[N_ENCODING_LABELS]
memset(_TYPE_LABEL, 0, sizeof(_TYPE_LABEL))
memset(_ENCODING_LABEL, 0, sizeof(_ENCODING_LABEL))
for _i in range(N_TYPE_LABELS + N_ENCODING_LABELS):
    if len(_LABEL_BYTES[_i]) >= LABEL_PAD:
        raise ImportError(f"label {_LABEL_BYTES[_i]!r} is longer than {LABEL_PAD - 1} bytes")
for _i in range(N_TYPE_LABELS):
    memcpy(_TYPE_LABEL[_i], <const char*>(<bytes>_LABEL_BYTES[_i]), len(_LABEL_BYTES[_i]))
    _TYPE_LABEL_LEN[_i] = len(_LABEL_BYTES[_i])
for _i in range(N_ENCODING_LABELS):
    memcpy(_ENCODING_LABEL[_i], <const char*>(<bytes>_LABEL_BYTES[N_TYPE_LABELS + _i]),
           len(_LABEL_BYTES[N_TYPE_LABELS + _i]))
    _ENCODING_LABEL_LEN[_i] = len(_LABEL_BYTES[N_TYPE_LABELS + _i])

# Parse results.
DEF ST_NEED_MORE = 0
DEF ST_BATCH_FULL = 1
DEF ST_DONE = 2

# KeyFacts.kind values (see _model.pxd Kind) are the T_* numbers plus 6 for modules.
DEF KIND_MODULE = 6

_MODULE_CHARSET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

cdef int64_t INT64_MAX_ = 0x7FFFFFFFFFFFFFFF


cdef struct StrRef:
    const unsigned char* ptr   # the bytes when available (raw, or decompressed on request), else NULL
    int64_t length             # byte length of the string form
    bint is_int                # stored as an RDB integer encoding
    int64_t ival
    int64_t lzf                # compressed size when LZF-encoded in the file, else -1


cdef struct Stats:
    int64_t entries            # entries walked in a blob
    int64_t largest
    int64_t total
    bint all_int
    int64_t volatile
    int64_t min_ttl            # -1 when none


cdef inline int64_t _digits(int64_t v) noexcept nogil:
    """Length of the decimal representation of v (what the element would be as a string)."""
    cdef int64_t n = 1
    cdef uint64_t u
    if v < 0:
        n = 2
        u = <uint64_t>(-(v + 1)) + 1
    else:
        u = <uint64_t>v
    while u >= 10:
        u //= 10
        n += 1
    return n


cdef inline bint _is_canonical_int(const unsigned char* s, int64_t n) noexcept nogil:
    """True when s is how Redis prints a signed 64-bit integer (string2ll accepts it)."""
    cdef int64_t i = 0
    cdef uint64_t v = 0, limit
    cdef bint neg = False
    if n <= 0 or n > 20:
        return False
    if s[0] == 45:  # '-'
        neg = True
        i = 1
        if n == 1:
            return False
    if s[i] == 48:  # '0'
        return n == 1
    while i < n:
        if s[i] < 48 or s[i] > 57:
            return False
        if v > 1844674407370955161ULL:
            return False
        v = v * 10 + (s[i] - 48)
        if v < 10 and i > 1:  # overflow wrapped
            return False
        i += 1
    limit = 9223372036854775808ULL if neg else 9223372036854775807ULL
    return v <= limit


cdef inline int _utf8_seq(const unsigned char* s, int64_t n) noexcept nogil:
    """Length of the valid UTF-8 sequence starting at s (1-4), or 0 when the byte starts none."""
    cdef unsigned char c = s[0]
    if c < 0x80:
        return 1
    if c < 0xC2:
        return 0
    if c < 0xE0:
        return 2 if n >= 2 and (s[1] & 0xC0) == 0x80 else 0
    if c < 0xF0:
        if n < 3 or (s[1] & 0xC0) != 0x80 or (s[2] & 0xC0) != 0x80:
            return 0
        if c == 0xE0 and s[1] < 0xA0:
            return 0
        if c == 0xED and s[1] > 0x9F:
            return 0
        return 3
    if c < 0xF5:
        if n < 4 or (s[1] & 0xC0) != 0x80 or (s[2] & 0xC0) != 0x80 or (s[3] & 0xC0) != 0x80:
            return 0
        if c == 0xF0 and s[1] < 0x90:
            return 0
        if c == 0xF4 and s[1] > 0x8F:
            return 0
        return 4
    return 0


cdef class _Bytes:
    """A growable C buffer (key data of one batch, LZF scratch)."""
    cdef unsigned char* data
    cdef int64_t size
    cdef int64_t cap

    def __cinit__(self):
        self.data = NULL
        self.size = 0
        self.cap = 0

    def __dealloc__(self):
        free(self.data)

    cdef int reserve(self, int64_t extra) except -1:
        cdef int64_t want = self.size + extra
        cdef int64_t cap = self.cap if self.cap else 4096
        cdef unsigned char* p
        if want <= self.cap:
            return 0
        while cap < want:
            cap *= 2
        p = <unsigned char*>realloc(self.data, cap)
        if p == NULL:
            raise MemoryError()
        self.data = p
        self.cap = cap
        return 0


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
    cdef bint embedded_keys            # Valkey >= 8.1: the key lives in the value object (embstr limit)

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
    cdef int64_t key_item_start     # absolute offset where the key's first opcode started (-1 none)

    # current key
    cdef KeyFacts facts
    cdef _Bytes key_scratch
    cdef _Bytes val_scratch
    cdef const unsigned char* key_ptr
    cdef const unsigned char* key_buf_ptr  # == key_ptr when the key lies in the input buffer, else NULL
    cdef int64_t key_len
    cdef object cur_key_repr        # key named by truncation errors (set when an item ran short)
    cdef bint in_key

    # output batch
    cdef public int batch_size
    cdef public int n
    cdef _Bytes keydata
    cdef _Bytes typedata               # `type` column string data (offsets in r_type_off)
    cdef _Bytes encdata                # `encoding` column string data (offsets in r_enc_off)
    cdef bytes row_type_label          # a module key's type name (row_type >= N_TYPE_LABELS)
    cdef int64_t keydata_hint          # key bytes of the previous batch: the next one starts that big
    cdef public list type_names
    cdef dict module_type_index
    cdef object arrays
    cdef int[::1] c_db
    cdef int[::1] c_key_off
    cdef unsigned char[::1] c_key_binary
    cdef int[::1] c_type
    cdef int[::1] c_encoding
    cdef int64_t[::1] c_num
    cdef int64_t[::1] c_largest
    cdef int64_t[::1] c_elem_bytes
    cdef int64_t[::1] c_serialized
    cdef int64_t[::1] c_expires
    cdef unsigned char[::1] v_expires
    cdef int64_t[::1] c_idle
    cdef unsigned char[::1] v_idle
    cdef int16_t[::1] c_freq
    cdef unsigned char[::1] v_freq
    cdef unsigned char[::1] c_allint
    cdef unsigned char[::1] v_allint
    cdef int64_t[::1] c_volatile
    cdef int64_t[::1] c_minfield
    cdef unsigned char[::1] v_hfe
    cdef unsigned char[::1] v_minfield
    cdef int64_t[::1] c_s_entries
    cdef int64_t[::1] c_s_groups
    cdef int64_t[::1] c_s_consumers
    cdef int64_t[::1] c_s_pending
    cdef unsigned char[::1] v_stream
    cdef int[::1] c_module
    cdef int64_t[::1] c_mem
    cdef int64_t[::1] c_mem_key
    cdef int64_t[::1] c_mem_over
    cdef int64_t[::1] c_mem_value
    cdef int64_t[::1] c_mem_expires
    # Raw pointers into the always-written columns above (same arrays, kept alive by `arrays`):
    # _key checks the row against rows_cap once instead of 16 per-store memoryview checks.
    cdef int rows_cap
    cdef int* r_db
    cdef int* r_type
    cdef int* r_encoding
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
        self.db = 0
        self._clear_key_opcodes()
        self.key_scratch = _Bytes()
        self.val_scratch = _Bytes()
        self.keydata_hint = 0
        self.type_names = list(TYPE_NAMES)
        self.module_type_index = {}
        self.cur_key_repr = None
        self.in_key = False
        self._new_batch()

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
        if self.verify and self.pos > self.crc_pos:
            if self.crc_sink is not None:
                self.crc_sink(memoryview(self.buf)[self.crc_pos:self.pos])
            else:
                self.crc = crc64_update(self.crc, self.p + self.crc_pos, <size_t>(self.pos - self.crc_pos))
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
        if left == 0 and len(self.pending) == 1:
            v = self.pending[0]
            self.buf = v
            self.p = &v[0]
            self.end = v.shape[0]
        else:
            total = left + self.pending_bytes
            merged = bytearray(total)
            dst = merged
            if left:
                memcpy(dst, self.p + self.pos, <size_t>left)
            off = left
            for v in self.pending:
                memcpy(dst + off, &v[0], <size_t>v.shape[0])
                off += v.shape[0]
            self.buf = merged
            self.p = dst
            self.end = total
        self.pos = 0
        self.crc_pos = 0
        self.item_start = 0
        self.pending = []
        self.pending_bytes = 0
        return 0

    cdef int _short(self, int64_t n) except -1:
        """The item needs n more bytes than are buffered: ask for at least twice the item so far."""
        cdef int64_t have = self.end - self.item_start
        cdef int64_t need = (self.pos - self.item_start) + n
        self.want = need if need > 2 * have else 2 * have
        if self.want < 4096:
            self.want = 4096 if need < 4096 else need
        raise _NeedMore()

    cdef inline int _need(self, int64_t n) except -1:
        if n < 0 or n > self.end - self.pos:
            return self._need_slow(n)  # out of line: keeps this one small enough to inline
        return 0

    cdef int _need_slow(self, int64_t n) except -1:
        if n < 0:
            self._fail("negative length")
        self._short(n - (self.end - self.pos))
        return -1

    cdef int64_t _abs(self) noexcept:
        return self.base_offset + self.pos

    cdef int _fail(self, str message, object cls=None) except -1:
        key = self._key_repr() if self.in_key else None
        raise (cls or RdbFormatError)(message, offset=self.base_offset + self.pos, key=key)

    # ----------------------------------------------------------------------------------------
    # primitives

    cdef inline int _u8(self) except -1:
        self._need(1)
        self.pos += 1
        return self.p[self.pos - 1]

    cdef inline uint64_t _le(self, int nbytes) except? 0xFFFFFFFFFFFFFFFF:
        cdef uint64_t v = 0
        cdef int i
        self._need(nbytes)
        for i in range(nbytes - 1, -1, -1):
            v = (v << 8) | self.p[self.pos + i]
        self.pos += nbytes
        return v

    cdef inline uint64_t _len(self, bint* encoded) except? 0xFFFFFFFFFFFFFFFF:
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

    cdef uint64_t _len_slow(self, bint* encoded) except? 0xFFFFFFFFFFFFFFFF:
        cdef unsigned char b
        cdef uint64_t v
        cdef int i
        self._need(1)
        b = self.p[self.pos]
        encoded[0] = False
        if b < 0x40:
            self.pos += 1
            return b
        if b < 0x80:
            self._need(2)
            v = ((<uint64_t>(b & 0x3F)) << 8) | self.p[self.pos + 1]
            self.pos += 2
            return v
        if b == 0x80:
            self._need(5)
            v = 0
            for i in range(1, 5):
                v = (v << 8) | self.p[self.pos + i]
            self.pos += 5
            return v
        if b == 0x81:
            self._need(9)
            v = 0
            for i in range(1, 9):
                v = (v << 8) | self.p[self.pos + i]
            self.pos += 9
            return v
        if b >= 0xC0:
            encoded[0] = True
            self.pos += 1
            return b & 0x3F
        self._fail(f"invalid length byte 0x{b:02x}")
        return 0

    cdef int _skip_len(self) except -1:
        """A 64-bit length-encoded number whose value does not matter (ids, counters; may be -1)."""
        cdef bint enc
        self._len(&enc)
        if enc:
            self._fail("expected a number, found a string encoding")
        return 0

    cdef inline int64_t _plain_len(self) except -1:
        """A length that must not be a special encoding, bounded to int64."""
        cdef bint enc
        cdef uint64_t v = self._len(&enc)
        if enc or v > <uint64_t>INT64_MAX_:
            return self._bad_plain_len(enc, v)  # out of line: keeps this one small enough to inline
        return <int64_t>v

    cdef int64_t _bad_plain_len(self, bint enc, uint64_t v) except -1:
        if enc:
            self._fail("expected a length, found a string encoding")
        self._fail(f"length {v} out of range")
        return -1

    cdef int _lzf(self, const unsigned char* src, int64_t clen, unsigned char* dst, int64_t ulen) except -1:
        """Decompress (dst != NULL) or only validate (dst == NULL) an LZF block of exactly ulen bytes."""
        cdef int64_t ip = 0, op = 0, run, ref
        cdef unsigned int ctrl
        while ip < clen:
            ctrl = src[ip]
            ip += 1
            if ctrl < 32:
                run = ctrl + 1
                if ip + run > clen or op + run > ulen:
                    self._fail("corrupt LZF data (literal run overflows)")
                if dst != NULL:
                    memcpy(dst + op, src + ip, <size_t>run)
                ip += run
                op += run
            else:
                run = ctrl >> 5
                if run == 7:
                    if ip >= clen:
                        self._fail("corrupt LZF data (truncated back-reference)")
                    run += src[ip]
                    ip += 1
                if ip >= clen:
                    self._fail("corrupt LZF data (truncated back-reference)")
                ref = op - (((ctrl & 0x1F) << 8) + src[ip] + 1)
                ip += 1
                run += 2
                if ref < 0 or op + run > ulen:
                    self._fail("corrupt LZF data (back-reference out of range)")
                if dst != NULL:
                    # byte by byte: the regions may overlap (run-length style references)
                    while run > 0:
                        dst[op] = dst[ref]
                        op += 1
                        ref += 1
                        run -= 1
                else:
                    op += run
        if op != ulen:
            self._fail(f"corrupt LZF data (decompressed {op} bytes, header says {ulen})")
        return 0

    cdef int _str(self, StrRef* s, int want) except -1:
        """Read a string. want: 0 = length/int-ness only, 1 = bytes into val scratch, 2 = key scratch."""
        cdef bint enc
        cdef uint64_t v = self._len(&enc)
        cdef int64_t clen, ulen
        cdef _Bytes scratch
        s.is_int = False
        s.lzf = -1
        s.ptr = NULL
        if not enc:
            if v > <uint64_t>INT64_MAX_:
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
            clen = self._plain_len()
            ulen = self._plain_len()
            self._need(clen)
            if ulen > clen * 300 + 64:
                self._fail(f"LZF header claims {ulen} bytes from {clen} compressed bytes")
            s.lzf = clen
            s.length = ulen
            if want:
                scratch = self.key_scratch if want == 2 else self.val_scratch
                scratch.size = 0
                scratch.reserve(ulen + 1)
                self._lzf(self.p + self.pos, clen, scratch.data, ulen)
                s.ptr = scratch.data
            else:
                self._lzf(self.p + self.pos, clen, NULL, ulen)
            self.pos += clen
            return 0
        else:
            self._fail(f"unknown string encoding {v}")
        s.is_int = True
        s.length = _digits(s.ival)
        return 0

    cdef int _skip_str(self) except -1:
        cdef StrRef s
        self._str(&s, 0)
        return 0

    # ----------------------------------------------------------------------------------------
    # batches

    cdef _new_batch(self):
        cdef int b = self.batch_size
        a = {
            "db": np.empty(b, np.int32), "key_off": np.zeros(b + 1, np.int32),
            "key_binary": np.empty(b, np.uint8), "type": np.empty(b, np.int32),
            "encoding": np.empty(b, np.int32), "num_elements": np.empty(b, np.int64),
            "largest_element_bytes": np.empty(b, np.int64), "element_bytes": np.empty(b, np.int64),
            "serialized_bytes": np.empty(b, np.int64),
            "expires_at": np.empty(b, np.int64), "expires_at_valid": np.zeros(b, np.uint8),
            "lru_idle_s": np.empty(b, np.int64), "lru_idle_s_valid": np.zeros(b, np.uint8),
            "lfu_freq": np.empty(b, np.int16), "lfu_freq_valid": np.zeros(b, np.uint8),
            "all_integers": np.empty(b, np.uint8), "all_integers_valid": np.zeros(b, np.uint8),
            "volatile_fields": np.empty(b, np.int64), "hfe_valid": np.zeros(b, np.uint8),
            "min_field_expires_at": np.empty(b, np.int64), "min_field_valid": np.zeros(b, np.uint8),
            "stream_entries": np.empty(b, np.int64), "stream_groups": np.empty(b, np.int64),
            "stream_consumers": np.empty(b, np.int64), "stream_pending": np.empty(b, np.int64),
            "stream_valid": np.zeros(b, np.uint8), "module": np.empty(b, np.int32),
            "memory_bytes": np.empty(b, np.int64), "key_bytes": np.empty(b, np.int64),
            "overhead_bytes": np.empty(b, np.int64), "value_bytes": np.empty(b, np.int64),
            "expires_bytes": np.empty(b, np.int64),
            "type_off": np.zeros(b + 1, np.int32), "encoding_off": np.zeros(b + 1, np.int32),
        }
        self.arrays = a
        self.c_db = a["db"]; self.c_key_off = a["key_off"]; self.c_key_binary = a["key_binary"]
        self.c_type = a["type"]; self.c_encoding = a["encoding"]; self.c_num = a["num_elements"]
        self.c_largest = a["largest_element_bytes"]; self.c_elem_bytes = a["element_bytes"]
        self.c_serialized = a["serialized_bytes"]
        self.c_expires = a["expires_at"]; self.v_expires = a["expires_at_valid"]
        self.c_idle = a["lru_idle_s"]; self.v_idle = a["lru_idle_s_valid"]
        self.c_freq = a["lfu_freq"]; self.v_freq = a["lfu_freq_valid"]
        self.c_allint = a["all_integers"]; self.v_allint = a["all_integers_valid"]
        self.c_volatile = a["volatile_fields"]; self.v_hfe = a["hfe_valid"]
        self.c_minfield = a["min_field_expires_at"]; self.v_minfield = a["min_field_valid"]
        self.c_s_entries = a["stream_entries"]; self.c_s_groups = a["stream_groups"]
        self.c_s_consumers = a["stream_consumers"]; self.c_s_pending = a["stream_pending"]
        self.v_stream = a["stream_valid"]; self.c_module = a["module"]
        self.c_mem = a["memory_bytes"]; self.c_mem_key = a["key_bytes"]
        self.c_mem_over = a["overhead_bytes"]; self.c_mem_value = a["value_bytes"]
        self.c_mem_expires = a["expires_bytes"]
        self.rows_cap = b
        self.r_db = &self.c_db[0]; self.r_type = &self.c_type[0]; self.r_encoding = &self.c_encoding[0]
        self.r_module = &self.c_module[0]; self.r_num = &self.c_num[0]; self.r_largest = &self.c_largest[0]
        self.r_elem_bytes = &self.c_elem_bytes[0]; self.r_serialized = &self.c_serialized[0]
        self.r_mem = &self.c_mem[0]; self.r_mem_key = &self.c_mem_key[0]; self.r_mem_over = &self.c_mem_over[0]
        self.r_mem_value = &self.c_mem_value[0]; self.r_mem_expires = &self.c_mem_expires[0]
        cdef int[::1] type_off = a["type_off"]
        cdef int[::1] enc_off = a["encoding_off"]
        self.r_type_off = &type_off[0]
        self.r_enc_off = &enc_off[0]
        self.keydata = _Bytes()
        if self.keydata_hint > 0:
            self.keydata.reserve(self.keydata_hint + self.keydata_hint // 8)
        self.typedata = _Bytes()
        self.encdata = _Bytes()
        self.n = 0

    def take_batch(self):
        """Hand over the rows decoded so far: (n, dict of numpy arrays, key bytes) and start anew."""
        n = self.n
        arrays = self.arrays
        keys = bytes((<char*>self.keydata.data)[:self.keydata.size]) if self.keydata.size else b""
        arrays["type_data"] = np.frombuffer(
            (<char*>self.typedata.data)[:self.typedata.size] if self.typedata.size else b"", np.uint8)
        arrays["encoding_data"] = np.frombuffer(
            (<char*>self.encdata.data)[:self.encdata.size] if self.encdata.size else b"", np.uint8)
        self.keydata_hint = self.keydata.size
        self._new_batch()
        return n, arrays, keys

    cdef int _append_key(self) except -1:
        """Append the current key to the batch's key data, escaping it when it is not UTF-8."""
        cdef const unsigned char* s = self.key_ptr
        cdef int64_t n = self.key_len, i = 0
        cdef int k
        cdef bint ascii = True
        cdef _Bytes out = self.keydata
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
                out.reserve(16)
            memcpy(out.data + out.size, s, 16)
            out.size += n
            if out.size > 0x7FFFFFFF:
                self._fail("key data of one batch exceeds 2 GiB; use a smaller batch_size")
            self.c_key_binary[self.n] = 0
            self.c_key_off[self.n + 1] = <int>out.size
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
                out.reserve(n)
            memcpy(out.data + out.size, s, <size_t>n)
            out.size += n
            self.c_key_binary[self.n] = 0
        else:
            out.reserve(4 * n)
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
            self.c_key_binary[self.n] = 1
        if out.size > 0x7FFFFFFF:
            self._fail("key data of one batch exceeds 2 GiB; use a smaller batch_size")
        self.c_key_off[self.n + 1] = <int>out.size
        return 0

    cdef inline int _put_label(self, _Bytes out, int* offs, int row, const char* s, int64_t n) except -1:
        if out.size + n > out.cap:
            out.reserve(n)
        memcpy(out.data + out.size, s, <size_t>n)
        out.size += n
        return self._end_label(out, offs, row)

    cdef inline int _put_padded_label(self, _Bytes out, int* offs, int row, const char* s, int n) except -1:
        """A built-in label from a LABEL_PAD-byte table slot (n < LABEL_PAD)."""
        if out.size + LABEL_PAD > out.cap:
            out.reserve(LABEL_PAD)
        memcpy(out.data + out.size, s, LABEL_PAD)
        out.size += n
        return self._end_label(out, offs, row)

    cdef inline int _end_label(self, _Bytes out, int* offs, int row) except -1:
        if out.size > 0x7FFFFFFF:
            self._fail("label data of one batch exceeds 2 GiB; use a smaller batch_size")
        offs[row + 1] = <int>out.size
        return 0

    cdef object _key_repr(self):
        cdef bytes raw = (<const char*>self.key_ptr)[:self.key_len] if self.key_len else b""
        return raw.decode("utf-8", "backslashreplace")

    # ----------------------------------------------------------------------------------------
    # the main loop

    def parse(self):
        """Parse buffered items; returns 0 (needs more bytes), 1 (batch full) or 2 (RDB complete)."""
        self._absorb()
        self.want = 0
        try:  # one try for the whole run of items, not one per item
            return self._items()
        except _NeedMore:
            self.cur_key_repr = self._key_repr() if self.in_key else None
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
            if self.n >= self.batch_size:
                self._commit_crc()
                return ST_BATCH_FULL
            self.item_start = self.pos
            st = self._item()
            if st == ST_DONE:
                return ST_DONE

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
        if t < OP_RAM_LRU or (t > OP_RAM_LRU and t < OP_SLOT_IMPORT):
            return self._key(t)
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
            self._fail(f"unknown opcode or type byte {t}")
        return 0

    cdef void _mark_key_start(self) noexcept:
        if self.key_item_start < 0:
            self.key_item_start = self.base_offset + self.item_start

    cdef void _clear_key_opcodes(self) noexcept:
        self.has_expire = False
        self.has_idle = False
        self.has_freq = False
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
            if self.rdb_version < 1 or self.rdb_version > 13:
                raise RdbVersionError(f"unsupported RDB version {self.rdb_version}", offset=5)
        elif head[:6] == b"VALKEY" and head[6:9].isdigit():
            self.magic = "VALKEY"
            self.rdb_version = int(head[6:9])
            if self.rdb_version != 80:
                raise RdbVersionError(f"unsupported Valkey RDB version {self.rdb_version}", offset=6)
            self.valkey_types = True
        else:
            raise RdbFormatError(f"not an RDB file (starts with {bytes(head)!r})", offset=0)
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

        ``embedded_keys``: Valkey >= 8.1 keeps the key inside the value's object, so whether a string is
        embstr depends on key and value length together.
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

    cdef int _skip_module_opcodes(self) except -1:
        cdef int64_t op
        while True:
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
                self._fail(f"unknown module value opcode {op}")

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
        self._skip_module_opcodes()
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

    cdef int _key(self, int t) except -1:
        cdef StrRef k
        cdef int64_t start
        cdef MemBreakdown mb
        cdef int row = self.n
        self.facts = _ZERO_FACTS  # all fields zero (a fixed-size struct copy, inlined)
        self.facts.rdb_type = t
        self.in_key = False
        self._str(&k, 2)
        if k.is_int:
            kb = str(k.ival).encode()
            self.key_scratch.size = 0
            self.key_scratch.reserve(len(kb))
            memcpy(self.key_scratch.data, <const char*>kb, len(kb))
            self.key_ptr = self.key_scratch.data
        else:
            self.key_ptr = k.ptr
        # the key's bytes lie in the input buffer (not decompressed into key_scratch)
        self.key_buf_ptr = k.ptr if (not k.is_int and k.lzf < 0) else NULL
        self.key_len = k.length
        self.facts.key_len = k.length
        self.facts.has_expire = self.has_expire
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
            self._fail(f"internal error: row {row} outside a batch of {self.rows_cap}")
        self.r_db[row] = self.db
        self._append_key()
        self.r_type[row] = self.row_type
        self.r_encoding[row] = self.row_encoding
        if 0 <= self.row_type < N_TYPE_LABELS:
            self._put_padded_label(self.typedata, self.r_type_off, row,
                                   _TYPE_LABEL[self.row_type], _TYPE_LABEL_LEN[self.row_type])
        else:
            if self.row_type_label is None:
                self._fail(f"internal error: type {self.row_type} without a name")
            self._put_label(self.typedata, self.r_type_off, row,
                            <const char*>self.row_type_label, len(self.row_type_label))
        if not 0 <= self.row_encoding < N_ENCODING_LABELS:
            self._fail(f"internal error: encoding {self.row_encoding}")
        self._put_padded_label(self.encdata, self.r_enc_off, row,
                               _ENCODING_LABEL[self.row_encoding], _ENCODING_LABEL_LEN[self.row_encoding])
        self.r_num[row] = self.facts.num_elements
        self.r_largest[row] = self.row_largest
        self.r_elem_bytes[row] = self.row_elem_bytes
        self.r_serialized[row] = self.base_offset + self.pos + self.skip_remaining - start
        if self.has_expire:
            self.c_expires[row] = self.expire_ms
            self.v_expires[row] = 1
        if self.has_idle:
            self.c_idle[row] = self.idle
            self.v_idle[row] = 1
        if self.has_freq:
            self.c_freq[row] = <int16_t>self.freq
            self.v_freq[row] = 1
        if self.row_allint >= 0:
            self.c_allint[row] = <unsigned char>self.row_allint
            self.v_allint[row] = 1
        if self.row_hfe:
            self.v_hfe[row] = 1
            self.c_volatile[row] = self.row_volatile
            if self.row_minfield >= 0:
                self.c_minfield[row] = self.row_minfield
                self.v_minfield[row] = 1
        if self.row_stream:
            self.v_stream[row] = 1
            self.c_s_entries[row] = self.s_entries
            self.c_s_groups[row] = self.s_groups
            self.c_s_consumers[row] = self.s_consumers
            self.c_s_pending[row] = self.s_pending
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
        self.cur_key_repr = None
        return 0

    cdef inline void _elem(self, int64_t nbytes) noexcept:
        if nbytes > self.row_largest:
            self.row_largest = nbytes
        self.row_elem_bytes += nbytes

    cdef inline void _blob(self, int64_t nbytes, int64_t compressed) noexcept:
        self.facts.blob_count += 1
        self.facts.blob_bytes += nbytes
        self.facts.blob_alloc += self.model.blob(&self.facts, nbytes, compressed)

    cdef int _value(self, int t) except -1:
        if t == 0:
            return self._string_value()
        if t == 1 or t == 2:
            return self._plain_collection(t)
        if t == 3 or t == 5:
            return self._zset_plain(t)
        if t == 4:
            return self._hash_plain()
        if t == 6:
            self._fail("pre-GA module value (type 6) cannot be skipped", RdbVersionError)
        if t == 7:
            return self._module_value()
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
        self.pos = self.item_start
        self._fail(f"unknown value type {t}")
        return 0

    cdef int _string_value(self) except -1:
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
                self._fail(f"string length {v} out of range")
            avail = self.end - self.pos
            self.skip_remaining = <int64_t>v - avail
            self.pos = self.end
            self.facts.value_len = <int64_t>v
            self.row_encoding = E_RAW
            self.facts.encoding = E_RAW
            self._elem(<int64_t>v)
            return 0
        self.pos = here
        self._str(&s, 0)
        self.facts.value_len = s.length
        self._elem(s.length)
        if s.is_int or (s.ptr != NULL and s.length <= 20 and _is_canonical_int(s.ptr, s.length)):
            self.facts.int_value = True
            self.row_encoding = E_INT
        elif self._embstr_fits(s.length):
            self.row_encoding = E_EMBSTR
        else:
            self.row_encoding = E_RAW
        self.facts.encoding = self.row_encoding
        return 0

    cdef bint _embstr_fits(self, int64_t value_len) noexcept:
        if self.embedded_keys:
            # measured on Valkey 8.1: key + value <= 41 bytes, 39 with a TTL and a key of 32+ bytes
            if self.has_expire and self.key_len >= 32:
                return self.key_len + value_len <= 39
            return self.key_len + value_len <= 41
        return value_len <= self._embstr_limit()

    cdef int64_t _embstr_limit(self) noexcept:
        if self.ver_major > 3 or (self.ver_major == 3 and self.ver_minor >= 2):
            return 44
        if self.ver_major == 3:
            return 39
        return -1

    cdef bint _at_least(self, int major, int minor) noexcept:
        return self.ver_major > major or (self.ver_major == major and self.ver_minor >= minor)

    cdef int _plain_collection(self, int t) except -1:
        """Type 1 (linked list) and 2 (hashtable set): a count then one string per element."""
        cdef int64_t n = self._plain_len(), i
        cdef StrRef s
        cdef bint all_int = True
        self.facts.kind = T_LIST if t == 1 else T_SET
        self.row_type = self.facts.kind
        self.row_encoding = E_LINKEDLIST if t == 1 else E_HASHTABLE
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

    cdef int _zset_plain(self, int t) except -1:
        cdef int64_t n = self._plain_len(), i, slen
        cdef StrRef s
        self.facts.kind = T_ZSET
        self.row_type = T_ZSET
        self.row_encoding = E_SKIPLIST
        self.facts.encoding = E_SKIPLIST
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

    cdef int _hash_plain(self) except -1:
        cdef int64_t n = self._plain_len(), i
        cdef StrRef f, v
        self.facts.kind = T_HASH
        self.row_type = T_HASH
        self.row_encoding = E_HASHTABLE
        self.facts.encoding = E_HASHTABLE
        for i in range(n):
            self._str(&f, 0)
            self._str(&v, 0)
            self._elem(f.length)
            self._elem(v.length)
            self.facts.elem_alloc += self.model.element(&self.facts, f.length, v.length)
        self.facts.num_elements = n
        return 0

    cdef int _hash_ttl(self, int t) except -1:
        """Hashes with field TTLs stored field by field: Redis 22 (pre-GA) / 24, Valkey HASH_2 (22)."""
        cdef int64_t n, i, ttl, min_exp = 0, exp
        cdef StrRef f, v
        cdef bint valkey = self.valkey_types and t == 22
        self.facts.kind = T_HASH
        self.row_type = T_HASH
        self.row_encoding = E_HASHTABLE
        self.facts.encoding = E_HASHTABLE
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
        self._skip_module_opcodes()
        name = self._module_name(mid)
        if name not in self.modules:
            self.modules.append(name)
        idx = self.module_type_index.get(name, -1)
        if idx < 0:
            idx = len(self.type_names)
            self.type_names.append(name)
            self.module_type_index[name] = idx
        self.facts.kind = KIND_MODULE
        self.facts.encoding = E_MODULE
        self.facts.module_bytes = self.pos - start
        self.facts.num_elements = 1
        self._elem(self.facts.module_bytes)
        self.row_type = idx
        self.row_type_label = name.encode()
        self.row_module = idx
        self.row_encoding = E_RAW
        return 0

    # --- compact blobs ---------------------------------------------------------------------------

    cdef int _blob_str(self, StrRef* s) except -1:
        """A string holding a compact structure: bytes needed (decompressed when LZF)."""
        self._str(s, 1)
        if s.is_int:
            self._fail("expected a serialized blob, found an integer")
        return 0

    cdef int _walk_ziplist(self, const unsigned char* z, int64_t n, int stride, int mask, Stats* st) except -1:
        """Validate a ziplist and gather element lengths; entry i counts when mask has bit i % stride."""
        cdef int64_t pos = 10, count = 0, hdr_count, l, elen, total
        cdef unsigned char enc
        cdef bint isint
        if n < 11:
            self._fail("ziplist blob too short")
        total = z[0] | (z[1] << 8) | (z[2] << 16) | (<int64_t>z[3] << 24)
        if total != n:
            self._fail(f"ziplist header says {total} bytes, blob has {n}")
        hdr_count = z[8] | (z[9] << 8)
        while True:
            if pos >= n:
                self._fail("ziplist runs past its end")
            if z[pos] == 0xFF:
                break
            # prevlen
            if z[pos] == 0xFE:
                pos += 5
            else:
                pos += 1
            if pos >= n:
                self._fail("ziplist entry runs past its end")
            enc = z[pos]
            isint = False
            if enc < 0x40:
                l = enc & 0x3F
                pos += 1
            elif enc < 0x80:
                if pos + 2 > n:
                    self._fail("ziplist entry runs past its end")
                l = ((enc & 0x3F) << 8) | z[pos + 1]
                pos += 2
            elif enc == 0x80:
                if pos + 5 > n:
                    self._fail("ziplist entry runs past its end")
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
                    l = _digits(<int64_t>self._le_at(z + pos, 8)) if pos + 8 <= n else 0
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
                    self._fail(f"bad ziplist entry encoding 0x{enc:02x}")
                    elen = 0
                    l = 0
                if pos + elen > n:
                    self._fail("ziplist entry runs past its end")
                pos += elen
            if not isint:
                if pos + l > n:
                    self._fail("ziplist string entry runs past its end")
                pos += l
            if (mask >> (count % stride)) & 1:
                if l > st.largest:
                    st.largest = l
                st.total += l
                if not isint:
                    st.all_int = False
            count += 1
        if pos != n - 1:
            self._fail("ziplist has bytes after its end marker")
        if hdr_count != 0xFFFF and hdr_count != count:
            self._fail(f"ziplist header says {hdr_count} entries, found {count}")
        st.entries = count
        return 0

    cdef inline uint64_t _le_at(self, const unsigned char* q, int nbytes) noexcept:
        cdef uint64_t v = 0
        cdef int i
        for i in range(nbytes - 1, -1, -1):
            v = (v << 8) | q[i]
        return v

    cdef int _walk_listpack(self, const unsigned char* z, int64_t n, int stride, int mask, int ttl_slot, Stats* st) except -1:
        """Validate a listpack and gather element lengths (see _walk_ziplist); ttl_slot marks field TTLs."""
        cdef int64_t pos = 6, count = 0, hdr_count, l, total, elen, ival, hl
        cdef unsigned char enc
        cdef bint isint
        if n < 7:
            self._fail("listpack blob too short")
        total = z[0] | (z[1] << 8) | (z[2] << 16) | (<int64_t>z[3] << 24)
        if total != n:
            self._fail(f"listpack header says {total} bytes, blob has {n}")
        hdr_count = z[4] | (z[5] << 8)
        while True:
            if pos >= n:
                self._fail("listpack runs past its end")
            enc = z[pos]
            if enc == 0xFF:
                break
            isint = True
            ival = 0
            if enc < 0x80:
                ival = enc
                hl = 1
                elen = 0
            elif enc < 0xC0:
                isint = False
                hl = 1
                elen = enc & 0x3F
            elif enc < 0xE0:
                hl = 2
                elen = 0
                if pos + 2 > n:
                    self._fail("listpack entry runs past its end")
                ival = ((enc & 0x1F) << 8) | z[pos + 1]
                if ival >= 4096:
                    ival -= 8192
            elif enc < 0xF0:
                isint = False
                hl = 2
                if pos + 2 > n:
                    self._fail("listpack entry runs past its end")
                elen = ((enc & 0x0F) << 8) | z[pos + 1]
            elif enc == 0xF0:
                isint = False
                hl = 5
                if pos + 5 > n:
                    self._fail("listpack entry runs past its end")
                elen = <int64_t>self._le_at(z + pos + 1, 4)
            elif enc >= 0xF1 and enc <= 0xF4:
                hl = 1
                elen = 2 if enc == 0xF1 else (3 if enc == 0xF2 else (4 if enc == 0xF3 else 8))
                if pos + 1 + elen > n:
                    self._fail("listpack entry runs past its end")
                ival = <int64_t>self._le_at(z + pos + 1, <int>elen)
                if elen < 8 and ival >= (<int64_t>1 << (8 * elen - 1)):
                    ival -= (<int64_t>1 << (8 * elen))
            else:
                self._fail(f"bad listpack entry encoding 0x{enc:02x}")
                return -1
            l = hl + elen
            # the entry is followed by its back-length: 1 byte per 7 bits of l
            total = l + (1 if l < 128 else (2 if l < 16384 else (3 if l < 2097152 else (4 if l < 268435456 else 5))))
            if pos + total > n - 1:
                self._fail("listpack entry runs past its end")
            pos += total
            l = _digits(ival) if isint else elen
            if ttl_slot >= 0 and count % stride == ttl_slot:
                if isint and ival > 0:
                    st.volatile += 1
                    if st.min_ttl < 0 or ival < st.min_ttl:
                        st.min_ttl = ival
            elif (mask >> (count % stride)) & 1:
                if l > st.largest:
                    st.largest = l
                st.total += l
                if not isint:
                    st.all_int = False
            count += 1
        if pos != n - 1:
            self._fail("listpack has bytes after its end marker")
        if hdr_count != 0xFFFF and hdr_count != count:
            self._fail(f"listpack header says {hdr_count} entries, found {count}")
        st.entries = count
        return 0

    cdef int _lp_entry(self, const unsigned char* z, int64_t n, int64_t* pos, int64_t* ival) except -1:
        """Decode the listpack entry at *pos and step past it: 1 = integer (*ival), 0 = string of
        *ival bytes, 2 = the end marker."""
        cdef int64_t p = pos[0], hl, elen, total, v = 0
        cdef unsigned char enc
        cdef int isint = 1
        if p >= n:
            self._fail("listpack runs past its end")
        enc = z[p]
        if enc == 0xFF:
            return 2
        if enc < 0x80:
            v = enc
            hl = 1
            elen = 0
        elif enc < 0xC0:
            isint = 0
            hl = 1
            elen = enc & 0x3F
        elif enc < 0xE0:
            hl = 2
            elen = 0
            if p + 2 > n:
                self._fail("listpack entry runs past its end")
            v = ((enc & 0x1F) << 8) | z[p + 1]
            if v >= 4096:
                v -= 8192
        elif enc < 0xF0:
            isint = 0
            hl = 2
            if p + 2 > n:
                self._fail("listpack entry runs past its end")
            elen = ((enc & 0x0F) << 8) | z[p + 1]
        elif enc == 0xF0:
            isint = 0
            hl = 5
            if p + 5 > n:
                self._fail("listpack entry runs past its end")
            elen = <int64_t>self._le_at(z + p + 1, 4)
        elif enc >= 0xF1 and enc <= 0xF4:
            hl = 1
            elen = 2 if enc == 0xF1 else (3 if enc == 0xF2 else (4 if enc == 0xF3 else 8))
            if p + 1 + elen > n:
                self._fail("listpack entry runs past its end")
            v = <int64_t>self._le_at(z + p + 1, <int>elen)
            if elen < 8 and v >= (<int64_t>1 << (8 * elen - 1)):
                v -= (<int64_t>1 << (8 * elen))
        else:
            self._fail(f"bad listpack entry encoding 0x{enc:02x}")
            return -1
        total = hl + elen
        total += 1 if total < 128 else (2 if total < 16384 else (3 if total < 2097152 else (4 if total < 268435456 else 5)))
        if p + total > n - 1:
            self._fail("listpack entry runs past its end")
        pos[0] = p + total
        ival[0] = v if isint else elen
        return isint

    cdef int64_t _lp_int(self, const unsigned char* z, int64_t n, int64_t* pos) except? -1:
        cdef int64_t v
        if self._lp_entry(z, n, pos, &v) != 1:
            self._fail("stream listpack: expected an integer entry")
        return v

    cdef inline int64_t _lp_len(self, const unsigned char* z, int64_t n, int64_t* pos) except -1:
        """Byte length (as a string) of the next entry, which must not be the end marker."""
        cdef int64_t v
        cdef int kind = self._lp_entry(z, n, pos, &v)
        if kind == 2:
            self._fail("stream listpack ends inside an entry")
        return _digits(v) if kind == 1 else v

    cdef int _walk_stream_node(self, const unsigned char* z, int64_t n) except -1:
        """Field and value sizes of the live entries of one stream listpack node (t_stream.c layout:
        a master entry with the node's field names, then entries that reuse them or carry their own)."""
        cdef int64_t pos = 6, nf, i, k, flags, l, v
        cdef int64_t* master = NULL
        self._lp_int(z, n, &pos)  # live count
        self._lp_int(z, n, &pos)  # deleted count
        nf = self._lp_int(z, n, &pos)
        if nf < 0 or nf > n:
            self._fail(f"stream node claims {nf} master fields")
        master = <int64_t*>malloc((nf + 1) * sizeof(int64_t))
        if master == NULL:
            raise MemoryError()
        try:
            for i in range(nf):
                master[i] = self._lp_len(z, n, &pos)
            if self._lp_int(z, n, &pos) != 0:
                self._fail("stream node master entry is not terminated by 0")
            while self._lp_entry(z, n, &pos, &v) != 2:
                flags = v
                self._lp_int(z, n, &pos)  # ms delta
                self._lp_int(z, n, &pos)  # seq delta
                if flags & 2:  # same fields as the master entry: values only
                    for i in range(nf):
                        l = self._lp_len(z, n, &pos)
                        if not flags & 1:
                            self._elem(master[i])
                            self._elem(l)
                else:
                    k = self._lp_int(z, n, &pos)
                    if k < 0 or k > n:
                        self._fail(f"stream entry claims {k} fields")
                    for i in range(2 * k):
                        l = self._lp_len(z, n, &pos)
                        if not flags & 1:
                            self._elem(l)
                self._lp_int(z, n, &pos)  # entry's element count (for backward iteration)
            if pos != n - 1:
                self._fail("stream listpack has bytes after its end marker")
        finally:
            free(master)
        return 0

    cdef inline void _stats_init(self, Stats* st) noexcept:
        st.entries = 0
        st.largest = 0
        st.total = 0
        st.all_int = True
        st.volatile = 0
        st.min_ttl = -1

    cdef inline void _take_stats(self, Stats* st) noexcept:
        if st.largest > self.row_largest:
            self.row_largest = st.largest
        self.row_elem_bytes += st.total

    cdef int _ziplist_value(self, int t) except -1:
        cdef StrRef s
        cdef Stats st
        self._blob_str(&s)
        self._stats_init(&st)
        if t == 10:
            self.facts.kind = T_LIST
            self._walk_ziplist(s.ptr, s.length, 1, 1, &st)
            self.facts.num_elements = st.entries
        else:
            self.facts.kind = T_ZSET if t == 12 else T_HASH
            self._walk_ziplist(s.ptr, s.length, 2, 1 if t == 12 else 3, &st)
            if st.entries % 2:
                self._fail("ziplist of pairs has an odd number of entries")
            self.facts.num_elements = st.entries // 2
        self.row_type = self.facts.kind
        self.row_encoding = E_ZIPLIST
        self.facts.encoding = E_ZIPLIST
        self._take_stats(&st)
        self._blob(s.length, -1)
        return 0

    cdef int _listpack_value(self, int t) except -1:
        cdef StrRef s
        cdef Stats st
        self._blob_str(&s)
        self._stats_init(&st)
        if t == 20:
            self.facts.kind = T_SET
            self._walk_listpack(s.ptr, s.length, 1, 1, -1, &st)
            self.facts.num_elements = st.entries
            self.row_allint = 1 if st.all_int else 0
        else:
            self.facts.kind = T_ZSET if t == 17 else T_HASH
            self._walk_listpack(s.ptr, s.length, 2, 1 if t == 17 else 3, -1, &st)
            if st.entries % 2:
                self._fail("listpack of pairs has an odd number of entries")
            self.facts.num_elements = st.entries // 2
        self.row_type = self.facts.kind
        self.row_encoding = E_LISTPACK
        self.facts.encoding = E_LISTPACK
        self._take_stats(&st)
        self._blob(s.length, -1)
        return 0

    cdef int _hash_listpack_ex(self, int t) except -1:
        cdef StrRef s
        cdef Stats st
        if t == 25:
            self._le(8)  # minimum field expiry; recomputed from the entries
        self._blob_str(&s)
        self._stats_init(&st)
        self._walk_listpack(s.ptr, s.length, 3, 3, 2, &st)
        if st.entries % 3:
            self._fail("listpackex hash entries are not field/value/ttl triplets")
        self.facts.kind = T_HASH
        self.row_type = T_HASH
        self.row_encoding = E_LISTPACKEX
        self.facts.encoding = E_LISTPACKEX
        self.facts.num_elements = st.entries // 3
        self.row_hfe = True
        self.row_volatile = st.volatile
        self.row_minfield = st.min_ttl
        self.facts.volatile_fields = st.volatile
        self._take_stats(&st)
        self._blob(s.length, -1)
        return 0

    cdef int _intset(self) except -1:
        cdef StrRef s
        cdef int64_t width, count, i, v
        self._blob_str(&s)
        if s.length < 8:
            self._fail("intset blob too short")
        width = <int64_t>self._le_at(s.ptr, 4)
        count = <int64_t>self._le_at(s.ptr + 4, 4)
        if width != 2 and width != 4 and width != 8:
            self._fail(f"intset has element width {width}")
        if 8 + width * count != s.length:
            self._fail(f"intset claims {count} elements of {width} bytes in a {s.length}-byte blob")
        for i in range(count):
            v = <int64_t>self._le_at(s.ptr + 8 + i * width, <int>width)
            if width == 2:
                v = <int16_t>v
            elif width == 4:
                v = <int32_t>v
            self._elem(_digits(v))
        self.facts.kind = T_SET
        self.row_type = T_SET
        self.row_encoding = E_INTSET
        self.facts.encoding = E_INTSET
        self.facts.num_elements = count
        self.row_allint = 1
        self._blob(s.length, -1)
        return 0

    cdef int _zipmap(self) except -1:
        cdef StrRef s
        cdef const unsigned char* z
        cdef int64_t n, pos = 1, l, count = 0, free_
        cdef int which
        self._blob_str(&s)
        z = s.ptr
        n = s.length
        if n < 2:
            self._fail("zipmap blob too short")
        while True:
            if pos >= n:
                self._fail("zipmap runs past its end")
            if z[pos] == 0xFF:
                break
            for which in range(2):
                if pos >= n:
                    self._fail("zipmap runs past its end")
                l = z[pos]
                if l == 254:
                    if pos + 5 > n:
                        self._fail("zipmap runs past its end")
                    l = <int64_t>self._le_at(z + pos + 1, 4)
                    pos += 5
                elif l == 255:
                    self._fail("zipmap entry has no value")
                else:
                    pos += 1
                free_ = 0
                if which == 1:
                    if pos >= n:
                        self._fail("zipmap runs past its end")
                    free_ = z[pos]
                    pos += 1
                if pos + l + free_ > n:
                    self._fail("zipmap entry runs past its end")
                pos += l + free_
                self._elem(l)
            count += 1
        if pos != n - 1:
            self._fail("zipmap has bytes after its end marker")
        self.facts.kind = T_HASH
        self.row_type = T_HASH
        self.row_encoding = E_ZIPMAP
        self.facts.encoding = E_ZIPMAP
        self.facts.num_elements = count
        self._blob(n, -1)
        return 0

    cdef int _quicklist(self, int t) except -1:
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
                    self._fail(f"quicklist node container {container} unknown")
            self._blob_str(&s)
            # LZF in the file means the node was held compressed (never the head or tail node)
            compressed = s.lzf if (s.lzf >= 0 and i > 0 and i < nodes - 1) else -1
            if compressed >= 0:
                self.facts.compressed_nodes += 1
            if container == 1:
                self.facts.plain_nodes += 1
                self._elem(s.length)
                total += 1
            else:
                self._stats_init(&st)
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
            self.row_encoding = E_LISTPACK
        else:
            self.row_encoding = E_QUICKLIST
        self.facts.encoding = self.row_encoding
        return 0

    cdef int _stream(self, int t) except -1:
        cdef int64_t nodes = self._plain_len(), i, groups, pel, consumers, j, cpel, name_bytes = 0
        cdef int64_t total_pel = 0, total_consumers = 0, runs, gname, cname, k
        cdef const unsigned char* prev
        cdef StrRef s
        self.facts.kind = T_STREAM
        self.row_type = T_STREAM
        self.row_encoding = E_STREAM
        self.facts.encoding = E_STREAM
        for i in range(nodes):
            self._blob_str(&s)
            if s.length != 16:
                self._fail(f"stream node key has {s.length} bytes, expected 16")
            self._blob_str(&s)
            if s.length < 7 or s.ptr[s.length - 1] != 0xFF or <int64_t>self._le_at(s.ptr, 4) != s.length:
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
