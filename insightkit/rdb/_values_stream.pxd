# The stream value parser (see _values_stream.pyx): one call a value.

from insightkit.memory._model cimport MemoryModel
from insightkit.rdb._state cimport Rd


cdef int _stream(Rd* r, MemoryModel model, int t) except -1 nogil
