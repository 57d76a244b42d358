# The row writer: fills a batch's columns from a finished key (one call a key, _put_row) and owns the
# batch's arrays (ColumnBuilder: one block of NumPy arrays a batch, reused once nothing refers to it).

from libc.stdint cimport int16_t, int64_t

from insightkit.memory._model cimport MemBreakdown
from insightkit.rdb._columns cimport Buf
from insightkit.rdb._state cimport Rd


cdef struct Rows:
    # Raw pointers into the batch's column arrays (kept alive by ColumnBuilder.arrays): _put_row checks
    # the row against rows_cap once instead of a check per store, and needs no GIL.
    int rows_cap
    int* r_key_off
    unsigned char* r_key_binary
    int64_t* r_expires
    unsigned char* v_expires
    int64_t* r_idle
    unsigned char* v_idle
    int16_t* r_freq
    unsigned char* v_freq
    unsigned char* r_allint
    unsigned char* v_allint
    int64_t* r_volatile
    unsigned char* v_hfe
    int64_t* r_minfield
    unsigned char* v_minfield
    int64_t* r_s_entries
    int64_t* r_s_groups
    int64_t* r_s_consumers
    int64_t* r_s_pending
    unsigned char* v_stream
    int* r_db
    int* r_module
    int64_t* r_num
    int64_t* r_largest
    int64_t* r_elem_bytes
    int64_t* r_serialized
    int64_t* r_mem
    int64_t* r_mem_key
    int64_t* r_mem_over
    int64_t* r_mem_value
    int64_t* r_mem_expires
    int* r_type_off
    int* r_enc_off
    Buf keydata                # key column string data (offsets in r_key_off)
    Buf typedata               # `type` column string data (offsets in r_type_off)
    Buf encdata                # `encoding` column string data (offsets in r_enc_off)


cdef class ColumnBuilder:
    cdef Rows w
    cdef int batch_size
    cdef object arrays
    cdef list blocks                   # column blocks of earlier batches, reused when free
    cdef object block_layout           # (name, dtype, extra rows, byte offset) per column of a block
    cdef int64_t block_bytes
    cdef int new_batch(self) except -1
    cdef object _free_block(self)
    cdef tuple take(self, int n)


cdef int _put_row(Rows* w, Rd* r, MemBreakdown* mb, int row, int64_t start, const char* type_label,
                  int64_t type_label_len) except -1 nogil
