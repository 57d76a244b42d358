"""Decode RDBs written by real Redis 6.2, Redis 7.0 and Valkey 8.1 and compare every row with what the
live server answers about the same key (TYPE, OBJECT ENCODING, length, PTTL, stream groups)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rdb_helpers import chunked, decode_rows
from rdb_population import length_of, populate
from servers import Server

from insightkit.rdb import unescape_key

pytestmark = pytest.mark.server


def _elements(client: Any, key: bytes, typ: str) -> list[bytes] | None:
    """The members / items / fields and values of a collection, as the server returns them."""
    if typ == "list":
        return list(client.lrange(key, 0, -1))
    if typ == "set":
        return list(client.smembers(key))
    if typ == "zset":
        return list(client.zrange(key, 0, -1))
    if typ == "hash":
        return [x for pair in client.hgetall(key).items() for x in pair]
    return None


def _compare_with_server(server: Server, rows: list[dict]) -> None:
    now_ms = time.time() * 1000
    seen = 0
    for db in sorted({r["db"] for r in rows}):
        client = server.client(db=db)
        live = set(client.keys("*"))
        mine = {unescape_key(r["key"], r["key_binary"]): r for r in rows if r["db"] == db}
        assert set(mine) == live, f"db {db}"
        for key, row in mine.items():
            seen += 1
            typ = client.type(key).decode()
            assert row["type"] == typ, key
            assert row["encoding"] == client.object("encoding", key).decode(), (key, row)
            length = length_of(client, key, typ)
            if typ == "string":
                assert row["num_elements"] == 1 and row["element_bytes"] == length, key
            else:
                assert row["num_elements"] == length, key
            pttl = client.pttl(key)
            if pttl < 0:
                assert row["expires_at"] is None, key
            else:
                assert abs(row["expires_at"] - now_ms - pttl) < 5000, key
            values = _elements(client, key, typ)
            if values is not None:
                assert row["element_bytes"] == sum(len(x) for x in values), key
                assert row["largest_element_bytes"] == max(len(x) for x in values), key
            if typ == "set":
                members = client.smembers(key)
                all_int = all(m.lstrip(b"-").isdigit() and str(int(m)).encode() == m for m in members)
                assert row["all_integers"] == all_int, key
            if typ == "stream":
                info = client.xinfo_stream(key)
                groups = client.xinfo_groups(key)
                assert row["stream_entries"] == info["length"]
                assert row["stream_groups"] == len(groups)
                assert row["stream_consumers"] == sum(g["consumers"] for g in groups)
                assert row["stream_pending"] == sum(g["pending"] for g in groups)
                items = [x for _, fields in client.xrange(key) for pair in fields.items() for x in pair]
                assert row["element_bytes"] == sum(len(x) for x in items), key
                assert row["largest_element_bytes"] == max((len(x) for x in items), default=0), key
            assert row["serialized_bytes"] > 0 and row["memory_bytes"] > 0
    assert seen == len(rows)


@pytest.mark.parametrize("flavour", ["redis62", "redis70", "valkey81"])
def test_every_type_and_encoding_matches_server(flavour: str) -> None:
    from servers import running_server

    args = [] if flavour == "redis62" else ["--enable-debug-command", "yes"]
    with running_server(flavour, args=args) as server:
        populate(server)
        if flavour != "redis62":
            # plain (non-listpack) quicklist nodes: elements above the packed threshold
            server.client().execute_command("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1000")
            server.client().rpush("list:plain", "p" * 5000, "small", "q" * 3000)
        data = server.save().read_bytes()
        rows, meta = decode_rows(data)
        _compare_with_server(server, rows)
        assert meta.checksum == "ok"
        assert meta.keys_per_db == {0: len([r for r in rows if r["db"] == 0]), 1: 2, 2: 1}
        if flavour != "redis62":
            assert "ik_lib" in meta.functions
            plain = next(r for r in rows if r["key"] == "list:plain")
            assert plain["largest_element_bytes"] == 5000
        # arbitrary chunking of the same bytes gives the same rows
        streamed, _ = decode_rows(chunked(data, [65536, 1, 333]), batch_size=7)
        assert streamed == rows


@pytest.mark.parametrize("flavour", ["redis62", "redis70", "valkey81"])
def test_lru_and_lfu_opcodes(flavour: str) -> None:
    from servers import running_server

    with running_server(flavour) as server:
        client = server.client()
        client.set("a", "1")
        client.set("b", "2")
        client.config_set("maxmemory-policy", "allkeys-lru")
        rows, _ = decode_rows(server.save().read_bytes())
        assert all(r["lru_idle_s"] is not None and r["lfu_freq"] is None for r in rows)
        client.config_set("maxmemory-policy", "allkeys-lfu")
        for _ in range(50):
            client.get("a")
        rows, _ = decode_rows(server.save().read_bytes())
        freq = {r["key"]: r["lfu_freq"] for r in rows}
        assert all(r["lru_idle_s"] is None for r in rows)
        assert freq["a"] == client.object("freq", "a")
        assert freq["a"] > freq["b"]
