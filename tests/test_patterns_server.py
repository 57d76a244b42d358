"""Patterns from a real RDB: load a labeled keyspace into Redis 7.0, SAVE, decode, discover."""

from __future__ import annotations

import pandas as pd
import pytest
from keyspaces import build, ecommerce, hash_tags_and_binary, job_queues, purity
from servers import Server

import insightkit
from insightkit.patterns import aggregate_patterns, assign_patterns
from insightkit.rdb import unescape_key

pytestmark = pytest.mark.server


def _sample() -> pd.DataFrame:
    families = [f for make in (ecommerce, hash_tags_and_binary, job_queues) for f in make()]
    small = [type(f)(**{**f.__dict__, "count": min(f.count, 150)}) for f in families]
    return build(small, seed=3)


def _load(server: Server, df: pd.DataFrame) -> None:
    client = server.client()
    pipe = client.pipeline(transaction=False)
    for row in df.itertuples(index=False):
        key = unescape_key(row.key) if row.key_binary else row.key.encode()
        if row.type == "hash":
            pipe.hset(key, mapping={"f1": "v1", "f2": "2"})
        elif row.type == "list":
            pipe.rpush(key, "a", "b", "c")
        elif row.type == "set":
            pipe.sadd(key, *(["1", "2", "3"] if row.encoding == "intset" else ["x", "y"]))
        elif row.type == "zset":
            pipe.zadd(key, {"m1": 1.0, "m2": 2.0})
        elif row.type == "stream":
            pipe.xadd(key, {"f": "v"})
        else:
            pipe.set(key, "12345" if row.encoding == "int" else "some cached value")
        if not pd.isna(row.expires_at):
            pipe.pexpire(key, 3_600_000)
    pipe.execute()


def test_patterns_from_a_real_rdb(redis70: Server) -> None:
    expected = _sample()
    _load(redis70, expected)
    path = redis70.save()
    keys = insightkit.read_rdb(str(path)).read_all().to_pandas(types_mapper=pd.ArrowDtype)
    assert len(keys) == len(expected)
    assert keys["key_binary"].sum() == expected["key_binary"].sum() > 0
    keys["pattern"] = assign_patterns(keys)
    labels = keys["key"].astype(object).map(dict(zip(expected["key"], expected["expected"], strict=True)))
    assert labels.notna().all()
    pur, inv = purity(keys["pattern"], labels)
    assert pur >= 0.95 and inv >= 0.95, (pur, inv)
    agg = aggregate_patterns(keys).set_index("pattern")
    assert agg["memory_bytes"].sum() == keys["memory_bytes"].sum()
    for pattern, typ in (("{acct:*}:orders", "list"), ("cart:*", "hash"), ("idx:*", "set")):
        assert agg.loc[pattern, "type"] == typ
        assert agg.loc[pattern, "memory_bytes"] > 0
    assert agg.loc["cart:*", "keys_without_ttl"] == 0
    assert agg.loc["product:*", "keys_without_ttl"] == agg.loc["product:*", "keys"]
