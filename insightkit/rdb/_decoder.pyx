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

This module keeps the driver: buffering and refills, the item loop with its opcode dispatch, segments
and the checksum. The reads and the key being decoded live in an ``Rd`` (_state.pxd); the values are
parsed by _values_*.pyx, one call a value, and the row is written by _rows.pyx, one call a key.
"""

cimport cython
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport free
from libc.string cimport memcpy, memset

from insightkit.memory._model cimport KeyFacts, MemBreakdown, MemoryModel
from insightkit.rdb._crc64 cimport crc64_update
from insightkit.rdb._keys cimport _clear_key_opcodes, _key_name, _key_prefix
from insightkit.rdb._kinds cimport *
from insightkit.rdb._rows cimport ColumnBuilder, _put_row
from insightkit.rdb._scan cimport ScanFmt, _sk_keys
from insightkit.rdb._state cimport *
from insightkit.rdb._tmpl cimport _Templates
from insightkit.rdb._values_blobs cimport (
    _hash_listpack_ex, _intset, _listpack_value, _quicklist, _zipmap, _ziplist_value,
)
from insightkit.rdb._values_flat cimport _hash_plain, _hash_ttl, _plain_collection, _string_value, _zset_plain
from insightkit.rdb._values_module cimport (
    _function_name, _function_pre_ga, _module_aux, _module_value,
)
from insightkit.rdb._values_rdb15 cimport _array, _gcra, _template_hash, _template_record
from insightkit.rdb._values_stream cimport _stream

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_FromStringAndSize, PyByteArray_Resize
from cpython.ref cimport Py_REFCNT

from insightkit.errors import RdbChecksumError, RdbFormatError, RdbTruncatedError, RdbVersionError
from insightkit.rdb._state import NeedMore as _NeedMore
from insightkit.rdb.kinds import ENCODING_LABELS, TYPE_NAMES


cdef KeyFacts _ZERO_FACTS
memset(&_ZERO_FACTS, 0, sizeof(KeyFacts))

MAX_SPARE_BUFFERS = 3


@cython.final
cdef class Decoder:
    """Incremental decoder; driven by insightkit.rdb.reader (feed/parse/take_batch)."""

    cdef Rd r                       # the input cursor and the key being decoded (_state.pxd)
    cdef ColumnBuilder cols         # the batch's columns (_rows.pyx)

    # buffer
    cdef object buf                 # object owning the bytes under `r.p`
    cdef list pending
    cdef list spare_buffers         # earlier merge buffers, reused by _absorb once free
    cdef int64_t pending_bytes

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
    cdef public bint newer_than_known  # the header's version is newer than the newest this decoder knows
    cdef bint key_meta_ok              # 0xF3 is KEY_META (REDIS magic, RDB >= 13), else SLOT_IMPORT
    cdef ScanFmt scan_fmt
    cdef _Templates templates          # hash templates declared so far (shared with segment decoders)
    cdef bint barrier_passed           # segment decoders are idle: the template table may grow

    cdef int64_t db_count            # keys of `db` not yet added to keys_per_db (no dict op per key)
    cdef int64_t db_expires          # ...and those with a TTL, for expires_per_db
    cdef object cur_key_repr        # key named by truncation errors (set when an item ran short)
    cdef bint has_key_repr          # cur_key_repr is not None (tested without the GIL)
    cdef bytes row_type_label          # a module key's type name (row_type >= N_TYPE_LABELS)

    # output batch
    cdef public int batch_size
    cdef int _batch_limit           # rows at which the lead's batch is full (<= batch_size; see reader)
    cdef public int n
    cdef public list type_names
    cdef dict module_type_index

    # segments (see take_segment): runs of keys the reader has decoded on other threads
    cdef public int64_t segment_room   # most keys the next segment may hold (0: never segment)
    cdef public bint slot_open         # the reader's current segment batch has rows
    cdef public int64_t scan_min_bytes # scan for a new segment only with this much buffered...
    cdef public int64_t segment_min_keys  # ...and hand one over only when it holds this many keys
    cdef int64_t scan_after            # (relative) no scan before this position: the lead decodes there
    cdef bint segmenting               # a segment was handed over: hand over every run from now on
    cdef int64_t seg_start, seg_end, seg_keys, seg_base
    cdef int seg_db

    def __init__(self, int batch_size=65536, bint verify_checksum=True, object on_header=None):
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size
        self._batch_limit = batch_size
        self.verify = verify_checksum
        self.on_header = on_header
        self.crc_sink = None
        self.crc_wait = None
        memset(&self.r, 0, sizeof(Rd))
        self.buf = b""
        self.r.p = <const unsigned char*>b""
        self.pending = []
        self.pending_bytes = 0
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
        self.newer_than_known = False
        self.key_meta_ok = False
        self.templates = _Templates()
        self.r.tt = &self.templates.t
        self.barrier_passed = False
        self._set_scan_fmt()
        _clear_key_opcodes(&self.r)
        self.type_names = list(TYPE_NAMES)
        self.module_type_index = {}
        self.cur_key_repr = None
        self.has_key_repr = False
        self.segment_room = 0
        self.slot_open = False
        self.scan_min_bytes = 256 * 1024
        self.segment_min_keys = 2048
        self.scan_after = 0
        self.cols = ColumnBuilder(batch_size)
        self.n = 0

    def __dealloc__(self):
        free(self.r.key_scratch.data)
        free(self.r.val_scratch.data)
        free(self.r.name_scratch.data)

    @property
    def want(self):
        """Bytes the buffer must hold before parsing resumes."""
        return self.r.want

    @want.setter
    def want(self, int64_t n):
        self.r.want = n

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
        return (self.r.end - self.r.pos) + self.pending_bytes >= self.r.want and self.pending_bytes + (self.r.end - self.r.pos) > 0

    cdef int _commit_crc(self) except -1:
        """Checksum the bytes parsed since the last call: in large spans, on another thread if asked."""
        if self.r.pos > self.crc_pos:
            if not self.verify:
                pass
            elif self.crc_sink is not None:
                self.crc_sink(memoryview(self.buf)[self.crc_pos:self.r.pos])
            else:
                self.crc = crc64_update(self.crc, self.r.p + self.crc_pos, <size_t>(self.r.pos - self.crc_pos))
            # never moved back: an item restarted after _NeedMore (the EOF marker, whose checksum
            # trailer was cut off) must not have its bytes checksummed twice
            self.crc_pos = self.r.pos
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
        left = self.r.end - self.r.pos
        self.r.base_offset += self.r.pos
        self.scan_after = self.scan_after - self.r.pos if self.scan_after > self.r.pos else 0
        if left == 0 and len(self.pending) == 1:
            v = self.pending[0]
            self.buf = v
            self.r.p = &v[0]
            self.r.end = v.shape[0]
        else:
            total = left + self.pending_bytes
            merged = self._merge_buffer(total)  # uninitialised: filled just below
            dst = <unsigned char*>PyByteArray_AS_STRING(merged)
            if left:
                memcpy(dst, self.r.p + self.r.pos, <size_t>left)
            off = left
            for v in self.pending:
                memcpy(dst + off, &v[0], <size_t>v.shape[0])
                off += v.shape[0]
            self.buf = merged
            self.r.p = dst
            self.r.end = total
        self.crc_pos = self.crc_pos - self.r.pos if self.crc_pos > self.r.pos else 0
        self.r.pos = 0
        self.r.item_start = 0
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

    # ----------------------------------------------------------------------------------------
    # batches

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
        self.n = 0
        return self.cols.take(n)

    # ----------------------------------------------------------------------------------------
    # the main loop

    def parse(self):
        """Parse buffered items; returns 0 (needs more bytes), 1 (batch full), 2 (RDB complete),
        3 (a segment is ready: take_segment()) or 4 (close the open segment batch, then parse on)."""
        self._absorb()
        self.r.want = 0
        try:  # one try for the whole run of items, not one per item
            return self._items()
        except _NeedMore:
            self.cur_key_repr = _key_repr(&self.r) if self.r.in_key else None
            self.has_key_repr = self.cur_key_repr is not None
            self.r.in_key = False
            self.r.pos = self.r.item_start
            self._commit_crc()
            return ST_NEED_MORE

    cdef int _items(self) except -1:
        """Parse items until the batch is full, the RDB ends or an item runs short (_NeedMore)."""
        cdef int st
        while True:
            if self.finished:
                return ST_DONE
            if self.r.skip_remaining:
                if self.r.skip_remaining > self.r.end - self.r.pos:
                    self.r.skip_remaining -= self.r.end - self.r.pos
                    self.r.pos = self.r.end
                    self.r.want = 1
                    self._commit_crc()
                    return ST_NEED_MORE
                self.r.pos += self.r.skip_remaining
                self.r.skip_remaining = 0
            if self.n >= self._batch_limit:
                self._commit_crc()
                return ST_BATCH_FULL
            self.r.item_start = self.r.pos
            if self.segment_room > 0 and self.r.pos >= self.scan_after and self.r.key_item_start < 0 \
                    and self.model is not None:
                st = self._try_segment()
                if st >= 0:
                    return st
            if self.slot_open and self.r.pos < self.r.end and self._key_item(self.r.p[self.r.pos]):
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
        self.scan_fmt.valkey = self.r.valkey_types
        self.scan_fmt.key_meta = self.key_meta_ok
        self.scan_fmt.gcra29 = self.r.gcra29
        self.scan_fmt.tmpl = self.r.tt

    def pass_barrier(self):
        """The reader has waited for every segment handed out so far (after parse() returned 5): the
        hash template that stopped parsing may now be added to the table the segment decoders read."""
        self.barrier_passed = True

    def hash_templates(self):
        """The hash templates declared in the file (RDB 15): {"count", "fields", "bytes"}, or {}."""
        if self.r.tt.n == 0:
            return {}
        return {"count": self.r.tt.n, "fields": self.r.tt.fields_total, "bytes": self.r.tt.alloc_total}

    cdef int _try_segment(self) except -2:
        """At an item boundary with no pending key opcodes: delimit a run of whole keys for another
        thread. Returns a parse status, or -1 to decode the next item here."""
        cdef int64_t seg_end, nkeys, nexpires, have = self.r.end - self.r.pos
        cdef int st
        if not self.segmenting and have < self.scan_min_bytes:
            return -1
        with nogil:
            st = _sk_keys(self.r.p, self.r.pos, self.r.end, self.segment_room, &self.scan_fmt,
                          &seg_end, &nkeys, &nexpires)
        # once the stream is being handed over, every run goes (rather than decode keys here and cut
        # the open batch short); before, only runs worth a thread hand-over
        if nkeys > 0 and (self.segmenting or nkeys >= self.segment_min_keys
                          or seg_end - self.r.pos >= self.scan_min_bytes):
            if self.n > 0:  # rows decoded here go first, as a batch of their own
                self._commit_crc()
                return ST_BATCH_FULL
            self.seg_start = self.r.pos
            self.seg_end = seg_end
            self.seg_keys = nkeys
            self.seg_base = self.r.base_offset + self.r.pos
            self.seg_db = self.r.db
            self.db_count += nkeys
            self.db_expires += nexpires
            self.r.pos = seg_end
            self.scan_after = seg_end
            self.segmenting = True
            return ST_SEGMENT
        if nkeys == 0 and st == SK_SHORT and have < STREAM_THRESHOLD:
            # the next key is incomplete: wait for more bytes (as _short would) instead of decoding it
            # here, which would cut the open segment batch short
            self.r.want = 2 * have if 2 * have > 4096 else 4096
            self._commit_crc()
            return ST_NEED_MORE
        # decode these keys (too few to hand over) or this item (not for a segment) here
        self.scan_after = seg_end if nkeys > 0 else self.r.pos + 1
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
        d.r.ver_major = self.r.ver_major
        d.r.ver_minor = self.r.ver_minor
        d.r.valkey_types = self.r.valkey_types
        d.r.embedded_keys = self.r.embedded_keys
        d.key_meta_ok = self.key_meta_ok
        d.r.gcra29 = self.r.gcra29
        d.templates = self.templates  # read only while segments run (see ST_BARRIER)
        d.r.tt = &d.templates.t
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
        self.r.p = &view[0]
        self.r.pos = 0
        self.r.end = view.shape[0]
        self.r.base_offset = base_offset
        self.r.db = db
        _clear_key_opcodes(&self.r)
        try:
            with nogil:
                st = self._segment_items()
        except _NeedMore:
            raise RdbFormatError("internal error: a key runs past its segment",
                                 offset=self.r.base_offset + self.r.item_start) from None
        finally:
            self.buf = None
            self.r.p = <const unsigned char*>b""
            self.r.end = self.r.pos = 0
        if self.n - rows != nkeys:
            raise RdbFormatError(f"internal error: segment of {nkeys} keys decoded as {self.n - rows}",
                                 offset=base_offset)

    cdef int _segment_items(self) except -1 nogil:
        cdef int t
        while self.r.pos < self.r.end:
            self.r.item_start = self.r.pos
            t = _u8(&self.r)
            if _key_prefix(&self.r, t, self.key_meta_ok):
                pass
            elif self.n >= self.batch_size or not self._key_item(t):
                with gil:
                    _fail(&self.r, f"internal error: item {t} in a segment")
            else:
                self._key(t)
        if self.r.key_item_start >= 0:
            with gil:
                _fail(&self.r, "internal error: a segment ends inside a key")
        return 0

    def at_stream_end(self):
        """The source is exhausted: raise if the RDB did not end properly."""
        if self.finished:
            return
        self._absorb()
        offset = self.r.base_offset + self.r.end
        if self.r.skip_remaining:
            raise RdbTruncatedError(
                f"stream ended {self.r.skip_remaining} bytes before the end of a string value",
                offset=offset, key=self.cur_key_repr)
        if not self.header_done and self.r.end < 9:
            raise RdbTruncatedError("stream ended inside the RDB header", offset=offset)
        raise RdbTruncatedError("stream ended before the RDB's EOF marker", offset=offset,
                                key=self.cur_key_repr)

    def leftover(self):
        """Bytes buffered after the RDB's end (e.g. an AOF tail after an RDB preamble)."""
        return bytes(self.r.p[self.r.pos:self.r.end]) if self.r.end > self.r.pos else b""

    cdef int _item(self) except -1:
        cdef int t
        cdef bint enc
        cdef int64_t a, b
        cdef StrRef k, v
        cdef bytes kb
        if not self.header_done:
            return self._header()
        t = _u8(&self.r)
        if t == OP_AUX:
            _str(&self.r, &k, 1)
            kb = self._strbytes(&k)
            _str(&self.r, &v, 1)
            self.aux[kb.decode("utf-8", "backslashreplace")] = self._strtext(&v)
            return 0
        if self.model is None:
            self._choose_model()
        if t < OP_RAM_LRU or (t > OP_RAM_LRU and t < OP_HASH_TEMPLATE):
            return self._key(t)
        if _key_prefix(&self.r, t, self.key_meta_ok):
            pass
        elif t == OP_HASH_TEMPLATE:
            if self.r.key_item_start >= 0:
                self.r.pos -= 1
                _fail(&self.r, "hash template declared between a key's opcodes and its type byte")
            if self.segmenting and not self.barrier_passed:
                self.r.pos -= 1  # segment decoders read the table: wait until they are idle
                return ST_BARRIER
            _template_record(&self.r, self.model, self.templates)
            self.barrier_passed = False
        elif t == OP_SELECTDB:
            a = _plain_len(&self.r)
            if a > 0x7FFFFFFF:
                _fail(&self.r, f"database number {a} out of range")
            self._flush_db_count()
            self.r.db = <int>a
        elif t == OP_RESIZEDB:
            a = _plain_len(&self.r)
            b = _plain_len(&self.r)
            self.resize_db[self.r.db] = {"keys": a, "expires": b}
        elif t == OP_SLOT_INFO:
            a = _plain_len(&self.r)
            b = _plain_len(&self.r)
            _plain_len(&self.r)
            self.slot_info[a] = b
        elif t == OP_SLOT_IMPORT:
            _skip_str(&self.r)
            a = _plain_len(&self.r)
            while a > 0:
                _plain_len(&self.r)
                _plain_len(&self.r)
                a -= 1
        elif t == OP_MODULE_AUX:
            name = _module_aux(&self.r)
            if name not in self.modules:
                self.modules.append(name)
        elif t == OP_FUNCTION2:
            _str(&self.r, &v, 1)
            self.functions.append(_function_name(self._strbytes(&v)))
        elif t == OP_FUNCTION_PRE_GA:
            self.functions.append(_function_pre_ga(&self.r))
        elif t == OP_RAM_LRU:
            _plain_len(&self.r)
        elif t == OP_EOF:
            return self._eof()
        else:
            self.r.pos -= 1
            _fail(&self.r, f"unknown opcode or type byte {t}{self._newer_note()}")
        return 0

    cdef str _newer_note(self):
        if not self.newer_than_known:
            return ""
        return (f" (the file is RDB {self.rdb_version}, newer than RDB "
                f"{NEWEST_VALKEY_RDB if self.magic == 'VALKEY' else NEWEST_RDB}, the newest this decoder knows)")

    cdef bytes _strbytes(self, StrRef* s):
        if s.is_int:
            return str(s.ival).encode()
        return (<const char*>s.ptr)[:s.length] if s.length else b""

    cdef str _strtext(self, StrRef* s):
        return self._strbytes(s).decode("utf-8", "backslashreplace")

    cdef int _header(self) except -1:
        cdef bytes head
        _need(&self.r, 9)
        head = (<const char*>self.r.p)[self.r.pos:self.r.pos + 9]
        if head[:5] == b"REDIS" and head[5:9].isdigit():
            self.magic = "REDIS"
            self.rdb_version = int(head[5:9])
            if self.rdb_version < 1:
                raise RdbVersionError(f"unsupported RDB version {self.rdb_version}", offset=5)
            self.newer_than_known = self.rdb_version > NEWEST_RDB
            self.key_meta_ok = self.rdb_version >= 13
            self.r.gcra29 = self.rdb_version == 14
        elif head[:6] == b"VALKEY" and head[6:9].isdigit():
            self.magic = "VALKEY"
            self.rdb_version = int(head[6:9])
            if self.rdb_version < NEWEST_VALKEY_RDB:  # below 80: Valkey keeps those for Redis' formats
                raise RdbVersionError(f"unsupported Valkey RDB version {self.rdb_version}", offset=6)
            self.newer_than_known = self.rdb_version > NEWEST_VALKEY_RDB
            self.r.valkey_types = True
        else:
            raise RdbFormatError(f"not an RDB file (starts with {bytes(head)!r})", offset=0)
        if self.newer_than_known:
            known = NEWEST_VALKEY_RDB if self.r.valkey_types else NEWEST_RDB
            self.notes.append(
                f"RDB version {self.rdb_version} is newer than RDB {known}, the newest this decoder knows: "
                f"read with the RDB {known} rules (an unknown type byte would have stopped decoding)")
        self._set_scan_fmt()
        self.r.pos += 9
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
        self.r.ver_major = major
        self.r.ver_minor = minor
        self.r.embedded_keys = embedded_keys

    cdef _flush_db_count(self):
        if self.db_count:
            self.keys_per_db[self.r.db] = self.keys_per_db.get(self.r.db, 0) + self.db_count
            self.db_count = 0
        if self.db_expires:
            self.expires_per_db[self.r.db] = self.expires_per_db.get(self.r.db, 0) + self.db_expires
            self.db_expires = 0

    cdef int _eof(self) except -1:
        cdef uint64_t stored
        cdef int i
        self._flush_db_count()
        self._commit_crc()
        if self.verify and self.crc_sink is not None:
            self.crc = <uint64_t>self.crc_wait()
        if self.rdb_version >= 5:
            _need(&self.r, 8)
            stored = 0
            for i in range(7, -1, -1):
                stored = (stored << 8) | self.r.p[self.r.pos + i]
            self.r.pos += 8
            if stored == 0:
                self.checksum_state = "disabled"
            elif not self.verify:
                self.checksum_state = "not-verified"
            elif stored != self.crc:
                raise RdbChecksumError(
                    f"CRC64 mismatch: file says {stored:#018x}, computed {self.crc:#018x}",
                    offset=self.r.base_offset + self.r.pos - 8)
            else:
                self.checksum_state = "ok"
        else:
            self.checksum_state = "absent"
        self.total_bytes = self.r.base_offset + self.r.pos
        self.eof_seen = True
        self.finished = True
        self.crc_pos = self.r.pos
        return ST_DONE

    # ----------------------------------------------------------------------------------------
    # keys

    cdef int _key(self, int t) except -1 nogil:
        cdef int64_t start
        cdef MemBreakdown mb
        cdef int row = self.n
        cdef const char* label = NULL
        cdef int64_t label_len = 0
        self.r.facts = _ZERO_FACTS  # all fields zero (a fixed-size struct copy, inlined)
        self.r.facts.rdb_type = t
        self.r.in_key = False
        _key_name(&self.r)
        self.r.in_key = True
        self._value(t)
        self.r.in_key = False
        # the key is complete: fill the row
        start = self.r.key_item_start if self.r.key_item_start >= 0 else self.r.base_offset + self.r.item_start
        self.model.estimate(&self.r.facts, &mb)
        if self.r.row_type >= N_TYPE_LABELS:
            with gil:  # a module key: its type's name
                if self.row_type_label is not None:
                    label = <const char*>self.row_type_label
                    label_len = len(self.row_type_label)
        _put_row(&self.cols.w, &self.r, &mb, row, start, label, label_len)
        self.n += 1
        self.db_count += 1
        if self.r.has_expire:
            self.db_expires += 1
        _clear_key_opcodes(&self.r)
        if self.has_key_repr:
            with gil:
                self.cur_key_repr = None
            self.has_key_repr = False
        return 0

    cdef int _value(self, int t) except -1 nogil:
        if t == 0:
            return _string_value(&self.r, self.model)
        if t == 1 or t == 2:
            return _plain_collection(&self.r, self.model, t)
        if t == 3 or t == 5:
            return _zset_plain(&self.r, self.model, t)
        if t == 4:
            return _hash_plain(&self.r, self.model)
        if t == 6:
            with gil:
                _fail(&self.r, "pre-GA module value (type 6) cannot be skipped", RdbVersionError)
        if t == 7:
            with gil:
                self._module_value()
            return 0
        if t == 9:
            return _zipmap(&self.r, self.model)
        if t == 10 or t == 12 or t == 13:
            return _ziplist_value(&self.r, self.model, t)
        if t == 11:
            return _intset(&self.r, self.model)
        if t == 14 or t == 18:
            return _quicklist(&self.r, self.model, t)
        if t == 15 or t == 19 or t == 21:
            return _stream(&self.r, self.model, t)
        if t == 16 or t == 17 or t == 20:
            return _listpack_value(&self.r, self.model, t)
        if t == 22 and self.r.valkey_types:
            return _hash_ttl(&self.r, self.model, t)
        if t == 22 or t == 24:
            return _hash_ttl(&self.r, self.model, t)
        if t == 23 or t == 25:
            return _hash_listpack_ex(&self.r, self.model, t)
        # RDB 13-15 (Redis 8.6-8.10), accepted whatever the header's version
        if t == 26 or t == 27:
            return _stream(&self.r, self.model, t)
        if t == 28:
            return _array(&self.r, self.model)
        if t == 33 or (t == 29 and self.r.gcra29):
            return _gcra(&self.r)
        if t >= 29 and t <= 32:
            return _template_hash(&self.r, self.model, t)
        self.r.pos = self.r.item_start
        with gil:
            _fail(&self.r, f"unknown value type {t}{self._newer_note()}")
        return 0

    cdef int _module_value(self) except -1:
        cdef int idx
        name = _module_value(&self.r)
        if name not in self.modules:
            self.modules.append(name)
        idx = self.module_type_index.get(name, -1)
        if idx < 0:
            idx = len(self.type_names)
            self.type_names.append(name)
            self.module_type_index[name] = idx
        self.r.row_type = idx
        self.row_type_label = name.encode()
        self.r.row_module = idx
        return 0
