"""The insightkit command, run as a real subprocess: output, --json, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from keytables import key_batches

from insightkit.analysis import Analysis

REPO = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "insightkit", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


@pytest.fixture(scope="module")
def rsnap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = pa.Table.from_batches(key_batches(3000, 1000)).to_pandas(types_mapper=pd.ArrowDtype)
    meta = {"method": "file", "source": "x.rdb", "snapshot_time_ms": 1_700_000_000_000}
    return Analysis(frame, meta).to_rsnap(tmp_path_factory.mktemp("cli") / "x.rsnap.parquet")


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, *fragments: str) -> None:
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("insightkit: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stderr


def test_summary_human_and_json(rsnap: Path) -> None:
    human = run("summary", str(rsnap))
    assert human.returncode == 0, human.stderr
    assert "By type" in human.stdout and "keys: 3,000" in human.stdout
    data = json.loads(run("summary", str(rsnap), "--json").stdout)
    assert data["totals"]["keys"] == 3000
    assert {row["type"] for row in data["by_type"]} == {"string", "hash", "list", "set", "zset"}
    assert [row["bucket"] for row in data["ttl_buckets"]][:2] == ["no ttl", "expired"]


def test_top(rsnap: Path) -> None:
    rows = json.loads(run("top", str(rsnap), "-n", "5", "--json").stdout)
    assert len(rows) == 5
    sizes = [r["memory_bytes"] for r in rows]
    assert sizes == sorted(sizes, reverse=True)
    by_count = json.loads(run("top", str(rsnap), "-n", "2", "--by", "num_elements", "--json").stdout)
    assert by_count[0]["num_elements"] >= by_count[1]["num_elements"]
    human = run("top", str(rsnap), "-n", "3")
    assert human.returncode == 0 and "Top 3 keys by memory_bytes" in human.stdout


def test_analyze_writes_an_rsnap(rsnap: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy.rsnap.parquet"
    result = run("analyze", str(rsnap), "-o", str(out), "--redact-key", "k", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rsnap"] == str(out)
    copy = pd.read_parquet(out)
    assert len(copy) == 3000
    assert copy["key"].str.fullmatch(r"[a-z]+:[0-9]{16}:(cart|profile)").all()  # ids stay numbers


def test_redaction_key_from_the_environment(rsnap: Path, tmp_path: Path) -> None:
    outputs = []
    for name, env in (("a", "key-one"), ("b", "key-one"), ("c", "key-two")):
        out = tmp_path / f"{name}.parquet"
        result = subprocess.run(
            [sys.executable, "-m", "insightkit", "analyze", str(rsnap), "--redact", "-o", str(out)],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "INSIGHTKIT_REDACT_KEY": env},
        )
        assert result.returncode == 0, result.stderr
        outputs.append(pd.read_parquet(out)["key"].tolist())
    assert outputs[0] == outputs[1] != outputs[2]
    assert_one_line_error(run("analyze", str(rsnap), "--redact"), 1, "-o/--output")


def test_missing_file() -> None:
    assert_one_line_error(run("summary", "/nonexistent/dump.rdb"), 1, "no such file")


def test_not_an_rdb(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.rdb"
    bogus.write_text("shopping list\n")
    assert_one_line_error(run("analyze", str(bogus)), 1, "not an RDB")


def test_output_directory_missing(rsnap: Path, tmp_path: Path) -> None:
    result = run("analyze", str(rsnap), "-o", str(tmp_path / "no" / "such" / "x.parquet"))
    assert_one_line_error(result, 1, "does not exist")


def test_usage_errors_exit_2(rsnap: Path) -> None:
    assert run().returncode == 2
    assert run("top", str(rsnap), "-n", "many").returncode == 2
    assert run("frobnicate").returncode == 2
    assert run("--version").stdout.startswith("insightkit ")


def test_bad_column_for_top(rsnap: Path) -> None:
    assert_one_line_error(run("top", str(rsnap), "--by", "colour"), 1, "no such column")


def test_analyze_stream_writes_then_summarises(tmp_path: Path) -> None:
    out = tmp_path / "s.rsnap.parquet"
    result = run("analyze", "data/samples/sample.rdb", "-o", str(out), "--stream", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["rsnap"] == str(out) and data["totals"]["keys"] == len(pd.read_parquet(out))
    # out of core, the same patterns and recommendations as the in-memory analysis
    in_memory = json.loads(run("analyze", "data/samples/sample.rdb", "--json").stdout)
    for table in ("patterns", "recommendations", "by_type"):
        assert data[table] == in_memory[table], table
    assert "pattern" in pd.read_parquet(out).columns
    redacted = tmp_path / "r.rsnap.parquet"
    result = run("analyze", "data/samples/sample.rdb", "-o", str(redacted), "--stream", "--redact-key", "k")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.rsnap.parquet", "s.rsnap.parquet"]
    assert "user:1451:profile" not in set(pd.read_parquet(redacted)["key"])
    assert "user:1451:profile" in set(pd.read_parquet(out)["key"])
    assert_one_line_error(run("analyze", "data/samples/sample.rdb", "--stream"), 1, "--stream needs -o")


def test_truncated_rdb_is_one_line(tmp_path: Path) -> None:
    sample = (REPO / "data" / "samples" / "sample.rdb").read_bytes()
    broken = tmp_path / "cut.rdb"
    broken.write_bytes(sample[:1000])
    assert_one_line_error(run("summary", str(broken)), 1, "cut.rdb")


def test_analyze_reports_patterns_and_every_finding() -> None:
    data = json.loads(run("analyze", "data/samples/sample.rdb", "--json", "-n", "3").stdout)
    assert len(data["patterns"]) == 3
    assert data["patterns"][0]["memory_bytes"] >= data["patterns"][1]["memory_bytes"]
    findings = {r["rule"]: r for r in data["recommendations"]}
    assert findings["outdated-version"]["offending_keys"] == 0  # server-level: names no key, still shown
    assert len(findings) > 3  # -n cuts the patterns, never the findings
    assert all(r["fix"] for r in findings.values())
    assert data["snapshot"] == {"source": "data/samples/sample.rdb", "method": "file"}
    human = run("analyze", "data/samples/sample.rdb", "-n", "3").stdout
    assert "Top patterns by memory" in human and "Recommendations" in human
    assert "outdated-version" in human and "fix: Upgrade to a maintained release" in human


def test_findings_name_the_patterns_they_are_about() -> None:
    """A finding says which keys it means: its patterns in the text (the first few) and all of them in
    --json, as the Python API's ``top_patterns``."""
    import insightkit

    expected = insightkit.analyze(REPO / "data" / "samples" / "sample.rdb", progress=False).recommendations
    expected = expected.set_index("rule")
    data = json.loads(run("analyze", "data/samples/sample.rdb", "--json").stdout)
    for finding in data["recommendations"]:
        want = list(expected.loc[finding["rule"], "top_patterns"])
        assert finding["top_patterns"] == want, finding["rule"]
        assert finding["offending_patterns"] == expected.loc[finding["rule"], "offending_patterns"]
    human = run("analyze", "data/samples/sample.rdb", "--wide").stdout
    compression = human[human.index("list-compression") :].splitlines()
    assert compression[1].split("·")[1].strip() == "2 keys"
    assert compression[2].strip() == "in " + ", ".join(expected.loc["list-compression", "top_patterns"])
    assert "2 keys in 1 pattern" not in human  # the engine's default detail is not said twice
    assert "[medium] outdated-version" in human and "server-level" in human


