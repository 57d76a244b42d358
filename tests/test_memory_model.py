"""The memory model's arithmetic against figures read off real servers (see test_memory_accuracy.py for
the end-to-end comparison), and how model_for() picks a model."""

from __future__ import annotations

from typing import Any

import pytest

from insightkit.errors import ConfigurationError
from insightkit.memory import MemoryModel, choose, dataset_overhead, model_for

JE = MemoryModel("redis", (7, 0), "jemalloc-16")
R62 = MemoryModel("redis", (6, 2), "libc")
V81 = MemoryModel("valkey", (8, 1), "libc")


@pytest.mark.parametrize(
    ("request_size", "size_class"),
    [(1, 8), (8, 8), (9, 16), (17, 32), (33, 48), (64, 64), (65, 80), (128, 128), (129, 160),
     (257, 320), (4096, 4096), (4097, 5120), (16385, 20480)],
)  # fmt: skip
def test_jemalloc_size_classes(request_size: int, size_class: int) -> None:
    assert JE.alloc_size(request_size) == size_class


@pytest.mark.parametrize(
    ("request_size", "usable"),
    [(1, 24), (24, 24), (25, 40), (40, 40), (41, 56), (100, 104), (4096, 4104), (200_000, 200_688)],
)
def test_glibc_usable_sizes(request_size: int, usable: int) -> None:
    assert R62.alloc_size(request_size) == usable


def test_sds_header_types() -> None:
    # sds5 below 32 bytes (1-byte header), sds8 up to 255, sds16 beyond
    assert JE.sds_size(31) == JE.alloc_size(1 + 31 + 1)
    assert JE.sds_size(32) == JE.alloc_size(3 + 32 + 1)
    assert JE.sds_size(300) == JE.alloc_size(5 + 300 + 1)


# MEMORY USAGE figures read off the real servers (tests/servers.py flavours) for SET k<klen> <value>
@pytest.mark.parametrize(
    ("model", "key_len", "value", "expected"),
    [
        (R62, 1, "1", 64), (R62, 31, "1", 80), (R62, 50, "1", 96), (R62, 1, "a" * 20, 86),
        (R62, 1, "a" * 44, 110), (R62, 1, "a" * 45, 120), (R62, 10, "a" * 100, 168),
        (JE, 1, "1", 48), (JE, 10, "1", 56), (JE, 31, "1", 88), (JE, 50, "1", 104),
        (JE, 1, "a" * 20, 80), (JE, 1, "a" * 44, 96), (JE, 1, "a" * 45, 112), (JE, 50, "a" * 100, 216),
        (V81, 1, "1", 24), (V81, 10, "1", 40), (V81, 50, "1", 72), (V81, 1, "a" * 20, 56),
        (V81, 1, "a" * 39, 72), (V81, 1, "a" * 44, 80), (V81, 10, "a" * 39, 96), (V81, 32, "a" * 20, 80),
    ],
)  # fmt: skip
def test_string_keys_match_server_figures(
    model: MemoryModel, key_len: int, value: str, expected: int
) -> None:
    is_int = value.isdigit()
    enc = "int" if is_int else ("embstr" if len(value) <= 44 else "raw")
    out = model.estimate_facts(
        kind="string", encoding=enc, key_len=key_len, value_len=len(value), int_value=is_int
    )
    assert out["total"] == expected
    assert out["key_bytes"] + out["overhead_bytes"] + out["value_bytes"] == out["total"]


def test_hashtable_set_matches_server_figure() -> None:
    # Redis 7.0: SADD s129 with 129 13-byte members, after an RDB load: 7312 bytes
    loaded = MemoryModel("redis", (7, 0), "jemalloc-16", state="loaded")
    out = loaded.estimate_facts(
        kind="set", encoding="hashtable", key_len=4, num_elements=129, elements=[(13, 0)] * 129
    )
    assert out["total"] == 7312
    # Redis 6.2: one 13-byte member in a hashtable set: 240 bytes
    one = R62.estimate_facts(kind="set", encoding="hashtable", key_len=1, num_elements=1, elements=[(13, 0)])
    assert one["total"] == 240


