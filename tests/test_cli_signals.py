"""SIGTERM and SIGHUP during ``insightkit analyze --stream`` clean up as Ctrl-C does: no spill, template
codes, partial RSNAP or temporary directory left, exit code 128 + the signal's number."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from big_rdb import write_many_keys

import insightkit
from insightkit.interrupts import Terminated, terminate_cleanly

REPO = Path(__file__).resolve().parent.parent

LIBRARY_SCRIPT = """
import sys
import insightkit
from insightkit.interrupts import Terminated
try:
    with insightkit.terminate_cleanly():
        with insightkit.analyze(sys.argv[1], out_of_core=True, rsnap=sys.argv[2], progress=False) as a:
            a.summary()
except Terminated as exc:
    sys.exit(exc.exit_code)
"""


@pytest.fixture(scope="module")
def big_rdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300k keys: the streaming analysis takes seconds, decoding the file twice."""
    return write_many_keys(tmp_path_factory.mktemp("big") / "big.rdb", 300_000)


def _names(*roots: Path) -> list[str]:
    return [name for root in roots for _, dirs, files in os.walk(root) for name in dirs + files]


def _interrupt_when(
    command: list[str], ready: Callable[[int], bool], signum: int, env: dict[str, str], what: str
) -> tuple[int, str]:
    """Run ``command``; once ``ready(pid)`` holds, send ``signum``; return the exit code and stderr
    (never a traceback)."""
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not ready(proc.pid):
            assert proc.poll() is None, f"finished before {what}: {proc.stderr.read()!r}"  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.002)
        proc.send_signal(signum)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read().decode()  # type: ignore[union-attr]
    assert "Traceback" not in stderr, stderr
    return proc.returncode, stderr


def _interrupt_once_loaded(library: str, signum: int, source: str) -> tuple[int, str]:
    """``insightkit summary source``, sent ``signum`` as soon as ``library``'s compiled code is mapped
    into the child (its import may still be running); the exit code and stderr."""
    if not Path("/proc/self/maps").exists():
        pytest.skip("needs /proc to see the child's imports")
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "insightkit", "summary", source]
    return _interrupt_when(
        command,
        lambda pid: library in Path(f"/proc/{pid}/maps").read_text(),
        signum,
        env,
        f"{library} mapped",
    )


def _interrupt_midway(command: list[str], out: Path, marker: str, signum: int, tmp: Path) -> int:
    """Run ``command``; once a file whose name contains ``marker`` appears in ``out`` or ``tmp``
    (TMPDIR), send ``signum``; return the exit code."""
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(REPO)}
    code, _ = _interrupt_when(
        command, lambda _: any(marker in name for name in _names(out, tmp)), signum, env, f"{marker} appeared"
    )
    return code


@pytest.mark.parametrize(
    ("signum", "marker"),
    [
        (signal.SIGTERM, ".templates"),  # pass one: template codes being written
        (signal.SIGHUP, ".templates"),
        (signal.SIGTERM, ".tmp"),  # pass two: the RSNAP being written beside its name
        (signal.SIGHUP, ".tmp"),
    ],
)
def test_cli_signal_midway_leaves_nothing(big_rdb: Path, tmp_path: Path, signum: int, marker: str) -> None:
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    out.mkdir()
    tmp.mkdir()
    (out / "already-here.txt").write_text("mine")
    command = [
        sys.executable,
        "-m",
        "insightkit",
        "analyze",
        str(big_rdb),
        "--stream",
        "-o",
        str(out / "k.rsnap"),
    ]
    if marker == ".templates" and signum == signal.SIGHUP:
        command += ["--redact-key", "k"]  # an unredacted RSNAP in a TMPDIR directory first
    code = _interrupt_midway(command, out, marker, signum, tmp)
    assert code == 128 + signum
    assert sorted(os.listdir(out)) == ["already-here.txt"]
    assert os.listdir(tmp) == []


