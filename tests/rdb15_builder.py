"""A test-side builder for the records RDB 13-15 added (Redis 8.6, 8.8, 8.10), following the byte-level
layouts in librdb's parser and Redis' own tests: key metadata (0xF3), streams with idempotent producers
(type 26) and NACK zones (27), arrays (28), hash templates (0xF2) and the four template-hash types
(29-32), GCRA state (33). Lengths and strings come from the project's own writer
(insightkit.acquire.rdbwriter), so only the new layouts are spelled out here.

No server we can run writes these formats: these builders are the test files' only source besides
the two real RDB 15 files in tests/corpus/rediscope.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from insightkit.acquire.rdbwriter import encode_length as ln
from insightkit.acquire.rdbwriter import encode_string as st
from insightkit.rdb import crc64

# type bytes and opcodes
T_STREAM_4, T_STREAM_5, T_ARRAY = 26, 27, 28
T_TMPL_LP, T_TMPL_LP_REF, T_TMPL_ARRAY, T_TMPL_ARRAY_REF, T_GCRA = 29, 30, 31, 32, 33
OP_HASH_TEMPLATE, OP_KEY_META = 0xF2, 0xF3


def rdb(body: bytes, version: int = 15, *, redis_ver: str | None = "8.10.2") -> bytes:
    """A whole file: header, redis-ver, body, EOF and a correct CRC."""
    data = b"REDIS%04d" % version
    if redis_ver is not None:
        data += b"\xfa" + st(b"redis-ver") + st(redis_ver.encode())
    data += body + b"\xff"
    return data + struct.pack("<Q", crc64(data))


def key(
    type_byte: int, name: bytes, value: bytes, *, expire_ms: int | None = None, meta: bytes = b""
) -> bytes:
    """One key: [expiry] [key metadata] type, name, value (the order rdbSaveKeyValuePair uses)."""
    out = b""
    if expire_ms is not None:
        out += b"\xfc" + struct.pack("<q", expire_ms)
    return out + meta + bytes([type_byte]) + st(name) + value


def dump_payload(type_byte: int, value: bytes, version: int = 15, *, meta: bytes = b"") -> bytes:
    """What DUMP returns for a key: [key metadata] type, value, RDB version, CRC64."""
    body = meta + bytes([type_byte]) + value + struct.pack("<H", version)
    return body + struct.pack("<Q", crc64(body))


def lp(entries: Iterable[bytes | int]) -> bytes:
    """A listpack of strings (any length) and integers (7-bit, 13-bit or 64-bit encodings)."""
    items = list(entries)
    body = b""
    for e in items:
        if isinstance(e, int):
            if 0 <= e < 128:
                enc = bytes([e])
            elif -4096 <= e < 4096:
                enc = bytes([0xC0 | ((e >> 8) & 0x1F), e & 0xFF])
            else:
                enc = b"\xf4" + struct.pack("<q", e)
        elif len(e) < 64:
            enc = bytes([0x80 | len(e)]) + e
        elif len(e) < 4096:
            enc = bytes([0xE0 | (len(e) >> 8), len(e) & 0xFF]) + e
        else:
            enc = b"\xf0" + struct.pack("<I", len(e)) + e
        n = len(enc)
        back = bytes([n]) if n < 128 else bytes([n >> 7, 0x80 | (n & 0x7F)])  # 2-byte back-length
        body += enc + back
    return struct.pack("<IH", 6 + len(body) + 1, min(len(items), 0xFFFF)) + body + b"\xff"


def module_value(*ops: tuple[int, object]) -> bytes:
    """Module-value opcodes (1 signed, 2 unsigned, 3 float, 4 double, 5 string) and EOF."""
    out = b""
    for op, arg in ops:
        out += ln(op)
        if op in (1, 2):
            assert isinstance(arg, int)
            out += ln(arg)
        elif op == 3:
            out += struct.pack("<f", float(arg))  # type: ignore[arg-type]
        elif op == 4:
            out += struct.pack("<d", float(arg))  # type: ignore[arg-type]
        else:
            assert isinstance(arg, bytes)
            out += st(arg)
    return out + ln(0)


def key_meta(*classes: tuple[int, bytes]) -> bytes:
    """0xF3: class count, then per class its 32-bit spec (host order) and a module value."""
    return (
        bytes([OP_KEY_META]) + ln(len(classes)) + b"".join(struct.pack("<I", spec) + v for spec, v in classes)
    )


def class_spec(name: str, version: int = 1, flags: int = 1) -> int:
    """keymeta.c's 32-bit class spec: 4 chars of 6 bits (A-Z a-z 0-9 _ -), 5-bit version, 3-bit flags."""
    charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    value = 0
    for ch in name:
        value = (value << 6) | charset.index(ch)
    return (((value << 5) | version) << 3) | flags


