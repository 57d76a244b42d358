# Hash templates (RDB 15): the table the lead decoder fills from 0xF2 records and every decoder (the
# segment scanner too) reads by id. Only the lead adds to it, and only while no segment decoder runs
# (ST_BARRIER). _tmpl_find is inline: it runs once per template hash.

cimport cython
from libc.stdint cimport int64_t, uint64_t

cdef struct TmplEntry:
    uint64_t id
    int64_t fields          # field count (HLEN of every hash using it)
    int64_t names_total     # bytes of its field names
    int64_t names_max       # the longest name
    int64_t alloc           # its own memory (MemoryModel.template_bytes)


cdef struct TmplTable:
    TmplEntry* entries
    int64_t n
    int64_t cap
    int64_t* slots          # open addressing on the id: entry index + 1, 0 when free
    int64_t nslots          # a power of two, at least twice n (0 before the first template)
    int64_t fields_total
    int64_t alloc_total
    uint64_t seed           # per-table random key for the slot hash (see _tmpl.pyx)


cdef inline int64_t _tmpl_slot(uint64_t seed, uint64_t id, int64_t nslots) noexcept nogil:
    cdef uint64_t z = id ^ seed  # splitmix64's finalizer
    z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EB
    return <int64_t>((z ^ (z >> 31)) & <uint64_t>(nslots - 1))


cdef inline int64_t _tmpl_find(const TmplTable* t, uint64_t id) noexcept nogil:
    """The entry index of template `id`, or -1."""
    cdef int64_t h, e
    if t.nslots == 0:
        return -1
    h = _tmpl_slot(t.seed, id, t.nslots)
    while True:
        e = t.slots[h]
        if e == 0:
            return -1
        if t.entries[e - 1].id == id:
            return e - 1
        h = (h + 1) & (t.nslots - 1)


@cython.final
cdef class _Templates:
    """Owns a TmplTable; decoders sharing the table keep this object alive."""
    cdef TmplTable t
    cdef int add(self, uint64_t id, int64_t fields, int64_t names_total, int64_t names_max,
                 int64_t alloc) except -1
