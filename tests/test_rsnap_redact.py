"""Redaction: everything but the skeleton of many-key families hashed, shapes kept, nothing leaks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from keyspaces import KEYSPACES, keyspace
from keytables import key_batch
from servers import Server, running_server

from insightkit.analysis import Analysis, analyze, load
from insightkit.errors import ConfigurationError
from insightkit.patterns import template_of
from insightkit.patterns.assign import assign_owned
from insightkit.patterns.tokens import SEP_CLASS
from insightkit.patterns.tokens import SEPARATORS as PATTERN_SEPARATORS
from insightkit.rsnap import Redactor, make_redactor, read_rsnap, write_rsnap
from insightkit.rsnap.redact import ID_CHARS, NUMBER_DIGITS, WORD_CHARS, tokenize

REPO = Path(__file__).resolve().parent.parent
ID = f"[0-9][0-9a-f]{{{ID_CHARS - 1}}}"  # a hashed value
NUM = f"[0-9]{{{NUMBER_DIGITS}}}"  # a hashed number
WORD = f"[a-z]{{{WORD_CHARS}}}"  # a hashed word


def _family(prefix: str, n: int, suffix: str = "") -> list[str]:
    return [f"{prefix}{1000 + i}{suffix}" for i in range(n)]


KEYS = [
    *_family("user:", 20, ":session"),
    *_family("user:", 12, ":profile"),
    "tenant:acme:cfg",
    "tenant:globex:cfg",
    "secretproject-falcon",
    "config",
]


def test_only_the_skeleton_of_many_key_families_survives() -> None:
    redactor = Redactor("secret").fit(KEYS, ["user:*:session"] * 20 + ["user:*:profile"] * 12 + KEYS[32:])
    assert redactor.skeleton == {"user", "session", "profile"}
    assert re.fullmatch(f"user:{NUM}:session", redactor.redact_key("user:1001:session"))
    assert re.fullmatch(f"user:{NUM}:profile", redactor.redact_key("user:1001:profile"))
    # a name shared by two keys, a lone key and a singleton pattern are hashed as words
    assert re.fullmatch(f"{WORD}:{WORD}:{WORD}", redactor.redact_key("tenant:acme:cfg"))
    assert re.fullmatch(f"{WORD}-{WORD}", redactor.redact_key("secretproject-falcon"))
    assert re.fullmatch(WORD, redactor.redact_key("config"))


def test_thresholds_count_keys_and_distinct_values() -> None:
    keys = _family("order:", 9, ":lines")
    assert not Redactor("s").fit(keys, ["order:*:lines"] * 9).skeleton  # 9 keys: too few
    keys = _family("order:", 10, ":lines")
    assert Redactor("s").fit(keys, ["order:*:lines"] * 10).skeleton == {"order", "lines"}
    # many keys in several databases but only two distinct values
    twice = ["order:1:lines", "order:2:lines"] * 10
    assert not Redactor("s").fit(twice, ["order:*:lines"] * 20).skeleton
    assert not Redactor("s", min_family_keys=11).fit(keys, ["order:*:lines"] * 10).skeleton
    # a pattern name that does not match its keys (a custom name) is not key text
    assert not Redactor("s").fit(keys, ["Orders"] * 10).skeleton
    # counted over batches, as the out-of-core writer does
    halves = [(keys[:5], ["order:*:lines"] * 5), (keys[5:], ["order:*:lines"] * 5)]
    assert Redactor("s").fit_batches(halves).skeleton == {"order", "lines"}


def test_same_part_same_hash_and_the_secret_matters() -> None:
    a, b = Redactor("one"), Redactor("two")
    first = a.redact_key("user:1001:session").split(":")[1]
    assert a.redact_key("user:1001:profile").split(":")[1] == first  # joins across keys still work
    assert a.redact_key("user:1002:session").split(":")[1] != first
    assert b.redact_key("user:1001:session").split(":")[1] != first
    assert Redactor("one").redact_key("user:1001:session") == a.redact_key("user:1001:session")
    assert Redactor().redact_key("x:1") != Redactor().redact_key("x:1")  # random secrets differ


def test_values_keep_their_shape() -> None:
    r = Redactor("s")
    assert re.fullmatch(f"{WORD}:{ID}", r.redact_key("session:5f3a9c"))
    assert re.fullmatch(f"{WORD}:{ID}", r.redact_key("session:0deadbeefcafe"))
    # discovery reads letters then digits as a word and an id (``deadbeef*``): so does the hash
    assert re.fullmatch(f"{WORD}:{WORD}{NUM}", r.redact_key("session:deadbeef0"))
    # a–f-only hex is a word to discovery, so it stays a word (and stays a variable by cardinality)
    assert re.fullmatch(f"{WORD}:{WORD}", r.redact_key("session:deadbeefcafe"))
    assert re.fullmatch(f"{WORD}{NUM}:{WORD}", r.redact_key("tenant42:cfg"))  # glued id: still digits
    # letters of random-looking case (base62 without a digit) keep that look, even after a comma
    assert re.fullmatch(f"{WORD}:{WORD},([a-z][A-Z]){{6}}", r.redact_key("tok:ab,xQzRwPvNmKlJ"))
    assert template_of(r.redact_key("tok:ab,xQzRwPvNmKlJ")).endswith(",*")
    uuid = "6f0c2a52-8b1e-4c3e-9a59-0e5b3c0c1f11"
    hexes = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    assert re.fullmatch(f"{WORD}:{hexes}", r.redact_key(f"job:{uuid}"))
    assert re.fullmatch(f"{WORD}:{ID}@{ID}.{ID}:{WORD}", r.redact_key("mail:person1@example.org:inbox"))
    # a value holding a strong separator is one hash
    assert re.fullmatch(f"{WORD}:{ID}:{WORD}", r.redact_key("event:2024-01-05T10:00:00Z:log"))
    assert re.fullmatch(f"{WORD}:{ID}:{WORD}", r.redact_key("bin:\\x00\\xff:raw", binary=True))


def test_patterns_are_redacted_like_their_keys(tmp_path: Path) -> None:
    keys = [f"tenant:4242:user:{i}" for i in range(1, 31)]
    batch = (
        key_batch(0, 30)
        .set_column(1, "key", pa.array(keys))
        .append_column("pattern", pa.array(["tenant:4242:user:*"] * 30))
    )
    redactor = Redactor("s")
    path = write_rsnap(tmp_path / "p.parquet", batch, {"method": "file"}, redactor=redactor)
    pattern = redactor.redact_pattern("tenant:4242:user:*")
    assert re.fullmatch(f"tenant:{NUM}:user:\\*", pattern)  # a table written whole fits the redactor
    table, _ = read_rsnap(path)
    assert table.column("pattern").to_pylist() == [pattern] * 30
    assert all(k.startswith(pattern[:-1]) for k in table.column("key").to_pylist())
    assert "4242" not in "".join(table.column("key").to_pylist())


def test_unfitted_redactor_keeps_no_word() -> None:
    assert re.fullmatch(f"{WORD}:{NUM}:{WORD}", Redactor("s").redact_key("user:1:session"))


def test_redact_option_values() -> None:
    assert make_redactor(None) is None and make_redactor(False) is None
    assert make_redactor(True).key_supplied is False  # type: ignore[union-attr]
    assert make_redactor("k").key_supplied is True  # type: ignore[union-attr]
    with pytest.raises(ConfigurationError):
        make_redactor("")
    with pytest.raises(ConfigurationError):
        make_redactor(3.5)
    with pytest.raises(ConfigurationError):
        Redactor("k", min_family_keys=0)
    with pytest.raises(ConfigurationError):
        Redactor("k").fit(["a:1", "a:2"], ["a:*"])


def _analysis(keys: list[str]) -> Analysis:
    batch = key_batch(0, len(keys))
    batch = batch.set_column(1, "key", pa.array(keys, pa.string()))
    frame = pa.Table.from_batches([batch]).to_pandas(types_mapper=pd.ArrowDtype)
    return Analysis(frame, {"method": "file", "source": "x.rdb", "snapshot_time_ms": 0})


def test_redacted_rsnap_changes_nothing_but_names(tmp_path: Path) -> None:
    ids = [f"{7_000_000 + i}" for i in range(300)]
    emails = [f"person{i}@example.org" for i in range(300)]
    keys = [f"user:{u}:session" for u in ids] + [f"mail:{e}:inbox" for e in emails]
    analysis = _analysis(keys)
    path = analysis.to_rsnap(tmp_path / "r.rsnap.parquet", redact="team-secret")
    table, metadata = read_rsnap(path)
    redacted = table.column("key").to_pylist()
    assert sum(bool(re.fullmatch(f"user:{NUM}:session", k)) for k in redacted) == 300
    assert sum(bool(re.fullmatch(f"mail:{ID}@{ID}.{ID}:inbox", k)) for k in redacted) == 300
    assert len(set(redacted)) == len(keys)  # distinct keys stay distinct
    assert metadata["redaction"] == {
        "method": "hmac-sha256",
        "parts": "all but the skeleton",
        "min_family_keys": 10,
        "min_family_values": 10,
        "key_supplied": True,
    }
    names = ["key", "pattern"]
    assert table.drop_columns(names).equals(
        pa.Table.from_pandas(analysis.keys, preserve_index=False)
        .drop_columns(names)
        .cast(table.drop_columns(names).schema)
    )
    assert load(path).metadata["redaction"]["key_supplied"] is True


def test_streaming_writer_hashes_every_part(tmp_path: Path) -> None:
    originals = [f"user:{9_100_000 + i}:cart" for i in range(100)]
    batch = key_batch(0, 100).set_column(1, "key", pa.array(originals, pa.string()))
    path = write_rsnap(tmp_path / "s.parquet", iter([batch]), {"method": "file"}, redactor=Redactor("k"))
    table, _ = read_rsnap(path)
    redacted = table.column("key").to_pylist()
    assert all(re.fullmatch(f"{WORD}:{NUM}:{WORD}", k) for k in redacted)
    assert not {"user", "cart"} & {part for k in redacted for part in k.split(":")}


# --- shapes: what discovery reads off a redacted key is what it read off the original ----------------

_WORDS = st.text(alphabet="abcdefxyzé", min_size=1, max_size=6)
_DIGITS = st.integers(0, 10**9).map(str)
_HEX = st.text(alphabet="0123456789abcdef", min_size=4, max_size=12)
_GLUED = st.tuples(st.text(alphabet="abcxyz", min_size=1, max_size=4), _DIGITS).map("".join)
_CASES = st.text(alphabet="aBcDeFgHiJkL", min_size=8, max_size=14)  # random-looking case, sometimes
_PART = st.one_of(_WORDS, _DIGITS, _HEX, _GLUED, _CASES)
# Not ``=`` nor ``@``: hashed words are 12 letters, so ``a/b=`` may turn into base64 and ``a@b.c`` into an
# e-mail (16+ characters before ``=``, a top-level domain of two letters or more), as the module says.
_SEP = st.sampled_from([":", "/", "|", ".", "-", "_", "#", "::", ",", " "])


def _shape(template: str) -> tuple[list[str], list[int]]:
    """A template with its words numbered in order of appearance: equal for a renamed template."""
    tokens = re.split(f"({SEP_CLASS})", template)
    first: dict[str, int] = {}
    out = []
    for i, token in enumerate(tokens):
        if i % 2 or token == "*" or not token:
            out.append(token)
        else:
            out.append(f"<{first.setdefault(token, len(first))}>")
    return out, [len(t) for t in tokens if t in PATTERN_SEPARATORS]


@given(parts=st.lists(_PART, min_size=1, max_size=6), seps=st.lists(_SEP, min_size=5, max_size=5))
@settings(max_examples=300, deadline=None)
def test_redaction_keeps_separators_and_template(parts: list[str], seps: list[str]) -> None:
    key = parts[0] + "".join(sep + part for sep, part in zip(seps, parts[1:], strict=False))
    redactor = Redactor("prop")
    redactor.skeleton = frozenset({"abc", "x", "é"})  # survivors must not change the template either
    redacted = redactor.redact_key(key)
    before, after = tokenize(key), tokenize(redacted)
    assert before[1::2] == after[1::2]  # separators, in order
    assert _shape(template_of(redacted)) == _shape(template_of(key))
    for original in before[::2]:
        if any(ch.isdigit() for ch in original):
            assert original not in after[::2]
    assert redactor.redact_key(key) == redacted


def _same_grouping(before: pd.Series, after: pd.Series) -> bool:
    """Both pattern columns cut the keys into the same families (whatever their names)."""
    pairs = pd.DataFrame({"before": before.astype(str).to_numpy(), "after": after.astype(str).to_numpy()})
    return bool(
        (pairs.groupby("before")["after"].nunique() == 1).all()
        and (pairs.groupby("after")["before"].nunique() == 1).all()
    )


@pytest.mark.parametrize("name", sorted(KEYSPACES))
def test_every_labeled_keyspace_keeps_its_families(name: str) -> None:
    keys = keyspace(name)[["key", "key_binary"]]
    patterns, owned = assign_owned(keys, progress=False)
    redactor = Redactor("k").fit(keys["key"], patterns.astype(str), owned)
    redacted = redactor.redact_array(
        pa.array(keys["key"].astype(str)), pa.array(patterns.astype(str)), pa.array(keys["key_binary"])
    )
    # the vectorised pass (RE2) and the per-key one (Python re) cut values alike
    sample = list(zip(keys["key"].astype(str), patterns.astype(str), keys["key_binary"], strict=True))[::7]
    assert redacted.to_pylist()[::7] == [redactor.redact_key(k, p, b) for k, p, b in sample]
    again, owned_again = assign_owned(
        pd.DataFrame({"key": redacted.to_pylist(), "key_binary": keys["key_binary"].to_numpy()}),
        progress=False,
    )
    assert _same_grouping(patterns, again)
    assert set(owned_again) == {redactor.redact_pattern(p) for p in owned}


# --- a real snapshot: leaks, rediscovery, stability, the CLI ------------------------------------------

TENANTS = ["tenant:acme:cfg", "tenant:acme:billing", "tenant:globex:cfg"]
LONE = ["secretproject-falcon", "quarterly-hamburg-offsite"]
NAMES = ["alice", "bobby", "carol", "daniel", "erin", "franklin", "grace", "heidi", "ivan", "judith"]


def _keyspace() -> dict[str, str]:
    """key → type: families of many keys beside rare names, hex digests of a–f only, mixed tokens."""
    rng = np.random.default_rng(7)
    keys: dict[str, str] = {}
    for uid in rng.choice(9_000_000, 500, replace=False) + 1_000_000:
        keys[f"user:{uid}:session"] = "string"
    for i in range(300):  # a third of the digests hold no digit at all
        alphabet = list("abcdef") if i % 3 == 0 else list("0123456789abcdef")
        keys["session:" + "".join(rng.choice(alphabet, 32))] = "hash"
    for i in range(60):  # mixed tokens
        keys[f"cart:c{i}x{rng.integers(10**6)}"] = "hash"
    for i in range(20):  # ids glued to a word
        keys[f"shard{i}:counter"] = "string"
    for name in NAMES:  # names are values by cardinality
        keys[f"profile:{name}"] = "hash"
    for uuid in (f"{rng.integers(16**8):08x}-4b1e-4c3e-9a59-{rng.integers(16**12):012x}" for _ in range(25)):
        keys[f"rq:job:{uuid}"] = "hash"
        keys[f"celery-task-meta-{uuid}"] = "string"
    keys["rq:queue:payroll"] = "list"  # a queue name of its own: a value
    for key in TENANTS + LONE:
        keys[key] = "string"
    return keys


def _raw_tokens(keys: list[str]) -> set[str]:
    """Every part of the names that must not survive: all but the skeleton words and library words."""
    public = {"user", "session", "cart", "shard", "counter", "profile", "rq", "job", "queue", "celery"}
    public |= {"task", "meta"}
    return {p for k in keys for p in tokenize(k)[::2] if p} - public


def _write(server: Server, keyspace: dict[str, str]) -> Path:
    client = server.client()
    pipe = client.pipeline(transaction=False)
    for i, (key, kind) in enumerate(keyspace.items()):
        if kind == "string":
            pipe.set(key, "v" * (i % 50 + 1))
        elif kind == "hash":
            pipe.hset(key, mapping={"a": str(i), "b": "x" * (i % 30)})
        else:
            pipe.rpush(key, "a", "b")
    pipe.execute()
    return server.save()


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    keyspace = _keyspace()
    directory = tmp_path_factory.mktemp("redact")
    with running_server("redis70") as server:
        rdb = _write(server, keyspace)
        copy = directory / "dump.rdb"
        copy.write_bytes(rdb.read_bytes())
    yield copy, keyspace


def _everything_written(path: Path, *, raw_bytes: bool = True) -> str:
    """All text an RSNAP file holds: string columns, statistics, footer metadata, raw bytes."""
    pieces = []
    parquet = pq.ParquetFile(path)
    table = parquet.read()
    for name in table.column_names:
        if pa.types.is_string(table.schema.field(name).type):
            pieces.extend(str(v) for v in table.column(name).to_pylist())
    meta = parquet.metadata
    for key, value in (meta.metadata or {}).items():
        pieces.append(key.decode("utf-8", "replace") + "=" + value.decode("utf-8", "replace"))
    for g in range(meta.num_row_groups):
        for c in range(meta.num_columns):
            stats = meta.row_group(g).column(c).statistics
            if stats is not None and stats.has_min_max:
                pieces.append(f"{stats.min!r} {stats.max!r}")
    if raw_bytes:
        pieces.append(path.read_bytes().decode("latin-1"))
    return "\n".join(pieces)


def _families(analysis: Analysis) -> list[tuple[int, int]]:
    patterns = analysis.patterns
    return sorted(zip(patterns["keys"].astype(int), patterns["memory_bytes"].astype(int), strict=True))


def test_a_redacted_snapshot_leaks_no_name_and_keeps_its_families(
    snapshot: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    rdb, keyspace = snapshot
    original = analyze(rdb, progress=False)
    assert set(original.keys["key"].astype(str)) == set(keyspace)
    path = original.to_rsnap(tmp_path / "r.rsnap.parquet", redact="team-key")
    written = _everything_written(path)
    for token in ["acme", "globex", "secretproject", "falcon", "hamburg", "billing", *NAMES]:
        assert token not in written, token
    raw = _raw_tokens(list(keyspace))
    table, metadata = read_rsnap(path)
    parts = {p for k in table.column("key").to_pylist() for p in tokenize(k)[::2]}
    parts |= {p for k in table.column("pattern").to_pylist() for p in tokenize(k.replace("*", ":"))[::2]}
    parts |= {p for k in metadata.get("library_patterns", {}) for p in tokenize(k.replace("*", ":"))[::2]}
    assert not parts & raw
    # (short or all-digit parts may occur inside a hash by chance: they are checked as parts above)
    leaked = [t for t in raw if len(t) >= 8 and not t.isdigit() and t in written]
    assert not leaked, leaked[:5]
    # nor as a whole word or number anywhere in the columns, their statistics and the footer
    decoded = set(re.findall(r"[A-Za-z0-9]+", _everything_written(path, raw_bytes=False)))
    common = decoded & {t for t in raw if t.isalnum()}
    assert not common, sorted(common)[:10]
    # the skeleton of many-key families and the libraries' own names survive
    patterns = set(table.column("pattern").to_pylist())
    assert {"user:*:session", "session:*", "cart:*", "shard*:counter", "profile:*"} <= patterns
    assert {"rq:job:*", "celery-task-meta-*"} <= set(metadata["library_patterns"])
    # discovery on the redacted snapshot finds the same families: same keys, same memory
    again = load(path, libraries=True)
    assert _families(again) == _families(original)
    assert _same_grouping(original.keys["pattern"], again.keys["pattern"])
    assert set(again.keys["pattern"].astype(str)) == patterns  # named as the redacted column names them
    assert set(again.metadata.get("library_patterns", {})) == set(metadata["library_patterns"])


def test_redaction_is_stable_per_key(snapshot: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    rdb, _ = snapshot
    runs = {}
    for name, secret in (("a", "k1"), ("b", "k1"), ("c", "k2")):
        path = analyze(rdb, progress=False).to_rsnap(tmp_path / f"{name}.parquet", redact=secret)
        table, _ = read_rsnap(path, columns=["key", "pattern"])
        runs[name] = table
    assert runs["a"].equals(runs["b"])
    a, c = runs["a"].column("key").to_pylist(), runs["c"].column("key").to_pylist()
    assert sum(x != y for x, y in zip(a, c, strict=True)) == len(a)  # every key has a hashed part
    assert not runs["a"].column("pattern").equals(runs["c"].column("pattern"))


def test_cli_redacts_a_real_rdb(snapshot: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    rdb, _ = snapshot
    out = tmp_path / "cli.rsnap.parquet"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "insightkit",
            "analyze",
            str(rdb),
            "-o",
            str(out),
            "--redact-key",
            "K",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rsnap"] == str(out)
    written = _everything_written(out)
    for token in ["acme", "globex", "secretproject", "falcon", *NAMES]:
        assert token not in written, token
    api = analyze(rdb, progress=False).to_rsnap(tmp_path / "api.rsnap.parquet", redact="K")
    assert pd.read_parquet(out)["key"].tolist() == pd.read_parquet(api)["key"].tolist()
    assert _families(load(out, libraries=True)) == _families(analyze(rdb, progress=False))


def test_library_versions_stay_so_stale_version_advice_survives_redaction(tmp_path: Path) -> None:
    """Django's cache VERSION is a setting in every key: hashed, two versions would be ordered at random
    and ``stale-cache-version`` would name the live one as stale about half the time."""
    from library_workloads import django_cache

    with running_server("redis70") as server:
        old = django_cache(server.url, VERSION=2)  # (2 and 10: hashed digits would order them either way)
        for i in range(60):
            old.set(f"product:{i}", {"id": i}, timeout=None)
        new = django_cache(server.url, VERSION=10, TIMEOUT=3600)
        for i in range(60):
            new.set(f"product:{i}", {"id": i})
        plain = analyze(server.url, method="dump", progress=False)
    found = plain.recommendations.set_index("rule")
    assert list(found.loc["stale-cache-version", "top_patterns"]) == [":2:*"]
    for secret in ("k1", "k2", "k3", "k4", "k5", "k6"):
        path = plain.to_rsnap(tmp_path / f"{secret}.rsnap.parquet", redact=secret)
        redacted = load(path)
        keys = set(redacted.keys["key"])
        assert len(keys) == 120 and all(re.fullmatch(rf":(2|10):{WORD}:{NUM}", k) for k in keys), keys
        assert set(redacted.metadata["library_patterns"]) == {":2:*", ":10:*"}
        advice = redacted.recommendations.set_index("rule")
        assert list(advice.loc["stale-cache-version", "top_patterns"]) == [":2:*"], secret
        assert "version=2)" in advice.loc["stale-cache-version", "fix"]
        assert "now reads VERSION 10" in advice.loc["stale-cache-version", "fix"]
        assert b"product" not in path.read_bytes()


def test_only_versions_that_are_settings_stay_verbatim() -> None:
    """A number in a key that merely sits where a library's version would (``:48213:cart``, a user id
    under Django's ``:{version}:*``) is data: hashed. A version stays only when its keys are many and
    the library has few versions."""
    ids = [f":{n}:cart" for n in (48213, 99120, 13377)]
    cache = [f":2:product:{i}" for i in range(20)] + [f":3:product:{i}" for i in range(20)]
    keys = pd.DataFrame({"key": ids + cache})
    patterns, owned = assign_owned(keys, progress=False)
    assert {":48213:*", ":2:*", ":3:*"} <= set(owned)  # all claimed by Django's catch-all family
    redactor = Redactor("k").fit(keys["key"], patterns, owned)
    redacted = [redactor.redact_key(k, p) for k, p in zip(keys["key"], patterns, strict=True)]
    for original, hidden in zip(ids, redacted[:3], strict=True):
        assert original.split(":")[1] not in hidden and re.fullmatch(rf":{NUM}:{WORD}", hidden)
    assert all(h.startswith(":2:") for h in redacted[3:23]) and all(
        h.startswith(":3:") for h in redacted[23:]
    )
    assert redactor.redact_pattern(":2:*") == ":2:*" and redactor.redact_pattern(":48213:*") != ":48213:*"
    # many versions, each with many keys: more versions than a setting has, so they are data
    many = pd.DataFrame({"key": [f":{v}:product:{i}" for v in range(100, 112) for i in range(12)]})
    patterns, owned = assign_owned(many, progress=False)
    redactor = Redactor("k").fit(many["key"], patterns, owned)
    assert not any(
        redactor.redact_key(k, p).startswith(f":{k.split(':')[1]}:")
        for k, p in zip(many["key"], patterns, strict=True)
    )


def test_very_long_key_names_redact_in_linear_time() -> None:
    """A part of a name longer than LONG_PART is one hashed value: Python's regex over a 600,000-character
    part took minutes (its time grows as the square of the length); now the whole RSNAP is written at
    once and the names keep their separators, with nothing of the original left."""
    import time

    from insightkit.rsnap.redact import LONG_PART

    names = ["page:" + "a" * 600_000, "blob:" + "q" * 100_000 + ":meta", "id:" + "7" * 300_000, "user:1:x"]
    started = time.monotonic()
    redactor = Redactor("k").fit(names)
    hidden = redactor.redact_array(pa.array(names)).to_pylist()
    hidden += [redactor.redact_key(name) for name in names]
    names = names * 2
    assert time.monotonic() - started < 10
    assert [h.count(":") for h in hidden] == [n.count(":") for n in names]
    assert all(len(h) < 100 for h in hidden) and not any("aaaa" in h or "7777" in h for h in hidden)
    assert len(names[0].split(":")[1]) > LONG_PART
