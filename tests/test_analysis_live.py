"""analyze() and the CLI against live servers: credentials and values never reach output or RSNAP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from servers import Server, free_port, running_server
from test_analysis_rdb import CANARIES, _assert_no_canary, _write_canaries

from insightkit.analysis import analyze, load

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "pw-Canary-91f3e7"


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "insightkit", *args], capture_output=True, text=True, cwd=REPO, timeout=timeout
    )


@pytest.fixture
def protected() -> object:
    with running_server("redis70", password=PASSWORD) as server:
        yield server


@pytest.mark.parametrize("method", ["sync", "dump"])
def test_password_and_values_never_reach_the_rsnap(protected: Server, tmp_path: Path, method: str) -> None:
    _write_canaries(protected)
    analysis = analyze(protected.url, method=method, progress=False)
    assert analysis.metadata["method"] == method
    assert len(analysis.keys) == 8
    assert PASSWORD not in json.dumps(analysis.metadata, default=str)
    assert analysis.metadata["source"] == f"redis://127.0.0.1:{protected.port}/0"
    path = analysis.to_rsnap(tmp_path / "live.rsnap.parquet")
    raw = path.read_bytes()
    assert PASSWORD.encode() not in raw
    _assert_no_canary(raw)
    _assert_no_canary(json.dumps(load(path).keys.astype(str).values.tolist()).encode())


def test_cli_live_analyze_keeps_the_password_out(protected: Server, tmp_path: Path) -> None:
    protected.client().set("user:1:name", "x")
    out = tmp_path / "cli.rsnap.parquet"
    result = cli("analyze", protected.url, "-o", str(out), "--json", "--method", "dump")
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert PASSWORD.encode() not in out.read_bytes()
    assert json.loads(result.stdout)["totals"]["keys"] == 1


def test_client_and_host_port_sources(redis70: Server) -> None:
    redis70.client().set("a:1", "x")
    # method="dump": replica sync is covered above and waits out Redis 7.0's diskless-sync delay
    assert len(analyze(redis70.client(), method="dump", progress=False).keys) == 1
    analysis = analyze(f"127.0.0.1:{redis70.port}", method="dump", progress=False)
    assert len(analysis.keys) == 1
    totals = analysis.summary().totals  # live snapshots put the keys beside INFO
    assert totals["used_memory"] > totals["memory_bytes"] > 0
    assert "maxmemory-policy" in analysis.metadata["config"]


def test_keyspace_notifications_are_read_for_the_rules(redis70: Server) -> None:
    """notify-keyspace-events comes from CONFIG, so the keyspace-events rule can fire on a live snapshot."""
    client = redis70.client()
    client.set("a:1", "x")
    client.config_set("notify-keyspace-events", "KEA")
    try:
        analysis = analyze(redis70.client(), method="dump", progress=False)
        assert set(analysis.metadata["config"]["notify-keyspace-events"]) >= set("AKE")
        assert "keyspace-events-to-functions" in set(analysis.recommendations["rule"])
    finally:
        client.config_set("notify-keyspace-events", "")
    quiet = analyze(redis70.client(), method="dump", progress=False)
    assert "keyspace-events-to-functions" not in set(quiet.recommendations["rule"])


def test_cli_refused_connection_is_one_line() -> None:
    result = cli("analyze", f"redis://127.0.0.1:{free_port()}/0", timeout=60)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("insightkit: error: "), result.stderr


def test_cli_wrong_password_is_one_line(protected: Server) -> None:
    wrong = "not-the-Password-55"
    result = cli("analyze", f"redis://:{wrong}@127.0.0.1:{protected.port}/0")
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("insightkit: error: "), result.stderr
    assert wrong not in result.stderr and PASSWORD not in result.stderr
    assert any(word in lines[0].lower() for word in ("auth", "password", "credential"))


def test_canaries_stay_on_the_server(redis70: Server, tmp_path: Path) -> None:
    _write_canaries(redis70)
    path = analyze(redis70.url, method="dump", progress=False).to_rsnap(
        tmp_path / "x.rsnap.parquet", redact=True
    )
    _assert_no_canary(path.read_bytes())
    assert CANARIES["string"].encode() not in path.read_bytes()
