"""Every rule's example cases as data: at least two that fire and two that stay quiet.

A rule carries one anti-pattern (``Rule.fire``) and one best practice (``Rule.quiet``); the cases
here add to them. ``EXTRA`` holds cases written for one rule; the rest are the same two scenarios
built for every rule from its own cases:

- *fire among good keys*: the anti-pattern's keys next to the best practice's (renamed; a few ordinary
  keys when it has none), with the anti-pattern's metadata: one bad key among good ones is still found,
  and a snapshot rule is not silenced by keys;
- *quiet on other keys*: the best practice's metadata over an empty key table (a key rule has nothing
  to flag), or over a few ordinary keys when the best practice has no keys of its own (a snapshot rule
  judges the metadata, not the keys).
"""

from __future__ import annotations

from typing import Any

from insightkit.recommend.base import Case, Rule

#: A small set of strings with one member a little over set-max-listpack-value
_URL_SET = (
    {
        "key": "u:1",
        "type": "set",
        "encoding": "hashtable",
        "num_elements": 10,
        "largest_element_bytes": 120,
        "all_integers": False,
    },
)
_VALKEY_81 = {"server": {"family": "valkey", "version": "8.1.0", "allocator": "libc"}}

#: Cases written for one rule: {"rule id": {"fire": (Case, ...), "quiet": (Case, ...)}}
EXTRA: dict[str, dict[str, tuple[Case, ...]]] = {
    "dangerous-commands": {
        "fire": (
            Case(  # ACL LIST read: the default user still has every command
                metadata={
                    "config": {"maxmemory": "0"},
                    "acl": [
                        {"user": "default", "enabled": True, "all_commands": True, "dangerous": True},
                        {"user": "monitor", "enabled": True, "all_commands": False, "dangerous": False},
                    ],
                }
            ),
        ),
        "quiet": (
            Case(  # CONFIG GET answered a monitoring user granted only +config|get; nobody has +@all
                metadata={
                    "config": {"maxmemory": "0"},
                    "acl": [
                        {"user": "default", "enabled": False, "all_commands": True, "dangerous": True},
                        {"user": "app", "enabled": True, "all_commands": True, "dangerous": False},
                        {"user": "monitor", "enabled": True, "all_commands": False, "dangerous": False},
                        # the admins' own user, with a password: what the fix asks for
                        {
                            "user": "ops",
                            "enabled": True,
                            "nopass": False,
                            "all_commands": True,
                            "dangerous": True,
                        },
                    ],
                }
            ),
        ),
    },
    "hash-listpack-entries": {
        "fire": (
            Case(keys=({"key": "cart:1", "type": "hash", "encoding": "hashtable", "num_elements": 513},)),
            Case(  # the limit read from the server's own CONFIG (6.2 spelling)
                keys=({"key": "user:1", "type": "hash", "encoding": "hashtable", "num_elements": 300},),
                metadata={"server": {"version": "6.2.14"}, "config": {"hash-max-ziplist-entries": "200"}},
            ),
        ),
        "quiet": (
            Case(  # hash field TTLs keep a hash out of the listpack whatever its size
                keys=(
                    {
                        "key": "s:1",
                        "type": "hash",
                        "encoding": "hashtable",
                        "num_elements": 300,
                        "volatile_fields": 3,
                    },
                )
            ),
            Case(  # one value too long for the listpack: raising the entries limit would not pack it
                keys=(
                    {
                        "key": "d:1",
                        "type": "hash",
                        "encoding": "hashtable",
                        "num_elements": 300,
                        "largest_element_bytes": 500,
                    },
                )
            ),
        ),
    },
    "hash-listpack-value": {
        "fire": (
            Case(
                keys=(
                    {
                        "key": "p:{i}",
                        "type": "hash",
                        "encoding": "hashtable",
                        "num_elements": 4,
                        "largest_element_bytes": 200,
                        "repeat": 3,
                    },
                )
            ),
        ),
        "quiet": (
            Case(
                keys=(
                    {
                        "key": "p:1",
                        "type": "hash",
                        "encoding": "listpack",
                        "num_elements": 4,
                        "largest_element_bytes": 40,
                    },
                )
            ),
        ),
    },
    "zset-listpack-entries": {
        "fire": (
            Case(keys=({"key": "lb:1", "type": "zset", "encoding": "skiplist", "num_elements": 1000},)),
        ),
        "quiet": (
            Case(  # far over any listpack worth having
                keys=({"key": "lb:1", "type": "zset", "encoding": "skiplist", "num_elements": 50_000},)
            ),
        ),
    },
    "zset-listpack-value": {
        "fire": (
            Case(
                keys=(
                    {
                        "key": "z:{i}",
                        "type": "zset",
                        "encoding": "skiplist",
                        "num_elements": 3,
                        "largest_element_bytes": 300,
                        "repeat": 2,
                    },
                )
            ),
        ),
        "quiet": (
            Case(
                keys=(
                    {
                        "key": "z:1",
                        "type": "zset",
                        "encoding": "listpack",
                        "num_elements": 20,
                        "largest_element_bytes": 30,
                    },
                )
            ),
        ),
    },
    "set-listpack-entries": {
        "fire": (
            Case(
                keys=(
                    {
                        "key": "t:{i}",
                        "type": "set",
                        "encoding": "hashtable",
                        "num_elements": 200,
                        "repeat": 2,
                    },
                ),
                metadata={"server": {"family": "redis", "version": "7.2.4"}},
            ),
        ),
        "quiet": (
            Case(  # integers: set-intset-entries' business
                keys=(
                    {
                        "key": "ids:1",
                        "type": "set",
                        "encoding": "hashtable",
                        "num_elements": 300,
                        "all_integers": True,
                    },
                ),
                metadata=_VALKEY_81,
            ),
        ),
    },
    "set-listpack-value": {
        "fire": (
            Case(
                keys=_URL_SET,
                metadata={"server": {"family": "redis", "version": "8.2.3"}},
            ),
        ),
        "quiet": (
            Case(  # before 7.2 sets of strings have no listpack
                keys=_URL_SET,
                metadata={"server": {"family": "redis", "version": "7.0.15"}},
            ),
        ),
    },
}


