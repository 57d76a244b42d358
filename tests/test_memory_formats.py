"""Memory estimates of the rare formats no test server writes: module values (RDB type 7) and
zipmap hashes (RDB type 9, Redis < 2.6), on the real corpus files and a hand-built one.

Every expected figure is computed here from the file's bytes (spans, blob lengths) and the documented
layouts (robj 16 bytes, dictEntry 24, sds headers, allocator size classes), never by the model."""

from __future__ import annotations

import struct

import pytest
from rdb_helpers import CORPUS, decode_rows

ALLOCATORS = ("jemalloc-16", "libc")
ROBJ, DICT_ENTRY = 16, 24
_MODULE_CHARSET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _je(n: int) -> int:
    """jemalloc 5 size class: 8, then 16-byte steps to 128, then 4 classes per doubling."""
    if n <= 8:
        return 8
    if n <= 128:
        return -(-n // 16) * 16
    step = 1 << ((n - 1).bit_length() - 3)
    return -(-n // step) * step


def _glibc(n: int) -> int:
    """glibc malloc_usable_size below the mmap threshold: 16-byte chunks with an 8-byte header, 32 at least."""
    return max(32, (n + 8 + 15) // 16 * 16) - 8


ALLOC = {"jemalloc-16": _je, "libc": _glibc}


# --- a small RDB reader of our own --------------------------------------------------------------------


def _length(data: bytes, pos: int) -> tuple[int, int, bool]:
    """An RDB length: (value, next position, is a special string encoding)."""
    first = data[pos]
    kind = first >> 6
    if kind == 0:
        return first & 0x3F, pos + 1, False
    if kind == 1:
        return ((first & 0x3F) << 8) | data[pos + 1], pos + 2, False
    if kind == 3:
        return first & 0x3F, pos + 1, True
    if first == 0x80:
        return struct.unpack(">I", data[pos + 1 : pos + 5])[0], pos + 5, False
    assert first == 0x81
    return struct.unpack(">Q", data[pos + 1 : pos + 9])[0], pos + 9, False


def _lzf(src: bytes, size: int) -> bytes:
    out = bytearray()
    i = 0
    while i < len(src):
        ctrl = src[i]
        i += 1
        if ctrl < 32:  # literal run
            out += src[i : i + ctrl + 1]
            i += ctrl + 1
            continue
        n = ctrl >> 5
        if n == 7:
            n += src[i]
            i += 1
        ref = len(out) - ((ctrl & 0x1F) << 8) - src[i] - 1
        i += 1
        for _ in range(n + 2):
            out.append(out[ref])
            ref += 1
    assert len(out) == size
    return bytes(out)


def _string(data: bytes, pos: int) -> tuple[bytes, int]:
    n, pos, special = _length(data, pos)
    if not special:
        return data[pos : pos + n], pos + n
    if n < 3:  # 8/16/32-bit integer
        width = 1 << n
        return str(int.from_bytes(data[pos : pos + width], "little", signed=True)).encode(), pos + width
    assert n == 3
    clen, pos, _ = _length(data, pos)
    ulen, pos, _ = _length(data, pos)
    return _lzf(data[pos : pos + clen], ulen), pos + clen


def _module_value_end(data: bytes, pos: int) -> tuple[str, int]:
    """Walk a module value (64-bit module id, then opcodes up to EOF); returns (module name, end)."""
    mid, pos, special = _length(data, pos)
    assert not special
    name = "".join(_MODULE_CHARSET[(mid >> (64 - 6 * (j + 1))) & 63] for j in range(9))
    while True:
        op, pos, _ = _length(data, pos)
        if op == 0:
            return name, pos
        if op in (1, 2):  # signed / unsigned integer
            _, pos, _ = _length(data, pos)
        elif op == 3:  # float
            pos += 4
        elif op == 4:  # double
            pos += 8
        else:
            assert op == 5
            _, pos = _string(data, pos)


def _zipmap_entries(blob: bytes) -> int:
    """Walk a zipmap: <zmlen> (<len>key <len><free>value <free bytes>)* 0xFF; returns its entry count."""

    def zm_len(pos: int) -> tuple[int, int]:
        if blob[pos] < 254:
            return blob[pos], pos + 1
        assert blob[pos] == 254
        return struct.unpack("<I", blob[pos + 1 : pos + 5])[0], pos + 5

    pos, count = 1, 0
    while blob[pos] != 0xFF:
        klen, pos = zm_len(pos)
        pos += klen
        vlen, pos = zm_len(pos)
        free = blob[pos]
        pos += 1 + vlen + free
        count += 1
    assert pos == len(blob) - 1, "the end mark is the blob's last byte"
    if blob[0] < 254:  # 254 and up: too many to count in the header
        assert blob[0] == count
    return count


def _zipmap_file(data: bytes) -> tuple[bytes, bytes, int]:
    """The one key of an RDB 3 file holding a single zipmap hash: (key, zipmap blob, span in the file)."""
    assert data[:9] == b"REDIS0003"
    assert data[9:11] == b"\xfe\x00"  # SELECTDB 0
    start = 11
    assert data[start] == 9  # RDB_TYPE_HASH_ZIPMAP
    key, pos = _string(data, start + 1)
    blob, end = _string(data, pos)
    assert data[end] == 0xFF and len(data) == end + 1  # EOF, no checksum before RDB 5
    return key, blob, end - start


# --- module values -----------------------------------------------------------------------------------

# (file, key, module, server_version): module.rdb says redis-ver 255.255.255 (an unstable build) in
# an RDB 11 file, so it is read as the 7.2 it was written by.
MODULE_FILES = [
    ("librdb/module.rdb", b"key1", "test__rdb", "7.2"),
    ("librdb/module_aux_v12.rdb", b"mykey", "test__rdb", None),  # redis-ver 7.4.2
    ("redis-rdb-tools/redis_40_with_module.rdb", b"foo", "ReJSON-RL", None),  # redis-ver 4.0.0
]


@pytest.mark.parametrize("allocator", ALLOCATORS)
@pytest.mark.parametrize(("name", "key", "module", "server_version"), MODULE_FILES)
def test_module_values_priced_by_serialized_size(
    name: str, key: bytes, module: str, server_version: str | None, allocator: str
) -> None:
    data = (CORPUS / name).read_bytes()
    header = b"\x07" + bytes([len(key)]) + key  # RDB_TYPE_MODULE_2, then the key
    assert data.count(header) == 1
    start = data.index(header)
    found, end = _module_value_end(data, start + len(header))
    assert found == module
    module_bytes = end - start - len(header)  # module id + opcodes + EOF: librdb's "serialized size"

    options = {"allocator": allocator}
    if server_version:
        options["server_version"] = server_version
    rows, meta = decode_rows(CORPUS / name, **options)
    row = next(r for r in rows if r["key"] == key.decode())
    assert (row["type"], row["module"], row["encoding"]) == (module, module, "raw")
    assert module in meta.modules
    assert row["serialized_bytes"] == end - start
    assert row["element_bytes"] == module_bytes
    # the rule: value_bytes is the serialized size itself, the same under either allocator (MEMORY USAGE
    # adds whatever the module's mem_usage callback reports, which no file holds)
    assert row["value_bytes"] == module_bytes
    # key sds (sds5 header, < 32 bytes) + robj + main-dict entry, as for any key on these servers
    assert row["key_bytes"] == ALLOC[allocator](1 + len(key) + 1)
    assert row["overhead_bytes"] == ROBJ + DICT_ENTRY
    assert row["memory_bytes"] == row["key_bytes"] + row["overhead_bytes"] + module_bytes
    assert row["expires_bytes"] == 0


# --- zipmap hashes -----------------------------------------------------------------------------------

ZIPMAP_FILES = [
    "redis/hash-zipmap.rdb",  # Redis' own test asset: {f1: v1, f2: v2}
    "redis-rdb-tools/zipmap_that_doesnt_compress.rdb",
    "redis-rdb-tools/zipmap_that_compresses_easily.rdb",  # the blob is LZF-compressed in the file
    "hdt3213-rdb/zipmap_big_len.rdb",  # zmlen 0xFF in the header: the entries must be counted
]


def _check_zipmap_row(row: dict, meta: object, key: bytes, blob: bytes, span: int, allocator: str) -> None:
    alloc = ALLOC[allocator]
    assert (row["key"], row["type"], row["encoding"]) == (key.decode(), "hash", "zipmap")
    assert row["num_elements"] == _zipmap_entries(blob)
    assert row["serialized_bytes"] == span
    # Redis 2.4 loads the blob into one zmalloc(len) and points the robj at it: the value is that
    # allocation; the key is an sds with the 8-byte sdshdr {len, free} of Redis < 3.2
    assert row["value_bytes"] == alloc(len(blob))
    assert row["key_bytes"] == alloc(8 + len(key) + 1)
    assert row["overhead_bytes"] == ROBJ + DICT_ENTRY
    assert row["memory_bytes"] == row["key_bytes"] + row["overhead_bytes"] + row["value_bytes"]
    model = meta.memory_model  # type: ignore[attr-defined]
    assert (model["family"], model["version"], model["allocator"]) == ("redis", "2.4", allocator)
    assert model["generation"] == "redis<=6.2"
    assert model["source"] == "RDB version 3 (no redis-ver aux field)"


@pytest.mark.parametrize("allocator", ALLOCATORS)
@pytest.mark.parametrize("name", ZIPMAP_FILES)
def test_zipmap_hash_is_its_blob_rounded_by_the_allocator(name: str, allocator: str) -> None:
    key, blob, span = _zipmap_file((CORPUS / name).read_bytes())
    rows, meta = decode_rows(CORPUS / name, allocator=allocator)
    assert len(rows) == 1
    _check_zipmap_row(rows[0], meta, key, blob, span, allocator)


def test_hand_built_zipmap_with_free_space() -> None:
    # 3 entries, one value with 5 free bytes behind it (left by an HSET of a shorter value): 100 bytes,
    # a size where the allocators differ (jemalloc 112, glibc 104)
    entries = [(b"name", b"x" * 47, 0), (b"city", b"y" * 20, 5), (b"id", b"1234567", 0)]
    blob = bytes([len(entries)])
    for field, value, free in entries:
        blob += bytes([len(field)]) + field + bytes([len(value), free]) + value + b"\0" * free
    blob += b"\xff"
    assert len(blob) == 100
    key = b"user:1"
    data = b"REDIS0003\xfe\x00\x09" + bytes([len(key)]) + key + bytes([0x40 | 0, len(blob)]) + blob + b"\xff"
    assert _zipmap_file(data) == (key, blob, 1 + 1 + len(key) + 2 + len(blob))
    for allocator, value_bytes in (("jemalloc-16", 112), ("libc", 104)):
        rows, meta = decode_rows(data, allocator=allocator)
        _check_zipmap_row(rows[0], meta, key, blob, 1 + 1 + len(key) + 2 + len(blob), allocator)
        assert rows[0]["value_bytes"] == value_bytes
        assert rows[0]["element_bytes"] == sum(len(f) + len(v) for f, v, _ in entries)
