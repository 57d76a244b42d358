"""Keys a real server accepts but a tool may choke on: far-future expiries and hostile names.

Redis keeps an expiry as a signed 64-bit count of milliseconds and takes any of them
(``PEXPIREAT k 9007199254740993``, beyond a float64's exact range; ``EXPIREAT k 253402300800``, the
first second of year 10000; even ``2**63 - 1``). Key names are arbitrary bytes: ESC sequences that
clear a terminal or retitle it, CR/LF that split a row, NUL, BEL, a bidi override, 5,000 characters,
bytes that are not UTF-8. Every path — live snapshot, RDB file, in memory and out of core, DuckDB and
Dask, every CLI command — must keep the expiries exact and show the names without passing a single
control character through.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import redis
from servers import Server, running_server

import insightkit
from insightkit import cli
from insightkit.analysis import Analysis
from insightkit.fleet import open_fleet
from insightkit.rdb import unescape_key

pytestmark = pytest.mark.server

REPO = Path(__file__).resolve().parent.parent

FAR_MS = 9_007_199_254_740_993  # 2**53 + 1: not a float64
YEAR_10000_S = 253_402_300_800  # 10000-01-01T00:00:00Z
INT64_MAX = 2**63 - 1

# Field TTLs: Redis caps HPEXPIREAT at 2**46 - 1 ms (year 4199); Valkey 9 takes any 64-bit value.
FIELD_TTL_MS = {"redis82": 2**46 - 1, "valkey91": FAR_MS}

ODD_NAMES: list[bytes] = [
    b"a$_$b",
    b"$$",
    b"clear\x1b[2Jscreen",
    b"title\x1b]0;pwned\x07",
    b"row\r\nsplit",
    b"nul\x00byte",
    b"bell\x07",
    "bidi\u202etxt.exe".encode(),
    b"long:" + b"x" * 5000,
    b"bin\xff\xfe\x80",
]

# What must never reach a terminal or the page: C0 controls other than \n, DEL and C1, bidi overrides.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def fill(server: Server) -> dict[bytes, int | None]:
    """Odd expiries and names; returns each key's expiry as the server reports it (PEXPIRETIME)."""
    c = server.client()
    c.set("far", "v")
    c.pexpireat("far", FAR_MS)
    c.set("year10000", "v")
    c.execute_command("EXPIREAT", "year10000", YEAR_10000_S)
    c.set("int64max", "v")
    c.pexpireat("int64max", INT64_MAX)
    c.set("normal", "v", ex=7200)
    c.set("forever", "v")
    for i, name in enumerate(ODD_NAMES):
        c.set(name, "value-" + "z" * (50 + i))
    c.pexpireat(ODD_NAMES[2], FAR_MS)  # a hostile name with a far expiry: both on one row
    c.hset("fields", mapping={"near": "1", "far": "2", "none": "3"})
    if server.flavour.name in FIELD_TTL_MS:
        c.execute_command("HPEXPIREAT", "fields", FIELD_TTL_MS[server.flavour.name], "FIELDS", 1, "far")
        c.execute_command("HEXPIRE", "fields", 7200, "FIELDS", 1, "near")
    expected: dict[bytes, int | None] = {}
    for key in c.scan_iter(count=1000):
        at = int(c.pexpiretime(key))
        expected[key] = at if at >= 0 else None
    assert expected[b"far"] == FAR_MS and expected[b"year10000"] == YEAR_10000_S * 1000
    assert expected[b"int64max"] == INT64_MAX
    return expected


def min_field_expiry(server: Server) -> int | None:
    if server.flavour.name not in FIELD_TTL_MS:
        return None
    times = server.client().execute_command("HPEXPIRETIME", "fields", "FIELDS", 2, "near", "far")
    return min(int(t) for t in times)


def raw_names(frame: object) -> dict[bytes, dict[str, object]]:
    """Rows of a key table by the key's real bytes (``key_binary`` names unescaped)."""
    # Arrow rows as Python ints: a plain to_pandas() would turn the nullable int64 into float64
    records = frame.to_pylist() if hasattr(frame, "to_pylist") else frame.to_dict(orient="records")  # type: ignore[union-attr]
    out: dict[bytes, dict[str, object]] = {}
    for row in records:
        name = unescape_key(row["key"]) if row["key_binary"] else str(row["key"]).encode()
        out[name] = row
    return out


