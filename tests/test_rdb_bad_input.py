"""Bad input raises an RdbError subclass naming the byte offset (and key when inside one): truncation,
wrong magic, bad CRC, lying or huge lengths, unknown types, bad LZF, corrupt blobs — never a crash or hang."""

from __future__ import annotations

import random
import resource
import struct
import time
from typing import Any

import pytest
import rdb15_builder as b15
import rdb_bombs
from rdb_helpers import CORPUS, chunked, decode_rows, fuzz_seeds, mutate

import insightkit
from insightkit.errors import (
    RdbChecksumError,
    RdbError,
    RdbFormatError,
    RdbTruncatedError,
    RdbVersionError,
)
from insightkit.rdb import crc64


def _rdb(body: bytes, version: int = 9) -> bytes:
    """A well-formed RDB around ``body`` (opcodes/keys), with a correct CRC."""
    data = f"REDIS{version:04d}".encode() + body + b"\xff"
    return data + struct.pack("<Q", crc64(data))


def _s(raw: bytes) -> bytes:
    assert len(raw) < 64
    return bytes([len(raw)]) + raw


def _decode(data: object, **options: object) -> list[dict]:
    rows, _ = decode_rows(data, **options)
    return rows


def test_handmade_file_decodes() -> None:
    rows = _decode(_rdb(b"\xfe\x00" + b"\x00" + _s(b"k") + _s(b"v")))
    assert [(r["key"], r["type"], r["encoding"]) for r in rows] == [("k", "string", "embstr")]


def test_every_truncation_is_reported() -> None:
    data = (CORPUS / "hdt3213-rdb" / "memory.rdb").read_bytes()
    for cut in range(len(data)):
        with pytest.raises(RdbTruncatedError) as info:
            _decode(data[:cut])
        assert info.value.offset == cut or cut < 9
    truncated_in_key = data[: data.index(b"large") + 100]
    with pytest.raises(RdbTruncatedError) as info:
        _decode(truncated_in_key)
    assert info.value.key == "large"


def test_wrong_magic_and_future_version() -> None:
    with pytest.raises(RdbFormatError) as info:
        _decode(b"RUDIS0009" + b"\xff" * 9)
    assert info.value.offset == 0
    with pytest.raises(RdbTruncatedError):
        _decode(b"")  # an empty stream ends inside the header
    for header in (b"REDIS0000", b"VALKEY079", b"VALKEY011"):  # no such version / Redis' range
        with pytest.raises(RdbVersionError) as info:
            _decode(header + b"\xff" + b"\x00" * 8)
        assert info.value.offset in (5, 6)
    for header in (b"REDIS0042", b"VALKEY999"):  # newer than known: read while every byte is known
        rows, meta = decode_rows(header + b"\xff" + b"\x00" * 8)
        assert rows == [] and meta.newer_than_known and meta.notes and meta.checksum == "disabled"


def test_bad_crc_names_the_trailer() -> None:
    data = bytearray(_rdb(b"\x00" + _s(b"k") + _s(b"v")))
    data[-1] ^= 0xFF
    with pytest.raises(RdbChecksumError) as info:
        _decode(bytes(data))
    assert info.value.offset == len(data) - 8
    _, meta = decode_rows(bytes(data), verify_checksum=False)
    assert meta.checksum == "not-verified"
    data[-8:] = b"\x00" * 8
    _, meta = decode_rows(bytes(data))
    assert meta.checksum == "disabled"


def test_huge_string_length_fails_at_once_without_allocating() -> None:
    """A 20-byte file claiming a 2^60-byte value: truncation error, no giant allocation, no wait."""
    for claim in (b"\x81" + struct.pack(">Q", 1 << 60), b"\x80" + struct.pack(">I", 0xFFFFFFF0)):
        for where in ("key", "value"):
            if where == "value":
                data = b"REDIS0009\x00" + _s(b"k") + claim
            else:
                data = b"REDIS0009\x00" + claim + b"abc"
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            start = time.perf_counter()
            with pytest.raises(RdbTruncatedError):
                _decode(data)
            with pytest.raises(RdbTruncatedError):
                _decode(chunked(data, [1]))
            assert time.perf_counter() - start < 1
            assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB


def test_huge_element_count_fails_at_once() -> None:
    data = b"REDIS0009\x02" + _s(b"s") + b"\x81" + struct.pack(">Q", 1 << 62) + _s(b"m")
    start = time.perf_counter()
    with pytest.raises(RdbTruncatedError) as info:
        _decode(data)
    assert info.value.key == "s"
    assert time.perf_counter() - start < 1


