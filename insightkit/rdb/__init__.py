"""Streaming RDB decoder: one row per key, values never leave the decoder."""

from insightkit.rdb._crc64 import crc64

__all__ = ["crc64"]
