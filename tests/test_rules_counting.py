"""Savings counted once, and severity that follows impact (issue 17).

Per finding, ``estimated_savings_bytes`` is what the fix saves alone; the total counts each key's bytes
once (fixes applied in the order listed, each priced on what the previous ones left) on every engine
path: pandas (in slices), DuckDB, the out-of-core Analysis and Dask fleets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from rule_examples import key_table

import insightkit
import insightkit.recommend as rules_api
from insightkit.recommend import engine, frames

MB = 1024 * 1024
NOW = 1_800_000_000_000
DAY = 86_400


def _duck(frame: pd.DataFrame) -> Any:
    return duckdb.connect().from_arrow(pa.Table.from_pandas(frame, preserve_index=False))


def _overlapping_keys() -> pd.DataFrame:
    """Lists that big-lists, list-compression and idle-keys all price; tags claimed by one rule only;
    cache keys claimed by two (no-ttl-cache-keys and idle-keys)."""
    specs: list[dict[str, Any]] = [
        {
            "key": "log:{i}",
            "pattern": "log:*",
            "type": "list",
            "num_elements": 50_000,
            "element_bytes": 2_000_000,
            "serialized_bytes": 300_000,
            "lru_idle_s": 40 * DAY if i % 2 else 60,
        }
        for i in range(4)
    ]
    specs = [{**s, "key": s["key"].format(i=i)} for i, s in enumerate(specs)]
    specs.append(
        {
            "key": "tags:{i}",
            "pattern": "tags:*",
            "type": "set",
            "encoding": "hashtable",
            "num_elements": 5,
            "all_integers": False,
            "repeat": 50,
        }
    )
    specs.append({"key": "cache:page:{i}", "pattern": "cache:page:*", "lru_idle_s": 90 * DAY, "repeat": 30})
    return key_table(specs)


METADATA: dict[str, Any] = {"server": {"family": "redis", "version": "7.0.15"}, "snapshot_time_ms": NOW}


def _expected_counted(keys: pd.DataFrame, found: pd.DataFrame, metadata: dict[str, Any]) -> dict[str, float]:
    """The stated rule, computed key by key from each rule's own offenders: in the findings' order,
    a finding counts s·Π(1 − s_earlier/m) of each key (m = memory_bytes + expires_bytes)."""
    order = [r for r, s in zip(found["rule"], found["estimated_savings_bytes"], strict=True) if s > 0]
    order = [r for r in order if rules_api.get_rule(r).per_key]
    left: dict[tuple[int, str], float] = {}
    counted: dict[str, float] = {}
    for rule in order:
        rows = rules_api.offenders(keys, None, metadata, rule, engine="native")
        total = 0.0
        for db, key, saving, memory, expires in zip(
            rows["db"],
            rows["key"].astype(str),
            rows["estimated_savings_bytes"],
            rows["memory_bytes"],
            rows["expires_bytes"],
            strict=True,
        ):
            m = max(float(memory) + float(expires), 1.0)
            share = left.get((int(db), key), 1.0)
            total += float(saving) * share
            left[(int(db), key)] = share * (1 - float(saving) / m)
        counted[rule] = total
    return counted


@pytest.mark.parametrize("where", ["pandas", "pandas-slices", "duckdb", "pandas-to-duckdb"])
def test_overlapping_findings_count_each_key_once(where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = _overlapping_keys()
    table: Any = keys
    engine_choice: frames.Engine = "native"
    if where == "pandas-slices":
        monkeypatch.setattr(frames, "CHUNK_ROWS", 32)  # keys of one overlap fall in different slices
    elif where == "duckdb":
        table = _duck(keys)
    elif where == "pandas-to-duckdb":
        engine_choice = "duckdb"
    found = rules_api.evaluate(table, None, METADATA, engine=engine_choice)
    claims = found.set_index("rule")
    assert {"big-lists", "list-compression", "idle-keys", "no-ttl-cache-keys"} <= set(claims.index)
    # alone, the findings claim more than the keys hold; counted once they never do
    footprint = float((keys["memory_bytes"] + keys["expires_bytes"]).sum())
    alone = float(found["estimated_savings_bytes"].sum())
    counted = found["counted_savings_bytes"]
    assert alone > float(keys.loc[keys["type"] == "list", "memory_bytes"].sum())
    assert int(counted.sum()) <= footprint
    assert (counted <= found["estimated_savings_bytes"]).all() and (counted >= 0).all()
    expected = _expected_counted(keys, found, METADATA)
    for rule, value in expected.items():
        assert abs(int(claims.loc[rule, "counted_savings_bytes"]) - value) <= 2, rule
    # the first finding listed on a key keeps its whole saving; a rule alone on its keys too
    first = next(r for r in found["rule"] if r in expected)
    assert claims.loc[first, "counted_savings_bytes"] == claims.loc[first, "estimated_savings_bytes"]
    assert (
        claims.loc["upgrade-for-listpack-sets", "counted_savings_bytes"]
        == (claims.loc["upgrade-for-listpack-sets", "estimated_savings_bytes"])
    )
    totals = rules_api.savings_totals(found, METADATA)
    assert totals["estimated_savings_bytes"] == int(counted.sum())


def test_total_never_exceeds_the_keys_it_covers_on_random_tables() -> None:
    """Many overlapping shapes at random, on both engines: the counted total stays within the memory
    of the keys the priced findings concern, and both engines count the same."""
    rng = np.random.default_rng(17)
    specs: list[dict[str, Any]] = []
    for i in range(400):
        kind = rng.choice(["list", "hash", "zset", "set", "string"])
        spec: dict[str, Any] = {"key": f"k{i % 7}:{i}", "pattern": f"k{i % 7}:*", "type": str(kind)}
        if kind == "list":
            spec.update(
                num_elements=int(rng.integers(500, 30_000)), serialized_bytes=int(rng.integers(1000, 99_999))
            )
        elif kind == "hash":
            spec.update(encoding="hashtable", num_elements=int(rng.integers(400, 9000)))
        elif kind == "zset":
            spec.update(encoding="skiplist", num_elements=int(rng.integers(100, 9000)))
        elif kind == "set":
            spec.update(
                encoding="hashtable",
                num_elements=int(rng.integers(3, 9000)),
                all_integers=bool(rng.random() < 0.5),
            )
        if rng.random() < 0.5:
            spec["lru_idle_s"] = int(rng.integers(0, 90 * DAY))
        if rng.random() < 0.3:
            spec["expires_at"] = NOW + int(rng.integers(-3_600_000, 3_600_000))
        specs.append(spec)
    keys = key_table(specs)
    found = {
        name: rules_api.evaluate(table, None, METADATA, engine="native")
        for name, table in (("pandas", keys), ("duckdb", _duck(keys)))
    }
    columns = ["rule", "estimated_savings_bytes", "counted_savings_bytes"]
    pd.testing.assert_frame_equal(found["pandas"][columns], found["duckdb"][columns])
    result = found["pandas"]
    covered: dict[tuple[int, str], float] = {}
    for rule in engine.claimants(result):
        rows = rules_api.offenders(keys, None, METADATA, rule.id, engine="native")
        for db, key, memory, expires in zip(
            rows["db"], rows["key"].astype(str), rows["memory_bytes"], rows["expires_bytes"], strict=True
        ):
            covered[(int(db), key)] = float(memory) + float(expires)
    assert len(engine.claimants(result)) >= 5
    assert result["counted_savings_bytes"].sum() < result["estimated_savings_bytes"].sum()
    assert result["counted_savings_bytes"].sum() <= sum(covered.values())
    expected = _expected_counted(keys, result, METADATA)
    for rule, value in expected.items():
        got = int(result.set_index("rule").loc[rule, "counted_savings_bytes"])
        assert abs(got - value) <= 2 + 1e-6 * value, rule


def test_snapshot_findings_enter_the_totals_as_stated() -> None:
    """Fragmentation and RSS overheads free memory outside used_memory: a total of their own, capped at
    RSS − used_memory; client buffers and the script cache count inside used_memory; the total of key
    savings plus those never exceeds used_memory (issue 17: 253 MB claimed beside 198 MB used)."""
    keys = _overlapping_keys()
    memory = {
        "used_memory": 6 * MB,
        "used_memory_rss": 40 * MB,
        "mem_fragmentation_ratio": 6.6,
        "allocator_frag_ratio": 1.5,
        "allocator_frag_bytes": 20 * MB,
        "mem_clients_normal": 3 * MB,
        "number_of_cached_scripts": 5000,
        "used_memory_scripts": 2 * MB,
    }
    metadata = {**METADATA, "info": {"memory": memory, "clients": {"connected_clients": 5}}}
    found = rules_api.evaluate(keys, None, metadata).set_index("rule")
    assert found.loc["high-fragmentation", "frees"] == "rss"
    assert found.loc["allocator-fragmentation", "estimated_savings_bytes"] == 0  # inside the one above
    totals = rules_api.savings_totals(found.reset_index(), metadata)
    assert totals["estimated_rss_savings_bytes"] == 34 * MB
    key_part = int(found.loc[found["frees"] == "used_memory", "counted_savings_bytes"].sum())
    assert key_part > 6 * MB  # the synthetic key table claims more than this INFO says is used …
    assert totals["estimated_savings_bytes"] == 6 * MB  # … and the total is held to used_memory
    memory["used_memory"] = 600 * MB  # room enough: the key savings + buffers + scripts, uncapped
    found = rules_api.evaluate(keys, None, metadata)
    totals = rules_api.savings_totals(found, metadata)
    assert totals["estimated_savings_bytes"] == int(
        found.loc[found["frees"] == "used_memory", "counted_savings_bytes"].sum()
    )
    assert totals["estimated_rss_savings_bytes"] == 0  # RSS 40 MB is below used_memory now


def _server_rdb(tmp: Path) -> Path:
    """A real Redis 7.0 dataset where big-lists, list-compression and idle keys overlap."""
    from servers import running_server

    with running_server("redis70") as server:
        client = server.client()
        items = [
            f"event=page_view user={j % 977:06d} path=/products/category/{j % 13}" for j in range(20_000)
        ]
        for i in range(4):
            pipe = client.pipeline(transaction=False)
            for k in range(0, len(items), 1000):
                pipe.rpush(f"log:{i}", *items[k : k + 1000])
            pipe.execute()
        pipe = client.pipeline(transaction=False)
        for i in range(3000):
            pipe.set(f"object:{i}", f"val-{i:06d}")
        pipe.execute()
        path = server.save()
        target = tmp / "overlap.rdb"
        target.write_bytes(path.read_bytes())
    return target


@pytest.mark.server
def test_every_engine_path_gives_the_same_total(tmp_path: Path) -> None:
    """In memory (pandas), in memory handed to DuckDB, out of core (RSNAP + DuckDB) and a Dask fleet
    over the same RSNAP: the same counted savings and the same summary total."""
    from insightkit.fleet import open_fleet

    rdb = _server_rdb(tmp_path)
    thresholds = {"big_list_elements": 5000}  # the lists are big too: big-lists and list-compression
    memory = insightkit.analyze(rdb, progress=False)
    results = {
        "pandas": rules_api.evaluate(memory.keys, None, memory.metadata, thresholds, engine="native"),
        "duckdb": rules_api.evaluate(memory.keys, None, memory.metadata, thresholds, engine="duckdb"),
    }
    rsnap = tmp_path / "overlap.rsnap.parquet"
    with insightkit.analyze(rdb, progress=False, rsnap=rsnap) as ooc:
        assert ooc.out_of_core
        results["out-of-core"] = rules_api.evaluate(ooc.key_table.rows, None, ooc.metadata, thresholds)
        assert (
            ooc.summary().totals["estimated_savings_bytes"]
            == memory.summary().totals["estimated_savings_bytes"]
        )
        assert "counted_savings_bytes" in ooc.recommendations.columns
    with open_fleet(rsnap, engine="dask") as fleet:
        from insightkit.fleet import rules as fleet_rules

        results["dask"] = fleet_rules.evaluate(fleet.table(), fleet.metadata, thresholds)
        dask_total = fleet.summary().totals["estimated_savings_bytes"]
    with open_fleet(rsnap) as fleet:
        assert fleet.summary().totals["estimated_savings_bytes"] == dask_total
    columns = ["rule", "estimated_savings_bytes", "counted_savings_bytes", "severity"]
    reference = results["pandas"][columns].sort_values("rule", ignore_index=True)
    assert {"big-lists", "list-compression"} <= set(reference["rule"])
    lists = reference.set_index("rule")
    order = list(results["pandas"]["rule"])
    later = max(("big-lists", "list-compression"), key=order.index)  # priced on what the other left
    assert lists.loc[later, "counted_savings_bytes"] < lists.loc[later, "estimated_savings_bytes"]
    for name, result in results.items():
        pd.testing.assert_frame_equal(
            result[columns].sort_values("rule", ignore_index=True), reference, obj=name
        )
    list_memory = int(memory.keys.loc[memory.keys["type"] == "list", "memory_bytes"].sum())
    both = lists.loc[["big-lists", "list-compression"], "counted_savings_bytes"].sum()
    assert both <= list_memory < lists.loc[["big-lists", "list-compression"], "estimated_savings_bytes"].sum()
    assert memory.summary().totals["estimated_savings_bytes"] == int(
        memory.recommendations["counted_savings_bytes"].sum()
    )


def test_summary_cli_and_html_show_the_counted_total(tmp_path: Path) -> None:
    sample = Path(__file__).parents[1] / "data" / "samples" / "sample.rdb"
    analysis = insightkit.analyze(sample, progress=False)
    totals = analysis.summary().totals
    counted = int(analysis.recommendations["counted_savings_bytes"].sum())
    assert totals["estimated_savings_bytes"] == counted
    assert "each key counted once" in str(analysis.summary())
    html = analysis.to_html(tmp_path / "report.html").read_text()
    from insightkit.present.units import human_bytes

    assert re.search(r"estimated savings \(\d+ recommendations?, each key once\)", html)
    assert human_bytes(counted) in html
    assert "estimated savings (sum)" not in html
    assert "priced on what the previous" in html


# --- severity ------------------------------------------------------------------------------------


def _graded(keys: pd.DataFrame, used_memory: int | None, **thresholds: Any) -> pd.DataFrame:
    metadata = dict(METADATA)
    if used_memory is not None:
        metadata["info"] = {"memory": {"used_memory": used_memory}}
    only = ["hash-listpack-entries"]
    return rules_api.evaluate(keys, None, metadata, thresholds or None, only=only).set_index("rule")


def test_severity_follows_the_share_of_memory() -> None:
    """Issue 17: 59 KB and 22 KB findings ranked "high" above multi-MB ones. Now a saving's share of
    used_memory grades it: >= 10 % high, >= 1 % medium, below (or under 1 MiB) low."""
    hashes = key_table(
        [{"key": "user:{i}", "type": "hash", "encoding": "hashtable", "num_elements": 700, "repeat": 3}]
    )
    saving = int(_graded(hashes, None).loc["hash-listpack-entries", "estimated_savings_bytes"])
    assert _graded(hashes, 198 * MB).loc["hash-listpack-entries", "severity"] == "low"  # a few KB
    assert rules_api.get_rule("hash-listpack-entries").severity == "high"  # what the catalogue says
    many = key_table(
        [{"key": "user:{i}", "type": "hash", "encoding": "hashtable", "num_elements": 700, "repeat": 600}]
    )
    big = int(_graded(many, None).loc["hash-listpack-entries", "estimated_savings_bytes"])
    assert big > MB
    for used, level in ((big * 5, "high"), (big * 50, "medium"), (big * 500, "low")):
        assert _graded(many, used).loc["hash-listpack-entries", "severity"] == level, used
    # without INFO the key table's own memory is the base; the thresholds can be moved
    assert _graded(many, None).loc["hash-listpack-entries", "severity"] == "high"
    assert (
        _graded(many, big * 50, severity_medium_share=0.05).loc["hash-listpack-entries", "severity"] == "low"
    )
    assert saving < MB


def test_risk_floors_and_risk_findings_keep_their_level() -> None:
    """A big hash blocks the server whatever it saves (risk floor medium); checks that price nothing keep
    the level their rule declares; security comes first in the ranking."""
    keys = key_table([{"key": "catalog", "type": "hash", "encoding": "hashtable", "num_elements": 50_000}])
    metadata = {
        **METADATA,
        "info": {"memory": {"used_memory": 10_000 * MB}},
        "config": {"maxmemory": "0", "requirepass": "", "maxmemory-policy": "noeviction"},
    }
    found = rules_api.evaluate(keys, None, metadata)
    graded = found.set_index("rule")
    assert graded.loc["big-hashes", "severity"] == "medium"  # tiny share, risk floor
    assert graded.loc["maxmemory-unset", "severity"] == "medium"  # a risk finding: as declared
    assert graded.loc["no-password", "severity"] == "high"
    assert found["category"].iloc[0] == "security"
    assert list(found["category"]).index("security") == 0
    securities = found.index[found["category"] == "security"]
    assert securities.max() < found.index[found["category"] != "security"].min()


def test_used_memory_of_clusters_and_fleets_is_summed_or_unknown() -> None:
    """The cap and the severity base add up every primary (or fleet file); when one of them has no INFO
    the figure is unknown, never the first node's alone."""
    from insightkit.recommend.base import Context

    node = {"info": {"memory": {"used_memory": 100 * MB, "used_memory_rss": 150 * MB}}}
    cluster = {"info": node["info"], "nodes": [node, node, node]}
    assert Context.build(cluster).used_memory == 300 * MB
    assert Context.build(cluster).info_total("used_memory_rss") == 450 * MB
    fleet = {"info": node["info"], "nodes": [node, {"info": {}}]}
    assert Context.build(fleet).used_memory is None
    found = pd.DataFrame(
        {
            "rule": ["x"],
            "frees": ["used_memory"],
            "estimated_savings_bytes": [250 * MB],
            "counted_savings_bytes": [250 * MB],
        }
    )
    assert rules_api.savings_totals(found, cluster)["estimated_savings_bytes"] == 250 * MB
    assert rules_api.savings_totals(found, fleet)["estimated_savings_bytes"] == 250 * MB
    assert rules_api.savings_totals(found, node)["estimated_savings_bytes"] == 100 * MB


