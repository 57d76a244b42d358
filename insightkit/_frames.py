"""Arrow-backed result tables: the summary, pattern and recommendation frames typed like ``a.keys``.

The engines behind them (Arrow group-bys, pandas, DuckDB) each hand back their own mix of numpy,
``str`` and object columns; a user joining ``a.patterns`` to ``a.keys`` should not meet two type
systems (NaN in one, <NA> in the other). Converted once, at the facade, so the engines stay as they are.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

# Columns holding lists of key names or patterns: typed so even when every row is empty or missing.
LIST_COLUMNS = frozenset({"examples", "top_patterns"})


def _type_by_name(name: str) -> pa.DataType:
    """The type of a column no value shows (an empty snapshot), read off its name's conventions."""
    if name in LIST_COLUMNS:
        return pa.list_(pa.string())
    if name.endswith("_s") or name.endswith("share") or name.endswith("_ratio"):
        return pa.float64()
    if name.endswith(("_bytes", "_keys", "_count")) or name in ("keys", "db") or name.startswith("ttl_"):
        return pa.int64()
    return pa.string()


def _arrow_column(series: pd.Series) -> pd.arrays.ArrowExtensionArray:
    """One column as an Arrow array: NaN becomes null, object columns of text or lists keep their type."""
    if isinstance(series.dtype, pd.ArrowDtype):
        return series.array
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    try:
        values = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed objects: show them as their text
        values = pa.array(series.map(lambda v: None if v is None or v is pd.NA else str(v)), pa.string())
    if pa.types.is_null(values.type):  # all missing (no library owns a pattern, no rows): still typed
        values = pa.nulls(len(values), _type_by_name(str(series.name)))
    elif pa.types.is_large_string(values.type):
        values = values.cast(pa.string())
    return pd.arrays.ArrowExtensionArray(values)


def arrow_backed(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every column ``pd.ArrowDtype``, same index, same column order."""
    if all(isinstance(dtype, pd.ArrowDtype) for dtype in frame.dtypes):
        return frame
    columns = {name: _arrow_column(frame[name]) for name in frame.columns}
    return pd.DataFrame(columns, index=frame.index, columns=frame.columns)
