"""``assign_patterns``: one pattern per key, for any number of keys, in bounded memory.

The only per-key work is writing digits as ``0`` and a dictionary encoding of the resulting digit
shapes (``insightkit.patterns.digits``), done in chunks on all cores (numpy and pyarrow release the
GIL); the template rewrite (``shapes.templates_of``) and the custom and library rules that cannot tell
digits apart run once per distinct shape. Each chunk's strings are dropped as soon as they are encoded,
so memory holds the keys, a few int32 per key and the distinct shapes and templates. Discovery then
runs on distinct templates, the rules' names are filled in from the keys they took, and the result is a
categorical column.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from insightkit.errors import ConfigurationError
from insightkit.patterns.cardinality import DEFAULT_THRESHOLDS, Thresholds
from insightkit.patterns.custom import CustomSpec, Rule, Shapes, first_match, name_matches, parse_custom
from insightkit.patterns.digits import zero_digits
from insightkit.patterns.discover import discover
from insightkit.patterns.libraries import METADATA_KEY as LIBRARY_PATTERNS
from insightkit.patterns.libraries import anchor_of, anchors_present, conditional_names, ownership
from insightkit.patterns.shapes import has_control_bytes, templates_of
from insightkit.patterns.tokens import fold_variable_segments
from insightkit.schema import PATTERN_COLUMN

CHUNK_KEYS = 1 << 20
PROGRESS_MIN_KEYS = 2_000_000


def key_array(keys: pd.DataFrame | pd.Series) -> pa.ChunkedArray:
    """The ``key`` column as an Arrow string array without copying Arrow-backed columns."""
    column = keys["key"] if isinstance(keys, pd.DataFrame) else keys
    arr = pa.array(column.array) if not isinstance(column.array, np.ndarray) else pa.array(column)
    chunked = arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])
    if pa.types.is_binary(chunked.type) or pa.types.is_large_binary(chunked.type):
        raise ConfigurationError("key column holds bytes: escape binary keys as KEY_SCHEMA describes")
    return chunked


def binary_flags(keys: pd.DataFrame | pd.Series) -> pa.ChunkedArray | None:
    """The ``key_binary`` column as Arrow booleans, or None when absent."""
    if not isinstance(keys, pd.DataFrame) or "key_binary" not in keys.columns:
        return None
    column = keys["key_binary"]
    arr = pa.array(column.array) if not isinstance(column.array, np.ndarray) else pa.array(column)
    return arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])


def _whole(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One array, copied only when it spans chunks."""
    if not isinstance(arr, pa.ChunkedArray):
        return arr
    return arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()


def raw_templates(keys: pa.Array, binary: pa.Array | None = None) -> tuple[np.ndarray, list[str]]:
    """Each key's raw (unfolded) template as an index into the distinct raw templates of ``keys``."""
    per_unit, unit_of_key, dictionary, _ = shaped_templates(keys, binary)
    return (per_unit if unit_of_key is None else per_unit[unit_of_key]), dictionary


def shaped_templates(
    keys: pa.Array | pa.ChunkedArray,
    binary: pa.Array | pa.ChunkedArray | None = None,
    rules: tuple[Rule, ...] = (),
) -> tuple[np.ndarray, np.ndarray | None, list[str], np.ndarray | None]:
    """The raw templates of ``keys``, and the first of ``rules`` each key matches (None without rules).

    Templates cannot tell one digit from another (every pattern in ``TEMPLATE_REGEX`` names digits by
    a class holding all ten, and every digit ends up inside a wildcard), so keys that differ only in
    their digits — ``user:123:cart`` and ``user:456:cart`` — share one template. When a sample says
    that folds the batch well, RE2 runs once per distinct digit shape instead of once per key, for the
    templates and for the rules that are ``digit_blind``. Returned: per unit (distinct shape, or key)
    the index of its template; per key the index of its unit (None: the units are the keys); the
    distinct templates; the rules' ``first_match``. The chunks of ``keys`` are joined only when there
    are no shapes (the shapes are one array of their own).
    The GIL is released throughout: callers run it on worker threads.
    """
    # Nulls are not in KEY_SCHEMA, but a hand-made frame may have them.
    filled = pc.fill_null(keys, "") if keys.null_count else keys
    shapes = digit_shapes(filled, binary)
    first = first_match(keys, rules, shapes) if rules else None
    if shapes is not None:
        units, unit_of_key = shapes
        templates = templates_of(units).dictionary_encode()
        per_unit = templates.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
        return per_unit, unit_of_key, templates.dictionary.to_pylist(), first
    encoded = templates_of(_whole(filled), None if binary is None else _whole(binary)).dictionary_encode()
    indices = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    return indices, None, encoded.dictionary.to_pylist(), first


