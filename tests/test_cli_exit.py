"""The CLI ends without the interpreter's teardown (``insightkit.__main__.finish``), and nothing a clean
exit does for the world outside is lost: output, exit code, atexit handlers, threads waited for, DuckDB's
spill files removed, the RSNAP complete."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq

import insightkit

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "samples" / "sample.rdb"


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_finish_runs_the_exit_handlers_flushes_and_keeps_the_code(tmp_path: Path) -> None:
    done = _python(
        """
        import atexit, sys
        from insightkit.__main__ import finish
        atexit.register(print, "handler ran")
        sys.stdout.write("x" * 200_000)  # more than any pipe buffer: still all there
        print("", file=sys.stderr, end="to stderr")
        finish(3)
        print("never")
        """,
        tmp_path,
    )
    assert done.returncode == 3
    assert done.stdout == "x" * 200_000 + "handler ran\n"
    assert done.stderr == "to stderr"


def test_a_running_thread_gets_the_ordinary_exit(tmp_path: Path) -> None:
    done = _python(
        """
        import threading, time
        from insightkit.__main__ import finish
        threading.Thread(target=lambda: (time.sleep(0.5), print("thread done", flush=True))).start()
        finish(4)
        """,
        tmp_path,
    )
    assert done.returncode == 4
    assert done.stdout == "thread done\n"


def test_duckdb_spill_files_go_with_the_process(tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    spill.mkdir()
    done = _python(
        f"""
        import os
        from insightkit.__main__ import finish
        from insightkit.table.keytable import connect
        con = connect(memory_limit="40MB", threads=1, temp_directory={str(spill)!r})
        cur = con.cursor()
        cur.execute("CREATE TEMP TABLE t AS SELECT range AS a, md5(range::VARCHAR) AS b FROM range(2000000)")
        cur.execute("SELECT b, count(*) FROM t GROUP BY b ORDER BY b LIMIT 1").fetchall()
        print(len(os.listdir({str(spill)!r})))
        finish(0)
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 2  # the database did spill
    assert list(spill.iterdir()) == []


def test_the_cli_writes_its_rsnap_and_prints_everything(tmp_path: Path) -> None:
    out = tmp_path / "sample.rsnap"
    done = subprocess.run(
        [sys.executable, "-m", "insightkit", "analyze", str(SAMPLE), "-o", str(out), "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("}")
    assert pq.read_metadata(out).num_rows == 4184
    assert len(insightkit.load(out).keys) == 4184
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample.rsnap"]


def test_errors_still_exit_through_the_cli_codes(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "insightkit", "analyze", str(tmp_path / "missing.rdb")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("insightkit: error:")