def test_valkey_hash_entries_embed_small_values() -> None:
    # field 6 bytes + value 8 bytes: one 20-byte allocation (24 usable); big values get a pointer
    assert V81.element_cost(4, 6, 8) == 24
    assert V81.element_cost(4, 6, 200) == V81.alloc_size(8 + 3 + 6 + 1) + V81.sds_size(200)


def test_live_rehash_counts_both_tables() -> None:
    live = MemoryModel("redis", (7, 0), "jemalloc-16", state="live")
    loaded = MemoryModel("redis", (7, 0), "jemalloc-16", state="loaded")
    # 129 members added one by one: the doubling to 256 buckets at 129 is still rehashing
    assert live.dict_table_bytes(129, 1) == 56 + 8 * (256 + 128)
    assert loaded.dict_table_bytes(129, 1) == 56 + 8 * 256
    # far past the doubling the rehash is over
    assert live.dict_table_bytes(250, 1) == 56 + 8 * 256


def test_stream_last_node_preallocated_only_when_live() -> None:
    facts = {"kind": "stream", "encoding": "stream", "key_len": 1, "num_elements": 1, "blobs": [(60, -1)]}
    live = MemoryModel("redis", (7, 0), "jemalloc-16").estimate_facts(**facts)
    loaded = MemoryModel("redis", (7, 0), "jemalloc-16", state="loaded").estimate_facts(**facts)
    assert live["total"] - loaded["total"] == 4096 - 64


def test_skiplist_uses_expected_node_size() -> None:
    out = JE.estimate_facts(
        kind="zset", encoding="skiplist", key_len=3, num_elements=1000, elements=[(10, 0)] * 1000
    )
    per_node = (out["value_bytes"] - 16 - 32 - 640 - JE.dict_table_bytes(1000, 2)) / 1000
    # dictEntry 24 + sds 16 + node: 40 at level 1 (p = 3/4), more above: about 48
    assert 24 + 16 + 40 < per_node < 24 + 16 + 56


def test_model_for_reads_aux_fields() -> None:
    m = model_for("7.0.15", 10, None, None)
    assert (m.family, m.version, m.allocator) == ("redis", (7, 0), "jemalloc")
    assert m.description["source"] == "redis-ver aux field"
    v = model_for("7.2.4", 11, "libc", None, valkey_ver="8.1.1")
    assert (v.family, v.version, v.allocator) == ("valkey", (8, 1), "libc")
    assert v.description["allocator_source"] == "allocator argument"


def test_model_for_overrides_and_fallbacks() -> None:
    assert model_for("7.0.15", 10, None, "valkey-8.1").family == "valkey"
    assert model_for("7.0.15", 10, None, "6.2").version == (6, 2)
    old = model_for(None, 9, None, None)
    assert old.version == (6, 2)
    assert "RDB version 9" in old.description["source"]
    assert choose(None, None)["source"].startswith("default")
    with pytest.raises(ConfigurationError):
        model_for(None, 9, "tcmalloc", None)
    with pytest.raises(ConfigurationError):
        model_for(None, 9, None, "latest")


def test_dataset_overhead_bucket_arrays() -> None:
    out = dataset_overhead(JE, {0: 1000, 3: 3}, {0: 100})
    assert out[0]["main_dict_bytes"] == 1024 * 8
    assert out[0]["expires_dict_bytes"] == 128 * 8
    assert out[3] == {
        "main_dict_bytes": 32,
        "expires_dict_bytes": 0,
        "overhead_hashtable_main": 32 + 3 * 40,
        "overhead_hashtable_expires": 0,
    }
    valkey = dataset_overhead(V81, {0: 1000})
    assert valkey[0]["main_dict_bytes"] >= 72 + 64 * 256


