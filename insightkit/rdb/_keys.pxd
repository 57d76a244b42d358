# A key's opening, inline (compiled into _decoder, once a key): the opcodes that precede its type byte
# (expiry, IDLE, FREQ, KEY_META) and its name. They fill the Rd (_state.pxd) the value parsers and the row
# writer read.

from libc.stdint cimport int32_t, int64_t
from libc.string cimport memset

from insightkit.memory._model cimport KeyFacts15
from insightkit.rdb._columns cimport _reserve
from insightkit.rdb._kinds cimport OP_EXPIRETIME, OP_EXPIRETIME_MS, OP_FREQ, OP_IDLE, OP_KEY_META
from insightkit.rdb._state cimport Rd, StrRef, _le, _plain_len, _str, _u8
from insightkit.rdb._text cimport _format_int
from insightkit.rdb._values_module cimport _key_meta_opcode


cdef inline void _mark_key_start(Rd* r) noexcept nogil:
    if r.key_item_start < 0:
        r.key_item_start = r.base_offset + r.item_start


cdef inline void _clear_key_opcodes(Rd* r) noexcept nogil:
    r.has_expire = False
    r.has_idle = False
    r.has_freq = False
    r.key_meta = 0
    r.key_item_start = -1


cdef inline int _key_prefix(Rd* r, int t, bint key_meta_ok) except -1 nogil:
    """Opcode ``t`` when it is one of the key's prefixes (expiry, idle time, LFU counter, KEY_META when
    key_meta_ok): read it into the key being assembled and return 1; 0 for any other opcode."""
    if t == OP_EXPIRETIME_MS:
        _mark_key_start(r)
        r.expire_ms = <int64_t>_le(r, 8)
        r.has_expire = True
    elif t == OP_EXPIRETIME:
        _mark_key_start(r)
        r.expire_ms = (<int64_t><int32_t>_le(r, 4)) * 1000
        r.has_expire = True
    elif t == OP_IDLE:
        _mark_key_start(r)
        r.idle = _plain_len(r)
        r.has_idle = True
    elif t == OP_FREQ:
        _mark_key_start(r)
        r.freq = _u8(r)
        r.has_freq = True
    elif t == OP_KEY_META and key_meta_ok:
        _mark_key_start(r)
        if r.key_meta == 0:
            memset(&r.facts15, 0, sizeof(KeyFacts15))
        r.key_meta += _key_meta_opcode(r)
        r.facts15.key_meta_classes = r.key_meta
    else:
        return 0
    return 1


cdef inline int _key_name(Rd* r) except -1 nogil:
    """The key's name (after its type byte; r.facts already cleared), and its row extras reset."""
    cdef StrRef k
    if r.pos < r.end and r.p[r.pos] < 0x40 and r.pos + 1 + r.p[r.pos] <= r.end:
        k.length = r.p[r.pos]  # a plain key of < 64 bytes, buffered: what _str would do, inline
        k.ptr = r.p + r.pos + 1
        k.is_int = False
        k.lzf = -1
        r.pos += 1 + k.length
    else:
        _str(r, &k, 2)
    if k.is_int:
        r.key_scratch.size = 0
        _reserve(&r.key_scratch, 24)
        k.length = _format_int(k.ival, r.key_scratch.data)
        r.key_ptr = r.key_scratch.data
    else:
        r.key_ptr = k.ptr
    # the key's bytes lie in the input buffer (not decompressed into key_scratch)
    r.key_buf_ptr = k.ptr if (not k.is_int and k.lzf < 0) else NULL
    r.key_len = k.length
    r.facts.key_len = k.length
    r.facts.has_expire = r.has_expire
    if r.key_meta:  # facts15 was cleared and counted when the KEY_META opcode was read
        r.facts.rdb15 = &r.facts15
    r.row_largest = 0
    r.row_elem_bytes = 0
    r.row_allint = -1
    r.row_hfe = False
    r.row_volatile = 0
    r.row_minfield = -1
    r.row_stream = False
    r.row_module = -1
    return 0
