"""Shared pieces of the acquire tests: server arguments, a small mixed keyspace, row comparisons."""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa
from servers import FLAVOURS, Server

from insightkit.rdb import read_rdb

# A distinctive password: tests assert it never shows up in metadata or error messages.
SECRET = "Zq9-s3cr3t-PASSWORD-do-not-leak"
COMPARED = ("db", "key", "type", "encoding", "num_elements", "largest_element_bytes")


def server_args(flavour: str, *extra: str) -> list[str]:
    """No diskless-sync delay (tests must be quick), DEBUG allowed for DIGEST-VALUE where it is gated."""
    args = ["--repl-diskless-sync-delay", "0"]
    if FLAVOURS[flavour].version >= (7, 0):
        args += ["--enable-debug-command", "yes"]
    return [*args, *extra]


def fill(server: Server, n: int = 300, dbs: tuple[int, ...] = (0,)) -> int:
    """A little of every common type in each db; returns the number of keys written."""
    written = 0
    for db in dbs:
        c = server.client(db=db)
        pipe = c.pipeline(transaction=False)
        for i in range(n):
            pipe.set(f"str:{db}:{i}", "v" * (i % 70), px=3_600_000 if i % 3 == 0 else None)
        pipe.rpush(f"list:{db}", *range(50))
        pipe.sadd(f"set:{db}", *range(20))
        pipe.sadd(f"sset:{db}", *[f"m{i}" for i in range(20)])
        pipe.hset(f"hash:{db}", mapping={f"f{i}": i for i in range(30)})
        pipe.zadd(f"zset:{db}", {f"z{i}": i / 3 for i in range(40)})
        pipe.xadd(f"stream:{db}", {"a": 1})
        pipe.set(b"bin:\xff\x00" + str(db).encode(), b"\x00\x01")
        pipe.execute()
        written += n + 7
    return written


def rows(table: pa.Table, columns: tuple[str, ...] = COMPARED) -> list[tuple[Any, ...]]:
    data = table.select(list(columns)).to_pylist()
    return sorted(tuple(r[c] for c in columns) for r in data)


def saved_rows(server: Server) -> list[tuple[Any, ...]]:
    """What the server itself writes (SAVE), decoded: the reference for a snapshot."""
    wait_for_no_fork(server)
    return rows(read_rdb(str(server.save())).read_all())


def wait_for_no_fork(server: Server, timeout: float = 10) -> None:
    """After a sync the master's child may still be finishing; SAVE refuses until it is gone."""
    deadline = time.monotonic() + timeout
    client = server.client()
    while time.monotonic() < deadline:
        info = client.info("persistence")
        if not info.get("rdb_bgsave_in_progress") and not info.get("aof_rewrite_in_progress"):
            return
        time.sleep(0.02)
    raise AssertionError("the server's background save did not finish")


def table_of(batches: Any) -> pa.Table:
    batches = list(batches)
    assert batches, "no batches"
    return pa.Table.from_batches(batches)