@pytest.mark.parametrize(
    ("server_version", "generation"),
    [("5.0", "redis<=6.2"), ("6.2", "redis<=6.2"), ("7.0", "redis>=7.0"), ("7.4", "redis>=7.0"),
     ("8.0", "redis>=7.0"), ("8.2", "redis-8.2"), ("8.4", "redis-8.4"), ("8.6", "redis>=8.6"),
     ("8.10", "redis>=8.6"), ("valkey-7.2", "redis>=7.0"), ("valkey-8.0", "valkey-8.0"),
     ("valkey-8.1", "valkey-8.1"), ("valkey-9.0", "valkey-9.0"), ("valkey-9.1", "valkey>=9.1")],
)  # fmt: skip
def test_generation_by_version(server_version: str, generation: str) -> None:
    assert model_for(None, None, None, server_version).describe()["generation"] == generation


def test_old_ziplist_list_becomes_a_quicklist_node() -> None:
    out = JE.estimate_facts(kind="list", encoding="ziplist", key_len=1, num_elements=3, blobs=[(30, -1)])
    assert out["value_bytes"] == 40 + 40 + JE.alloc_size(30)


def test_redis_before_3_2_uses_old_sds_headers_and_linked_lists() -> None:
    old = model_for(None, None, "jemalloc-16", "2.8")
    new = model_for(None, None, "jemalloc-16", "3.2")
    # key "k" * 10: 8-byte sdshdr before 3.2, a 1-byte sds5 header after
    assert old.estimate_facts(kind="string", encoding="int", key_len=10, int_value=True)["key_bytes"] == 32
    assert new.estimate_facts(kind="string", encoding="int", key_len=10, int_value=True)["key_bytes"] == 16
    # linked list items: listNode + robj + sds each before 3.2; packed into a quicklist node after
    assert old.element_cost(1, 10) == 32 + 16 + 32
    assert new.element_cost(1, 10) == 0


# --- where the accounting generations must differ ---------------------------------------------------
# Expected figures below come from the documented layouts, not from the model: robj 16 bytes and
# dictEntry {key, v, next} 24 (server.h, dict.h); sds.h headers: Redis < 3.2 `struct sdshdr {int len;
# int free;}` (8 bytes), from 3.2 sdshdr5 (1 byte, < 32 bytes) and sdshdr8 (3 bytes); embstr up to 39
# bytes in Redis 3.0 (object.c REDIS_ENCODING_EMBSTR_SIZE_LIMIT) and 44 from 3.2; jemalloc size classes
# 8, 16, 32, 48, 64, 80, 96, 112, 128, 160, ... All models here use the stock 16-byte-quantum jemalloc.


def _gen_model(version: str) -> MemoryModel:
    return model_for(None, None, "jemalloc-16", version, state="loaded")


@pytest.mark.parametrize(
    ("version", "value_len", "encoding", "key_bytes", "value_bytes"),
    [
        # Redis 3.0: no MEMORY USAGE, so the allocations. embstr = zmalloc(robj + sdshdr 8 + len + 1),
        # the robj's 16 in overhead_bytes; raw = a separate sds zmalloc(8 + len + 1). Key "k": 8 + 1 + 1.
        ("3.0", 39, "embstr", 16, 64 - 16),  # 16 + 8 + 39 + 1 = 64
        ("3.0", 40, "raw", 16, 64),  # 8 + 40 + 1 = 49 -> 64
        # Redis 3.2-6.2: object.c's objectComputeSize counts an embstr as sdslen + 2 (unrounded);
        # key "k" is an sds5: 1 + 1 + 1 = 3 -> 8
        ("3.2", 40, "embstr", 8, 42),
        ("6.2", 44, "embstr", 8, 46),
        ("6.2", 45, "raw", 8, 64),  # sdshdr8: 3 + 45 + 1 = 49 -> 64
        # Redis 7.0+: zmalloc_size of the embstr robj: 16 + 3 + 44 + 1 = 64
        ("7.0", 44, "embstr", 8, 64 - 16),
        ("7.0", 45, "raw", 8, 64),
    ],
)  # fmt: skip
def test_embstr_limit_and_sds_headers_by_generation(
    version: str, value_len: int, encoding: str, key_bytes: int, value_bytes: int
) -> None:
    out = _gen_model(version).estimate_facts(kind="string", encoding=encoding, key_len=1, value_len=value_len)
    assert (out["key_bytes"], out["overhead_bytes"], out["value_bytes"]) == (key_bytes, 16 + 24, value_bytes)