def test_unknown_type_byte_and_bad_length_byte() -> None:
    for version, suffix in ((9, ""), (15, ""), (16, "newer than RDB 15")):
        with pytest.raises(RdbFormatError) as info:
            _decode(_rdb(b"\xfe\x00" + b"\x22" + _s(b"k") + _s(b"v"), version=version))
        assert "unknown value type 34" in str(info.value) and suffix in str(info.value)
        assert info.value.offset == 11 and info.value.key == "k"
    for t in (8, 106, 120, 241):  # the other unassigned type bytes below the opcodes
        with pytest.raises(RdbFormatError, match=f"unknown value type {t}"):
            _decode(_rdb(bytes([t]) + _s(b"k") + _s(b"v"), version=15))
    with pytest.raises(RdbFormatError) as info:
        _decode(_rdb(b"\x00" + _s(b"k") + b"\x85"))
    assert "length byte" in str(info.value) and info.value.key == "k"


def _lzf_string(raw_len: int, compressed: bytes) -> bytes:
    return b"\xc3" + bytes([len(compressed), raw_len]) + compressed


def test_bad_lzf() -> None:
    good = _lzf_string(3, b"\x02abc")  # one literal run of 3
    assert _decode(_rdb(b"\x00" + _s(b"k") + good))[0]["element_bytes"] == 3
    lying_size = _lzf_string(5, b"\x02abc")
    backref_before_start = _lzf_string(10, b"\x00a\xe0\x10")
    overrun = _lzf_string(3, b"\x05abc")
    for bad in (lying_size, backref_before_start, overrun):
        with pytest.raises(RdbFormatError) as info:
            _decode(_rdb(b"\x00" + _s(b"k") + bad))
        assert "LZF" in str(info.value) and info.value.key == "k"
    with pytest.raises(RdbFormatError):  # absurd expansion ratio claimed
        _decode(_rdb(b"\x00" + _s(b"k") + b"\xc3\x01\x81" + struct.pack(">Q", 1 << 40) + b"\x00"))


def _listpack(entries: list[bytes]) -> bytes:
    body = b""
    for e in entries:
        assert len(e) < 64
        enc = bytes([0x80 | len(e)]) + e
        body += enc + bytes([len(enc)])
    total = 6 + len(body) + 1
    return struct.pack("<IH", total, len(entries)) + body + b"\xff"


def test_blobs_whose_inner_lengths_lie() -> None:
    good = _listpack([b"f", b"v"])
    rows = _decode(_rdb(b"\x10" + _s(b"h") + _s(good), version=10))
    assert rows[0]["encoding"] == "listpack" and rows[0]["num_elements"] == 1
    wrong_total = struct.pack("<I", len(good) + 5) + good[4:]
    wrong_count = good[:4] + struct.pack("<H", 7) + good[6:]
    entry_overrun = good[:6] + b"\xbf" + good[7:]  # claims a 63-byte string
    no_terminator = good[:-1] + b"\x00"
    odd_pairs = _listpack([b"f", b"v", b"x"])
    for bad in (wrong_total, wrong_count, entry_overrun, no_terminator, odd_pairs):
        with pytest.raises(RdbFormatError) as info:
            _decode(_rdb(b"\x10" + _s(b"h") + _s(bad), version=10))
        assert info.value.key == "h" and info.value.offset is not None
    lying_intset = struct.pack("<II", 4, 9) + b"\x00" * 8
    with pytest.raises(RdbFormatError):
        _decode(_rdb(b"\x0b" + _s(b"i") + _s(lying_intset)))
    bad_ziplist = struct.pack("<IIH", 13, 10, 1) + b"\x00\x05a\xff"
    with pytest.raises(RdbFormatError):
        _decode(_rdb(b"\x0a" + _s(b"z") + _s(bad_ziplist)))


def test_binary_keys_escape_reversibly() -> None:
    raw = b"\xff\\x41\x00\xc3\xa9\xe2\x82"
    rows = _decode(_rdb(b"\x00" + _s(raw) + _s(b"v")))
    assert rows[0]["key_binary"] is True
    assert rows[0]["key"] == "\\xff\\\\x41\x00é\\xe2\\x82"
    assert insightkit.rdb.unescape_key(rows[0]["key"], True) == raw
    assert insightkit.rdb.escape_key(raw) == (rows[0]["key"], True)


