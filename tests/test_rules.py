"""Every rule fires on its own anti-pattern case and stays quiet on its best-practice case, on pandas
and on DuckDB, with the same numbers on both engines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from rule_examples import key_table

import insightkit.recommend as rules_api
from insightkit.recommend.base import Case, Rule
from insightkit.recommend.registry import ALL_RULES, BY_ID

ENGINES = ["pandas", "duckdb"]
_CON = duckdb.connect()


def _keys(case: Case, engine: str) -> Any:
    frame = key_table(case.keys)
    if engine == "pandas":
        return frame
    return _CON.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))


def _run(rule: Rule, case: Case, engine: str) -> pd.DataFrame:
    return rules_api.evaluate(
        _keys(case, engine), None, case.metadata, case.thresholds or None, only=[rule.id]
    )


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_rule_fires_on_its_antipattern_on_both_engines(rule: Rule) -> None:
    found = {engine: _run(rule, rule.fire, engine) for engine in ENGINES}
    for engine, result in found.items():
        assert list(result["rule"]) == [rule.id], engine
        row = result.iloc[0]
        if rule.per_key:
            assert row["offending_keys"] > 0
            assert row["offending_memory_bytes"] > 0
            assert row["top_patterns"]
        if rule.saving is not None:
            assert row["estimated_savings_bytes"] > 0, "a priced rule must price its own example"
        assert row["fix"] and row["description"]
    columns = [
        "rule",
        "estimated_savings_bytes",
        "offending_keys",
        "offending_patterns",
        "offending_memory_bytes",
    ]
    pd.testing.assert_frame_equal(found["pandas"][columns], found["duckdb"][columns])
    if rule.per_key:
        rows = {
            engine: rules_api.offenders(
                _keys(rule.fire, engine), None, rule.fire.metadata, rule.id, rule.fire.thresholds
            )
            for engine in ENGINES
        }
        assert sorted(rows["pandas"]["key"].astype(str)) == sorted(rows["duckdb"]["key"].astype(str))
        assert len(rows["pandas"]) == int(found["pandas"]["offending_keys"].iloc[0])
        total = int(rows["pandas"]["estimated_savings_bytes"].sum())
        assert total == int(found["pandas"]["estimated_savings_bytes"].iloc[0])


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_rule_stays_quiet_on_best_practice_on_both_engines(rule: Rule) -> None:
    for engine in ENGINES:
        assert _run(rule, rule.quiet, engine).empty, engine


def _all_cases() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every rule's fire and quiet keys (named after their rule and case) and every case's metadata."""
    specs = [
        {**spec, "key": f"{rule.id}/{kind}/{spec.get('key', 'k')}"}
        for rule in ALL_RULES
        for kind, case in (("fire", rule.fire), ("quiet", rule.quiet))
        for spec in case.keys
    ]
    metadata: dict[str, Any] = {"snapshot_time_ms": 1_800_000_000_000}
    for rule in ALL_RULES:
        for key, value in rule.fire.metadata.items():
            if isinstance(value, dict):
                merged = metadata.setdefault(key, {})
                for inner, inner_value in value.items():
                    if isinstance(inner_value, dict):
                        merged.setdefault(inner, {}).update(inner_value)
                    else:
                        merged.setdefault(inner, inner_value)
            else:
                metadata.setdefault(key, value)
    return specs, metadata


@pytest.mark.parametrize("engine", ENGINES)
def test_all_rules_on_all_cases_together(engine: str) -> None:
    """Every rule on every case's keys at once, with every case's metadata: no rule crashes on another
    rule's data, findings come sorted, and each rule's own anti-pattern still shows up."""
    specs, metadata = _all_cases()
    found = rules_api.evaluate(_keys(Case(keys=tuple(specs)), engine), None, metadata)
    _assert_ranked(found)
    assert len(found) >= 30
    assert (found["counted_savings_bytes"] <= found["estimated_savings_bytes"]).all()


def test_all_cases_give_the_same_findings_on_both_engines() -> None:
    """The whole findings table (top patterns, owners, details, both savings) does not depend on the
    engine, including which of several equally large patterns a finding names first."""
    specs, metadata = _all_cases()
    native = rules_api.evaluate(_keys(Case(keys=tuple(specs)), "pandas"), None, metadata)
    duck = rules_api.evaluate(_keys(Case(keys=tuple(specs)), "duckdb"), None, metadata)
    assert native["owner"].notna().sum() >= 3
    tied = native.loc[native["rule"] == "hash-listpack-entries", "top_patterns"].iloc[0]
    assert tied[-2:] == ["hash-listpack-entries/fire/user:0", "hash-listpack-entries/fire/user:1"]
    pd.testing.assert_frame_equal(native, duck, check_dtype=False)


