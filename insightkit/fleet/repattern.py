"""Fleet-wide patterns for a dataset, in two streaming passes and memory bounded by the batch size.

Discovery is cardinality-based, so it needs every key of the fleet at once — but only as *templates*
(keys with their ids folded), and there are few of those. Pass one streams the key column and counts
keys per template; discovery runs on the distinct templates; pass two streams every file again and
writes it back, with a ``pattern`` column, as an RSNAP of the same relative path under ``target``.
The per-key work is insightkit.patterns' own template rewrite, so a fleet and a single snapshot name
the same keys the same way.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from insightkit.fleet.dataset import FleetDataset, scan
from insightkit.patterns.assign import template_codes
from insightkit.patterns.discover import discover
from insightkit.rsnap.writer import RsnapWriter
from insightkit.schema import PATTERN_COLUMN


def _templates(batch: pa.RecordBatch) -> tuple[np.ndarray, list[str]]:
    keys = pa.chunked_array([batch.column("key")])
    binary = pa.chunked_array([batch.column("key_binary")]) if "key_binary" in batch.schema.names else None
    return template_codes(keys, binary, progress=False)


def fleet_patterns(
    dataset: FleetDataset, *, batch_size: int = 1 << 20, progress: bool = False
) -> dict[str, str]:
    """Pass one: the pattern of every template seen anywhere in the dataset."""
    counts: Counter[str] = Counter()
    with tqdm(
        total=dataset.rows, unit="key", desc="fleet templates", disable=not progress, leave=False
    ) as bar:
        for file in dataset.files:
            for batch in pq.ParquetFile(file.path).iter_batches(
                batch_size=batch_size, columns=["key", "key_binary"]
            ):
                codes, templates = _templates(batch)
                per_template = np.bincount(codes, minlength=len(templates))
                counts.update({t: int(n) for t, n in zip(templates, per_template, strict=True) if n})
                bar.update(batch.num_rows)
    templates = list(counts)
    patterns = discover(templates, np.array([counts[t] for t in templates], dtype=np.int64))
    return {t: str(p) for t, p in zip(templates, patterns, strict=True)}


def write_with_patterns(
    dataset: FleetDataset,
    target: Path,
    *,
    batch_size: int = 1 << 20,
    progress: bool = False,
) -> FleetDataset:
    """Pass two: every file rewritten under ``target`` with a fleet-wide ``pattern`` column."""
    mapping = fleet_patterns(dataset, batch_size=batch_size, progress=progress)
    target.mkdir(parents=True, exist_ok=True)
    with tqdm(
        total=dataset.rows, unit="key", desc="fleet patterns", disable=not progress, leave=False
    ) as bar:
        for file in dataset.files:
            out = target / file.path.relative_to(dataset.root)
            out.parent.mkdir(parents=True, exist_ok=True)
            columns = [c for c in file.columns if c != PATTERN_COLUMN]
            with RsnapWriter(out, file.metadata, dataset=False) as writer:
                for batch in pq.ParquetFile(file.path).iter_batches(batch_size=batch_size, columns=columns):
                    codes, templates = _templates(batch)
                    names = pa.array([mapping[t] for t in templates], pa.string())
                    pattern = (
                        names.take(pa.array(codes, pa.int32())) if len(codes) else pa.array([], pa.string())
                    )
                    writer.write(
                        pa.RecordBatch.from_arrays([*batch.columns, pattern], [*columns, PATTERN_COLUMN])
                    )
                    bar.update(batch.num_rows)
                if not file.rows:
                    writer.write(pa.RecordBatch.from_pylist([], schema=_with_pattern(file.path, columns)))
    return scan(target)


def _with_pattern(path: Path, columns: list[str]) -> pa.Schema:
    schema = pq.read_schema(path)
    return pa.schema([schema.field(c) for c in columns] + [pa.field(PATTERN_COLUMN, pa.string())])
