"""Fleet-wide patterns for a dataset, in two streaming passes and memory bounded by the batch size.

Discovery is cardinality-based, so it needs every key of the fleet at once — but only as *templates*
(keys with their ids folded), and there are few of those. Pass one streams the key column and counts
keys per template; discovery runs on the distinct templates; pass two streams every file again and
writes it back, with a ``pattern`` column, as an RSNAP of the same relative path under ``target``.
The per-key work is insightkit.patterns' own template rewrite and its custom-pattern matching (the
known libraries' families win over discovery here too), so a fleet and a single snapshot name the same
keys the same way, and every rewritten file's metadata says which patterns a library owns.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from insightkit.patterns.assign import template_codes
from insightkit.patterns.custom import Rule, match_named, parse_custom
from insightkit.patterns.discover import discover
from insightkit.patterns.libraries import METADATA_KEY as LIBRARY_PATTERNS
from insightkit.patterns.libraries import anchor_of, anchors_present, conditional_names, ownership
from insightkit.rsnap.dataset import FleetDataset, scan
from insightkit.rsnap.writer import RsnapWriter
from insightkit.schema import PATTERN_COLUMN


def _templates(batch: pa.RecordBatch) -> tuple[np.ndarray, list[str]]:
    keys = pa.chunked_array([batch.column("key")])
    binary = pa.chunked_array([batch.column("key_binary")]) if "key_binary" in batch.schema.names else None
    return template_codes(keys, binary, progress=False)


@dataclass
class FleetPatterns:
    """What pass one learned: the pattern of every discovered template, the rules (custom patterns and
    library families, insightkit.patterns.custom) that name keys in pass two, and what libraries own."""

    templates: dict[str, str]
    rules: tuple[Rule, ...]
    owned: dict[str, dict[str, str]] = field(default_factory=dict)

    def names(self, batch: pa.RecordBatch) -> pa.Array:
        """The pattern of every key of ``batch``: a rule's name, else its template's."""
        codes, templates = _templates(batch)
        names = [self.templates.get(t, t) for t in templates]  # rule-named templates: overwritten below
        per_key = np.asarray(names, dtype=object)[codes] if len(codes) else np.empty(0, dtype=object)
        if self.rules:
            matched = match_named(batch.column("key"), self.rules)
            flags = conditional_names(matched)
            hit = matched.codes >= 0
            if flags is not None:
                hit &= ~flags[np.maximum(matched.codes, 0)]
            if hit.any():
                per_key[hit] = np.asarray(matched.names, dtype=object)[matched.codes[hit]]
        return pa.array(per_key.tolist(), pa.string())


def fleet_patterns(
    dataset: FleetDataset, *, batch_size: int = 1 << 20, progress: bool = False, libraries: Any = None
) -> FleetPatterns:
    """Pass one: the pattern of every template seen anywhere in the dataset, library families first
    (as ``assign_patterns`` and ``fleet.ingest`` do)."""
    rules = parse_custom(None, None, libraries).all_rules
    counts: Counter[str] = Counter()
    named: dict[str, Rule] = {}
    conditional: dict[str, Rule] = {}  # template → the conditional family its keys matched
    links: dict[Rule, set[str]] = {}
    with tqdm(
        total=dataset.rows, unit="key", desc="fleet templates", disable=not progress, leave=False
    ) as bar:
        for file in dataset.files:
            for batch in pq.ParquetFile(file.path).iter_batches(
                batch_size=batch_size, columns=["key", "key_binary"]
            ):
                codes, templates = _templates(batch)
                matched = match_named(batch.column("key"), rules)
                flags = conditional_names(matched)
                hit = matched.codes >= 0
                if flags is not None:
                    cond = hit & flags[np.maximum(matched.codes, 0)]
                    for code, name in zip(codes[cond].tolist(), matched.codes[cond].tolist(), strict=True):
                        conditional.setdefault(templates[code], matched.rules[name])
                    hit &= ~cond
                for name in np.unique(matched.codes[hit]).tolist():
                    named.setdefault(matched.names[name], matched.rules[name])
                for rule, values in matched.links.items():
                    links.setdefault(rule, set()).update(values)
                per_template = np.bincount(codes[~hit], minlength=len(templates))
                counts.update({t: int(n) for t, n in zip(templates, per_template, strict=True) if n})
                bar.update(batch.num_rows)
    templates = list(counts)
    patterns = discover(templates, np.array([counts[t] for t in templates], dtype=np.int64))
    mapping = {t: str(p) for t, p in zip(templates, patterns, strict=True)}
    anchors = anchors_present(named.values())
    overridden: set[str] = set()
    for template, rule in conditional.items():
        if anchor_of(rule) in anchors and template in mapping:
            mapping[template] = rule.name
            named.setdefault(rule.name, rule)
            overridden.add(template)
    discovered = {p for t, p in mapping.items() if t not in overridden}
    owned = ownership(named.items(), discovered, links)
    return FleetPatterns(mapping, rules, owned)


def write_with_patterns(
    dataset: FleetDataset,
    target: Path,
    *,
    batch_size: int = 1 << 20,
    progress: bool = False,
    libraries: Any = None,
) -> FleetDataset:
    """Pass two: every file rewritten under ``target`` with a fleet-wide ``pattern`` column (and the
    fleet's ``library_patterns`` in each file's metadata)."""
    found = fleet_patterns(dataset, batch_size=batch_size, progress=progress, libraries=libraries)
    target.mkdir(parents=True, exist_ok=True)
    with tqdm(
        total=dataset.rows, unit="key", desc="fleet patterns", disable=not progress, leave=False
    ) as bar:
        for file in dataset.files:
            out = target / file.path.relative_to(dataset.root)
            out.parent.mkdir(parents=True, exist_ok=True)
            columns = [c for c in file.columns if c != PATTERN_COLUMN]
            metadata = dict(file.metadata)
            metadata.pop(LIBRARY_PATTERNS, None)
            if found.owned:
                metadata[LIBRARY_PATTERNS] = found.owned
            with RsnapWriter(out, metadata, dataset=False) as writer:
                for batch in pq.ParquetFile(file.path).iter_batches(batch_size=batch_size, columns=columns):
                    pattern = found.names(batch) if batch.num_rows else pa.array([], pa.string())
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
