"""Hand-built RDBs for formats no corpus file or test server writes: pre-GA variants, rare opcodes,
string-score zsets with infinities, module values with every opcode."""

from __future__ import annotations

import struct

import pytest
from rdb_helpers import decode_rows

from insightkit.errors import RdbFormatError, RdbVersionError
from insightkit.rdb import crc64


def _rdb(body: bytes, version: int = 9, magic: bytes = b"REDIS") -> bytes:
    digits = 4 if magic == b"REDIS" else 3
    data = magic + str(version).zfill(digits).encode() + body + b"\xff"
    return data + struct.pack("<Q", crc64(data))


def _s(raw: bytes) -> bytes:
    assert len(raw) < 64
    return bytes([len(raw)]) + raw


def _lp(entries: list[bytes | int]) -> bytes:
    """A listpack of short strings and 7-bit / 16-bit integers."""
    body = b""
    for e in entries:
        if isinstance(e, int):
            enc = bytes([e]) if 0 <= e < 128 else b"\xf1" + struct.pack("<h", e)
        else:
            enc = bytes([0x80 | len(e)]) + e
        body += enc + bytes([len(enc)])
    return struct.pack("<IH", 6 + len(body) + 1, len(entries)) + body + b"\xff"


def _module_id(name: str, encver: int) -> int:
    charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    value = 0
    for ch in name:
        value = (value << 6) | charset.index(ch)
    return (value << 10) | encver


def _len64(n: int) -> bytes:
    return b"\x81" + struct.pack(">Q", n)


def test_function_pre_ga_slot_import_ram_lru_and_slot_info() -> None:
    pre_ga = b"\xf6" + _s(b"mylib") + _s(b"LUA") + b"\x01" + _s(b"desc") + _s(b"return 1")
    function2 = b"\xf5" + _s(b"#!lua name=lib2\nreturn 1")
    slot_import = b"\xf3" + _s(b"job-1") + b"\x02" + b"\x00\x05" + b"\x0a\x0b"
    slot_info = b"\xf4" + b"\x07" + b"\x01" + b"\x00"
    ram_lru = b"\x6b\x05"
    body = (
        pre_ga + function2 + b"\xfe\x00" + slot_import + slot_info + ram_lru + b"\x00" + _s(b"k") + _s(b"v")
    )
    rows, meta = decode_rows(_rdb(body, version=11))
    assert [r["key"] for r in rows] == ["k"]
    assert meta.functions == ["mylib", "lib2"]
    assert meta.slot_info == {7: 1}


def test_zset_string_scores_with_infinities_and_nan() -> None:
    members = _s(b"a") + b"\x03" + b"1.5" + _s(b"b") + b"\xfe" + _s(b"c") + b"\xff" + _s(b"d") + b"\xfd"
    rows, _ = decode_rows(_rdb(b"\x03" + _s(b"z") + b"\x04" + members, version=6))
    assert rows[0]["type"] == "zset" and rows[0]["encoding"] == "skiplist" and rows[0]["num_elements"] == 4


def test_expiretime_seconds_and_old_versions() -> None:
    body = b"\xfd" + struct.pack("<I", 1_700_000_000) + b"\x00" + _s(b"k") + _s(b"v")
    data = b"REDIS0003" + body + b"\xff"  # no CRC trailer before RDB 5
    rows, meta = decode_rows(data)
    assert rows[0]["expires_at"] == 1_700_000_000_000
    assert rows[0]["encoding"] == "raw"  # Redis 2.x had no embstr
    assert meta.checksum == "absent"


