"""``serialized_bytes`` is each key's exact span in the file, on files real servers write.

Two independent accounts of the same bytes:
- the whole file: header + aux fields + per-db SELECTDB/RESIZEDB + Σ serialized_bytes + EOF + CRC
  must be the file size, byte for byte (the aux fields are re-encoded the way the server writes them);
- each key: DUMP gives the server's own serialization of the value (type byte + value + 2-byte RDB
  version + 8-byte CRC), so a key's span is its expiry opcode (9 bytes when it has a TTL) + type byte +
  encoded key name + the value.
"""

from __future__ import annotations

from typing import Any

import pytest
from rdb_population import populate
from servers import Server

import insightkit
from insightkit.rdb import unescape_key

pytestmark = pytest.mark.server


def _len_bytes(n: int) -> int:
    """Size of an RDB length prefix."""
    if n < 1 << 6:
        return 1
    if n < 1 << 14:
        return 2
    return 5 if n <= 0xFFFFFFFF else 9


def _string_bytes(raw: bytes) -> int:
    """Size of an RDB string as the server writes a short one: int-encoded when it is a canonical
    integer that fits 8/16/32 bits (rdbTryIntegerEncoding), else length prefix + bytes. The server only
    tries LZF above 20 bytes; callers keep to strings that LZF cannot shrink or that are <= 20 bytes."""
    if len(raw) <= 11:
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is not None and str(value).encode() == raw:
            if -(1 << 7) <= value < 1 << 7:
                return 2
            if -(1 << 15) <= value < 1 << 15:
                return 3
            if -(1 << 31) <= value < 1 << 31:
                return 5
    return _len_bytes(len(raw)) + len(raw)


def _decode(path: Any) -> tuple[list[dict[str, Any]], Any]:
    reader = insightkit.read_rdb(str(path))
    return reader.read_all().to_pylist(), reader.metadata


def test_spans_and_file_layout_add_up_to_the_file_size(any_server: Server) -> None:
    populate(any_server, big=False)
    client = any_server.client()
    if any_server.flavour.version >= (7, 0):
        client.function_flush()  # a library's code may be LZF-compressed: keep the account exact
    path = any_server.save()
    rows, meta = _decode(path)
    size = path.stat().st_size
    assert meta.checksum == "ok" and meta.functions == [] and meta.modules == []
    assert all(r["serialized_bytes"] > 0 for r in rows)

    aux = sum(1 + _string_bytes(k.encode()) + _string_bytes(v.encode()) for k, v in meta.aux.items())
    dbs = sum(
        1 + _len_bytes(db) + 1 + _len_bytes(resize["keys"]) + _len_bytes(resize["expires"])
        for db, resize in meta.resize_db.items()
    )
    assert set(meta.resize_db) == set(meta.keys_per_db) == {0, 1, 2}
    spans = sum(r["serialized_bytes"] for r in rows)
    assert 9 + aux + dbs + spans + 1 + 8 == size, (size, aux, dbs, spans)
    assert meta.total_bytes == size


def test_each_span_matches_the_servers_dump(any_server: Server) -> None:
    populate(any_server, big=False)
    path = any_server.save()
    rows, _ = _decode(path)
    checked = 0
    for row in rows:
        key = unescape_key(row["key"], row["key_binary"])
        if len(key) > 20:  # the server may LZF-compress a long key name; its span is covered above
            continue
        client = any_server.client(db=row["db"])
        payload = client.dump(key)
        assert payload is not None, key
        value = len(payload) - 1 - 2 - 8
        expiry = 9 if row["expires_at"] is not None else 0
        expected = expiry + 1 + _string_bytes(key) + value
        assert row["serialized_bytes"] == expected, (key, row["serialized_bytes"], expected)
        checked += 1
    assert checked >= 30
    kinds = {r["type"] for r in rows}
    assert {"string", "list", "set", "zset", "hash", "stream"} <= kinds
