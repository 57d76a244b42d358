"""The per-key table: the contract between the decoder and everything downstream.

The decoder yields ``pyarrow.RecordBatch`` objects with exactly ``KEY_SCHEMA``; later stages may add
columns (``pattern``, ``node``, ``slot``) but never change these. Keep this the single place where
column names and types are spelled out: docs/rsnap.md is generated from ``COLUMN_DOCS``.
"""

from __future__ import annotations

import pyarrow as pa

# (name, arrow type, nullable, description)
_COLUMNS: list[tuple[str, pa.DataType, bool, str]] = [
    ("db", pa.int32(), False, "Logical database number (SELECT index)."),
    (
        "key",
        pa.string(),
        False,
        "Key name. UTF-8 keys as is; other keys escaped reversibly (see key_binary).",
    ),
    (
        "key_binary",
        pa.bool_(),
        False,
        "True when the key is not valid UTF-8: bytes >= 0x80 that are not part of valid UTF-8 "
        "appear as \\xNN and a backslash as \\\\; insightkit.rdb.unescape_key() restores the bytes.",
    ),
    (
        "type",
        pa.string(),
        False,
        "Type as the TYPE command names it: string, list, set, zset, hash, stream, array (Redis >= 8.8), "
        "gcra (rate-limiter state, in no GA build so far); module keys: the module type name.",
    ),
    (
        "encoding",
        pa.string(),
        False,
        "OBJECT ENCODING on the server version that wrote the file. Redis >= 8.8 arrays: sliced-array. "
        "Redis >= 8.10 hashes whose field names live in a shared template: template-listpack (RDB types "
        "29/30) and template-array (31/32), the names the 8.10 sources give these encodings (no 8.10 "
        "server was run to confirm them). GCRA keys: raw (not confirmed either).",
    ),
    (
        "num_elements",
        pa.int64(),
        False,
        "Elements: 1 for strings, length for collections, entries for streams; arrays: ARLEN (the "
        "highest index + 1, holes included; saturates at 2^63-1); template hashes: HLEN (their "
        "template's field count).",
    ),
    ("largest_element_bytes", pa.int64(), False, "Byte length of the largest member/field/value/item."),
    (
        "element_bytes",
        pa.int64(),
        False,
        "Sum of element payload bytes (fields and values for hashes, template hashes included; array "
        "elements as ARGET prints them).",
    ),
    ("serialized_bytes", pa.int64(), False, "Bytes the key occupies in the RDB (expiry, type, key, value)."),
    (
        "expires_at",
        pa.int64(),
        True,
        "Absolute expiry, Unix epoch milliseconds, exactly as the server stores it (any signed 64-bit value: "
        "PEXPIREAT accepts years past 9999); null when none.",
    ),
    ("lru_idle_s", pa.int64(), True, "Idle time in seconds (IDLE opcode, LRU policies); null when absent."),
    ("lfu_freq", pa.int16(), True, "LFU logarithmic counter (FREQ opcode, LFU policies); null when absent."),
    ("all_integers", pa.bool_(), True, "Sets: every member is an integer; null for other types."),
    ("volatile_fields", pa.int64(), True, "Hashes with field TTLs: fields that carry a TTL."),
    ("min_field_expires_at", pa.int64(), True, "Hashes with field TTLs: earliest field expiry (epoch ms)."),
    ("stream_entries", pa.int64(), True, "Streams: entries (XLEN)."),
    ("stream_groups", pa.int64(), True, "Streams: consumer groups."),
    ("stream_consumers", pa.int64(), True, "Streams: consumers over all groups."),
    (
        "stream_pending",
        pa.int64(),
        True,
        "Streams: pending (unacknowledged) entries over all groups, NACKed ones (Redis >= 8.8: pending "
        "but owned by no consumer) included.",
    ),
    ("module", pa.string(), True, "Module keys: the module type name."),
    (
        "memory_bytes",
        pa.int64(),
        False,
        "Estimated RAM: what MEMORY USAGE key SAMPLES 0 would report. Template hashes: what the key "
        "owns; MEMORY USAGE also gives each key 1/N of its template, N being known only at the end of the "
        "file (the templates' memory is in the rdb metadata, hash_templates).",
    ),
    ("key_bytes", pa.int64(), False, "Part of memory_bytes: the key's sds allocation."),
    ("overhead_bytes", pa.int64(), False, "Part of memory_bytes: object header and main-dict entry."),
    ("value_bytes", pa.int64(), False, "Part of memory_bytes: the value's data structure."),
    ("expires_bytes", pa.int64(), False, "Expires-dict entry for volatile keys; not part of memory_bytes."),
]

KEY_SCHEMA: pa.Schema = pa.schema(
    [pa.field(name, typ, nullable=nullable) for name, typ, nullable, _ in _COLUMNS]
)
KEY_COLUMNS: list[str] = [name for name, *_ in _COLUMNS]
COLUMN_DOCS: dict[str, str] = {name: doc for name, _, _, doc in _COLUMNS}

# Columns added after decoding.
PATTERN_COLUMN = "pattern"
#: The column a fleet relation gets to say which file (and so which snapshot) a row came from.
FILE_ID = "file_id"
NODE_COLUMN = "node"
SLOT_COLUMN = "slot"
