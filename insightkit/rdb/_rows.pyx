# cython: language_level=3
"""The row writer: a finished key's facts (an Rd, _state.pxd) and memory breakdown become one row of
the batch's columns. Keys are written as Arrow string data (escaped when not UTF-8), the `type` and
`encoding` labels as fixed-size copies from the built-in label table; the per-row columns live in one
block of NumPy arrays a batch, reused once nothing refers to it."""

from libc.stdint cimport int16_t, int64_t, uint32_t, uint64_t
from libc.stdlib cimport free
from libc.string cimport memcpy

from insightkit.memory._model cimport MemBreakdown
from insightkit.rdb._columns cimport (
    LABEL_PAD, TYPE_LABEL_COPY, Buf, LabelTable, _fill_labels, _i32, _i64, _reserve, _u8p,
)
from insightkit.rdb._kinds cimport *
from insightkit.rdb._state cimport Rd, _fail
from insightkit.rdb._text cimport _utf8_seq

from cpython.ref cimport Py_REFCNT

import numpy as np

from insightkit.rdb import kinds as _kinds
from insightkit.rdb.kinds import ENCODING_LABELS, TYPE_NAMES

# The compiled enums of _kinds.pxd must land on their names in kinds.py (the one table of names), before
# the label table is filled from there.
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

cdef LabelTable _LABELS  # the built-in `type` / `encoding` labels in fixed-size slots (_columns.pxd)
_fill_labels(&_LABELS)
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


cdef class ColumnBuilder:
    """The batch's columns: NumPy arrays (pointers in `w`) and the string data of keys and labels."""

    def __init__(self, int batch_size):
        self.batch_size = batch_size
        self.new_batch()

    def __dealloc__(self):
        free(self.w.keydata.data)
        free(self.w.typedata.data)
        free(self.w.encdata.data)

    cdef int new_batch(self) except -1:
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
        self.w.rows_cap = b
        self.w.r_db = _i32(a["db"])
        self.w.r_module = _i32(a["module"]); self.w.r_key_off = _i32(a["key_off"])
        self.w.r_type_off = _i32(a["type_off"]); self.w.r_enc_off = _i32(a["encoding_off"])
        self.w.r_num = _i64(a["num_elements"]); self.w.r_largest = _i64(a["largest_element_bytes"])
        self.w.r_elem_bytes = _i64(a["element_bytes"]); self.w.r_serialized = _i64(a["serialized_bytes"])
        self.w.r_mem = _i64(a["memory_bytes"]); self.w.r_mem_key = _i64(a["key_bytes"])
        self.w.r_mem_over = _i64(a["overhead_bytes"]); self.w.r_mem_value = _i64(a["value_bytes"])
        self.w.r_mem_expires = _i64(a["expires_bytes"])
        self.w.r_expires = _i64(a["expires_at"]); self.w.v_expires = _u8p(a["expires_at_valid"])
        self.w.r_idle = _i64(a["lru_idle_s"]); self.w.v_idle = _u8p(a["lru_idle_s_valid"])
        cdef int16_t[::1] freq = a["lfu_freq"]
        self.w.r_freq = &freq[0]; self.w.v_freq = _u8p(a["lfu_freq_valid"])
        self.w.r_allint = _u8p(a["all_integers"]); self.w.v_allint = _u8p(a["all_integers_valid"])
        self.w.r_volatile = _i64(a["volatile_fields"]); self.w.v_hfe = _u8p(a["hfe_valid"])
        self.w.r_minfield = _i64(a["min_field_expires_at"]); self.w.v_minfield = _u8p(a["min_field_valid"])
        self.w.r_s_entries = _i64(a["stream_entries"]); self.w.r_s_groups = _i64(a["stream_groups"])
        self.w.r_s_consumers = _i64(a["stream_consumers"]); self.w.r_s_pending = _i64(a["stream_pending"])
        self.w.v_stream = _u8p(a["stream_valid"]); self.w.r_key_binary = _u8p(a["key_binary"])
        # the string buffers keep their capacity from batch to batch
        self.w.keydata.size = 0
        self.w.typedata.size = 0
        self.w.encdata.size = 0
        return 0

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

    cdef tuple take(self, int n):
        """Hand over the batch's n rows: (n, dict of numpy arrays, key bytes) and start anew."""
        arrays = self.arrays
        keys = bytes((<char*>self.w.keydata.data)[:self.w.keydata.size]) if self.w.keydata.size else b""
        arrays["type_data"] = np.frombuffer(
            (<char*>self.w.typedata.data)[:self.w.typedata.size] if self.w.typedata.size else b"", np.uint8)
        arrays["encoding_data"] = np.frombuffer(
            (<char*>self.w.encdata.data)[:self.w.encdata.size] if self.w.encdata.size else b"", np.uint8)
        self.new_batch()
        return n, arrays, keys

