"""Which columns a rule reads, read off its narwhals expressions without running them.

The engine joins the per-pattern and per-expiry-second tables only into the queries of rules that read
their columns. Building a rule's expressions costs microseconds; walking them gives the column names
they name, so no query (not even one on an empty table) is needed to find out. An expression this
walker cannot see through (``nw.all()``, selectors, a narwhals without expression nodes) reads
"everything" (``None``): the engine then joins every table, which is always correct, only slower.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import narwhals as nw

from insightkit.recommend.base import Context, Rule
from insightkit.recommend.owners import unowned

#: Node names that select columns by something other than their names.
_OPAQUE = frozenset({"all", "nth", "exclude"})


def expr_columns(expr: nw.Expr) -> frozenset[str] | None:
    """The column names ``expr`` reads, or None when they cannot be told from the expression."""
    names: set[str] = set()
    return frozenset(names) if _walk(expr, names) else None


def _walk(expr: nw.Expr, names: set[str]) -> bool:
    nodes = getattr(expr, "_nodes", None)
    if nodes is None:
        return False
    for node in nodes:
        name = str(getattr(node, "name", ""))
        if name in _OPAQUE or name.startswith("selectors."):
            return False
        kwargs: dict[str, Any] = getattr(node, "kwargs", {}) or {}
        if name == "col":
            names.update(str(n) for n in kwargs.get("names", ()))
        elif name == "over":
            names.update(str(n) for key in ("partition_by", "order_by") for n in kwargs.get(key) or ())
        for arg in getattr(node, "exprs", ()):
            if isinstance(arg, nw.Expr):
                if not _walk(arg, names):
                    return False
            elif isinstance(arg, str) and not getattr(node, "str_as_lit", True):
                names.add(arg)  # a bare string argument names a column here
        for value in kwargs.values():
            for item in value if isinstance(value, list | tuple) else (value,):
                if isinstance(item, nw.Expr) and not _walk(item, names):
                    return False
    return True


def conjuncts(expr: nw.Expr) -> list[nw.Expr]:
    """The terms ``expr`` ANDs together (``a & b & (c & d)`` → a, b, c, d): a row is selected only where
    every one is true. Only ``&`` is split; an expression this walker cannot see through is one term."""
    nodes = getattr(expr, "_nodes", None)
    if not nodes:
        return [expr]
    right: list[nw.Expr] = []
    end = len(nodes)
    while end > 1 and str(getattr(nodes[end - 1], "name", "")) == "__and__":
        operands: tuple[Any, ...] = tuple(getattr(nodes[end - 1], "exprs", ()))
        if (
            len(operands) != 1
            or not isinstance(operands[0], nw.Expr)
            or getattr(nodes[end - 1], "kwargs", None)
        ):
            break
        right = conjuncts(operands[0]) + right  # each ``&`` applies to everything before it
        end -= 1
    if end == len(nodes):
        return [expr]
    return conjuncts(type(expr)(*nodes[:end])) + right


def union(columns: Iterable[frozenset[str] | None]) -> frozenset[str] | None:
    """All the columns of several expressions (None as soon as one is unknown)."""
    found: set[str] = set()
    for part in columns:
        if part is None:
            return None
        found |= part
    return frozenset(found)


def rule_columns(rule: Rule, ctx: Context) -> frozenset[str] | None:
    """The key-table columns (own and derived) a key rule's selection and saving read under ``ctx``.

    Columns that a saving step writes itself (its temporary columns) are left out.
    """
    if rule.select is None:
        return frozenset()
    found = [expr_columns(rule.select(ctx))]
    if not rule.library_keys:
        found.append(expr_columns(unowned()))
    if rule.saving is not None:
        saving = rule.saving(ctx)
        written: set[str] = set()  # a step may read what an earlier step wrote: not a table column
        for name, expr in saving if isinstance(saving, list) else [("", saving)]:
            read = expr_columns(expr)
            found.append(None if read is None else read - written)
            written.add(name)
    return union(found)
