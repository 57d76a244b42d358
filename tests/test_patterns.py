"""Unit behaviour of insightkit.patterns: shapes, separators, cardinality, custom rules, aggregation."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from insightkit.errors import ConfigurationError
from insightkit.patterns import (
    CustomPatterns,
    aggregate_patterns,
    assign_patterns,
    glob_to_regex,
    keyspace_separators,
    pattern_arrow,
    pattern_hierarchy,
    template_of,
)
from insightkit.patterns import assign as assign_module
from insightkit.patterns.tokens import fold_variable_segments, split_levels


def frame(keys: list[str], **columns: object) -> pd.DataFrame:
    df = pd.DataFrame({"key": keys})
    for name, value in columns.items():
        df[name] = value
    return df


def patterns_of(keys: list[str], **options: object) -> dict[str, str]:
    series = assign_patterns(frame(keys), **options)  # type: ignore[arg-type]
    return dict(zip(keys, series.astype(str), strict=True))


TEMPLATE_CASES = [
    ("user:42:profile", "user:*:profile"),
    ("tenant42:users:7", "tenant*:users:*"),
    ("{user42}:feed", "{user*}:feed"),
    ("{acct:42}:cart", "{acct:*}:cart"),
    ("cart:550e8400-e29b-41d4-a716-446655440000", "cart:*"),
    ("celery-task-meta-550e8400-e29b-41d4-a716-446655440000", "celery-task-meta-*"),
    ("customer:alice.smith@example.com", "customer:*"),
    ("cache:https://example.com/a/b?c=1", "cache:*"),
    ("rl:10.0.0.1:1700000000", "rl:*:*"),
    ("stats:2024-01-05T10:00:00Z:orders", "stats:*:orders"),
    ("events.2024-01-05.clicks", "events.*.clicks"),
    ("fragment:d41d8cd98f00b204e9800998ecf8427e", "fragment:*"),
    ("sess:kJ8sdf7Gh2xQ0pLmN4", "sess:*"),
    ("sess:xyqEHisSgsvVEQXNlaGYiMPLBZRntKT", "sess:*"),  # base62 that happens to hold no digit
    ("sess:dGhpcyBpcyBhIHRlc3Q=", "sess:*"),
    ("order:ORD-2024-000123", "order:*"),
    ("inventory:warehouse3:SKU-48213-BL", "inventory:warehouse*:*"),
    ("session_ab12cd34", "session_*"),
    ("img-thumb-42-200x300", "img-thumb-*"),
    ("metrics.cpu.host12", "metrics.cpu.host*"),
    ("user_42_profile", "user_*_profile"),
    ("recentlyViewedProducts", "recentlyViewedProducts"),  # camelCase stays a word
    ("page:blue-running-shoes", "page:blue-running-shoes"),  # words: decided by cardinality, not shape
]


@pytest.mark.parametrize(("key", "template"), TEMPLATE_CASES)
def test_template_shapes(key: str, template: str) -> None:
    assert template_of(key) == template


def test_digit_shapes_give_every_key_its_own_template(monkeypatch: pytest.MonkeyPatch) -> None:
    """Templating once per digit shape (``user:000:cart``) gives each key exactly the template RE2
    gives it alone: every key of the shape-test table, the bundled sample's keys, and random mixtures of
    digits, hex, dates, addresses, UTF-8 and separators — sliced so the array has an offset."""
    from insightkit.patterns.shapes import templates_of

    rng = np.random.default_rng(7)
    parts = ["user", "42", "0x1f", "ab12", "2024-01-05", "10.0.0.1", "é9", "日本3", "x@y.io", "a-b", "7e3"]
    parts += ["550e8400-e29b-41d4-a716-446655440000", "dGhpcyBpcyBhIHRlc3Q=", "{u1}", "ORD-2024-000123"]
    seps = [":", ".", "_", "-", "/", "|", "#", ""]
    mixed = [
        "".join(str(rng.choice(parts)) + str(rng.choice(seps)) for _ in range(int(rng.integers(1, 5))))
        for _ in range(6000)
    ]
    ids = [f"user:{int(i)}:cart" for i in rng.integers(0, 10**7, 20_000)]  # folds well: the shape path
    table_keys = [case[0] for case in TEMPLATE_CASES]
    sample = [k for k in read_rdb_keys() if "\\" not in k]  # escaped binary keys take the other pass
    keys = pa.array(["pad"] * 3 + ids + mixed + table_keys * 50 + sample, pa.string()).slice(3)
    expected = templates_of(keys).to_pylist()
    monkeypatch.setattr(assign_module, "SHAPE_MAX_DISTINCT", 1.0)  # shapes for every batch
    assert assign_module._digit_shapes(keys, None) is not None
    indices, dictionary = assign_module.raw_templates(keys)
    assert [dictionary[i] for i in indices] == expected
    monkeypatch.setattr(assign_module, "SHAPE_MAX_DISTINCT", 0.0)  # never: key by key
    assert assign_module._digit_shapes(keys, None) is None
    indices, dictionary = assign_module.raw_templates(keys)
    assert [dictionary[i] for i in indices] == expected


def read_rdb_keys() -> list[str]:
    from pathlib import Path

    from insightkit.rdb import read_rdb

    sample = Path(__file__).resolve().parent.parent / "data" / "samples" / "sample.rdb"
    return [k for batch in read_rdb(str(sample)) for k in batch.column("key").to_pylist()]


def test_binary_keys_are_one_value_whatever_their_bytes() -> None:
    assert template_of(r"idx::\xa3#5\x01ab", binary=True) == "idx:*"
    assert template_of(r"blob:\xa3:5#\x01\\xy:meta", binary=True) == "blob:*:meta"
    keys = [r"idx:\xa3\x01", r"idx:#\xfe5:a\x02", r"idx:\xff}", "idx:12"]
    df = frame(keys, key_binary=[True, True, True, False])
    assert set(assign_patterns(df).astype(str)) == {"idx:*"}


def test_fold_variable_segments() -> None:
    assert fold_variable_segments("a:*-*-*:b") == "a:*:b"
    assert fold_variable_segments("a:*.png") == "a:*"
    assert fold_variable_segments("user_*_profile") == "user_*_profile"
    assert fold_variable_segments("x-*-*") == "x-*"
    assert fold_variable_segments("a:**") == "a:*"


def test_sub_keys_stay_apart_ids_merge() -> None:
    keys = [f"user:{i}:{part}" for i in range(300) for part in ("profile", "settings")]
    assert set(patterns_of(keys).values()) == {"user:*:profile", "user:*:settings"}


def test_free_text_values_by_cardinality() -> None:
    names = [f"{a}{b}" for a in "abcdefghij" for b in ["smith", "jones", "brown", "lee", "kim"]]
    keys = [f"user:{n}:{part}" for n in names for part in ("profile", "settings", "cart")]
    assert set(patterns_of(keys).values()) == {"user:*:profile", "user:*:settings", "user:*:cart"}


def test_low_cardinality_literals_kept() -> None:
    events = ["click", "view", "purchase", "signup"]
    keys = [f"events:{e}:{i}" for e in events for i in range(500)]
    assert set(patterns_of(keys).values()) == {f"events:{e}:*" for e in events}


def test_slugs_fold_into_one_value() -> None:
    rng = np.random.default_rng(3)
    adjectives = ["red", "blue", "green", "tiny", "big", "old", "new", "soft", "hard", "dark"]
    nouns = ["shoe", "lamp", "desk", "mug", "sofa", "tent", "bag", "hat"]
    slugs = {
        "-".join(rng.choice(adjectives, int(rng.integers(1, 3)))) + "-" + str(rng.choice(nouns))
        for _ in range(400)
    }
    keys = [f"category:{s}:products" for s in slugs]
    assert set(patterns_of(keys).values()) == {"category:*:products"}


def test_named_singletons_are_a_family_but_queue_metadata_is_not() -> None:
    config = [f"config:{n}" for n in ("shipping_rates", "tax_table", "feature_flags", "currencies")]
    meta = [f"bull:email:{m}" for m in ("wait", "active", "completed", "failed", "delayed", "id")]
    jobs = [f"bull:email:{i}" for i in range(1000)]
    got = patterns_of(config + meta + jobs)
    assert {got[k] for k in config} == {"config:*"}
    assert {got[k] for k in meta} == set(meta)
    assert {got[k] for k in jobs} == {"bull:email:*"}


def test_root_namespaces_without_separator_stay_literal() -> None:
    keys = ["counter", "last_run", "schema_version"] + [f"user:{i}" for i in range(100)]
    got = patterns_of(keys)
    assert got["counter"] == "counter" and got["last_run"] == "last_run"
    assert got["user:5"] == "user:*"


def test_series_aligned_with_index_and_categorical() -> None:
    df = frame(["b:1", "a:2", "b:3"])
    df.index = pd.Index([10, 5, 7])
    series = assign_patterns(df)
    assert series.name == "pattern"
    assert list(series.index) == [10, 5, 7]
    assert isinstance(series.dtype, pd.CategoricalDtype)
    assert list(series.astype(str)) == ["b:*", "a:*", "b:*"]


def test_arrow_backed_and_empty_input() -> None:
    arrow = pd.DataFrame({"key": pd.array(["x:1", "x:2"], dtype=pd.ArrowDtype(pa.string()))})
    assert list(assign_patterns(arrow).astype(str)) == ["x:*", "x:*"]
    empty = assign_patterns(pd.DataFrame({"key": pd.Series([], dtype=object)}))
    assert len(empty) == 0


def test_chunks_agree_with_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = [f"user:{i}:{p}" for i in range(2000) for p in ("a", "b")] + [f"s:{i:x}q" for i in range(3000)]
    whole = assign_patterns(frame(keys)).astype(str).tolist()
    monkeypatch.setattr(assign_module, "CHUNK_KEYS", 777)
    assert assign_patterns(frame(keys)).astype(str).tolist() == whole


def test_custom_globs_and_regexes_take_precedence() -> None:
    keys = (
        [f"user:{i}:profile" for i in range(50)] + [f"user:{i}:settings" for i in range(50)] + ["legacy_x1"]
    )
    got = patterns_of(keys, custom=["user:*:prof*", ("re:^legacy_", "legacy")])
    assert got["user:3:profile"] == "user:*:prof*"
    assert got["user:3:settings"] == "user:*:settings"
    assert got["legacy_x1"] == "legacy"
    named = patterns_of(keys, custom={re.compile(r"^user:\d+:"): "users"})
    assert set(named.values()) == {"users", "legacy_x*"}


def test_first_matching_rule_wins_and_renames_merge() -> None:
    keys = ["a:1", "a:2", "b:1"]
    got = patterns_of(keys, custom=["a:1", "a:*"])
    assert got == {"a:1": "a:1", "a:2": "a:*", "b:1": "b:*"}
    merged = patterns_of(keys, renames={"a:*": "letters", "b:*": "letters"})
    assert set(merged.values()) == {"letters"}
    spec = CustomPatterns(renames={"b:*": "bees"})
    assert patterns_of(keys, custom=spec)["b:1"] == "bees"


def test_bad_custom_pattern_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="not a valid regex"):
        assign_patterns(frame(["a"]), custom="re:([unclosed")
    with pytest.raises(ConfigurationError):
        assign_patterns(frame(["a"]), custom=[42])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("glob", "yes", "no"),
    [
        ("user:*", ["user:", "user:1:2"], ["users:1"]),
        ("h?llo", ["hello", "hallo"], ["hllo", "heello"]),
        ("h[ae]llo", ["hello", "hallo"], ["hillo"]),
        ("h[^e]llo", ["hallo"], ["hello"]),
        (r"a\*b", ["a*b"], ["axb"]),
        ("x.y", ["x.y"], ["xzy"]),
    ],
)
def test_glob_semantics(glob: str, yes: list[str], no: list[str]) -> None:
    rx = re.compile(glob_to_regex(glob))
    assert all(rx.search(k) for k in yes)
    assert not any(rx.search(k) for k in no)


def test_split_levels() -> None:
    assert split_levels("user:*:profile") == ["user", "user:*", "user:*:profile"]
    assert split_levels("{acct:*}:cart") == ["{acct:*}", "{acct:*}:cart"]
    assert split_levels("session_*") == ["session", "session_*"]
    assert split_levels("plain") == ["plain"]


def keys_table() -> pd.DataFrame:
    now = 1_700_000_000_000
    return pd.DataFrame(
        {
            "key": ["u:1", "u:2", "u:3", "s:1", "s:2"],
            "pattern": ["u:*", "u:*", "u:*", "s:*", "s:*"],
            "type": ["hash", "hash", "string", "string", "string"],
            "encoding": ["listpack", "hashtable", "embstr", "raw", "raw"],
            "memory_bytes": [100, 300, 200, 50, 50],
            "expires_at": pd.array(
                [None, now + 1_800_000, now - 5, now + 40 * 86_400_000, None], dtype="Int64"
            ),
        }
    )


def test_aggregate_patterns_figures() -> None:
    agg = aggregate_patterns(keys_table(), now_ms=1_700_000_000_000, examples=2).set_index("pattern")
    assert list(agg.index) == ["u:*", "s:*"]  # by memory
    u, s = agg.loc["u:*"], agg.loc["s:*"]
    assert (u["keys"], u["memory_bytes"], u["max_memory_bytes"]) == (3, 600, 300)
    assert u["share"] == pytest.approx(600 / 700)
    assert u["mean_memory_bytes"] == pytest.approx(200)
    assert u["type"] == "hash" and u["types"] == "hash 67%, string 33%"
    assert "hashtable 33%" in u["encodings"]
    assert (u["keys_without_ttl"], u["ttl_under_1h"], u["ttl_expired"]) == (1, 1, 1)
    assert u["ttl_min_s"] == pytest.approx(-0.005)
    assert u["ttl_max_s"] == pytest.approx(1800)
    assert (s["keys_without_ttl"], s["ttl_over_30d"]) == (1, 1)
    assert u["examples"][0] == "u:2" and len(u["examples"]) == 2  # the largest key first
    assert agg["keys"].sum() == 5


def test_aggregate_after_assign_and_hierarchy() -> None:
    keys = [f"user:{i}:{p}" for i in range(100) for p in ("profile", "settings")] + [
        f"sess:{i}" for i in range(50)
    ]
    df = frame(keys, memory_bytes=np.arange(len(keys)) + 1)
    df["pattern"] = assign_patterns(df)
    agg = aggregate_patterns(df)
    assert agg["memory_bytes"].sum() == df["memory_bytes"].sum()
    tree = pattern_hierarchy(agg).set_index("node")
    assert tree.loc["user", "memory_bytes"] == df.loc[df.key.str.startswith("user:"), "memory_bytes"].sum()
    assert tree.loc["user:*", "parent"] == "user"
    assert tree.loc["user:*:profile", "label"] == ":profile" and bool(
        tree.loc["user:*:profile", "is_pattern"]
    )
    assert not bool(tree.loc["user:*", "is_pattern"])
    assert tree.loc["user", "patterns"] == 2
    top = tree[tree["depth"] == 1]
    assert top["memory_bytes"].sum() == df["memory_bytes"].sum()
    for node, row in tree[tree["parent"] != ""].iterrows():
        assert row["memory_bytes"] <= tree.loc[row["parent"], "memory_bytes"], node


def test_aggregate_requires_columns() -> None:
    with pytest.raises(ConfigurationError, match="pattern"):
        aggregate_patterns(pd.DataFrame({"key": ["a"], "memory_bytes": [1]}))
    empty = aggregate_patterns(pd.DataFrame({"key": [], "memory_bytes": [], "pattern": []}))
    assert len(empty) == 0 and "share" in empty.columns


def test_values_carrying_many_keys_each_are_recognised_by_shared_continuations() -> None:
    names = [
        f"{a}{sep}{b}"
        for a in ("ann", "bo", "cy", "di", "ed")
        for b in ("lee", "kim", "ito", "roe", "poe")
        for sep in ("", ".")
    ]
    keys = [f"user:{n}:posts:{i}" for n in names for i in range(100)] + [f"user:{n}:followers" for n in names]
    assert set(patterns_of(keys).values()) == {"user:*:posts:*", "user:*:followers"}
    # Few names with distinct continuations stay names.
    ns = [f"cache:{kind}:{i}" for kind in ("users", "pages", "carts") for i in range(100)]
    assert set(patterns_of(ns).values()) == {"cache:users:*", "cache:pages:*", "cache:carts:*"}


def test_keyspace_separators_found_from_patterns() -> None:
    keys = (
        [f"user:{i}:profile" for i in range(60)]
        + [f"metrics.cpu.host{i}" for i in range(30)]
        + [f"session_{i:x}ab" for i in range(10)]
        + [f"cart:550e8400-e29b-41d4-a716-4466554400{i:02d}" for i in range(20)]
    )
    df = frame(keys, memory_bytes=1)
    df["pattern"] = assign_patterns(df)
    seps = keyspace_separators(aggregate_patterns(df)).set_index("separator")
    assert seps.loc[":", "keys"] == 80 and seps.loc[":", "strength"] == "strong"
    assert seps.loc[".", "keys"] == 30 and seps.loc["_", "keys"] == 10
    assert "-" not in seps.index  # the UUID's dashes are inside a value


def test_pattern_arrow_matches_the_series() -> None:
    series = assign_patterns(frame(["a:1", "b:2", "a:3"]))
    arrow = pattern_arrow(series)
    assert arrow.type == pa.string() and arrow.to_pylist() == ["a:*", "b:*", "a:*"]


def test_unusual_keys() -> None:
    keys = ["", ":::", "用户:42:资料", "用户:43:资料", None, "a" * 5000 + ":1"]
    got = assign_patterns(pd.DataFrame({"key": keys})).astype(str).tolist()
    assert got[0] == "" and got[1] == ":::"
    assert got[2] == got[3] == "用户:*:资料"
    assert got[4] == ""  # a missing key (never produced by the decoder) gets the empty pattern
    assert got[5] == "a" * 5000 + ":*"


def test_compiled_regex_flags_are_kept() -> None:
    got = patterns_of(["USER:1", "user:2", "x:3"], custom=[(re.compile("^user:", re.IGNORECASE), "users")])
    assert got == {"USER:1": "users", "user:2": "users", "x:3": "x:*"}
