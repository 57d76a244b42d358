"""Every corpus file decodes (or fails as documented); keys, types, counts and expiries match the
expected outputs shipped beside the dumps and rdb-py's key counts in MANIFEST.tsv."""

from __future__ import annotations

import collections
import datetime as dt
import json
from pathlib import Path

import pytest
from rdb_helpers import CORPUS, EXPECTED_ERRORS, chunked, decode_rows, manifest

import insightkit
from insightkit.errors import RdbError
from insightkit.rdb import unescape_key
from insightkit.schema import KEY_SCHEMA

if not (CORPUS / "MANIFEST.tsv").exists():  # CI clones with shared/ beside the repo
    raise RuntimeError(f"shared corpus missing at {CORPUS}")

ENTRIES = manifest()
FILES = [e["file"] for e in ENTRIES]
GOOD = [f for f in FILES if f not in EXPECTED_ERRORS]


@pytest.mark.parametrize("name", GOOD)
def test_decodes(name: str) -> None:
    reader = insightkit.read_rdb(CORPUS / name)
    table = reader.read_all()
    assert table.schema == KEY_SCHEMA
    meta = reader.metadata
    assert meta.complete and meta.checksum in ("ok", "disabled", "absent")
    assert meta.rdb_version is not None
    assert sum(meta.keys_per_db.values()) == table.num_rows
    json.dumps(meta.to_dict())  # JSON-safe


@pytest.mark.parametrize("name", sorted(EXPECTED_ERRORS))
def test_expected_failures(name: str) -> None:
    with pytest.raises(EXPECTED_ERRORS[name]) as info:
        insightkit.read_rdb(CORPUS / name).read_all()
    assert info.value.offset is not None


_RDBPY_TYPES = {"sorted_set": "zset"}


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e["file"] in GOOD], ids=lambda e: e["file"])
def test_counts_match_rdb_py(entry: dict[str, str]) -> None:
    """rdb-py 0.4 counts keys per type; it skips streams and module keys, so those are left out."""
    expected_text = entry["rdb_py_0.4_key_counts"]
    if expected_text.startswith("rdb-py error"):
        pytest.skip("rdb-py could not read this file")
    expected: dict[str, int] = {}
    if expected_text != "no keys":
        for part in expected_text.split(","):
            name, count = part.split("=")
            expected[_RDBPY_TYPES.get(name, name)] = int(count)
    rows, _ = decode_rows(CORPUS / entry["file"])
    ours = collections.Counter(
        r["type"] for r in rows if r["type"] in ("string", "list", "set", "zset", "hash")
    )
    assert dict(ours) == expected


def _iso_to_ms(text: str) -> int:
    return round(dt.datetime.fromisoformat(text).timestamp() * 1000)


def _payload_count(obj: dict) -> int:
    for field in ("hash", "values", "members", "entries", "value"):
        if field in obj:
            if obj["type"] == "string":
                return 1
            if obj["type"] == "stream":
                return int(obj["len"])
            return len(obj[field])
    raise AssertionError(f"no payload in {obj}")


HDT_JSON = sorted(p for p in (CORPUS / "hdt3213-rdb").glob("*.json") if (p.with_suffix(".rdb")).exists())


@pytest.mark.parametrize("path", HDT_JSON, ids=lambda p: p.name)
def test_hdt3213_expected_json(path: Path) -> None:
    expected = [o for o in json.loads(path.read_text()) if o["type"] not in ("aux", "functions")]
    rows, meta = decode_rows(path.with_suffix(".rdb"))
    by_key = {(r["db"], r["key"]): r for r in rows}
    assert len(by_key) == len(expected)
    for obj in expected:
        row = by_key[(obj["db"], obj["key"])]
        assert row["type"] == obj["type"], obj["key"]
        assert row["num_elements"] == _payload_count(obj), obj["key"]
        if "expiration" in obj:
            assert row["expires_at"] == _iso_to_ms(obj["expiration"]), obj["key"]
        else:
            assert row["expires_at"] is None
        if "expire" in obj:  # hash field TTLs
            volatile = [v for v in obj["expire"].values() if v]
            assert row["volatile_fields"] == len(volatile)
            assert row["min_field_expires_at"] == min(volatile)
    if path.name == "function.json":
        assert meta.functions


