"""Decode runs of keys on other cores while the reader's own decoder goes on delimiting the stream.

The reader's decoder (the lead) parses the stream's structure; where it finds a run of whole keys in
its buffer it only delimits it (lengths, no values) and hands the bytes over as a *segment*. Each
worker thread owns a decoder that decodes segments without the GIL, appending rows to its batch until
that holds its room of rows; then the next batch goes to the next worker. Batches are consumed in
stream order and the reader cuts what they hold into batches of ``batch_size`` rows, so rows, batch
boundaries and errors are those of a single decoder: a segment decoder runs the same key code from the
same offset and raises what the lead would have raised there, and a failed batch still hands over the
rows of the keys before the one that failed (a single decoder has them too).

The lead keeps everything that is not a plain key (aux fields, databases, functions, module keys,
the EOF and checksum) and any input that arrives in pieces too small to be worth a hand-over.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

_STOP = None


class PendingBatch:
    """A batch a worker is decoding: ``result()`` waits and returns ``(n, columns, key bytes)`` or
    raises the error its segments met; ``partial()`` then gives the rows decoded before it."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None
        self._partial: Any = None

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self) -> None:
        """Until the batch is complete (or failed); its result stays to be taken."""
        self._done.wait()

    def result(self) -> Any:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value

    def partial(self) -> Any:
        """After ``result()`` raised: ``(n, columns, key bytes)`` of the keys decoded before the error
        (in stream order, every key of the batch before the one that failed), or None."""
        return self._partial

    def _set(self, value: Any, error: BaseException | None) -> None:
        if error is not None:
            self._partial, value = value, None
        self._value = value
        self._error = error
        self._done.set()


class _Worker:
    def __init__(self, decoder: Any, index: int) -> None:
        self.decoder = decoder
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.cancelled = False
        self.thread = threading.Thread(target=self._run, name=f"insightkit-decode-{index}", daemon=True)
        try:
            self.thread.start()
        except BaseException:  # an interrupt while start() waits for the thread: it may be running
            self.jobs.put(_STOP)
            raise

    def _run(self) -> None:
        dec = self.decoder
        error: BaseException | None = None
        while True:
            job = self.jobs.get()
            if job is _STOP:
                return
            if isinstance(job, PendingBatch):  # the batch is complete: hand it over, start the next
                rows = None
                try:
                    rows = dec.take_batch()  # after an error: the rows of the keys before it
                except BaseException as exc:  # pragma: no cover - MemoryError
                    error = error or exc
                job._set(rows, error)
                error = None
            elif error is None and not self.cancelled:  # after an error, skip the batch's other segments
                try:
                    dec.decode_segment(*job)
                except BaseException as exc:
                    error = exc


class SegmentPool:
    """Worker threads decoding the lead decoder's segments into batches of its batch size."""

    def __init__(self, lead: Any, threads: int) -> None:
        self.batch_size: int = lead.batch_size
        self.workers: list[_Worker] = []
        try:
            for index in range(threads):
                self.workers.append(_Worker(lead.segment_decoder(), index))
        except BaseException:  # the threads started so far stop with the pool that never was
            self.close()
            raise
        self._current = 0
        self.room = self.batch_size  # keys the open batch can still take
        self._keys = 0  # keys queued for the open batch

    def add(self, segment: Any, base_offset: int, db: int, keys: int) -> bool:
        """Queue a segment for the open batch; True when that batch is full (call ``flush``)."""
        if keys > self.room:
            raise RuntimeError(f"segment of {keys} keys for a batch with room for {self.room}")
        self.workers[self._current].jobs.put((segment, base_offset, db, keys))
        self.room -= keys
        self._keys += keys
        return self.room == 0

    def flush(self) -> PendingBatch:
        """Close the open batch (its rows are in stream order before anything added later)."""
        pending = PendingBatch()
        self.workers[self._current].jobs.put(pending)
        self._current = (self._current + 1) % len(self.workers)
        self.room = self.batch_size
        self._keys = 0
        return pending

    @property
    def empty(self) -> bool:
        """The open batch has no segment yet (its room may still be changed)."""
        return self._keys == 0

    def set_room(self, room: int) -> None:
        """The room of the open batch, while it is empty."""
        assert self._keys == 0 and 0 < room <= self.batch_size
        self.room = room

    def close(self) -> None:
        """Stop the threads (segments still queued are dropped undecoded)."""
        for worker in self.workers:
            worker.cancelled = True
            worker.jobs.put(_STOP)
