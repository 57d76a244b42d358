"""Rule expressions on an in-memory Arrow table, as direct Arrow compute calls.

narwhals evaluates an expression on a pyarrow table node by node through layers of Python (expression
metadata, broadcasting, series wrappers): about a millisecond of bookkeeping for each rule condition
whatever the table's size, which is most of the rules' time on a few thousand keys (the CLI on the
bundled sample). Here the same expression tree is turned once into nested Python closures, each
making the one ``pyarrow.compute`` call narwhals' Arrow backend makes for its node, on the same
arguments: unchecked ``add``/``divide``, ``int / int`` cast to float64 first, ``and_kleene``,
``round`` half towards infinity, ``max_element_wise`` skipping nulls, a null ``when`` predicate
meaning false, ``is_in`` null on a null value, ``fill_null`` through ``pc.fill_null``. The arrays that
come out are therefore the ones narwhals would give, types included (``tests/test_rules_compiled.py``
compares every rule's selection and saving steps on real tables).

An Acero projection of ``pyarrow.compute.Expression`` trees would be faster still, but Arrow binds a
literal to its column's type there (``int32 * 2.5`` gives float32), which eager calls do not.

A node outside the list below (a window, a string method, a reduction) raises ``Unsupported`` while
compiling, and ``with_columns`` leaves the whole call to narwhals: never a different answer, at worst
the slower path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import narwhals as nw
import pyarrow as pa
import pyarrow.compute as pc

#: What a compiled node gives: a column, or a scalar broadcast against the table.
Value: TypeAlias = pa.ChunkedArray | pa.Scalar
Node: TypeAlias = Callable[[pa.Table], Value]

_BINARY: dict[str, Callable[..., Any]] = {
    "__eq__": pc.equal,
    "__ne__": pc.not_equal,
    "__lt__": pc.less,
    "__le__": pc.less_equal,
    "__gt__": pc.greater,
    "__ge__": pc.greater_equal,
    "__and__": pc.and_kleene,
    "__or__": pc.or_kleene,
    "__add__": pc.add,
    "__sub__": pc.subtract,
    "__mul__": pc.multiply,
    "__pow__": pc.power,
}
#: ``other <op> self``: the same function, operands swapped
_REFLECTED: dict[str, Callable[..., Any]] = {
    "__rand__": pc.and_kleene,
    "__ror__": pc.or_kleene,
    "__radd__": pc.add,
    "__rsub__": pc.subtract,
    "__rmul__": pc.multiply,
    "__rpow__": pc.power,
}
_UNARY: dict[str, Callable[..., Any]] = {
    "__invert__": pc.invert,
    "__neg__": pc.negate,
    "is_null": pc.is_null,
    "ceil": pc.ceil,
    "floor": pc.floor,
    "sqrt": pc.sqrt,
}
#: narwhals dtypes a rule may cast to, as the Arrow types narwhals' Arrow backend maps them to
_CASTS: dict[type, pa.DataType] = {
    nw.Int64: pa.int64(),
    nw.Int32: pa.int32(),
    nw.Int16: pa.int16(),
    nw.Int8: pa.int8(),
    nw.UInt64: pa.uint64(),
    nw.UInt32: pa.uint32(),
    nw.Float64: pa.float64(),
    nw.Float32: pa.float32(),
    nw.Boolean: pa.bool_(),
}
_KEEP_NULLS = pc.ElementWiseAggregateOptions(skip_nulls=False)


class Unsupported(Exception):
    """An expression this module does not translate; the caller runs it on narwhals."""


def _literal(value: Any) -> Node:
    """A Python value as narwhals' Arrow backend makes it (``pa.array([value])``'s type)."""
    if isinstance(value, nw.Expr | nw.Series):
        raise Unsupported(type(value).__name__)
    try:
        scalar = _scalar(type(value).__qualname__, value)
    except TypeError:  # unhashable: not cached
        scalar = _scalar.__wrapped__(type(value).__qualname__, value)
    return lambda _table: scalar


@functools.lru_cache(maxsize=1024)
def _scalar(kind: str, value: Any) -> pa.Scalar:
    """The Arrow scalar of a literal, made once per distinct value (``kind`` keeps ``1`` and ``True``
    apart, which compare equal)."""
    try:
        return pa.array([value])[0]
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise Unsupported(repr(value)) from exc


def _column(name: str) -> Node:
    return lambda table: table.column(name)


def _cast_type(dtype: Any) -> pa.DataType:
    target = _CASTS.get(dtype if isinstance(dtype, type) else type(dtype))
    if target is None:
        raise Unsupported(f"cast to {dtype}")
    return target


def _operand(node: Any, arg: Any) -> Node:
    """An argument of a node: an expression, a column named by a bare string (where narwhals reads
    one so), or a literal."""
    if isinstance(arg, nw.Expr):
        return compile_expression(arg)
    if isinstance(arg, str):
        as_literal = getattr(node, "str_as_lit", None)
        if as_literal is None:  # a narwhals that does not say: a column or a text, it cannot be told
            raise Unsupported(f"bare string {arg!r}")
        return _literal(arg) if as_literal else _column(arg)
    return _literal(arg)


def _truediv(left: Value, right: Value) -> Value:
    if pa.types.is_integer(left.type) and pa.types.is_integer(right.type):
        left, right = left.cast(pa.float64(), safe=False), right.cast(pa.float64(), safe=False)
    return pc.divide(left, right)


def _is_in(value: Value, values: pa.Array) -> Value:
    return pc.if_else(pc.is_null(value), None, pc.is_in(value, value_set=values))


def _when(predicate: Value, then: Value, otherwise: Value | None) -> Value:
    if otherwise is None:
        otherwise = pa.scalar(None, type=then.type)
    return pc.if_else(pc.fill_null(predicate, pa.scalar(False)), then, otherwise)


def _root(node: Any) -> Node:
    name, kwargs, args = str(node.name), node.kwargs or {}, list(node.exprs)
    if name == "col" and len(kwargs.get("names", ())) == 1 and not args:
        return _column(str(kwargs["names"][0]))
    if name == "lit" and not args:
        value = kwargs.get("value")
        dtype = kwargs.get("dtype")
        if dtype is None:
            return _literal(value)
        try:
            scalar = pa.array([value]).cast(_cast_type(dtype))[0]
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise Unsupported(repr(value)) from exc
        return lambda _table: scalar
    operands = [_operand(node, a) for a in args]
    if name in ("max_horizontal", "min_horizontal") and operands and not kwargs:
        function = pc.max_element_wise if name == "max_horizontal" else pc.min_element_wise
        return lambda table: functools.reduce(function, [o(table) for o in operands])
    if name == "all_horizontal" and operands and set(kwargs) <= {"ignore_nulls"}:
        if kwargs.get("ignore_nulls"):
            return lambda table: functools.reduce(
                pc.and_kleene, [pc.fill_null(o(table), pa.scalar(True)) for o in operands]
            )
        return lambda table: functools.reduce(pc.and_kleene, [o(table) for o in operands])
    if name == "when_then" and len(operands) in (2, 3) and not kwargs:
        predicate, then = operands[0], operands[1]
        if len(operands) == 2:
            return lambda table: _when(predicate(table), then(table), None)
        otherwise = operands[2]
        return lambda table: _when(predicate(table), then(table), otherwise(table))
    raise Unsupported(name)


def _method(inner: Node, node: Any) -> Node:
    name, kwargs, args = str(node.name), node.kwargs or {}, list(node.exprs)
    if name in _BINARY and len(args) == 1 and not kwargs:
        function, other = _BINARY[name], _operand(node, args[0])
        return lambda table: function(inner(table), other(table))
    if name in _REFLECTED and len(args) == 1 and not kwargs:
        function, other = _REFLECTED[name], _operand(node, args[0])
        return lambda table: function(other(table), inner(table))
    if name == "__truediv__" and len(args) == 1 and not kwargs:
        other = _operand(node, args[0])
        return lambda table: _truediv(inner(table), other(table))
    if name == "__rtruediv__" and len(args) == 1 and not kwargs:
        other = _operand(node, args[0])
        return lambda table: _truediv(other(table), inner(table))
    if name in _UNARY and not args and not kwargs:
        function = _UNARY[name]
        return lambda table: function(inner(table))
    if name == "log" and not args and set(kwargs) == {"base"}:
        base = pa.scalar(kwargs["base"])
        return lambda table: pc.logb(inner(table), base)
    if name == "round" and not args and set(kwargs) == {"decimals"}:
        decimals = int(kwargs["decimals"])
        return lambda table: pc.round(inner(table), decimals, round_mode="half_towards_infinity")
    if name == "cast" and not args and set(kwargs) == {"dtype"}:
        target = _cast_type(kwargs["dtype"])
        return lambda table: pc.cast(inner(table), target)
    if (
        name == "fill_null"
        and len(args) == 1
        and kwargs.get("strategy") is None
        and kwargs.get("limit") is None
    ):
        if isinstance(args[0], str) and not getattr(node, "str_as_lit", True):
            raise Unsupported("fill_null from a column")
        fill = _operand(node, args[0])
        return lambda table: pc.fill_null(inner(table), fill(table))
    if name == "is_in" and not args and set(kwargs) == {"other"}:
        other = kwargs["other"]
        if not isinstance(other, list | tuple):
            raise Unsupported("is_in of a non-sequence")
        try:
            values = pa.array(other)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise Unsupported("is_in values") from exc
        return lambda table: _is_in(inner(table), values)
    if name == "clip" and len(args) == 2 and not kwargs:
        lower, upper = _operand(node, args[0]), _operand(node, args[1])
        return lambda table: pc.max_element_wise(
            pc.min_element_wise(inner(table), upper(table), options=_KEEP_NULLS),
            lower(table),
            options=_KEEP_NULLS,
        )
    raise Unsupported(name)


def compile_expression(expr: nw.Expr) -> Node:
    """``expr`` as a function of an Arrow table; ``Unsupported`` if it holds a node not translated here."""
    nodes = getattr(expr, "_nodes", None)
    if not nodes:
        raise Unsupported("no expression nodes")
    compiled = _root(nodes[0])
    for node in nodes[1:]:
        compiled = _method(compiled, node)
    return compiled


def _named(expr: nw.Expr) -> tuple[str, Node]:
    """An aliased expression's output name and its compiled body."""
    nodes = getattr(expr, "_nodes", None)
    if not nodes or str(nodes[-1].name) != "alias" or nodes[-1].exprs:
        raise Unsupported("an output without an alias")
    return str(nodes[-1].kwargs["name"]), compile_expression(type(expr)(*nodes[:-1]))