# --- streams ------------------------------------------------------------------------------------


def sid(ms: int, seq: int = 0) -> bytes:
    return struct.pack(">QQ", ms, seq)


def stream_node(ms: int, entries: Sequence[tuple[int, dict[bytes, bytes]]]) -> tuple[bytes, bytes]:
    """One listpack node: master ID (ms-0) and entries (seq, fields) with the master's fields."""
    fields = list(entries[0][1])
    items: list[bytes | int] = [len(entries), 0, len(fields), *fields, 0]
    for seq, values in entries:
        if list(values) == fields:
            items += [2, 0, seq, *values.values(), len(fields) + 3]
        else:
            items += [0, 0, seq, len(values)]
            for f, v in values.items():
                items += [f, v]
            items += [2 * len(values) + 4]
    return sid(ms), lp(items)


def stream(
    type_byte: int,
    nodes: Sequence[tuple[bytes, bytes]],
    length: int,
    last: tuple[int, int],
    groups: Sequence[dict] = (),
    producers: Sequence[tuple[bytes, Sequence[tuple[bytes, tuple[int, int]]]]] = (),
    *,
    idmp: tuple[int, int] = (100, 100),
    counters: tuple[int, int] = (0, 0),
) -> bytes:
    """A type 21/26/27 stream value. A group is {"name", "last", "pel": [(ms, seq, delivered_ms,
    count)], "consumers": [(name, [(ms, seq)])], "nacked": [(ms, seq)]}."""
    out = ln(len(nodes)) + b"".join(st(master) + st(blob) for master, blob in nodes)
    out += ln(length) + ln(last[0]) + ln(last[1])
    out += ln(0) + ln(0) + ln(0) + ln(0) + ln(length)  # first id, max deleted id, entries added
    out += ln(len(groups))
    for g in groups:
        out += st(g["name"]) + ln(g["last"][0]) + ln(g["last"][1]) + ln(g.get("entries_read", 0))
        out += ln(len(g["pel"]))
        for ms, seq, delivered, count in g["pel"]:
            out += sid(ms, seq) + struct.pack("<q", delivered) + ln(count)
        out += ln(len(g["consumers"]))
        for name, pel in g["consumers"]:
            out += st(name) + struct.pack("<qq", 1_700_000_000_000, 1_700_000_000_000) + ln(len(pel))
            out += b"".join(sid(ms, seq) for ms, seq in pel)
        if type_byte >= T_STREAM_5:
            out += ln(len(g["nacked"])) + b"".join(sid(ms, seq) for ms, seq in g["nacked"])
    if type_byte >= T_STREAM_4:
        out += ln(idmp[0]) + ln(idmp[1]) + ln(len(producers))
        for pid, entries in producers:
            out += st(pid) + ln(len(entries))
            for iid, (ms, seq) in entries:
                out += st(iid) + ln(ms) + ln(seq)
        out += ln(counters[0]) + ln(counters[1])
    return out


# --- arrays -------------------------------------------------------------------------------------

AR_SDS, AR_INT, AR_FLOAT, AR_SMALLSTR = 0, 1, 2, 3


def array(elements: Sequence[tuple[int, int, object]], insert_idx: int | None = None) -> bytes:
    """A type 28 value: (index, tag, value) per element; strings as bytes, ints and floats as numbers."""
    out = ln(len(elements)) + (ln(0) if insert_idx is None else ln(1) + ln(insert_idx))
    for idx, tag, value in elements:
        out += ln(idx) + ln(tag)
        if tag == AR_INT:
            out += struct.pack("<q", value)  # type: ignore[arg-type]
        elif tag == AR_FLOAT:
            out += struct.pack("<d", value)  # type: ignore[arg-type]
        else:
            assert isinstance(value, bytes)
            out += st(value)
    return out