def test_allocator_and_server_version_of_an_rdb_file() -> None:
    """A file does not record its server's allocator: --allocator says it (as allocator= does in the
    API), the header names the one assumed, and the totals are the API's."""
    import insightkit

    sample = REPO / "data" / "samples" / "sample.rdb"
    for allocator in ("jemalloc", "jemalloc-16", "libc"):
        expected = insightkit.analyze(sample, progress=False, allocator=allocator).summary().totals
        data = json.loads(
            run("summary", "data/samples/sample.rdb", "--allocator", allocator, "--json").stdout
        )
        assert data["totals"]["memory_bytes"] == expected["memory_bytes"], allocator
        human = run("summary", "data/samples/sample.rdb", "--allocator", allocator).stdout
        assert human.splitlines()[0].endswith(f"· allocator: {allocator}")
    older = insightkit.analyze(sample, progress=False, server_version="6.2").summary().totals
    data = json.loads(run("summary", "data/samples/sample.rdb", "--server-version", "6.2", "--json").stdout)
    assert data["totals"]["memory_bytes"] == older["memory_bytes"]
    assert_one_line_error(
        run("summary", "data/samples/sample.rsnap.parquet", "--allocator", "libc"), 1, "RSNAP"
    )
    assert_one_line_error(run("summary", "redis://127.0.0.1:1", "--allocator", "libc"), 1, "live server")


def test_row_counts_are_checked_as_options() -> None:
    """-n is checked by the command line (usage error, exit 2, naming the option), not left to the
    API's wording (``top(n=-3)``)."""
    for args in (
        ("top", "data/samples/sample.rdb", "-n", "-3"),
        ("analyze", "data/samples/sample.rdb", "-n", "x"),
    ):
        done = run(*args)
        assert done.returncode == 2 and "argument -n" in done.stderr and "top(n=" not in done.stderr
    assert run("top", "data/samples/sample.rdb", "-n", "0", "--json").returncode == 0


def test_quiet_means_no_progress_bar_for_an_rsnap_without_patterns(tmp_path: Path) -> None:
    """An RSNAP written without patterns (``convert``) gets them found on opening: with -q (or stderr
    not a terminal) no bar is drawn for that, and ``load(progress=False)`` says the same in Python."""
    from insightkit.analysis import convert, load

    path = convert(REPO / "data" / "samples" / "sample.rdb", tmp_path / "plain.rsnap.parquet", progress=False)
    for args in (("summary", str(path), "-q"), ("summary", str(path))):
        done = run(*args)
        assert done.returncode == 0 and done.stderr == "", done.stderr
    assert len(load(path, progress=False).patterns)
