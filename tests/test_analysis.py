"""Analysis facade, Summary, top(), to_rsnap()/load() on key tables built in the test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from keytables import key_batch, key_batches

import insightkit
from insightkit.analysis import Analysis, analyze, load
from insightkit.errors import ConfigurationError, SourceError
from insightkit.schema import KEY_COLUMNS
from insightkit.summary import TTL_BUCKETS

T0 = 1_700_000_000_000  # snapshot time used throughout
HOUR = 3_600_000


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """A key table of len(rows) keys: plausible defaults, overridden by each row's values."""
    table = pa.Table.from_batches([key_batch(0, len(rows))])
    for name in {n for row in rows for n in row}:
        values = [row.get(name, table.column(name)[i].as_py()) for i, row in enumerate(rows)]
        index = table.schema.get_field_index(name)
        table = table.set_column(
            index, table.schema.field(name), pa.array(values, table.schema.field(name).type)
        )
    return table.to_pandas(types_mapper=pd.ArrowDtype)


ROWS: list[dict[str, object]] = [
    {"db": 0, "key": "a", "type": "string", "encoding": "embstr", "memory_bytes": 100, "expires_at": None},
    {"db": 0, "key": "b", "type": "string", "encoding": "raw", "memory_bytes": 300, "expires_at": T0 - 1},
    {
        "db": 0,
        "key": "c",
        "type": "hash",
        "encoding": "listpack",
        "memory_bytes": 1000,
        "expires_at": T0 + 10,
    },
    {
        "db": 1,
        "key": "d",
        "type": "hash",
        "encoding": "hashtable",
        "memory_bytes": 5000,
        "expires_at": T0 + 2 * HOUR,
    },
    {
        "db": 1,
        "key": "e",
        "type": "list",
        "encoding": "quicklist",
        "memory_bytes": 600,
        "expires_at": T0 + 48 * HOUR,
    },
    {
        "db": 3,
        "key": "f",
        "type": "zset",
        "encoding": "skiplist",
        "memory_bytes": 3000,
        "expires_at": T0 + 400 * HOUR,
    },
    {
        "db": 3,
        "key": "g",
        "type": "set",
        "encoding": "intset",
        "memory_bytes": 0,
        "expires_at": T0 + 900 * HOUR,
    },
]
METADATA = {
    "method": "file",
    "source": "dump.rdb",
    "snapshot_time_ms": T0,
    "server": {"family": "redis", "version": "7.0.15", "allocator": "jemalloc"},
    "rdb": {
        "dataset_overhead": {
            # overhead_hashtable_* (MEMORY STATS' view) holds the arrays plus per-key entries already
            # inside memory_bytes: the totals must not add it again
            "0": {
                "main_dict_bytes": 64,
                "expires_dict_bytes": 32,
                "overhead_hashtable_main": 184,
                "overhead_hashtable_expires": 80,
            },
            "1": {"main_dict_bytes": 16},
        }
    },
    "info": {"memory": {"used_memory": "20000", "used_memory_dataset": "15000"}},
}


@pytest.fixture
def analysis() -> Analysis:
    return Analysis(_frame(ROWS), dict(METADATA))


def test_keys_are_arrow_backed(analysis: Analysis) -> None:
    keys = analysis.keys
    assert list(keys.columns[: len(KEY_COLUMNS)]) == KEY_COLUMNS
    assert all(isinstance(dtype, pd.ArrowDtype) for dtype in keys.dtypes)


