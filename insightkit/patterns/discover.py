"""Pattern discovery over distinct templates: a prefix tree built level by level, vectorised.

Level ``k`` holds the ``k``-th word of every template and the separator before it. Sibling words (same
pattern prefix so far, same separator) are judged together by ``cardinality``; words judged values become
``*``, so their sub-trees merge — ``user:alice:profile`` and ``user:bob:profile`` continue from one node
``user:*`` whose next words (``profile``, ``settings``) are judged again over all users at once. Memory is
bounded by the number of distinct templates, never by the number of keys (no byte-level radix tree).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from insightkit.patterns.cardinality import (
    DEFAULT_THRESHOLDS,
    Thresholds,
    literal_words,
    shared_groups,
    variable_groups,
)
from insightkit.patterns.tokens import (
    SEP_CLASS,
    STRONG_SEPARATORS,
    WILDCARD,
    fold_variable_segments,
)

_MARK = "\x1f"


def _tokenize(templates: pa.Array) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """(template index, token position, token text) for every token, words at even positions."""
    marked = pc.replace_substring_regex(templates, pattern=f"({SEP_CLASS})", replacement=rf"{_MARK}\1{_MARK}")
    lists = pc.split_pattern(marked, pattern=_MARK)
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    owner = np.repeat(np.arange(len(templates), dtype=np.int64), lengths)
    starts = np.cumsum(lengths) - lengths
    position = np.arange(len(owner), dtype=np.int64) - np.repeat(starts, lengths)
    return owner, position, pc.list_flatten(lists)


def discover(
    templates: list[str] | pa.Array, weights: np.ndarray, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> np.ndarray:
    """The pattern of each distinct template (object array aligned with ``templates``).

    ``weights`` is the number of keys behind each template: the decisions count keys, not templates.
    """
    arr = templates if isinstance(templates, pa.Array) else pa.array(templates, type=pa.string())
    n = len(arr)
    if n == 0:
        return np.empty(0, dtype=object)
    weights = np.asarray(weights, dtype=np.int64)
    owner, position, flat = _tokenize(arr)
    token_codes, token_texts = pd.factorize(np.asarray(flat.to_numpy(zero_copy_only=False), dtype=object))
    token_texts = np.asarray(token_texts, dtype=object)
    star = np.flatnonzero(token_texts == WILDCARD)
    if len(star) == 0:  # no shaped value anywhere: words judged values still need a code
        token_texts = np.append(token_texts, np.array([WILDCARD], dtype=object))
        star = np.array([len(token_texts) - 1])
    star_code = int(star[0])
    n_tokens = len(token_texts)
    strong_codes = np.array([t in STRONG_SEPARATORS and t != "" for t in token_texts], dtype=bool)

    is_word = position % 2 == 0
    word_owner = owner[is_word]
    word_level = position[is_word] // 2
    word_code = token_codes[is_word]
    # Separator before each word (-1 for the first word).
    sep_code = np.full(len(word_owner), -1, dtype=np.int64)
    sep_rows = np.flatnonzero(~is_word)
    sep_code[word_level > 0] = token_codes[sep_rows]  # seps and non-first words appear in the same order

    order = np.argsort(word_level, kind="stable")
    level_bounds = np.searchsorted(word_level[order], np.arange(word_level.max() + 2))
    suffix = _continuations(word_owner, sep_code, word_code, strong_codes, order, level_bounds)

    node = np.zeros(n, dtype=np.int64)
    node_parent = [-1]
    node_sep = [-1]
    node_label = [-1]
    n_nodes = 1
    stride_sep = n_tokens + 2
    for level in range(len(level_bounds) - 1):
        rows = order[level_bounds[level] : level_bounds[level + 1]]
        if len(rows) == 0:
            break
        t_idx = word_owner[rows]
        parent = node[t_idx]
        sep = sep_code[rows]
        word = word_code[rows]
        w = weights[t_idx]
        label = _decide(
            parent, sep, word, suffix[rows], w, level, star_code, strong_codes, stride_sep, thresholds
        )
        combined = (parent * stride_sep + (sep + 1)) * stride_sep + (label + 1)
        codes, uniques = pd.factorize(combined)
        new_parent = uniques // (stride_sep * stride_sep)
        rest = uniques % (stride_sep * stride_sep)
        node_parent.extend(new_parent.tolist())
        node_sep.extend((rest // stride_sep - 1).tolist())
        node_label.extend((rest % stride_sep - 1).tolist())
        node[t_idx] = codes + n_nodes
        n_nodes += len(uniques)

    texts: list[str | None] = [None] * n_nodes
    texts[0] = ""

    def text_of(i: int) -> str:
        chain = []
        while texts[i] is None:
            chain.append(i)
            i = node_parent[i]
        acc = texts[i]
        assert acc is not None
        for j in reversed(chain):
            s, lab = node_sep[j], node_label[j]
            acc = acc + (token_texts[s] if s >= 0 else "") + token_texts[lab]
            texts[j] = acc
        return acc

    final_nodes, inverse = np.unique(node, return_inverse=True)
    final_texts = np.array([fold_variable_segments(text_of(int(i))) for i in final_nodes], dtype=object)
    return final_texts[inverse]


_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)


def _mix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hash-combine two integer arrays (uint64, wrapping): equal inputs, equal outputs, at any level."""
    with np.errstate(over="ignore"):
        x = a.astype(np.uint64) * _M1 + b.astype(np.uint64)
        x ^= x >> np.uint64(31)
        x *= _M2
        x ^= x >> np.uint64(29)
    return x


