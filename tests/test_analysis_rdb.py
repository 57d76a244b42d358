"""End to end with real RDB files: the bundled sample, and canary values written to a real Redis 7.0."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from servers import Server

from insightkit.analysis import Analysis, analyze, convert, load
from insightkit.errors import RdbError
from insightkit.rsnap import read_rsnap, write_rsnap
from insightkit.schema import KEY_COLUMNS

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
SAMPLE_RDB = SAMPLES / "sample.rdb"
SAMPLE_RSNAP = SAMPLES / "sample.rsnap.parquet"


@pytest.fixture(scope="module")
def sample() -> Analysis:
    return analyze(SAMPLE_RDB, progress=False)


def test_sample_is_what_the_script_promises(sample: Analysis) -> None:
    keys = sample.keys
    meta = sample.metadata
    assert meta["method"] == "file"
    assert meta["server"]["family"] == "redis" and meta["server"]["version"].startswith("7.0.")
    assert meta["rdb"]["rdb_version"] == 10
    assert meta["snapshot_time_ms"] == int(meta["rdb"]["aux"]["ctime"]) * 1000
    assert 3000 <= len(keys) <= 6000
    assert set(keys["type"]) == {"string", "hash", "list", "set", "zset", "stream"}
    assert {"embstr", "raw", "int", "listpack", "quicklist", "intset", "hashtable", "skiplist"} <= set(
        keys["encoding"]
    )
    assert set(keys["db"]) == {0, 1, 2}
    assert 0.2 < keys["expires_at"].notna().mean() < 0.8
    assert keys["lru_idle_s"].notna().all()  # allkeys-lru: every key carries its idle time
    assert keys["key_binary"].sum() == 1


def test_rdb_to_rsnap_to_load_round_trip(sample: Analysis, tmp_path: Path) -> None:
    path = sample.to_rsnap(tmp_path / "sample.rsnap.parquet")
    again = load(path)
    pd.testing.assert_frame_equal(again.keys, sample.keys)
    stored = {
        k: v for k, v in again.metadata.items() if k not in ("method", "original_method", "rsnap_source")
    }
    original = {k: v for k, v in sample.metadata.items() if k != "method"}
    assert {
        k: v for k, v in stored.items() if k not in ("insightkit_version", "rsnap_schema_version")
    } == original
    assert again.metadata["original_method"] == "file"
    assert again.summary().to_dict() == sample.summary().to_dict()


# Estimated by the memory model, which improves over time: regenerate with make_sample.py --rsnap-only.
MODEL_COLUMNS = {"memory_bytes", "key_bytes", "overhead_bytes", "value_bytes", "expires_bytes"}


def test_committed_rsnap_matches_committed_rdb(sample: Analysis) -> None:
    committed = load(SAMPLE_RSNAP)
    decoded = [c for c in KEY_COLUMNS if c not in MODEL_COLUMNS]
    pd.testing.assert_frame_equal(committed.keys[decoded], sample.keys[decoded])
    assert committed.metadata["source"] == "sample.rdb"  # no path from the machine that made it
    facts = (
        "aux",
        "rdb_version",
        "magic",
        "keys_per_db",
        "resize_db",
        "functions",
        "checksum",
        "total_bytes",
    )
    assert {k: committed.metadata["rdb"][k] for k in facts} == {k: sample.metadata["rdb"][k] for k in facts}


CANARIES = {
    "string": "CANARY-str-6f1d2b",
    "embstr": "CANARY-emb",
    "hash_field": "CANARY-hfield-a83c",
    "hash_value": "CANARY-hval-77e0",
    "big_hash_value": "CANARY-bighval-51aa",
    "list_item": "CANARY-litem-9b42",
    "set_member": "CANARY-smember-0c3e",
    "zset_member": "CANARY-zmember-d2f9",
    "stream_field": "CANARY-sfield-4e11",
    "stream_value": "CANARY-svalue-8a70",
    "group": "CANARY-group-3377",
    "consumer": "CANARY-consumer-e5d0",
    "function": "CANARY-fnbody-6d6d",
}


def _write_canaries(server: Server) -> None:
    c = server.client()
    c.set("k:string", CANARIES["string"] * 40)  # raw, LZF-compressible in the RDB
    c.set("k:embstr", CANARIES["embstr"])
    c.hset("k:hash", mapping={CANARIES["hash_field"]: CANARIES["hash_value"]})
    c.hset("k:bighash", mapping={f"f{i}": f"{CANARIES['big_hash_value']}-{i}" for i in range(300)})
    c.rpush("k:list", *[f"{CANARIES['list_item']}-{i}" for i in range(200)])
    c.sadd("k:set", *[f"{CANARIES['set_member']}-{i}" for i in range(200)])
    c.zadd("k:zset", {f"{CANARIES['zset_member']}-{i}": i for i in range(5)})
    for _ in range(3):
        c.xadd("k:stream", {CANARIES["stream_field"]: CANARIES["stream_value"]})
    c.xgroup_create("k:stream", CANARIES["group"], id="0")
    c.xreadgroup(CANARIES["group"], CANARIES["consumer"], {"k:stream": ">"}, count=1)
    body = (
        f"#!lua name=canarylib\nredis.register_function('f', function() return '{CANARIES['function']}' end)"
    )
    c.function_load(body)


def _assert_no_canary(blob: bytes) -> None:
    for name, canary in CANARIES.items():
        assert canary.encode() not in blob, f"{name} value leaked"


def test_values_never_reach_the_rsnap(redis70: Server, tmp_path: Path) -> None:
    _write_canaries(redis70)
    rdb = tmp_path / "canary.rdb"
    shutil.copyfile(redis70.save(), rdb)
    assert CANARIES["hash_value"].encode() in rdb.read_bytes()  # the test data really is in the input
    analysis = analyze(rdb, progress=False)
    assert len(analysis.keys) == 8
    path = analysis.to_rsnap(tmp_path / "canary.rsnap.parquet")
    # the stored file, its decoded contents, and an uncompressed copy all stay free of values
    _assert_no_canary(path.read_bytes())
    table, metadata = read_rsnap(path)
    _assert_no_canary(json.dumps(table.to_pylist(), default=str).encode())
    _assert_no_canary(json.dumps(metadata).encode())
    plain = write_rsnap(tmp_path / "plain.parquet", table, metadata, compression="none")
    assert pq.read_metadata(plain).row_group(0).column(1).compression == "UNCOMPRESSED"
    _assert_no_canary(plain.read_bytes())
    assert "canarylib" in metadata["rdb"]["functions"]  # library names are kept, bodies are not


def test_file_metadata_names_the_server_that_wrote_it(any_server: Server, tmp_path: Path) -> None:
    client = any_server.client()
    client.set("user:1:name", "x")
    client.expire("user:1:name", 3600)
    rdb = tmp_path / "dump.rdb"
    shutil.copyfile(any_server.save(), rdb)
    meta = analyze(rdb, progress=False).metadata
    assert meta["method"] == "file" and meta["source"] == str(rdb)
    assert meta["server"]["family"] == any_server.flavour.family
    major, minor = any_server.flavour.version
    assert meta["server"]["version"].startswith(f"{major}.{minor}.")
    assert abs(meta["snapshot_time_ms"] - rdb.stat().st_mtime * 1000) < 5000


def test_convert_streams_the_same_table(sample: Analysis, tmp_path: Path) -> None:
    path = convert(SAMPLE_RDB, tmp_path / "streamed.rsnap.parquet", progress=False, batch_size=500)
    streamed = load(path)
    pd.testing.assert_frame_equal(streamed.keys[KEY_COLUMNS], sample.keys[KEY_COLUMNS])
    assert streamed.metadata["original_method"] == "file"
    assert pq.read_metadata(path).num_row_groups == 1  # 500-row batches gathered into row groups


def test_convert_of_a_truncated_rdb_leaves_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "broken.rdb"
    broken.write_bytes(SAMPLE_RDB.read_bytes()[: SAMPLE_RDB.stat().st_size // 2])
    with pytest.raises(RdbError, match=r"broken\.rdb"):
        convert(broken, tmp_path / "out.rsnap.parquet", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.rdb"]


def test_facade_delegates_to_patterns_rules_and_present(sample: Analysis) -> None:
    patterns = sample.patterns
    assert {"pattern", "keys", "memory_bytes"} <= set(patterns.columns)
    assert int(patterns["keys"].sum()) == len(sample.keys)
    assert set(patterns["pattern"]) == set(sample.keys["pattern"])
    recs = sample.recommendations
    assert {"rule", "estimated_savings_bytes", "offending_keys", "fix"} <= set(recs.columns)
    flagged = recs[recs["offending_keys"] > 0].iloc[0]
    offenders = sample.offenders(flagged["rule"])
    assert len(offenders) == flagged["offending_keys"]
    assert set(offenders["key"]) <= set(sample.keys["key"])
    # present/ is tested on its own; here only that the thin delegations reach it
    assert type(sample.plot_ttl_buckets()).__name__ in ("Figure", "Chart")


def test_custom_patterns_replace_the_stored_ones() -> None:
    assert "leaderboard:*:s*" in set(load(SAMPLE_RSNAP).keys["pattern"])
    custom = load(SAMPLE_RSNAP, patterns={"leaderboard:*": "leaderboards"})
    assert "leaderboards" in set(custom.keys["pattern"])
    assert "leaderboards" in set(
        analyze(SAMPLE_RSNAP, patterns={"leaderboard:*": "leaderboards"}).keys["pattern"]
    )
