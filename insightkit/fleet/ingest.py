"""RDB → RSNAP with patterns, streaming: memory bounded by a few batches, not by the snapshot.

Pattern names need every key's template before the first row can be written, so an ingest makes two
passes. Pass one turns each batch's keys into template codes (RE2 on worker threads while the decoder
fills the next batch) and writes the codes (4 bytes a key) beside the target. Discovery then runs on
the distinct templates, and pass two decodes the source again (an RDB file: ``reopen``) and writes each
row with its pattern name to the RSNAP, the Parquet encoding on a writer thread. A source that cannot
be read again (a live replication stream) has its rows spilled in pass one instead (an uncompressed
Arrow stream, ~190 bytes a key) and read back. The result is an ordinary RSNAP, opened as a one-file
``Fleet`` whose summary, patterns and rules run on DuckDB.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np
import pyarrow as pa
from tqdm.auto import tqdm

from insightkit.errors import RsnapError, SourceError
from insightkit.fleet.fleet import Fleet, open_fleet
from insightkit.patterns.assign import shaped_templates
from insightkit.patterns.custom import CustomPatterns, CustomSpec, Matched, Rule, name_matches, parse_custom
from insightkit.patterns.discover import discover
from insightkit.patterns.libraries import METADATA_KEY as LIBRARY_PATTERNS
from insightkit.patterns.libraries import anchor_of, anchors_present, conditional_names, ownership
from insightkit.patterns.tokens import fold_variable_segments
from insightkit.rsnap.writer import RsnapWriter
from insightkit.schema import KEY_SCHEMA, PATTERN_COLUMN

#: Batches in flight between the decoder and the template workers (bounds memory, keeps both busy).
LOOKAHEAD = 4
_TEMPLATE_CODE = "_ik_template"  # the scratch rows' template code column (never in an RSNAP)

Batches = Iterable[pa.RecordBatch]
_Raw = tuple[np.ndarray, list[str], Matched | None]  # raw template indices, raw templates, rules


def ingest_rdb(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    batch_size: int = 65536,
    progress: bool = False,
    **read_options: Any,
) -> Fleet:
    """Decode ``source`` (an .rdb path) into the RSNAP ``target`` with patterns; return it as a Fleet."""
    from insightkit.sources import rdb_file

    source = Path(source)
    decode, metadata = rdb_file(source, batch_size, dict(read_options), bounded=True)
    ingest(decode(), metadata, target, reopen=decode, progress=progress, label=source.name)
    return open_fleet(target)


def ingest(
    batches: Batches,
    metadata: Callable[[], Mapping[str, Any]],
    target: str | os.PathLike[str],
    *,
    dataset: bool | None = None,
    reopen: Callable[[], Batches] | None = None,
    custom: CustomSpec | None = None,
    libraries: Any = None,
    progress: bool = False,
    label: str = "keys",
) -> Path:
    """Key batches from any source into the RSNAP ``target`` with patterns, in two streaming passes.

    Pass two reads a source that can be read again in the same order (``reopen``) a second time;
    any other has its rows spilled beside ``target`` in pass one and read back. Decoding an RDB file
    again costs about what its spill does in CPU and less in time, and needs no scratch disk: at 10M
    keys 6.8 – 8.0 s against 7.3 – 8.7 s for the whole ingest, 0.8 – 1.2 s of system time against
    2.5 – 6.5 s for the spill's 1.9 GB written and read back. ``custom`` patterns (as
    ``analyze(patterns=…)``) win over discovery, as in memory, and so do the known ``libraries``'
    families after them (the metadata gets ``library_patterns``).
    ``metadata`` is called once pass one is done (a live snapshot's is complete only then). Nothing
    is left at ``target``, nor any scratch file beside it, when anything fails.
    """
    target = Path(target)
    codes_path = target.parent / f".{target.name}.templates"
    rows_path = target.parent / f".{target.name}.rows.arrow"
    second: Batches = ()
    try:
        with open(codes_path, "wb") as codes_out, _RowSpill(rows_path, wanted=reopen is None) as rows:
            templates = _Templates(parse_custom(custom, None, libraries))
            keys = templates.encode_all(_shown(batches, progress, f"{label}: templates"), codes_out, rows)
        final_metadata = dict(metadata())
        pattern_of_code, rules_start, owned = templates.patterns()
        if owned:  # present only when a known library owns a pattern
            final_metadata[LIBRARY_PATTERNS] = owned
        else:
            final_metadata.pop(LIBRARY_PATTERNS, None)
        second = reopen() if reopen is not None else _scratch_rows(rows_path)
        with (
            open(codes_path, "rb") as codes_in,
            RsnapWriter(target, final_metadata, dataset=dataset) as writer,
            _Background(writer.write) as background,
        ):
            named = _named(second, codes_in, pattern_of_code, rules_start, keys)
            for batch in _shown(named, progress, f"{label}: RSNAP", total=keys):
                background.put(batch)
            background.join()
            if not keys:  # still a table with patterns, only an empty one
                empty = KEY_SCHEMA.empty_table()
                writer.write(empty.append_column(PATTERN_COLUMN, pa.array([], pa.string())))
            return writer.close()
    finally:
        # a source left part-read (an exception, Ctrl-C) stops its decoder threads now, not whenever
        # the traceback that holds its generator is dropped
        for source in (batches, second):
            close = getattr(source, "close", None)
            if close is not None:
                close()
        for scratch in (codes_path, rows_path):
            with contextlib.suppress(FileNotFoundError):
                scratch.unlink()


class _Templates:
    """Pass one: each key's folded template as a code, and the number of keys per template."""

    def __init__(self, custom: CustomPatterns) -> None:
        self.custom = custom
        self.rules = custom.all_rules
        self.code_of_name: dict[str, int] = {}  # a rule's pattern name → its code among rule names
        self.named: list[tuple[str, Rule]] = []  # every rule name seen, with its rule
        self.links: dict[Rule, set[str]] = {}
        self.used: set[int] = set()  # rule names given to keys
        self.conditional: dict[int, int] = {}  # template code → conditional rule name (see patterns())
        self.code_of_raw: dict[str, int] = {}  # raw template → code of its folded form
        self.code_of_folded: dict[str, int] = {}
        self.folded: list[str] = []
        self.counts = np.zeros(1024, dtype=np.int64)  # keys per folded template left to discovery

    def encode_all(self, batches: Batches, codes_out: IO[bytes], rows: _RowSpill) -> int:
        """Encode every batch (templates on worker threads, in order), write its codes and hand it to
        ``rows`` (which spills it when the source cannot be read again); return the number of keys."""
        keys = 0
        with ThreadPoolExecutor(max_workers=2) as pool:
            pending: deque[tuple[pa.RecordBatch, Future[_Raw]]] = deque()

            def finish_one() -> None:
                batch, future = pending.popleft()
                codes = self._codes(*future.result())
                codes.tofile(codes_out)
                rows.write(batch, codes)

            for batch in batches:
                keys += batch.num_rows
                binary = batch.column("key_binary") if "key_binary" in batch.schema.names else None
                pending.append((batch, pool.submit(self._raw, batch.column("key"), binary)))
                if len(pending) >= LOOKAHEAD:
                    finish_one()
            while pending:
                finish_one()
        return keys

    def _raw(self, keys: pa.Array, binary: pa.Array | None) -> _Raw:
        """On a worker: raw template indices, and the custom rule each key matches (-1: none), from
        one pass over the batch's digit shapes (``assign.shaped_templates``)."""
        per_unit, unit_of_key, raw, first = shaped_templates(keys, binary, self.rules)
        indices = per_unit if unit_of_key is None else per_unit[unit_of_key]
        return indices, raw, name_matches(keys, self.rules, first) if first is not None else None

    def _codes(self, indices: np.ndarray, raw: list[str], matched: Matched | None) -> np.ndarray:
        """Batch-local template indices → global codes; each distinct raw template is folded once.

        A key a rule (custom or library) matched gets ``-1 - name`` instead (the code of the name the
        rule gave it), and does not count for discovery.
        """
        local = np.fromiter((self._code(t) for t in raw), dtype=np.int32, count=len(raw))
        codes = local[indices] if len(indices) else np.empty(0, dtype=np.int32)
        if matched is not None and len(matched.names):
            global_of = np.fromiter(
                (self._name_code(n, r) for n, r in zip(matched.names, matched.rules, strict=True)),
                dtype=np.int32,
                count=len(matched.names),
            )
            hit = matched.codes >= 0
            flags = conditional_names(matched)
            if flags is not None:  # these keys stay with their templates (see assign_owned)
                cond = hit & flags[np.maximum(matched.codes, 0)]
                for template, name in zip(
                    codes[cond].tolist(), global_of[matched.codes[cond]].tolist(), strict=True
                ):
                    self.conditional.setdefault(int(template), int(name))
                hit &= ~cond
            self.used.update(np.unique(global_of[matched.codes[hit]]).tolist())
            codes = np.where(hit, -1 - global_of[np.where(hit, matched.codes, 0)], codes).astype(np.int32)
            for rule, values in matched.links.items():
                self.links.setdefault(rule, set()).update(values)
        found = np.bincount(codes[codes >= 0], minlength=len(self.folded))
        if len(found) > len(self.counts):
            self.counts = np.concatenate([self.counts, np.zeros(2 * len(found), dtype=np.int64)])
        self.counts[: len(found)] += found
        return codes

    def _code(self, raw: str) -> int:
        code = self.code_of_raw.get(raw)
        if code is None:
            folded = fold_variable_segments(raw)
            code = self.code_of_folded.setdefault(folded, len(self.folded))
            if code == len(self.folded):
                self.folded.append(folded)
            self.code_of_raw[raw] = code
        return code

    def _name_code(self, name: str, rule: Rule) -> int:
        code = self.code_of_name.get(name)
        if code is None:
            code = self.code_of_name[name] = len(self.named)
            self.named.append((name, rule))
        return code

    def patterns(self) -> tuple[pa.Array, int, dict[str, dict[str, str]]]:
        """The pattern name of every template code, then of every rule name; the number of template
        codes (where the rules' names start); and the patterns a known library owns.

        Discovery sees only templates with keys left to it, weighted by them, exactly as
        ``assign_patterns`` does in memory; renames apply to both kinds of names.
        """
        weights = self.counts[: len(self.folded)]
        present = np.flatnonzero(weights)
        names = np.full(len(self.folded), "", dtype=object)
        names[present] = discover([self.folded[i] for i in present], weights[present])
        used = set(self.used)
        anchors = anchors_present(self.named[i][1] for i in used)
        taken: set[int] = set()
        for template, name in self.conditional.items():
            if anchor_of(self.named[name][1]) in anchors:
                names[template] = self.named[name][0]
                taken.add(template)
                used.add(name)
        discovered = [str(names[i]) for i in present if int(i) not in taken]
        every = [str(n) for n in names] + [name for name, _ in self.named]
        renames = self.custom.renames
        owned = ownership([self.named[i] for i in sorted(used)], discovered, self.links, renames)
        return pa.array([renames.get(n, n) for n in every], pa.string()), len(self.folded), owned


def _named(
    batches: Batches, codes_in: IO[bytes], pattern_of_code: pa.Array, rules_start: int, expected: int
) -> Iterator[pa.RecordBatch]:
    """Pass two: each batch with its ``pattern`` column, from the codes pass one spilled (a custom
    rule's ``-1 - rule`` indexes the names after the templates')."""
    seen = 0
    for batch in batches:
        codes = batch.column(_TEMPLATE_CODE) if _TEMPLATE_CODE in batch.schema.names else None
        if codes is None:
            read = np.fromfile(codes_in, dtype=np.int32, count=batch.num_rows)
            if len(read) != batch.num_rows:
                raise SourceError(
                    f"the source has more keys on the second read than on the first ({expected:,})"
                )
            codes = read
        else:
            codes = codes.to_numpy(zero_copy_only=False)
            batch = batch.drop_columns([_TEMPLATE_CODE])
        if PATTERN_COLUMN in batch.schema.names:  # an RSNAP patterned again (custom patterns)
            batch = batch.drop_columns([PATTERN_COLUMN])
        seen += batch.num_rows
        if len(codes) and codes.min() < 0:
            codes = np.where(codes >= 0, codes, rules_start - 1 - codes)
        names = pattern_of_code.take(pa.array(codes, pa.int32()))
        yield pa.RecordBatch.from_arrays([*batch.columns, names], [*batch.schema.names, PATTERN_COLUMN])
    if seen != expected:
        raise SourceError(f"the source changed between the two reads: {seen:,} keys, then {expected:,}")


class _RowSpill:
    """Pass one's rows with their template codes, as an uncompressed Arrow IPC stream, for a source
    that cannot be read again (``wanted``; otherwise nothing is written).

    Uncompressed because compressing costs more CPU than the copies it saves; the price is disk, about
    190 bytes a key, freed as soon as the RSNAP is written.
    """

    def __init__(self, path: Path, *, wanted: bool) -> None:
        self.path = path
        self.wanted = wanted
        self.sink: pa.NativeFile | None = None
        self.writer: pa.ipc.RecordBatchStreamWriter | None = None

    def write(self, batch: pa.RecordBatch, codes: np.ndarray) -> None:
        if not self.wanted:
            return
        with_codes = batch.append_column(_TEMPLATE_CODE, pa.array(codes, pa.int32()))
        try:
            if self.writer is None:
                self.sink = pa.OSFile(str(self.path), "wb")
                self.writer = pa.ipc.new_stream(self.sink, with_codes.schema)
            self.writer.write_batch(with_codes)
        except OSError as exc:
            raise RsnapError(f"{self.path}: cannot spill the rows for the second pass ({exc})") from None

    def _close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self.sink is not None:
            self.sink.close()
            self.sink = None

    def __enter__(self) -> _RowSpill:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()
        if self.wanted and not self.path.exists() and exc[0] is None:
            self.path.touch()  # no rows at all: an empty file, nothing to read back


def _scratch_rows(path: Path) -> Iterator[pa.RecordBatch]:
    """The spilled rows, read (not memory-mapped, so the pages read do not stay resident)."""
    if path.stat().st_size == 0:
        return
    with pa.OSFile(str(path), "rb") as source:
        yield from pa.ipc.open_stream(source)


class _Background:
    """Calls ``consume`` on a thread of its own, in order, a few items behind the producer.

    The Parquet encoder releases the GIL, so writing one batch overlaps decoding the next. An error on
    the thread is raised in the producer at its next ``put``/``join``; leaving the block stops the
    thread before anything else (the writer's abort) runs.

    The end of the thread is awaited on an Event it sets, not with ``Thread.join``: a signal that
    raises (Ctrl-C, ``terminate_cleanly``'s SIGTERM) while ``join`` waits can leave CPython before 3.13
    taking the thread for stopped while it still runs (gh-90882), and the writer would then be
    aborted under its feet (a segfault in the Parquet encoder).
    """

    _DONE = object()

    def __init__(self, consume: Callable[[Any], None], depth: int = 3) -> None:
        self.consume = consume
        self.items: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.cancelled = False
        self.finished = threading.Event()
        self.thread = threading.Thread(target=self._run, name="insightkit-rsnap-writer", daemon=True)

    def _run(self) -> None:
        try:
            while (item := self.items.get()) is not self._DONE:
                if self.error is None and not self.cancelled:
                    try:
                        self.consume(item)
                    except BaseException as exc:  # handed to the producer
                        self.error = exc
        finally:
            self.finished.set()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def put(self, item: Any) -> None:
        self._raise()
        self.items.put(item)

    def join(self) -> None:
        """Wait until everything put so far is consumed; raise what the thread raised."""
        self.items.put(self._DONE)
        self.finished.wait()
        self._raise()

    def __enter__(self) -> _Background:
        try:
            self.thread.start()
        except BaseException:  # an interrupt while start() waits for the thread: it may be running
            self.items.put(self._DONE)
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.thread.ident is not None and not self.finished.is_set():
            self.cancelled = kind is not None
            self.items.put(self._DONE)
            self.finished.wait()


def _shown(batches: Batches, progress: bool, desc: str, total: int | None = None) -> Iterator[pa.RecordBatch]:
    with tqdm(
        desc=desc, total=total, unit=" keys", unit_scale=True, disable=not progress, leave=False
    ) as bar:
        for batch in batches:
            bar.update(batch.num_rows)
            yield batch