def test_hash_field_ttl_pre_ga_layouts() -> None:
    # type 22 (7.4 RC): per field an absolute TTL (0 = none), then field and value
    body22 = b"\x16" + _s(b"h") + b"\x02" + _len64(1_800_000_000_000) + _s(b"f1") + _s(b"v1")
    body22 += b"\x00" + _s(b"f2") + _s(b"v2")
    rows, _ = decode_rows(_rdb(body22, version=12))
    assert rows[0]["encoding"] == "hashtable" and rows[0]["num_elements"] == 2
    assert rows[0]["volatile_fields"] == 1 and rows[0]["min_field_expires_at"] == 1_800_000_000_000
    # type 24 (GA): min expiry first, TTLs relative to it (+1)
    body24 = b"\x18" + _s(b"h") + struct.pack("<Q", 1_000) + b"\x02" + b"\x01" + _s(b"f1") + _s(b"v1")
    body24 += b"\x0b" + _s(b"f2") + _s(b"v2")
    rows, _ = decode_rows(_rdb(body24, version=12))
    assert rows[0]["volatile_fields"] == 2 and rows[0]["min_field_expires_at"] == 1_000
    # type 23 (RC listpack-ex, no min expiry) and 25 (GA, min expiry first)
    lp = _lp([b"f1", b"v1", 0, b"f2", b"v2", 1234])
    for body in (b"\x17" + _s(b"h") + _s(lp), b"\x19" + _s(b"h") + struct.pack("<Q", 1234) + _s(lp)):
        rows, _ = decode_rows(_rdb(body, version=12))
        assert rows[0]["encoding"] == "listpackex" and rows[0]["num_elements"] == 2
        assert rows[0]["volatile_fields"] == 1 and rows[0]["min_field_expires_at"] == 1234
        assert rows[0]["element_bytes"] == 8


def test_valkey_type_22_is_hash2() -> None:
    body = b"\x16" + _s(b"h") + b"\x01" + _s(b"f") + _s(b"v") + struct.pack("<q", 5_000)
    rows, meta = decode_rows(_rdb(b"\xfe\x00" + body, version=80, magic=b"VALKEY"))
    assert meta.magic == "VALKEY" and rows[0]["volatile_fields"] == 1
    assert rows[0]["min_field_expires_at"] == 5_000


def test_module_values_and_aux() -> None:
    mid = _module_id("mymodtype", 3)
    value = _len64(mid) + b"\x01\x05" + b"\x02\x07" + b"\x03" + b"\x00" * 4 + b"\x04" + b"\x00" * 8
    value += b"\x05" + _s(b"payload") + b"\x00"
    aux = b"\xf7" + _len64(mid) + b"\x02" + b"\x02" + b"\x05" + _s(b"x") + b"\x00"
    rows, meta = decode_rows(_rdb(aux + b"\x07" + _s(b"m") + value, version=9))
    assert rows[0]["type"] == "mymodtype" and rows[0]["module"] == "mymodtype"
    assert rows[0]["encoding"] == "raw"
    assert meta.modules == ["mymodtype"]
    with pytest.raises(RdbFormatError):  # unknown module opcode
        decode_rows(_rdb(b"\x07" + _s(b"m") + _len64(mid) + b"\x09\x00"))
    with pytest.raises(RdbVersionError):  # 4.0 release-candidate module values cannot be skipped
        decode_rows(_rdb(b"\x06" + _s(b"m") + _len64(mid) + b"\x00"))


def test_quicklist2_plain_and_packed_nodes() -> None:
    plain = b"\x01" + _s(b"P" * 50)
    packed = b"\x02" + _s(_lp([b"a", 7, -300]))
    rows, _ = decode_rows(_rdb(b"\x12" + _s(b"l") + b"\x02" + packed + plain, version=10))
    row = rows[0]
    assert row["encoding"] == "quicklist" and row["num_elements"] == 4
    assert row["largest_element_bytes"] == 50 and row["element_bytes"] == 1 + 1 + 4 + 50


@pytest.mark.parametrize(
    ("server_version", "encoding_40", "encoding_44"),
    [("2.8", "raw", "raw"), ("3.0", "embstr", "raw"), ("redis-6.2", "embstr", "embstr")],
)
def test_server_version_decides_embstr_limit(server_version: str, encoding_40: str, encoding_44: str) -> None:
    body = b"\x00" + _s(b"a") + _s(b"x" * 39) + b"\x00" + _s(b"b") + _s(b"y" * 44)
    reader_rows, meta = decode_rows(_rdb(body, version=6), server_version=server_version)
    assert [r["encoding"] for r in reader_rows] == [encoding_40, encoding_44]
    assert meta.server["source"] == "server_version"