def _assert_ranked(found: pd.DataFrame) -> None:
    """Security findings first; then by severity; within a severity by saving, largest first."""
    security = (found["category"] == "security").tolist()
    assert security == sorted(security, reverse=True)
    rest = found[found["category"] != "security"]
    order = {"high": 0, "medium": 1, "low": 2, "info": 3}
    levels = rest["severity"].map(order).tolist()
    assert levels == sorted(levels)
    for _, same in rest.groupby("severity"):
        savings = same["estimated_savings_bytes"].tolist()
        assert savings == sorted(savings, reverse=True)


def test_catalogue() -> None:
    table = rules_api.rules()
    assert len(table) >= 30
    assert {"rule", "title", "category", "severity", "description"} <= set(table.columns)
    assert table["rule"].is_unique
    # every category the issue names has rules, and no rule is outside them
    assert set(table["category"]) == {"memory", "configuration", "code", "operations", "security"}
    assert set(table["severity"]) <= {"high", "medium", "low", "info"}
    assert set(table["frees"]) == {"used_memory", "rss"}
    assert set(table.loc[table["frees"] == "rss", "category"]) == {"memory"}
    assert set(table["risk"].dropna()) <= {"high", "medium", "low", "info"}
    assert table["title"].str.len().min() > 0 and table["description"].str.len().min() > 40


def test_idle_keys_fire_under_either_eviction_policy() -> None:
    """LRU snapshots carry IDLE, LFU snapshots only FREQ: each alone is enough, and neither is a
    counter that has not decayed (LFU_INIT_VAL) or one that cannot decay (lfu-decay-time 0)."""
    lru = key_table([{"key": "old:1", "lru_idle_s": 40 * 86_400}, {"key": "warm:1", "lru_idle_s": 3600}])
    lfu = key_table([{"key": "cold:1", "lfu_freq": 0}, {"key": "new:1", "lfu_freq": 5}])
    for keys, offender in ((lru, "old:1"), (lfu, "cold:1")):
        rows = rules_api.offenders(keys, None, {}, "idle-keys")
        assert list(rows["key"].astype(str)) == [offender]
    # a stricter or looser cut-off by override, and no LFU finding when the counter never decays
    assert len(rules_api.offenders(lfu, None, {}, "idle-keys", {"idle_lfu_counter": 5})) == 2
    never_decays = {"config": {"maxmemory-policy": "allkeys-lfu", "lfu-decay-time": "0"}}
    assert rules_api.offenders(lfu, None, never_decays, "idle-keys").empty
    assert len(rules_api.offenders(lru, None, never_decays, "idle-keys")) == 1


def test_big_zsets_price_keeping_the_top_members() -> None:
    rule = rules_api.get_rule("big-zsets")
    keys = key_table(rule.fire.keys)
    found = rules_api.evaluate(keys, None, {}, only=[rule.id])
    value = int(keys["value_bytes"].iloc[0])
    assert int(found["estimated_savings_bytes"].iloc[0]) == round(value * 55_000 / 60_000)
    assert "ZREMRANGEBYRANK key 0 -5001" in found["fix"].iloc[0]
    found = rules_api.evaluate(keys, None, {}, {"big_zset_elements": 30_000}, only=[rule.id])
    assert int(found["estimated_savings_bytes"].iloc[0]) == round(value / 2)


def _fired(rule_id: str, metadata: dict[str, Any], keys: Any = None) -> bool:
    table = key_table(keys or [{"key": "a"}])
    return not rules_api.evaluate(table, None, metadata, only=[rule_id]).empty


def test_function_rules_need_a_server_without_function_libraries() -> None:
    """The libraries come from the RDB or INFO; unknown, present, or a server older than 7.0 (no
    FUNCTION) keeps the three RedisInsight-derived rules quiet."""
    scripts = {"memory": {"number_of_cached_scripts": 4}}
    assert _fired("lua-to-functions", {"info": {"memory": {**scripts["memory"], "number_of_libraries": 0}}})
    assert not _fired(
        "lua-to-functions", {"info": {"memory": {**scripts["memory"], "number_of_libraries": 2}}}
    )
    assert not _fired("lua-to-functions", {"info": scripts})  # libraries unknown
    old = {"info": scripts, "rdb": {"functions": []}, "server": {"version": "6.2.14"}}
    assert not _fired("lua-to-functions", old)
    for flags, fires in (
        ("KEA", True),
        ("Kh", True),
        ("El", True),
        ("Ex", False),
        ("Kxe", False),
        ("A", False),
    ):
        metadata = {"config": {"notify-keyspace-events": flags}, "rdb": {"functions": []}}
        assert _fired("keyspace-events-to-functions", metadata) is fires, flags
    assert not _fired("keyspace-events-to-functions", {"rdb": {"functions": []}})  # no CONFIG: unknown
    stream = [{"key": "s", "type": "stream", "num_elements": 3}]
    assert _fired("streams-to-functions", {"rdb": {"functions": []}}, stream)
    assert not _fired(
        "streams-to-functions", {"rdb": {"functions": []}, "server": {"version": "6.2.14"}}, stream
    )
    assert not _fired("streams-to-functions", {"rdb": {"functions": []}})  # no stream keys


