# cython: language_level=3
"""LZF inflation for RDB strings (see _lzf.pxd for the inline claim check and the validating walk)."""

from libc.stdint cimport int64_t
from libc.string cimport memcpy


cdef int64_t _lzf_inflate(const unsigned char* src, int64_t clen, unsigned char* dst, int64_t ulen) noexcept nogil:
    """Decompress an LZF block that _lzf_walk found to come to exactly ulen bytes into dst (ulen bytes).
    It does not validate again; the bounds tests below only keep a block that changed under it (never
    expected) from writing outside dst. Returns the bytes written."""
    cdef int64_t ip = 0, op = 0, run, ref
    cdef unsigned int ctrl
    while ip < clen:
        ctrl = src[ip]
        ip += 1
        if ctrl < 32:
            run = ctrl + 1
            if ip + run > clen or op + run > ulen:
                return LZF_E_LITERAL
            memcpy(dst + op, src + ip, <size_t>run)
            ip += run
            op += run
        else:
            run = ctrl >> 5
            if run == 7:
                if ip >= clen:
                    return LZF_E_TRUNCATED
                run += src[ip]
                ip += 1
            if ip >= clen:
                return LZF_E_TRUNCATED
            ref = op - (((ctrl & 0x1F) << 8) + src[ip] + 1)
            ip += 1
            run += 2
            if ref < 0 or op + run > ulen:
                return LZF_E_REFERENCE
            # byte by byte: the regions may overlap (run-length style references)
            while run > 0:
                dst[op] = dst[ref]
                op += 1
                ref += 1
                run -= 1
    return op


def _lzf_error(int64_t r, int64_t ulen):
    """What _lzf_walk's result r says is wrong with a block meant to be ulen bytes."""
    if r == LZF_E_LITERAL:
        return "corrupt LZF data (literal run overflows)"
    if r == LZF_E_TRUNCATED:
        return "corrupt LZF data (truncated back-reference)"
    if r == LZF_E_REFERENCE:
        return "corrupt LZF data (back-reference out of range)"
    return f"corrupt LZF data (decompressed {r} bytes, header says {ulen})"