def test_allocator_reaches_the_memory_model() -> None:
    body = b"\x00" + _s(b"k") + _s(b"v")
    _, meta = decode_rows(_rdb(body), allocator="libc")
    assert meta.memory_model["allocator"] == "libc"


def test_serialized_bytes_are_exact_spans() -> None:
    """Each key's span: its IDLE/FREQ/expiry opcodes, type byte, key and value; nothing else."""
    keys = [
        b"\x00" + _s(b"k") + _s(b"value"),
        b"\xfc" + struct.pack("<Q", 1_900_000_000_000) + b"\x00" + _s(b"ab") + _s(b"v"),
        b"\xf8\x05" + b"\x00" + _s(b"idle") + b"\xc1" + struct.pack("<h", 300),
        b"\xf9\x07" + b"\xfc" + struct.pack("<Q", 1) + b"\x10" + _s(b"h") + _s(_lp([b"f", b"v", b"g", 5])),
        b"\x12" + _s(b"l") + b"\x02" + b"\x02" + _s(_lp([b"a", 7])) + b"\x01" + _s(b"P" * 40),
    ]
    other_db = b"\x02" + _s(b"s") + b"\x02" + _s(b"m1") + _s(b"m2")
    header = b"\xfa" + _s(b"redis-ver") + _s(b"7.2.4") + b"\xfa" + _s(b"ctime") + b"\xc2" + b"\x00" * 4
    body = header + b"\xfe\x00\xfb\x05\x02" + b"".join(keys) + b"\xfe\x03" + other_db
    data = _rdb(body, version=11)
    rows, meta = decode_rows(data)
    assert [r["serialized_bytes"] for r in rows] == [len(k) for k in keys] + [len(other_db)]
    assert [r["serialized_bytes"] for r in rows] == [9, 15, 11, 33, 60, 10]
    assert 9 + len(header) + 5 + 2 + sum(r["serialized_bytes"] for r in rows) + 1 + 8 == len(data)
    assert meta.total_bytes == len(data)
    assert rows[2]["lru_idle_s"] == 5 and rows[3]["lfu_freq"] == 7 and rows[3]["expires_at"] == 1


def test_rdb_version_1() -> None:
    """Redis 1.x/2.0's format: no CRC trailer, expiry in seconds, types 0-4 with plain encodings,
    string-encoded zset scores, int- and length-encoded strings."""
    body = b"\xfe\x00"
    body += b"\x00" + _s(b"str") + _s(b"hello")
    body += b"\x00" + _s(b"num") + b"\xc1" + struct.pack("<h", -1234)
    body += b"\xfd" + struct.pack("<I", 1_300_000_000) + b"\x01" + _s(b"list") + b"\x03" + _s(b"a") + _s(b"b")
    body += b"\xc0\x07"
    body += b"\x02" + _s(b"set") + b"\x02" + _s(b"x") + _s(b"y")
    body += b"\x03" + _s(b"zset") + b"\x02" + _s(b"m") + b"\x031.5" + _s(b"n") + b"\x02-2"
    body += b"\x04" + _s(b"hash") + b"\x01" + _s(b"f") + _s(b"v")
    body += b"\xfe\x01" + b"\x00" + _s(b"db1") + _s(b"x" * 50)
    data = b"REDIS0001" + body + b"\xff"
    rows, meta = decode_rows(data)
    assert meta.rdb_version == 1 and meta.checksum == "absent" and meta.complete
    assert meta.server["version"] == "2.0" and meta.server["source"] == "rdb-version"
    got = [(r["db"], r["key"], r["type"], r["encoding"], r["num_elements"]) for r in rows]
    assert got == [
        (0, "str", "string", "raw", 1),  # no embstr before Redis 3.0
        (0, "num", "string", "int", 1),
        (0, "list", "list", "linkedlist", 3),
        (0, "set", "set", "hashtable", 2),
        (0, "zset", "zset", "skiplist", 2),
        (0, "hash", "hash", "hashtable", 1),
        (1, "db1", "string", "raw", 1),
    ]
    assert rows[2]["expires_at"] == 1_300_000_000_000
    assert [r["expires_at"] for r in rows if r["key"] != "list"] == [None] * 6
    assert meta.keys_per_db == {0: 6, 1: 1}
    assert sum(r["serialized_bytes"] for r in rows) == len(data) - 9 - 2 - 2 - 1


