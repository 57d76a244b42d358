"""``benchmarks/bench_analyze_floor.py`` still runs against the code it measures (it reaches into the
rules' census and the pattern table's scan, whose names may move)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_floor_benchmark_runs_on_the_sample() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_analyze_floor.py"),
            "--rdb",
            str(ROOT / "data" / "samples" / "sample.rdb"),
            "--rounds",
            "1",
            "--duckdb-threads",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"^4,184 keys, \d+ key rules counted", done.stdout, re.M), done.stdout
    for stage in ("decode", "hold", "shapes", "cells", "census"):
        assert re.search(rf"^  {stage} +\d+\.\d{{3}}", done.stdout, re.M), done.stdout
    assert re.search(r"x the bare decode", done.stdout), done.stdout