def test_library_terminate_cleanly_leaves_nothing(big_rdb: Path, tmp_path: Path) -> None:
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    out.mkdir()
    tmp.mkdir()
    command = [sys.executable, "-c", LIBRARY_SCRIPT, str(big_rdb), str(out / "k.rsnap")]
    code = _interrupt_midway(command, out, ".templates", signal.SIGTERM, tmp)
    assert code == 128 + signal.SIGTERM
    assert os.listdir(out) == [] and os.listdir(tmp) == []


def test_terminate_cleanly_raises_once_and_restores_handlers() -> None:
    assert insightkit.terminate_cleanly is terminate_cleanly
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated) as info, terminate_cleanly():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)  # the handler runs at the next bytecode boundary
    assert info.value.signum == signal.SIGTERM and info.value.exit_code == 143
    assert isinstance(info.value, KeyboardInterrupt)
    assert signal.getsignal(signal.SIGTERM) is before
    # a repeat while cleanup runs is ignored
    with pytest.raises(Terminated), terminate_cleanly():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        finally:
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.1)


def test_terminate_cleanly_keeps_a_programs_own_handlers() -> None:
    old = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with terminate_cleanly():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGHUP)  # ignored
            time.sleep(0.1)
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, old)
    seen: list[BaseException] = []

    def off_main() -> None:
        try:
            with terminate_cleanly():
                pass
        except BaseException as exc:  # pragma: no cover - would be a failure
            seen.append(exc)

    thread = threading.Thread(target=off_main)
    thread.start()
    thread.join()
    assert seen == []


