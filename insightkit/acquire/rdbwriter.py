"""Assemble a valid RDB file from DUMP payloads, incrementally, so it can be streamed.

A DUMP payload is ``[key metadata]<type byte><object body><2-byte LE RDB version><8-byte LE CRC64>``
(the key metadata, opcode 0xF3, only from Redis 8.6 on and only for keys that modules attached some to);
in a file the same object is written as ``[expiry][idle|freq][key metadata]<type byte><key string><object
body>``. Everything
around the keys (header, AUX, SELECTDB, RESIZEDB, EOF, CRC64 trailer) is written here. The result
loads into redis-server and is what the decoder reads for the DUMP method.
"""

from __future__ import annotations

from insightkit.errors import BadDumpPayload, SnapshotError
from insightkit.rdb import crc64, dump_payload_facts, value_end

OP_AUX = 0xFA
OP_RESIZEDB = 0xFB
OP_EXPIRETIME_MS = 0xFC
OP_SELECTDB = 0xFE
OP_EOF = 0xFF
OP_IDLE = 0xF8
OP_FREQ = 0xF9
OP_KEY_META = 0xF3
PAYLOAD_TRAILER = 10
# The newest payload versions this decoder reads: Redis numbers its formats up to 15 (8.10); Valkey 9
# moved to its own numbering from 80 (VALKEY080), Valkey 7.2-8.x write Redis' 11.
NEWEST_REDIS_RDB = 15
VALKEY_RDB_BASE = 80
NEWEST_VALKEY_RDB = 80
_KNOWN_TYPES = frozenset((*range(0, 6), *range(9, 29), 33))
_UNCHECKED_TYPES = frozenset((6, 29, 30, 31, 32))  # module (pre-GA) values, template hashes


def encode_length(n: int) -> bytes:
    """RDB length encoding: 6-bit, 14-bit, 32-bit or 64-bit big-endian."""
    if n < 0x40:
        return bytes((n,))
    if n < 0x4000:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + n.to_bytes(8, "big")


def encode_string(data: bytes) -> bytes:
    return encode_length(len(data)) + data


def payload_family(version: int) -> str:
    """Whose numbering a payload's RDB version is in: Valkey's own from 80 on, Redis' below."""
    return "Valkey" if version >= VALKEY_RDB_BASE else "Redis"


def check_payload(payload: object, key: bytes, *, where: str, server: str, redis_server: bool = False) -> int:
    """Verify one DUMP reply before it enters the RDB and return its RDB version.

    What RESTORE would check (the 2-byte version is one this decoder reads, the CRC64 over everything
    before it matches), plus what RESTORE does not: exactly one object, no bytes after it — trailing
    bytes would be copied into the file and decoded as further keys. ``server`` ("Redis 7.0.15") names
    the server in the error; the payload's own family comes from its version number. ``redis_server``:
    INFO says Redis, so a payload in Valkey's numbering (80 on) is refused (Valkey servers may write
    either: 7.2-8.x keep Redis' 11).
    """
    if not isinstance(payload, bytes):
        kind = {"int": "an integer", "list": "an array", "str": "a status reply"}.get(
            type(payload).__name__, type(payload).__name__
        )
        raise BadDumpPayload(f"{where}: DUMP of key {key[:100]!r} answered {kind}, not a bulk string")
    version, crc_ok, end = dump_payload_facts(payload)
    n = len(payload)
    trailer_at = n - PAYLOAD_TRAILER
    if (
        end == trailer_at
        and crc_ok
        and (1 <= version <= NEWEST_REDIS_RDB or (version == NEWEST_VALKEY_RDB and not redis_server))
    ):
        return version  # the common case, all in one C call
    name = f"{key[:100]!r}"
    if version < 0:
        raise BadDumpPayload(f"{where}: DUMP payload of key {name} is too short ({n} bytes)")
    family = payload_family(version)
    newest = NEWEST_VALKEY_RDB if family == "Valkey" else NEWEST_REDIS_RDB
    if version > newest or version < 1:
        raise BadDumpPayload(
            f"{where}: DUMP payload of key {name} has {family} RDB version {version}, which this "
            f"insightkit does not read ({family} up to {newest}; the server says it is {server})"
        )
    if family == "Valkey" and redis_server:
        raise BadDumpPayload(
            f"{where}: DUMP payload of key {name} has Valkey RDB version {version}, but the server says "
            f"it is {server}"
        )
    if not crc_ok:
        raise BadDumpPayload(f"{where}: DUMP payload of key {name} fails its CRC64 check")
    meta = key_meta_length(payload) if end == -3 else 0
    rdb_type = payload[meta]
    if rdb_type not in _KNOWN_TYPES and rdb_type not in _UNCHECKED_TYPES and rdb_type != 7:
        raise BadDumpPayload(f"{where}: DUMP payload of key {name} holds unknown RDB type {rdb_type}")
    if rdb_type == 7:
        end = _module_value_end(payload, meta + 1, trailer_at)
    elif rdb_type in _UNCHECKED_TYPES and not (rdb_type == 29 and version == 14):
        end = trailer_at  # cannot be stepped over without the file's context: the decoder checks it
    elif meta:
        end = value_end(payload[:trailer_at], meta + 1, rdb_type, family == "Valkey", version == 14)
    if end == -1 or end > trailer_at:
        raise BadDumpPayload(f"{where}: DUMP payload of key {name} ends inside its object (type {rdb_type})")
    if end == -2:
        raise BadDumpPayload(
            f"{where}: DUMP payload of key {name} holds a malformed object (type {rdb_type})"
        )
    if end != trailer_at:
        raise BadDumpPayload(
            f"{where}: DUMP payload of key {name} has {trailer_at - end} bytes after its object "
            "(exactly one object expected)"
        )
    return version