def test_collection_elements_and_blobs_by_generation() -> None:
    r30, r32, r62, r70, v81 = (_gen_model(v) for v in ("3.0", "3.2", "6.2", "7.0", "valkey-8.1"))
    # a hashtable hash entry, field 40 bytes / value 5 bytes: dictEntry + two sds
    assert r30.element_cost(4, 40, 5) == 24 + 64 + 16  # sdshdr: 8+40+1 = 49 -> 64, 8+5+1 = 14 -> 16
    assert r32.element_cost(4, 40, 5) == 24 + 48 + 8  # sdshdr8 3+40+1 = 44 -> 48, sdshdr5 1+5+1 = 7 -> 8
    assert r70.element_cost(4, 40, 5) == 24 + 48 + 8
    # Valkey 8.1 (t_hash.c): field sds (3+40+1) and value with an sds8 header (3+5+1) in one entry
    assert v81.element_cost(4, 40, 5) == 64  # 44 + 9 = 53 -> 64
    # a 100-byte ziplist/listpack hash: 4.0-6.2 count ziplistBlobLen, 7.0+ zmalloc_size(lp), and before
    # 3.2 (no MEMORY USAGE) the allocation itself
    blob: dict[str, Any] = {"kind": "hash", "key_len": 1, "num_elements": 2, "blobs": [(100, -1)]}
    assert r62.estimate_facts(encoding="ziplist", **blob)["value_bytes"] == 100
    assert r70.estimate_facts(encoding="listpack", **blob)["value_bytes"] == 112
    assert r30.estimate_facts(encoding="ziplist", **blob)["value_bytes"] == 112
    # one 13-byte member in a hashtable set (4 buckets after a load): 6.2's dict struct is 96 bytes
    # (two dictht of 32), 7.0's 56 (dict.h: table[2], used[2], rehashidx, pauserehash, size_exp[2]);
    # member = dictEntry 24 + sds5 1+13+1 = 15 -> 16
    member: dict[str, Any] = {
        "kind": "set",
        "encoding": "hashtable",
        "key_len": 1,
        "num_elements": 1,
        "elements": [(13, 0)],
    }
    assert r62.estimate_facts(**member)["value_bytes"] == 96 + 8 * 4 + 24 + 16
    assert r70.estimate_facts(**member)["value_bytes"] == 56 + 8 * 4 + 24 + 16
    # Valkey 8.1 hashtable.c: a 72-byte struct, one 64-byte bucket, the member sds is the entry itself
    assert v81.estimate_facts(**member)["value_bytes"] == 72 + 64 + 16


