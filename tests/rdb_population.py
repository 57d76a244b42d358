"""Fill a real server with every type × encoding it can hold, for decoder-vs-server comparisons."""

from __future__ import annotations

import random

import redis
from servers import Server


def populate(server: Server, *, big: bool = True) -> None:
    """Write keys of every type and encoding into dbs 0-2 (with TTLs) on a running server."""
    client = server.client()
    version = server.flavour.version
    rng = random.Random(7)
    compressible = b"abcdefgh" * 40
    c = client
    # --- strings: int, embstr (44/45 boundary), raw, LZF-compressed, incompressible, binary key
    c.set("str:int", 12345)
    c.set("str:negint", -98765)
    c.set("str:bigint", "9223372036854775807")
    c.set("str:notcanon", "007")
    c.set("str:overflow", "92233720368547758080")
    c.set("str:emb44", "e" * 44)
    c.set("str:raw45", "r" * 45)
    c.set("str:raw", "x" * 300)
    c.set("str:lzf", compressible * 50)
    c.set("str:random", rng.randbytes(5000))
    c.set(b"bin:\xff\xfe\\key\x00end", "v")
    c.set("str:utf8:ключ", "значение")
    c.set("str:empty", "")
    if big:
        c.set("str:huge", rng.randbytes(3 * 1024 * 1024))  # streams through the decoder
    c.set("ttl:str", "v", px=3_600_000)
    c.set("ttl:int", 7, ex=86_400)
    # --- lists: small (listpack on 7.2+ / ziplist-node quicklist before), big, compressed
    c.rpush("list:small", *[f"i{i}" for i in range(5)])
    c.rpush("list:ints", *range(100))
    c.rpush("list:big", *[f"element-{i}" * 3 for i in range(3000)])
    c.config_set("list-compress-depth", 1)
    c.rpush("list:compressed", *[compressible for _ in range(400)])
    c.config_set("list-compress-depth", 0)
    c.rpush("list:bigelem", "y" * 10_000, "z")
    c.expire("list:small", 10_000)
    # --- sets: intset, listpack (7.2+), hashtable
    c.sadd("set:intset", *range(50))
    c.sadd("set:small", "a", "b", "c", 42)
    c.sadd("set:ints:big", *range(1000))
    c.sadd("set:big", *[f"member-{i}" for i in range(600)])
    c.sadd("set:long", "m" * 100, "n")
    # --- zsets: listpack/ziplist, skiplist
    c.zadd("zset:small", {"a": 1, "b": 2.5, "c": -3})
    c.zadd("zset:big", {f"m{i}": i / 3 for i in range(300)})
    c.zadd("zset:long", {"q" * 100: 1})
    # --- hashes: listpack/ziplist, hashtable
    c.hset("hash:small", mapping={"f1": "v1", "f2": 2, "f3": "v" * 30})
    c.hset("hash:big", mapping={f"field{i}": f"value{i}" for i in range(700)})
    c.hset("hash:long", mapping={"f": "w" * 100})
    # --- streams with groups, consumers, PEL
    for i in range(250):
        c.xadd("stream:1", {"a": i, "b": "x" * (i % 7)})
    c.xgroup_create("stream:1", "g1", id="0")
    c.xgroup_create("stream:1", "g2", id="$")
    c.xreadgroup("g1", "alice", {"stream:1": ">"}, count=10)
    c.xreadgroup("g1", "bob", {"stream:1": ">"}, count=5)
    c.xadd("stream:empty", {"k": "v"})
    c.xdel("stream:empty", c.xrange("stream:empty")[0][0])
    # --- other databases
    c1 = server.client(db=1)
    c1.set("db1:str", "one")
    c1.hset("db1:hash", "f", "v")
    c1.expire("db1:hash", 500)
    c2 = server.client(db=2)
    c2.rpush("db2:list", "a")
    if version >= (7, 0):
        c.function_load("#!lua name=ik_lib\nredis.register_function('ik_f', function() return 1 end)")
    _ = redis  # client library used through server.client()


def length_of(client: redis.Redis, key: bytes, typ: str) -> int:
    command = {
        "string": "STRLEN",
        "list": "LLEN",
        "set": "SCARD",
        "zset": "ZCARD",
        "hash": "HLEN",
        "stream": "XLEN",
    }[typ]
    return int(client.execute_command(command, key))
