# Stream pricing as MEMORY USAGE adds it up (object.c, streamRadixTreeMemoryUsage / raxAllocSize):
# inline nogil helpers behind MemoryModel._stream_value() / stream_group() / stream_consumer().

from libc.stdint cimport int64_t

from insightkit.memory.layout cimport RAX_NODE_COST, STREAM_ID


cdef inline double rax_bytes(bint alloc_sized, double elements, double ms_runs) noexcept nogil:
    """What MEMORY USAGE charges for a rax of stream IDs holding `elements` keys.

    Redis: streamRadixTreeMemoryUsage() = 16 per element + 244 per rax node. Measured node
    counts: 1 when empty, 2 with one ID, then one node per ID plus one more per change of the
    millisecond part (a split), i.e. about m + runs + 1. Valkey >= 8.0 (`alloc_sized`) charges
    raxAllocSize(), the allocations themselves: 64 bytes empty, then about 40 per ID + 20 per
    millisecond run.
    """
    if elements <= 0:
        return 64.0 if alloc_sized else <double>RAX_NODE_COST
    if ms_runs < 1.0:
        ms_runs = 1.0
    if alloc_sized:
        return 44.0 + 40.0 * elements + 20.0 * ms_runs
    if elements <= 1.0:
        return STREAM_ID + 2.0 * RAX_NODE_COST
    return STREAM_ID * elements + RAX_NODE_COST * (elements + ms_runs + 1.0)


cdef inline double group_rax_share(bint alloc_sized, int64_t count, double pel) noexcept nogil:
    """One of `count` groups' or consumers' PEL trees when only the PEL total is known: the PEL split
    evenly, a millisecond change every 4 IDs (bursts of XADDs read together)."""
    return rax_bytes(alloc_sized, pel / count, 1.0 + pel / count / 4.0)