# RedisInsight v2's database-analysis recommendations and MEMORY DOCTOR's checks (issue 7: cover their
# union). A name not in any rule's peers must be listed here with the reason the README gives.
REDISINSIGHT_V2 = [
    "luaScript",
    "bigHashes",
    "useSmallerKeys",
    "avoidLogicalDatabases",
    "combineSmallStringsToHashes",
    "increaseSetMaxIntsetEntries",
    "hashHashtableToZiplist",
    "compressHashFieldNames",
    "compressionForList",
    "bigStrings",
    "zSetHashtableToZiplist",
    "bigSets",
    "bigAmountOfConnectedClients",
    "RTS",
    "redisVersion",
    "searchIndexes",
    "setPassword",
    "searchHash",
    "luaToFunctions",
    "functionsWithKeyspace",
    "functionsWithStreams",
    "stringToJson",
    "searchJSON",
    "searchVisualization",
]
NOT_COVERED = {
    "searchIndexes": "reads a sorted set's first member and the TYPE of the key it names",
    "stringToJson": "RedisInsight's analysis never emits it (a live-time recommendation)",
    "searchVisualization": "RedisInsight's analysis never emits it (a live-time recommendation)",
}
# RedisInsight v1's memory optimizations (inherited from RDBTools' list), by the names of its pages.
REDISINSIGHT_V1 = [
    "avoid-dynamic-lua-script",
    "switch-to-32-bits",
    "reclaim-expired-keys-memory-faster",
    "use-smaller-keys",
    "combine-smaller-strings-to-hashes",
    "switch-from-set-to-intset",
    "switch-to-bloom-filter",
    "shard-big-hashes-to-small-hashes",
    "convert-hashtable-to-ziplist-for-hashes",
    "convert-to-list-instead-of-hash",
    "compress-field-names",
    "compress-values",
    "enable-compression-for-list",
]
NOT_COVERED_V1 = {"switch-to-32-bits": "a build choice no snapshot can price or a test can measure here"}
MEMORY_DOCTOR = (
    "empty instance",
    "peak",
    "high fragmentation",
    "high allocator fragmentation",
    "high allocator RSS overhead",
    "high process RSS overhead",
    "big replica buffers",
    "big client buffers",
    "many scripts",
)


def test_peer_rules_are_covered_or_their_absence_is_documented() -> None:
    import re
    from pathlib import Path

    peers = [peer for rule in ALL_RULES for peer in rule.peers]
    v2 = [p for p in peers if re.match(r"RedisInsight (v1/)?v2 ", p)]
    missing = [
        name for name in REDISINSIGHT_V2 if not any(re.search(rf"(?<![\w]){name}(?![\w])", p) for p in v2)
    ]
    assert sorted(missing) == sorted(NOT_COVERED)
    v1 = {p.removeprefix("RedisInsight v1 ") for p in peers if p.startswith("RedisInsight v1 ")}
    assert sorted(set(REDISINSIGHT_V1) - v1) == sorted(NOT_COVERED_V1)
    doctor = {p.removeprefix("MEMORY DOCTOR ") for p in peers if p.startswith("MEMORY DOCTOR ")}
    assert set(MEMORY_DOCTOR) <= doctor
    readme = Path(__file__).parents[1].joinpath("README.md").read_text()
    section = readme.split("## Recommendations", 1)[1].split("\n## ", 1)[0]
    for name in [*NOT_COVERED, *NOT_COVERED_V1]:
        assert f"`{name}`" in section, f"README's Recommendations section must say why {name} is missing"
    assert f"lists the {len(ALL_RULES)}:" in section.replace("\n", " ")


def test_thresholds_follow_config_and_overrides() -> None:
    rule = rules_api.get_rule("hash-listpack-entries")
    keys = key_table(rule.fire.keys)
    # the old spelling from a 6.2 server is understood: 150 < 700 fields <= 150 * headroom fires
    config: dict[str, Any] = {"config": {"hash-max-ziplist-entries": "150"}}
    assert not rules_api.evaluate(keys, None, config, only=[rule.id]).empty
    # 1024 already covers 700-field hashes; 20 is too far below them to raise blindly
    for limit in ("1024", "20"):
        config = {"config": {"hash-max-listpack-entries": limit}}
        assert rules_api.evaluate(keys, None, config, only=[rule.id]).empty
    assert rules_api.evaluate(keys, None, {}, {"hash-max-listpack-entries": 1024}, only=[rule.id]).empty
    found = rules_api.evaluate(keys, None, {"server": {"version": "6.2.14"}}, only=[rule.id])
    assert "hash-max-ziplist-entries 1024" in found["fix"].iloc[0]