def test_bounded_fuzz() -> None:
    """Corpus-seeded mutations for a few seconds: only RdbError subclasses may escape."""
    rng = random.Random(20261124)
    seeds = fuzz_seeds()
    deadline = time.perf_counter() + 4
    runs = 0
    while time.perf_counter() < deadline:
        data = mutate(rng.choice(seeds), rng)
        if rng.random() < 0.3:
            data = mutate(data, rng)
        source: object = data
        if rng.random() < 0.3:  # the same bytes arriving in pieces
            source = chunked(data, [rng.randint(1, 300) for _ in range(5)])
        try:
            _decode(source, verify_checksum=rng.random() < 0.3, batch_size=rng.choice([1, 64]))
        except RdbError as exc:
            assert exc.offset is not None or isinstance(exc, RdbVersionError)
        runs += 1
    assert runs > 500


# --- RDB 13-15 (arrays, hash templates, streams v4/v5, key metadata, GCRA) -----------------------------

NAMES = b15.tmpl_order([b"name", b"age", b"city"])
NODE, GROUP = b15.SAMPLE_NODE, b15.SAMPLE_GROUP


def _v15_error(body: bytes, version: int = 15) -> RdbError:
    """The error a v15 file around ``body`` raises, the same on one and two threads and in pieces."""
    data = b15.rdb(b"\xfe\x00" + body, version=version)
    with pytest.raises(RdbError) as info:
        _decode(data, threads=1)
    for source in (data, chunked(data, [3, 1, 50])):
        with pytest.raises(type(info.value)) as again:
            _decode(source, threads=2)
        assert (str(again.value), again.value.offset, again.value.key) == (
            str(info.value),
            info.value.offset,
            info.value.key,
        )
    return info.value


_BASE = len(b15.rdb(b"\xfe\x00")) - 9  # header, redis-ver aux and SELECTDB: where the body starts


