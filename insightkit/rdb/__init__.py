"""Streaming RDB decoder: one row per key (KEY_SCHEMA), values never leave the decoder.

``read_rdb(source)`` accepts a path (memory-mapped), bytes, a binary file object or an iterable of
chunks (a socket feed) and yields ``pyarrow.RecordBatch`` objects; ``reader.metadata`` describes the file.
"""

from insightkit.rdb._crc64 import crc64
from insightkit.rdb._scan import dump_payload_facts, value_end
from insightkit.rdb.keys import escape_key, unescape_key
from insightkit.rdb.metadata import RdbMetadata
from insightkit.rdb.reader import RdbReader, read_rdb

__all__ = [
    "RdbMetadata",
    "RdbReader",
    "crc64",
    "dump_payload_facts",
    "escape_key",
    "read_rdb",
    "unescape_key",
    "value_end",
]
