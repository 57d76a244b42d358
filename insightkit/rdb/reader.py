"""``read_rdb``: the public face of the decoder (options, iteration, metadata); the work is in _decoder."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Generator, Iterator
from typing import Any

import pyarrow as pa

from insightkit.errors import ConfigurationError
from insightkit.schema import KEY_SCHEMA

from ._decoder import Decoder
from .batches import build_batch
from .crcworker import CrcWorker

# Decoder.parse() statuses (one definition: kinds.py, checked against _kinds.pxd).
from .kinds import BARRIER as _BARRIER
from .kinds import BATCH_FULL as _BATCH_FULL
from .kinds import DONE as _DONE
from .kinds import FLUSH as _FLUSH
from .kinds import NEED_MORE as _NEED_MORE
from .kinds import SEGMENT as _SEGMENT
from .metadata import RdbMetadata
from .segments import SegmentPool
from .sources import iter_chunks
from .versions import writer_version

# Runs of keys are decoded on other threads only from this much buffered input and in runs of at least
# this many keys (a trickling socket is decoded where it is read; tests lower both).
SCAN_MIN_BYTES = 256 * 1024
SEGMENT_MIN_KEYS = 2048
# Batches decoded or being decoded ahead of the consumer (bounds memory: each holds its input bytes).
MAX_AHEAD = 4


def default_threads() -> int:
    """Decoding threads when ``threads`` is not given: two where the machine has a second core."""
    return 2 if (os.cpu_count() or 1) >= 2 else 1


class RdbReader:
    """Iterate for ``pyarrow.RecordBatch`` objects (KEY_SCHEMA); ``metadata`` is complete at the end.

    Single pass: the source is consumed as it is iterated, so iterate once (or call ``read_all``).
    """

    def __init__(
        self,
        source: Any,
        *,
        batch_size: int = 65536,
        verify_checksum: bool = True,
        allocator: str | None = None,
        server_version: str | None = None,
        list_compress_depth: int = 0,
        stream_node_max_bytes: int = 0,
        memory_state: str = "live",
        threads: int | None = None,
    ) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigurationError(f"batch_size must be a positive integer, got {batch_size!r}")
        if threads is None:
            threads = default_threads()
        if not isinstance(threads, int) or threads < 1:
            raise ConfigurationError(f"threads must be a positive integer, got {threads!r}")
        if allocator not in (None, "jemalloc", "jemalloc-16", "libc"):
            raise ConfigurationError(
                f"allocator must be 'jemalloc', 'jemalloc-16', 'libc' or None, got {allocator!r}"
            )
        self._source = source
        self._allocator = allocator
        self._server_version = server_version
        self._list_compress_depth = list_compress_depth
        self._stream_node_max_bytes = stream_node_max_bytes
        self._memory_state = memory_state
        self._decoder = Decoder(batch_size, verify_checksum, self._on_header)
        self._verify = verify_checksum
        self._threads = threads
        self._pool: SegmentPool | None = None
        self._ahead: deque[Any] = deque()  # batches in stream order: RecordBatch or a pending result
        self._batch_failed = False  # a batch in _ahead raised: the stream ends there
        # Rows come out in batches of exactly batch_size (the last one excepted), as one decoder cuts
        # them: the batches decoded (lead and segment batches may end early) are cut and joined here.
        self._parts: list[pa.RecordBatch] = []
        self._part_rows = 0
        self._queued = 0  # rows of the batches queued so far, the pool's open batch included
        self._started = False
        self.metadata = RdbMetadata()

    @property
    def schema(self) -> pa.Schema:
        return KEY_SCHEMA

    def _on_header(self, decoder: Decoder) -> Any:
        """Called once the header and aux fields are read: pick the writer version and memory model."""
        aux = dict(decoder.aux)
        family, version, redis_equiv, how = writer_version(
            aux, decoder.rdb_version, decoder.magic, self._server_version
        )
        embedded_keys = version >= ((8, 1) if family == "valkey" else (8, 2))
        decoder.set_writer_version(*redis_equiv, embedded_keys)
        self.metadata.server = {"family": family, "version": ".".join(map(str, version)), "source": how}
        self._model = _pick_model(
            aux,
            decoder.rdb_version,
            decoder.magic,
            self._allocator,
            self._server_version,
            self._list_compress_depth,
            self._stream_node_max_bytes,
            self._memory_state,
        )
        description = getattr(self._model, "description", None) or {}
        self.metadata.memory_model = {
            "family": self._model.family,
            "version": ".".join(map(str, self._model.version)),
            "allocator": self._model.allocator,
            "source": description.get("source", how),
            **{k: v for k, v in description.items() if k not in ("family", "version", "allocator", "source")},
        }
        return self._model

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        if self._started:
            raise RuntimeError("an RdbReader can be iterated only once")
        self._started = True
        worker: CrcWorker | None = None
        try:
            # inside the try: an interrupt (Ctrl-C, SIGTERM) right after the thread starts still stops it
            worker = CrcWorker() if self._verify else None
            if worker is not None:
                self._decoder.crc_sink = worker.submit
                self._decoder.crc_wait = worker.result
            if self._threads > 1:
                self._decoder.scan_min_bytes = SCAN_MIN_BYTES
                self._decoder.segment_min_keys = SEGMENT_MIN_KEYS
                self._decoder.segment_room = self._decoder.batch_size
            try:
                yield from self._decode()
            except Exception:
                # Batches before the failure come first, and so does an error in one of them (keys
                # handed to a segment decoder lie before the lead decoder's position).
                # When the failure came from a batch already in stream order (a segment decoder's
                # error, raised by _drain), whatever lies after it is dropped, the open slot too.
                if self._pool is not None and self._decoder.slot_open and not self._batch_failed:
                    self._ahead.append(self._pool.flush())
                yield from self._drain(0)
                if not self._batch_failed and self._decoder.n:
                    # the lead's own rows before the error: they may complete a batch a single
                    # decoder would have delivered (its batch started before the segments' rows)
                    yield from self._cut(self._batch())
                raise
            yield from self._drain(0)
            if self._parts:
                yield self._take(self._part_rows)
            self._finish()
        finally:
            if self._pool is not None:
                self._pool.close()
            if worker is not None:
                worker.close()

    def _decode(self) -> Generator[pa.RecordBatch, None, None]:
        dec = self._decoder
        for chunk in iter_chunks(self._source):
            dec.feed(chunk)
            if not dec.ready():
                continue
            status = yield from self._parse()
            if status == _DONE:
                return
        dec.segment_room = 0  # the source is exhausted: whatever is left is decoded (or reported) here
        status = yield from self._parse()
        if status == _NEED_MORE:
            dec.at_stream_end()

    def _parse(self) -> Generator[pa.RecordBatch, None, int]:
        """Parse what is buffered; hand segments to the pool; yield the batches that are ready."""
        dec = self._decoder
        while True:
            status = dec.parse()
            if status == _SEGMENT:
                segment = dec.take_segment()
                pool = self._pool
                if pool is None:
                    pool = self._pool = SegmentPool(dec, self._threads)
                    pool.set_room(dec.segment_room)
                self._queued += segment[3]
                if pool.add(*segment):
                    self._ahead.append(pool.flush())
                dec.segment_room = pool.room
                dec.slot_open = not pool.empty
                self._align()
            elif status == _FLUSH:
                assert self._pool is not None
                self._ahead.append(self._pool.flush())
                dec.segment_room = self._pool.room if dec.segment_room else 0
                dec.slot_open = False
                self._align()
            elif status == _BATCH_FULL:
                batch = self._batch()
                self._queued += batch.num_rows
                self._ahead.append(batch)
                self._align()
            elif status == _BARRIER:
                # a hash template follows keys already handed to segment decoders, which read the
                # template table: let every segment handed out finish before the table grows
                if self._pool is not None:
                    if dec.slot_open:
                        self._ahead.append(self._pool.flush())
                        dec.segment_room = self._pool.room if dec.segment_room else 0
                        dec.slot_open = False
                        self._align()
                    for item in self._ahead:
                        if not isinstance(item, pa.RecordBatch):
                            item.wait()
                dec.pass_barrier()
            else:
                if status == _DONE:
                    if self._pool is not None and dec.slot_open:
                        self._ahead.append(self._pool.flush())
                        dec.slot_open = False
                    if dec.n:
                        self._ahead.append(self._batch())
                yield from self._drain(MAX_AHEAD)
                return status
            yield from self._drain(MAX_AHEAD)

    def _align(self) -> None:
        """Let the lead's next batch and the next segment batch end where a single decoder's batch
        would (then the batches decoded are mostly handed on whole rather than cut and joined)."""
        dec = self._decoder
        room = dec.batch_size - self._queued % dec.batch_size
        dec.batch_limit = room  # the lead's rows come after everything queued
        if dec.segment_room == 0 or (self._pool is not None and not self._pool.empty):
            return
        if self._pool is not None:
            self._pool.set_room(room)
        dec.segment_room = room

    def _drain(self, keep: int) -> Iterator[pa.RecordBatch]:
        """Yield batches in stream order: those ready, and (waiting for them) all but ``keep``."""
        ahead = self._ahead
        while ahead:
            item = ahead[0]
            if not isinstance(item, pa.RecordBatch) and len(ahead) <= keep and not item.done():
                return
            ahead.popleft()
            if not isinstance(item, pa.RecordBatch):
                try:
                    rows: tuple[int, dict[str, Any], bytes] = item.result()
                except BaseException:
                    ahead.clear()  # the stream fails here: nothing after this batch is delivered
                    self._batch_failed = True
                    # ...but the keys of the batch before the failed one are
                    partial: tuple[int, dict[str, Any], bytes] | None = item.partial()
                    if partial is not None and partial[0]:
                        yield from self._cut(build_batch(*partial, self._decoder.type_names))
                    raise
                item = build_batch(*rows, self._decoder.type_names)
            yield from self._cut(item)

    def _cut(self, batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
        """The batches of batch_size rows that ``batch``, after those held back, completes."""
        size = self._decoder.batch_size
        if not self._parts and batch.num_rows == size:
            yield batch
            return
        if batch.num_rows:
            self._parts.append(batch)
            self._part_rows += batch.num_rows
        while self._part_rows >= size:
            yield self._take(size)

    def _take(self, rows: int) -> pa.RecordBatch:
        """The first ``rows`` rows held back, as one batch."""
        parts = self._parts
        taken: list[pa.RecordBatch] = []
        while rows:
            first = parts[0]
            if first.num_rows <= rows:
                taken.append(parts.pop(0))
                rows -= first.num_rows
            else:
                taken.append(first.slice(0, rows))
                parts[0] = first.slice(rows)
                rows = 0
        self._part_rows -= sum(b.num_rows for b in taken)
        return taken[0] if len(taken) == 1 else _concat(taken)

    def _batch(self) -> pa.RecordBatch:
        n, cols, keydata = self._decoder.take_batch()
        return build_batch(n, cols, keydata, self._decoder.type_names)

    def _finish(self) -> None:
        dec = self._decoder
        meta = self.metadata
        meta.rdb_version = dec.rdb_version
        meta.magic = dec.magic
        meta.aux = dict(dec.aux)
        meta.redis_version = dec.aux.get("redis-ver")
        meta.functions = list(dec.functions)
        meta.modules = list(dec.modules)
        meta.resize_db = {int(k): dict(v) for k, v in dec.resize_db.items()}
        meta.keys_per_db = dict(dec.keys_per_db)
        meta.slot_info = dict(dec.slot_info)
        meta.checksum = dec.checksum_state
        meta.total_bytes = dec.total_bytes
        meta.expires_per_db = dict(dec.expires_per_db)
        meta.newer_than_known = dec.newer_than_known
        meta.notes = list(dec.notes)
        meta.hash_templates = dec.hash_templates()
        meta.dataset_overhead = _dataset_overhead(
            getattr(self, "_model", None), meta.keys_per_db, meta.expires_per_db
        )
        meta.complete = True

    def read_all(self) -> pa.Table:
        """Every row in one table (holds them all: for big files iterate instead)."""
        return pa.Table.from_batches(list(self), schema=KEY_SCHEMA)


def _concat(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if hasattr(pa, "concat_batches"):  # pyarrow >= 19
        return pa.concat_batches(batches)
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]  # pragma: no cover


def _pick_model(
    aux: dict[str, str],
    rdb_version: int,
    magic: str,
    allocator: str | None,
    server_version: str | None,
    list_compress_depth: int,
    stream_node_max_bytes: int,
    state: str,
) -> Any:
    """The memory model for the writer. File-derived hints that the model rejects (a garbled aux
    field) fall back to the RDB version; options the caller got wrong still raise."""
    from insightkit.memory import model_for

    valkey_ver = aux.get("valkey-ver") or ("9.0" if magic == "VALKEY" else None)
    try:
        return model_for(
            aux.get("redis-ver"),
            rdb_version,
            allocator,
            server_version,
            valkey_ver=valkey_ver,
            list_compress_depth=list_compress_depth,
            stream_node_max_bytes=stream_node_max_bytes,
            state=state,
        )
    except ConfigurationError:
        if server_version is not None:
            raise
        return model_for(
            None,
            rdb_version,
            allocator,
            None,
            list_compress_depth=list_compress_depth,
            stream_node_max_bytes=stream_node_max_bytes,
            state=state,
        )


def _dataset_overhead(
    model: Any, keys_per_db: dict[int, int], expires_per_db: dict[int, int]
) -> dict[int, dict[str, int]]:
    from insightkit.memory import dataset_overhead

    if model is None:
        return {}
    return dict(dataset_overhead(model, keys_per_db, expires_per_db))


def read_rdb(
    source: Any,
    *,
    batch_size: int = 65536,
    verify_checksum: bool = True,
    allocator: str | None = None,
    server_version: str | None = None,
    list_compress_depth: int = 0,
    stream_node_max_bytes: int = 0,
    memory_state: str = "live",
    threads: int | None = None,
) -> RdbReader:
    """Decode an RDB (path, bytes, binary file object or iterable of chunks) into per-key record batches.

    ``allocator`` ("jemalloc"/"libc") and ``server_version`` (e.g. "7.0" or "valkey-8.1") override what
    the file says about its writer; they decide encoding names and the memory model.
    ``list_compress_depth`` is the writer's ``list-compress-depth`` (CONFIG; not in the file): with it,
    interior quicklist nodes are priced as held LZF-compressed. ``stream_node_max_bytes`` is its
    ``stream-node-max-bytes`` (CONFIG; 0 = unknown): a live stream's open node is priced preallocated to
    ``min(4096, stream-node-max-bytes)``. ``memory_state`` is ``"live"`` (the
    default: collections sized as their write commands left them) or ``"loaded"`` (as a server sizes
    them right after loading this file, e.g. after a restart or DEBUG RELOAD). ``threads``: decoding
    threads (default 2 on a machine with a second core, else 1): runs of keys are decoded in parallel,
    rows and errors come out exactly as with one.
    """
    return RdbReader(
        source,
        batch_size=batch_size,
        verify_checksum=verify_checksum,
        allocator=allocator,
        server_version=server_version,
        list_compress_depth=list_compress_depth,
        stream_node_max_bytes=stream_node_max_bytes,
        memory_state=memory_state,
        threads=threads,
    )
