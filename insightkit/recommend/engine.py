"""Run rules over a key table on any narwhals backend: pandas in notebooks, DuckDB for big RSNAPs.

The key table arrives as a pandas DataFrame, a pyarrow Table or a DuckDB relation (e.g.
``duckdb.read_parquet("big.rsnap/*.parquet")``) and is wrapped with narwhals, so every rule's filter and
saving expressions run where the data is. Evaluation is one pass, whatever the number of rules:

1. *Globals* — what a rule may compare a key with: the table's key count and first db, keys per
   pattern, keys per expiry second. Small group-bys, computed once (never as window functions, which
   DuckDB runs on one thread and which a chunked pass could not see).
2. *Partials* — for every (rule, pattern): offending keys, their memory and savings, the largest
   collection and element. One query counts every rule's offenders; only the rules that fire are
   priced, each distinct row of their selection once (weighted by its key count). On a lazy engine the
   firing rules' rows are reduced in one scan to those distinct rows, which every firing rule and the
   overlap pass read; eager tables are walked in chunks of rows, each rule filtering first. An
   in-memory table handed to DuckDB gets its derived columns on Arrow once (``prepare_on``).
3. *Findings* — the partials reduced per rule (pandas, a few thousand rows).

``offenders`` is the one call that materialises key rows, and only the offending ones.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import narwhals as nw
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from insightkit.errors import ConfigurationError
from insightkit.recommend import severity
from insightkit.recommend.base import Aggregates, Context, Rule
from insightkit.recommend.cost import TEMP, floor_div
from insightkit.recommend.needs import expr_columns, rule_columns, union
from insightkit.recommend.owners import owned_patterns, owner_columns, owners_of, unowned
from insightkit.schema import KEY_SCHEMA, PATTERN_COLUMN

SAVINGS = "estimated_savings_bytes"
#: Columns the engine adds for the rules (dropped before offending rows leave it).
DERIVED = (
    "key_len",
    "expiry_second",
    "pattern_keys",
    "static_prefix_chars",
    "pattern_segments",
    "pattern_variable",
    "cache_pattern",
    "timeseries_pattern",
    "expiry_second_keys",
    "total_keys",
    "several_dbs",
    "first_db",
    "owner",
    "role",
    "pattern_forever_keys",
    "pattern_idle_forever_keys",
    "owner_forever_results",
    "owner_idle_results",
)
#: Per-pattern counts the globals take besides ``pattern_keys``: keys without a TTL, and those of them
#: idle for ``no_ttl_idle_s`` or more (0 where a caller does not count them)
FOREVER_COUNTS = ("pattern_forever_keys", "pattern_idle_forever_keys")
COUNTED = "counted_savings_bytes"
RESULT_COLUMNS = [
    "rule",
    "title",
    "category",
    "severity",
    "frees",
    SAVINGS,
    "offending_keys",
    "offending_patterns",
    "offending_memory_bytes",
    "top_patterns",
    "fix",
    "description",
    "detail",
    "owner",
    "role",
]
#: One row per (rule, pattern) with offenders: what a finding is reduced from.
PARTIAL_COLUMNS = ["rule", PATTERN_COLUMN, "keys", "memory", "savings", "max_elements", "max_element"]
#: Optional key-table columns (library-owned keys: who owns them, what for) whose values among a rule's
#: offenders reach its fix text (``Aggregates.owners`` / ``roles``); absent columns are simply skipped.
OWNER_COLUMNS = ("owner", "role")
#: Columns the partials read besides a rule's own (the saving's bound, the per-pattern totals)
PARTIAL_READS = frozenset(
    {PATTERN_COLUMN, "memory_bytes", "expires_bytes", "num_elements", "largest_element_bytes", *OWNER_COLUMNS}
)
#: Rows per slice when an eager (in-memory) table is walked: bounds the temporary columns.
CHUNK_ROWS = 1 << 20
#: Text columns of few distinct values that an in-memory table hands to DuckDB dictionary-encoded (the
#: rules compare and group them in every query; DuckDB still reads them as VARCHAR).
DICTIONARY_COLUMNS = ("type", "encoding", PATTERN_COLUMN)
#: From this many rows on, ``engine="auto"`` runs an in-memory table's rules on DuckDB.
DUCKDB_ROWS = 200_000
Engine = Literal["auto", "native", "duckdb"]


@contextlib.contextmanager
def _table_errors() -> Iterator[None]:
    """A key table without a column the rules read is the caller's input error, said as one."""
    try:
        yield
    except nw.exceptions.ColumnNotFoundError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigurationError(f"rules: the key table lacks a column the rules read ({first})") from exc


def to_lazy(keys: Any) -> nw.LazyFrame[Any]:
    """Any narwhals-supported table (pandas, pyarrow, DuckDB relation, polars) as a LazyFrame."""
    if isinstance(keys, nw.LazyFrame):
        return keys
    if isinstance(keys, nw.DataFrame):
        return keys.lazy()
    try:
        frame = nw.from_native(keys)
    except TypeError as exc:
        raise ConfigurationError(f"rules: cannot query a {type(keys).__name__} as a key table") from exc
    return frame.lazy() if isinstance(frame, nw.DataFrame) else frame


def _is_eager(frame: nw.LazyFrame[Any]) -> bool:
    return frame.implementation in (
        nw.Implementation.PANDAS,
        nw.Implementation.MODIN,
        nw.Implementation.CUDF,
        nw.Implementation.PYARROW,
    )


