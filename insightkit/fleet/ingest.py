"""RDB → RSNAP with fleet-wide patterns, streaming: memory bounded by a row group, not by the snapshot.

``analyze()`` holds the whole key table in pandas (about 400 bytes a key at 10M keys). For snapshots
that do not fit, ``ingest_rdb`` never holds more than one batch: pass one decodes, counts keys per
template and writes the rows with their template in the ``pattern`` column to a temporary RSNAP; after
discovery on the distinct templates, pass two rewrites that file with the final pattern names. The
result is an ordinary RSNAP, opened as a one-file ``Fleet`` whose summary, patterns and rules run on
DuckDB.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from insightkit.fleet.fleet import Fleet, open_fleet
from insightkit.patterns.assign import template_codes
from insightkit.patterns.discover import discover
from insightkit.rsnap.writer import RsnapWriter
from insightkit.schema import PATTERN_COLUMN


def _with_templates(batch: pa.RecordBatch, counts: Counter[str]) -> pa.RecordBatch:
    """The batch plus a ``pattern`` column holding each key's template; counts keys per template."""
    keys = pa.chunked_array([batch.column("key")])
    binary = pa.chunked_array([batch.column("key_binary")])
    codes, templates = template_codes(keys, binary, progress=False, workers=1)
    per_template = np.bincount(codes, minlength=len(templates))
    counts.update({t: int(n) for t, n in zip(templates, per_template, strict=True) if n})
    names = pa.array(templates, pa.string())
    column = names.take(pa.array(codes, pa.int32())) if len(codes) else pa.array([], pa.string())
    return pa.RecordBatch.from_arrays([*batch.columns, column], [*batch.schema.names, PATTERN_COLUMN])


def ingest_rdb(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    batch_size: int = 65536,
    progress: bool = False,
    **read_options: Any,
) -> Fleet:
    """Decode ``source`` (an .rdb path) into the RSNAP ``target`` with patterns; return it as a Fleet."""
    from insightkit.analysis import _file_metadata
    from insightkit.rdb import read_rdb

    source = Path(source)
    reader = read_rdb(str(source), batch_size=batch_size, **read_options)
    bar = tqdm(desc=source.name, unit=" keys", unit_scale=True, disable=not progress, leave=False)
    with bar:
        ingest(_counted(reader, bar), lambda: _file_metadata(source, reader.metadata.to_dict()), target)
    return open_fleet(target)


def _counted(batches: Iterable[pa.RecordBatch], bar: Any) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        bar.update(batch.num_rows)
        yield batch


def ingest(
    batches: Iterable[pa.RecordBatch],
    metadata: Callable[[], Mapping[str, Any]],
    target: str | os.PathLike[str],
    *,
    dataset: bool | None = None,
) -> Path:
    """Key batches from any source into the RSNAP ``target`` with patterns, in two streaming passes.

    ``metadata`` is called once the batches are drained (a live snapshot's is complete only then).
    Nothing is left at ``target`` (nor the scratch file beside it) when anything fails.
    """
    target = Path(target)
    scratch = target.parent / f".{target.name}.templates.parquet"
    counts: Counter[str] = Counter()
    try:
        with RsnapWriter(scratch, {}, dataset=False, compression="lz4") as writer:
            for batch in batches:
                writer.write(_with_templates(batch, counts))
        final_metadata = dict(metadata())
        templates = list(counts)
        patterns = discover(templates, np.array([counts[t] for t in templates], dtype=np.int64))
        lookup = pa.array(templates, pa.string())
        names = pa.array([str(p) for p in patterns], pa.string())
        with RsnapWriter(target, final_metadata, dataset=dataset) as final:
            for part in pq.ParquetFile(scratch).iter_batches(batch_size=1 << 18):
                index = pc.index_in(part.column(PATTERN_COLUMN), value_set=lookup)
                named = part.set_column(
                    part.schema.get_field_index(PATTERN_COLUMN), PATTERN_COLUMN, names.take(index)
                )
                final.write(named)
            return final.close()
    finally:
        with contextlib.suppress(FileNotFoundError):
            scratch.unlink()
