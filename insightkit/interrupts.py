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
import signal
import threading
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


#: How long a signal that arrived during an import waits before it is delivered again.
RETRY_S = 0.02


def _importing(frame: FrameType | None) -> bool:
    """Whether ``frame`` runs inside Python's import machinery (a module's top level, an extension's
    initialisation calling back into Python, an import lock's callback)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


@contextmanager
def terminate_cleanly(signals: tuple[int, ...] = SIGNALS) -> Iterator[None]:
    """Within the block, ``signals`` raise :class:`Terminated` in the main thread (once: a repeat
    while the cleanup runs is ignored, so that it finishes). Signals a program already handles or
    ignores (``nohup`` ignores SIGHUP) keep their handler; outside the main thread, where Python
    cannot set handlers, nothing changes. The previous handlers are restored on leaving."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal raised
        if raised:
            return
        if _importing(frame):  # delivered again shortly, until it lands outside any import
            again = threading.Timer(RETRY_S, _thread.interrupt_main, (signum,))
            again.daemon = True
            again.start()
            return
        raised = True
        raise Terminated(signum)

    previous: dict[int, object] = {}
    try:
        for signum in signals:
            if signal.getsignal(signum) is signal.SIG_DFL:
                previous[signum] = signal.signal(signum, handler)
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)  # type: ignore[arg-type]
