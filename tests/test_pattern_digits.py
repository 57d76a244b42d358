"""Digit shapes (insightkit.patterns.digits): rules and templates run once per shape give every key
exactly what they give it run key by key — including rules that tell digits apart, which must not."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from insightkit.patterns import assign as assign_module
from insightkit.patterns.assign import assign_owned
from insightkit.patterns.custom import Shapes, first_match, library_rules, match_named, parse_custom
from insightkit.patterns.digits import digit_blind, zero_digits
from insightkit.patterns.libraries import CATALOGUE


def test_zero_digits_writes_every_ascii_digit_as_zero_and_nothing_else() -> None:
    rng = np.random.default_rng(3)
    alphabet = [chr(i) for i in range(1, 128)] + ["é", "日", "٣", "\U0001f600", "\u0660", "¹"]
    keys = ["".join(rng.choice(alphabet, int(rng.integers(0, 40)))) for _ in range(5000)]
    keys += ["", "0123456789", "/:9@", "9" * 17]
    arr = pa.array(["pad", "12", *keys], pa.string()).slice(2)  # an offset into the buffers
    zeroed = zero_digits(arr)
    assert zeroed is not None
    zeroed.validate(full=True)
    assert zeroed.to_pylist() == [re.sub("[0-9]", "0", k) for k in keys]
    large = zero_digits(pa.array(keys, pa.large_string()))
    assert large is not None and large.to_pylist() == [re.sub("[0-9]", "0", k) for k in keys]
    empty = pa.array([], pa.string())
    chunked = pa.chunked_array(
        [empty, arr.slice(0, 7), arr.slice(7, 0), arr.slice(7, 3000), empty, arr.slice(3007)]
    )
    joined = zero_digits(chunked)  # one array, the chunks' bytes copied straight into it
    assert joined is not None
    joined.validate(full=True)
    assert joined.to_pylist() == [re.sub("[0-9]", "0", k) for k in keys]


BLINDNESS = [
    (r"(?s)^user:.*$", True),
    (r"^(?P<prefix>[^:]*):(?P<version>[0-9]+):x", True),  # all ten digits
    (r"^session:[A-Za-z0-9_-]{43}$", True),  # a count is not a digit
    (r"\d+\w*\b\W\D[^0-9]", True),
    (r"[+-9]", True),  # a range over all ten
    (r"\pN+", True),  # RE2 only, and names no digit
    (r"[[:digit:]]", True),
    (r"^cache:obj:1", False),
    (r"[0-4]", False),
    (r"[^0-8]", False),
    (r"\x35", False),
    (r"\065", False),
    (r"(\d)\1", False),
    (r"(?P<d>\d)-(?P=d)", False),  # a backreference without a digit in its text
    (r"a{,3}", False),  # RE2 reads "{,3}" as text
    (r"a{3", False),  # text, not a count
    (r"\p{N}7", False),
]


@pytest.mark.parametrize(("regex", "blind"), BLINDNESS)
def test_digit_blind(regex: str, blind: bool) -> None:
    assert digit_blind(regex) is blind


def test_every_catalogue_family_runs_on_shapes() -> None:
    """Not a rule of the catalogue, but its speed: a family that named a digit would run key by key."""
    assert [r.name for r in library_rules() if not digit_blind(r.regex)] == []


def _shapes(keys: pa.Array) -> Shapes:
    zeroed = zero_digits(keys)
    assert zeroed is not None
    encoded = zeroed.dictionary_encode()
    return encoded.dictionary, encoded.indices.to_numpy(zero_copy_only=False)


def _library_keys() -> list[str]:
    keys = [k for library in CATALOGUE for family in library.families for k in family.matches + family.misses]
    # the same keys with other digits: version 1 and 2 of a Django cache must keep their own names
    return keys + [re.sub("[0-9]", lambda m: str((int(m.group()) + 3) % 10), k) for k in keys]


CUSTOM = [
    "cache:obj:1*",  # names a digit: cache:obj:123 is taken, its shape cache:obj:000 is not
    ("re:^(?P<d>\\d)-(?P=d)$", "twins"),  # 1-1 but not 1-2 (Python's re: RE2 has no backreferences)
    ("re:^rate:\\d+\\.", "rates"),
    "*:[0-4]",
    ("re:(?i)^SESSION:[0-9a-f]{16}$", "sessions"),
    ("re:a{,3}", "literal"),
]
ODD_KEYS = ["cache:obj:123", "cache:obj:923", "1-1", "1-2", "7-7", "rate:10.0.0.1:5", "x:3", "x:7"]
ODD_KEYS += ["session:0123456789abcdef", "a{,3}", "a{,7}", "", "ユーザー:42", "user:٣:x"]


@pytest.mark.parametrize("custom", [None, CUSTOM], ids=["libraries", "custom-and-libraries"])
def test_rules_on_shapes_are_the_rules_on_keys(custom: object) -> None:
    keys = _library_keys() + ODD_KEYS * 3
    arr = pa.array(["pad", *keys], pa.string()).slice(1)
    rules = parse_custom(custom).all_rules  # type: ignore[arg-type]
    expected = match_named(arr, rules)
    got = match_named(arr, rules, _shapes(arr))
    assert got.codes.tolist() == expected.codes.tolist()
    assert got.names == expected.names
    assert got.rules == expected.rules
    assert got.links == expected.links
    if custom is not None:
        named = {k: expected.names[c] for k, c in zip(keys, expected.codes, strict=True) if c >= 0}
        assert named["cache:obj:123"] == "cache:obj:1*" and named.get("cache:obj:923") != "cache:obj:1*"
        assert named["1-1"] == "twins" and named.get("1-2") != "twins"
        assert named["a{,3}"] == "literal"
    assert any(":2:" in name for name in expected.names)  # names come from the keys, not their shapes


def test_first_match_with_missing_keys() -> None:
    arr = pa.array(["user:1", None, "", "user:22"], pa.string())
    rules = parse_custom(["user:*", ("re:^$", "empty"), ("re:^user:2", "two")], libraries=False).all_rules
    expected = first_match(arr, rules)
    filled = pa.array(["user:1", "", "", "user:22"], pa.string())
    assert first_match(arr, rules, _shapes(filled)).tolist() == expected.tolist() == [0, -1, 1, 0]


def test_assign_on_shapes_is_assign_key_by_key(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    parts = [
        "user",
        "42",
        "0x1f",
        "ab12",
        "2024-01-05",
        "10.0.0.1",
        "é9",
        "日本3",
        "x@y.io",
        "a-b",
        "1",
        "12",
    ]
    seps = [":", ".", "_", "-", "/", "|", "#", ""]
    mixed = [
        "".join(str(rng.choice(parts)) + str(rng.choice(seps)) for _ in range(int(rng.integers(1, 5))))
        for _ in range(3000)
    ]
    keys = (_library_keys() + ODD_KEYS) * 20 + mixed
    keys += [f"user:{i}:profile" for i in range(3000)] + [f"cache:obj:{i}" for i in range(2000)]
    arr = pa.array(keys, pa.string())
    chunked = pa.chunked_array([arr.slice(i, 1000) for i in range(0, len(keys), 1000)])  # as decoded
    df = pd.DataFrame({"key": pd.arrays.ArrowExtensionArray(chunked)})
    results = []
    for share in (1.0, 0.0):  # shapes for every batch; never
        monkeypatch.setattr(assign_module, "SHAPE_MAX_DISTINCT", share)
        results.append([assign_owned(df, custom) for custom in (None, CUSTOM)])
    for (shaped, shaped_owned), (by_key, by_key_owned) in zip(*results, strict=True):
        pd.testing.assert_series_equal(shaped, by_key)
        assert shaped_owned == by_key_owned
