"""How long ``insightkit analyze`` takes on the bundled sample, against the import floor.

    python benchmarks/bench_cli_startup.py [--runs 3] [--compare /path/to/other/checkout]

The floor is ``python -c "import pandas, pyarrow, duckdb"``: what any run of the CLI pays before
insightkit does anything. The CLI decodes data/samples/sample.rdb (4,184 keys), assigns patterns, runs
every rule and prints the summary. Runs alternate (floor, CLI, floor, CLI, ...) so that both see the
same machine load; the medians and their ratio are printed, wall clock and CPU (user + sys) apart, as
CPU time moves less than wall time on a shared machine. Byte-compiled modules are cached (under a
temporary prefix when PYTHONDONTWRITEBYTECODE is set), as an installed package would have them.
Issue 20's target: CLI <= 1.6x the floor.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOOR = [sys.executable, "-c", "import pandas, pyarrow, duckdb"]
CLI = [sys.executable, "-m", "insightkit", "analyze", "data/samples/sample.rdb"]


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one child run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compare", type=Path, help="another checkout (e.g. main) to time the same way")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cache = tempfile.mkdtemp(prefix="insightkit-pyc-")
    env["PYTHONPYCACHEPREFIX"] = env.get("PYTHONPYCACHEPREFIX", cache)
    checkouts = {"cli": ROOT, **({"compare": args.compare.resolve()} if args.compare else {})}
    for cwd in checkouts.values():
        _run(CLI, cwd, env)  # warm-up: byte-compile, fill the page cache
    _run(FLOOR, ROOT, env)
    times: dict[str, list[tuple[float, float]]] = {"floor": [], **{name: [] for name in checkouts}}
    for _ in range(args.runs):
        times["floor"].append(_run(FLOOR, ROOT, env))
        for name, cwd in checkouts.items():
            times[name].append(_run(CLI, cwd, env))
    floor_wall = statistics.median(w for w, _ in times["floor"])
    floor_cpu = statistics.median(c for _, c in times["floor"])
    for name, runs in times.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(
            f"{name:8s} wall {wall:5.2f} s ({wall / floor_wall:.2f}x floor)   "
            f"cpu {cpu:5.2f} s ({cpu / floor_cpu:.2f}x floor)   runs: "
            + ", ".join(f"{w:.2f}" for w, _ in runs)
        )


if __name__ == "__main__":
    main()
