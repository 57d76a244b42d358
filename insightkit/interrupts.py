"""SIGTERM and SIGHUP handled as Ctrl-C is: an exception in the main thread, so cleanup runs.

By default SIGTERM (what ``timeout``, systemd, Kubernetes and CI runners send) and SIGHUP (a closed
terminal) end a Python process at once: no ``finally`` block runs, and whatever insightkit was writing
stays on disk — the hidden spill of a live snapshot (``.NAME.rows.arrow``, about 190 bytes a key),
the template codes (``.NAME.templates``), the half-written RSNAP (``.NAME.….tmp``), a temporary
analysis directory.
Ctrl-C does not leave them: KeyboardInterrupt unwinds through the ``finally`` blocks and context
managers that remove them, and stops the worker threads on its way.

``terminate_cleanly()`` makes the other two signals do the same: inside it they raise
:class:`Terminated` (a KeyboardInterrupt) in the main thread. The ``insightkit`` command runs every
command inside it and exits with ``128 + signal number``, as shells report a signal death. A program
using the library can do the same around ``analyze(..., out_of_core=True)``, ``Analysis.to_rsnap``,
``convert`` or ``fleet.ingest``::

    with insightkit.terminate_cleanly():
        with insightkit.analyze("dump.rdb", out_of_core=True, rsnap="keys.rsnap") as analysis:
            ...

The library does not install handlers by itself: a process's signal handling belongs to the program.

A signal that arrives while a module is being imported (the command imports pandas, DuckDB and redis-py
on first use) is put off until the import is done: raised inside the import machinery, it would leave a
half-initialised extension behind (an abort in DuckDB's bindings), surface as another exception (a class
body's ``__set_name__`` wraps it) or be swallowed by an import-lock callback.
"""

from __future__ import annotations

import _thread
import queue
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

#: The signals ``terminate_cleanly`` turns into :class:`Terminated` (SIGHUP where the platform has it).
SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM or SIGHUP inside ``terminate_cleanly()``.

    A KeyboardInterrupt, so that ``except Exception`` does not swallow it and whatever cleans up after
    Ctrl-C cleans up after it too.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"terminated by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        """What a shell reports for a process the signal ended: 128 + its number."""
        return 128 + self.signum


#: How long a signal that arrived during an import waits before it is delivered again, and how many
#: times at most (then it is raised wherever it lands: a program run from a module's top level is
#: "importing" throughout).
RETRY_S = 0.02
MAX_DEFERRALS = 50


def _importing(frame: FrameType | None) -> bool:
    """Whether ``frame`` runs inside Python's import machinery (a module's top level, an extension's
    initialisation calling back into Python, an import lock's callback)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


class _Redelivery:
    """A thread that sends a put-off signal to the main thread again after ``RETRY_S``: a real signal,
    so that a blocking call (a socket read, a join) is interrupted as the first one would have been.
    Started with the block, not in the handler (starting a thread there could wait on a lock the
    interrupted code holds); the handler only puts on a ``SimpleQueue``, which is safe there."""

    def __init__(self) -> None:
        self.wakeups: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self.stopped = threading.Event()
        self.main = threading.main_thread().ident
        self.thread = threading.Thread(target=self._run, name="signal-redelivery", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (signum := self.wakeups.get()) is not None:
            time.sleep(RETRY_S)
            if self.stopped.is_set():
                return
            if self.main is not None and hasattr(signal, "pthread_kill"):
                signal.pthread_kill(self.main, signum)
            else:  # (no pthread_kill: the flag alone, handled at the next bytecode)
                _thread.interrupt_main(signal.Signals(signum))

    def stop(self) -> None:
        self.stopped.set()
        self.wakeups.put(None)
        self.thread.join(timeout=1)


@contextmanager
def terminate_cleanly(signals: tuple[int, ...] = SIGNALS) -> Iterator[None]:
    """Within the block, ``signals`` raise :class:`Terminated` in the main thread (once: a repeat
    while the cleanup runs is ignored, so that it finishes). Signals a program already handles or
    ignores (``nohup`` ignores SIGHUP) keep their handler; outside the main thread, where Python
    cannot set handlers, nothing changes. The previous handlers are restored on leaving; a signal put
    off during an import and not yet raised when the block ends is raised then."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = False
    deferred: list[int] = []
    redelivery: _Redelivery | None = None

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal raised
        if raised:
            return
        if redelivery is not None and _importing(frame) and len(deferred) < MAX_DEFERRALS:
            deferred.append(signum)  # delivered again shortly, until it lands outside any import
            redelivery.wakeups.put(signum)
            return
        raised = True
        raise Terminated(signum)

    previous: dict[int, object] = {}
    try:
        for signum in signals:
            if signal.getsignal(signum) is signal.SIG_DFL:
                previous[signum] = signal.signal(signum, handler)
        if previous:
            redelivery = _Redelivery()
        yield
    finally:
        if redelivery is not None:
            redelivery.stop()  # before the handlers go: a late resend would meet SIG_DFL and kill
        for signum, old in previous.items():
            signal.signal(signum, old)  # type: ignore[arg-type]
        if deferred and not raised:
            raised = True
            raise Terminated(deferred[-1])
