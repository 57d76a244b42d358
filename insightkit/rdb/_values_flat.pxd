# Value parsers for element-by-element encodings (see _values_flat.pyx): one call a value.

from libc.stdint cimport int64_t

from insightkit.memory._model cimport MemoryModel
from insightkit.rdb._state cimport Rd


cdef int _string_value(Rd* r, MemoryModel model) except -1 nogil
cdef int _plain_collection(Rd* r, MemoryModel model, int t) except -1 nogil
cdef int _zset_plain(Rd* r, MemoryModel model, int t) except -1 nogil
cdef int _hash_plain(Rd* r, MemoryModel model) except -1 nogil
cdef int _hash_ttl(Rd* r, MemoryModel model, int t) except -1 nogil
