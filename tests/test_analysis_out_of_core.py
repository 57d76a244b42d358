"""analyze(..., out_of_core=True): the same answers as the in-memory Analysis, without holding the keys.

Both paths run on the bundled sample (written by a real Redis 7.0) and on an RDB written by a live
server the test starts; every table the facade offers is compared.
"""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insightkit.analysis import Analysis, analyze, load
from insightkit.errors import ConfigurationError, RdbError
from insightkit.rsnap import read_rsnap

SAMPLE_RDB = Path(__file__).resolve().parent.parent / "data" / "samples" / "sample.rdb"
FINDING_COLUMNS = ["rule", "estimated_savings_bytes", "offending_keys", "offending_patterns", "top_patterns"]


@pytest.fixture(scope="module", params=["sample", "live"])
def rdb(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if request.param == "sample":
        return SAMPLE_RDB
    from present_data import make_rdb

    return make_rdb(tmp_path_factory.mktemp("ooc") / "live.rdb")


@pytest.fixture(scope="module")
def both(rdb: Path) -> tuple[Analysis, Analysis]:
    in_memory = analyze(rdb, progress=False)
    out_of_core = analyze(rdb, progress=False, out_of_core=True)
    yield in_memory, out_of_core
    out_of_core.close()


def test_keys_are_not_loaded_until_asked_for(both: tuple[Analysis, Analysis]) -> None:
    mem, ooc = both
    assert ooc.out_of_core and not mem.out_of_core
    assert ooc.rsnap_path is not None and ooc.rsnap_path.exists()
    ooc.summary(), ooc.patterns, ooc.recommendations, ooc.top(5)
    assert ooc._keys is None  # nothing above needed the pandas table
    assert repr(ooc).endswith("out of core)>") and f"{len(mem.keys):,} keys" in repr(ooc)


def test_patterns_match(both: tuple[Analysis, Analysis]) -> None:
    mem, ooc = both
    a = mem.patterns.set_index("pattern").sort_index()
    b = ooc.patterns.set_index("pattern").sort_index()
    assert list(mem.patterns.columns) == list(ooc.patterns.columns)
    exact = [c for c in a.columns if c not in ("examples", "ttl_median_s", "share", "key_share")]
    pd.testing.assert_frame_equal(a[exact], b[exact], check_dtype=False)
    for column in ("share", "key_share"):
        np.testing.assert_allclose(a[column].to_numpy(float), b[column].to_numpy(float), rtol=1e-12)
    # the median is approximate on both engines (t-digest, DuckDB's approx_quantile)
    medians = pd.concat([a["ttl_median_s"], b["ttl_median_s"]], axis=1).dropna()
    span = (a["ttl_max_s"] - a["ttl_min_s"]).reindex(medians.index).fillna(0) + 1
    assert ((medians.iloc[:, 0] - medians.iloc[:, 1]).abs() <= 0.1 * span).all()
    # examples: each pattern's largest key comes first on both sides (ties: any key of that size)
    sizes = mem.keys.set_index("key")["memory_bytes"]
    for pattern, row in b.iterrows():  # iterrows hands an Arrow list over as a numpy array: len(), not truth
        assert len(row["examples"]) and sizes[row["examples"][0]] == a.loc[pattern, "max_memory_bytes"]
    # the order is by memory, as in memory
    assert ooc.patterns["memory_bytes"].is_monotonic_decreasing


def test_recommendations_summary_top_offenders_match(both: tuple[Analysis, Analysis]) -> None:
    mem, ooc = both
    assert not mem.recommendations.empty
    pd.testing.assert_frame_equal(
        mem.recommendations[FINDING_COLUMNS], ooc.recommendations[FINDING_COLUMNS], check_dtype=False
    )
    s_mem, s_ooc = mem.summary(), ooc.summary()
    for name in ("by_db", "by_type", "by_encoding", "ttl_buckets"):
        pd.testing.assert_frame_equal(
            getattr(s_mem, name).reset_index(drop=True),
            getattr(s_ooc, name).reset_index(drop=True),
            check_dtype=False,
        )
    assert s_mem.totals == s_ooc.totals
    top_mem, top_ooc = mem.top(10), ooc.top(10)
    assert list(top_mem.columns) == list(top_ooc.columns)
    assert top_mem["memory_bytes"].tolist() == top_ooc["memory_bytes"].tolist()
    assert (
        ooc.top(3, by="num_elements")["num_elements"].tolist()
        == mem.top(3, by="num_elements")["num_elements"].tolist()
    )
    with pytest.raises(ConfigurationError):
        ooc.top(3, by="key")
    with pytest.raises(ConfigurationError):
        ooc.top(3, by="no_such_column")
    rule = mem.recommendations["rule"].iloc[0]
    if mem.recommendations["offending_keys"].iloc[0]:
        assert sorted(mem.offenders(rule)["key"]) == sorted(ooc.offenders(rule)["key"])


def test_keys_load_on_demand_with_the_same_rows_and_patterns(both: tuple[Analysis, Analysis]) -> None:
    mem, ooc = both
    fresh = analyze(ooc.rsnap_path, progress=False, out_of_core=True)  # an RSNAP opens as a store too
    try:
        assert fresh.metadata["method"] == "rsnap" and fresh.metadata["original_method"] == "file"
        keys = fresh.keys  # loaded now
        assert len(keys) == len(mem.keys)
        a = mem.keys.set_index(["db", "key"]).sort_index()
        b = keys.set_index(["db", "key"]).sort_index()
        assert a["pattern"].astype(str).tolist() == b["pattern"].astype(str).tolist()
        assert a["memory_bytes"].tolist() == b["memory_bytes"].tolist()
    finally:
        fresh.close()


def test_rsnap_target_is_kept_and_loads(tmp_path: Path) -> None:
    target = tmp_path / "out.rsnap.parquet"
    with analyze(SAMPLE_RDB, progress=False, rsnap=target) as ooc:
        assert ooc.rsnap_path == target
        copy = ooc.to_rsnap(tmp_path / "copy.rsnap.parquet", redact="secret")
    assert target.exists()  # the caller's file outlives the Analysis
    loaded = load(target)
    assert (
        loaded.metadata["original_method"] == "file" and len(loaded.keys) == loaded.summary().totals["keys"]
    )
    redacted, _ = read_rsnap(copy)
    assert redacted.num_rows == len(loaded.keys)
    variable = loaded.keys.loc[loaded.keys["pattern"].str.contains("*", regex=False), "key"]
    assert len(variable) > 1000 and not set(redacted.column("key").to_pylist()) & set(variable)
    # the skeleton of many-key families survives, rare names do not; as the in-memory path redacts
    redacted_patterns = set(redacted.column("pattern").to_pylist())
    assert {"user:*:profile", "cache:product:*", "session:*"} <= redacted_patterns
    assert not {"config:feature-flags", "geo:stores"} & redacted_patterns
    in_memory = analyze(SAMPLE_RDB, progress=False).to_rsnap(tmp_path / "mem.parquet", redact="secret")
    assert read_rsnap(in_memory)[0].select(["key", "pattern"]).equals(redacted.select(["key", "pattern"]))


def test_to_rsnap_out_of_core_matches_in_memory(tmp_path: Path) -> None:
    """Unredacted, the backing file is copied as it is; the result reads like the in-memory RSNAP."""
    mem = analyze(SAMPLE_RDB, progress=False).to_rsnap(tmp_path / "mem.rsnap.parquet")
    with analyze(SAMPLE_RDB, progress=False, out_of_core=True) as ooc:
        copied = ooc.to_rsnap(tmp_path / "ooc.rsnap.parquet")
        assert copied.read_bytes() == ooc.rsnap_path.read_bytes()
    (a, meta_a), (b, meta_b) = read_rsnap(mem), read_rsnap(copied)
    assert meta_a == meta_b
    assert a.sort_by("key").equals(b.sort_by("key").select(a.column_names))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mem.rsnap.parquet", "ooc.rsnap.parquet"]


def test_temporary_store_is_removed(tmp_path: Path) -> None:
    ooc = analyze(SAMPLE_RDB, progress=False, out_of_core=True)
    directory = ooc.rsnap_path.parent
    assert directory.exists()
    ooc.close()
    assert not directory.exists()
    ooc = analyze(SAMPLE_RDB, progress=False, out_of_core=True)
    directory = ooc.rsnap_path.parent
    del ooc
    gc.collect()
    assert not directory.exists()  # dropped without close(): the finalizer cleans up


def test_bad_input_leaves_nothing_behind(tmp_path: Path) -> None:
    broken = tmp_path / "broken.rdb"
    broken.write_bytes(SAMPLE_RDB.read_bytes()[:50_000])
    target = tmp_path / "out.rsnap.parquet"
    with pytest.raises(RdbError):
        analyze(broken, progress=False, rsnap=target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.rdb"]


@pytest.mark.parametrize("source", ["rdb", "rsnap"])
def test_custom_patterns_out_of_core_match_in_memory(source: str, tmp_path: Path) -> None:
    """Custom rules win over discovery out of core too (also re-patterning a stored RSNAP)."""
    custom = ["re:^user:[0-9]+:profile$", ("session:*", "sessions")]
    mem = analyze(SAMPLE_RDB, progress=False, patterns=custom)
    given = SAMPLE_RDB if source == "rdb" else mem.to_rsnap(tmp_path / "stored.rsnap.parquet")
    with analyze(given, progress=False, out_of_core=True, patterns=custom) as ooc:
        columns = ["keys", "memory_bytes", "max_memory_bytes"]
        a = mem.patterns.set_index("pattern")[columns].sort_index()
        b = ooc.patterns.set_index("pattern")[columns].sort_index()
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
        assert {"sessions", "re:^user:[0-9]+:profile$"} <= set(b.index)  # the rules' own names
        pd.testing.assert_frame_equal(
            mem.recommendations[FINDING_COLUMNS], ooc.recommendations[FINDING_COLUMNS], check_dtype=False
        )


def test_big_inputs_go_out_of_core_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import insightkit.sources as sources_module

    small = analyze(SAMPLE_RDB, progress=False)
    assert not small.out_of_core  # the sample is far below the thresholds
    stored = small.to_rsnap(tmp_path / "sample.rsnap.parquet")
    monkeypatch.setattr(sources_module, "AUTO_OUT_OF_CORE_RDB_BYTES", SAMPLE_RDB.stat().st_size)
    monkeypatch.setattr(sources_module, "AUTO_OUT_OF_CORE_KEYS", len(small.keys))
    for source in (SAMPLE_RDB, stored):
        with analyze(source, progress=False) as big:
            assert big.out_of_core
            assert big.summary().totals["keys"] == len(small.keys)
            pd.testing.assert_frame_equal(
                small.recommendations[FINDING_COLUMNS],
                big.recommendations[FINDING_COLUMNS],
                check_dtype=False,
            )
        assert not analyze(source, progress=False, out_of_core=False).out_of_core  # asked for memory


@pytest.mark.parametrize("out_of_core", [False, True])
def test_a_closed_analysis_says_so(out_of_core: bool) -> None:
    from insightkit.errors import ClosedError

    analysis = analyze(SAMPLE_RDB, progress=False, out_of_core=out_of_core)
    assert repr(analysis).startswith("<Analysis 4,184 keys from ")
    analysis.close()
    assert repr(analysis).startswith("<Analysis closed from ")
    with pytest.raises(ClosedError, match="closed"):
        analysis.summary()
    with pytest.raises(ClosedError):
        analysis.top(3)
    analysis.close()  # twice is fine
