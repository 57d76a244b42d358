# cython: language_level=3
"""Module values (type 7) and the records built like them: MODULE_AUX, the key metadata (KEY_META, RDB
>= 13), all stepped over opcode by opcode and counted; and the function records (FUNCTION2, pre-GA)."""

from libc.stdint cimport int64_t, uint64_t

from insightkit.rdb._kinds cimport *
from insightkit.rdb._state cimport *


cdef int _skip_module_ops(Rd* r) except -1 nogil:
    """A module value's opcodes up to EOF (nogil: the segment decoders and the lead decoder alike)."""
    cdef int64_t op, at
    while True:
        at = r.pos
        op = _plain_len(r)
        if op == 0:
            return 0
        if op == 1 or op == 2:
            _plain_len(r)
        elif op == 3:
            _need(r, 4)
            r.pos += 4
        elif op == 4:
            _need(r, 8)
            r.pos += 8
        elif op == 5:
            _skip_str(r)
        else:
            r.pos = at
            with gil:
                _fail(r, f"unknown module value opcode {op}")


cdef int64_t _key_meta_opcode(Rd* r) except -1 nogil:
    """KEY_META (RDB >= 13): module classes' metadata for the next key, each a 4-byte class spec
    and a module value (opcodes up to EOF); skipped, counted."""
    cdef int64_t at = r.pos, n = _plain_len(r), i
    if n > KEY_META_MAX_CLASSES:
        r.pos = at
        with gil:
            _fail(r, f"key metadata for {n} classes (at most {KEY_META_MAX_CLASSES})")
    for i in range(n):
        _need(r, 4)
        r.pos += 4
        _skip_module_ops(r)
    return n


_MODULE_CHARSET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


cdef str _module_id_name(uint64_t module_id):
    """The 9-character module type name packed in a module id (its low 10 bits are the encoding version)."""
    cdef int j
    chars = []
    for j in range(9):
        chars.append(chr(_MODULE_CHARSET[(module_id >> (64 - 6 * (j + 1))) & 63]))
    return "".join(chars)


cdef str _module_value(Rd* r):
    """Type 7: a module value (module id, then opcodes up to EOF), stepped over; returns the module's
    type name (the Decoder makes it the row's type)."""
    cdef bint enc
    cdef int64_t start = r.pos
    cdef uint64_t mid = _len(r, &enc)
    if enc:
        _fail(r, "bad module id")
    _skip_module_ops(r)
    r.facts.kind = KIND_MODULE
    r.facts.encoding = ENC_MODULE
    r.facts.module_bytes = r.pos - start
    r.facts.num_elements = 1
    _elem(r, r.facts.module_bytes)
    r.row_encoding = ENC_RAW
    return _module_id_name(mid)


cdef str _module_aux(Rd* r):
    """MODULE_AUX: a module's auxiliary data, stepped over; returns the module's name."""
    cdef bint enc
    cdef uint64_t mid = _len(r, &enc)
    cdef int64_t when_op
    if enc:
        _fail(r, "bad module id in MODULE_AUX")
    when_op = _plain_len(r)
    if when_op != 2:
        _fail(r, f"MODULE_AUX 'when' has opcode {when_op}, expected 2")
    _plain_len(r)
    _skip_module_ops(r)
    return _module_id_name(mid)


cdef str _function_name(bytes code):
    """A function library's name (FUNCTION2: its code's first line, "#!<engine> name=<name> ...")."""
    first = code.split(b"\n", 1)[0].decode("utf-8", "backslashreplace")
    name = None
    for part in first.split():
        if part.startswith("name="):
            name = part[5:]
    return name if name is not None else first


cdef str _function_pre_ga(Rd* r):
    """FUNCTION_PRE_GA (Redis 7.0 release candidates): name, engine, [description,] code; the name."""
    cdef StrRef name
    cdef int64_t has_desc
    _str(r, &name, 1)
    if name.is_int:
        fname = str(name.ival)
    else:
        fname = ((<const char*>name.ptr)[:name.length] if name.length else b"").decode("utf-8", "backslashreplace")
    _skip_str(r)  # engine
    has_desc = _plain_len(r)
    if has_desc:
        _skip_str(r)
    _skip_str(r)  # code
    return fname