#: Batches below this many keys, or whose sample has more than this share of distinct digit shapes,
#: are templated key by key (the shapes would not save their own cost).
SHAPE_MIN_KEYS = 1024
SHAPE_MAX_DISTINCT = 0.25
_SHAPE_SAMPLE = 4096


def digit_shapes(
    keys: pa.Array | pa.ChunkedArray, binary: pa.Array | pa.ChunkedArray | None
) -> Shapes | None:
    """The distinct digit shapes of ``keys`` and each key's, or None (see ``_digit_shapes``)."""
    zeroed = _digit_shapes(keys, binary)
    if zeroed is None:
        return None
    encoded = zeroed.dictionary_encode()
    return encoded.dictionary, encoded.indices.to_numpy(zero_copy_only=False)


def _digit_shapes(
    keys: pa.Array | pa.ChunkedArray, binary: pa.Array | pa.ChunkedArray | None
) -> pa.Array | None:
    """``keys`` with every ASCII digit written as ``0`` (``digits.zero_digits``), or None when that
    would not fold the batch enough or the batch holds binary keys (their templates come from
    another pass)."""
    if len(keys) < SHAPE_MIN_KEYS or not (
        pa.types.is_string(keys.type) or pa.types.is_large_string(keys.type)
    ):
        return None
    if binary is not None and pc.any(binary).as_py():
        return None
    sample = zero_digits(keys.slice(0, _SHAPE_SAMPLE))
    if sample is None or pc.count_distinct(sample).as_py() > SHAPE_MAX_DISTINCT * len(sample):
        return None
    if any(
        has_control_bytes(chunk) for chunk in (keys.chunks if isinstance(keys, pa.ChunkedArray) else [keys])
    ):
        return None
    return zero_digits(keys)


#: One chunk's ``shaped_templates``.
_Chunk = tuple[np.ndarray, np.ndarray | None, list[str], np.ndarray | None]


def _encode_chunk(
    keys: pa.ChunkedArray, binary: pa.ChunkedArray | None, start: int, rules: tuple[Rule, ...]
) -> _Chunk:
    """Templates (and rules) of one chunk; the chunk's strings are dropped on return."""
    part = keys.slice(start, CHUNK_KEYS)
    return shaped_templates(part, None if binary is None else binary.slice(start, CHUNK_KEYS), rules)


@contextlib.contextmanager
def _bar(total: int, show: bool) -> Iterator[Callable[[int], object]]:
    """A progress bar's ``update``; without a bar, not even tqdm's import (asyncio, multiprocessing)."""
    if not show:
        yield lambda n: None
        return
    from tqdm.auto import tqdm

    with tqdm(total=total, unit="key", desc="patterns", leave=False) as bar:
        yield bar.update


