"""Source parsing, credential hiding and RDB assembly pieces (no server needed)."""

from __future__ import annotations

import pytest
import redis
from acquire_helpers import SECRET

from insightkit.acquire import rdbwriter
from insightkit.acquire.dump import lru_mode, rdb_version_for
from insightkit.acquire.serverinfo import parse_info
from insightkit.acquire.sources import parse_source
from insightkit.errors import ConfigurationError, RdbError, SnapshotError, SourceError
from insightkit.rdb import crc64, read_rdb


def test_urls_and_credentials() -> None:
    spec = parse_source(f"redis://alice:{SECRET}@db.example:7001/3", {})
    assert (spec.host, spec.port, spec.db, spec.username, spec.password) == (
        "db.example",
        7001,
        3,
        "alice",
        SECRET,
    )
    assert spec.display == "redis://db.example:7001/3"
    assert SECRET not in repr(spec) and "alice" not in repr(spec)
    assert parse_source("valkey://h:1/0", {}).display == "redis://h:1/0"
    tls = parse_source(
        "rediss://h:6380/0?ssl_ca_certs=/ca.pem&ssl_cert_reqs=required", {"ssl_certfile": "/c.pem"}
    )
    assert tls.tls and tls.tls_options == {
        "ssl_ca_certs": "/ca.pem",
        "ssl_cert_reqs": "required",
        "ssl_certfile": "/c.pem",
    }
    assert tls.display == "rediss://h:6380/0"
    unix = parse_source(f"unix://:{SECRET}@/run/redis.sock?db=2", {})
    assert unix.unix_path == "/run/redis.sock" and unix.db == 2 and unix.password == SECRET
    assert SECRET not in unix.display
    hp = parse_source("10.0.0.1:7000", {"password": SECRET, "socket_timeout": 3})
    assert (hp.host, hp.port, hp.password, hp.timeout) == ("10.0.0.1", 7000, SECRET, 3.0)
    assert parse_source("[::1]:7000", {}).display == "redis://[::1]:7000/0"


def test_redis_py_clients() -> None:
    client = redis.Redis(host="h", port=7002, db=4, username="u", password=SECRET, socket_timeout=2)
    spec = parse_source(client, {})
    assert (spec.host, spec.port, spec.db, spec.username, spec.password, spec.timeout) == (
        "h",
        7002,
        4,
        "u",
        SECRET,
        2,
    )
    tls = parse_source(redis.Redis(host="h", ssl=True, ssl_ca_certs="/ca.pem"), {})
    assert tls.tls and tls.tls_options["ssl_ca_certs"] == "/ca.pem"
    unix = parse_source(redis.Redis(unix_socket_path="/tmp/r.sock"), {})
    assert unix.unix_path == "/tmp/r.sock"


def test_bad_sources_never_echo_secrets() -> None:
    with pytest.raises(SourceError) as info:
        parse_source(f"redis://u:{SECRET}@host:notaport/0", {})
    assert SECRET not in str(info.value) and info.value.__cause__ is None and info.value.__suppress_context__
    with pytest.raises(SourceError):
        parse_source("http://example.com", {})
    with pytest.raises(SourceError):
        parse_source(42, {})
    with pytest.raises(ConfigurationError):
        parse_source("redis://h:1/0", {"pasword": "typo"})
    with pytest.raises(ConfigurationError):
        parse_source("h:70000", {})


def test_length_encoding_round_trips_through_the_decoder() -> None:
    """Keys of every length class, assembled by rdbwriter, decode back (and the CRC matches)."""
    payload_body = b"\x00" + rdbwriter.encode_string(b"value")  # type 0 (string) + body
    trailer = (10).to_bytes(2, "little")
    payload = payload_body + trailer
    payload += crc64(payload).to_bytes(8, "little")
    asm = rdbwriter.RdbAssembler()
    keys = [b"k", b"x" * 63, b"y" * 64, b"z" * 16383, b"w" * 16384, b"\xff\x00bin"]
    parts = [asm.emit(rdbwriter.header(10) + rdbwriter.aux("redis-ver", "7.0.15"))]
    parts.append(asm.emit(rdbwriter.select_db(7, len(keys), 1)))
    for i, key in enumerate(keys):
        assert rdbwriter.check_payload(payload, key, where="test", server="Redis") == 10
        record = rdbwriter.key_record(
            key, payload, expires_at_ms=1_900_000_000_000 if i == 0 else None, idle_s=None, freq=None
        )
        parts.append(asm.emit(record))
    parts.append(asm.finish())
    reader = read_rdb(b"".join(parts))
    table = reader.read_all()
    assert table.num_rows == len(keys)
    assert table.column("db").to_pylist() == [7] * len(keys)
    assert [len(k) for k in table.column("key").to_pylist()[:5]] == [1, 63, 64, 16383, 16384]
    assert table.column("expires_at").to_pylist()[0] == 1_900_000_000_000
    assert reader.metadata.checksum == "ok"
    # A corrupted payload is refused before it can poison the file.
    with pytest.raises(SnapshotError, match="CRC64"):
        rdbwriter.check_payload(payload[:-1] + b"\x00", b"k", where="test", server="Redis")
    # A flipped byte in the assembled file is caught by the trailer.
    data = bytearray(b"".join(parts))
    data[20] ^= 0xFF
    with pytest.raises(RdbError):
        read_rdb(bytes(data)).read_all()


def test_headers_and_versions() -> None:
    assert rdbwriter.header(9) == b"REDIS0009" and rdbwriter.header(80) == b"VALKEY080"
    assert rdbwriter.encode_length(2**33)[:1] == b"\x81"
    assert rdb_version_for({"redis_version": "6.2.14"}) == 9
    assert rdb_version_for({"redis_version": "7.0.15"}) == 10
    assert rdb_version_for({"redis_version": "7.2.4", "valkey_version": "8.1.1"}) == 11
    assert rdb_version_for({"redis_version": "7.4.1"}) == 12
    assert rdb_version_for({"redis_version": "8.4.0"}) == 12
    assert rdb_version_for({"redis_version": "8.6.1"}) == 13
    assert rdb_version_for({"redis_version": "8.8.0"}) == 14
    assert rdb_version_for({"redis_version": "8.10.2"}) == 15
    assert lru_mode("allkeys-lru") == "idle" and lru_mode("volatile-lfu") == "freq"
    assert lru_mode("noeviction") is None and lru_mode(None) is None


def test_parse_info() -> None:
    info = parse_info(
        "# Server\r\nredis_version:7.0.15\r\nmem_allocator:jemalloc-5.3.0\r\n\r\n"
        "# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=100\r\ndb12:keys=1,expires=0,avg_ttl=0\r\n"
    )
    assert info["server"]["redis_version"] == "7.0.15"
    assert info["keyspace"]["db12"] == {"keys": 1, "expires": 0, "avg_ttl": 0}


def test_seen_keys_drops_scan_repeats_in_order() -> None:
    import random

    from insightkit.acquire.dump import SeenKeys

    seen = SeenKeys()
    keys = [f"k{i}".encode() for i in range(20_000)]
    rng = random.Random(1)
    reference: set[bytes] = set()
    emitted: list[bytes] = []
    for start in range(0, len(keys), 500):
        page = keys[start : start + 500] + rng.sample(keys[: start + 500], 50)  # repeats, also within a page
        fresh, repeats = seen.fresh(page)
        expected = [k for k in dict.fromkeys(page) if k not in reference]
        assert fresh == expected and repeats == len(page) - len(expected)
        reference.update(page)
        emitted += fresh
    assert sorted(emitted) == sorted(keys) and len(seen) == len(keys)
