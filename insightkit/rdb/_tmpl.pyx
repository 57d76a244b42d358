# cython: language_level=3
"""The hash-template table (RDB 15); see _tmpl.pxd."""

import os as _os

cimport cython

from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memset


@cython.final
cdef class _Templates:
    """Owns a TmplTable; decoders sharing the table keep this object alive."""

    def __cinit__(self):
        # Ids come from the file: a random key per table keeps a crafted file from making every id collide
        # (the probes of an open-addressing table would then grow with the number of templates).
        self.t.seed = int.from_bytes(_os.urandom(8), "little")

    def __dealloc__(self):
        free(self.t.entries)
        free(self.t.slots)

    cdef int add(self, uint64_t id, int64_t fields, int64_t names_total, int64_t names_max,
                 int64_t alloc) except -1:
        cdef TmplTable* t = &self.t
        cdef int64_t cap, nslots, i, h
        cdef TmplEntry* entries
        cdef int64_t* slots
        if t.n == t.cap:
            cap = t.cap * 2 if t.cap else 16
            entries = <TmplEntry*>realloc(t.entries, cap * sizeof(TmplEntry))
            if entries == NULL:
                raise MemoryError()
            t.entries = entries
            t.cap = cap
        if 2 * (t.n + 1) > t.nslots:
            nslots = t.nslots * 2 if t.nslots else 32
            slots = <int64_t*>malloc(nslots * sizeof(int64_t))
            if slots == NULL:
                raise MemoryError()
            memset(slots, 0, nslots * sizeof(int64_t))
            for i in range(t.n):
                h = _tmpl_slot(t.seed, t.entries[i].id, nslots)
                while slots[h] != 0:
                    h = (h + 1) & (nslots - 1)
                slots[h] = i + 1
            free(t.slots)
            t.slots = slots
            t.nslots = nslots
        t.entries[t.n].id = id
        t.entries[t.n].fields = fields
        t.entries[t.n].names_total = names_total
        t.entries[t.n].names_max = names_max
        t.entries[t.n].alloc = alloc
        h = _tmpl_slot(t.seed, id, t.nslots)
        while t.slots[h] != 0:
            h = (h + 1) & (t.nslots - 1)
        t.slots[h] = t.n + 1
        t.n += 1
        t.fields_total += fields
        t.alloc_total += alloc
        return 0


