# LZF, as RDB files compress strings with it. The claim check, the one validating walk (_lzf_walk) and
# the header peek are inline (the decoder runs them per compressed string, the scanner the claim);
# inflating a block the walk passed is one call into _lzf.pyx per blob.
from libc.stdint cimport int64_t

# LZF's greatest expansion: its longest back-reference is 3 bytes (control byte with length 7, a length
# byte of 255, an offset byte) copying 7 + 255 + 2 = 264 bytes, 88 per input byte; literals yield less
# than they cost and the block must open with one. A claimed length beyond 88 x the compressed length
# is a lie whatever the bytes say.
cdef enum:
    LZF_MAX_RATIO = 88
    # _lzf_walk's errors (what it returns instead of the byte count; _lzf_error names them)
    LZF_E_LITERAL = -1       # a literal run overflows the input or the output
    LZF_E_TRUNCATED = -2     # a back-reference is cut off by the end of the input
    LZF_E_REFERENCE = -3     # a back-reference points before the output or copies past it


cdef inline bint _lzf_claim_ok(int64_t clen, int64_t ulen) noexcept nogil:
    """ulen bytes may come from clen LZF bytes (ulen <= LZF_MAX_RATIO x clen, without overflow)."""
    return ulen <= 0 or (ulen - 1) // LZF_MAX_RATIO < clen


cdef inline void _lzf_head(const unsigned char* src, int64_t clen, unsigned char* dst, int64_t want) noexcept nogil:
    """The first ``want`` bytes of an LZF block that _lzf_walk passed (so every reference is in
    range): a structure's header, inflated without inflating the rest."""
    cdef int64_t ip = 0, op = 0, run, ref
    cdef unsigned int ctrl
    while ip < clen and op < want:
        ctrl = src[ip]
        ip += 1
        if ctrl < 32:
            run = ctrl + 1
            while run > 0 and op < want:
                dst[op] = src[ip]
                op += 1
                ip += 1
                run -= 1
            ip += run
        else:
            run = ctrl >> 5
            if run == 7:
                run += src[ip]
                ip += 1
            ref = op - (((ctrl & 0x1F) << 8) + src[ip] + 1)
            ip += 1
            run += 2
            while run > 0 and op < want:
                dst[op] = dst[ref]
                op += 1
                ref += 1
                run -= 1


cdef inline int64_t _lzf_walk(const unsigned char* src, int64_t clen, int64_t ulen) noexcept nogil:
    """The one validating walk of an LZF block meant to be ulen bytes, without output: the bytes it
    decompresses to (ulen when sound; a whole block of another length returns its own), or an LZF_E_*
    code when it is corrupt before its end (_lzf_error names either). _lzf_inflate trusts a block this
    passed; _lzf_head reads a header from one."""
    cdef int64_t ip = 0, op = 0, run
    cdef unsigned int ctrl
    while ip < clen:
        ctrl = src[ip]
        ip += 1
        if ctrl < 32:
            run = ctrl + 1
            if ip + run > clen or op + run > ulen:
                return LZF_E_LITERAL
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
            if op - (((ctrl & 0x1F) << 8) + src[ip] + 1) < 0 or op + run + 2 > ulen:
                return LZF_E_REFERENCE
            ip += 1
            op += run + 2
    return op


cdef int64_t _lzf_inflate(const unsigned char* src, int64_t clen, unsigned char* dst, int64_t ulen) noexcept nogil
