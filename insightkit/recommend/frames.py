"""The key table made ready for the rules: any engine's table as a narwhals frame with the columns the
rules derive (key length, expiry second, the per-pattern and per-second facts), and the *Globals* a
rule may compare a key with. An in-memory table bound for DuckDB gets its derived columns on Arrow once
(``prepare_on``); ``on_engine`` decides where a table's rules run."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import narwhals as nw
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from insightkit.errors import ConfigurationError
from insightkit.recommend import compiled
from insightkit.recommend.base import Context, Rule
from insightkit.recommend.cost import OVERCHARGE, floor_div, overcharge, overcharge_inputs, overcharge_of
from insightkit.recommend.needs import rule_columns
from insightkit.recommend.owners import owned_patterns, owner_columns
from insightkit.schema import KEY_SCHEMA, PATTERN_COLUMN

#: Columns the engine adds for the rules (dropped before offending rows leave it).
DERIVED = (
    "key_len",
    "expiry_second",
    OVERCHARGE,
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
#: Rows per slice when an eager (in-memory) table is walked: bounds the temporary columns.
CHUNK_ROWS = 1 << 20
#: Text columns of few distinct values that an in-memory table hands to DuckDB dictionary-encoded (the
#: rules compare and group them in every query; DuckDB still reads them as VARCHAR).
DICTIONARY_COLUMNS = ("type", "encoding", PATTERN_COLUMN)
#: From this many rows on, ``engine="auto"`` runs an in-memory table's rules on DuckDB.
DUCKDB_ROWS = 200_000
Engine = Literal["auto", "native", "duckdb"]


@contextlib.contextmanager
def table_errors() -> Iterator[None]:
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
    if isinstance(keys, pa.Table):
        keys = _narrow_text(keys)
    try:
        frame = nw.from_native(keys)
    except TypeError as exc:
        raise ConfigurationError(f"rules: cannot query a {type(keys).__name__} as a key table") from exc
    return frame.lazy() if isinstance(frame, nw.DataFrame) else frame


def _narrow_text(table: pa.Table) -> pa.Table:
    """``large_string`` columns (Polars and some Parquet writers) as ``string``, and dictionary columns (an
    ``Analysis`` key table's ``pattern``) as their values: the rules compare and fill text columns with
    each other, which Arrow refuses across the two widths and between encoded and plain text. (A table
    handed to DuckDB keeps its dictionaries: ``prepare_on`` never comes here.)"""
    for i, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(field.type.value_type))
            field = table.schema.field(i)
        if pa.types.is_large_string(field.type):
            with contextlib.suppress(pa.ArrowInvalid):  # over 2 GiB of text in one chunk: left as it is
                table = table.set_column(i, field.name, table.column(i).cast(pa.string()))
    return table


def is_eager(frame: nw.LazyFrame[Any]) -> bool:
    return frame.implementation in (
        nw.Implementation.PANDAS,
        nw.Implementation.MODIN,
        nw.Implementation.CUDF,
        nw.Implementation.PYARROW,
    )


def with_row_columns(frame: nw.LazyFrame[Any], ctx: Context) -> nw.LazyFrame[Any]:
    """``pattern`` filled in (digits stand for ids when no discovery ran), and the row facts
    (``_with_row_facts``)."""
    if PATTERN_COLUMN not in frame.collect_schema().names():
        frame = frame.with_columns(nw.col("key").str.replace_all(r"[0-9]+", "*").alias(PATTERN_COLUMN))
    elif _has_nulls(frame, PATTERN_COLUMN):
        frame = frame.with_columns(nw.col(PATTERN_COLUMN).fill_null(nw.col("key")))
    return _with_row_facts(frame, ctx)


def _with_row_facts(frame: nw.LazyFrame[Any], ctx: Context) -> nw.LazyFrame[Any]:
    """Expiry second, key length and stream overcharge (``cost.OVERCHARGE``)."""
    frame = compiled.with_columns(frame, floor_div(nw.col("expires_at"), 1000).alias("expiry_second"))
    return _with_overcharge(_with_key_length(frame), ctx)


def _with_overcharge(frame: nw.LazyFrame[Any], ctx: Context) -> nw.LazyFrame[Any]:
    """``cost.OVERCHARGE``: what MEMORY USAGE charges a Redis stream beyond its allocations, 0 for any
    other key. Every rule that frees keys subtracts it: as a column it is computed once, not priced
    again by each (an expression of ~100 terms, which narwhals takes ~20-40 ms to evaluate on a table
    of any size). In memory it is computed with numpy on the stream rows only (usually none or a few)."""
    if not is_eager(frame):
        return frame.with_columns(overcharge(ctx).cast(nw.Float64).alias(OVERCHARGE))
    rows = frame.collect()
    streams = rows.select((nw.col("type") == "stream").fill_null(False)).to_numpy()[:, 0].astype(bool)
    values = np.zeros(len(rows), dtype="float64")
    if streams.any():
        charged = rows.filter(nw.new_series("s", streams, nw.Boolean(), backend=rows.implementation))
        inputs = charged.select(*[e.alias(f"i{n}") for n, e in enumerate(overcharge_inputs())]).to_numpy()
        values[streams] = overcharge_of(ctx, [inputs[:, n].astype("float64") for n in range(inputs.shape[1])])
    column = nw.new_series(OVERCHARGE, values, nw.Float64(), backend=rows.implementation)
    return rows.with_columns(column).lazy()


def _has_nulls(frame: nw.LazyFrame[Any], column: str) -> bool:
    """Whether ``column`` holds a null: filling them from ``key`` would make every lazy query read
    (and decode) the key strings again, so a fully patterned table is left as it is."""
    if is_eager(frame):
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
            counted = compiled.with_columns(
                frame,
                forever.cast(nw.Int64).alias(FOREVER_COUNTS[0]),
                idle.cast(nw.Int64).alias(FOREVER_COUNTS[1]),
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
        n, lo, hi, memory = (as_int(v) for v in totals.row(0))
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
            frame = _left_join(frame, self.per_pattern, PATTERN_COLUMN)
        if seconds and not self.joined:
            frame = _left_join(frame, self.mass_seconds, "expiry_second")
        if self.joined:
            return frame  # the constants too are columns of the table already
        return compiled.with_columns(
            frame,
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


def _left_join(frame: nw.LazyFrame[Any], small: nw.LazyFrame[Any], on: str) -> nw.LazyFrame[Any]:
    """``frame`` left-joined with ``small`` (unique on ``on``). Two Arrow tables are joined by ``take``
    at each row's index in ``small``: an Acero join costs ~10-40 ms to set up the first times in a
    process, more than the rules take on a table of a few thousand keys (the CLI on the sample)."""
    table, lookup = compiled.arrow_table(frame), compiled.arrow_table(small)
    if table is None or lookup is None:
        return frame.join(small, on=on, how="left")
    at = _row_index(table.column(on), lookup.column(on))
    for name in lookup.column_names:
        if name != on:
            taken = lookup.column(name).take(at)
            table = table.append_column(f"{name}_right" if name in table.column_names else name, taken)
    return nw.from_native(table).lazy()


def _row_index(column: pa.ChunkedArray, keys: pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Each row's place in ``keys`` (null where its value is null or absent), for ``take`` to join a
    small table's columns by; a dictionary column is looked up once per distinct value."""
    if pa.types.is_dictionary(column.type):
        values = column.combine_chunks()
        codes = pc.index_in(values.dictionary, value_set=keys.cast(values.dictionary.type), skip_nulls=True)
        return codes.take(values.indices)
    return pc.index_in(column, value_set=keys.cast(column.type), skip_nulls=True)


def _owns_results(ctx: Context) -> bool:
    """Whether a known library owns a result pattern here (results-without-expiry reads its counts)."""
    return any(role == "result" for _, role in owned_patterns(ctx).values())


def _with_owner_results(per_pattern: nw.LazyFrame[Any], ctx: Context) -> nw.LazyFrame[Any]:
    """Each pattern with its owner's result keys without a TTL (``owner_forever_results``) and those
    of them idle (``owner_idle_results``), summed over the owner's result patterns (0 or null: none)."""
    if not _owns_results(ctx):
        none = nw.lit(0, dtype=nw.Int64())
        return compiled.with_columns(
            per_pattern, none.alias("owner_forever_results"), none.alias("owner_idle_results")
        )
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
    frame = with_row_columns(to_lazy(keys), ctx)
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
    if PATTERN_COLUMN in table.column_names and table.column(PATTERN_COLUMN).null_count == 0:
        rows = _with_row_facts(nw.from_native(table).lazy(), ctx)  # fully patterned: nothing to fill
    else:
        rows = with_row_columns(nw.from_native(table).lazy(), ctx)
    derived = rows.collect().to_native()
    for name in DICTIONARY_COLUMNS:  # few distinct values: DuckDB scans their codes, not a string a row
        at_column = derived.schema.get_field_index(name)
        if at_column >= 0 and pa.types.is_string(derived.schema.field(name).type):
            derived = derived.set_column(at_column, name, pc.dictionary_encode(derived.column(name)))
    con = connection()
    measured = Globals.measure(nw.from_native(con.from_arrow(derived)).lazy(), ctx)
    per_pattern = measured.per_pattern.collect().to_arrow()
    seconds = measured.mass_seconds.collect().to_arrow()
    # each row's place in the per-pattern table: looked up once per distinct pattern, then taken
    at = _row_index(derived.column(PATTERN_COLUMN), per_pattern.column(PATTERN_COLUMN))
    for name in per_pattern.column_names:  # a dictionary array: the row's index, no copy per row
        if name != PATTERN_COLUMN:
            derived = derived.append_column(name, _looked_up(at, per_pattern.column(name)))
    busy = seconds.column("expiry_second_keys")
    if len(seconds):
        at = _row_index(derived.column("expiry_second"), seconds.column("expiry_second"))
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


def connection() -> Any:
    """A connection of its own for one evaluation's tables: a cursor of the process's shared DuckDB
    (``insightkit.table.session``; a database of its own would cost ~20 ms of CPU each time)."""
    from insightkit.table import session

    return session()


def _looked_up(at: pa.Array | pa.ChunkedArray, values: pa.ChunkedArray) -> pa.Array:
    """``values[at]`` (null where ``at`` is) as a dictionary array: DuckDB reads it as ``values``' type."""
    indices = at.combine_chunks() if isinstance(at, pa.ChunkedArray) else at
    return pa.DictionaryArray.from_arrays(
        indices, values.combine_chunks(), safe=False
    )  # in range by construction


def slices(frame: nw.LazyFrame[Any]) -> Iterator[nw.LazyFrame[Any]]:
    """An eager frame in slices of ``CHUNK_ROWS`` rows; a lazy one whole (its engine streams it)."""
    if not is_eager(frame):
        yield frame
        return
    eager = frame.collect()
    for start in range(0, max(len(eager), 1), CHUNK_ROWS):
        yield eager[start : start + CHUNK_ROWS].lazy()


def as_int(value: Any) -> int:
    try:
        if value is None or pd.isna(value):
            return 0
    except (TypeError, ValueError):
        pass
    return int(value)


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
    return connection().from_arrow(table)


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