class _UnknownModuleOpcode(ValueError):
    """A module value's opcode is none of the five the format defines."""


def _module_opcodes_end(data: bytes, pos: int, limit: int | None = None) -> int:
    """Past a module value's opcodes (after its id or class spec), up to and including EOF.

    IndexError or ValueError when the bytes end or go past ``limit`` first; _UnknownModuleOpcode
    for an opcode the format does not define.
    """
    while True:
        op, pos = _read_length(data, pos)
        if op == 0:
            return pos
        if op in (1, 2):
            _, pos = _read_length(data, pos)
        elif op in (3, 4):
            pos += 4 if op == 3 else 8
        elif op == 5:
            pos = _skip_string(data, pos)
        else:
            raise _UnknownModuleOpcode(f"module opcode {op}")
        if limit is not None and pos > limit:
            raise IndexError(f"module value runs past {limit}")


def _module_value_end(payload: bytes, pos: int, limit: int) -> int:
    """Past a module value (type 7): its 8-byte module id, then opcodes up to EOF; -2 for an opcode
    the format does not define, -1 when the value runs past ``limit``."""
    try:
        return _module_opcodes_end(payload, pos + 8, limit)
    except _UnknownModuleOpcode:
        return -2
    except (IndexError, ValueError):
        return -1


def _read_length(data: bytes, pos: int) -> tuple[int, int]:
    first = data[pos]
    if first < 0x40:
        return first, pos + 1
    if first < 0x80:
        return ((first & 0x3F) << 8) | data[pos + 1], pos + 2
    if first == 0x80:
        return int.from_bytes(data[pos + 1 : pos + 5], "big"), pos + 5
    if first == 0x81:
        return int.from_bytes(data[pos + 1 : pos + 9], "big"), pos + 9
    raise ValueError(f"length byte 0x{first:02x} at {pos}")


def _skip_string(data: bytes, pos: int) -> int:
    first = data[pos]
    if first >= 0xC0:
        kind = first & 0x3F
        if kind < 3:
            return pos + 1 + (1 << kind)
        if kind != 3:
            raise ValueError(f"string encoding {kind} at {pos}")
        clen, pos = _read_length(data, pos + 1)
        _, pos = _read_length(data, pos)
        return pos + clen
    n, pos = _read_length(data, pos)
    return pos + n


def key_meta_length(payload: bytes) -> int:
    """Bytes of the key metadata (0xF3 …) a DUMP payload starts with; 0 when it starts with the type.

    Key metadata is the count of classes, then per class a 4-byte class spec and a module value (module
    opcodes up to EOF)."""
    if not payload or payload[0] != OP_KEY_META:
        return 0
    try:
        classes, pos = _read_length(payload, 1)
        for _ in range(classes):
            pos = _module_opcodes_end(payload, pos + 4)  # a 4-byte class spec, then a module value
    except (IndexError, ValueError) as exc:
        raise SnapshotError(f"DUMP payload's key metadata cannot be read ({exc})") from None
    if pos >= len(payload) - PAYLOAD_TRAILER:
        raise SnapshotError("DUMP payload's key metadata runs into its trailer")
    return pos


def header(rdb_version: int) -> bytes:
    """``REDIS0011``; RDB versions >= 80 are Valkey's own numbering (``VALKEY080``)."""
    if rdb_version >= 80:
        return b"VALKEY%03d" % rdb_version
    return b"REDIS%04d" % rdb_version


def aux(name: str, value: str) -> bytes:
    return bytes((OP_AUX,)) + encode_string(name.encode()) + encode_string(value.encode())


def select_db(db: int, keys: int, expires: int) -> bytes:
    return (
        bytes((OP_SELECTDB,))
        + encode_length(db)
        + bytes((OP_RESIZEDB,))
        + encode_length(keys)
        + encode_length(expires)
    )


def key_record(
    key: bytes, payload: bytes, *, expires_at_ms: int | None, idle_s: int | None, freq: int | None
) -> bytes:
    """One key as rdbSaveKeyValuePair lays it out: expiry, LRU/LFU, key metadata, type, key, value."""
    meta = key_meta_length(payload)
    parts = []
    if expires_at_ms is not None:
        parts.append(bytes((OP_EXPIRETIME_MS,)) + expires_at_ms.to_bytes(8, "little", signed=True))
    if idle_s is not None:
        parts.append(bytes((OP_IDLE,)) + encode_length(idle_s))
    elif freq is not None:
        parts.append(bytes((OP_FREQ, freq & 0xFF)))
    if meta:
        parts.append(payload[:meta])
    parts.append(payload[meta : meta + 1])
    parts.append(encode_length(len(key)))
    parts.append(key)
    parts.append(payload[meta + 1 : -PAYLOAD_TRAILER])
    return b"".join(parts)


class RdbAssembler:
    """Keeps the running CRC64 of everything emitted; ``finish()`` gives the EOF + trailer bytes."""

    def __init__(self) -> None:
        self.crc = 0
        self.bytes_written = 0

    def emit(self, data: bytes) -> bytes:
        self.crc = crc64(data, self.crc)
        self.bytes_written += len(data)
        return data

    def finish(self) -> bytes:
        eof = self.emit(bytes((OP_EOF,)))
        trailer = self.crc.to_bytes(8, "little")
        self.bytes_written += 8
        return eof + trailer