def test_rdb_version_13() -> None:
    """Redis 8.6's format with only the types older versions had: listpack types, quicklist 2, hash
    field TTLs, RESIZEDB, millisecond expiry and the CRC trailer."""
    hfe = b"\x19" + _s(b"hfe") + struct.pack("<Q", 1234) + _s(_lp([b"f1", b"v1", 0, b"f2", b"v2", 1234]))
    body = b"\xfa" + _s(b"redis-ver") + _s(b"8.6.0") + b"\xfe\x00\xfb\x06\x01"
    body += b"\xfc" + struct.pack("<Q", 1_900_000_000_000) + b"\x00" + _s(b"str") + _s(b"v" * 10)
    body += b"\x10" + _s(b"hash") + _s(_lp([b"f", b"v"]))
    body += b"\x11" + _s(b"zset") + _s(_lp([b"a", 1, b"b", 2]))
    body += b"\x14" + _s(b"set") + _s(_lp([b"m", 3, b"n"]))
    body += b"\x12" + _s(b"list") + b"\x01" + b"\x02" + _s(_lp([b"x", b"y", 9]))
    body += hfe
    rows, meta = decode_rows(_rdb(body, version=13))
    assert meta.rdb_version == 13 and meta.checksum == "ok" and meta.redis_version == "8.6.0"
    got = [(r["key"], r["type"], r["encoding"], r["num_elements"]) for r in rows]
    assert got == [
        ("str", "string", "embstr", 1),
        ("hash", "hash", "listpack", 1),
        ("zset", "zset", "listpack", 2),
        ("set", "set", "listpack", 3),
        ("list", "list", "listpack", 3),
        ("hfe", "hash", "listpackex", 2),
    ]
    assert rows[0]["expires_at"] == 1_900_000_000_000
    assert rows[5]["volatile_fields"] == 1 and rows[5]["min_field_expires_at"] == 1234
    assert meta.resize_db == {0: {"keys": 6, "expires": 1}}
    # without redis-ver the format alone names the writer
    _, bare = decode_rows(_rdb(b"\xfe\x00" + b"\x00" + _s(b"k") + _s(b"v"), version=13))
    assert bare.server["version"] == "8.6" and bare.server["source"] == "rdb-version"


def test_rdb_version_0_is_refused_by_number() -> None:
    data = _rdb(b"\xfe\x00" + b"\x00" + _s(b"k") + _s(b"v"), version=0)
    with pytest.raises(RdbVersionError, match=r"unsupported RDB version 0\b") as info:
        decode_rows(data)
    assert info.value.offset == 5


@pytest.mark.parametrize("version", [14, 15, 16, 99, 9999])
def test_newer_versions_are_read_while_every_type_byte_is_known(version: int) -> None:
    body = b"\xfa" + _s(b"redis-ver") + _s(b"255.255.255") + b"\xfe\x00" + b"\x00" + _s(b"k") + _s(b"v")
    rows, meta = decode_rows(_rdb(body, version=version))
    assert [(r["key"], r["type"]) for r in rows] == [("k", "string")]
    assert meta.newer_than_known == (version > 15)
    assert bool(meta.notes) == (version > 15)
    if version > 15:
        assert f"RDB version {version} is newer than RDB 15" in meta.notes[0]
        assert meta.to_dict()["newer_than_known"] is True
    # an unstable build (255.255.255) is priced as the newest release its format belongs to
    assert meta.memory_model["version"] == ("8.8" if version == 14 else "8.10")
