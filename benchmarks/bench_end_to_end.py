"""End to end on 10M keys written by a real Redis 7.0: RDB → key table → patterns → RSNAP → rules.

Targets (issue 9): ``analyze()`` from the RDB to RSNAP + patterns + recommendations in ≤ 20 s with a
peak RSS ≤ 1.5 GB on a 2-core machine. Three insightkit paths are measured: ``analyze()`` with its
defaults (a 10M-key RDB is past the 128 MiB from which it streams: keys into a temporary RSNAP with their
patterns, then patterns, summary and rules on DuckDB; ``to_rsnap`` copies that file), ``analyze(rdb,
rsnap=path)`` (the same, straight into the caller's file, DuckDB held to ``$IK_DUCKDB_MEMORY``, default
600MB) and ``analyze(rdb, out_of_core=False)`` (the whole key table in pandas). Every tool runs in its own
child process so its peak RSS (``wait4`` rusage) is its own. Peers:

- rdb-py (Rust): parses every key and value into Python objects — no memory estimate, no report; on
  the same 10M-key Redis 7.0 file.
- rdbtools (pure Python, ``rdb -c memory``, with python-lzf): the classic memory report; it reads RDB
  ≤ 9 only, so it runs on a 1M-key file of the same mix written by Redis 6.2, next to insightkit and
  rdb-py on that file.

Usage: ``python benchmarks/bench_end_to_end.py [--keys 10000000] [--peer-keys 1000000] [--skip-rdbtools]``.
Data is generated once under ``$IK_BENCH_DIR`` (default /tmp/ik-bench) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# --- children: each prints one JSON line ------------------------------------------------------------


class _Stages:
    """Seconds per named stage, timed as each call runs."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def run(self, name: str, work: Any) -> Any:
        t = time.perf_counter()
        result = work()
        self.seconds[name] = time.perf_counter() - t
        return result

    def since_start(self, name: str) -> None:
        self.seconds[name] = time.perf_counter() - self.started

    def report(self, analysis: Any, rsnap_bytes: int, **extra: Any) -> dict[str, Any]:
        """The child's JSON: what the Analysis found (patterns, findings) and the stage times."""
        return {
            "keys": int(self.run("summary", analysis.summary).totals["keys"]),
            "patterns": len(self.run("aggregate_patterns", lambda: analysis.patterns)),
            "findings": len(self.run("rules", lambda: analysis.recommendations)),
            "rsnap_bytes": rsnap_bytes,
            **extra,
            "stages": self.seconds,
            "seconds": time.perf_counter() - self.started,
        }


def _child_insightkit(rdb: str) -> dict[str, Any]:
    """What a script does: ``analyze(rdb)`` with the defaults (out of core from 128 MiB of RDB), then
    the RSNAP written to a path of its own, summary, patterns and recommendations."""
    import insightkit

    stages = _Stages()
    with tempfile.TemporaryDirectory() as tmp, insightkit.analyze(rdb, progress=False) as analysis:
        stages.since_start("analyze")
        path = stages.run("write_rsnap", lambda: analysis.to_rsnap(Path(tmp) / "out.rsnap.parquet"))
        return stages.report(analysis, path.stat().st_size, out_of_core=analysis.out_of_core)


def _child_in_memory(rdb: str) -> dict[str, Any]:
    """``analyze(rdb, out_of_core=False)``: the whole key table in pandas."""
    import insightkit

    stages = _Stages()
    analysis = insightkit.analyze(rdb, progress=False, out_of_core=False)
    stages.since_start("decode")
    stages.run("assign_patterns", lambda: analysis.keys)
    with tempfile.TemporaryDirectory() as tmp:
        path = stages.run("write_rsnap", lambda: analysis.to_rsnap(Path(tmp) / "out.rsnap.parquet"))
        return stages.report(analysis, path.stat().st_size)


def _child_streaming(rdb: str) -> dict[str, Any]:
    """``analyze(rdb, rsnap=path)``: the keys streamed into the caller's RSNAP with their patterns
    (two passes), then summary, patterns and rules on DuckDB over it."""
    import insightkit

    stages = _Stages()
    limit = os.environ.get("IK_DUCKDB_MEMORY", "600MB")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.rsnap.parquet"
        with insightkit.analyze(rdb, progress=False, rsnap=path, memory_limit=limit) as analysis:
            stages.since_start("decode_patterns_write_rsnap")
            return stages.report(analysis, path.stat().st_size)


def _child_rdbpy(rdb: str) -> dict[str, Any]:
    import rdb as rdbpy

    t0 = time.perf_counter()
    keys = 0
    for item in rdbpy.RdbDecoder(rdb):
        if "key" in item and item.get("type") not in ("aux_field",):
            keys += 1
    return {"keys": keys, "seconds": time.perf_counter() - t0}