@pytest.mark.parametrize(
    ("body", "message", "at", "key"),
    [
        # 0xF2 records: offsets point at the offending field (the records have no key)
        (b15.template(5, NAMES) + b15.template(5, [b"x"]), "duplicate hash template id 5", 18, None),
        (b"\xf2\x05\x00", "hash template 5 has no fields", 2, None),
        (b15.template(5, [b"name", b"age"]), "not strictly sorted", 8, None),
        (b15.template(5, [b"age", b"age"]), "not strictly sorted", 7, None),
        (b15.template(5, [b"b", b"a"]), "not strictly sorted", 5, None),
        (b15.template(5, [b"\xc0\x07"]) + b15.template(5, [b"x"]), "duplicate", 7, None),
        # references to templates never declared (or declared after the key)
        (b15.key(32, b"h", b15.tmpl_array_ref(9, [b"v"])), "unknown hash template id 9", 3, "h"),
        (b15.key(30, b"h", b15.tmpl_lp_ref(9, [b"v"])), "unknown hash template id 9", 3, "h"),
        (b15.key(32, b"h", b15.tmpl_array_ref(1, [b"v"])) + b15.template(1, [b"f"]), "unknown", 3, "h"),
        (b15.key(30, b"h", b15.st(b15.lp([-1, b"v"]))), "unknown hash template id -1", 3, "h"),
        (b15.key(32, b"h", b"\xc0\x01" + b15.st(b"v")), "string encoding", 3, "h"),
        # template-listpack values that do not match the template
        (b15.template(5, NAMES) + b15.key(30, b"h", b15.tmpl_lp_ref(5, [b"1"])), "holds 1 values", 20, "h"),
        (b15.template(5, NAMES) + b15.key(30, b"h", b15.st(b15.lp([]))), "is empty", None, "h"),
        (
            b15.template(5, NAMES) + b15.key(30, b"h", b15.st(b15.lp([b"5", 1, 2, 3]))),
            "not an integer",
            None,
            "h",
        ),
        # self-contained forms
        (b15.key(29, b"h", b"\x02" + b15.st(b15.lp([b"a"]))), "fields format 2 unknown", 3, "h"),
        (b15.key(31, b"h", b"\x01\x00"), "has no fields", 3, "h"),
        (b15.key(31, b"h", b15.tmpl_array([b"b", b"a"], [b"1", b"2"], 1)), "not strictly sorted", 7, "h"),
        (b15.key(31, b"h", b15.tmpl_array([b"b", b"a"], [b"1", b"2"], 0)), "not strictly sorted", None, "h"),
        (b15.key(29, b"h", b"\x00" + b15.st(b15.lp([]))), "has no fields", None, "h"),
        (b15.key(29, b"h", b15.tmpl_lp(NAMES, [b"1", b"2"], 1)), "holds 2 values", None, "h"),
        (
            b15.key(29, b"h", b15.tmpl_fields(NAMES, 0) + b15.st(b15.lp([b"x", 1, 2, 3]))),
            "not an integer",
            None,
            "h",
        ),
        # arrays whose counts or indices lie
        (b15.key(28, b"a", b"\x00\x00"), "array with no elements", 3, "a"),
        (b15.key(28, b"a", b"\x01\x02\x00\x03\x01abc"), "insert-index flag is 2", 4, "a"),
        (b15.key(28, b"a", b"\x01\x00\x00\x04" + b"x" * 8), "type tag 4 unknown", 6, "a"),
        (
            b15.key(28, b"a", b15.array([(5, 3, b"a"), (4, 3, b"b")])),
            "not strictly ascending: 4 after 5",
            9,
            "a",
        ),
        (
            b15.key(28, b"a", b15.array([(5, 3, b"a"), (5, 3, b"b")])),
            "not strictly ascending: 5 after 5",
            9,
            "a",
        ),
        (b15.key(28, b"a", b"\x01\x00\xc0\x03\x01a"), "array index is a string encoding", 5, "a"),
        (b15.key(28, b"a", b"\x01\x00" + b15.ln(2**64 - 1) + b"\x03\x01a"), "2^64-1 is reserved", 5, "a"),
        # streams v4/v5 fields out of range
        (
            b15.key(27, b"s", b15.stream(27, [NODE], 3, (1_000, 2), [dict(GROUP, nacked=[(1_000, 1)] * 4)])),
            "4 NACKed",
            None,
            "s",
        ),
        (
            b15.key(27, b"s", b15.stream(27, [NODE], 3, (1_000, 2), [dict(GROUP, nacked=[(999, 0)])])),
            "999-0 is not pending",
            None,
            "s",
        ),
        (
            b15.key(
                27,
                b"s",
                b15.stream(27, [NODE], 3, (1_000, 2), [dict(GROUP, nacked=[(1_000, 1), (1_000, 3)])]),
            ),
            "1000-3 is not",
            None,
            "s",
        ),
        (
            b15.key(26, b"s", b15.stream(26, [NODE], 3, (1_000, 2), idmp=(0, 100))),
            "IDMP duration 0 s",
            None,
            "s",
        ),
        (
            b15.key(26, b"s", b15.stream(26, [NODE], 3, (1_000, 2), idmp=(86401, 100))),
            "IDMP duration 86401",
            None,
            "s",
        ),
        (
            b15.key(26, b"s", b15.stream(26, [NODE], 3, (1_000, 2), idmp=(100, 0))),
            "IDMP max entries 0",
            None,
            "s",
        ),
        (
            b15.key(26, b"s", b15.stream(26, [NODE], 3, (1_000, 2), idmp=(100, 10001))),
            "max entries 10001",
            None,
            "s",
        ),
        # key metadata and GCRA
        (
            b15.key_meta(*[(1, b"\x00")] * 8) + b15.key(0, b"k", b15.st(b"v")),
            "key metadata for 8 classes",
            1,
            None,
        ),
        (
            b15.key_meta((1, b"\x09\x00")) + b15.key(0, b"k", b15.st(b"v")),
            "unknown module value opcode 9",
            6,
            None,
        ),
        (b15.key(33, b"g", b"\xc0\x01"), "GCRA state is a string encoding", 3, "g"),
    ],
)
def test_corrupt_rdb15_records(body: bytes, message: str, at: int | None, key: str | None) -> None:
    """Each corrupt record raises an RdbFormatError naming what is wrong, the byte offset (where given:
    relative to the body) and the key."""
    error = _v15_error(body)
    assert isinstance(error, RdbFormatError) and not isinstance(error, RdbTruncatedError), error
    assert message in str(error)
    assert error.key == key and error.offset is not None
    if at is not None:
        assert error.offset == _BASE + at