def with_row_columns(frame: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
    """``pattern`` filled in (digits stand for ids when no discovery ran), key length, expiry second."""
    if PATTERN_COLUMN not in frame.collect_schema().names():
        frame = frame.with_columns(nw.col("key").str.replace_all(r"[0-9]+", "*").alias(PATTERN_COLUMN))
    elif _has_nulls(frame, PATTERN_COLUMN):
        frame = frame.with_columns(nw.col(PATTERN_COLUMN).fill_null(nw.col("key")))
    frame = frame.with_columns(floor_div(nw.col("expires_at"), 1000).alias("expiry_second"))
    return _with_key_length(frame)


def _has_nulls(frame: nw.LazyFrame[Any], column: str) -> bool:
    """Whether ``column`` holds a null: filling them from ``key`` would make every lazy query read
    (and decode) the key strings again, so a fully patterned table is left as it is."""
    if _is_eager(frame):
        return True  # filling is cheap in memory and the check would cost as much
    nulls = frame.select(nw.col(column).is_null().any().alias("nulls")).collect()
    return bool(nulls["nulls"].item())


def _with_key_length(frame: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
    """``key_len``: the key's length in bytes (its sds length), in each engine's native O(1) form.

    narwhals only offers a character count, which is wrong for non-ASCII keys and, on DuckDB, walks
    every string again in every query (~0.4 s per 10M keys).
    """
    if frame.implementation is nw.Implementation.DUCKDB:
        relation = frame.to_native()
        return nw.from_native(relation.project('*, strlen("key") AS key_len')).lazy()
    if frame.implementation in (nw.Implementation.PANDAS, nw.Implementation.PYARROW):
        native = frame.collect().to_native()
        column = native["key"] if isinstance(native, pd.DataFrame) else native.column("key")
        if isinstance(column, pd.Series):
            arrow = (
                pa.array(column.array) if isinstance(column.array, pd.arrays.ArrowExtensionArray) else None
            )
            strings = arrow if arrow is not None else pa.array(column.astype(str).tolist(), pa.string())
            lengths = pc.binary_length(
                strings.cast(pa.large_string()) if strings.type != pa.string() else strings
            )
            out = native.assign(key_len=pd.Series(lengths.to_numpy(zero_copy_only=False), index=native.index))
        else:
            out = native.append_column("key_len", pc.binary_length(column))
        return nw.from_native(out).lazy()
    return frame.with_columns(nw.col("key").str.len_chars().alias("key_len"))


@dataclass(frozen=True)
class Globals:
    """Whole-table facts the rules compare each key with, as small tables on the key table's engine."""

    total_keys: int
    first_db: int
    several_dbs: bool
    # pattern → pattern_keys, static_prefix_chars, pattern_segments and name facts (pattern_variable:
    # has a variable part; cache_pattern / timeseries_pattern: matches that threshold's regex)
    per_pattern: nw.LazyFrame[Any]
    mass_seconds: nw.LazyFrame[Any]  # expiry_second → expiry_second_keys (only busy seconds)
    memory_bytes: int = 0  # the key table's memory (severity's base when INFO is unknown)
    # True when the key table already carries the per-pattern and per-expiry-second columns (an
    # in-memory table joined on Arrow, ``_attached_on_duckdb``): ``attach`` then adds the constants only
    joined: bool = False

    @classmethod
    def of(
        cls,
        n: int,
        db_min: int,
        db_max: int,
        pattern_keys: nw.LazyFrame[Any],
        second_keys: nw.LazyFrame[Any],
        ctx: Context,
        memory_bytes: int = 0,
    ) -> Globals:
        """From the key count, db range, keys per pattern and keys per expiry second (non-null)."""
        literal = nw.col(PATTERN_COLUMN).str.replace_all("*", "", literal=True)
        name = nw.col(PATTERN_COLUMN)
        missing = [c for c in FOREVER_COUNTS if c not in pattern_keys.collect_schema().names()]
        if missing:
            pattern_keys = pattern_keys.with_columns(*[nw.lit(0, dtype=nw.Int64()).alias(c) for c in missing])
        per_pattern = pattern_keys.with_columns(
            # which known library owns the pattern, and the role its keys play (null: none)
            *owner_columns(ctx),
            literal.str.len_chars().alias("static_prefix_chars"),
            (
                literal.str.len_chars() - literal.str.replace_all(":", "", literal=True).str.len_chars() + 1
            ).alias("pattern_segments"),
            # Facts of the pattern's name, tested once per pattern rather than once per key
            name.str.contains("*", literal=True).alias("pattern_variable"),
            name.str.contains(str(ctx["cache_pattern_regex"])).alias("cache_pattern"),
            name.str.contains(str(ctx["timeseries_pattern_regex"])).alias("timeseries_pattern"),
        )
        busy = second_keys.filter(nw.col("expiry_second_keys") >= int(ctx["mass_expiry_keys"]))
        per_pattern = _with_owner_results(per_pattern, ctx)
        return cls(n, db_min, bool(n) and db_min != db_max, per_pattern, busy, int(memory_bytes))

    @classmethod
    def measure(cls, frame: nw.LazyFrame[Any], ctx: Context) -> Globals:
        """From a ``with_row_columns`` frame; eager engines get the small tables collected once."""
        pattern_keys = frame.group_by(PATTERN_COLUMN).agg(nw.len().alias("pattern_keys"))
        if _owns_results(ctx):  # keys without a TTL per pattern: only a library's results need them
            forever = nw.col("expires_at").is_null()
            idle = forever & (nw.col("lru_idle_s").fill_null(0) >= int(ctx["no_ttl_idle_s"]))
            counted = frame.with_columns(
                forever.cast(nw.Int64).alias(FOREVER_COUNTS[0]), idle.cast(nw.Int64).alias(FOREVER_COUNTS[1])
            )
            # computed once: the globals join it with itself (each pattern with its owner's results)
            pattern_keys = _computed(
                counted.group_by(PATTERN_COLUMN)
                .agg(nw.len().alias("pattern_keys"), *[nw.col(c).sum() for c in FOREVER_COUNTS])
                .with_columns(*[nw.col(c).cast(nw.Int64) for c in FOREVER_COUNTS]),
                frame,
            )
        totals = frame.select(
            nw.len().alias("n"),
            nw.col("db").min().alias("lo"),
            nw.col("db").max().alias("hi"),
            nw.col("memory_bytes").sum().alias("memory"),
        ).collect()
        n, lo, hi, memory = (_int(v) for v in totals.row(0))
        measured = cls.of(
            n,
            lo,
            hi,
            pattern_keys,
            frame.filter(~nw.col("expiry_second").is_null())
            .group_by("expiry_second")
            .agg(nw.len().alias("expiry_second_keys")),
            ctx,
            memory,
        )
        return dataclasses.replace(
            measured,
            per_pattern=_computed(measured.per_pattern, frame),
            mass_seconds=_computed(measured.mass_seconds, frame),
        )

    def attach(
        self, frame: nw.LazyFrame[Any], *, patterns: bool = True, seconds: bool = True
    ) -> nw.LazyFrame[Any]:
        """A ``with_row_columns`` frame (or a slice of one) with the derived columns the rules read.

        ``patterns=False`` / ``seconds=False`` leave out the per-pattern / per-expiry-second columns
        (and their join, a hash probe per key) for queries whose rules never read them.
        """
        if patterns and not self.joined:
            frame = frame.join(self.per_pattern, on=PATTERN_COLUMN, how="left")
        if seconds and not self.joined:
            frame = frame.join(self.mass_seconds, on="expiry_second", how="left")
        if self.joined:
            return frame  # the constants too are columns of the table already
        return frame.with_columns(
            nw.lit(self.total_keys).alias("total_keys"),
            nw.lit(self.several_dbs).alias("several_dbs"),
            nw.lit(self.first_db).alias("first_db"),
        )

    def joins(self, columns: frozenset[str] | None) -> tuple[bool, bool]:
        """Which joins (per pattern, per expiry second) a query reading ``columns`` needs (None: both)."""
        if columns is None:
            return True, True
        return bool(columns & self.pattern_columns), "expiry_second_keys" in columns

    @functools.cached_property
    def pattern_columns(self) -> frozenset[str]:
        """The columns the per-pattern join adds."""
        return frozenset(self.per_pattern.collect_schema().names()) - {PATTERN_COLUMN}

    def joins_for(self, rules: list[Rule], ctx: Context) -> tuple[bool, bool]:
        """Which joins ``rules`` need between them, from the columns their expressions name."""
        if self.joined:
            return True, True  # nothing left to join: no need to read the rules' columns
        each = [self.joins(rule_columns(rule, ctx)) for rule in rules]
        return any(p for p, _ in each), any(s for _, s in each)


def _owns_results(ctx: Context) -> bool:
    """Whether a known library owns a result pattern here (results-without-expiry reads its counts)."""
    return any(role == "result" for _, role in owned_patterns(ctx).values())


def _with_owner_results(per_pattern: nw.LazyFrame[Any], ctx: Context) -> nw.LazyFrame[Any]:
    """Each pattern with its owner's result keys without a TTL (``owner_forever_results``) and those
    of them idle (``owner_idle_results``), summed over the owner's result patterns (0 or null: none)."""
    if not _owns_results(ctx):
        none = nw.lit(0, dtype=nw.Int64())
        return per_pattern.with_columns(none.alias("owner_forever_results"), none.alias("owner_idle_results"))
    results = (
        per_pattern.filter(nw.col("role").fill_null("") == "result")
        .group_by("owner")
        .agg(
            nw.col(FOREVER_COUNTS[0]).sum().alias("owner_forever_results"),
            nw.col(FOREVER_COUNTS[1]).sum().alias("owner_idle_results"),
        )
        .with_columns(nw.col("owner_forever_results", "owner_idle_results").cast(nw.Int64))
    )
    return per_pattern.join(results, on="owner", how="left")


def _computed(small: nw.LazyFrame[Any], frame: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
    """A small derived table computed once, on the key table's engine.

    Left lazy, DuckDB would recompute it inside every rule's query and, not knowing it is small,
    may build its hash join on the 10M-row side (~2 s a query at 10M keys instead of ~0.1 s).
    """
    if frame.implementation is not nw.Implementation.DUCKDB:
        return small.collect().lazy()
    return nw.from_native(small.to_native().materialize()).lazy()


def prepare(keys: Any, ctx: Context) -> tuple[nw.LazyFrame[Any], Globals]:
    """The key table with its row-wise derived columns, and the globals measured over all of it."""
    frame = with_row_columns(to_lazy(keys))
    return frame, Globals.measure(frame, ctx)


def prepare_on(keys: Any, engine: Engine, ctx: Context) -> tuple[nw.LazyFrame[Any], Globals]:
    """``prepare`` on the engine ``on_engine`` picks; an in-memory table moved to DuckDB gets its
    derived columns on Arrow first (``_attached_on_duckdb``)."""
    table = _to_duckdb_table(keys, engine)
    if table is None:
        return prepare(on_engine(keys, engine), ctx)
    return _attached_on_duckdb(table, ctx)


def _attached_on_duckdb(table: pa.Table, ctx: Context) -> tuple[nw.LazyFrame[Any], Globals]:
    """An in-memory key table on DuckDB with every derived column already in its Arrow buffers.

    Key length, expiry second and the per-pattern / per-expiry-second facts are computed once on
    Arrow (the globals by one DuckDB group-by, the joins as ``take`` by each row's index in the small
    tables), so that none of the rules' queries scans the key strings again or probes a hash join per
    key: the same rows ``Globals.attach`` would give, each query only reading its columns.
    """
    import duckdb

    if PATTERN_COLUMN in table.column_names and table.column(PATTERN_COLUMN).null_count == 0:
        rows = nw.from_native(table).lazy()  # fully patterned: nothing to fill from the keys
        rows = _with_key_length(
            rows.with_columns(floor_div(nw.col("expires_at"), 1000).alias("expiry_second"))
        )
    else:
        rows = with_row_columns(nw.from_native(table).lazy())
    derived = rows.collect().to_native()
    for name in DICTIONARY_COLUMNS:  # few distinct values: DuckDB scans their codes, not a string a row
        at_column = derived.schema.get_field_index(name)
        if at_column >= 0 and pa.types.is_string(derived.schema.field(name).type):
            derived = derived.set_column(at_column, name, pc.dictionary_encode(derived.column(name)))
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    measured = Globals.measure(nw.from_native(con.from_arrow(derived)).lazy(), ctx)
    per_pattern = measured.per_pattern.collect().to_arrow()
    seconds = measured.mass_seconds.collect().to_arrow()
    # each row's place in the per-pattern table: looked up once per distinct pattern, then taken
    patterns = derived.column(PATTERN_COLUMN).combine_chunks()
    if pa.types.is_dictionary(patterns.type):
        known = per_pattern.column(PATTERN_COLUMN).cast(patterns.dictionary.type)
        codes = pc.index_in(patterns.dictionary, value_set=known, skip_nulls=True)
        at = codes.take(patterns.indices)
    else:
        known = per_pattern.column(PATTERN_COLUMN).cast(patterns.type)
        at = pc.index_in(patterns, value_set=known, skip_nulls=True)
    for name in per_pattern.column_names:  # a dictionary array: the row's index, no copy per row
        if name != PATTERN_COLUMN:
            derived = derived.append_column(name, _looked_up(at, per_pattern.column(name)))
    busy = seconds.column("expiry_second_keys")
    if len(seconds):
        at = pc.index_in(
            derived.column("expiry_second"), value_set=seconds.column("expiry_second"), skip_nulls=True
        )
        derived = derived.append_column("expiry_second_keys", _looked_up(at, busy))
    else:  # no second with mass expiries (the usual case): no lookup
        derived = derived.append_column("expiry_second_keys", pa.nulls(len(derived), busy.type))
    constants = {
        "total_keys": pa.scalar(measured.total_keys, pa.int64()),
        "several_dbs": pa.scalar(measured.several_dbs, pa.bool_()),
        "first_db": pa.scalar(measured.first_db, pa.int64()),
    }
    first = pa.array(np.zeros(len(derived), dtype=np.int8))
    for name, value in constants.items():  # one value, a one-byte index per row
        derived = derived.append_column(
            name, _looked_up(first, pa.chunked_array([pa.array([value.as_py()], value.type)]))
        )
    frame = nw.from_native(con.from_arrow(derived)).lazy()
    return frame, dataclasses.replace(measured, joined=True)


def _looked_up(at: pa.Array | pa.ChunkedArray, values: pa.ChunkedArray) -> pa.Array:
    """``values[at]`` (null where ``at`` is) as a dictionary array: DuckDB reads it as ``values``' type."""
    indices = at.combine_chunks() if isinstance(at, pa.ChunkedArray) else at
    return pa.DictionaryArray.from_arrays(
        indices, values.combine_chunks(), safe=False
    )  # in range by construction


def _slices(frame: nw.LazyFrame[Any]) -> Iterator[nw.LazyFrame[Any]]:
    """An eager frame in slices of ``CHUNK_ROWS`` rows; a lazy one whole (its engine streams it)."""
    if not _is_eager(frame):
        yield frame
        return
    eager = frame.collect()
    for start in range(0, max(len(eager), 1), CHUNK_ROWS):
        yield eager[start : start + CHUNK_ROWS].lazy()


def _int(value: Any) -> int:
    try:
        if value is None or pd.isna(value):
            return 0
    except (TypeError, ValueError):
        pass
    return int(value)


def _saving_steps(rule: Rule, ctx: Context) -> list[tuple[str, nw.Expr]]:
    saving = rule.saving(ctx) if rule.saving is not None else nw.lit(0)
    return saving if isinstance(saving, list) else [(SAVINGS, saving)]


def _footprint() -> nw.Expr:
    """What deleting the key gives back: its MEMORY USAGE figure and its expires entry."""
    return nw.col("memory_bytes") + nw.col("expires_bytes").fill_null(0)


def _final_saving(expr: nw.Expr) -> nw.Expr:
    """A key's saving: never negative, and never more than deleting the key would free."""
    bounded = nw.min_horizontal(nw.max_horizontal(expr.fill_null(0), nw.lit(0)), _footprint())
    return bounded.round(0).cast(nw.Int64)


def _condition(rule: Rule, ctx: Context) -> nw.Expr:
    assert rule.select is not None, f"{rule.id} is a snapshot rule"
    if not rule.library_keys:  # the keys' layout is a library's: leave them to its settings
        return rule.select(ctx) & unowned()
    return rule.select(ctx)


def _selection(rule: Rule, ctx: Context) -> nw.Expr:
    """The rule's condition with null (a missing value) meaning "not selected"."""
    return _condition(rule, ctx).fill_null(False)


def select_offenders(frame: nw.LazyFrame[Any], rule: Rule, ctx: Context) -> nw.LazyFrame[Any]:
    """The rows one rule selects, each with its own saving (steps run on those rows only)."""
    # A lazy engine drops rows whose condition is null by itself; without the COALESCE around it,
    # DuckDB pushes the rule's plain comparisons (type, encoding) into the Parquet scan.
    condition = _selection(rule, ctx) if _is_eager(frame) else _condition(rule, ctx)
    return _priced(frame.filter(condition), rule, ctx)


def _priced(selected: nw.LazyFrame[Any], rule: Rule, ctx: Context, *, drop: bool = True) -> nw.LazyFrame[Any]:
    """Selected rows with the rule's saving (``estimated_savings_bytes``), its temporary columns dropped
    (kept with ``drop=False``, for a caller that aggregates next)."""
    steps = _saving_steps(rule, ctx)
    for batch in _step_batches([*steps[:-1], (SAVINGS, _final_saving(steps[-1][1]))]):
        selected = selected.with_columns(*batch)
    temporary = [name for name, _ in steps[:-1] if name.startswith(TEMP)]
    return selected.drop(*temporary) if temporary and drop else selected


def _step_batches(steps: list[tuple[str, nw.Expr]]) -> list[list[nw.Expr]]:
    """Saving steps grouped into as few ``with_columns`` calls as their order allows: a step joins the
    current batch unless it reads (or rewrites) a column written in it, or what it reads cannot be told.
    Each call is one more query layer for a lazy engine to plan (and, on DuckDB, to bind)."""
    batches: list[list[nw.Expr]] = []
    written: set[str] = set()
    for name, expr in steps:
        reads = expr_columns(expr)
        if not batches or reads is None or reads & written or name in written:
            batches.append([])
            written = set()
        batches[-1].append(expr.alias(name))
        written.add(name)
    return batches


def _saving_columns(rule: Rule, ctx: Context) -> frozenset[str] | None:
    """The key-table columns a rule's saving reads (None: cannot be told), besides the key's footprint."""
    if rule.saving is None:
        return frozenset()
    written: set[str] = set()
    found: list[frozenset[str] | None] = []
    for name, expr in _saving_steps(rule, ctx):
        read = expr_columns(expr)
        found.append(None if read is None else read - written)
        written.add(name)
    return union(found)


#: The count of keys a row of a deduplicated selection stands for.
REPEATS = f"{TEMP}repeats"


def _priced_totals(
    off: nw.LazyFrame[Any], rule: Rule, ctx: Context, owners: list[str], *, weighted: bool = False
) -> nw.LazyFrame[Any]:
    """Per-pattern totals of a rule's selected rows (``off``, not yet priced).

    A key's saving is a function of the few columns its steps read, and most keys of a pattern share
    their values (same sizes, same encoding): the rows are first reduced to their distinct values of
    those columns with a count, priced once each, and the totals weighted by the counts, so the
    pricing expressions (size classes, CASE ladders) run on thousands of rows instead of millions.
    The totals are the same integers as pricing every key (each key's saving is rounded first).
    """
    reads = _saving_columns(rule, ctx)
    if weighted:  # rows that already stand for ``REPEATS`` keys each (``_reduced``)
        priced = _priced(off, rule, ctx, drop=False)
    elif reads is None or REPEATS in reads:
        priced = _priced(off, rule, ctx, drop=False).with_columns(nw.lit(1).alias(REPEATS))
    else:
        distinct = off.group_by(*_kept(reads, owners)).agg(nw.len().alias(REPEATS))
        priced = _priced(distinct, rule, ctx, drop=False)
    repeats = nw.col(REPEATS)
    per_key = priced.with_columns(
        (nw.col("memory_bytes") * repeats).alias(f"{TEMP}memory"), (nw.col(SAVINGS) * repeats).alias(SAVINGS)
    )
    return per_key.group_by(PATTERN_COLUMN).agg(
        repeats.sum().alias("keys"),
        nw.col(f"{TEMP}memory").sum().alias("memory"),
        nw.col(SAVINGS).sum().alias("savings"),
        nw.col("num_elements").max().alias("max_elements"),
        nw.col("largest_element_bytes").max().alias("max_element"),
        *[nw.col(c).max().alias(c) for c in owners],
    )


def _kept(reads: frozenset[str], owners: list[str]) -> list[str]:
    """The columns a deduplicated selection keeps: what the saving reads and what the partials total."""
    return sorted(
        reads
        | {PATTERN_COLUMN, "memory_bytes", "expires_bytes", "num_elements", "largest_element_bytes", *owners}
    )


#: At most this many distinct rows make the table the firing rules are priced on (``_reduced``);
#: beyond, each rule prices its own rows in a query of its own.
REDUCED_ROWS = 500_000


@dataclass(frozen=True)
class Reduced:
    """The rows any firing rule selects, reduced to their distinct values of the columns the rules'
    savings and the partials read, with the count of keys each stands for (``REPEATS``) and one boolean
    column per rule (``flags``: rule id → column): small, so every rule's pricing and the overlap pass
    run on it instead of scanning the key table again."""

    table: nw.LazyFrame[Any]
    flags: dict[str, str]


def _reduced(
    frame: nw.LazyFrame[Any], measured: Globals, rules: list[Rule], ctx: Context, owners: list[str]
) -> Reduced | None:
    """One scan for all firing rules (``Reduced``); None when a saving's columns cannot be told or the
    distinct rows are too many to be worth holding (then each rule gets a query of its own)."""
    reads = union(_saving_columns(rule, ctx) for rule in rules)
    if reads is None or REPEATS in reads or len(rules) < 2:
        return None
    patterns, seconds = measured.joins_for(rules, ctx)
    owners = owners if patterns else []  # the owner columns come with the per-pattern join
    attached = measured.attach(frame, patterns=patterns, seconds=seconds)
    # which rules select a key, as the bits of one integer: one grouping column instead of one a rule
    bits = [nw.when(_condition(rule, ctx)).then(1 << i).otherwise(0) for i, rule in enumerate(rules)]
    mask = f"{TEMP}rules"
    selected = attached.with_columns(nw.sum_horizontal(*bits).cast(nw.Int64()).alias(mask))
    # the per-pattern columns follow from the pattern: grouped by it alone, looked up again after
    kept = _kept(reads, owners)
    by_pattern = [c for c in kept if c in measured.pattern_columns] if patterns else []
    grouping = [c for c in kept if c not in by_pattern]
    distinct = selected.filter(nw.col(mask) > 0).group_by(mask, *grouping).agg(nw.len().alias(REPEATS))
    rows = distinct.head(REDUCED_ROWS + 1).collect().to_arrow()
    if len(rows) > REDUCED_ROWS:
        return None
    import duckdb

    if by_pattern:
        per_pattern = measured.per_pattern.select(PATTERN_COLUMN, *by_pattern).collect().to_arrow()
        known = per_pattern.column(PATTERN_COLUMN).cast(rows.schema.field(PATTERN_COLUMN).type)
        at = pc.index_in(rows.column(PATTERN_COLUMN), value_set=known, skip_nulls=True)
        for name in by_pattern:
            rows = rows.append_column(name, per_pattern.column(name).take(at))

    flags = {rule.id: f"{TEMP}firing{i}" for i, rule in enumerate(rules)}
    masks = rows.column(mask).to_numpy()
    for i, rule in enumerate(rules):
        rows = rows.append_column(flags[rule.id], pa.array((masks >> i) & 1 == 1))
    return Reduced(nw.from_native(duckdb.connect().from_arrow(rows)).lazy(), flags)


def _per_rule_partials(chunk: nw.LazyFrame[Any], rules: list[Rule], ctx: Context) -> list[pd.DataFrame]:
    """Per (rule, pattern) totals: each rule filters (on an in-memory slice, or as one query on a lazy
    engine), then prices only its own rows (each distinct row once: ``_priced_totals``)."""
    found = []
    names = chunk.collect_schema().names()
    owners = [c for c in OWNER_COLUMNS if c in names]
    eager = _is_eager(chunk)
    for rule in rules:
        mine = chunk
        columns = rule_columns(rule, ctx) if eager else None
        if columns is not None:  # in memory: filter and price a table of the rule's columns only
            mine = chunk.select(*[c for c in names if c in columns or c in PARTIAL_READS])
        condition = _selection(rule, ctx) if eager else _condition(rule, ctx)
        grouped = _priced_totals(mine.filter(condition), rule, ctx, owners).collect().to_pandas()
        if len(grouped):
            found.append(grouped.assign(rule=rule.id))
    return found


def _firing(chunk: nw.LazyFrame[Any], rules: list[Rule], ctx: Context) -> list[Rule]:
    """The rules that select a row of an in-memory slice, found by one pass of counts (most rules find
    nothing, and pricing and grouping a rule's empty selection costs more than counting it). The rows
    two or more priced rules select are not counted here: in memory each expression is evaluated on
    its own, so that would evaluate every priced condition twice; the overlap pass counts them over
    the rules whose findings price a saving (usually a few)."""
    counts = [
        nw.when(_selection(rule, ctx)).then(1).otherwise(0).sum().alias(f"{TEMP}n{i}")
        for i, rule in enumerate(rules)
    ]
    if not counts:
        return []
    row = chunk.select(*counts).collect().row(0)
    return [rule for rule, n in zip(rules, row, strict=True) if _int(n)]


def _lazy_partials(
    frame: nw.LazyFrame[Any], measured: Globals, rules: list[Rule], ctx: Context
) -> tuple[list[pd.DataFrame], Reduced | None]:
    """Per (rule, pattern) totals on a lazy engine: one query counts every rule's offenders (most rules
    find none); with two or more rules firing, one scan reduces their rows (``_reduced``), on which
    each is priced and which the overlap pass reads too; else (or past ``REDUCED_ROWS`` distinct rows)
    each rule that fired gets one filtered group-by query of its own, joined only with the global
    tables it reads. The keys two or more priced rules select are not counted here (that would
    evaluate every priced condition twice per key): the overlap pass counts them itself, over the
    rules whose findings price a saving."""
    if not rules:
        return [], None
    # CASE WHEN (null counts as not selected) rather than a COALESCE cast to an integer: ~25 % less
    # work per rule and row on DuckDB
    flags = [nw.when(_condition(rule, ctx)).then(1).otherwise(0) for rule in rules]
    selections = [flag.sum().alias(f"{TEMP}n{i}") for i, flag in enumerate(flags)]
    needs = [(True, True) if measured.joined else measured.joins(rule_columns(rule, ctx)) for rule in rules]
    patterns, seconds = any(p for p, _ in needs), any(s for _, s in needs)
    counts = measured.attach(frame, patterns=patterns, seconds=seconds).select(*selections).collect()
    firing = [rule for i, rule in enumerate(rules) if _int(counts[f"{TEMP}n{i}"].item())]
    names = frame.collect_schema().names() + sorted(measured.pattern_columns)
    owners = [c for c in OWNER_COLUMNS if c in names]
    reduced = _reduced(frame, measured, firing, ctx, owners)
    found = []
    for rule in firing:
        patterns, seconds = needs[rules.index(rule)]
        if reduced is not None:  # owner columns where the rule's own query would have joined them
            mine = reduced.table.filter(nw.col(reduced.flags[rule.id]))
            totals = _priced_totals(mine, rule, ctx, owners if patterns else [], weighted=True)
            grouped = totals.collect().to_pandas()
            found += [grouped.assign(rule=rule.id)] if len(grouped) else []
            continue
        attached = measured.attach(frame, patterns=patterns, seconds=seconds)
        found += _per_rule_partials(attached, [rule], ctx)
    return found, reduced


def partials(keys: Any, rules: list[Rule], ctx: Context, measured: Globals | None = None) -> pd.DataFrame:
    """Per (rule, pattern) offender totals of ``rules`` (key rules) over ``keys``.

    ``measured`` lets a caller that splits the table itself (Dask partitions) pass globals measured
    over all of it; by default they are measured over ``keys``.
    """
    frame = with_row_columns(to_lazy(keys))
    return _partials_of(frame, measured or Globals.measure(frame, ctx), rules, ctx)[0]


def _partials_of(
    frame: nw.LazyFrame[Any], measured: Globals, rules: list[Rule], ctx: Context
) -> tuple[pd.DataFrame, Reduced | None]:
    """The partials, and the firing rules' reduced rows when a lazy engine made them (``_reduced``)."""
    found: list[pd.DataFrame] = []
    reduced: Reduced | None = None
    if _is_eager(frame):
        for chunk in _slices(frame):
            attached = measured.attach(chunk)
            found += _per_rule_partials(attached, _firing(attached, rules, ctx), ctx)
    else:
        lazy, reduced = _lazy_partials(frame, measured, rules, ctx)
        found += lazy
    text = ("rule", PATTERN_COLUMN, *OWNER_COLUMNS)
    if not found:
        empty = pd.DataFrame(
            {
                c: pd.Series(dtype="object" if c in text else "int64")
                for c in PARTIAL_COLUMNS + list(OWNER_COLUMNS)
            }
        )
        return empty, reduced
    combined = pd.concat(found, ignore_index=True)
    for column in OWNER_COLUMNS:  # the same columns from every partition, whatever it holds
        if column not in combined.columns:
            combined[column] = None
    columns = PARTIAL_COLUMNS + list(OWNER_COLUMNS)
    return combined[columns].astype(dict.fromkeys(text, "object")), reduced


# --- savings counted once ------------------------------------------------------------------------
# A key that several findings price (big-lists and list-compression on one list) gives its bytes to
# the total once. The fixes are applied in the order the findings are listed; each prices the same
# share of a key it would save alone, of what the earlier ones left: a key of m bytes (memory_bytes +
# expires_bytes) with savings s1, s2, … counts s1 for the first finding, s2·(1 − s1/m) for the second,
# s3·(1 − s1/m)(1 − s2/m) for the third, so m·(1 − Π(1 − si/m)) <= m in all. Keys priced by one finding
# only count their own saving; only keys two or more findings price are looked at again.
OVERLAP = "overlap"


def claimants(result: pd.DataFrame) -> list[Rule]:
    """The key rules whose findings price a saving, in the order the findings are listed."""
    from insightkit.recommend import registry

    rules = [registry.BY_ID.get(str(r)) for r in result.loc[result[SAVINGS] > 0, "rule"]]
    return [r for r in rules if r is not None and r.per_key]


def overlaps(keys: Any, rules: list[Rule], ctx: Context, measured: Globals | None = None) -> pd.DataFrame:
    """Per rule of ``rules`` (in order): the bytes of its saving that earlier rules already claimed on
    the same keys (``overlap``, a float). Partitions of a table may be summed."""
    frame = with_row_columns(to_lazy(keys))
    return _overlaps_of(frame, measured or Globals.measure(frame, ctx), rules, ctx)


def _overlaps_of(
    frame: nw.LazyFrame[Any],
    measured: Globals,
    rules: list[Rule],
    ctx: Context,
    reduced: Reduced | None = None,
) -> pd.DataFrame:
    claimed = np.zeros(len(rules))
    if len(rules) >= 2:
        if _is_eager(frame):
            for chunk in _slices(frame):
                claimed += _eager_overlaps(measured.attach(chunk), rules, ctx)
        else:
            claimed += _lazy_overlaps(frame, measured, rules, ctx, reduced)
    return pd.DataFrame({"rule": [r.id for r in rules], OVERLAP: claimed})


def _selected_columns(rules: list[Rule], ctx: Context) -> list[nw.Expr]:
    return [
        nw.when(_condition(r, ctx)).then(1).otherwise(0).alias(f"{TEMP}sel{i}") for i, r in enumerate(rules)
    ]


def _several(rules: list[Rule]) -> nw.Expr:
    return nw.sum_horizontal(*[nw.col(f"{TEMP}sel{i}") for i in range(len(rules))]) >= 2


def _lazy_overlaps(
    frame: nw.LazyFrame[Any],
    measured: Globals,
    rules: list[Rule],
    ctx: Context,
    reduced: Reduced | None = None,
) -> np.ndarray:
    """One query: the keys two or more rules select, each rule's saving on them (its steps wrapped in
    CASE WHEN selected, so a step only ever sees the rows it was written for), composed in order.
    With the firing rules' ``reduced`` rows, it reads those (each row weighted by its key count)."""
    weight: nw.Expr = nw.lit(1)
    if reduced is not None and all(rule.id in reduced.flags for rule in rules):
        multi = reduced.table.with_columns(
            *[
                nw.when(nw.col(reduced.flags[rule.id])).then(1).otherwise(0).alias(f"{TEMP}sel{i}")
                for i, rule in enumerate(rules)
            ]
        ).filter(_several(rules))
        weight = nw.col(REPEATS)
    else:
        patterns, seconds = measured.joins_for(rules, ctx)
        multi = measured.attach(frame, patterns=patterns, seconds=seconds)
        multi = multi.with_columns(*_selected_columns(rules, ctx)).filter(_several(rules))
    if not _int(multi.select(nw.len()).collect().item()):
        return np.zeros(len(rules))  # a cheap count first: pricing steps cost more to plan than to run
    for i, rule in enumerate(rules):
        selected = nw.col(f"{TEMP}sel{i}") == 1
        steps = _saving_steps(rule, ctx)
        for name, expr in steps[:-1]:
            multi = multi.with_columns(nw.when(selected).then(expr).alias(name))
        final = nw.when(selected).then(_final_saving(steps[-1][1])).otherwise(0)
        multi = multi.with_columns(final.alias(f"{TEMP}s{i}"))
        temporary = sorted({name for name, _ in steps[:-1]})
        if temporary:
            multi = multi.drop(*temporary)
    footprint = nw.max_horizontal(_footprint(), nw.lit(1))
    claims = []
    for i in range(len(rules)):
        saving = nw.col(f"{TEMP}s{i}")
        if i:
            claim = saving * (1 - nw.col(f"{TEMP}left{i - 1}")) * weight
            claims.append(claim.sum().alias(f"{TEMP}o{i}"))
        left = 1 - saving / footprint
        multi = multi.with_columns(
            (left if i == 0 else nw.col(f"{TEMP}left{i - 1}") * left).alias(f"{TEMP}left{i}")
        )
    if not claims:
        return np.zeros(len(rules))
    row = multi.select(*claims).collect().row(0)
    return np.array([0.0, *(float(v or 0.0) for v in row)])


def _eager_overlaps(chunk: nw.LazyFrame[Any], rules: list[Rule], ctx: Context) -> np.ndarray:
    """An in-memory slice: the rows two or more rules select, each rule priced on its own rows (as its
    partials were), composed in order with numpy."""
    multi = chunk.with_columns(*_selected_columns(rules, ctx)).filter(_several(rules)).collect()
    if len(multi) == 0:
        return np.zeros(len(rules))
    row_id = f"{TEMP}row"
    multi = multi.with_row_index(row_id)
    savings = np.zeros((len(multi), len(rules)))
    for i, rule in enumerate(rules):
        mine = select_offenders(multi.lazy().filter(nw.col(f"{TEMP}sel{i}") == 1), rule, ctx)
        got = mine.select(row_id, SAVINGS).collect().to_pandas()
        savings[got[row_id].to_numpy(dtype="int64"), i] = got[SAVINGS].to_numpy(dtype="float64")
    memory = multi.select(_footprint().alias("m")).to_pandas()["m"].to_numpy(dtype="float64")
    left = 1 - savings / np.maximum(memory, 1)[:, None]
    before = np.cumprod(np.hstack([np.ones((len(multi), 1)), left[:, :-1]]), axis=1)
    return np.asarray((savings * (1 - before)).sum(axis=0), dtype="float64")


def count_once(result: pd.DataFrame, overlap: pd.DataFrame) -> pd.DataFrame:
    """``counted_savings_bytes``: the part of each finding's saving that counts in the total — its own
    saving less what earlier findings already claimed on the same keys (``overlaps``)."""
    claimed = overlap.groupby("rule")[OVERLAP].sum() if len(overlap) else pd.Series(dtype="float64")
    taken = result["rule"].map(claimed).fillna(0.0).round().astype("int64")
    counted = (result[SAVINGS].astype("int64") - taken).clip(lower=0)
    out = result.copy()
    out.insert(list(out.columns).index(SAVINGS) + 1, COUNTED, counted.astype("int64"))
    return out


def _distinct(frame: pd.DataFrame | pd.Series, column: str) -> tuple[str, ...]:
    if not isinstance(frame, pd.DataFrame) or column not in frame.columns:
        return ()
    return tuple(sorted({str(v) for v in frame[column] if v is not None and not pd.isna(v)}))


def _row(
    rule: Rule,
    ctx: Context,
    savings: int,
    keys: int,
    patterns: int,
    memory: int,
    top: list[str],
    detail: str,
    agg: Aggregates | None,
) -> dict[str, Any]:
    pairs = owners_of(ctx, top)
    return {
        "rule": rule.id,
        "title": rule.title,
        "category": rule.category,
        "severity": rule.severity,
        "frees": rule.frees,
        SAVINGS: int(savings),
        "offending_keys": int(keys),
        "offending_patterns": int(patterns),
        "offending_memory_bytes": int(memory),
        "top_patterns": top,
        "fix": rule.fix_text(ctx, agg),
        "description": rule.description,
        "detail": detail,
        "owner": ", ".join(dict.fromkeys(o for o, _ in pairs)) or None,
        "role": ", ".join(dict.fromkeys(r for _, r in pairs)) or None,
    }


def findings(rules: list[Rule], parts: pd.DataFrame, ctx: Context, key_memory: int = 0) -> pd.DataFrame:
    """Reduce partials (from any number of slices or partitions) and snapshot checks into findings.

    One row per rule that fired, graded and ranked by ``severity.rank`` (security first, then by
    severity, then by saving); ``key_memory`` (the key table's memory) is the share's base when the
    snapshot carries no INFO.
    """
    owner_facts = {c: (c, "first") for c in OWNER_COLUMNS if c in parts.columns}
    per_pattern = parts.groupby(["rule", PATTERN_COLUMN], dropna=False, sort=False).agg(
        keys=("keys", "sum"),
        memory=("memory", "sum"),
        savings=("savings", "sum"),
        max_elements=("max_elements", "max"),
        max_element=("max_element", "max"),
        **owner_facts,
    )
    fired = set(per_pattern.index.get_level_values("rule"))
    found: list[dict[str, Any]] = []
    for rule in rules:
        if rule.per_key:
            if rule.id not in fired:
                continue
            mine = per_pattern.xs(rule.id, level="rule")
            by_memory = mine["memory"].astype("int64").sort_values(ascending=False, kind="stable")
            top = [str(p) for p in by_memory.head(5).index]
            agg = Aggregates(
                keys=_int(mine["keys"].sum()),
                memory_bytes=_int(mine["memory"].sum()),
                savings_bytes=_int(mine["savings"].sum()),
                patterns=len(mine),
                max_elements=_int(mine["max_elements"].max()),
                max_element_bytes=_int(mine["max_element"].max()),
                top_patterns=tuple(top),
                owners=_distinct(mine, "owner"),
                roles=_distinct(mine, "role"),
            )
            detail = f"{agg.keys:,} keys in {agg.patterns:,} patterns"
            if rule.detail is not None:
                detail = rule.detail(ctx, agg) or detail
            found.append(
                _row(rule, ctx, agg.savings_bytes, agg.keys, agg.patterns, agg.memory_bytes, top, detail, agg)
            )
        else:
            assert rule.check is not None
            finding = rule.check(ctx)
            if finding is not None:
                saving, memory = finding.estimated_savings_bytes, finding.offending_memory_bytes
                found.append(_row(rule, ctx, saving, 0, 0, memory, [], finding.detail, None))
    result = pd.DataFrame(found, columns=RESULT_COLUMNS)
    if result.empty:
        return result.astype({SAVINGS: "int64", "offending_keys": "int64"})
    return severity.rank(severity.grade(result, ctx, key_memory))


def active(rules: list[Rule], ctx: Context) -> list[Rule]:
    """The rules whose gate (a condition on the snapshot's config) lets them run."""
    return [rule for rule in rules if rule.gate is None or rule.gate(ctx)]


def on_engine(keys: Any, engine: Engine = "auto") -> Any:
    """The table the rules should query: as given, or an in-memory table handed to DuckDB.

    ``"auto"`` moves pandas/pyarrow tables of ``DUCKDB_ROWS`` rows or more to DuckDB (a zero-copy scan
    of their Arrow buffers, vectorised on every core): the same expressions, the same findings, several
    times faster than pandas at that size; smaller pandas tables run on Arrow (``_arrow``), without
    starting DuckDB. ``"native"`` keeps the table's own engine; ``"duckdb"`` always moves it.
    """
    table = _to_duckdb_table(keys, engine)
    if table is None:
        if engine == "auto" and isinstance(keys, pd.DataFrame):
            try:
                return _arrow(keys)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                return keys  # columns Arrow cannot hold (mixed Python objects): pandas runs them as they are
        return keys
    import duckdb

    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    return con.from_arrow(table)


def _to_duckdb_table(keys: Any, engine: Engine) -> pa.Table | None:
    """The Arrow table ``on_engine`` hands to DuckDB, or None when the table stays where it is."""
    if engine not in ("auto", "native", "duckdb"):
        raise ConfigurationError(f"rules: engine must be 'auto', 'native' or 'duckdb', not {engine!r}")
    if engine == "native" or not isinstance(keys, pd.DataFrame | pa.Table):
        return None
    if engine == "auto" and len(keys) < DUCKDB_ROWS:
        return None
    return keys if isinstance(keys, pa.Table) else pa.Table.from_pandas(keys, preserve_index=False)


def _arrow(keys: pd.DataFrame) -> pa.Table:
    """A small pandas key table as Arrow, where narwhals runs each rule expression ~4x faster (no
    index alignment, no block copies per expression). All-null columns (pandas' ``object`` of None)
    get their KEY_SCHEMA type (else text): Arrow cannot join a table holding a ``null``-typed column;
    dictionary columns (categoricals) are decoded so that joins on them match plain text; ``pattern``
    takes the key's string type (a missing pattern is filled from the key, which Arrow does only
    between equal types)."""
    table = pa.Table.from_pandas(keys, preserve_index=False)
    fields = []
    for field in table.schema:
        kind = field.type
        if pa.types.is_null(kind):
            kind = KEY_SCHEMA.field(field.name).type if field.name in KEY_SCHEMA.names else pa.string()
        elif pa.types.is_dictionary(kind):
            kind = kind.value_type
        fields.append(field.with_type(kind))
    names = table.schema.names
    if PATTERN_COLUMN in names and "key" in names:  # a pattern fills in for its key: one string type
        key_type = fields[names.index("key")].type
        at = names.index(PATTERN_COLUMN)
        if pa.types.is_string(key_type) or pa.types.is_large_string(key_type):
            fields[at] = fields[at].with_type(key_type)
    schema = pa.schema(fields)
    return table if schema.equals(table.schema) else table.cast(schema)


def run(
    rules: list[Rule],
    keys: Any,
    metadata: Mapping[str, Any] | None,
    thresholds: Mapping[str, Any] | None,
    engine: Engine = "auto",
) -> pd.DataFrame:
    """One row per rule that fired, ranked (``severity.rank``), each saving also counted once."""
    ctx = Context.build(metadata, thresholds)
    running = active(rules, ctx)
    with _table_errors():
        frame, measured = prepare_on(keys, engine, ctx)
        parts, reduced = _partials_of(frame, measured, [r for r in running if r.per_key], ctx)
        result = findings(running, parts, ctx, measured.memory_bytes)
        claims = claimants(result)  # the overlap pass first counts the keys two of them select
        return count_once(result, _overlaps_of(frame, measured, claims, ctx, reduced))


def offending_rows(
    rule: Rule, keys: Any, metadata: Mapping[str, Any] | None, thresholds: Any = None, engine: Engine = "auto"
) -> pd.DataFrame:
    """Every offending key row of a key rule, with its own ``estimated_savings_bytes``, as pandas."""
    if not rule.per_key:
        raise ConfigurationError(f"rule {rule.id!r} looks at the snapshot's INFO/CONFIG, not at keys")
    ctx = Context.build(metadata, thresholds)
    with _table_errors():
        frame, measured = prepare_on(keys, engine, ctx)
        if rule.gate is not None and not rule.gate(ctx):
            frame = frame.filter(nw.col("num_elements") < -1)  # the rule does not apply: no offenders
        parts = [
            select_offenders(measured.attach(chunk), rule, ctx).drop(*DERIVED).collect()
            for chunk in _slices(frame)
        ]
    # Through Arrow with Arrow dtypes: a nullable int64 (expires_at) must not become float64 on the way.
    rows = [
        p.to_native()
        if isinstance(p.to_native(), pd.DataFrame)
        else p.to_arrow().to_pandas(types_mapper=pd.ArrowDtype)
        for p in parts
    ]
    return rows[0] if len(rows) == 1 else pd.concat(rows, ignore_index=True)