def check_table(frame: object, expected: dict[bytes, int | None], field_min: int | None) -> None:
    rows = raw_names(frame)
    assert set(rows) == set(expected)
    for name, at in expected.items():
        got = rows[name]["expires_at"]
        assert (None if pd.isna(got) else int(got)) == at, name[:40]  # type: ignore[arg-type]
    if field_min is not None:
        assert int(rows[b"fields"]["min_field_expires_at"]) == field_min  # type: ignore[arg-type]


def check_clean(text: str, what: str) -> None:
    found = RAW_CONTROL.search(text)
    assert found is None, (
        f"{what}: raw {found.group(0)!r} near {text[max(found.start() - 40, 0) : found.end() + 40]!r}"
    )


def run_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    # a wide terminal: at 80 columns the tables clip the expiry cell ("9007199254740993 ms (bey…")
    env = {**os.environ, "COLUMNS": "400"}
    done = subprocess.run(
        [sys.executable, "-m", "insightkit", *args, "-q"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
        cwd=REPO,
        timeout=timeout,
        env=env,
    )
    assert done.returncode == 0, (args, done.stderr[-3000:])
    return done


def check_analysis(analysis: Analysis, expected: dict[bytes, int | None], field_min: int | None) -> None:
    """Summary, patterns, rules and top() of one Analysis: nothing crashes, the far keys are '> 30d'."""
    check_table(analysis.keys, expected, field_min)
    summary = analysis.summary()
    buckets = summary.ttl_buckets.set_index("bucket")["keys"]
    far = sum(1 for at in expected.values() if at is not None and at > 10**13)
    assert buckets["> 30d"] == far and buckets["1h–1d"] == 1, buckets.to_dict()
    assert int(buckets.sum()) == len(expected)
    check_clean(str(summary), "Summary")
    patterns = analysis.patterns
    assert int(patterns["keys"].sum()) == len(expected)
    assert patterns["ttl_max_s"].max() > 9e15  # 2**63 ms from now, in seconds, without a cast error
    analysis.recommendations  # noqa: B018  (the rules run on pandas or DuckDB)
    top = analysis.top(len(expected))
    assert len(top) == len(expected)


@pytest.mark.parametrize("flavour", ["redis70", "valkey91"])
def test_far_expiries_and_odd_names_everywhere(flavour: str, tmp_path: Path) -> None:
    with running_server(flavour) as server:
        try:
            expected = fill(server)
        except redis.ResponseError as exc:  # pragma: no cover - a server without PEXPIRETIME
            pytest.skip(str(exc))
        field_min = min_field_expiry(server)

        live = insightkit.analyze(server.url, progress=False)
        check_analysis(live, expected, field_min)
        assert live.metadata["method"] == "sync"
        dumped = insightkit.analyze(server.url, progress=False, method="dump")  # PEXPIRETIME: exact too
        check_table(dumped.keys, expected, field_min)

        rdb = tmp_path / "dump.rdb"
        shutil.copy(server.save(), rdb)
        rsnap_live = tmp_path / "live.rsnap"
        run_cli("analyze", server.url, "-o", str(rsnap_live))

    check_analysis(insightkit.analyze(rdb, progress=False, out_of_core=False), expected, field_min)
    with insightkit.analyze(rdb, progress=False, out_of_core=True) as ooc:
        check_analysis(ooc, expected, field_min)
    in_memory = insightkit.analyze(rdb, progress=False, out_of_core=False)
    assert sorted(in_memory.recommendations["rule"]) == sorted(ooc_rules(rdb))

    # the whole CLI, as a user runs it
    rsnap_rdb = tmp_path / "rdb.rsnap"
    analyzed = run_cli("analyze", str(rdb), "-o", str(rsnap_rdb))
    check_clean(analyzed.stdout, "analyze")
    streamed = tmp_path / "streamed.rsnap"
    check_clean(run_cli("analyze", str(rdb), "-o", str(streamed), "--stream").stdout, "analyze --stream")
    for path in (rsnap_live, rsnap_rdb, streamed):
        check_table(pq.read_table(path), expected, field_min)  # the int64 the server holds, bit for bit

    summary = run_cli("summary", str(rsnap_rdb)).stdout
    check_clean(summary, "summary")
    assert re.search(r"> 30d\s+\d", summary)

    top = run_cli("top", str(rsnap_rdb), "-n", "50").stdout
    check_clean(top, "top")
    # A terminal table gives the raw milliseconds alone past the calendar (no wider than a date).
    assert f"{FAR_MS} ms" in top
    assert f"{YEAR_10000_S * 1000} ms" in top
    assert f"{INT64_MAX} ms" in top
    top_rdb = run_cli("top", str(rdb), "-n", "50").stdout
    check_clean(top_rdb, "top (rdb)")

    html = tmp_path / "out.html"
    run_cli("report", str(rsnap_rdb), "-o", str(html))
    page = html.read_text(encoding="utf-8")
    check_clean(page, "report")
    assert f"{FAR_MS} ms (beyond 9999)" in page

    chart = tmp_path / "diff.png"
    diffed = run_cli("diff", str(rsnap_live), str(rsnap_rdb), "--chart", str(chart)).stdout
    check_clean(diffed, "diff")
    assert chart.stat().st_size > 0
    for name in ("summary", "top", "diff"):
        extra = ["-n", "50"] if name == "top" else []
        paths = [str(rsnap_live), str(rsnap_rdb)] if name == "diff" else [str(rsnap_rdb)]
        as_json = run_cli(name, *paths, *extra, "--json").stdout
        check_clean(as_json, f"{name} --json")
        json.loads(as_json)
    top_json = run_cli("top", str(rsnap_rdb), "-n", "50", "--json").stdout
    assert str(FAR_MS) in top_json and str(INT64_MAX) in top_json  # exact integers, not 9.007e15
    # JSON keeps the names exact (escaped only as JSON escapes them): every hostile name comes back
    by_name = {row["key"]: row for row in json.loads(top_json)}
    utf8_names = {k.decode() for k in ODD_NAMES if not k.startswith(b"bin")}  # b"bin\xff…" is escaped
    assert utf8_names <= set(by_name)
    assert by_name["far"]["expires_at"] == FAR_MS and by_name["int64max"]["expires_at"] == INT64_MAX

    # the fleet engines over the same RSNAP: summaries agree with the in-memory one
    expected_buckets = in_memory.summary().ttl_buckets.set_index("bucket")["keys"].to_dict()
    for engine in ("duckdb", "dask"):
        with open_fleet(rsnap_rdb, engine=engine) as fleet:  # type: ignore[arg-type]
            buckets = fleet.summary(savings=False).ttl_buckets.set_index("bucket")["keys"].to_dict()
            assert {k: int(v) for k, v in buckets.items()} == expected_buckets, engine
            assert int(fleet.patterns["keys"].sum()) == len(expected)
            fleet.recommendations  # noqa: B018


def ooc_rules(rdb: Path) -> list[str]:
    with insightkit.analyze(rdb, progress=False, out_of_core=True) as analysis:
        return list(analysis.recommendations["rule"])


def test_a_failed_analyze_leaves_no_rsnap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with running_server("redis70") as server:
        fill(server)
        rdb = tmp_path / "dump.rdb"
        shutil.copy(server.save(), rdb)

    def broken(self: Analysis) -> None:
        raise RuntimeError("summary broke")

    monkeypatch.setattr(Analysis, "summary", broken)
    for extra in ([], ["--stream"]):
        out = tmp_path / "out.rsnap"
        with pytest.raises(RuntimeError, match="summary broke"):
            cli.main(["analyze", str(rdb), "-o", str(out), "-q", *extra])
        assert sorted(p.name for p in tmp_path.iterdir()) == ["dump.rdb"], extra

    # an RSNAP already there from before survives a failed run untouched
    out = tmp_path / "kept.rsnap"
    out.write_bytes(b"earlier")
    with pytest.raises(RuntimeError, match="summary broke"):
        cli.main(["analyze", str(rdb), "-o", str(out), "-q"])
    assert out.read_bytes() == b"earlier"


# --- the arithmetic alone, no server ----------------------------------------------------------------

EXTREMES = [
    None,
    -(2**63),
    -1,
    0,
    NOW_MS := 1_780_000_000_000,
    NOW_MS + 1,
    NOW_MS + 7_200_000,
    FAR_MS,
    INT64_MAX,
]
# no ttl, expired ×4 (pre-1970 and the snapshot instant included), < 1h, 1h–1d, > 30d ×2
EXTREME_CODES = [0, 1, 1, 1, 1, 2, 3, 6, 6]


@pytest.mark.parametrize("as_", ["arrow", "pandas", "numpy-float"])
def test_ttl_buckets_of_every_int64(as_: str) -> None:
    import numpy as np
    import pyarrow as pa

    from insightkit.summary import ttl_bucket_codes

    column: object = pa.chunked_array([pa.array(EXTREMES, pa.int64())])
    if as_ == "pandas":
        column = pd.Series(EXTREMES, dtype=pd.ArrowDtype(pa.int64()))
    codes = (
        ttl_bucket_codes(pd.Series([np.nan, -1e3, NOW_MS + 7.2e6, 1e300]), NOW_MS)  # a frame already lossy
        if as_ == "numpy-float"
        else ttl_bucket_codes(column, NOW_MS)  # type: ignore[arg-type]
    )
    assert list(codes) == ([0, 1, 3, 6] if as_ == "numpy-float" else EXTREME_CODES)


def test_remaining_ms_saturates_instead_of_wrapping() -> None:
    import numpy as np

    from insightkit.expiry import remaining_ms

    values = np.array([-(2**63), INT64_MAX, FAR_MS], dtype=np.int64)
    assert list(remaining_ms(values, NOW_MS)) == [-(2**63), INT64_MAX - NOW_MS, FAR_MS - NOW_MS]
    assert list(remaining_ms(values, -NOW_MS)) == [-(2**63) + NOW_MS, INT64_MAX, FAR_MS + NOW_MS]


def test_duckdb_and_pattern_ttls_of_every_int64() -> None:
    import duckdb
    import pyarrow as pa

    from insightkit.expiry import ttl_bucket_sql
    from insightkit.patterns.aggregate import aggregate_patterns
    from insightkit.table import KeyTable, pattern_table

    table = pa.table(
        {
            "pattern": ["p"] * len(EXTREMES),
            "key": [f"k{i}" for i in range(len(EXTREMES))],
            "db": [0] * len(EXTREMES),
            "type": ["string"] * len(EXTREMES),
            "encoding": ["embstr"] * len(EXTREMES),
            "memory_bytes": [10] * len(EXTREMES),
            "expires_at": pa.array(EXTREMES, pa.int64()),
        }
    )
    con = duckdb.connect()
    con.register("keys", table)
    codes = [r[0] for r in con.sql(f"SELECT {ttl_bucket_sql(NOW_MS)} FROM keys").fetchall()]
    assert codes == EXTREME_CODES
    in_memory = aggregate_patterns(table.to_pandas(types_mapper=pd.ArrowDtype), now_ms=NOW_MS)
    on_duckdb = pattern_table(KeyTable.from_arrow(table, NOW_MS))
    for frame in (in_memory, on_duckdb):
        row = frame.iloc[0]
        assert int(row["keys_without_ttl"]) == 1
        assert row["ttl_max_s"] == pytest.approx((INT64_MAX - NOW_MS) / 1000)
        assert row["ttl_min_s"] == pytest.approx((-(2**63) - NOW_MS) / 1000)


def test_expiries_as_text_never_crash() -> None:
    from insightkit._text import epoch_ms

    assert epoch_ms(FAR_MS) == f"{FAR_MS} ms (beyond 9999)"
    assert epoch_ms(YEAR_10000_S * 1000) == f"{YEAR_10000_S * 1000} ms (beyond 9999)"
    assert epoch_ms(-1) == "1969-12-31 23:59:59Z"
    assert epoch_ms(-(2**63)).endswith("ms (before year 1)")


def test_dump_method_on_a_server_without_pexpiretime() -> None:
    """Redis 6.2 only answers PTTL: the expiry is our clock plus it, and 2**63 - 1 must not wrap negative."""
    with running_server("redis62") as server:
        c = server.client()
        c.set("far", "v")
        c.pexpireat("far", FAR_MS)
        c.set("max", "v")
        c.pexpireat("max", INT64_MAX)
        c.set("hour", "v", px=3_600_000)
        rows = raw_names(insightkit.analyze(server.url, progress=False, method="dump").keys)
        assert abs(int(rows[b"far"]["expires_at"]) - FAR_MS) < 60_000  # type: ignore[arg-type]
        assert int(rows[b"max"]["expires_at"]) > 2**62  # type: ignore[arg-type]
        summary = insightkit.analyze(server.url, progress=False, method="dump").summary()
        assert summary.ttl_buckets.set_index("bucket")["keys"]["> 30d"] == 2


def test_an_output_written_atomically_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    from insightkit._files import replaced_atomically

    target = tmp_path / "chart.png"
    with pytest.raises(ValueError, match="drawing broke"), replaced_atomically(target) as tmp:
        assert tmp.suffix == ".png" and tmp.parent == tmp_path  # savefig picks its format from the name
        tmp.write_bytes(b"half a png")
        raise ValueError("drawing broke")
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"earlier")
    with pytest.raises(ValueError), replaced_atomically(target) as tmp:
        tmp.write_bytes(b"half")
        raise ValueError
    assert target.read_bytes() == b"earlier" and list(tmp_path.iterdir()) == [target]
    with replaced_atomically(target) as tmp:
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and list(tmp_path.iterdir()) == [target]