def test_lying_rdb15_counts_fail_at_once_without_allocating() -> None:
    """Huge field counts, element counts, producer counts: streamed, so the file simply ends early."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    huge = b15.ln(2**62)
    bodies = [
        b"\xf2\x05" + huge + b15.st(b"a"),  # a template of 2^62 names
        b15.key(31, b"h", b"\x01" + huge + b15.st(b"a")),  # FIELDS_RAW of 2^62 names
        b15.key(28, b"a", huge + b"\x00" + b"\x00\x03\x01a"),  # an array of 2^62 elements
        b15.key(28, b"a", b"\x05\x00" + b15.array([(0, 3, b"a")])[2:]),  # 5 claimed, 1 present
        b15.key(26, b"s", b15.stream(26, [NODE], 3, (1_000, 2))[:-5] + huge),  # 2^62 producers
        b15.key_meta((1, b"\x05" + b15.ln(2**40) + b"ab")) + b15.key(0, b"k", b15.st(b"v")),
    ]
    for body in bodies:
        data = b15.rdb(b"\xfe\x00" + body)[:-9]  # no EOF: the claimed count runs into the end
        for source in (data, chunked(data, [1])):
            with pytest.raises((RdbTruncatedError, RdbFormatError)):
                _decode(source)
    assert time.perf_counter() - start < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB


def test_every_truncation_of_an_rdb15_file_is_reported() -> None:
    data = b15.sample_file(22)
    for cut in range(len(data)):
        with pytest.raises(RdbTruncatedError) as info:
            _decode(data[:cut], threads=1)
        assert info.value.offset == cut or cut < 9


def test_rdb15_fuzz() -> None:
    """Mutations of files holding every RDB 13-15 record: only RdbError subclasses may escape."""
    rng = random.Random(20261206)
    seeds = [b15.sample_file(12), b15.sample_file(30, late_template=True), *b15.small_files()]
    deadline = time.perf_counter() + 4
    runs = 0
    while time.perf_counter() < deadline:
        data = mutate(rng.choice(seeds), rng)
        if rng.random() < 0.5:
            data = mutate(data, rng)
        source: object = (
            chunked(data, [rng.randint(1, 300) for _ in range(5)]) if rng.random() < 0.3 else data
        )
        try:
            _decode(source, verify_checksum=rng.random() < 0.3, batch_size=rng.choice([1, 64]))
        except RdbError as exc:
            assert exc.offset is not None or isinstance(exc, RdbVersionError)
        runs += 1
    assert runs > 300


def test_many_hash_templates_with_crafted_ids_stay_fast() -> None:
    """Template ids come from the file; ids that would all collide under a fixed hash do not slow the
    table down (its hash is keyed per process)."""
    n = 100_000
    for shift in (0, 20, 32, 46):  # 100,000 << 46 < 2^63
        body = b"".join(b"\xf2" + b15.ln(i << shift) + b"\x01\x01a" for i in range(n))
        body += b15.key(32, b"h", b15.tmpl_array_ref(7 << shift, [b"v"]))
        start = time.perf_counter()
        rows, meta = decode_rows(b15.rdb(body))
        assert time.perf_counter() - start < 3
        assert meta.hash_templates["count"] == n and rows[0]["num_elements"] == 1


# --- decompression bombs ----------------------------------------------------------------------------

_RSS_PROBE = """
import resource, sys
sys.path.insert(0, {tests!r})
import insightkit, rdb_bombs
from insightkit.errors import RdbError
data = {build}
outcomes = []
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for threads in {threads!r}:
    try:
        rows = insightkit.read_rdb(data, threads=threads).read_all()
        outcomes.append(("ok", rows.num_rows))
    except RdbError as exc:
        outcomes.append((type(exc).__name__, str(exc), exc.offset, exc.key))
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(repr((len(data), grown // 1024, outcomes)))
"""


def _rss_probe(build: str, threads: tuple[int, ...] = (1, 2)) -> tuple[int, int, list[tuple[Any, ...]]]:
    """Decode the file ``build`` (an expression over rdb_bombs) in a fresh interpreter: (file bytes,
    peak RSS growth in MiB while decoding, outcome per thread count). Only a subprocess sees what C
    allocations cost (tracemalloc does not)."""
    import ast
    import subprocess
    import sys
    from pathlib import Path

    tests = str(Path(__file__).parent)
    code = _RSS_PROBE.format(tests=tests, build=build, threads=threads)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    size, grown, outcomes = ast.literal_eval(out.strip().splitlines()[-1])
    return size, grown, outcomes


@pytest.mark.parametrize("name", sorted(rdb_bombs.lying_bombs(8192, keys=1)))
def test_lying_bombs_are_refused_before_inflating(name: str) -> None:
    """Files of a few MB whose blobs would each inflate to 128 MiB, with a lie before the bulk of it
    (a structure header disagreeing with the claimed length, a claim beyond what LZF can give or the
    block gives): refused at the first key with an RdbFormatError naming offset and key, the same on
    one and two threads, and RSS barely moves (decoders before this inflated the whole blob first)."""
    size, grown, outcomes = _rss_probe(f"rdb_bombs.lying_bombs(128 << 20, keys=3)[{name!r}]")
    assert size < 5 << 20
    assert outcomes[0] == outcomes[1]
    kind, message, offset, key = outcomes[0]
    assert kind == "RdbFormatError" and offset is not None and key.endswith("0"), message
    assert grown < 24, f"{name}: RSS grew {grown} MiB decoding a {size}-byte file"


def test_honest_bombs_cost_one_blob_at_a_time() -> None:
    """Headers that agree with the claim: the blob is inflated (the cost is its claimed length, which
    the file's bytes bound: 88 per byte) and walked. Valid ones decode — 16 keys of 16 MiB each cost
    one scratch buffer a decoder, not 256 MiB; garbage fails at the walk, having cost the claim."""
    size, grown, outcomes = _rss_probe("rdb_bombs.honest_bomb(16 << 20, keys=16)", threads=(1,))
    assert outcomes == [("ok", 16)] and size < 4 << 20
    assert grown < 16 + 24
    size, grown, outcomes = _rss_probe("rdb_bombs.honest_bomb(16 << 20, keys=16)", threads=(2,))
    assert outcomes == [("ok", 16)]
    assert grown < 3 * 16 + 24  # the lead and two segment decoders, each its own buffer
    size, grown, outcomes = _rss_probe("rdb_bombs.honest_bomb(64 << 20, valid=False)", threads=(1,))
    assert outcomes[0][0] == "RdbFormatError" and "ziplist" in outcomes[0][1]
    assert grown < 64 + 24


def test_lzf_expansion_bound_is_the_formats() -> None:
    """A block of back-references of 264 bytes each inflates 88 times (the most LZF can): accepted;
    a claim of one byte more than 88 x the compressed length is refused before anything is read."""
    head = rdb_bombs.ziplist_head(0, 0)
    block = rdb_bombs.lzf_block(head, 11)  # small and valid as LZF: a literal run, a back-reference
    assert len(block) < 20
    unit = b"\x00a" + b"\xe0\xff\x00" * 100  # 1 + 264 x 100 bytes from 302
    value = rdb_bombs.lzf_string(unit, 1 + 26400)
    rows = _decode(rdb_bombs.rdb_file([(0, b"s", value)]))
    assert rows[0]["element_bytes"] == 26401
    for claim in (302 * 88 + 1, 1 << 62):
        with pytest.raises(RdbFormatError, match="at most 88 times") as info:
            _decode(rdb_bombs.rdb_file([(0, b"s", rdb_bombs.lzf_string(unit, claim))]))
        assert info.value.key == "s" and info.value.offset is not None


_RANDOM_BOMBS = """
import random, resource, sys
sys.path.insert(0, {tests!r})
import insightkit, rdb_bombs
from insightkit.errors import RdbError
rng = random.Random({seed})
files = [rdb_bombs.random_lying_bomb(rng) for _ in range({count})]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
results = []
for data in files:
    outcomes = []
    for threads in (1, 2):
        rows = []
        try:
            for batch in insightkit.read_rdb(data, threads=threads, batch_size=1):
                rows.extend(batch.to_pylist())
            outcomes.append(("ok", len(rows)))
        except RdbError as exc:
            outcomes.append((type(exc).__name__, exc.offset, exc.key, len(rows)))
    results.append(outcomes)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(repr((sum(len(f) for f in files), grown // 1024, results)))
"""


def test_random_lying_bombs_stay_small() -> None:
    """Fuzzed bombs (random structure, size up to 32 MiB inflated, lie and fill byte): each is refused
    with an RdbFormatError naming offset and key, the same on one and two threads, and all of them
    together move the peak RSS by a few MiB."""
    import ast
    import subprocess
    import sys
    from pathlib import Path

    code = _RANDOM_BOMBS.format(tests=str(Path(__file__).parent), seed=20261206, count=40)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    size, grown, results = ast.literal_eval(out.stdout.strip().splitlines()[-1])
    for one, two in results:
        assert one == two
        assert one[0] == "RdbFormatError" and one[1] is not None and one[2].startswith("bomb"), one
    assert grown < 24, f"RSS grew {grown} MiB over {len(results)} bombs of {size} bytes"
