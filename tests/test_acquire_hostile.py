"""Hostile and broken servers: every one ends within its limit, in one insightkit error naming the
server, with nothing left behind; the CLI prints one line. Fake servers: tests/hostile_servers.py."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from hostile_servers import (
    MALFORMED_DUMPS,
    BadDump,
    EndlessDump,
    EndlessInfo,
    FakeRedis,
    HttpServer,
    KeepaliveForever,
    ScanEndless,
    ScanSameCursor,
    SshServer,
    TlsPort,
    Trickle,
    serve,
)

from insightkit.acquire import snapshot
from insightkit.errors import (
    BadDumpPayload,
    LimitExceeded,
    ProtocolViolation,
    SnapshotError,
    SourceError,
)

REPO = Path(__file__).resolve().parent.parent


def run_cli(
    *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """``python -m insightkit`` as a subprocess: (result, wall seconds, peak RSS of that child in KiB)."""
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "insightkit", *args],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=REPO,
            env={**os.environ, **(env or {})},
        )
        deadline = started + 120
        while True:  # wait4 gives this child's own rusage (RUSAGE_CHILDREN mixes in every server)
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError("the CLI did not end within 120 s")
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read())
    return result, time.monotonic() - started, usage.ru_maxrss


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("insightkit: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# (fake server, CLI flags, what the one line says, wall-time bound in seconds)
SCENARIOS: dict[str, tuple[Callable[[], FakeRedis], list[str], str, float]] = {
    "endless INFO": (EndlessInfo, [], "max_reply_bytes", 30),
    "one byte every 0.4 s": (Trickle, ["--stall-timeout", "1.5"], "no progress for 1.5s", 20),
    "keepalives forever": (KeepaliveForever, ["--method", "sync", "--timeout", "3"], "timeout of 3s", 20),
    "SCAN cursor repeats": (ScanSameCursor, ["--method", "dump"], "came back a second time", 20),
    "SCAN never returns to 0": (ScanEndless, ["--method", "dump"], "did not return to cursor 0", 40),
    "HTTP port": (HttpServer, [], "does not speak the Redis protocol (got 'HTTP/1.1 400 Bad Request", 20),
    "SSH port": (SshServer, [], "does not speak the Redis protocol (got 'SSH-2.0-OpenSSH", 20),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_cli_against_hostile_server(name: str, tmp_path: Path) -> None:
    factory, flags, expected, bound = SCENARIOS[name]
    out = tmp_path / "out"
    out.mkdir()
    with serve(factory()) as server:
        result, elapsed, _ = run_cli("analyze", server.url, "-o", str(out / "x.rsnap"), "-q", *flags)
    line = one_error_line(result)
    assert expected in line and server.address in line, line
    assert elapsed < bound, (elapsed, line)
    assert list(out.iterdir()) == []


def test_endless_reply_is_cut_at_the_cap_not_in_memory() -> None:
    """The error fires once the cap is passed: the server got to write little more than the cap (plus
    what the kernel buffers), and the client never held the reply."""
    cap = 1 << 20
    with serve(EndlessInfo()) as server:
        started = time.monotonic()
        with pytest.raises(LimitExceeded, match="max_reply_bytes") as info:
            snapshot(server.url, progress=False, max_reply_bytes=cap)
        assert info.value.limit == "reply_size"
        assert time.monotonic() - started < 10
        assert server.sent < cap + (16 << 20)


def test_endless_dump_is_cut_at_max_dump_bytes() -> None:
    cap = 2 << 20
    with serve(EndlessDump()) as server:
        with pytest.raises(LimitExceeded, match=r"max_dump_bytes.*method='sync'") as info:
            snapshot(server.url, method="dump", progress=False, max_dump_bytes=cap)
        assert info.value.limit == "reply_size"
        assert server.sent < cap + (16 << 20)


def test_cli_memory_stays_bounded_on_an_endless_reply() -> None:
    with serve(EndlessInfo()) as server:
        result, _, rss_kib = run_cli("summary", server.url, "-q")
    one_error_line(result)
    assert server.sent > 64 << 20  # the default cap (64 MiB) was reached…
    assert rss_kib < 1_500_000  # …and the process stayed far below the 8 GB seen before the cap


def test_keepalives_count_as_no_progress_after_sync_wait(tmp_path: Path) -> None:
    target = tmp_path / "x.rdb"
    with serve(KeepaliveForever()) as server:
        started = time.monotonic()
        with pytest.raises(LimitExceeded, match="only keepalives") as info:
            snapshot(server.url, target, method="sync", progress=False, sync_wait=1)
    assert info.value.limit == "sync_wait"
    assert time.monotonic() - started < 10
    assert list(tmp_path.iterdir()) == []


def test_cli_sync_wait_ends_a_sync_that_never_starts() -> None:
    with serve(KeepaliveForever()) as server:
        result, wall, _ = run_cli("summary", server.url, "--method", "sync", "--sync-wait", "1", "-q")
    assert "sync_wait 1s" in one_error_line(result)
    assert wall < 10


def test_trickle_is_a_stall_and_the_timeout_is_overall() -> None:
    with serve(Trickle()) as server:
        started = time.monotonic()
        with pytest.raises(LimitExceeded) as info:
            snapshot(server.url, progress=False, stall_timeout=1)
        assert info.value.limit == "stall" and time.monotonic() - started < 5
        # the stall window alone would let this trickle run for 60 s; timeout= ends it first
        started = time.monotonic()
        with pytest.raises(LimitExceeded, match="timeout of 1s") as info:
            snapshot(server.url, progress=False, timeout=1)
        assert info.value.limit == "timeout" and time.monotonic() - started < 5


def test_scan_cycle_checks() -> None:
    for factory, text in ((ScanSameCursor, "came back"), (ScanEndless, "did not return to cursor 0")):
        with serve(factory()) as server, pytest.raises(LimitExceeded, match=text) as info:
            snapshot(server.url, method="dump", progress=False)
        assert info.value.limit == "scan"


@pytest.mark.parametrize("factory", [HttpServer, SshServer])
def test_not_redis_is_a_protocol_violation(factory: Callable[[], FakeRedis]) -> None:
    with serve(factory()) as server, pytest.raises(ProtocolViolation, match="does not speak"):
        snapshot(server.url, progress=False)


def test_tls_port_suggests_rediss() -> None:
    with serve(TlsPort()) as server, pytest.raises(ProtocolViolation, match="use rediss://"):
        snapshot(server.url, progress=False)


@pytest.mark.parametrize("case", sorted(MALFORMED_DUMPS))
def test_malformed_dump_replies(case: str, tmp_path: Path) -> None:
    dump_reply, pttl_reply = MALFORMED_DUMPS[case]
    target = tmp_path / "x.rdb"
    with serve(BadDump(dump_reply, pttl_reply)) as server:
        with pytest.raises(SnapshotError, match="key b'k'") as info:
            snapshot(server.url, target, method="dump", progress=False)
        assert isinstance(info.value, BadDumpPayload | ProtocolViolation)
        assert server.address in str(info.value)
        result, _, _ = run_cli("summary", server.url, "-q", "--method", "dump")
    line = one_error_line(result)
    assert "key b'k'" in line
    assert list(tmp_path.iterdir()) == []


def test_dump_errors_name_the_payload_family() -> None:
    """A Redis payload is never called Valkey (and the other way round)."""
    from hostile_servers import bulk, dump_payload

    cases = ((16, "Redis RDB version 16"), (81, "Valkey RDB version 81"), (80, "Valkey RDB version 80, but"))
    for version, family in cases:
        server = BadDump(bulk(dump_payload(version=version)))
        with serve(server), pytest.raises(BadDumpPayload, match=family) as info:
            snapshot(server.url, method="dump", progress=False)
        assert "the server says it is Redis 7.0.15" in str(info.value)


def test_unsupported_schemes_are_named() -> None:
    import insightkit

    for url in ("http://127.0.0.1:8080/", "https://user:secret@example.com/x", "ssh://host"):
        with pytest.raises(SourceError, match="unsupported source scheme") as info:
            insightkit.analyze(url, progress=False)
        assert "secret" not in str(info.value)
        with pytest.raises(SourceError, match="unsupported source scheme"):
            snapshot(url, progress=False)
    result, _, _ = run_cli("summary", "http://127.0.0.1:1/")
    assert "unsupported source scheme http://" in one_error_line(result)


def test_limits_are_validated() -> None:
    from insightkit.errors import ConfigurationError

    for bad in ({"timeout": 0}, {"stall_timeout": -1}, {"sync_wait": 0}, {"max_reply_bytes": 10}):
        with pytest.raises(ConfigurationError):
            snapshot("redis://127.0.0.1:1", progress=False, **bad)  # type: ignore[arg-type]


def test_connection_pool_is_a_source() -> None:
    from insightkit.acquire.sources import parse_source

    pool = redis.ConnectionPool(host="10.0.0.5", port=6380, db=3, password="pw", username="u")
    spec = parse_source(pool, {})
    assert (spec.host, spec.port, spec.db, spec.password, spec.username) == ("10.0.0.5", 6380, 3, "pw", "u")
    assert "pw" not in repr(spec) and "pw" not in spec.display
    assert parse_source(redis.ConnectionPool(host="h", port=1), {}).db is None  # db 0: every db
    assert parse_source(redis.Redis(host="h", port=1, db=2), {}).db == 2
    assert parse_source("redis://h:1/3", {}).db == 3
    assert parse_source("redis://h:1/0", {}).db is None
    assert parse_source("redis://h:1/3", {"db": 0}).db == 0  # an explicit option wins, 0 included


def test_analyze_takes_the_limits_too() -> None:
    import insightkit

    with serve(Trickle()) as server:
        started = time.monotonic()
        with pytest.raises(LimitExceeded, match="timeout of 1s"):
            insightkit.analyze(server.url, progress=False, timeout=1)
        assert time.monotonic() - started < 5