def arrow_table(frame: nw.LazyFrame[Any] | nw.DataFrame[Any]) -> pa.Table | None:
    """The pyarrow table under a narwhals frame, or None for any other engine."""
    if frame.implementation is not nw.Implementation.PYARROW:
        return None
    native = frame.to_native()
    return native if isinstance(native, pa.Table) else None


def _full(value: Value, rows: int) -> pa.ChunkedArray:
    if isinstance(value, pa.ChunkedArray):
        return value
    if isinstance(value, pa.Array):
        return pa.chunked_array([value])
    return pa.chunked_array([pa.repeat(value, rows)], type=value.type)


def project(table: pa.Table, exprs: Sequence[nw.Expr]) -> pa.Table:
    """``with_columns(*exprs)`` on ``table``: each aliased expression replaces its column in place or
    is appended, every expression reading the table as it was."""
    outputs = [_named(e) for e in exprs]
    if (
        len({name for name, _ in outputs}) != len(outputs)
        or len(set(table.column_names)) != table.num_columns
    ):
        raise Unsupported("duplicate column names")
    values = [(name, _full(node(table), table.num_rows)) for name, node in outputs]
    for name, column in values:
        at = table.schema.get_field_index(name)
        table = table.append_column(name, column) if at < 0 else table.set_column(at, name, column)
    return table


def with_columns(frame: nw.LazyFrame[Any], *exprs: nw.Expr) -> nw.LazyFrame[Any]:
    """``frame.with_columns(*exprs)``, by direct Arrow calls where ``frame`` is an Arrow table and every
    expression compiles; on narwhals otherwise, and where Arrow raises (narwhals then says it in its
    own words)."""
    table = arrow_table(frame)
    if table is None:
        return frame.with_columns(*exprs)
    try:
        result = project(table, exprs)
    except (Unsupported, pa.ArrowException, KeyError, TypeError, ValueError):
        return frame.with_columns(*exprs)
    return nw.from_native(result).lazy()
