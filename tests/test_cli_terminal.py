"""The insightkit command as a person sees it in an 80-column terminal (issue 19): run as subprocesses
with COLUMNS=80 on the bundled sample and on a real unprotected Redis 7.0, read back what is printed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import Server, find_binary, running_server

from insightkit._text import text_columns

REPO = Path(__file__).resolve().parent.parent
SAMPLE = "data/samples/sample.rdb"
SAMPLE_RSNAP = "data/samples/sample.rsnap.parquet"
EVIL = "evil\x1b[2J\r\nkey"
SECRET = "Zq9-cli-terminal-secret"


def run(*args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run(
        [sys.executable, "-m", "insightkit", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
    )


def widest(text: str) -> int:
    return max((text_columns(line) for line in text.splitlines()), default=0)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


# --- the bundled sample ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_analyze() -> str:
    return ok(run("analyze", SAMPLE))


def test_analyze_fits_80_columns_and_prints_every_fix(sample_analyze: str) -> None:
    assert widest(sample_analyze) <= 80, sample_analyze
    assert sample_analyze.splitlines()[0] == f"source: {SAMPLE} · method: file · allocator: jemalloc"
    assert "keys: 4,184" in sample_analyze  # counts carry thousands separators
    findings = json.loads(ok(run("analyze", SAMPLE, "--json")))["recommendations"]
    assert findings, "the sample has findings"
    for finding in findings:
        assert f"] {finding['rule']} — " in sample_analyze
        first_line = finding["fix"].strip().splitlines()[0]
        assert "fix: " + " ".join(first_line.split()[:4]) in " ".join(sample_analyze.split())


def test_wide_opts_out(sample_analyze: str) -> None:
    wide = ok(run("top", SAMPLE, "-n", "5", "--wide"))
    assert widest(wide) > 80 and "pattern" in wide  # the narrow table leaves the pattern out
    narrow = ok(run("top", SAMPLE, "-n", "5"))
    assert widest(narrow) <= 80 and "feed:bot0:timeline" in narrow


@pytest.mark.parametrize("columns", [80, 60])
def test_summary_top_and_diff_fit(columns: int) -> None:
    for args in (
        ("summary", SAMPLE_RSNAP),
        ("top", SAMPLE, "-n", "30", "--by", "num_elements"),
        ("diff", SAMPLE_RSNAP, SAMPLE),
    ):
        out = ok(run(*args, columns=columns))
        assert widest(out) <= columns, (args, out)
    head = ok(run("top", SAMPLE_RSNAP, "-n", "1", columns=columns)).splitlines()[0]
    assert head.startswith(f"source: {SAMPLE_RSNAP} (RSNAP)")


def test_verbose_logs_the_steps_to_stderr() -> None:
    quiet = run("top", SAMPLE, "-n", "1")
    assert quiet.stderr == ""
    loud = run("top", SAMPLE, "-n", "1", "-v")
    assert "insightkit: source: RDB file" in loud.stderr
    assert re.search(r"insightkit: decoded 4,184 keys \(method file\) in [0-9.]+ s", loud.stderr)
    assert loud.stdout == quiet.stdout  # logs never mix into what scripts read


def test_errors_stay_one_line_without_traceback() -> None:
    for args in (("analyze", "/nonexistent.rdb", "-v"), ("top", SAMPLE, "--by", "colour", "--wide")):
        result = run(*args)
        assert result.returncode == 1
        errors = [line for line in result.stderr.splitlines() if line.startswith("insightkit: error: ")]
        assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr


# --- a real server: Redis 7.0, no password, no maxmemory ------------------------------------------


@pytest.fixture(scope="module")
def open_server() -> Iterator[Server]:
    if find_binary("redis70") is None:
        pytest.skip("no redis70 binary")
    with running_server("redis70") as server:
        client = server.client()
        pipe = client.pipeline(transaction=False)
        for i in range(1200):
            pipe.set(f"cache:item:{i}", "x" * 40)
        pipe.set(EVIL, "boom")
        pipe.hset("\u202eevil:bidi", mapping={"a": "1"})
        pipe.execute()
        base = ["on", f">{SECRET}", "~*", "+@read", "+@connection", "+info", "+select", "+scan"]
        base += ["+dump", "+pttl", "+object", "+config|get", "+cluster|info", "+replconf", "+client"]
        client.execute_command("ACL", "SETUSER", "reader", *base)  # no SYNC/PSYNC: DUMP fallback
        yield server


def test_server_level_findings_with_their_fix(open_server: Server) -> None:
    human = ok(run("analyze", open_server.url))
    assert widest(human) <= 80, human
    assert (
        human.splitlines()[0] == f"source: redis://127.0.0.1:{open_server.port}/0 (every db) · method: sync"
    )
    data = json.loads(ok(run("analyze", open_server.url, "--json", "-n", "1")))
    findings = {f["rule"]: f for f in data["recommendations"]}
    for rule in ("no-password", "maxmemory-unset"):
        assert findings[rule]["offending_keys"] == 0 and findings[rule]["fix"], rule
        assert f"] {rule} — " in human
        fix_start = " ".join(findings[rule]["fix"].split()[:3])
        assert "fix: " + fix_start in " ".join(human.split()), rule
    assert data["recommendations"][0]["rule"] == "no-password"  # security first
    assert human.index("] no-password") < human.index("] maxmemory-unset")
    assert data["snapshot"]["method"] == "sync"
    assert "1,200 keys" in human  # the cache keys without a TTL, with separators


def test_dump_fallback_names_its_reason(open_server: Server, tmp_path: Path) -> None:
    url = f"redis://reader:{SECRET}@127.0.0.1:{open_server.port}/0"
    result = run("top", url, "-n", "3", "-v")
    out = ok(result)
    header = " ".join(line.strip() for line in out.split("\nTop ")[0].splitlines())
    assert header.startswith(f"source: redis://127.0.0.1:{open_server.port}/0 (every db) · method: dump")
    assert "method: dump (fell back from sync: PSYNC refused (NOPERM this user" in header
    assert widest(out) <= 80 and SECRET not in out + result.stderr
    assert "falling back to SCAN+DUMP" in result.stderr and "method dump" in result.stderr
    rsnap = tmp_path / "reader.rsnap.parquet"
    snapshot = json.loads(ok(run("analyze", url, "--json", "-o", str(rsnap))))["snapshot"]
    assert snapshot["method"] == "dump" and "NOPERM" in snapshot["fallback_reason"]
    # the RSNAP keeps how it was taken: its header names the original method and the reason
    kept = ok(run("top", str(rsnap), "-n", "1"))
    header = "".join(kept.split("\nTop ")[0].split())  # a long path may break anywhere: compare unspaced
    assert header.startswith(f"source:{rsnap}(RSNAP)·snapshotofredis://127.0.0.1:")
    assert "·method:dump(fellbackfromsync:PSYNCrefused(NOPERM" in header


def test_hostile_key_names_print_escaped(open_server: Server) -> None:
    for args in (("top", open_server.url, "-n", "2000"), ("top", open_server.url, "-n", "2000", "--wide")):
        out = ok(run(*args))
        assert "\x1b" not in out and "\r" not in out and "\u202e" not in out
        assert '"evil\\x1b[2J\\r\\nkey"' in out
        assert '"\\u202eevil:bidi"' in out
        lines = [line for line in out.splitlines() if "evil" in line]
        assert len(lines) == 2  # one row each: the CR/LF in the name did not split it
    rows = json.loads(ok(run("top", open_server.url, "-n", "2000", "--json")))
    assert EVIL in {row["key"] for row in rows}  # JSON keeps the real name


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_slow_steps_show_an_elapsed_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rule evaluation has no counter: a bar with the elapsed time once it passes a second, cleared
    when done; nothing for a quick step, nothing with --quiet."""
    from insightkit import cli

    shown = {}
    for pause, quiet in ((0.3, False), (2.2, False), (2.2, True)):
        terminal = _Terminal()
        monkeypatch.setattr(sys, "stderr", terminal)
        with cli._step(argparse.Namespace(quiet=quiet, json=False), "evaluating rules"):
            time.sleep(pause)
        shown[(pause, quiet)] = terminal.getvalue()
    assert shown[(0.3, False)] == "" and shown[(2.2, True)] == ""
    assert "evaluating rules: 00:01" in shown[(2.2, False)]
    assert shown[(2.2, False)].endswith("\r")  # the line is cleared, not left behind


def test_the_header_says_which_dbs_a_live_snapshot_holds(open_server: Server) -> None:
    """``/0`` in a URL is the whole server (redis-py writes it for "the server"), any other db narrows
    the snapshot to that db: the first line says which, rather than a bare ``/0``."""
    whole = ok(run("summary", open_server.url, "--method", "dump")).splitlines()[0]
    assert whole.startswith(f"source: redis://127.0.0.1:{open_server.port}/0 (every db) · method: dump")
    one = ok(run("summary", open_server.url.replace("/0", "/3"), "--method", "dump")).splitlines()[0]
    assert one.startswith(f"source: redis://127.0.0.1:{open_server.port}/3 (db 3 only) · method: dump")
