# Value parsers for compact encodings and the blob reads the other value parsers share (see
# _values_blobs.pyx): one call a value or blob.

from libc.stdint cimport int64_t

from insightkit.memory._model cimport MemoryModel
from insightkit.rdb._blobs cimport BlobErr, Stats
from insightkit.rdb._state cimport Rd, StrRef


cdef int _blob_str(Rd* r, StrRef* s, int kind) except -1 nogil
cdef int _blob_fail(Rd* r, BlobErr* e) except -1 nogil
cdef int _walk_ziplist(Rd* r, const unsigned char* z, int64_t n, int stride, int mask, Stats* st) except -1 nogil
cdef int _walk_listpack(Rd* r, const unsigned char* z, int64_t n, int stride, int mask, int ttl_slot, Stats* st) except -1 nogil
cdef int _lp_entry_r(Rd* r, const unsigned char* z, int64_t n, int64_t* pos, int64_t* ival) except -1 nogil
cdef int _ziplist_value(Rd* r, MemoryModel model, int t) except -1 nogil
cdef int _listpack_value(Rd* r, MemoryModel model, int t) except -1 nogil
cdef int _hash_listpack_ex(Rd* r, MemoryModel model, int t) except -1 nogil
cdef int _intset(Rd* r, MemoryModel model) except -1 nogil
cdef int _zipmap(Rd* r, MemoryModel model) except -1 nogil
cdef int _quicklist(Rd* r, MemoryModel model, int t) except -1 nogil