def test_unknown_threshold_is_an_error() -> None:
    from insightkit.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        rules_api.evaluate(key_table([{"key": "a"}]), None, {}, {"no-such-threshold": 1})


def test_offenders_of_a_snapshot_rule_is_an_error() -> None:
    from insightkit.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        rules_api.offenders(key_table([{"key": "a"}]), None, {}, "no-password")
    with pytest.raises(ConfigurationError):
        rules_api.offenders(key_table([{"key": "a"}]), None, {}, "no-such-rule")


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
@pytest.mark.parametrize("allocator", ["jemalloc", "jemalloc-16", "libc"])
def test_rule_arithmetic_matches_the_memory_model(allocator: str, engine: str) -> None:
    """The rules' vectorised allocator and sds arithmetic agrees with insightkit.memory's, byte for byte,
    on both engines."""
    import duckdb
    import narwhals as nw

    from insightkit.memory import model_for
    from insightkit.recommend import cost

    model = model_for("7.0.15", 10, allocator, None)
    sizes = [*range(1, 600), 1000, 4095, 4096, 4097, 5000, 16385, 70_000, 131_072, 1 << 20, 3_000_001]
    sizes += [(1 << k) + d for k in range(7, 31) for d in (-1, 0, 1)]  # every doubling's edges
    native = pd.DataFrame({"s": sizes})
    table = duckdb.connect().from_df(native) if engine == "duckdb" else native
    exprs = {"a": cost.alloc(nw.col("s"), allocator), "h": cost.sds_header(nw.col("s"))}
    out = nw.from_native(table).lazy().with_columns(**exprs).sort("s").collect().to_pandas()
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])
    sizes = [sizes[i] for i in order]
    assert [int(a) for a in out["a"]] == [model.alloc_size(s) for s in sizes]
    assert [model.alloc_size(s + int(h)) for s, h in zip(sizes, out["h"], strict=True)] == [
        model.sds_size(s) for s in sizes
    ]


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
@pytest.mark.parametrize(
    ("server_version", "layout"),
    [("7.0", "dict"), ("8.0", "dict"), ("valkey-8.0", "embkey"), ("valkey-8.1", "kvobj"), ("8.2", "kvobj"),
     ("8.6", "kvobj"), ("valkey-9.1", "kvobj")],
)  # fmt: skip
def test_key_cost_follows_the_generation(server_version: str, layout: str, engine: str) -> None:
    """What the rules charge a top-level key besides its value is what the memory model charges an
    integer string (key name, object header, keyspace entry), generation by generation."""
    import duckdb
    import narwhals as nw

    from insightkit.memory import model_for
    from insightkit.recommend import cost
    from insightkit.versions import parse_version

    family, version = parse_version(server_version)
    assert cost.key_layout(family or "redis", version or (0, 0)) == layout
    lengths = [*range(1, 300), 1000, 70_000]
    for allocator in ("jemalloc", "jemalloc-16", "libc"):
        model = model_for(None, None, allocator, server_version)
        native = pd.DataFrame({"k": lengths})
        table = duckdb.connect().from_df(native) if engine == "duckdb" else native
        steps, result = cost.key_steps("key", nw.col("k"), allocator, layout)
        frame = nw.from_native(table).lazy()
        for name, expr in steps:
            frame = frame.with_columns(**{name: expr})
        out = frame.with_columns(key_cost=result).sort("k").collect().to_pandas()
        expected = [
            (lambda e: e["key_bytes"] + e["overhead_bytes"])(
                model.estimate_facts(kind="string", encoding="int", key_len=k, int_value=True)
            )
            for k in lengths
        ]
        assert [int(v) for v in out["key_cost"]] == expected, allocator


def test_fragmentation_bytes_are_not_counted_twice() -> None:
    mb = 1024 * 1024
    memory = {
        "used_memory": 100 * mb,
        "used_memory_rss": 300 * mb,
        "mem_fragmentation_ratio": 3.0,
        "allocator_frag_ratio": 1.5,
        "allocator_frag_bytes": 60 * mb,
        "allocator_rss_ratio": 1.5,
        "allocator_rss_bytes": 80 * mb,
    }
    found = rules_api.evaluate(key_table([{"key": "a"}]), None, {"info": {"memory": memory}})
    savings = dict(zip(found["rule"], found["estimated_savings_bytes"], strict=True))
    assert savings["high-fragmentation"] == 200 * mb
    assert savings["allocator-fragmentation"] == 0 and savings["allocator-rss-overhead"] == 0
    del memory["mem_fragmentation_ratio"]  # without the total, the parts carry their own bytes
    found = rules_api.evaluate(key_table([{"key": "a"}]), None, {"info": {"memory": memory}})
    savings = dict(zip(found["rule"], found["estimated_savings_bytes"], strict=True))
    assert savings["allocator-fragmentation"] == 60 * mb


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_keyspace(engine: str) -> None:
    """An empty snapshot still gets its INFO/CONFIG findings and no key findings."""
    found = rules_api.evaluate(_keys(Case(), engine), None, {"config": {"maxmemory": "0"}})
    assert "maxmemory-unset" in set(found["rule"])
    assert (found["offending_keys"] == 0).all()
    assert rules_api.offenders(_keys(Case(), engine), None, {}, "big-hashes").empty


