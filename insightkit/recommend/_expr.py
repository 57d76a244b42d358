"""Small expression helpers shared by the rule families (column predicates, nice config values)."""

from __future__ import annotations

import narwhals as nw

from insightkit.recommend.base import Aggregates


def col(name: str) -> nw.Expr:
    return nw.col(name)


def is_type(kind: str) -> nw.Expr:
    return nw.col("type") == kind


def encoded(*encodings: str) -> nw.Expr:
    return nw.col("encoding").is_in(list(encodings))


def no_ttl() -> nw.Expr:
    return nw.col("expires_at").is_null()


def nice_limit(needed: int, floor: int) -> int:
    """The smallest round number (a power of two, or a multiple of 128 past 1024) >= needed."""
    value = max(needed, floor)
    power = 1
    while power < value:
        power *= 2
    return power if power <= 1024 else (value + 127) // 128 * 128


def max_elements(agg: Aggregates | None, fallback: int) -> int:
    return agg.max_elements if agg is not None and agg.max_elements else fallback


def max_element_bytes(agg: Aggregates | None, fallback: int) -> int:
    return agg.max_element_bytes if agg is not None and agg.max_element_bytes else fallback