def array_value(value: bytes) -> tuple[int, object]:
    """(tag, value) as Redis 8.8 saves a value: ints that fit 62 bits, floats, short strings, strings."""
    try:
        n = int(value)
        if str(n).encode() == value and -(2**61) <= n < 2**61:
            return AR_INT, n
    except ValueError:
        pass
    return (AR_SMALLSTR, value) if len(value) <= 7 else (AR_SDS, value)


# --- hash templates -----------------------------------------------------------------------------


def tmpl_order(names: Iterable[bytes]) -> list[bytes]:
    """Field names in a template's order (sdscmplen: shorter first, then bytes)."""
    return sorted(names, key=lambda n: (len(n), n))


def template(tmpl_id: int, names: Sequence[bytes]) -> bytes:
    """0xF2: id, field count, names (in the order given: sort them with tmpl_order)."""
    return bytes([OP_HASH_TEMPLATE]) + ln(tmpl_id) + ln(len(names)) + b"".join(st(n) for n in names)


def tmpl_lp_ref(tmpl_id: int, values: Sequence[bytes | int]) -> bytes:
    """Type 30: one listpack, [id, value...]."""
    return st(lp([tmpl_id, *values]))


def tmpl_array_ref(tmpl_id: int, values: Sequence[bytes]) -> bytes:
    """Type 32: id, then one string per field."""
    return ln(tmpl_id) + b"".join(st(v) for v in values)


def tmpl_fields(names: Sequence[bytes], fmt: int) -> bytes:
    """The self-contained forms' names: fmt 0 one listpack, fmt 1 a count and strings."""
    if fmt == 0:
        return ln(0) + st(lp(list(names)))
    return ln(1) + ln(len(names)) + b"".join(st(n) for n in names)


def tmpl_lp(names: Sequence[bytes], values: Sequence[bytes | int], fmt: int, source_id: int = 0) -> bytes:
    """Type 29 (DUMP of a template-listpack hash): names, then the values listpack [id, value...]."""
    return tmpl_fields(names, fmt) + st(lp([source_id, *values]))


def tmpl_array(names: Sequence[bytes], values: Sequence[bytes], fmt: int) -> bytes:
    """Type 31 (DUMP of a template-array hash): names, then one string per field."""
    return tmpl_fields(names, fmt) + b"".join(st(v) for v in values)


def gcra(tat_us: int) -> bytes:
    """Type 33: the theoretical arrival time in microseconds, one length."""
    return ln(tat_us)


# --- a file with every new record ----------------------------------------------------------------


# A stream node of three entries (the third with fields of its own) and a consumer group whose middle
# entry is NACKed: pending 3, two consumers.
SAMPLE_NODE = stream_node(1_000, [(0, {b"f": b"v"}), (1, {b"f": b"w"}), (2, {b"f": b"x", b"g": b"y"})])
SAMPLE_GROUP = {
    "name": b"grp",
    "last": (1_000, 2),
    "entries_read": 3,
    "pel": [(1_000, 0, 5, 1), (1_000, 1, 0, 1), (1_000, 2, 7, 2)],
    "consumers": [(b"alice", [(1_000, 0)]), (b"bob", [(1_000, 2)])],
    "nacked": [(1_000, 1)],
}


def small_files() -> list[bytes]:
    """One small file per new record (fuzzing seeds: mutations land on the new layouts)."""
    names = tmpl_order([b"name", b"age", b"city"])
    producers = [(b"p", [(b"iid-1", (1_000, 0)), (b"iid-2", (1_000, 1))])]
    records = [
        template(3, names) + key(T_TMPL_LP_REF, b"h", tmpl_lp_ref(3, [b"30", b"Paris", 7])),
        template(3, names) + key(T_TMPL_ARRAY_REF, b"h", tmpl_array_ref(3, [b"30", b"Paris", b"x" * 30])),
        key(T_TMPL_LP, b"h", tmpl_lp(names, [b"1", b"2", b"3"], 0)),
        key(T_TMPL_LP, b"h", tmpl_lp(names, [b"1", b"2", b"3"], 1)),
        key(T_TMPL_ARRAY, b"h", tmpl_array(names, [b"1", b"2", b"3"], 0)),
        key(T_TMPL_ARRAY, b"h", tmpl_array(names, [b"1", b"2", b"3"], 1)),
        key(T_ARRAY, b"a", array([(0, AR_SMALLSTR, b"abc"), (9, AR_INT, -5), (70, AR_FLOAT, 2.5)], 4)),
        key(T_ARRAY, b"a", array([(i, AR_INT, i) for i in range(12)] + [(10**9, AR_SDS, b"s" * 9)])),
        key(T_STREAM_5, b"s", stream(27, [SAMPLE_NODE], 3, (1_000, 2), [SAMPLE_GROUP], producers)),
        key(T_STREAM_4, b"s", stream(26, [SAMPLE_NODE], 3, (1_000, 2), [], producers)),
        key(
            0,
            b"k",
            st(b"v"),
            expire_ms=5,
            meta=key_meta((class_spec("KMT1"), module_value((2, 7), (5, b"x")))),
        ),
        key(T_GCRA, b"g", gcra(1_786_686_669_000_123), expire_ms=1_786_686_669_000),
    ]
    return [rdb(b"\xfe\x00" + r) for r in records]