def test_insightkit_rules_stays_callable_after_the_package_is_imported() -> None:
    import insightkit
    import insightkit.recommend
    import insightkit.recommend.engine

    listed = insightkit.rules()
    assert {"rule", "title", "category", "severity", "description"} <= set(listed.columns)
    assert len(listed) >= 50
    # the package's names through the public one, as the README writes them
    assert insightkit.rules.evaluate is insightkit.recommend.evaluate
    assert insightkit.rules.rules() is not None and insightkit.rules.cost.alloc_bytes(9, "jemalloc") == 16
    with pytest.raises(AttributeError):
        insightkit.rules.no_such_name  # noqa: B018


def test_in_memory_tables_give_the_same_findings_on_duckdb() -> None:
    """engine="auto" hands big pandas tables to DuckDB; the findings must not depend on it."""
    from keytables import key_batches

    from insightkit.errors import ConfigurationError
    from insightkit.patterns import assign_patterns

    keys = pa.Table.from_batches(key_batches(60_000, seed=3)).to_pandas(types_mapper=pd.ArrowDtype)
    keys["pattern"] = assign_patterns(keys, progress=False).astype(str)
    metadata = {"server": {"version": "7.0.15"}, "snapshot_time_ms": 1_800_000_000_000}
    native = rules_api.evaluate(keys, None, metadata, engine="native")
    duck = rules_api.evaluate(keys, None, metadata, engine="duckdb")
    assert len(native) >= 3
    # rules that price nothing are totalled from DuckDB's one census scan, not from their own query
    unpriced = [r for r in native["rule"] if r in BY_ID and BY_ID[r].per_key and BY_ID[r].saving is None]
    assert len(unpriced) >= 2
    columns = [
        "rule",
        "estimated_savings_bytes",
        "counted_savings_bytes",
        "offending_keys",
        "offending_patterns",
        "offending_memory_bytes",
        "top_patterns",
        "detail",
        "fix",
    ]
    pd.testing.assert_frame_equal(native[columns], duck[columns])
    rule = native["rule"].iloc[0]
    a = rules_api.offenders(keys, None, metadata, rule, engine="native")
    b = rules_api.offenders(keys, None, metadata, rule, engine="duckdb")
    assert sorted(a["key"].astype(str)) == sorted(b["key"].astype(str))
    with pytest.raises(ConfigurationError, match="engine"):
        rules_api.evaluate(keys, None, metadata, engine="spark")  # type: ignore[arg-type]


def test_lazy_queries_join_only_the_global_tables_their_rules_read() -> None:
    """On DuckDB each rule's query leaves out the per-pattern / per-expiry-second joins it does not
    need (read off the columns its expressions name); the findings do not change."""
    from keytables import key_batches

    from insightkit.patterns import assign_patterns
    from insightkit.recommend import engine, frames, registry
    from insightkit.recommend.base import Context

    keys = pa.Table.from_batches(key_batches(60_000, seed=3)).to_pandas(types_mapper=pd.ArrowDtype)
    keys["pattern"] = assign_patterns(keys, progress=False).astype(str)
    ctx = Context.build({"server": {"version": "7.0.15"}, "snapshot_time_ms": 1_800_000_000_000}, None)
    relation = duckdb.connect().from_arrow(pa.Table.from_pandas(keys))
    frame = frames.with_row_columns(frames.to_lazy(relation), ctx)
    measured = frames.Globals.measure(frame, ctx)
    assert measured.joins_for([registry.get("big-strings")], ctx) == (False, False)
    assert measured.joins_for([registry.get("small-strings-to-hashes")], ctx) == (True, False)
    assert measured.joins_for([registry.get("mass-expiry")], ctx) == (False, True)
    key_rules = [r for r in registry.ALL_RULES if r.per_key]
    lean = engine.partials(relation, key_rules, ctx).sort_values(["rule", "pattern"], ignore_index=True)
    every = frames.Globals.joins
    try:
        frames.Globals.joins = lambda self, columns: (True, True)  # type: ignore[method-assign]
        full = engine.partials(relation, key_rules, ctx).sort_values(["rule", "pattern"], ignore_index=True)
    finally:
        frames.Globals.joins = every  # type: ignore[method-assign]
    assert len(lean) > 0
    pd.testing.assert_frame_equal(lean, full)


