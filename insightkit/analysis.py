"""The front door: ``analyze(source)`` and ``load(path)`` return an ``Analysis``.

``Analysis`` is a thin facade over one per-key DataFrame and its metadata dict. Everything else —
patterns, recommendations, charts, widgets, HTML — is computed on demand by the module that owns it,
imported lazily so that a script that only wants ``summary()`` never pays for matplotlib.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from insightkit import sources
from insightkit._files import check_output_path
from insightkit._frames import arrow_backed
from insightkit.errors import ConfigurationError, InsightkitError, RsnapError
from insightkit.rsnap import (
    RsnapWriter,
    iter_rsnap,
    make_redactor,
    read_rsnap,
    read_rsnap_metadata,
    strip_credentials,
    write_rsnap,
)
from insightkit.rsnap.reader import rsnap_columns
from insightkit.schema import KEY_SCHEMA, PATTERN_COLUMN
from insightkit.sources import (
    MetadataSource,
    Source,
    check_batch_size,
    classify,
    hold_up_to,
    is_big,
    open_source,
    rdb_file,
)
from insightkit.summary import Summary, summary_of
from insightkit.table import KeyTable, key_columns, pattern_table, top_keys

log = logging.getLogger(__name__)

_LOAD_ONLY = ("original_method", "rsnap_source")
OUT_OF_CORE_MEMORY = "1GB"  # DuckDB's limit for out-of-core analyses (it spills to disk beyond)


class Analysis:
    """One snapshot's keys (``keys``), how they were obtained (``metadata``), and what follows.

    The rows live in a ``KeyTable`` (insightkit.table): an Arrow table in memory, or an RSNAP that
    DuckDB reads (``analyze(..., out_of_core=True)``). Summary, patterns, top-N, recommendations and
    offenders are the same queries over it either way; only ``keys`` (a pandas view) differs in cost.
    """

    def __init__(
        self,
        keys: pd.DataFrame | pa.Table | None,
        metadata: dict[str, Any],
        *,
        custom_patterns: Any = None,
        libraries: Any = None,
        progress: bool = True,
        store: Any = None,
        rsnap: Path | None = None,
        workdir: Path | None = None,
    ) -> None:
        self.metadata = metadata
        self._custom_patterns = custom_patterns
        self._libraries = libraries
        self.progress_batches = progress
        self._keys: pd.DataFrame | None = None  # the pandas view of the rows, made when asked for
        self._rsnap = rsnap
        if store is not None:  # out of core: an insightkit.fleet.Fleet over the RSNAP
            self._table: KeyTable = store.key_table
        else:
            if isinstance(keys, pd.DataFrame):
                self._keys = keys
                keys = pa.Table.from_pandas(keys, preserve_index=False)
            arrow = keys if keys is not None else KEY_SCHEMA.empty_table()
            self._table = KeyTable.from_arrow(arrow, metadata.get("snapshot_time_ms"))
        self._release = weakref.finalize(self, _release, store or self._table, workdir)

    def __repr__(self) -> str:
        source = self.metadata.get("source", "?")
        where = ", out of core" if self.out_of_core else ""
        count = "closed" if self._table.closed else f"{self._table.count():,} keys"
        return f"<Analysis {count} from {source} ({self.metadata.get('method')}{where})>"

    @property
    def out_of_core(self) -> bool:
        """True when the keys live in an RSNAP queried by DuckDB rather than in memory."""
        return self._table.arrow is None

    @property
    def key_table(self) -> KeyTable:
        """The rows behind every table here (``.rows`` is a DuckDB relation over them)."""
        return self._table

    @property
    def rsnap_path(self) -> Path | None:
        """The RSNAP an out-of-core Analysis reads (None in memory)."""
        return self._rsnap

    def close(self) -> None:
        """Release the DuckDB connection (and an out-of-core Analysis' temporary RSNAP, if it made one)."""
        self._release()

    def __enter__(self) -> Analysis:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the key table --------------------------------------------------------------------------

    @property
    def keys(self) -> pd.DataFrame:
        """One row per key (Arrow-backed), with ``pattern`` once pattern discovery is available.

        Out of core, the first access loads the whole RSNAP into pandas.
        """
        self._with_patterns()
        return self.decoded_keys()

    def decoded_keys(self) -> pd.DataFrame:
        """The key table without running pattern discovery (``pattern`` only where it already is).

        What a diff reads: it discovers patterns over both snapshots at once, so each side's own
        discovery would be wasted. Out of core, the first access loads the whole RSNAP into pandas.
        """
        if self._keys is None:
            arrow = self._table.arrow
            if arrow is None:
                assert self._rsnap is not None
                arrow, _ = read_rsnap(self._rsnap)
            self._keys = arrow.to_pandas(types_mapper=pd.ArrowDtype)
        return self._keys

    def _with_patterns(self) -> KeyTable:
        """The key table once every row has its ``pattern`` (discovered in memory on first use; an
        out-of-core table got them while it was written)."""
        arrow = self._table.arrow
        if arrow is not None and PATTERN_COLUMN not in arrow.column_names:
            self._attach_patterns()
        return self._table

    def _attach_patterns(self) -> None:
        from insightkit.patterns.assign import assign_owned, pattern_dictionary
        from insightkit.patterns.libraries import METADATA_KEY

        keys = self.decoded_keys()
        started = time.monotonic()
        series, owned = assign_owned(
            keys,
            custom=self._custom_patterns,
            progress=self.progress_batches,
            libraries=self._libraries,
        )
        log.info("patterns assigned to %s keys in %.1f s", f"{len(series):,}", time.monotonic() - started)
        # the key table holds the codes (DuckDB groups and compares them fastest), pandas the names
        encoded = pattern_dictionary(series) if len(series) else pa.array([], pa.string())
        values = encoded.cast(pa.string()) if pa.types.is_dictionary(encoded.type) else encoded
        keys[PATTERN_COLUMN] = pd.Series(pd.arrays.ArrowExtensionArray(values), index=keys.index)
        if owned:  # present only when a known library owns a pattern
            self.metadata[METADATA_KEY] = owned
        else:
            self.metadata.pop(METADATA_KEY, None)
        arrow = self._table.arrow  # only an in-memory table lacks patterns (an RSNAP was written with them)
        assert arrow is not None
        self._table.replace_arrow(
            arrow.append_column(PATTERN_COLUMN, encoded), self.metadata.get("snapshot_time_ms")
        )

    @functools.cached_property
    def patterns(self) -> pd.DataFrame:
        """Memory by key pattern (insightkit.table.queries.pattern_table), with the ``owner`` and
        ``role`` of the patterns a known library owns (null elsewhere); Arrow-backed like ``keys``."""
        return arrow_backed(self._patterns)

    @functools.cached_property
    def _patterns(self) -> pd.DataFrame:
        """The pattern table as its engine returns it: what the rules were written against."""
        from insightkit.patterns.libraries import METADATA_KEY, with_owners

        table = pattern_table(self._with_patterns())
        return with_owners(table, self.metadata.get(METADATA_KEY))

    @functools.cached_property
    def recommendations(self) -> pd.DataFrame:
        """Findings sorted by estimated savings (insightkit.recommend.evaluate); Arrow-backed like ``keys``."""
        return arrow_backed(self._recommendations)

    @functools.cached_property
    def _recommendations(self) -> pd.DataFrame:
        """The findings as the rules engine returns them (savings_totals reads these)."""
        from insightkit.recommend import evaluate

        rows = self._with_patterns().native()
        started = time.monotonic()
        findings = evaluate(rows, None, self.metadata)
        log.info("rules evaluated: %d findings in %.1f s", len(findings), time.monotonic() - started)
        return findings

    def offenders(self, rule_id: str, largest: int | None = None) -> pd.DataFrame:
        """Every key row that one rule flags (``largest=n``: the ``n`` with the largest saving, then
        memory); Arrow-backed like ``keys`` (expiries exact)."""
        from insightkit.recommend import offenders

        rows = self._with_patterns().native()
        return arrow_backed(offenders(rows, None, self.metadata, rule_id, largest=largest))

    def summary(self) -> Summary:
        """Memory by db, type, encoding and TTL bucket, with totals beside INFO.

        ``totals`` also carries the recommendations' savings, every key's bytes counted once
        (``estimated_savings_bytes``; RSS savings apart in ``estimated_rss_savings_bytes``, see
        insightkit.recommend.savings), which runs the rules if they have not run yet.
        """
        from insightkit.recommend import savings_totals

        summary = summary_of(self._table, self.metadata)
        totals = dict(summary.totals)
        totals.update(savings_totals(self._recommendations, self.metadata))
        return Summary(
            by_db=arrow_backed(summary.by_db),
            by_type=arrow_backed(summary.by_type),
            by_encoding=arrow_backed(summary.by_encoding),
            ttl_buckets=arrow_backed(summary.ttl_buckets),
            totals=totals,
        )

    def top(self, n: int = 20, by: str = "memory_bytes", *, collections: bool = False) -> pd.DataFrame:
        """The ``n`` keys with the largest ``by`` (any numeric column), ties to the larger key, then
        by (db, key);
        ``collections=True``: only hashes, lists, sets, sorted sets, streams and module types."""
        return top_keys(self._with_patterns(), n, by, collections=collections)

    def key_columns(self, columns: list[str]) -> pd.DataFrame:
        """Only ``columns`` of every key (Arrow-backed), as the report's views over all keys read them:
        out of core, without loading the key names and every other column (``keys`` would)."""
        if self._keys is not None or self._table.arrow is not None:
            return self.keys[list(columns)]
        return key_columns(self._table, list(columns))

    # --- files ----------------------------------------------------------------------------------

    def to_rsnap(
        self, path: str | os.PathLike[str], redact: object = None, *, dataset: bool | None = None
    ) -> Path:
        """Write the key table and metadata as an RSNAP (``redact=True`` or a secret hashes key names)."""
        redactor = make_redactor(redact)
        table = self._with_patterns()  # (patterns, and the library_patterns metadata, before the copy)
        metadata = {k: v for k, v in self.metadata.items() if k not in _LOAD_ONLY}
        if metadata.get("method") == "rsnap" and "original_method" in self.metadata:
            metadata["method"] = self.metadata["original_method"]
        if table.arrow is None:  # out of core: stream the backing RSNAP across (patterns included)
            assert self._rsnap is not None
            if redactor is None and not dataset and _same_file_rsnap(self._rsnap, metadata):
                return _copy_file(self._rsnap, Path(path))
            if redactor is not None and not redactor.fitted:  # a first pass learns the skeleton
                redactor.fit_batches(_key_patterns(self._rsnap), _owned(metadata))
            batches = iter_rsnap(self._rsnap)
            return write_rsnap(path, batches, metadata, redactor=redactor, dataset=dataset)
        if redactor is not None and not redactor.fitted:
            keys = self.keys
            patterns = keys[PATTERN_COLUMN] if PATTERN_COLUMN in keys.columns else None
            redactor.fit(keys["key"], patterns, _owned(metadata))
        return write_rsnap(path, table.arrow, metadata, redactor=redactor, dataset=dataset)

    # --- presentation (insightkit.present, imported only when asked for) ------------------------

    def explore(self, **options: Any) -> Any:
        """Interactive ipywidgets explorer (display it in a notebook)."""
        import insightkit.present as present

        return present.explore(self, **options)

    def to_html(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Write a static, self-contained HTML report; returns its path."""
        import insightkit.present as present

        return present.to_html(self, Path(path), **options)

    def _plot(self, name: str, options: dict[str, Any]) -> Any:
        import insightkit.present as present

        return present.plot(self, name, **options)

    def plot_memory_by_type(self, **options: Any) -> Any:
        """Memory by type and encoding (matplotlib Figure)."""
        return self._plot("memory_by_type", options)

    def plot_top_patterns(self, **options: Any) -> Any:
        """The patterns that hold the most memory."""
        return self._plot("top_patterns", options)

    def plot_pattern_treemap(self, **options: Any) -> Any:
        """Memory by pattern as a treemap."""
        return self._plot("pattern_treemap", options)

    def plot_ttl_buckets(self, **options: Any) -> Any:
        """Memory by time-to-live bucket."""
        return self._plot("ttl_buckets", options)

    def plot_element_counts(self, **options: Any) -> Any:
        """Distribution of element counts per type."""
        return self._plot("element_counts", options)

    def plot_key_sizes(self, **options: Any) -> Any:
        """Distribution of key memory sizes."""
        return self._plot("key_sizes", options)

    def plot_top_keys(self, **options: Any) -> Any:
        """The biggest keys."""
        return self._plot("top_keys", options)

    def plot_savings(self, **options: Any) -> Any:
        """Estimated savings per recommendation."""
        return self._plot("savings", options)


def _same_file_rsnap(store: Path, metadata: dict[str, Any]) -> bool:
    """Whether the backing RSNAP is one file already holding exactly ``metadata``: then a copy of
    its bytes is the RSNAP asked for, with no Parquet to encode again."""
    return store.is_file() and read_rsnap_metadata(store) == metadata


def _copy_file(source: Path, target: Path) -> Path:
    """``source`` copied to ``target`` atomically (a temporary name beside it, then a rename)."""
    check_output_path(target, RsnapError)
    partial = target.parent / f".{target.name}.{os.getpid()}.copy"
    try:
        shutil.copyfile(source, partial)
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    return target


def _store_path(fleet: Any) -> Path:
    """The RSNAP a store reads: its one file, or its directory (possibly a re-patterned copy)."""
    files = fleet.dataset.files
    return Path(files[0].path) if len(files) == 1 else Path(fleet.dataset.root)


def _release(store: Any, workdir: Path | None) -> None:
    """Close the DuckDB connection behind an Analysis (its KeyTable, or an out-of-core Fleet) and remove
    the temporary RSNAP it made (if any)."""
    store.close()
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)


# --- analyze / load -------------------------------------------------------------------------------


def _arrow(batches: Iterable[pa.RecordBatch]) -> pa.Table:
    """Arrow batches → one table (no copy)."""
    batch_list = list(batches)
    return pa.Table.from_batches(batch_list) if batch_list else KEY_SCHEMA.empty_table()


def _owned(metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``library_patterns`` table of ``metadata``, when it has one."""
    owned = metadata.get("library_patterns")
    return owned if isinstance(owned, dict) else None


def _key_patterns(path: Path) -> Iterator[tuple[pa.Array, pa.Array]]:
    """(key, pattern) column batches of an RSNAP; nothing when it has no pattern column."""
    if PATTERN_COLUMN not in rsnap_columns(path):
        return
    for batch in iter_rsnap(path, columns=["key", PATTERN_COLUMN]):
        yield batch.column(0), batch.column(1)


def load(
    path: str | os.PathLike[str],
    *,
    patterns: Any = None,
    libraries: Any = None,
    out_of_core: bool | None = None,
    memory_limit: str | None = OUT_OF_CORE_MEMORY,
    progress: bool = True,
) -> Analysis:
    """Re-open an RSNAP file or directory; ``metadata["method"]`` becomes ``"rsnap"``
    (``progress=False``: no bar while patterns are found for an RSNAP written without them).

    The stored ``pattern`` column is kept unless ``patterns`` (custom pattern rules) or ``libraries``
    (which known libraries' families to use; ``False``: none) asks for a new one. An RSNAP of
    ``sources.AUTO_OUT_OF_CORE_KEYS`` keys or more (or any, with ``out_of_core=True``) stays where it
    is and is queried there by DuckDB, as ``analyze()`` does; ``out_of_core=False`` reads it whole.
    """
    if out_of_core is not False:
        try:
            found: Source | None = classify(path)
        except InsightkitError:
            found = None  # (read_rsnap below says what is wrong with it, as load always has)
        if found is not None and found.kind == "rsnap" and (out_of_core or is_big(found)):
            return _analyze_out_of_core(
                found,
                None,
                batch_size=65536,
                progress=progress,
                memory_limit=memory_limit,
                custom=patterns,
                libraries=libraries,
                options={},
            )
    log.info("source: RSNAP file %s", strip_credentials(str(path)))
    table, stored = read_rsnap(path)
    metadata = dict(stored)
    metadata["original_method"] = stored.get("method")
    metadata["method"] = "rsnap"
    metadata["rsnap_source"] = str(path)
    if (patterns is not None or libraries is not None) and PATTERN_COLUMN in table.column_names:
        table = table.drop_columns([PATTERN_COLUMN])  # custom patterns: discover again with them
    return Analysis(table, metadata, custom_patterns=patterns, libraries=libraries, progress=progress)


def analyze(
    source: Any,
    *,
    batch_size: int = 65536,
    progress: bool = True,
    out_of_core: bool | None = None,
    rsnap: str | os.PathLike[str] | None = None,
    memory_limit: str | None = OUT_OF_CORE_MEMORY,
    **options: Any,
) -> Analysis:
    """Analyze a live server (URL, ``host:port`` or redis-py client), an ``.rdb`` file or an RSNAP.

    ``progress=False`` silences the progress bars. Other options go to the stage that reads the
    source: ``method``/``password``/… to ``open_snapshot``, ``verify_checksum``/``allocator``/
    ``server_version`` to ``read_rdb``; ``patterns`` (custom patterns) to pattern discovery.

    ``out_of_core=True`` (or ``rsnap=path``) never holds the key table: the keys stream into an RSNAP
    (at ``rsnap``, else a temporary file removed by ``close()``) with their patterns, and summary,
    patterns, recommendations and ``top()`` run as DuckDB queries over it (DuckDB held to
    ``memory_limit``, spilling beyond); ``.keys`` loads it on demand. The default (``None``) does so
    for big inputs — RDB files from ``sources.AUTO_OUT_OF_CORE_RDB_BYTES``, RSNAPs from
    ``sources.AUTO_OUT_OF_CORE_KEYS`` keys — and keeps smaller ones in memory. A live snapshot, or a
    smaller RDB file, that passes ``sources.AUTO_OUT_OF_CORE_KEYS`` keys while it is read goes on out
    of core from there (a file is decoded again from its start), so no snapshot fills memory.
    """
    custom = options.pop("patterns", None)
    libraries = options.pop("libraries", None)
    check_batch_size(batch_size)
    found = classify(source)
    auto = out_of_core is None
    out_of_core_options = {
        "batch_size": batch_size,
        "progress": progress,
        "memory_limit": memory_limit,
        "custom": custom,
        "libraries": libraries,
    }
    if out_of_core is None:
        out_of_core = is_big(found)
    if out_of_core or rsnap is not None:
        return _analyze_out_of_core(found, rsnap, options=options, **out_of_core_options)
    if found.kind == "rsnap" and found.path is not None and not options:
        return load(found.path, patterns=custom, libraries=libraries, out_of_core=False, progress=progress)
    started = time.monotonic()
    with open_source(found, batch_size=batch_size, progress=progress, options=dict(options)) as (
        batches,
        meta,
    ):
        too_many = False
        if auto and found.kind != "rsnap":  # (an RSNAP's key count was known: is_big)
            held, overflow = hold_up_to(batches, sources.AUTO_OUT_OF_CORE_KEYS)
            if overflow is not None:
                limit = f"{sources.AUTO_OUT_OF_CORE_KEYS:,}"
                log.info("more than %s keys: analyzing out of core", limit)
                if found.kind == "live":  # a replication stream cannot be read again: it goes on
                    return _analyze_out_of_core(
                        found, None, options=options, stream=(overflow, meta), **out_of_core_options
                    )
                too_many = True
                overflow.close()  # (lets the batches read so far go before the file is read again)
                del overflow
            batches = iter(held)
        if not too_many:
            keys = _arrow(batches)
            metadata = meta()
    if too_many:  # a file: decoded again from its start, as out of core always decodes a file
        return _analyze_out_of_core(found, None, options=options, **out_of_core_options)
    log.info(
        "decoded %s keys (method %s) in %.1f s",
        f"{len(keys):,}",
        metadata.get("method"),
        time.monotonic() - started,
    )
    return Analysis(keys, metadata, custom_patterns=custom, libraries=libraries, progress=progress)


def _analyze_out_of_core(
    source: Source,
    rsnap: str | os.PathLike[str] | None,
    *,
    batch_size: int,
    progress: bool,
    memory_limit: str | None,
    custom: Any,
    options: dict[str, Any],
    libraries: Any = None,
    stream: tuple[Iterator[pa.RecordBatch], MetadataSource] | None = None,
) -> Analysis:
    """The keys streamed into an RSNAP with their patterns, and the Analysis over it. ``stream``: the
    batches of a source already open (a live snapshot that turned out too big to hold)."""
    from insightkit.fleet import open_fleet
    from insightkit.fleet.ingest import ingest

    if source.kind == "rsnap" and rsnap is None and custom is None and libraries is None:
        assert source.path is not None
        if options:
            raise ConfigurationError(f"options {sorted(options)} do not apply to an RSNAP")
        # first: a folder of several snapshots is refused before any copy is made
        metadata = read_rsnap_metadata(source.path)
        # an RSNAP without patterns gets them in a temporary copy, removed when the fleet closes
        fleet = open_fleet(source.path, memory_limit=memory_limit)
        metadata.update(
            original_method=metadata.get("method"), method="rsnap", rsnap_source=str(source.value)
        )
        return Analysis(None, metadata, progress=progress, store=fleet, rsnap=_store_path(fleet))
    workdir = None if rsnap is not None else Path(tempfile.mkdtemp(prefix="insightkit-analysis-"))
    target = Path(rsnap) if rsnap is not None else Path(workdir or ".") / "keys.rsnap.parquet"
    started = time.monotonic()
    try:
        if source.kind == "rdb" and source.path is not None:  # a file decodes twice faster than rows spill
            path = source.path
            log.info("source: RDB file %s, out of core into %s", strip_credentials(str(path)), target)
            decode, file_metadata = rdb_file(path, batch_size, options, bounded=True)
            written = ingest(
                decode(),
                file_metadata,
                target,
                reopen=decode,
                custom=custom,
                libraries=libraries,
                progress=progress,
                label=path.name,
            )
        elif stream is not None:
            written = ingest(stream[0], stream[1], target, custom=custom, libraries=libraries)
        else:
            with open_source(source, batch_size=batch_size, progress=progress, options=options) as (
                batches,
                meta,
            ):
                written = ingest(batches, meta, target, custom=custom, libraries=libraries)
        fleet = open_fleet(written, memory_limit=memory_limit)
        metadata = read_rsnap_metadata(written)
        if source.kind == "rsnap":  # re-read with other patterns: still a loaded RSNAP, as load() says
            metadata.update(
                original_method=metadata.get("method"), method="rsnap", rsnap_source=str(source.value)
            )
        log.info(
            "decoded %s keys (method %s) with their patterns into the RSNAP in %.1f s",
            f"{int(fleet.dataset.rows):,}",
            metadata.get("method"),
            time.monotonic() - started,
        )
    except BaseException:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    return Analysis(None, metadata, progress=progress, store=fleet, rsnap=_store_path(fleet), workdir=workdir)


def convert(
    source: Any,
    path: str | os.PathLike[str],
    *,
    redact: object = None,
    dataset: bool | None = None,
    batch_size: int = 65536,
    progress: bool = True,
    **options: Any,
) -> Path:
    """Stream any source straight into an RSNAP, holding one row group at a time (not the snapshot).

    For snapshots too big for ``analyze()``. No ``pattern`` column is written (discovery needs every
    key at once; ``load()`` adds it on demand), and ``redact=`` then hashes every part of each key
    name, since literal parts cannot be told from data one batch at a time.
    """
    check_batch_size(batch_size)
    redactor = make_redactor(redact)
    with (
        open_source(source, batch_size=batch_size, progress=progress, options=options) as (batches, meta),
        RsnapWriter(path, dataset=dataset, redactor=redactor) as writer,
    ):
        for batch in batches:
            writer.write(batch)
        return writer.close(meta())
