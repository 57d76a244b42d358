"""Verify the RDB's CRC64 on a second core while the decoder parses.

The decoder hands over each parsed span (a memoryview that keeps its buffer alive); a thread folds the
spans into the running CRC with the GIL released. Checksumming 200 MB takes ~0.1 s on one core, a
fifth of the decode budget, so overlapping it with parsing is worth a thread.
"""

from __future__ import annotations

import queue
import threading

from ._crc64 import crc64

_STOP = object()
# Spans waiting for the thread keep their buffers alive: a bounded queue makes the parser wait for the
# checksum instead of letting memory grow with the stream when the second core is busy.
MAX_PENDING_SPANS = 4


class CrcWorker:
    """Running CRC64 of the spans submitted, in order, computed on a background thread."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[object] = queue.Queue(maxsize=MAX_PENDING_SPANS)
        self._crc = 0
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="insightkit-crc64", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            span = self._jobs.get()
            if span is _STOP:
                return
            if isinstance(span, threading.Event):
                span.set()
                continue
            try:
                self._crc = crc64(span, self._crc)  # type: ignore[arg-type]
            except BaseException as exc:  # pragma: no cover - surfaced by result()
                self._error = exc

    def submit(self, span: memoryview) -> None:
        self._jobs.put(span)

    def result(self) -> int:
        """CRC of every span submitted so far (waits for the thread to catch up)."""
        done = threading.Event()
        self._jobs.put(done)
        done.wait()
        if self._error is not None:
            raise self._error
        return self._crc

    def close(self) -> None:
        self._jobs.put(_STOP)
