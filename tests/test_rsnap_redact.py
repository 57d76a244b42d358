"""Redaction: variable parts hashed with a key, separators and literal parts kept, nothing leaks."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from keytables import key_batch

from insightkit.analysis import Analysis, load
from insightkit.errors import ConfigurationError
from insightkit.rsnap import Redactor, make_redactor, read_rsnap, write_rsnap
from insightkit.rsnap.redact import HASH_HEX_CHARS, tokenize

H = f"[0-9a-f]{{{HASH_HEX_CHARS}}}"

KEYS = [
    *(f"user:{uid}:session" for uid in (1001, 1002, 1003, 2044)),
    *(f"user:{uid}:profile" for uid in (1001, 1002, 1003)),
    "user:alice:session",
    "user:bob:session",
    "user:carol:session",
    *(f"cache:product:{sku}" for sku in ("red-shoe", "blue-hat", "green-sock")),
    "cache:product:42",
    "config",
    "config",
]


def test_literal_parts_and_separators_survive() -> None:
    redactor = Redactor("secret").fit(KEYS)
    assert re.fullmatch(f"user:{H}:session", redactor.redact_key("user:1001:session"))
    assert re.fullmatch(f"user:{H}:profile", redactor.redact_key("user:1001:profile"))
    # names without digits are still data when the position holds many distinct values
    assert re.fullmatch(f"user:{H}:session", redactor.redact_key("user:alice:session"))
    assert re.fullmatch(f"cache:product:{H}-{H}", redactor.redact_key("cache:product:red-shoe"))
    assert redactor.redact_key("config") == "config"


def test_same_part_same_hash_and_the_secret_matters() -> None:
    a, b = Redactor("one").fit(KEYS), Redactor("two").fit(KEYS)
    first = a.redact_key("user:1001:session").split(":")[1]
    assert a.redact_key("user:1001:profile").split(":")[1] == first  # joins across keys still work
    assert a.redact_key("user:1002:session").split(":")[1] != first
    assert b.redact_key("user:1001:session").split(":")[1] != first
    assert Redactor("one").fit(KEYS).redact_key("user:1001:session") == a.redact_key("user:1001:session")
    assert Redactor().redact_key("x:1") != Redactor().redact_key("x:1")  # random secrets differ


def test_pattern_guides_redaction() -> None:
    redactor = Redactor("s")  # not fitted: only the pattern says what is literal
    assert re.fullmatch(f"user:{H}:session", redactor.redact_key("user:zoe:session", "user:*:session"))
    # a variable span holding several tokens keeps its inner separators
    assert re.fullmatch(f"feed:{H}:{H}/{H}", redactor.redact_key("feed:a:b/c", "feed:*"))
    # digits in a part the pattern calls literal are still treated as data
    assert re.fullmatch(f"v:{H}:x", redactor.redact_key("v:12345:x", "v:12345:x"))
    assert redactor.redact_key("config", "config") == "config"
    # a key that does not fit its pattern falls back to hashing every token
    assert re.fullmatch(f"{H}:{H}", redactor.redact_key("odd:key", "user:*:session"))


def test_patterns_are_redacted_like_their_keys(tmp_path: Path) -> None:
    redactor = Redactor("s")
    key = redactor.redact_key("tenant:4242:user:77", "tenant:4242:user:*")
    pattern = redactor.redact_pattern("tenant:4242:user:*")
    assert re.fullmatch(f"tenant:{H}:user:\\*", pattern)
    assert key.startswith(pattern[:-1])
    keys = ["tenant:4242:user:1", "tenant:4242:user:2"]
    batch = (
        key_batch(0, 2)
        .set_column(1, "key", pa.array(keys))
        .append_column("pattern", pa.array(["tenant:4242:user:*"] * 2))
    )
    path = write_rsnap(tmp_path / "p.parquet", batch, {"method": "file"}, redactor=redactor)
    assert b"4242" not in path.read_bytes()
    table, _ = read_rsnap(path)
    assert table.column("pattern").to_pylist() == [pattern, pattern]


def test_unfitted_redactor_hashes_every_token() -> None:
    assert re.fullmatch(f"{H}:{H}:{H}", Redactor("s").redact_key("user:1:session"))


def test_redact_option_values() -> None:
    assert make_redactor(None) is None and make_redactor(False) is None
    assert make_redactor(True).key_supplied is False  # type: ignore[union-attr]
    assert make_redactor("k").key_supplied is True  # type: ignore[union-attr]
    with pytest.raises(ConfigurationError):
        make_redactor("")
    with pytest.raises(ConfigurationError):
        make_redactor(3.5)


def _analysis(keys: list[str]) -> Analysis:
    batch = key_batch(0, len(keys))
    batch = batch.set_column(1, "key", pa.array(keys, pa.string()))
    frame = pa.Table.from_batches([batch]).to_pandas(types_mapper=pd.ArrowDtype)
    return Analysis(frame, {"method": "file", "source": "x.rdb", "snapshot_time_ms": 0})


def test_redacted_rsnap_hides_ids_and_keeps_structure(tmp_path: Path) -> None:
    ids = [f"{7_000_000 + i}" for i in range(300)]
    emails = [f"person{i}@example.org" for i in range(300)]
    keys = [f"user:{u}:session" for u in ids] + [f"mail:{e}:inbox" for e in emails]
    analysis = _analysis(keys)
    path = analysis.to_rsnap(tmp_path / "r.rsnap.parquet", redact="team-secret")
    raw = path.read_bytes()
    for secret in ("7000123", "person17", "example.org", "team-secret"):
        assert secret.encode() not in raw
    table, metadata = read_rsnap(path)
    redacted = table.column("key").to_pylist()
    assert sum(bool(re.fullmatch(f"user:{H}:session", k)) for k in redacted) == 300
    assert sum(bool(re.fullmatch(f"mail:{H}@{H}.{H}:inbox", k)) for k in redacted) == 300
    assert len(set(redacted)) == len(keys)  # distinct keys stay distinct
    assert metadata["redaction"] == {"method": "hmac-sha256", "parts": "variable", "key_supplied": True}
    # everything but the key column is untouched
    assert table.drop_columns(["key", "pattern"] if "pattern" in table.column_names else ["key"]).equals(
        pa.Table.from_pandas(analysis.keys, preserve_index=False)
        .drop_columns(["key", "pattern"] if "pattern" in analysis.keys.columns else ["key"])
        .cast(table.drop_columns(["key", "pattern"] if "pattern" in table.column_names else ["key"]).schema)
    )
    reloaded = load(path)
    assert reloaded.metadata["redaction"]["key_supplied"] is True


def test_streaming_writer_redacts_batches(tmp_path: Path) -> None:
    originals = [f"user:{9_100_000 + i}:cart" for i in range(100)]
    batch = key_batch(0, 100).set_column(1, "key", pa.array(originals, pa.string()))
    path = write_rsnap(tmp_path / "s.parquet", batch, {"method": "file"}, redactor=Redactor("k"))
    raw = path.read_bytes()
    assert b"91000" not in raw and b"user" not in raw
    table, _ = read_rsnap(path)
    assert all(re.fullmatch(f"{H}:{H}:{H}", k) for k in table.column("key").to_pylist())


_PART = st.text(alphabet="abcxyz0123456789é", min_size=1, max_size=6)
_SEP = st.sampled_from([":", "/", "|", ".", "-", "_", "#", "@", "::"])


@given(parts=st.lists(_PART, min_size=1, max_size=6), seps=st.lists(_SEP, min_size=5, max_size=5))
@settings(max_examples=200, deadline=None)
def test_redaction_keeps_every_separator_and_hides_every_digit(parts: list[str], seps: list[str]) -> None:
    key = parts[0] + "".join(sep + part for sep, part in zip(seps, parts[1:], strict=False))
    redactor = Redactor("prop").fit([key, key])
    redacted = redactor.redact_key(key)
    before, after = tokenize(key), tokenize(redacted)
    assert len(before) == len(after)
    assert before[1::2] == after[1::2]  # separators, in order
    for original, hidden in zip(before[::2], after[::2], strict=True):
        if any(ch.isdigit() for ch in original):
            assert re.fullmatch(H, hidden)
    assert redactor.redact_key(key) == redacted
