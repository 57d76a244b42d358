"""The first thing a user tries: a brand-new server, an empty db, a db that does not exist."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from servers import running_server

import insightkit
from insightkit.errors import SourceError


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "insightkit", *args], capture_output=True, text=True, timeout=300, env=env
    )


def test_an_empty_db_prints_empty_tables_everywhere(tmp_path: Path) -> None:
    with running_server("redis70") as server:
        server.client().set("elsewhere", "db 0 has a key, db 5 none")
        url = server.url.rsplit("/", 1)[0] + "/5"
        for command in (
            ["analyze", url, "-o", str(tmp_path / "empty.rsnap")],
            ["summary", url],
            ["top", url],
        ):
            run = _cli(*command)
            assert run.returncode == 0, run.stderr
            assert "Traceback" not in run.stderr
            # every line fits, but the one naming the RSNAP's path (a path is not cut)
            assert all(len(line) <= 80 for line in run.stdout.splitlines() if "written to" not in line)
        report = _cli("report", url, "-o", str(tmp_path / "empty.html"))
        assert report.returncode == 0, report.stderr
        assert (
            "no patterns" in (tmp_path / "empty.html").read_text()
            or "0 keys" in (tmp_path / "empty.html").read_text()
        )
        summary = json.loads(_cli("summary", str(tmp_path / "empty.rsnap"), "--json").stdout)
        assert summary["totals"]["keys"] == 0
        loaded = insightkit.load(tmp_path / "empty.rsnap")
        assert loaded.patterns.empty and str(loaded.patterns["memory_bytes"].dtype) == "int64[pyarrow]"


def test_a_db_the_server_lacks_or_a_path_that_is_no_db_is_refused() -> None:
    with running_server("redis70") as server:
        base = server.url.rsplit("/", 1)[0]
        for method in ("sync", "dump"):
            run = _cli("analyze", base + "/99", "--method", method)
            assert run.returncode == 1
            assert run.stderr.strip().endswith("db 99 does not exist (the server has databases 0–15)")
        run = _cli("analyze", base + "/abc")
        assert run.returncode == 1
        assert run.stderr.strip() == "insightkit: error: the db in a redis:// URL must be a number, not 'abc'"
        with pytest.raises(SourceError, match="db 99 does not exist"):
            insightkit.analyze(base + "/99", progress=False)