def _version_advice(server: Any = None, **metadata: Any) -> pd.DataFrame:
    if server is not None:
        metadata["server"] = server
    return rules_api.evaluate(key_table([{"key": "a"}]), None, metadata, only=["outdated-version"])


@pytest.mark.parametrize(
    ("family", "version", "outdated"),
    [
        ("redis", "5.0.14", True),
        ("redis", "6.2.14", True),  # Redis 6.2 is no longer patched
        ("redis", "7.0.15", True),
        ("redis", "7.2.4", True),  # RedisInsight flags < 7.3 too
        ("redis", "7.4.2", False),
        ("redis", "8.2.3", False),
        ("redis", "255.255.255", False),  # unstable builds
        ("valkey", "7.2.4", False),
        ("valkey", "8.1.8", False),
        ("valkey", "9.1.2", False),
    ],
)
def test_version_advice_is_at_least_as_strict_as_redisinsight(
    family: str, version: str, outdated: bool
) -> None:
    december_2026 = 1_796_000_000_000
    found = _version_advice({"family": family, "version": version}, snapshot_time_ms=december_2026)
    assert (not found.empty) is outdated, f"{family} {version}"


def test_valkey_minors_are_outdated_once_their_maintenance_ends() -> None:
    may_2027 = 1_809_000_000_000  # after 7.2's end of maintenance (2027-04-16), before 8.0's
    assert not _version_advice({"family": "valkey", "version": "7.2.4"}, snapshot_time_ms=may_2027).empty
    assert _version_advice({"family": "valkey", "version": "8.0.2"}, snapshot_time_ms=may_2027).empty
    # a Valkey seen only through INFO (valkey_version beside the compatibility redis_version 7.2.4)
    info = {"server": {"redis_version": "7.2.4", "valkey_version": "8.1.1"}}
    assert _version_advice(info=info, snapshot_time_ms=may_2027).empty


@pytest.mark.parametrize(
    "version", ["", "unknown", "7", "7.x", "abc.def", "99999.1", None, 7, True, {"major": 6}, ["6", "2"]]
)
def test_unknown_version_strings_give_no_version_advice(version: Any) -> None:
    """Whatever the version field holds, the rule never raises and gives no advice it cannot back;
    other rules fall back to the 7.0 defaults."""
    for server in ({"family": "redis", "version": version}, {"family": "valkey", "version": version}):
        assert _version_advice(server).empty
    assert _version_advice(info={"server": {"redis_version": version}}).empty
    assert len(_version_advice({"version": "6.2.14"})) == 1  # a family-less Redis version still reads
    garbage = {"server": {"family": "redis", "version": version}}
    assert rules_api.evaluate(key_table([{"key": "a"}]), None, garbage) is not None
    ctx = rules_api.Context.build(garbage)
    assert ctx.version_known is None and ctx.version == (7, 0, 0)
    # an unreadable threshold is no advice either, not an exception
    odd = rules_api.evaluate(
        key_table([{"key": "a"}]),
        None,
        {"server": {"family": "redis", "version": "6.2.14"}},
        {"min_recommended_version": "latest"},
        only=["outdated-version"],
    )
    assert odd.empty


def test_noeviction_rule_needs_a_memory_limit() -> None:
    keys = key_table([{"key": "c:1", "expires_at": 1_900_000_000_000}])
    for maxmemory, fires in (("0", False), ("1073741824", True), (None, False), ("junk", False)):
        config = {"maxmemory-policy": "noeviction"}
        if maxmemory is not None:
            config["maxmemory"] = maxmemory
        found = rules_api.evaluate(keys, None, {"config": config}, only=["noeviction-with-volatile-keys"])
        assert (not found.empty) is fires, maxmemory
    limited = {"config": {"maxmemory-policy": "volatile-lru", "maxmemory": "1073741824"}}
    assert rules_api.evaluate(keys, None, limited, only=["noeviction-with-volatile-keys"]).empty


DOCTOR_RULES = [
    "high-fragmentation",
    "allocator-fragmentation",
    "rss-overhead",
    "allocator-rss-overhead",
    "memory-peak",
    "client-output-buffers",
    "replica-output-buffers",
]