def _continuations(
    owner: np.ndarray,
    sep_code: np.ndarray,
    word_code: np.ndarray,
    strong_codes: np.ndarray,
    order: np.ndarray,
    level_bounds: np.ndarray,
) -> np.ndarray:
    """Per word row, a hash of how its key continues after the word's strong segment.

    ``user:alice.lewis:posts:*`` and ``user:bob:posts:*`` both continue with ``:posts:*`` after the
    user: the rest of a segment (``.lewis``) is skipped so that multi-word values compare equal.
    Built from the deepest level up; 0 means the key ends with the segment.
    """
    n_rows = len(owner)
    rest = np.zeros(n_rows, dtype=np.uint64)  # exact rest after the word
    after_segment = np.zeros(n_rows, dtype=np.uint64)
    has_next = np.zeros(n_rows, dtype=bool)
    if n_rows > 1:
        has_next[:-1] = owner[1:] == owner[:-1]  # a template's words are consecutive rows
    for level in range(len(level_bounds) - 2, -1, -1):
        rows = order[level_bounds[level] : level_bounds[level + 1]]
        nxt = rows[has_next[rows]]
        if len(nxt) == 0:
            continue
        follow = nxt + 1
        rest[nxt] = _mix(_mix(sep_code[follow] + 2, word_code[follow] + 1), rest[follow]) | np.uint64(1)
        strong_next = strong_codes[np.maximum(sep_code[follow], 0)]
        after_segment[nxt] = np.where(strong_next, rest[nxt], after_segment[follow])
    return after_segment


def _decide(
    parent: np.ndarray,
    sep: np.ndarray,
    word: np.ndarray,
    suffix: np.ndarray,
    w: np.ndarray,
    level: int,
    star_code: int,
    strong_codes: np.ndarray,
    stride: int,
    t: Thresholds,
) -> np.ndarray:
    """Label code per row: the word's own code when literal, ``star_code`` when a value."""
    group_key = parent * stride + (sep + 1)
    group_codes, group_uniques = pd.factorize(group_key)
    group_keys = np.bincount(group_codes, weights=w).astype(np.int64)

    is_star = word == star_code
    literal = np.ones(len(word), dtype=bool)
    cand = np.flatnonzero(~is_star)
    if len(cand) == 0:
        return word
    pair_key = group_codes[cand] * stride + word[cand]
    pair_codes, pair_uniques = pd.factorize(pair_key)
    pair_keys = np.bincount(pair_codes, weights=w[cand]).astype(np.int64)
    pair_group = pair_uniques // stride
    distinct = np.bincount(pair_group, minlength=len(group_uniques))
    # Sharing: how many sibling words continue in the same way, on average (usernames all have
    # ``:profile`` and ``:posts:*``; namespaces each have their own continuations).
    n_groups = len(group_uniques)
    group_rest = pd.factorize(_mix(group_codes[cand], suffix[cand]))[0]
    first = np.unique(group_rest, return_index=True)[1]
    rests = np.bincount(group_codes[cand][first], minlength=n_groups)  # distinct continuations
    word_rest = pd.factorize(_mix(pair_codes, suffix[cand]))[0]
    first = np.unique(word_rest, return_index=True)[1]
    pairs = np.bincount(group_codes[cand][first], minlength=n_groups)  # distinct (word, continuation)
    sharing = pairs / np.maximum(rests, 1)
    is_root = np.full(n_groups, level == 0)
    shared = shared_groups(distinct, sharing, is_root, t)
    group_var = variable_groups(distinct, group_keys, is_root, t, shared)
    group_sep = group_uniques % stride - 1
    after_strong = (group_sep < 0) | strong_codes[np.maximum(group_sep, 0)]
    keep = literal_words(
        group_var[pair_group],
        pair_keys,
        group_keys[pair_group],
        after_strong[pair_group],
        shared[pair_group],
        t,
    )
    literal[cand] = keep[pair_codes]
    return np.where(literal, word, star_code)