CHILDREN = {
    "insightkit": _child_insightkit,
    "in-memory": _child_in_memory,
    "streaming": _child_streaming,
    "rdb-py": _child_rdbpy,
}


# --- parent ------------------------------------------------------------------------------------------


def _measure(argv: list[str], timeout: float) -> dict[str, Any]:
    """Run a child; its JSON line (if any), wall time and peak RSS from wait4."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                return {"timeout": timeout, "wall": time.perf_counter() - started}
            time.sleep(0.05)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        lines = out.read().decode(errors="replace").strip().splitlines()
    result: dict[str, Any] = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    result.update(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,
        exit=process.returncode,
    )
    return result


def _child_argv(tool: str, rdb: Path) -> list[str]:
    return [sys.executable, __file__, "--child", tool, str(rdb)]


def _rdbtools_argv(rdb: Path) -> list[str]:
    script = "import sys; from rdbtools.cli.rdb import main; sys.argv = sys.argv[1:]; main()"
    return [sys.executable, "-c", script, "rdb", "-c", "memory", "-f", os.devnull, str(rdb)]


def _dataset(directory: Path, name: str, keys: int, flavour: str) -> Path:
    import e2e_dataset

    path = directory / name
    if not path.exists():
        e2e_dataset.make(path, keys, flavour=flavour)
    return path


def _row(tool: str, data: str, r: dict[str, Any], base: dict[str, Any] | None) -> str:
    if "timeout" in r:
        return f"| {tool} | {data} | > {r['timeout']:.0f} s (stopped) | – | – | – |"
    if r.get("exit"):
        return f"| {tool} | {data} | failed (exit {r['exit']}) | – | – | – |"
    ratio = f"{r['wall'] / base['wall']:.1f}×" if base and base.get("wall") else "1.0×"
    return f"| {tool} | {data} | {r['wall']:.1f} s | {r['cpu']:.1f} s | {r['peak_rss_mb']:.0f} MB | {ratio} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=10_000_000)
    parser.add_argument("--peer-keys", type=int, default=1_000_000)
    parser.add_argument("--skip-rdbtools", action="store_true")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--child", nargs=2, metavar=("TOOL", "RDB"))
    args = parser.parse_args()
    if args.child:
        tool, rdb = args.child
        result = CHILDREN[tool](rdb)
        result["self_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return

    directory = Path(os.environ.get("IK_BENCH_DIR", "/tmp/ik-bench"))
    big = _dataset(directory, f"e2e-{args.keys // 1_000_000}m.rdb", args.keys, "redis70")
    peer = _dataset(directory, f"e2e-{args.peer_keys // 1_000_000}m-redis62.rdb", args.peer_keys, "redis62")
    rows = ["| tool | data | wall | CPU | peak RSS | wall vs insightkit |", "|---|---|---|---|---|---|"]
    ik = _measure(_child_argv("insightkit", big), args.timeout)
    print("insightkit", json.dumps(ik), file=sys.stderr)
    data = f"{ik.get('keys', 0):,} keys, Redis 7.0, {big.stat().st_size / 2**20:.0f} MiB"
    rows.append(_row("insightkit `analyze()` (defaults) → RSNAP + patterns + rules", data, ik, None))
    stream = _measure(_child_argv("streaming", big), args.timeout)
    print("streaming", json.dumps(stream), file=sys.stderr)
    rows.append(_row("insightkit `analyze(rsnap=path)` (DuckDB 600 MB)", data, stream, ik))
    memory = _measure(_child_argv("in-memory", big), args.timeout)
    print("in-memory", json.dumps(memory), file=sys.stderr)
    rows.append(_row("insightkit `analyze(out_of_core=False)`", data, memory, ik))
    rp = _measure(_child_argv("rdb-py", big), args.timeout)
    rows.append(_row("rdb-py (parse only)", data, rp, ik))
    peer_data = f"{args.peer_keys:,} keys, Redis 6.2, {peer.stat().st_size / 2**20:.0f} MiB"
    ik_peer = _measure(_child_argv("insightkit", peer), args.timeout)
    rows.append(_row("insightkit analyze → RSNAP + patterns + rules", peer_data, ik_peer, None))
    rows.append(
        _row("rdb-py (parse only)", peer_data, _measure(_child_argv("rdb-py", peer), args.timeout), ik_peer)
    )
    if not args.skip_rdbtools:
        rows.append(
            _row("rdbtools `rdb -c memory`", peer_data, _measure(_rdbtools_argv(peer), args.timeout), ik_peer)
        )
    print("\n".join(rows))
    for name, result in (("analyze()", ik), ("analyze(rsnap=…)", stream), ("in memory", memory)):
        if "stages" in result:
            stages = ", ".join(f"{k} {v:.1f} s" for k, v in result["stages"].items())
            ok = result["wall"] <= 20 and result["peak_rss_mb"] <= 1536
            print(f"\n{name} stages: {stages}; targets (≤ 20 s, ≤ 1.5 GB): {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