cdef int _put_row(Rows* w, Rd* r, MemBreakdown* mb, int row, int64_t start, const char* type_label,
                  int64_t type_label_len) except -1 nogil:
    """Row `row` from the finished key in r (its first opcode at absolute offset `start`); a module
    key's type name is type_label (row_type >= N_TYPE_LABELS), else NULL."""
    if row < 0 or row >= w.rows_cap:  # parse() hands over full batches; never expected
        with gil:
            _fail(r, f"internal error: row {row} outside a batch of {w.rows_cap}")
    w.r_db[row] = r.db
    _append_key(w, r, row)
    if 0 <= r.row_type < N_TYPE_LABELS:
        _put_padded_label(r, &w.typedata, w.r_type_off, row,
                          _LABELS.type_label[r.row_type], _LABELS.type_len[r.row_type], TYPE_LABEL_COPY)
    elif type_label != NULL:  # a module key
        _put_label(r, &w.typedata, w.r_type_off, row, type_label, type_label_len)
    else:
        with gil:
            _fail(r, f"internal error: type {r.row_type} without a name")
    if not 0 <= r.row_encoding < N_ENCODING_LABELS:
        with gil:
            _fail(r, f"internal error: encoding {r.row_encoding}")
    _put_padded_label(r, &w.encdata, w.r_enc_off, row,
                      _LABELS.encoding_label[r.row_encoding], _LABELS.encoding_len[r.row_encoding], LABEL_PAD)
    w.r_num[row] = r.facts.num_elements
    w.r_largest[row] = r.row_largest
    w.r_elem_bytes[row] = r.row_elem_bytes
    w.r_serialized[row] = r.base_offset + r.pos + r.skip_remaining - start
    if r.has_expire:
        w.r_expires[row] = r.expire_ms
        w.v_expires[row] = 1
    if r.has_idle:
        w.r_idle[row] = r.idle
        w.v_idle[row] = 1
    if r.has_freq:
        w.r_freq[row] = <int16_t>r.freq
        w.v_freq[row] = 1
    if r.row_allint >= 0:
        w.r_allint[row] = <unsigned char>r.row_allint
        w.v_allint[row] = 1
    if r.row_hfe:
        w.v_hfe[row] = 1
        w.r_volatile[row] = r.row_volatile
        if r.row_minfield >= 0:
            w.r_minfield[row] = r.row_minfield
            w.v_minfield[row] = 1
    if r.row_stream:
        w.v_stream[row] = 1
        w.r_s_entries[row] = r.s_entries
        w.r_s_groups[row] = r.s_groups
        w.r_s_consumers[row] = r.s_consumers
        w.r_s_pending[row] = r.s_pending
    w.r_module[row] = r.row_module
    w.r_mem[row] = mb.total
    w.r_mem_key[row] = mb.key_bytes
    w.r_mem_over[row] = mb.overhead_bytes
    w.r_mem_value[row] = mb.value_bytes
    w.r_mem_expires[row] = mb.expires_bytes
    return 0


cdef int _append_key(Rows* w, Rd* r, int row) except -1 nogil:
    """Append the current key to the batch's key data, escaping it when it is not UTF-8."""
    cdef const unsigned char* s = r.key_ptr
    cdef int64_t n = r.key_len, i = 0
    cdef int k
    cdef bint ascii = True
    cdef Buf* out = &w.keydata
    cdef unsigned char c
    cdef const char* hexd = b"0123456789abcdef"
    cdef unsigned char acc = 0
    cdef uint64_t w0, w1
    # A short key inside the input buffer with 16 readable bytes from its start: test and copy it
    # as two 8-byte words (bytes past the key are masked off, and never counted in out.size).
    cdef bint word16 = (_LITTLE_ENDIAN and n <= 16 and s == r.key_buf_ptr
                        and (s - r.p) + 16 <= r.end)
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
                _fail(r, "key data of one batch exceeds 2 GiB; use a smaller batch_size")
        w.r_key_binary[row] = 0
        w.r_key_off[row + 1] = <int>out.size
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
        w.r_key_binary[row] = 0
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
        w.r_key_binary[row] = 1
    if out.size > 0x7FFFFFFF:
        with gil:
            _fail(r, "key data of one batch exceeds 2 GiB; use a smaller batch_size")
    w.r_key_off[row + 1] = <int>out.size
    return 0


cdef inline int _put_label(Rd* r, Buf* out, int* offs, int row, const char* s, int64_t n) except -1 nogil:
    if out.size + n > out.cap:
        _reserve(out, n)
    memcpy(out.data + out.size, s, <size_t>n)
    out.size += n
    return _end_label(r, out, offs, row)


cdef inline int _put_padded_label(Rd* r, Buf* out, int* offs, int row, const char* s, int n,
                                  int copy) except -1 nogil:
    """A built-in label from a LABEL_PAD-byte table slot (n < copy <= LABEL_PAD): one fixed-size copy."""
    if out.size + LABEL_PAD > out.cap:
        _reserve(out, LABEL_PAD)
    memcpy(out.data + out.size, s, <size_t>copy)
    out.size += n
    return _end_label(r, out, offs, row)


cdef inline int _end_label(Rd* r, Buf* out, int* offs, int row) except -1 nogil:
    if out.size > 0x7FFFFFFF:
        with gil:
            _fail(r, "label data of one batch exceeds 2 GiB; use a smaller batch_size")
    offs[row + 1] = <int>out.size
    return 0
