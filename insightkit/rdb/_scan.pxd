# The segment scanner: delimits runs of whole keys by their lengths only (see _scan.pyx). The decoder
# calls _sk_keys once per segment (through Cython's function table: one indirect call a segment); the
# per-byte steps stay inline inside _scan.pyx.

from libc.stdint cimport int64_t

from insightkit.rdb._tmpl cimport TmplTable


# What the segment scan needs to know about the format being read.
cdef struct ScanFmt:
    bint valkey             # VALKEY magic: type 22 is HASH_2
    bint key_meta           # 0xF3 is KEY_META (REDIS magic, RDB >= 13), not Valkey's SLOT_IMPORT
    bint gcra29             # RDB 14: type 29 is the pre-GA GCRA (before it moved to 33)
    const TmplTable* tmpl


cdef int _sk_keys(const unsigned char* p, int64_t start, int64_t end, int64_t limit, const ScanFmt* f,
                  int64_t* seg_end, int64_t* nkeys, int64_t* nexpires) noexcept nogil
cdef int64_t _value_end(const unsigned char* p, int64_t pos, int64_t end, int rdb_type, bint valkey,
                        bint gcra29) noexcept nogil