def template_codes(
    keys: pa.ChunkedArray,
    binary: pa.ChunkedArray | None = None,
    *,
    progress: bool | None = None,
    workers: int | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Per key, the code of its folded template; and the distinct folded templates."""
    codes, templates, _ = codes_and_rules(keys, binary, (), progress=progress, workers=workers)
    return codes, templates


def codes_and_rules(
    keys: pa.ChunkedArray,
    binary: pa.ChunkedArray | None,
    rules: tuple[Rule, ...],
    *,
    progress: bool | None = None,
    workers: int | None = None,
) -> tuple[np.ndarray, list[str], np.ndarray | None]:
    """``template_codes``, and per key the first of ``rules`` it matches (``first_match``; None
    without rules), both from one pass over each chunk's digit shapes.

    Chunks are cut inside the workers, so at most ``workers`` chunks of strings exist at once.
    """
    n = len(keys)
    starts = list(range(0, n, CHUNK_KEYS))
    show = (n >= PROGRESS_MIN_KEYS) if progress is None else progress
    workers = workers or min(len(starts), os.cpu_count() or 1) or 1
    results: list[_Chunk] = []
    with ThreadPoolExecutor(max_workers=workers) as pool, _bar(n, show) as update:
        for result in pool.map(lambda start: _encode_chunk(keys, binary, start, rules), starts):
            results.append(result)
            update(len(result[0]) if result[1] is None else len(result[1]))

    # Unify the chunk dictionaries, folding each distinct raw template once.
    all_raw: list[str] = [t for _, _, d, _ in results for t in d]
    folded_codes, folded = pd.factorize(pd.Series([fold_variable_segments(t) for t in all_raw], dtype=object))
    if len(results) == 1:  # one chunk: no copy into arrays for all of them
        per_unit, unit_of_key, _, first = results[0]
        of_unit = folded_codes.astype(np.int32)[per_unit]
        return (of_unit if unit_of_key is None else of_unit[unit_of_key]), [str(t) for t in folded], first
    codes = np.empty(n, dtype=np.int32)
    first = np.full(n, -1, dtype=np.int32) if rules else None
    offset_raw = 0
    offset_key = 0
    for per_unit, unit_of_key, dictionary, chunk_first in results:
        mapping = folded_codes[offset_raw : offset_raw + len(dictionary)].astype(np.int32)
        of_unit = mapping[per_unit]
        size = len(per_unit) if unit_of_key is None else len(unit_of_key)
        codes[offset_key : offset_key + size] = of_unit if unit_of_key is None else of_unit[unit_of_key]
        if first is not None and chunk_first is not None:
            first[offset_key : offset_key + size] = chunk_first
        offset_raw += len(dictionary)
        offset_key += size
    return codes, [str(t) for t in folded], first


def assign_patterns(
    keys: pd.DataFrame,
    custom: CustomSpec | None = None,
    *,
    renames: Mapping[str, str] | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    progress: bool | None = None,
    libraries: Any = None,
) -> pd.Series:
    """The pattern of every key, aligned with ``keys`` (a categorical Series named ``pattern``).

    ``custom``: a glob (``"user:*"``), a ``"re:<regex>"`` string, a compiled regex, a list of those or of
    ``(pattern, name)`` pairs, a ``{pattern: name}`` mapping, or ``CustomPatterns``; they win over
    discovery, first match first. ``renames`` maps discovered pattern names to the names you prefer.
    The families of known libraries (``insightkit.patterns.libraries``) come next, then discovery;
    ``libraries=False`` leaves them out, a list of names keeps only those. Which patterns a library
    owns is in ``series.attrs["library_patterns"]`` (``assign_owned`` returns it on its own).
    """
    series, owned = assign_owned(
        keys, custom, renames=renames, thresholds=thresholds, progress=progress, libraries=libraries
    )
    series.attrs[LIBRARY_PATTERNS] = owned
    return series


def assign_owned(
    keys: pd.DataFrame,
    custom: CustomSpec | None = None,
    *,
    renames: Mapping[str, str] | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    progress: bool | None = None,
    libraries: Any = None,
) -> tuple[pd.Series, dict[str, dict[str, str]]]:
    """``assign_patterns``' Series, and ``{pattern: {"owner", "role"}}`` for the patterns a known
    library owns (what ``Analysis.metadata["library_patterns"]`` and an RSNAP's footer hold)."""
    spec = parse_custom(custom, renames, libraries)
    arr = key_array(keys)
    n = len(arr)
    rules = spec.all_rules
    codes, templates, first = codes_and_rules(arr, binary_flags(keys), rules, progress=progress)
    matched = name_matches(arr, rules, first) if first is not None else None
    rule_of_key = matched.codes if matched is not None else np.full(n, -1, dtype=np.int32)

    # Keys of a conditional family (owned only beside an anchor key, e.g. Sidekiq's queue:*) go to
    # discovery like any other; their templates take the family's name once its anchor is known to
    # be present. Decided per template, as the out-of-core path has to (it learns of the anchor only
    # after its first pass).
    conditional = conditional_names(matched)
    if conditional is not None:
        cond_key = (rule_of_key >= 0) & conditional[np.maximum(rule_of_key, 0)]
        cond_templates = _template_names(codes[cond_key], rule_of_key[cond_key])
        rule_of_key = np.where(cond_key, -1, rule_of_key)
    discovered_mask = rule_of_key < 0
    any_hit = matched is not None and not bool(discovered_mask.all())
    hit = ~discovered_mask if any_hit else None
    weights = np.bincount(codes[discovered_mask] if any_hit else codes, minlength=len(templates))
    present = np.flatnonzero(weights)
    patterns_of_present = discover([templates[i] for i in present], weights[present], thresholds)
    pattern_codes_present, pattern_names = pd.factorize(pd.Series(patterns_of_present, dtype=object))
    template_to_pattern = np.full(len(templates), -1, dtype=np.int32)
    template_to_pattern[present] = pattern_codes_present

    rule_names = matched.names if matched is not None else []
    rule_counts = (
        np.bincount(rule_of_key[hit], minlength=len(rule_names))
        if hit is not None
        else np.zeros(len(rule_names), dtype=np.int64)
    )
    names_used = set(np.flatnonzero(rule_counts).tolist())
    if conditional is not None and matched is not None:
        anchors = anchors_present(matched.rules[i] for i in names_used)
        for template, name in cond_templates.items():
            if anchor_of(matched.rules[name]) in anchors:
                template_to_pattern[template] = len(pattern_names) + name
                names_used.add(name)
    discovered_names = [str(p) for p in pattern_names]
    names = discovered_names + rule_names
    owned = (
        ownership(
            [(matched.names[i], matched.rules[i]) for i in sorted(names_used)],
            [
                discovered_names[i]
                for i in np.unique(template_to_pattern[present])  # the templates of discovered_mask
                if 0 <= i < len(discovered_names)
            ],
            matched.links,
            spec.renames,
        )
        if matched is not None
        else {}
    )
    if spec.renames:
        names = [spec.renames.get(name, name) for name in names]
    # Renames (or a rule named like a discovered pattern) may merge categories; categories no key
    # has are dropped. Both are decided on the names' key counts, so the keys are mapped only once.
    merged_codes, merged_names = pd.factorize(pd.Series(names, dtype=object))
    categories = np.asarray(merged_names, dtype=object)
    counts = np.bincount(template_to_pattern[present], weights[present], minlength=len(names))
    counts[len(pattern_names) :] += rule_counts  # the discovered keys, then the rules'
    used = np.bincount(merged_codes, weights=counts, minlength=len(categories)) > 0
    final = merged_codes
    if not used.all():
        final = (np.cumsum(used) - 1)[merged_codes]
        categories = categories[used]
    final = final.astype(_code_type(len(categories)))  # the codes' type Categorical would pick
    # Templates no discovered key has (-1) are the templates of rule-named keys only, set below.
    key_codes = final[np.maximum(template_to_pattern, 0)][codes]
    if hit is not None:
        key_codes[hit] = final[len(pattern_names) + rule_of_key[hit]]
    cat = pd.Categorical.from_codes(key_codes, categories=pd.Index(categories, dtype=object), validate=False)
    in_use = set(categories)
    owned = {name: value for name, value in owned.items() if name in in_use}
    return pd.Series(cat, index=keys.index, name=PATTERN_COLUMN), owned


def _code_type(categories: int) -> type[np.signedinteger[Any]]:
    """The narrowest signed integer for ``categories`` codes, as pandas chooses it."""
    for kind in (np.int8, np.int16, np.int32):
        if categories < np.iinfo(kind).max:
            return kind
    return np.int64


def _template_names(templates: np.ndarray, names: np.ndarray) -> dict[int, int]:
    """template code → the conditional name its keys matched (the first seen, should there be two)."""
    out: dict[int, int] = {}
    for template, name in zip(templates.tolist(), names.tolist(), strict=True):
        out.setdefault(int(template), int(name))
    return out


def pattern_arrow(patterns: pd.Series) -> pa.Array:
    """The ``assign_patterns`` result as an Arrow string array, without a Python string per row.

    (``pa.array(list(series))`` costs seconds on 10M keys; this is a dictionary cast.)
    """
    encoded = pattern_dictionary(patterns)
    return encoded.cast(pa.string()) if pa.types.is_dictionary(encoded.type) else encoded


def pattern_dictionary(patterns: pd.Series) -> pa.Array:
    """The ``assign_patterns`` result as an Arrow dictionary array (its codes and names, no copy of a
    string per row): what DuckDB groups and compares fastest (a pattern table's scans ~20 % cheaper at
    1M keys, and the rules need not encode it again). A Series that is not categorical comes as strings."""
    if isinstance(patterns.dtype, pd.CategoricalDtype):
        values = patterns.cat.codes.to_numpy()
        missing = values < 0
        codes = pa.array(values, mask=missing if missing.any() else None)
        names = pa.array(np.asarray(patterns.cat.categories, dtype=object), pa.string())
        return pa.DictionaryArray.from_arrays(codes, names)
    return pa.array(patterns.astype(object), pa.string())