#: Keys no rule flags: a short profile hash and a short string
ORDINARY: tuple[dict[str, Any], ...] = (
    {"key": "user:{i}:profile", "type": "hash", "encoding": "listpack", "num_elements": 8, "repeat": 2},
    {"key": "flag:{i}", "type": "string", "encoding": "int", "largest_element_bytes": 1, "repeat": 2},
)


def _renamed(keys: tuple[Any, ...], prefix: str) -> tuple[dict[str, Any], ...]:
    return tuple({**spec, "key": f"{prefix}{spec.get('key', 'k')}"} for spec in keys)


def fires(rule: Rule) -> list[tuple[str, Case]]:
    """The cases ``rule`` must fire on, named."""
    found = [("own", rule.fire)]
    found += [(f"extra{i}", case) for i, case in enumerate(EXTRA.get(rule.id, {}).get("fire", ()))]
    among = (*rule.fire.keys, *_renamed(rule.quiet.keys or ORDINARY, "good/"))
    found.append(("among-good-keys", Case(among, rule.fire.metadata, rule.fire.thresholds)))
    return found


def quiets(rule: Rule) -> list[tuple[str, Case]]:
    """The cases ``rule`` must stay quiet on, named."""
    found = [("own", rule.quiet)]
    found += [(f"extra{i}", case) for i, case in enumerate(EXTRA.get(rule.id, {}).get("quiet", ()))]
    other = () if rule.quiet.keys else ORDINARY
    found.append(("other-keys", Case(other, rule.quiet.metadata, rule.quiet.thresholds)))
    return found
