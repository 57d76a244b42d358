"""Verify the RDB's CRC64 on a second core while the decoder parses.

The decoder hands over each parsed span (a memoryview that keeps its buffer alive); a thread folds the
spans into the running CRC with the GIL released. Checksumming 200 MB takes ~0.1 s on one core, a
fifth of the decode budget, so overlapping it with parsing is worth a thread.

Spans are handed to the thread in groups of at least ``MIN_JOB_BYTES``: a socket feed parses a few
kilobytes at a time, and waking the thread (and trading the GIL with it) per 16 KB span cost several
times the checksum itself.
"""

from __future__ import annotations

import queue
import threading

from ._crc64 import crc64

_STOP = object()
# Spans waiting for the thread keep their buffers alive: a bounded queue makes the parser wait for the
# checksum instead of letting memory grow with the stream when the second core is busy.
MAX_PENDING_SPANS = 4
# Smaller spans are collected (kept alive, in order) until they add up to this much, then handed over
# as one job: at most MAX_PENDING_SPANS + 1 such groups are held.
MIN_JOB_BYTES = 1 << 20


class CrcWorker:
    """Running CRC64 of the spans submitted, in order, computed on a background thread."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[object] = queue.Queue(maxsize=MAX_PENDING_SPANS)
        self._crc = 0
        self._error: BaseException | None = None
        self._group: list[memoryview] = []
        self._group_bytes = 0
        self._thread = threading.Thread(target=self._run, name="insightkit-crc64", daemon=True)
        try:
            self._thread.start()
        except BaseException:  # an interrupt while start() waits for the thread: it may be running
            self._jobs.put(_STOP)
            raise

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            if isinstance(job, threading.Event):
                job.set()
                continue
            try:
                crc = self._crc
                spans: list[memoryview] = job if isinstance(job, list) else [job]  # type: ignore[list-item]
                for span in spans:
                    crc = crc64(span, crc)
                self._crc = crc
            except BaseException as exc:  # pragma: no cover - surfaced by result()
                self._error = exc

    def submit(self, span: memoryview) -> None:
        size = span.nbytes
        if size >= MIN_JOB_BYTES and not self._group:
            self._jobs.put(span)
            return
        self._group.append(span)
        self._group_bytes += size
        if self._group_bytes >= MIN_JOB_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._group:
            group = self._group
            self._group = []
            self._group_bytes = 0
            self._jobs.put(group)

    def result(self) -> int:
        """CRC of every span submitted so far (waits for the thread to catch up)."""
        self._flush()
        done = threading.Event()
        self._jobs.put(done)
        done.wait()
        if self._error is not None:
            raise self._error
        return self._crc

    def close(self) -> None:
        self._group = []
        self._jobs.put(_STOP)