@pytest.mark.parametrize("rule_id", DOCTOR_RULES)
def test_memory_doctor_checks_stay_quiet_below_its_5_mib_floor(rule_id: str) -> None:
    """MEMORY DOCTOR reports nothing but "empty" while used_memory (not the peak) is under 5 MiB: the
    same fire case on a 1 MB instance (e.g. 11 MB of RSS for 1 MB used) is quiet here too."""
    rule = rules_api.get_rule(rule_id)
    metadata = {k: dict(v) for k, v in rule.fire.metadata.items()}
    assert not rules_api.evaluate(key_table([{"key": "a"}]), None, metadata, only=[rule_id]).empty
    info = {section: dict(fields) for section, fields in metadata["info"].items()}
    small = 1024 * 1024
    info["memory"]["used_memory"] = small
    if rule_id == "high-fragmentation":
        info["memory"].update(used_memory_rss=12 * small, mem_fragmentation_ratio=12.0)
    tiny = {"info": info}
    assert rules_api.evaluate(key_table([{"key": "a"}]), None, tiny, only=[rule_id]).empty
    info["memory"]["used_memory"] = 5 * 1024 * 1024  # the floor itself is in
    if rule_id == "high-fragmentation":
        info["memory"].update(used_memory_rss=60 * small, mem_fragmentation_ratio=12.0)
    assert not rules_api.evaluate(key_table([{"key": "a"}]), None, tiny, only=[rule_id]).empty
    del info["memory"]["used_memory"]  # unknown size: no diagnosis
    assert rules_api.evaluate(key_table([{"key": "a"}]), None, tiny, only=[rule_id]).empty