def test_summary_tables(analysis: Analysis) -> None:
    s = analysis.summary()
    total = 10_000
    assert s.by_db.to_dict("records") == [
        {"db": 0, "keys": 3, "memory_bytes": 1400, "share": 0.14, "volatile_keys": 2},
        {"db": 1, "keys": 2, "memory_bytes": 5600, "share": 0.56, "volatile_keys": 2},
        {"db": 3, "keys": 2, "memory_bytes": 3000, "share": 0.30, "volatile_keys": 2},
    ]
    assert list(s.by_type["type"]) == ["hash", "zset", "list", "string", "set"]  # by memory
    assert s.by_type.set_index("type")["memory_bytes"].to_dict() == {
        "hash": 6000,
        "zset": 3000,
        "list": 600,
        "string": 400,
        "set": 0,
    }
    assert list(s.by_encoding.columns) == ["type", "encoding", "keys", "memory_bytes", "share"]
    assert s.by_encoding.iloc[0][["type", "encoding"]].tolist() == ["hash", "hashtable"]
    assert s.ttl_buckets["bucket"].tolist() == TTL_BUCKETS
    assert s.ttl_buckets.set_index("bucket")["memory_bytes"].to_dict() == {
        "no ttl": 100,
        "expired": 300,
        "< 1h": 1000,
        "1h–1d": 5000,
        "1d–7d": 600,
        "7d–30d": 3000,
        "> 30d": 0,
    }
    assert s.ttl_buckets["keys"].sum() == 7
    assert abs(s.by_type["share"].sum() - 1) < 1e-9
    savings = {k: s.totals[k] for k in ("estimated_savings_bytes", "estimated_rss_savings_bytes")}
    assert {k: v for k, v in s.totals.items() if k not in savings} == {
        "keys": 7,
        "memory_bytes": total,
        "dataset_overhead_bytes": 112,
        "used_memory": 20000,
        "used_memory_dataset": 15000,
    }
    # the recommendations' savings, every key counted once (insightkit.recommend.savings)
    assert savings["estimated_savings_bytes"] == int(analysis.recommendations["counted_savings_bytes"].sum())
    assert 0 <= savings["estimated_savings_bytes"] <= 20000


def test_summary_renders_for_people_and_scripts(analysis: Analysis) -> None:
    s = analysis.summary()
    text = str(s)
    for heading in ("By database", "By type", "By encoding", "By time to live"):
        assert heading in text
    assert "9.77 KiB" in text and "INFO used_memory: 19.5 KiB" in text
    assert s._repr_html_().count("<table") == 4
    assert json.loads(json.dumps(s.to_dict()))["totals"]["keys"] == 7


def test_summary_of_nothing() -> None:
    empty = Analysis(pa.Table.from_batches([key_batch(0, 0)]).to_pandas(types_mapper=pd.ArrowDtype), {})
    s = empty.summary()
    assert s.totals["keys"] == 0 and s.by_type.empty and s.ttl_buckets["keys"].sum() == 0
    assert "keys: 0" in str(s)


def test_top(analysis: Analysis) -> None:
    assert analysis.top(3)["key"].tolist() == ["d", "f", "c"]
    assert len(analysis.top(100)) == 7
    assert analysis.top(1, by="expires_at")["key"].tolist() == ["g"]
    with pytest.raises(ConfigurationError, match="no such column"):
        analysis.top(3, by="nope")
    with pytest.raises(ConfigurationError, match="not numeric"):
        analysis.top(3, by="key")


def test_rsnap_round_trip(tmp_path: Path) -> None:
    table = pa.Table.from_batches(key_batches(5000, 1000))
    original = Analysis(table.to_pandas(types_mapper=pd.ArrowDtype), dict(METADATA))
    path = original.to_rsnap(tmp_path / "a.rsnap.parquet")
    reloaded = load(path)
    pd.testing.assert_frame_equal(reloaded.keys, original.keys)
    assert reloaded.metadata["method"] == "rsnap"
    assert reloaded.metadata["original_method"] == "file"
    kept = {
        k: v for k, v in reloaded.metadata.items() if k not in ("method", "original_method", "rsnap_source")
    }
    expected = {k: v for k, v in METADATA.items() if k != "method"}
    assert kept == {**expected, "insightkit_version": insightkit.__version__, "rsnap_schema_version": 1}
    # analyze() recognises an RSNAP, and re-writing a loaded analysis keeps the original method
    again = analyze(path).to_rsnap(tmp_path / "b.rsnap.parquet")
    assert load(again).metadata["original_method"] == "file"
    pd.testing.assert_frame_equal(load(again).keys, original.keys)


def test_dataset_round_trip(tmp_path: Path, analysis: Analysis) -> None:
    path = analysis.to_rsnap(tmp_path / "a.rsnap", dataset=True)
    assert path.is_dir()
    pd.testing.assert_frame_equal(analyze(path).keys, analysis.keys)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"", "empty file"),
        (b"hello world, not a snapshot", "not an RDB file"),
    ],
)
def test_analyze_rejects_bad_sources(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "input.rdb"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError, match=message):
        analyze(path)


