# Redis' CRC-64 (Jones polynomial, reflected), for cimport by the decoder's hot loop.
from libc.stdint cimport uint64_t

cdef uint64_t crc64_update(uint64_t crc, const unsigned char* data, size_t length) noexcept nogil
