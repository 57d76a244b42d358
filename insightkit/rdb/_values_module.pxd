# Module opcodes and key metadata (see _values_module.pyx): one call a value or KEY_META opcode.

from libc.stdint cimport int64_t

from insightkit.rdb._state cimport Rd


cdef int _skip_module_ops(Rd* r) except -1 nogil
cdef int64_t _key_meta_opcode(Rd* r) except -1 nogil
cdef str _module_value(Rd* r)
cdef str _module_aux(Rd* r)
cdef str _function_name(bytes code)
cdef str _function_pre_ga(Rd* r)