def test_analyze_rejects_objects_and_bad_options(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot analyze an int"):
        analyze(42)
    with pytest.raises(ConfigurationError):
        analyze(tmp_path, batch_size=0)


def test_importing_the_facade_skips_presentation() -> None:
    code = (
        "import sys, insightkit; insightkit.analyze; import insightkit.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'ipywidgets')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


SAMPLE_RDB = Path(__file__).resolve().parent.parent / "data" / "samples" / "sample.rdb"


def _result_tables(analysis: Analysis) -> dict[str, pd.DataFrame]:
    summary = analysis.summary()
    return {
        "keys": analysis.keys,
        **summary.tables(),
        "patterns": analysis.patterns,
        "recommendations": analysis.recommendations,
    }


@pytest.mark.parametrize("path", ["in memory", "out of core", "load"])
def test_every_table_is_arrow_backed(path: str, tmp_path: Path) -> None:
    """The summary, pattern and recommendation tables are typed like ``keys``, whichever engine made them."""
    if path == "load":
        analysis = load(analyze(SAMPLE_RDB, progress=False).to_rsnap(tmp_path / "s.rsnap.parquet"))
    else:
        analysis = analyze(SAMPLE_RDB, progress=False, out_of_core=path == "out of core")
    with analysis:
        tables = _result_tables(analysis)
        for name, frame in tables.items():
            assert len(frame), name
            loose = {c: str(d) for c, d in frame.dtypes.items() if not isinstance(d, pd.ArrowDtype)}
            assert not loose, f"{name}: {loose}"
        patterns, recommendations = tables["patterns"], tables["recommendations"]
        assert str(patterns["memory_bytes"].dtype) == "int64[pyarrow]"
        assert str(patterns["share"].dtype) == "double[pyarrow]"
        assert str(patterns["examples"].dtype) == "list<item: string>[pyarrow]"
        assert str(patterns["owner"].dtype) == "string[pyarrow]"  # all null here, still text
        assert str(recommendations["fix"].dtype) == "string[pyarrow]"
        assert patterns["ttl_min_s"].isna().any()  # NaN became null: <NA>, as in keys
        assert isinstance(patterns["examples"].iloc[0], list)


def test_arrow_backed_keeps_index_order_and_mixed_objects() -> None:
    from insightkit._frames import arrow_backed

    frame = pd.DataFrame(
        {"n": [1, 2], "x": [0.5, float("nan")], "o": [None, None], "m": [{"a": 1}, 3]}, index=[5, 7]
    )
    out = arrow_backed(frame)
    assert list(out.index) == [5, 7] and list(out.columns) == ["n", "x", "o", "m"]
    assert [str(d) for d in out.dtypes] == [
        "int64[pyarrow]",
        "double[pyarrow]",
        "string[pyarrow]",
        "string[pyarrow]",
    ]
    assert out["x"].isna().tolist() == [False, True] and out["m"].tolist() == ["{'a': 1}", "3"]
    assert arrow_backed(out) is out
    empty = arrow_backed(
        pd.DataFrame({"examples": pd.Series([], dtype=object), "owner": pd.Series([], dtype=object)})
    )
    assert [str(d) for d in empty.dtypes] == ["list<item: string>[pyarrow]", "string[pyarrow]"]


def test_pattern_codes_in_the_key_table_names_in_pandas() -> None:
    """The key table holds each key's pattern as dictionary codes (DuckDB's fastest), the pandas view and
    every result the plain names: the same tables as over a plain-text copy of the rows."""
    import pyarrow.compute as pc

    from insightkit._frames import arrow_backed
    from insightkit.recommend import evaluate
    from insightkit.table import KeyTable, pattern_table

    a = analyze(SAMPLE_RDB, progress=False)
    keys = a.keys
    assert keys["pattern"].dtype == pd.ArrowDtype(pa.string())
    arrow = a.key_table.arrow
    assert arrow is not None and pa.types.is_dictionary(arrow.schema.field("pattern").type)
    plain = arrow.set_column(
        arrow.schema.get_field_index("pattern"), "pattern", pc.cast(arrow.column("pattern"), pa.string())
    )
    assert plain.column("pattern").to_pylist() == keys["pattern"].tolist()
    expected = arrow_backed(pattern_table(KeyTable.from_arrow(plain, a.metadata["snapshot_time_ms"])))
    got = a.patterns[expected.columns]
    approximate = ["ttl_median_s"]  # approx_quantile on two threads
    pd.testing.assert_frame_equal(got.drop(columns=approximate), expected.drop(columns=approximate))
    pd.testing.assert_frame_equal(a.recommendations, arrow_backed(evaluate(plain, None, a.metadata)))
    for engine in ("native", "duckdb"):
        pd.testing.assert_frame_equal(
            evaluate(arrow, None, a.metadata, engine=engine), evaluate(plain, None, a.metadata, engine=engine)
        )
    a.close()