def sample_file(n: int = 40, *, late_template: bool = False) -> bytes:
    """An RDB 15 of n keys of every new kind (and plain strings between them) in two databases, with
    expiries and key metadata; templates are declared up front (or, with ``late_template``, one more
    after the first half of the keys, as no saver does but a decoder must accept)."""
    names = tmpl_order([b"name", b"age", b"city"])
    wide = tmpl_order([b"f%d" % i for i in range(12)])
    body = template(0, names) + template(7, wide) + b"\xfe\x00\xfb" + ln(n) + ln(n // 5)
    node, group = SAMPLE_NODE, SAMPLE_GROUP
    for i in range(n):
        if i == n // 2:
            body += b"\xfe\x02"
            if late_template:
                body += template(9, tmpl_order([b"x", b"yy"]))
        name = b"k:%d" % i
        expire = 1_900_000_000_000 + i if i % 5 == 0 else None
        meta = key_meta((class_spec("KMT1"), module_value((2, i)))) if i % 7 == 3 else b""
        kind = i % 11
        if kind == 0:
            body += key(0, name, st(b"value-%d" % i), expire_ms=expire, meta=meta)
        elif kind == 1:
            body += key(
                T_TMPL_LP_REF, name, tmpl_lp_ref(0, [i, b"town", b"who%d" % i]), expire_ms=expire, meta=meta
            )
        elif kind == 2:
            values = [b"v%d-%d" % (i, j) for j in range(12)]
            body += key(T_TMPL_ARRAY_REF, name, tmpl_array_ref(7, values), expire_ms=expire, meta=meta)
        elif kind == 3:
            body += key(
                T_TMPL_LP, name, tmpl_lp(names, [b"1", b"x", b"y"], i % 2), expire_ms=expire, meta=meta
            )
        elif kind == 4:
            body += key(
                T_TMPL_ARRAY, name, tmpl_array(names, [b"1", b"x", b"y" * 30], i % 2), expire_ms=expire
            )
        elif kind == 5:
            elements = [(j * (i + 1), *array_value(b"%d" % j if j % 3 else b"str-%d" % j)) for j in range(15)]
            body += key(
                T_ARRAY, name, array(elements, insert_idx=i if i % 2 else None), expire_ms=expire, meta=meta
            )
        elif kind == 6:
            body += key(T_GCRA, name, gcra(1_700_000_000_000_000 + i), expire_ms=1_900_000_000_000)
        elif kind == 7:
            producers = [
                (b"p%d" % j, [(b"iid-%d-%d" % (j, e), (1_000, e % 3)) for e in range(j + 1)])
                for j in range(2)
            ]
            body += key(T_STREAM_5, name, stream(27, [node], 3, (1_000, 2), [group], producers), meta=meta)
        elif kind == 8:
            body += key(
                T_STREAM_4,
                name,
                stream(26, [node], 3, (1_000, 2), [dict(group, nacked=[])]),
                expire_ms=expire,
            )
        elif kind == 9 and late_template and i > n // 2:
            body += key(T_TMPL_ARRAY_REF, name, tmpl_array_ref(9, [b"1", b"2"]), meta=meta)
        else:
            body += key(0, name, b"\xc0" + bytes([i % 100]), expire_ms=expire, meta=meta)
    return rdb(body)