def _rdb_rs_key_bytes(key: str) -> bytes:
    """rdb-rs writes non-UTF-8 key bytes as Latin-1 characters."""
    try:
        return key.encode("latin-1")
    except UnicodeEncodeError:
        return key.encode("utf-8")


RDBRS_JSON = sorted((CORPUS / "rdb-rs" / "json").glob("*.json"))


@pytest.mark.parametrize("path", RDBRS_JSON, ids=lambda p: p.name)
def test_rdb_rs_expected_keys(path: Path) -> None:
    """rdb-rs' JSON lists one object per database, key → value; check keys and element counts."""
    rdb = CORPUS / "rdb-rs" / (path.stem + ".rdb")
    expected_dbs = json.loads(path.read_text())
    rows, _ = decode_rows(rdb)
    assert len(rows) == sum(len(db) for db in expected_dbs)
    by_key = {unescape_key(r["key"], r["key_binary"]): r for r in rows}
    for db in expected_dbs:
        for key, value in db.items():
            raw = _rdb_rs_key_bytes(key)
            assert raw in by_key, key
            row = by_key[raw]
            if isinstance(value, (list, dict)):
                assert row["num_elements"] == len(value), key
            else:
                assert row["num_elements"] == 1, key


@pytest.mark.parametrize(
    "name", ["hdt3213-rdb/memory.rdb", "librdb/misc_with_stream.rdb", "rdb-rs/dictionary.rdb"]
)
def test_any_chunking_gives_the_same_rows(name: str) -> None:
    data = (CORPUS / name).read_bytes()
    whole, whole_meta = decode_rows(data)
    for sizes in ([1], [7, 3, 1000], [4096]):
        rows, meta = decode_rows(chunked(data, sizes), batch_size=3)
        assert rows == whole
        assert meta.checksum == whole_meta.checksum


def test_every_expected_error_is_an_rdb_error() -> None:
    for cls in EXPECTED_ERRORS.values():
        assert issubclass(cls, RdbError)


def _librdb_json(path: Path) -> list[dict]:
    """librdb's expected outputs are JSON fragments: a list of dbs, or one db's members without braces."""
    text = path.read_text()
    for candidate in (text, "{" + text + "}", "[" + text + "]"):
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        return value if isinstance(value, list) else [value]
    raise AssertionError(f"cannot parse {path}")


LIBRDB_DATA = sorted(
    p
    for p in (CORPUS / "librdb").glob("*.json")
    if p.stem.endswith("_data") and (CORPUS / "librdb" / (p.stem[: -len("_data")] + ".rdb")).exists()
)


@pytest.mark.parametrize("path", LIBRDB_DATA, ids=lambda p: p.name)
def test_librdb_expected_data(path: Path) -> None:
    """librdb's JSON: keys with their values (lists/objects → element counts) and the aux fields."""
    rdb = CORPUS / "librdb" / (path.stem[: -len("_data")] + ".rdb")
    rows, meta = decode_rows(rdb)
    by_key = {r["key"]: r for r in rows}
    expected_keys = 0
    for db in _librdb_json(path):
        for key, value in db.items():
            if key == "__aux__":
                for name, text in value.items():
                    assert meta.aux[name] == text
                continue
            if key.startswith("__"):
                continue
            expected_keys += 1
            row = by_key[key]
            if isinstance(value, (list, dict)):
                assert row["num_elements"] == len(value), key
            elif value.startswith("<Content of Module"):  # librdb prints the serialized size
                size = int(value.split("serialized size of ")[1].split()[0])
                assert row["module"] is not None and row["element_bytes"] == size, key
            else:
                assert row["num_elements"] == 1 and row["element_bytes"] == len(value.encode()), key
    assert expected_keys == len(rows)
