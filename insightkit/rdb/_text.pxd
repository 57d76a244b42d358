# Integers and text as Redis writes them, inline for every module that needs them (the decoder's
# string and key parsing, the blob walkers' element lengths).

from libc.stdint cimport int64_t, uint64_t


cdef inline int64_t _digits(int64_t v) noexcept nogil:
    """Length of the decimal representation of v (what the element would be as a string)."""
    cdef int64_t n = 1
    cdef uint64_t u
    if v < 0:
        n = 2
        u = <uint64_t>(-(v + 1)) + 1
    else:
        u = <uint64_t>v
    while u >= 10:
        u //= 10
        n += 1
    return n


cdef inline bint _is_canonical_int(const unsigned char* s, int64_t n) noexcept nogil:
    """True when s is how Redis prints a signed 64-bit integer (string2ll accepts it)."""
    cdef int64_t i = 0
    cdef uint64_t v = 0, limit
    cdef bint neg = False
    if n <= 0 or n > 20:
        return False
    if s[0] == 45:  # '-'
        neg = True
        i = 1
        if n == 1:
            return False
    if s[i] == 48:  # '0'
        return n == 1
    while i < n:
        if s[i] < 48 or s[i] > 57:
            return False
        if v > 1844674407370955161ULL:
            return False
        v = v * 10 + (s[i] - 48)
        if v < 10 and i > 1:  # overflow wrapped
            return False
        i += 1
    limit = 9223372036854775808ULL if neg else 9223372036854775807ULL
    return v <= limit


cdef inline int64_t _format_int(int64_t v, unsigned char* out) noexcept nogil:
    """Write v in decimal (as Redis prints it) to out (>= 20 bytes); returns the length."""
    cdef int64_t n = _digits(v), i = n
    cdef uint64_t u
    if v < 0:
        out[0] = 45  # '-'
        u = <uint64_t>(-(v + 1)) + 1
    else:
        u = <uint64_t>v
    while True:
        i -= 1
        out[i] = <unsigned char>(48 + u % 10)
        u //= 10
        if u == 0:
            break
    return n


cdef inline int _utf8_seq(const unsigned char* s, int64_t n) noexcept nogil:
    """Length of the valid UTF-8 sequence starting at s (1-4), or 0 when the byte starts none."""
    cdef unsigned char c = s[0]
    if c < 0x80:
        return 1
    if c < 0xC2:
        return 0
    if c < 0xE0:
        return 2 if n >= 2 and (s[1] & 0xC0) == 0x80 else 0
    if c < 0xF0:
        if n < 3 or (s[1] & 0xC0) != 0x80 or (s[2] & 0xC0) != 0x80:
            return 0
        if c == 0xE0 and s[1] < 0xA0:
            return 0
        if c == 0xED and s[1] > 0x9F:
            return 0
        return 3
    if c < 0xF5:
        if n < 4 or (s[1] & 0xC0) != 0x80 or (s[2] & 0xC0) != 0x80 or (s[3] & 0xC0) != 0x80:
            return 0
        if c == 0xF0 and s[1] < 0x90:
            return 0
        if c == 0xF4 and s[1] > 0x8F:
            return 0
        return 4
    return 0
