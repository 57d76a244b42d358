"""RDB 13, 14 and 15 (Redis 8.6, 8.8, 8.10), built by hand from the layouts in tests/rdb15_builder.py:
key metadata, streams with idempotent producers and NACK zones, arrays, hash templates, GCRA state.

No server we can run writes these formats, so the files are hand-built; the figures expected below are
worked out here from the bytes and from Redis' allocation rules (jemalloc size classes, the structs in
sparsearray.h / t_hash.c / stream.h), never taken from the model. The two real RDB 15 files of the
corpus are checked in test_rdb_corpus.py."""

from __future__ import annotations

import struct
from typing import Any

import pytest
import rdb15_builder as b
from hypothesis import given, settings
from hypothesis import strategies as hst
from rdb_helpers import CORPUS, chunked, decode_rows

from insightkit.acquire import rdbwriter
from insightkit.errors import RdbFormatError
from insightkit.rdb import crc64


def _je(n: int) -> int:
    """The size class of the jemalloc Redis bundles (the default allocator): 8-byte steps to 64,
    16-byte steps to 128, then 4 classes per doubling."""
    if n <= 64:
        return max(8, -(-n // 8) * 8)
    if n <= 128:
        return -(-n // 16) * 16
    step = 1 << ((n - 1).bit_length() - 3)
    return -(-n // step) * step


def _sds(n: int) -> int:
    """An sds of n bytes as sdsnewlen makes it (sds5 below 32 bytes, sds8 below 256)."""
    return _je((1 if n < 32 else 3 if n < 256 else 5) + n + 1)


def _rows(data: bytes, **options: Any) -> dict[str, dict[str, Any]]:
    rows, _ = decode_rows(data, **options)
    return {r["key"]: r for r in rows}


NAMES = b.tmpl_order([b"name", b"age", b"city"])  # age, city, name


# --- key metadata (0xF3) ----------------------------------------------------------------------------


def test_key_metadata_before_the_type_byte_is_skipped_and_priced() -> None:
    """0xF3 sits after the expiry and before the type byte; each class costs an 8-byte slot."""
    meta1 = b.key_meta((b.class_spec("KMT1"), b.module_value((2, 42), (5, b"tag"))))
    meta3 = b.key_meta(
        (b.class_spec("KMT1"), b.module_value((1, 7))),
        (b.class_spec("ab_-"), b.module_value((3, 1.5), (4, 2.5))),
        (b.class_spec("Zz09", 31, 0), b.module_value((5, b"x" * 70))),
    )
    body = b"\xfe\x00"
    body += b.key(0, b"k0", b.st(b"v"), expire_ms=1_900_000_000_000)
    body += b.key(0, b"k1", b.st(b"v"), expire_ms=1_900_000_000_000, meta=meta1)
    body += b.key(0, b"k3", b.st(b"v"), expire_ms=1_900_000_000_000, meta=meta3)
    rows = _rows(b.rdb(body, version=13))
    plain, one, three = rows["k0"], rows["k1"], rows["k3"]
    assert [r["expires_at"] for r in (plain, one, three)] == [1_900_000_000_000] * 3
    assert one["overhead_bytes"] == plain["overhead_bytes"] + 8
    assert three["overhead_bytes"] == plain["overhead_bytes"] + 24
    assert one["value_bytes"] == plain["value_bytes"]
    # the key's span starts at its expiry and includes its metadata
    assert one["serialized_bytes"] == plain["serialized_bytes"] + len(meta1)
    assert three["serialized_bytes"] == plain["serialized_bytes"] + len(meta3)


def test_0xf3_is_valkeys_slot_import_before_rdb_13() -> None:
    """Valkey 9 (and nothing before RDB 13) uses 0xF3 for a slot-import job, a top-level record."""
    slot_import = b"\xf3" + b.st(b"job-1") + b"\x01" + b"\x00\x05"
    body = slot_import + b"\xfe\x00" + b.key(0, b"k", b.st(b"v"))
    for version in (11, 12):
        assert list(_rows(b.rdb(body, version=version))) == ["k"]
    valkey = b"VALKEY080" + body + b"\xff"
    assert list(_rows(valkey + struct.pack("<Q", crc64(valkey)))) == ["k"]


# --- streams 26 / 27 ------------------------------------------------------------------------------

NODE, GROUP = b.SAMPLE_NODE, b.SAMPLE_GROUP


def test_streams_with_nack_zones_and_idempotent_producers() -> None:
    producers = [(b"prod-a", [(b"iid-1", (1_000, 0)), (b"iid-22", (1_000, 1))]), (b"p", [(b"i", (1_000, 2))])]
    body = b"\xfe\x00"
    body += b.key(21, b"v3", b.stream(21, [NODE], 3, (1_000, 2), [dict(GROUP, nacked=[])]))
    body += b.key(b.T_STREAM_4, b"v4", b.stream(26, [NODE], 3, (1_000, 2), [dict(GROUP, nacked=[])]))
    body += b.key(
        b.T_STREAM_4, b"vp", b.stream(26, [NODE], 3, (1_000, 2), [dict(GROUP, nacked=[])], producers)
    )
    body += b.key(b.T_STREAM_5, b"v5", b.stream(27, [NODE], 3, (1_000, 2), [GROUP], producers))
    two_groups = [
        GROUP,
        dict(GROUP, name=b"other", consumers=[], nacked=[(1_000, 0), (1_000, 1), (1_000, 2)]),
    ]
    body += b.key(b.T_STREAM_5, b"v5g", b.stream(27, [NODE], 3, (1_000, 2), two_groups))
    rows = _rows(b.rdb(body, version=14))
    for name in ("v3", "v4", "vp", "v5"):
        row = rows[name]
        assert (row["type"], row["encoding"], row["num_elements"]) == ("stream", "stream", 3), name
        # pending counts every group PEL entry, the NACKed one (owned by no consumer) included
        assert (
            row["stream_entries"],
            row["stream_groups"],
            row["stream_consumers"],
            row["stream_pending"],
        ) == (
            3,
            1,
            2,
            3,
        ), name
        assert row["element_bytes"] == rows["v3"]["element_bytes"], name
    assert (rows["v5g"]["stream_groups"], rows["v5g"]["stream_pending"]) == (2, 6)
    # v4 differs from v3 by its IDMP tail only (7 bytes when empty: 100 s, 100, 0, 0, 0); it costs nothing
    assert rows["v4"]["serialized_bytes"] == rows["v3"]["serialized_bytes"] + 7
    assert rows["v4"]["value_bytes"] == rows["v3"]["value_bytes"]
    # each producer: rax key (32 + pid) + idmpProducer (24) + its dict (56 + 8 per bucket, 4 at least);
    # each IID: an idmpEntry (32 + iid) and a dict entry (24)
    idmp = sum(32 + len(pid) + _je(24) + 56 + 8 * 4 for pid, _ in producers)
    idmp += sum(_je(32 + len(iid)) + 24 for _, entries in producers for iid, _ in entries)
    assert rows["vp"]["value_bytes"] == rows["v4"]["value_bytes"] + idmp
    # the NACK zone adds 1 + 16 bytes to the file and nothing in memory (the entries are in the PEL)
    assert rows["v5"]["value_bytes"] == rows["vp"]["value_bytes"]
    assert rows["v5"]["serialized_bytes"] == rows["vp"]["serialized_bytes"] + 17


def test_the_builder_writes_the_real_type_27_layout() -> None:
    """lab:stream of tests/corpus/rediscope/native-types.rdb (Redis 8.9.241, at byte 128): the
    builder's stream node is byte for byte the real one, and the real record decodes on its own."""
    real = (CORPUS / "rediscope" / "native-types.rdb").read_bytes()[128:235]
    assert real[:12] == b"\x1b\x0alab:stream"
    ms = 1786686652452
    master, node = b.stream_node(ms, [(0, {b"field": b"stream-value"})])
    assert real[12:].startswith(b"\x01" + b.st(master) + b.st(node))
    assert real.endswith(b"\x00" + b"\x40\x64\x40\x64\x00\x00\x00")  # no groups; IDMP 100 s, 100, none
    row = _rows(b.rdb(b"\xfe\x00" + real))["lab:stream"]
    assert (row["num_elements"], row["stream_groups"], row["stream_pending"]) == (1, 0, 0)
    assert row["element_bytes"] == len(b"field") + len(b"stream-value")
    assert row["serialized_bytes"] == len(real) == 107


# --- arrays (28) ------------------------------------------------------------------------------------

ARRAY_HEADER = 80  # redisArray
SPARSE4 = _je(32 + 2 * 4 + 0 + 8 * 4)  # arSlice + 4 offsets + 4 values = 72 -> 80


@pytest.mark.parametrize(
    ("elements", "arlen", "value_bytes"),
    [
        # one short string: header, a sparse slice of 4, a flat directory of 1
        ([(0, b.AR_SMALLSTR, b"abc")], 1, ARRAY_HEADER + SPARSE4 + 8),
        # 10 elements fill a sparse slice (4 -> 8 -> 10: 32 + 20 + 4 pad + 80 = 136 -> 160)
        ([(i, b.AR_INT, i) for i in range(10)], 10, ARRAY_HEADER + _je(136) + 8),
        # the 11th promotes it to a dense window over 0..9 (16), which holds 10: 32 + 16 * 8 = 160
        ([(i, b.AR_INT, i) for i in range(11)], 11, ARRAY_HEADER + _je(32 + 128) + 8),
        # 100 contiguous: the window doubles to 128 (32 + 1024 -> 1280)
        ([(i, b.AR_INT, i) for i in range(100)], 100, ARRAY_HEADER + _je(32 + 1024) + 8),
        # two slices (4096 apart) and a directory of 2 pointers
        ([(5, b.AR_FLOAT, 1.5), (4096, b.AR_FLOAT, -2.25)], 4097, ARRAY_HEADER + 2 * SPARSE4 + 16),
        # out-of-line strings: arString of 2 + 20 bytes; 2 + 1000; an int beyond 62 bits as its text
        ([(0, b.AR_SDS, b"s" * 20)], 1, ARRAY_HEADER + SPARSE4 + 8 + _je(22)),
        ([(0, b.AR_SDS, b"s" * 1000)], 1, ARRAY_HEADER + SPARSE4 + 8 + _je(1002)),
        ([(0, b.AR_SDS, b"s" * 40000)], 1, ARRAY_HEADER + SPARSE4 + 8 + _je(40008)),
        ([(0, b.AR_INT, 2**62)], 1, ARRAY_HEADER + SPARSE4 + 8 + _je(2 + 19)),
        # slice id 2048 and beyond: superdir of 3 blocks (cap 4 x 24 bytes) of 2048 pointers each
        (
            [(0, b.AR_INT, 1), (5000, b.AR_INT, 2), (2048 * 4096, b.AR_INT, 3), (2**40, b.AR_INT, 4)],
            2**40 + 1,
            ARRAY_HEADER + 4 * SPARSE4 + _je(96) + 3 * 16384,
        ),
        # the highest index (2^64 - 2): ARLEN does not fit int64, it saturates
        ([(2**64 - 2, b.AR_SMALLSTR, b"z")], 2**63 - 1, ARRAY_HEADER + SPARSE4 + _je(96) + 16384),
    ],
)
def test_array_counts_and_memory(elements: list, arlen: int, value_bytes: int) -> None:
    rows = _rows(b.rdb(b"\xfe\x00" + b.key(b.T_ARRAY, b"arr", b.array(elements)), version=14))
    row = rows["arr"]
    assert (row["type"], row["encoding"]) == ("array", "sliced-array")
    assert row["num_elements"] == arlen
    assert row["value_bytes"] == value_bytes


def test_array_elements_insert_index_and_texts() -> None:
    """librdb's array_v14_mixed_types and with_insert_idx shapes: element sizes are ARGET's texts."""
    mixed = [(0, b.AR_SDS, b"x" * 43), (1, b.AR_INT, 42), (2, b.AR_FLOAT, 1.5), (3, b.AR_SMALLSTR, b"abc")]
    cursor = [
        (1_000_000, b.AR_SMALLSTR, b"first"),
        (1_000_100, b.AR_SMALLSTR, b"mid"),
        (1_001_000, 3, b"third"),
    ]
    floats = [(0, b.AR_FLOAT, 1.0), (1, b.AR_FLOAT, -0.1), (2, b.AR_FLOAT, 1e300), (3, b.AR_INT, -(2**63))]
    body = b"\xfe\x00" + b.key(b.T_ARRAY, b"mixed", b.array(mixed))
    body += b.key(b.T_ARRAY, b"cursor", b.array(cursor, insert_idx=49))
    body += b.key(b.T_ARRAY, b"edge", b.array([(0, 3, b"a"), (1, 3, b"b")], insert_idx=2**64 - 2))
    body += b.key(b.T_ARRAY, b"floats", b.array(floats))
    rows = _rows(b.rdb(body, version=14))
    assert (rows["mixed"]["num_elements"], rows["mixed"]["element_bytes"]) == (4, 43 + 2 + 3 + 3)
    assert rows["mixed"]["largest_element_bytes"] == 43
    assert (rows["cursor"]["num_elements"], rows["cursor"]["element_bytes"]) == (1_001_001, 13)
    assert rows["edge"]["num_elements"] == 2
    # "1.0" (a whole float keeps ".0"), "-0.1", "1e+300", "-9223372036854775808"
    assert rows["floats"]["element_bytes"] == 3 + 4 + 6 + 20


# --- hash templates (0xF2, 29-32) ---------------------------------------------------------------------


def test_template_hashes_ref_forms() -> None:
    """0xF2 declares a template; types 30 (values listpack [id, v...]) and 32 (id, then strings) use
    it. HLEN is the template's field count; element sizes count the names as a plain hash would."""
    wide = b.tmpl_order([b"alpha", b"beta", b"gamma", b"delta"])
    body = b.template(5, NAMES) + b.template(2**62, wide) + b"\xfe\x00"
    body += b.key(b.T_TMPL_LP_REF, b"h1", b.tmpl_lp_ref(5, [b"30", b"Paris", 7]))
    body += b.key(b.T_TMPL_ARRAY_REF, b"k1", b.tmpl_array_ref(2**62, [b"1", b"", b"x" * 40, b"1000000"]))
    rows, meta = decode_rows(b.rdb(body))
    h1, k1 = rows
    assert (h1["type"], h1["encoding"], h1["num_elements"]) == ("hash", "template-listpack", 3)
    assert (k1["type"], k1["encoding"], k1["num_elements"]) == ("hash", "template-array", 4)
    assert h1["element_bytes"] == len(b"agecityname") + 2 + 5 + 1
    assert k1["element_bytes"] == len(b"".join(wide)) + 1 + 0 + 40 + 7 and k1["largest_element_bytes"] == 40
    values_lp = b.lp([5, b"30", b"Paris", 7])
    assert h1["value_bytes"] == _je(len(values_lp))  # the key owns its values listpack
    # a hashTemplateArray {tmpl_id, field_count, alloc_size, values[4]} and the values' sds
    assert k1["value_bytes"] == _je(24 + 4 * 8) + _sds(1) + _sds(0) + _sds(40) + _sds(7)
    # the templates' own memory is reported once: struct + names array, names, registry slot
    tmpl_bytes = sum(_je(64 + 8 * len(n)) + sum(_sds(len(x)) for x in n) + 8 for n in (NAMES, wide))
    assert meta.hash_templates == {"count": 2, "fields": 7, "bytes": tmpl_bytes}
    assert meta.to_dict()["hash_templates"]["count"] == 2


@pytest.mark.parametrize("fmt", [0, 1])
def test_template_hashes_self_contained_forms(fmt: int) -> None:
    """Types 29 and 31 (what DUMP writes) carry their field names: fmt 0 as a listpack, 1 as strings."""
    int_names = b.tmpl_order([b"7", b"name", b"1000"])  # names that look like integers stay names
    body = b"\xfe\x00"
    body += b.key(b.T_TMPL_LP, b"lp", b.tmpl_lp(NAMES, [b"41", b"Rome", b"Bob"], fmt, source_id=9))
    body += b.key(b.T_TMPL_ARRAY, b"arr", b.tmpl_array(NAMES, [b"41", b"Rome", b"B" * 50], fmt))
    body += b.key(b.T_TMPL_ARRAY, b"int", b.tmpl_array(int_names, [b"a", b"b", b"c"], fmt))
    rows = _rows(b.rdb(body))
    assert (rows["lp"]["encoding"], rows["lp"]["num_elements"]) == ("template-listpack", 3)
    assert (rows["arr"]["encoding"], rows["arr"]["num_elements"]) == ("template-array", 3)
    assert rows["lp"]["element_bytes"] == 11 + 2 + 4 + 3
    assert rows["arr"]["element_bytes"] == 11 + 2 + 4 + 50 and rows["arr"]["largest_element_bytes"] == 50
    assert rows["int"]["element_bytes"] == 1 + 4 + 4 + 3
    assert rows["lp"]["value_bytes"] == _je(len(b.lp([9, b"41", b"Rome", b"Bob"])))
    assert rows["arr"]["value_bytes"] == _je(24 + 24) + _sds(2) + _sds(4) + _sds(50)


def test_dump_payload_style_files() -> None:
    """Keys as the DUMP method assembles them (insightkit.acquire.rdbwriter): self-contained template
    hashes, arrays, streams, with expiry and a payload that starts with key metadata."""
    meta = b.key_meta((b.class_spec("KMT1"), b.module_value((2, 1))))
    payloads = {
        b"tl": b.dump_payload(b.T_TMPL_LP, b.tmpl_lp(NAMES, [b"1", b"2", b"3"], 0)),
        b"ta": b.dump_payload(b.T_TMPL_ARRAY, b.tmpl_array(NAMES, [b"1", b"2", b"3"], 1), meta=meta),
        b"ar": b.dump_payload(b.T_ARRAY, b.array([(3, b.AR_INT, 1)]), 14),
        b"st": b.dump_payload(b.T_STREAM_5, b.stream(27, [NODE], 3, (1_000, 2), [GROUP])),
    }
    assert rdbwriter.key_meta_length(payloads[b"ta"]) == len(meta)
    assert rdbwriter.key_meta_length(payloads[b"tl"]) == 0
    asm = rdbwriter.RdbAssembler()
    parts = [
        asm.emit(rdbwriter.header(15) + rdbwriter.aux("redis-ver", "8.10.2") + rdbwriter.select_db(0, 4, 1))
    ]
    for name, payload in payloads.items():
        assert rdbwriter.check_payload(payload, name, where="test", server="Redis") in (14, 15)
        expires = 1_900_000_000_000 if name == b"ta" else None
        parts.append(
            asm.emit(rdbwriter.key_record(name, payload, expires_at_ms=expires, idle_s=None, freq=None))
        )
    parts.append(asm.finish())
    rows, meta_ = decode_rows(b"".join(parts))
    got = {r["key"]: (r["type"], r["encoding"], r["num_elements"], r["expires_at"]) for r in rows}
    assert got == {
        "tl": ("hash", "template-listpack", 3, None),
        "ta": ("hash", "template-array", 3, 1_900_000_000_000),
        "ar": ("array", "sliced-array", 4, None),
        "st": ("stream", "stream", 3, None),
    }
    assert meta_.checksum == "ok"


def test_templates_are_shared_across_databases_and_keys_keep_their_db() -> None:
    body = b.template(0, NAMES) + b"\xfe\x00" + b.key(b.T_TMPL_LP_REF, b"a", b.tmpl_lp_ref(0, [1, 2, 3]))
    body += b"\xfe\x05" + b.key(b.T_TMPL_ARRAY_REF, b"b", b.tmpl_array_ref(0, [b"1", b"2", b"3"]))
    body += b.template(1, [b"x"]) + b"\xfe\x09" + b.key(b.T_TMPL_LP_REF, b"c", b.tmpl_lp_ref(1, [b"v"]))
    rows, meta = decode_rows(b.rdb(body))
    assert [(r["db"], r["key"], r["num_elements"]) for r in rows] == [(0, "a", 3), (5, "b", 3), (9, "c", 1)]
    assert meta.keys_per_db == {0: 1, 5: 1, 9: 1} and meta.hash_templates["count"] == 2


# --- GCRA (33) --------------------------------------------------------------------------------------


def test_gcra_state() -> None:
    """Type 33 (and 29 in an RDB 14 file, before GCRA moved): one number; the key carries an expiry."""
    for version, type_byte in ((15, b.T_GCRA), (14, 29), (14, b.T_GCRA)):
        body = b"\xfe\x00" + b.key(
            type_byte, b"rl", b.gcra(1_786_686_669_000_123), expire_ms=1_786_686_669_000
        )
        body += b.key(0, b"after", b.st(b"v"))
        rows = _rows(b.rdb(body, version=version))
        row = rows["rl"]
        assert (row["type"], row["encoding"], row["num_elements"]) == ("gcra", "raw", 1)
        assert row["value_bytes"] == 0 and row["expires_at"] == 1_786_686_669_000
        assert row["serialized_bytes"] == 9 + 1 + 3 + 9
        assert "after" in rows


# --- every record together ----------------------------------------------------------------------------


def test_sample_file_spans_and_chunkings() -> None:
    """Every key's span adds up to the file; any chunking of the stream gives the same rows."""
    data = b.sample_file(60)
    rows, meta = decode_rows(data)
    assert len(rows) == 60 and meta.checksum == "ok" and meta.keys_per_db == {0: 30, 2: 30}
    header = 9 + len(b"\xfa" + b.st(b"redis-ver") + b.st(b"8.10.2"))
    templates = len(b.template(0, NAMES)) + len(b.template(7, b.tmpl_order([b"f%d" % i for i in range(12)])))
    framing = 2 + 1 + len(b.ln(60)) + len(b.ln(12)) + 2 + 1 + 8  # selectdb x2, resizedb, EOF, CRC
    assert header + templates + framing + sum(r["serialized_bytes"] for r in rows) == len(data)
    for sizes in ([1], [7, 3, 1000], [4096]):
        again, _ = decode_rows(chunked(data, sizes), batch_size=3)
        assert again == rows


# --- properties over generated arrays and template hashes ---------------------------------------------

_ARRAY_VALUES = hst.one_of(
    hst.tuples(hst.just(b.AR_INT), hst.integers(-(2**63), 2**63 - 1)),
    hst.tuples(hst.just(b.AR_FLOAT), hst.floats(allow_nan=False, allow_infinity=False, width=64)),
    hst.tuples(hst.just(b.AR_SMALLSTR), hst.binary(max_size=7)),
    hst.tuples(hst.just(b.AR_SDS), hst.binary(min_size=8, max_size=80)),
)


@settings(max_examples=60, deadline=None)
@given(
    indices=hst.sets(hst.integers(0, 2**64 - 2), min_size=1, max_size=40),
    values=hst.lists(_ARRAY_VALUES, min_size=40, max_size=40),
)
def test_generated_arrays(indices: set[int], values: list[tuple[int, Any]]) -> None:
    """Any ascending set of indices: ARLEN is the last + 1 (saturating), string sizes add up, and one
    and two threads agree."""
    elements = [(idx, tag, value) for idx, (tag, value) in zip(sorted(indices), values, strict=False)]
    data = b.rdb(b"\xfe\x00" + b.key(b.T_ARRAY, b"a", b.array(elements)) + b.key(0, b"z", b.st(b"v")))
    rows, _ = decode_rows(data, threads=1)
    assert [r["key"] for r in rows] == ["a", "z"]
    assert rows[0]["num_elements"] == min(max(indices) + 1, 2**63 - 1)
    strings = [len(v) for _, tag, v in elements if tag in (b.AR_SDS, b.AR_SMALLSTR)]
    ints = [len(str(v)) for _, tag, v in elements if tag == b.AR_INT]
    assert rows[0]["element_bytes"] >= sum(strings) + sum(ints)
    assert rows[0]["value_bytes"] >= 80 + 80 * len({i >> 12 for i in indices})
    assert decode_rows(data, threads=2)[0] == rows


@settings(max_examples=60, deadline=None)
@given(
    names=hst.sets(hst.binary(max_size=20), min_size=1, max_size=30),
    fmt=hst.sampled_from([0, 1]),
    values=hst.lists(hst.binary(max_size=50), min_size=30, max_size=30),
)
def test_generated_template_hashes(names: set[bytes], fmt: int, values: list[bytes]) -> None:
    """Any set of field names in template order, all four forms: HLEN and element sizes agree."""
    order = b.tmpl_order(names)
    vals = values[: len(order)]
    body = b.template(1, order) + b"\xfe\x00"
    body += b.key(b.T_TMPL_LP_REF, b"lr", b.tmpl_lp_ref(1, vals))
    body += b.key(b.T_TMPL_ARRAY_REF, b"ar", b.tmpl_array_ref(1, vals))
    body += b.key(b.T_TMPL_LP, b"ls", b.tmpl_lp(order, vals, fmt))
    body += b.key(b.T_TMPL_ARRAY, b"as", b.tmpl_array(order, vals, fmt))
    rows, meta = decode_rows(b.rdb(body))
    expected = sum(len(n) for n in order) + sum(len(v) for v in vals)
    for row in rows:
        assert row["num_elements"] == len(order) and row["element_bytes"] == expected, row["key"]
        assert row["largest_element_bytes"] == max(len(x) for x in [*order, *vals]), row["key"]
    assert meta.hash_templates["fields"] == len(order)
    reversed_names = b.template(1, order[::-1]) if len(order) > 1 else b"\xf2\x01\x00"
    with pytest.raises(RdbFormatError):
        decode_rows(b.rdb(reversed_names))