@pytest.mark.parametrize("engine", ENGINES)
def test_big_hash_shard_count_keeps_the_fullest_shard_under_the_limit(engine: str) -> None:
    """The shard count of big-hashes' fix: the smallest S with n/S + sqrt(2 ln S n/S) <= fill*limit (the
    vectorised form agrees with the helper), and crc32 buckets of real field names stay under the
    listpack limit, where ceil(n/limit) shards left about half of them over it."""
    import math
    import zlib

    import narwhals as nw

    from insightkit.recommend import cost

    sizes = [5001, 7777, 20_000, 50_000, 123_456, 200_000, 1_000_000, 5_000_000]
    for limit in (128, 512, 1024):
        target = 0.85 * limit
        for n in sizes:
            s = cost.hash_shards(n, limit, 0.85)
            fits = [n / k + math.sqrt(2 * math.log(max(k, 2)) * n / k) <= target for k in (s - 1, s)]
            assert fits == [False, True], (n, limit, s)
        native = pd.DataFrame({"n": sizes})
        table = duckdb.connect().from_df(native) if engine == "duckdb" else native
        steps, result = cost.hash_shard_steps("s", nw.col("n"), limit, 0.85)
        frame = nw.from_native(table).lazy()
        for name, expr in steps:
            frame = frame.with_columns(expr.alias(name))
        out = frame.select("n", result.alias("s")).sort("n").collect().to_pandas()
        assert list(out["s"]) == [cost.hash_shards(n, limit, 0.85) for n in sizes]
    n, limit = 200_000, 512  # the deployment of issue 17: 391 shards left 194 over the limit
    fields = [f"session:{i:08d}".encode() for i in range(n)]
    naive, planned = math.ceil(n / limit), cost.hash_shards(n, limit, 0.85)
    for shards, over_expected in ((naive, True), (planned, False)):
        counts = [0] * shards
        for field in fields:
            counts[zlib.crc32(field) % shards] += 1
        assert (sum(c > limit for c in counts) > shards // 4) is over_expected, shards
    assert max(counts) <= 0.9 * limit
    rule = rules_api.get_rule("big-hashes")
    fix = rules_api.evaluate(key_table(rule.fire.keys), None, {}, only=["big-hashes"])["fix"].iloc[0]
    assert f"50,000 fields: {cost.hash_shards(50_000, 512, 0.85)} shards" in fix


@pytest.mark.parametrize("engine", ENGINES)
def test_stream_preallocation_fix_names_the_library_setting(engine: str) -> None:
    """RQ's result streams are recognised by their pattern, or by the optional owner column another
    stage adds (the rule must run without it, and read it when present)."""
    rule = rules_api.get_rule("stream-node-preallocation")
    spec = {"type": "stream", "num_elements": 1, "element_bytes": 240, "repeat": 4}
    plain = [{**spec, "key": "jobs:done:{i}", "pattern": "jobs:done:*"}]
    found = _run(rule, Case(keys=tuple(plain)), engine)
    assert "CONFIG SET stream-node-max-bytes 1024" in found["fix"].iloc[0]
    assert "result_ttl" not in found["fix"].iloc[0]
    rq = [{**spec, "key": "rq:results:{i}", "pattern": "rq:results:*"}]
    assert "result_ttl" in _run(rule, Case(keys=tuple(rq)), engine)["fix"].iloc[0]
    owned = key_table(plain)
    owned["owner"], owned["role"] = "rq", "result"
    table = (
        owned if engine == "pandas" else _CON.from_arrow(pa.Table.from_pandas(owned, preserve_index=False))
    )
    found = rules_api.evaluate(table, None, {}, only=[rule.id])
    assert "result_ttl" in found["fix"].iloc[0]
    # nothing to gain where nodes are already preallocated at the target or below
    small = {"config": {"stream-node-max-bytes": "512"}}
    assert rules_api.evaluate(key_table(rq), None, small, only=[rule.id]).empty
    # a stream spanning several nodes is not priced here (its open node's fill is unknown)
    big = [{"key": "events", "type": "stream", "num_elements": 5000, "element_bytes": 300_000}]
    assert rules_api.evaluate(key_table(big), None, {}, only=[rule.id]).empty


@pytest.mark.parametrize("engine", ["native", "auto", "duckdb"])
def test_large_string_columns_give_the_same_findings(engine: str) -> None:
    """Polars and some Parquet writers hand text over as large_string; the rules compare and fill such
    columns with plain string ones, which Arrow refuses across the two widths unless the engine narrows
    them first."""
    import insightkit

    analysis = insightkit.analyze(
        Path(__file__).parent.parent / "data" / "samples" / "sample.rdb", progress=False
    )
    table = pa.Table.from_pandas(analysis.keys, preserve_index=False)
    wide = table.set_column(
        table.schema.get_field_index("pattern"), "pattern", table.column("pattern").cast(pa.large_string())
    )
    found = rules_api.evaluate(wide, None, analysis.metadata, engine=engine)  # type: ignore[arg-type]
    expected = analysis.recommendations
    assert list(found["rule"]) == list(expected["rule"])
    assert list(found["estimated_savings_bytes"]) == list(expected["estimated_savings_bytes"])


@pytest.mark.parametrize(
    "server",
    [
        {"version": "6.2.14"},
        {"version": "7.0.15"},
        {"version": "8.2.3"},
        {"version": "8.1.1", "family": "valkey"},
    ],
)
def test_stream_overcharge_in_memory_matches_the_expression(corpus: Path, server: dict[str, str]) -> None:
    """The rules subtract each stream's overcharge (what MEMORY USAGE charges beyond its allocations)
    from what deleting it frees: in memory it is computed with numpy on the stream rows, elsewhere as
    one narwhals expression; every stream of the corpus gets the same float from both."""
    import narwhals as nw

    import insightkit
    from insightkit.recommend import frames
    from insightkit.recommend.base import Context
    from insightkit.recommend.cost import OVERCHARGE
    from insightkit.schema import KEY_SCHEMA

    ctx = Context.build({"server": server}, None)
    files = streams = charged = 0
    for path in sorted(corpus.rglob("*.rdb")):
        try:
            table = pa.Table.from_batches(list(insightkit.read_rdb(path)), schema=KEY_SCHEMA)
        except insightkit.InsightkitError:
            continue
        if "stream" not in set(table.column("type").to_pylist()):
            continue
        in_memory = frames._with_overcharge(nw.from_native(table).lazy(), ctx).collect()
        expression = frames._with_overcharge(nw.from_native(_CON.from_arrow(table)).lazy(), ctx).collect()
        left = in_memory.get_column(OVERCHARGE).to_numpy()
        right = expression.to_arrow().column(OVERCHARGE).to_numpy()
        assert left.tolist() == right.tolist(), path.name
        files += 1
        streams += int((table.column("type").to_numpy(zero_copy_only=False) == "stream").sum())
        charged += int((left != 0).sum())
    assert files >= 5 and streams >= 10
    assert charged == 0 if server.get("family") == "valkey" else charged >= 10


def test_small_arrow_tables_join_by_take_like_a_left_join() -> None:
    """In memory the per-pattern facts are joined by ``take`` at each row's index (no Acero join to
    set up): the same rows as narwhals' left join, nulls and unknown keys included, and a name the
    table already holds suffixed as the join would."""
    import narwhals as nw

    from insightkit.recommend.frames import _left_join

    left = pa.table({"pattern": ["a:*", None, "b:*", "zzz", "a:*"], "owner": ["x", None, None, None, "y"]})
    right = pa.table({"pattern": ["b:*", "a:*"], "pattern_keys": [7, 3], "owner": ["rq", None]})
    taken = _left_join(nw.from_native(left).lazy(), nw.from_native(right).lazy(), "pattern").collect()
    joined = (
        nw.from_native(left.to_pandas())
        .lazy()
        .join(nw.from_native(right.to_pandas()).lazy(), on="pattern", how="left")
        .collect()
    )
    assert taken.columns == joined.columns == ["pattern", "owner", "pattern_keys", "owner_right"]
    expected = joined.to_pandas().astype(object).where(joined.to_pandas().notna(), None)
    assert taken.to_arrow().to_pylist() == expected.to_dict("records")
