"""Known layouts: what popular queue, cache and session libraries write to Redis, as data.

One module per library holds a ``LIBRARY`` (``base.Library``): its key families, each with the
pattern its users would name it by, the role its keys play and example keys that must and must not
match. ``CATALOGUE`` lists them all; ``catalogue()`` shows them as a table.

Library families take part in pattern assignment as custom patterns do (``insightkit.patterns.custom``):
they win over discovery, after the user's own patterns, on the in-memory path and on the out-of-core
one alike. When two families could take a key, the more specific one (more literal characters in its
pattern) wins, then the catalogue's order. ``ownership`` turns the names a snapshot ended up with into
``{pattern: {"owner", "role"}}`` — the table that travels in the metadata (``library_patterns``).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from insightkit.errors import ConfigurationError
from insightkit.patterns.libraries.base import ROLES, Family, Library

MODULES = (
    "rq",
    "celery",
    "dramatiq",
    "huey",
    "arq",
    "sidekiq",
    "bullmq",
    "django",
    "flask_session",
    "limits",
    "redis_om",
    "spring_session",
    "rails",
    "actioncable",
)
CATALOGUE: tuple[Library, ...] = tuple(
    importlib.import_module(f"{__name__}.{module}").LIBRARY for module in MODULES
)
BY_NAME: dict[str, Library] = {library.name: library for library in CATALOGUE}
if len(BY_NAME) != len(CATALOGUE):
    raise RuntimeError("two catalogue entries share a library name")

METADATA_KEY = "library_patterns"

__all__ = [
    "BY_NAME",
    "CATALOGUE",
    "METADATA_KEY",
    "ROLES",
    "Family",
    "Library",
    "catalogue",
    "family_regex",
    "get",
    "ownership",
    "resolve",
    "with_owners",
]


def get(name: str) -> Library | None:
    """The catalogue entry of a library by name, or None when unknown."""
    return BY_NAME.get(name)


def resolve(libraries: Any = None) -> tuple[Library, ...]:
    """``None``/``True``: the whole catalogue; ``False``/``()``: none; else library names or entries."""
    if libraries is None or libraries is True:
        return CATALOGUE
    if libraries is False:
        return ()
    if isinstance(libraries, Library | str):
        libraries = [libraries]
    out = []
    for item in libraries:
        if isinstance(item, Library):
            out.append(item)
        elif isinstance(item, str) and item in BY_NAME:
            out.append(BY_NAME[item])
        else:
            raise ConfigurationError(
                f"libraries: {item!r} is not a catalogued library ({', '.join(sorted(BY_NAME))}) "
                "nor a insightkit.patterns.libraries.Library"
            )
    return tuple(out)


def family_regex(family: Family) -> str:
    """The family's anchored regex (its glob's, unless it has one of its own)."""
    if family.regex is not None:
        return family.regex
    from insightkit.patterns.custom import glob_to_regex

    return glob_to_regex(family.pattern)


def ordered_families(libraries: Iterable[Library]) -> list[tuple[Library, Family]]:
    """Every family, the most specific first (literal characters), then in catalogue order."""
    pairs = [(library, family) for library in libraries for family in library.families]
    return sorted(pairs, key=lambda pair: -pair[1].literal_chars)


def anchor_of(rule: Any) -> tuple[str, str] | None:
    """The (owner, family pattern) a conditional rule needs present; None for other rules."""
    family = getattr(rule, "family", None)
    if family is None or family.requires is None:
        return None
    return (rule.owner, family.requires)


def anchors_present(rules: Iterable[Any]) -> set[tuple[str, str]]:
    """(owner, family pattern) of every library rule that named some key."""
    return {(r.owner, r.family.pattern) for r in rules if getattr(r, "owner", None) and r.family is not None}


def conditional_names(matched: Any) -> Any:
    """Per name of a ``Matched``, whether its family is conditional (has ``requires``); None when
    there is none at all."""
    import numpy as np

    if matched is None or not matched.rules:
        return None
    flags = np.array([anchor_of(rule) is not None for rule in matched.rules], dtype=bool)
    return flags if flags.any() else None


def ownership(
    named: Iterable[tuple[str, Any]],
    discovered: Iterable[str],
    links: Mapping[Any, Iterable[str]] | None = None,
    renames: Mapping[str, str] | None = None,
) -> dict[str, dict[str, str]]:
    """``{pattern: {"owner", "role"}}`` for the pattern names a snapshot ended up with.

    ``named``: (name, rule) for every name a library rule produced (rules carry ``owner``/``family``);
    ``discovered``: the names discovery produced; ``links``: per rule, the values its ``link_group``
    captured (e.g. kombu's exchange names). A family whose ``requires`` anchor is absent, or whose
    name discovery also produced (two different sets of keys under one name), is not owned.
    """
    named = [(name, rule) for name, rule in named if getattr(rule, "owner", None)]
    discovered = set(discovered)
    present = {(rule.owner, rule.family.pattern) for _, rule in named}
    owned: dict[str, dict[str, str]] = {}
    for name, rule in named:
        family = rule.family
        if family.requires is not None and (rule.owner, family.requires) not in present:
            continue
        if name in discovered:
            continue
        owned[name] = {"owner": rule.owner, "role": family.role}
    if links:
        from insightkit.patterns.shapes import template_of

        for rule, values in links.items():
            family = rule.family
            if family.link_role is None:
                continue
            for value in values:
                for candidate in (value, template_of(value)):
                    if candidate in discovered and candidate not in owned:
                        owned[candidate] = {"owner": rule.owner, "role": family.link_role}
    if renames:
        owned = {renames.get(name, name): value for name, value in owned.items()}
    return owned


def owners_frame(owned: Mapping[str, Mapping[str, str]] | None) -> pd.DataFrame:
    """The ownership table as a DataFrame: ``pattern``, ``owner``, ``role``."""
    rows = [(p, v.get("owner"), v.get("role")) for p, v in (owned or {}).items() if isinstance(v, Mapping)]
    return pd.DataFrame(rows, columns=["pattern", "owner", "role"], dtype=object)


def catalogue(libraries: Any = None) -> pd.DataFrame:
    """One row per family: ``owner``, ``pattern``, ``role``, ``types``, ``regex``, ``requires``,
    ``example``, ``library`` (title), ``verified`` ("tests": checked against the real library;
    "source": from its public source), ``source``."""
    rows = []
    for library in resolve(libraries):
        for family in library.families:
            rows.append(
                {
                    "owner": library.name,
                    "pattern": family.pattern,
                    "role": family.role,
                    "types": list(family.types),
                    "regex": family_regex(family),
                    "requires": family.requires,
                    "example": family.matches[0],
                    "library": library.title,
                    "verified": library.verified,
                    "source": library.source,
                }
            )
    return pd.DataFrame(rows)


def fill(template: str, groups: Mapping[str, str]) -> str:
    """A family's name template with its groups filled in."""
    return re.sub(r"\{(\w+)\}", lambda m: groups.get(m.group(1), ""), template)


def with_owners(patterns: pd.DataFrame, owned: Mapping[str, Mapping[str, str]] | None) -> pd.DataFrame:
    """``patterns`` (one row per pattern) with ``owner`` and ``role`` (None where no library owns it)."""
    out = patterns.copy()
    owned = owned if isinstance(owned, Mapping) else {}
    names = out["pattern"] if "pattern" in out.columns else pd.Series([], dtype=object)
    for column in ("owner", "role"):
        values = [(owned.get(p) or {}).get(column) for p in names]
        out[column] = pd.Series(values, index=out.index, dtype=object)
    return out
