# Value parsers for the RDB 13-15 types (see _values_rdb15.pyx): one call a value.

from libc.stdint cimport int64_t

from insightkit.memory._model cimport MemoryModel
from insightkit.rdb._state cimport Rd
from insightkit.rdb._tmpl cimport _Templates


cdef int _array(Rd* r, MemoryModel model) except -1 nogil
cdef int _gcra(Rd* r) except -1 nogil
cdef int _template_hash(Rd* r, MemoryModel model, int t) except -1 nogil
cdef int _template_record(Rd* r, MemoryModel model, _Templates templates) except -1