def test_library_threads_stop_and_files_go_in_process(big_rdb: Path, tmp_path: Path) -> None:
    """Terminated inside a streaming analysis, in this process: the scratch files are gone and the
    worker threads (segment decoders, CRC, template encoders, RSNAP writer) have ended."""
    out = tmp_path / "out"
    out.mkdir()
    ours = ("insightkit-", "ThreadPoolExecutor")

    def signal_once_in_pass_one() -> None:
        deadline = time.monotonic() + 120
        while not any(".templates" in name for name in os.listdir(out)) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=signal_once_in_pass_one, daemon=True).start()
    with (
        pytest.raises(Terminated),
        terminate_cleanly(),
        insightkit.analyze(big_rdb, out_of_core=True, rsnap=out / "k.rsnap", progress=False),
    ):
        pass
    deadline = time.monotonic() + 10
    while any(t.name.startswith(ours) for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [t.name for t in threading.enumerate() if t.name.startswith(ours)] == []
    assert os.listdir(out) == []


def test_ctrl_c_while_the_libraries_load_is_one_line(tmp_path: Path) -> None:
    """Ctrl-C in the half second pandas and pyarrow take to load: exit 130 and one line, no traceback
    from inside an import. The signal goes once the child has mapped numpy's compiled modules (its
    handler for SIGINT is in place by then, and pandas is still loading)."""
    code, stderr = _interrupt_once_loaded("numpy", signal.SIGINT, str(tmp_path / "missing.rdb"))
    assert stderr.strip() == "insightkit: interrupted"
    assert code == 130


@pytest.mark.parametrize("starts", ["crc", "segments", "writer"])
def test_an_interrupt_while_a_thread_starts_stops_it(monkeypatch: pytest.MonkeyPatch, starts: str) -> None:
    """``Thread.start`` waits for the new thread: a signal raised there (SIGTERM as KeyboardInterrupt)
    leaves a running thread whose owner was never built. Each owner stops it before re-raising."""
    from insightkit.fleet.ingest import _Background
    from insightkit.rdb.crcworker import CrcWorker
    from insightkit.rdb.segments import SegmentPool

    started: list[threading.Thread] = []
    original = threading.Thread.start

    def start_then_interrupt(self: threading.Thread) -> None:
        original(self)
        started.append(self)
        if len(started) == (2 if starts == "segments" else 1):  # the pool's second worker
            raise Terminated(signal.SIGTERM)

    class Lead:
        batch_size = 10

        def segment_decoder(self) -> object:
            return object()

    monkeypatch.setattr(threading.Thread, "start", start_then_interrupt)
    with pytest.raises(Terminated):
        if starts == "crc":
            CrcWorker()
        elif starts == "segments":
            SegmentPool(Lead(), 3)
        else:
            with _Background(lambda item: None):
                pass
    monkeypatch.undo()
    for thread in started:
        thread.join(timeout=10)
    assert started and not any(t.is_alive() for t in started)


def test_sigterm_during_an_import_waits_for_the_import(tmp_path: Path) -> None:
    """A SIGTERM that lands while a module's top level runs is delivered once the import is done: the
    module is whole (no half-initialised extension, no exception of another kind, nothing swallowed by
    an import lock's callback) and Terminated comes right after."""
    (tmp_path / "ik_slow_module.py").write_text(
        "import os, signal, time\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "deadline = time.monotonic() + 0.3\n"
        "while time.monotonic() < deadline:  # bytecodes run: the handler is called in here\n"
        "    pass\n"
        "WHOLE = True\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        imported = False
        with pytest.raises(Terminated) as info, terminate_cleanly():
            import ik_slow_module  # type: ignore[import-not-found]  # noqa: F401

            imported = True
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # where the signal is delivered again
                time.sleep(0.005)
        assert imported and sys.modules["ik_slow_module"].WHOLE
        assert info.value.exit_code == 128 + signal.SIGTERM
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("ik_slow_module", None)


def test_cli_sigterm_while_duckdb_loads_is_one_line() -> None:
    """SIGTERM as soon as DuckDB's library is mapped (its bindings may still be initialising):
    exit 143 and one line, never an abort, a traceback or a run that carries on."""
    for _ in range(3):
        code, stderr = _interrupt_once_loaded("duckdb", signal.SIGTERM, "data/samples/sample.rdb")
        assert (code, stderr.strip()) == (143, "insightkit: terminated by SIGTERM")


def _slow_module(directory: Path, name: str, seconds: float) -> None:
    (directory / f"{name}.py").write_text(
        "import os, signal, time\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        f"deadline = time.monotonic() + {seconds}\n"
        "while time.monotonic() < deadline:\n"
        "    pass\n"
        "WHOLE = True\n"
    )


def test_a_put_off_sigterm_is_raised_when_the_block_ends_first(tmp_path: Path) -> None:
    """The import is done and the block left before the signal is sent again: it is raised on leaving,
    not lost (and no late resend meets the default handler)."""
    _slow_module(tmp_path, "ik_quick_exit", 0.05)
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(Terminated), terminate_cleanly():
            import ik_quick_exit  # type: ignore[import-not-found]  # noqa: F401
        assert sys.modules["ik_quick_exit"].WHOLE
        time.sleep(0.1)  # a resend after the block would end this process here
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("ik_quick_exit", None)


def test_a_program_running_at_an_imports_top_level_is_still_terminated(tmp_path: Path) -> None:
    """Work done in a module's top level is 'importing' throughout: the signal is put off only so
    long (MAX_DEFERRALS resends), then raised where it lands."""
    _slow_module(tmp_path, "ik_endless", 30)
    sys.path.insert(0, str(tmp_path))
    started = time.monotonic()
    try:
        with pytest.raises(Terminated), terminate_cleanly():
            import ik_endless  # type: ignore[import-not-found]  # noqa: F401
        assert time.monotonic() - started < 10
        assert "ik_endless" not in sys.modules  # (its import did not finish)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("ik_endless", None)


def test_a_put_off_sigterm_interrupts_a_blocking_wait(tmp_path: Path) -> None:
    """The resend is a real signal: a blocking wait after the import (here a 20 s sleep) is cut short."""
    _slow_module(tmp_path, "ik_then_wait", 0.05)
    sys.path.insert(0, str(tmp_path))
    started = time.monotonic()
    try:
        with pytest.raises(Terminated), terminate_cleanly():
            import ik_then_wait  # type: ignore[import-not-found]  # noqa: F401

            time.sleep(20)
        assert time.monotonic() - started < 5
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("ik_then_wait", None)
