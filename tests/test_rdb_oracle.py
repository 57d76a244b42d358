"""rdbtools (an independent Python decoder, RDB <= 9) agrees with us on keys, types and element counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import rdbtools
from rdb_helpers import CORPUS, EXPECTED_ERRORS, decode_rows, manifest
from rdb_population import populate
from servers import running_server

from insightkit.rdb import unescape_key


class _Collect(rdbtools.RdbCallback):  # type: ignore[misc]
    """Remembers (db, key) → [type, element count, expiry ms] for every key rdbtools reports."""

    def __init__(self) -> None:
        super().__init__(string_escape=None)
        self.rows: dict[tuple[int, bytes], list[Any]] = {}
        self.db = 0

    def start_database(self, db_number: int) -> None:
        self.db = db_number

    def _start(self, key: Any, typ: str, expiry: Any, count: int = 0) -> None:
        ms = None if expiry is None else round(expiry.timestamp() * 1000)
        self.rows[(self.db, self._norm(key))] = [typ, count, ms]

    @staticmethod
    def _norm(key: Any) -> Any:
        return str(key).encode() if isinstance(key, int) else key

    def set(self, key, value, expiry, info):  # type: ignore[no-untyped-def]
        self._start(key, "string", expiry, 1)

    def start_hash(self, key, length, expiry, info):  # type: ignore[no-untyped-def]
        self._start(key, "hash", expiry)

    def hset(self, key, field, value):  # type: ignore[no-untyped-def]
        self.rows[(self.db, self._norm(key))][1] += 1

    def start_set(self, key, cardinality, expiry, info):  # type: ignore[no-untyped-def]
        self._start(key, "set", expiry)

    def sadd(self, key, member):  # type: ignore[no-untyped-def]
        self.rows[(self.db, self._norm(key))][1] += 1

    def start_list(self, key, expiry, info):  # type: ignore[no-untyped-def]
        self._start(key, "list", expiry)

    def rpush(self, key, value):  # type: ignore[no-untyped-def]
        self.rows[(self.db, self._norm(key))][1] += 1

    def start_sorted_set(self, key, length, expiry, info):  # type: ignore[no-untyped-def]
        self._start(key, "zset", expiry)

    def zadd(self, key, score, member):  # type: ignore[no-untyped-def]
        self.rows[(self.db, self._norm(key))][1] += 1

    def start_stream(self, key, listpacks_count, expiry, info):  # type: ignore[no-untyped-def]
        self._start(key, "stream", expiry, -1)

    def start_module(self, key, module_name, expiry, info):  # type: ignore[no-untyped-def]
        self._start(key, module_name, expiry, 1)
        return False


def _oracle(path: Path) -> dict[tuple[int, bytes], list[Any]]:
    callback = _Collect()
    rdbtools.RdbParser(callback).parse(str(path))
    # rdbtools reports MODULE_AUX blocks as module values without a key; they are not keys.
    return {k: v for k, v in callback.rows.items() if k[1] is not None}


def _ours(path: Path) -> dict[tuple[int, bytes], list[Any]]:
    rows, _ = decode_rows(path)
    return {
        (r["db"], unescape_key(r["key"], r["key_binary"])): [
            r["type"],
            -1 if r["type"] == "stream" else r["num_elements"],
            r["expires_at"],
        ]
        for r in rows
    }


OLD_FILES = [
    e["file"]
    for e in manifest()
    if e["header"].startswith("REDIS")
    and int(e["header"][5:]) <= 9
    and e["file"] not in EXPECTED_ERRORS
    and e["file"].endswith(".rdb")
]
# rdbtools 0.1.15 itself fails on these (module value parsing / pre-stream LFU opcodes).
RDBTOOLS_CANNOT = {"redis-rdb-tools/redis_40_with_module.rdb"}


@pytest.mark.parametrize("name", OLD_FILES)
def test_corpus_agrees_with_rdbtools(name: str) -> None:
    if name in RDBTOOLS_CANNOT:
        pytest.skip("rdbtools cannot parse this file")
    assert _ours(CORPUS / name) == _oracle(CORPUS / name)


@pytest.mark.server
def test_redis62_file_agrees_with_rdbtools(tmp_path: Path) -> None:
    with running_server("redis62") as server:
        populate(server, big=False)
        path = server.save()
        assert _ours(path) == _oracle(path)
