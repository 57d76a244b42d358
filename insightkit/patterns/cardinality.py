"""The per-position decision: is a word at this place in the key a literal or a value?

Decided per (prefix, separator) group of sibling words, from how many distinct words the group has
relative to the keys that pass through it. Namespaces and sub-keys (``user:*:profile`` vs
``user:*:settings``, ``metrics:page_views:*``) are few words carrying many keys; values (usernames, slugs,
search text, named singletons like ``config:feature_flags``) are many words carrying few keys each.
Past ``wide_distinct`` words, words that all continue the same way (``user:<name>:posts:*`` for
every name) are values too, however many keys each carries. Tokens already shaped as values (``*``) count towards the keys of the group but not its words, so a
handful of literal words next to millions of ids (``bull:email:wait`` beside ``bull:email:<id>``) stay
literal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Thresholds:
    """Knobs of the decision; the defaults are tuned on tests/keyspaces.py."""

    #: a non-root group needs at least this many distinct words to be a value position …
    min_distinct: int = 3
    #: … and this many distinct words per key through the group,
    min_ratio: float = 0.2
    #: or, with at least ``wide_distinct`` words, only ``wide_ratio`` of them;
    wide_distinct: int = 20
    wide_ratio: float = 0.02
    #: any group (the root too) with this many distinct words is a value position.
    max_literals: int = 1000
    #: a non-root group with ``wide_distinct`` words or more whose words share their continuations —
    #: on average ``shared_fraction`` of the words continue each way (``user:<name>:posts:*``) — is a
    #: value position however many keys each word carries.
    shared_fraction: float = 0.25
    #: in a value position a word keeps its name when it alone holds this share of the group's keys
    #: (and at least ``heavy_min_keys`` keys) and follows a strong separator.
    heavy_share: float = 0.1
    heavy_min_keys: int = 10


DEFAULT_THRESHOLDS = Thresholds()


def shared_groups(
    distinct_words: np.ndarray, sharing: np.ndarray, is_root: np.ndarray, t: Thresholds
) -> np.ndarray:
    """Groups whose many words continue alike: values, with no heavy-word exception.

    ``sharing``: per group, the mean number of words per distinct continuation (rest of the key).
    """
    return (distinct_words >= t.wide_distinct) & (sharing >= t.shared_fraction * distinct_words) & ~is_root


def variable_groups(
    distinct_words: np.ndarray,
    keys_through: np.ndarray,
    is_root: np.ndarray,
    t: Thresholds,
    shared: np.ndarray | None = None,
) -> np.ndarray:
    """For each sibling group: True when its words are values rather than names."""
    ratio = distinct_words / np.maximum(keys_through, 1)
    small = (distinct_words >= t.min_distinct) & (ratio >= t.min_ratio)
    wide = (distinct_words >= t.wide_distinct) & (ratio >= t.wide_ratio)
    alike = np.zeros(len(distinct_words), dtype=bool) if shared is None else shared
    return ((small | wide | alike) & ~is_root) | (distinct_words >= t.max_literals)


def literal_words(
    group_is_variable: np.ndarray,
    word_keys: np.ndarray,
    group_keys: np.ndarray,
    after_strong: np.ndarray,
    group_is_shared: np.ndarray,
    t: Thresholds,
) -> np.ndarray:
    """For each word (given its group's decision): True when it stays a literal in the pattern."""
    heavy = (word_keys >= t.heavy_min_keys) & (word_keys >= t.heavy_share * group_keys) & after_strong
    return ~group_is_variable | (heavy & ~group_is_shared)
