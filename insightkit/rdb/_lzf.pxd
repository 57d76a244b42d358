# LZF, as RDB files compress strings with it: what a claim may be (inline, shared by the decoder and the
# segment scanner).
from libc.stdint cimport int64_t

# LZF's greatest expansion: its longest back-reference is 3 bytes (control byte with length 7, a length
# byte of 255, an offset byte) copying 7 + 255 + 2 = 264 bytes, 88 per input byte; literals yield less
# than they cost and the block must open with one. A claimed length beyond 88 x the compressed length
# is a lie whatever the bytes say.
cdef enum:
    LZF_MAX_RATIO = 88


cdef inline bint _lzf_claim_ok(int64_t clen, int64_t ulen) noexcept nogil:
    """ulen bytes may come from clen LZF bytes (ulen <= LZF_MAX_RATIO x clen, without overflow)."""
    return ulen <= 0 or (ulen - 1) // LZF_MAX_RATIO < clen