@pytest.mark.parametrize(
    ("version", "key_bytes", "overhead_bytes"),
    [
        # separate key sds (1 + 10 + 1 = 12 -> 16), robj 16, main-dict entry 24
        ("7.2", 16, 16 + 24),
        ("valkey-7.2", 16, 16 + 24),
        # Valkey 8.0 (dict.c embedded entries): value + next + header-size byte + key sds in one
        # allocation, 8 + 8 + 1 + 12 = 29 -> 32, the key's share 1 + 12; the robj apart
        ("valkey-8.0", 13, 32 - 13 + 16),
        # Valkey 8.1 (object.c): robj + header-size byte + key sds, 16 + 1 + 12 = 29 -> 32, no dictEntry
        ("valkey-8.1", 13, 32 - 13),
        # Redis 8.0 keeps 7.x's keyspace: separate key sds, robj, main-dict entry
        ("8.0", 16, 16 + 24),
        # Redis 8.2 kvobj (object.c kvobjCreate): robj + header-size byte + key sds, one allocation
        ("8.2", 13, 32 - 13),
    ],
)  # fmt: skip
def test_key_embedding_by_generation(version: str, key_bytes: int, overhead_bytes: int) -> None:
    model = _gen_model(version)
    out = model.estimate_facts(kind="string", encoding="int", key_len=10, int_value=True)
    assert (out["key_bytes"], out["overhead_bytes"], out["value_bytes"]) == (key_bytes, overhead_bytes, 0)
    with_ttl = model.estimate_facts(
        kind="string", encoding="int", key_len=10, int_value=True, has_expire=True
    )
    if version in ("valkey-8.1", "8.2"):
        # the expire is embedded in the object too (29 + 8 = 37 -> 48); no expires-dict entry
        assert (with_ttl["total"], with_ttl["expires_bytes"]) == (48, 0)
    else:
        # unchanged object, plus a 24-byte entry in the expires dict
        assert (with_ttl["total"], with_ttl["expires_bytes"]) == (out["total"], 24)


def test_unstable_build_is_priced_by_its_rdb_format() -> None:
    """redis' unstable branch writes redis-ver 255.255.255; the RDB version names the release line."""
    from insightkit.memory.select import choose

    chosen = choose(redis_ver="255.255.255", rdb_version=11)
    assert (chosen["family"], chosen["version"]) == ("redis", "7.2")
    assert "unstable" in chosen["source"]
    assert choose(redis_ver="7.0.15", rdb_version=11)["version"] == "7.0"  # a release is taken as it says
    from rdb_helpers import CORPUS

    import insightkit

    reader = insightkit.read_rdb(str(CORPUS / "librdb" / "module.rdb"))  # written by an unstable build
    reader.read_all()
    assert reader.metadata.memory_model["version"] == "7.2"


def test_layout_constants_are_defined_once_and_reach_python() -> None:
    """layout.pxd is the one home of the layout's numbers: each is an int in insightkit.memory.layout
    (what recommend/cost.py and memory/overhead.py read) and typed in its stub."""
    import re
    from pathlib import Path

    from insightkit.memory import layout as _layout

    here = Path(_layout.__file__).parent
    defined = re.findall(r"^    ([A-Z][A-Z0-9_]*) = ", (here / "layout.pxd").read_text(), re.M)
    typed = re.findall(r"^([A-Z][A-Z0-9_]*): Final\[int\]", (here / "layout.pyi").read_text(), re.M)
    assert len(defined) == len(set(defined)) > 50
    assert sorted(defined) == sorted(typed)
    assert all(type(getattr(_layout, name)) is int for name in defined)
    assert (_layout.ROBJ, _layout.DICT_ENTRY, _layout.LISTPACK_HEADER) == (16, 24, 7)
    expected = {("redis", (6, 2)): "dict", ("redis", (8, 2)): "kvobj", ("valkey", (8, 0)): "embkey"}
    for (family, version), layout in expected.items():
        assert _layout.key_layout(family, version) == layout


@pytest.mark.parametrize("allocator", ["jemalloc", "jemalloc-16", "libc"])
def test_rules_price_allocations_as_the_model_does(allocator: str) -> None:
    """recommend/cost.py prices "after the fix" with the model's allocator arithmetic, request by request
    (both sides of the 128 KiB glibc mmap threshold and jemalloc's large classes included)."""
    import narwhals as nw
    import pandas as pd

    from insightkit.recommend import cost

    model = model_for("7.0.15", 10, allocator, None)
    sizes = [*range(1, 600), *range(131_000, 131_200), 135_145, 1_048_575, 1_048_576, 5_000_001]
    expected = [model.alloc_size(n) for n in sizes]
    assert [cost.alloc_bytes(n, allocator) for n in sizes] == expected
    frame = nw.from_native(pd.DataFrame({"n": sizes}))
    priced = frame.select(cost.alloc(nw.col("n"), allocator).alias("a"))["a"].to_list()
    assert priced == expected