@pytest.mark.server
def test_an_rq_instance_as_issue_17_found_it() -> None:
    """A live Redis 7.0 holding RQ's job hashes, queue and per-job result streams: the preallocated
    stream nodes are found and graded by their share of used_memory, and the summary's total is held
    within used_memory."""
    from servers import running_server

    with running_server("redis70") as server:
        client = server.client()
        pipe = client.pipeline(transaction=False)
        for i in range(4000):
            job = f"{i:08x}-5d2c-4a7e-9c1b-3f6e8a2d4b7c"
            pipe.hset(f"rq:job:{job}", mapping={"status": "finished", "origin": "default", "timeout": "180"})
            pipe.expire(f"rq:job:{job}", 500)
            pipe.xadd(
                f"rq:results:{job}", {"type": "1", "return_value": "gAWVBQAAAAAAAACMAW+U" * 4}, maxlen=10
            )
            pipe.expire(f"rq:results:{job}", 500)
            if i % 500 == 499:
                pipe.execute()
        pipe.rpush("rq:queue:default", *[f"job-{i}" for i in range(200)])
        pipe.execute()
        analysis = insightkit.analyze(server.url, method="dump", progress=False)
        used = int(client.info("memory")["used_memory"])
    found = analysis.recommendations.set_index("rule")
    assert found.loc["stream-node-preallocation", "offending_keys"] == 4000
    saving = int(found.loc["stream-node-preallocation", "estimated_savings_bytes"])
    assert saving / used > 0.10 and found.loc["stream-node-preallocation", "severity"] == "high"
    assert "result_ttl" in found.loc["stream-node-preallocation", "fix"]
    totals = analysis.summary().totals
    assert 0 < totals["estimated_savings_bytes"] <= totals["used_memory"]
    if "high-fragmentation" in found.index:  # RSS the writes left behind: a total of its own
        rss = int(analysis.metadata["info"]["memory"]["used_memory_rss"])
        assert 0 < totals["estimated_rss_savings_bytes"] <= rss - totals["used_memory"]
