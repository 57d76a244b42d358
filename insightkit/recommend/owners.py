"""Which patterns a known library owns, as the rules see it: from ``metadata["library_patterns"]``.

Pattern assignment records ``{pattern: {"owner", "role"}}`` in the metadata (and an RSNAP's footer);
the engine turns it into the ``owner`` and ``role`` columns of its per-pattern table, so every key row
a rule looks at carries them (null where no library owns the pattern), on pandas and on DuckDB alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import narwhals as nw

from insightkit.patterns.libraries import METADATA_KEY, Library, get
from insightkit.recommend.base import Context
from insightkit.schema import PATTERN_COLUMN

#: the engine's derived columns
OWNER, ROLE = "owner", "role"


def owned_patterns(ctx: Context) -> dict[str, tuple[str, str]]:
    """``{pattern: (owner, role)}``; entries that are not well-formed are skipped (never an error)."""
    raw = ctx.metadata.get(METADATA_KEY)
    if not isinstance(raw, Mapping):
        return {}
    out = {}
    for pattern, value in raw.items():
        if (
            isinstance(value, Mapping)
            and isinstance(value.get(OWNER), str)
            and isinstance(value.get(ROLE), str)
        ):
            out[str(pattern)] = (value[OWNER], value[ROLE])
    return out


def owners_present(ctx: Context) -> list[Library]:
    """The catalogued libraries that own a pattern of this snapshot (unknown names are skipped)."""
    names = sorted({owner for owner, _ in owned_patterns(ctx).values()})
    return [library for library in (get(name) for name in names) if library is not None]


def owners_of(ctx: Context, patterns: Iterable[str]) -> list[tuple[str, str]]:
    """(owner, role) of each of ``patterns`` a library owns, in order, without repeats."""
    owned = owned_patterns(ctx)
    seen: list[tuple[str, str]] = []
    for pattern in patterns:
        pair = owned.get(pattern)
        if pair is not None and pair not in seen:
            seen.append(pair)
    return seen


def _by_value(owned: Mapping[str, tuple[str, str]], index: int) -> nw.Expr:
    """An expression on the pattern name giving its owner (index 0) or role (1), null when none."""
    groups: dict[str, list[str]] = {}
    for pattern, pair in owned.items():
        groups.setdefault(pair[index], []).append(pattern)
    expr: Any = nw.lit(None, dtype=nw.String())
    for value, patterns in sorted(groups.items(), reverse=True):
        expr = nw.when(nw.col(PATTERN_COLUMN).is_in(sorted(patterns))).then(nw.lit(value)).otherwise(expr)
    return expr


def owner_columns(ctx: Context) -> list[nw.Expr]:
    """The ``owner`` and ``role`` columns of the engine's per-pattern table."""
    owned = owned_patterns(ctx)
    return [_by_value(owned, 0).alias(OWNER), _by_value(owned, 1).alias(ROLE)]


def unowned() -> nw.Expr:
    return nw.col(OWNER).is_null()


def has_role(*roles: str) -> nw.Expr:
    return nw.col(ROLE).fill_null("").is_in(list(roles))
