"""Writing -o where it cannot go: one clear line naming the target, nothing left beside it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import insightkit
from insightkit._files import check_output_path
from insightkit.errors import RsnapError, SnapshotError

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "sample.rdb"


def _cli(*args: str, limit_bytes: int | None = None) -> subprocess.CompletedProcess[str]:
    prelude = ""
    if limit_bytes is not None:  # a disk that fills up: the file-size limit, with SIGXFSZ ignored
        prelude = (
            "import resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit_bytes}, {limit_bytes})); "
        )
    code = prelude + f"from insightkit.cli import main; raise SystemExit(main({list(args)!r}))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_a_fifo_is_refused_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "out.rsnap"
    os.mkfifo(fifo)
    run = _cli("analyze", str(SAMPLE), "-o", str(fifo))
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"insightkit: error: {fifo}: is not a regular file (a device, FIFO or socket); give a file path to write to"
    ]
    assert fifo.is_fifo() and os.listdir(tmp_path) == ["out.rsnap"]


def test_a_directory_target_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "existing"
    target.mkdir()
    run = _cli("analyze", str(SAMPLE), "-o", str(target))
    assert run.returncode == 1
    assert run.stderr.strip() == f"insightkit: error: {target}: is a directory; give a file path to write to"
    assert sorted(os.listdir(tmp_path)) == ["existing"] and not os.listdir(target)


def test_a_full_disk_names_the_target_not_our_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "out.rsnap"
    run = _cli("analyze", str(SAMPLE), "-o", str(target), limit_bytes=20_000)
    assert run.returncode == 1
    assert run.stderr.strip() == f"insightkit: error: {target}: cannot write: File too large"
    assert os.listdir(tmp_path) == []


def test_the_library_raises_its_own_errors(tmp_path: Path) -> None:
    analysis = insightkit.analyze(SAMPLE)
    with pytest.raises(RsnapError, match="is a directory"):
        analysis.to_rsnap(tmp_path)
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(SnapshotError, match="not a regular file"):
        check_output_path(tmp_path / "pipe", SnapshotError)
    check_output_path(tmp_path / "new.rdb", SnapshotError)  # a new name is fine
    assert sorted(os.listdir(tmp_path)) == ["pipe"]


def test_the_source_is_never_overwritten_by_its_own_rsnap(tmp_path: Path) -> None:
    rdb = tmp_path / "dump.rdb"
    rdb.write_bytes(SAMPLE.read_bytes())
    for extra in ([], ["--stream"]):
        run = _cli("analyze", str(rdb), *extra, "-o", str(rdb))
        assert run.returncode == 1
        assert run.stderr.strip() == (
            f"insightkit: error: {rdb}: is the source being analyzed; write the RSNAP to another path"
        )
        assert rdb.read_bytes() == SAMPLE.read_bytes() and os.listdir(tmp_path) == ["dump.rdb"]
