"""User-defined patterns (glob or regex) that take precedence over discovery, and renames.

Globs follow Redis ``KEYS``/``SCAN MATCH`` syntax (``*``, ``?``, ``[abc]``, ``[^a]``, ``\\x``) and name
their keys after themselves; regexes (``re:...`` strings or compiled ``re.Pattern``) may be named with a
mapping ``{regex_or_glob: name}``. The first rule that matches a key wins.

The families of known libraries (``insightkit.patterns.libraries``) are rules of the same kind, tried
after the user's: they carry an ``owner`` and a ``role``, and their names may be templates filled in
from each key's match (``{prefix}:{version}:django.contrib.sessions.cache*``). ``match_named`` runs
both kinds on any batch of keys (the in-memory path and the out-of-core ingest call it alike). Given the
keys' digit shapes (``insightkit.patterns.digits``), the rules that cannot tell digits apart — nearly
all — run once per shape instead of once per key; names are filled in from the keys themselves.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from insightkit.errors import ConfigurationError
from insightkit.patterns.digits import digit_blind

REGEX_PREFIX = "re:"


@dataclass(frozen=True)
class Rule:
    name: str  # a library family's may name groups of its regex: {prefix}:{version}:…
    regex: str  # anchored, RE2/Python compatible where possible
    source: str
    owner: str | None = None  # library rules: the library's name
    family: Any = None  # library rules: the insightkit.patterns.libraries.Family

    @property
    def role(self) -> str | None:
        return None if self.family is None else str(self.family.role)


@dataclass(frozen=True)
class CustomPatterns:
    """Ordered rules plus renames of discovered patterns (``{"user:*:profile": "profiles"}``), and
    the known libraries' families tried after the rules (None: the whole catalogue)."""

    rules: tuple[Rule, ...] = ()
    renames: Mapping[str, str] = field(default_factory=dict)
    library_rules: tuple[Rule, ...] | None = None

    @property
    def all_rules(self) -> tuple[Rule, ...]:
        """The user's rules, then the libraries' (most specific first)."""
        return self.rules + (self.library_rules if self.library_rules is not None else library_rules())


def library_rules(libraries: Any = None) -> tuple[Rule, ...]:
    """The families of ``libraries`` (default: the whole catalogue) as rules, most specific first."""
    from insightkit.patterns import libraries as catalogue

    chosen = catalogue.resolve(libraries)
    if chosen is catalogue.CATALOGUE:
        return _catalogue_rules()
    return _library_rules(chosen)


def _library_rules(libraries: Any) -> tuple[Rule, ...]:
    from insightkit.patterns import libraries as catalogue

    return tuple(
        Rule(
            name=family.pattern,
            regex=catalogue.family_regex(family),
            source=f"{library.name}: {family.pattern}",
            owner=library.name,
            family=family,
        )
        for library, family in catalogue.ordered_families(libraries)
    )


@functools.cache
def _catalogue_rules() -> tuple[Rule, ...]:
    from insightkit.patterns import libraries as catalogue

    return _library_rules(catalogue.CATALOGUE)


def glob_to_regex(glob: str) -> str:
    """Translate a Redis glob into an anchored regex (``*`` spans separators, as in Redis)."""
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if c == "\\" and i + 1 < n:
            out.append(re.escape(glob[i + 1]))
            i += 2
            continue
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            end = glob.find("]", i + 2 if glob[i + 1 : i + 2] in ("^", "]") else i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = glob[i + 1 : end]
                neg = body.startswith("^")
                if neg:
                    body = body[1:]
                escaped = "".join("\\" + ch if ch in "\\]^[" else ch for ch in body)
                out.append("[" + ("^" if neg else "") + escaped + "]")
                i = end + 1
                continue
        else:
            out.append(re.escape(c))
        i += 1
    return "(?s)^" + "".join(out) + "$"


def _rule(spec: str | re.Pattern[str], name: str | None) -> Rule:
    if isinstance(spec, re.Pattern):
        inline = "".join(
            f
            for flag, f in ((re.IGNORECASE, "i"), (re.DOTALL, "s"), (re.MULTILINE, "m"))
            if spec.flags & flag
        )
        regex = (f"(?{inline})" if inline else "") + spec.pattern
        label = name or REGEX_PREFIX + spec.pattern
    elif spec.startswith(REGEX_PREFIX):
        regex, label = spec[len(REGEX_PREFIX) :], name or spec
    else:
        regex, label = glob_to_regex(spec), name or spec
    try:
        re.compile(regex)
    except re.error as exc:
        raise ConfigurationError(f"custom pattern {spec!r} is not a valid regex: {exc}") from exc
    return Rule(name=label, regex=regex, source=str(spec))


CustomSpec = (
    CustomPatterns
    | str
    | re.Pattern[str]
    | Mapping[str | re.Pattern[str], str]
    | Iterable[str | re.Pattern[str] | tuple[str | re.Pattern[str], str]]
)


def parse_custom(
    custom: CustomSpec | None, renames: Mapping[str, str] | None = None, libraries: Any = None
) -> CustomPatterns:
    """Normalise every accepted form of ``custom`` into ``CustomPatterns``.

    ``libraries``: which known libraries' families to try after the rules — None keeps what a
    ``CustomPatterns`` says (else the whole catalogue), ``False`` none, or names / ``Library`` entries.
    """
    if isinstance(custom, CustomPatterns):
        base = custom
    elif custom is None:
        base = CustomPatterns()
    elif isinstance(custom, str | re.Pattern):
        base = CustomPatterns(rules=(_rule(custom, None),))
    elif isinstance(custom, Mapping):
        base = CustomPatterns(rules=tuple(_rule(k, v) for k, v in custom.items()))
    else:
        rules = []
        for item in custom:
            if isinstance(item, tuple):
                rules.append(_rule(item[0], item[1]))
            elif isinstance(item, str | re.Pattern):
                rules.append(_rule(item, None))
            else:
                raise ConfigurationError(f"custom pattern must be a glob, regex or (pattern, name): {item!r}")
        base = CustomPatterns(rules=tuple(rules))
    if renames:
        base = CustomPatterns(base.rules, {**base.renames, **renames}, base.library_rules)
    if libraries is not None:
        base = CustomPatterns(base.rules, base.renames, library_rules(libraries))
    return base


def match_rules(keys: pa.ChunkedArray | pa.Array, rules: tuple[Rule, ...]) -> np.ndarray:
    """Index of the first matching rule per key, -1 when none matches (RE2, Python ``re`` fallback)."""
    result = np.full(len(keys), -1, dtype=np.int32)
    for idx, rule in enumerate(rules):
        todo = result < 0
        if not todo.any():
            break
        try:
            hit = pc.match_substring_regex(keys, pattern=rule.regex)
            hits = np.asarray(pc.fill_null(hit, False).to_numpy(zero_copy_only=False), dtype=bool)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a Python-only construct
            compiled = re.compile(rule.regex)
            hits = np.zeros(len(keys), dtype=bool)
            positions = np.flatnonzero(todo)
            values = keys.take(pa.array(positions)).to_pylist()
            hits[positions] = [v is not None and compiled.search(v) is not None for v in values]
        result[todo & hits] = idx
    return result


@dataclass
class Matched:
    """What the rules made of a batch of keys.

    ``codes``: per key, an index into ``names`` (-1: no rule matched, discovery names it);
    ``names``: the distinct pattern names the rules gave; ``rules``: the rule behind each name;
    ``links``: per library rule with a ``link_group``, the values it captured.
    """

    codes: np.ndarray
    names: list[str]
    rules: list[Rule]
    links: dict[Rule, set[str]]


_GROUP_NAME = re.compile(r"\(\?P<(\w+)>")


def match_named(
    keys: pa.ChunkedArray | pa.Array, rules: tuple[Rule, ...], shapes: Shapes | None = None
) -> Matched:
    """Every rule over ``keys``: which one each key takes first (``first_match``), and the names
    they give (``name_matches``)."""
    return name_matches(keys, rules, first_match(keys, rules, shapes))


#: The digit shapes of a batch of keys (``insightkit.patterns.digits``): the distinct shapes, and per
#: key the index of its own.
Shapes = tuple[pa.Array, np.ndarray]


def first_match(
    keys: pa.ChunkedArray | pa.Array, rules: tuple[Rule, ...], shapes: Shapes | None = None
) -> np.ndarray:
    """Per key, the index of the first rule that matches it (-1: none), the user's rules before the
    libraries' (``user_first``), the user's one by one (``match_rules``), the libraries' as one RE2
    alternation over the keys the user's left (a key takes the first rule that matches).

    With ``shapes``, the ``digit_blind`` rules run once per distinct shape instead of once per key
    (the answer for a key is its shape's); the others run key by key, only on the keys no earlier
    blind rule took.
    """
    ordered = user_first(rules)
    every = np.arange(len(ordered))
    library = tuple(r for r in ordered if r.owner is not None)
    if shapes is None or (library and not _runs_in_re2(_combined(library))):
        return _first_of(_joined(keys), ordered, every)
    units, unit_of_key = shapes
    blind = np.array([digit_blind(r.regex) for r in ordered], dtype=bool)
    first = np.full(len(keys), -1, dtype=np.int32)
    if blind.any():
        first = _first_of(units, ordered, every[blind])[unit_of_key]
    if not blind.all():
        lowest = int(every[~blind][0])
        open_ = np.flatnonzero((first < 0) | (first > lowest))
        some = keys if len(open_) == len(keys) else keys.take(pa.array(open_))
        found = _first_of(_joined(some), ordered, every[~blind])
        better = (found >= 0) & ((first[open_] < 0) | (found < first[open_]))
        first[open_[better]] = found[better]
    if keys.null_count:  # no rule matches a missing key (its shape is the empty string's)
        first[np.asarray(keys.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = -1
    return first


def _joined(keys: pa.ChunkedArray | pa.Array) -> pa.Array:
    return keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys


def user_first(rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    """The user's rules, then the libraries': the order in which a key tries them."""
    return tuple(r for r in rules if r.owner is None) + tuple(r for r in rules if r.owner is not None)


def _first_of(keys: pa.Array, ordered: tuple[Rule, ...], chosen: np.ndarray) -> np.ndarray:
    """``first_match`` of the rules ``ordered[chosen]`` (user rules first), as indices into ``ordered``."""
    first = np.full(len(keys), -1, dtype=np.int32)
    user_at = np.array([i for i in chosen.tolist() if ordered[i].owner is None], dtype=np.int32)
    library_at = np.array([i for i in chosen.tolist() if ordered[i].owner is not None], dtype=np.int32)
    if len(user_at):
        found = match_rules(keys, tuple(ordered[i] for i in user_at.tolist()))
        first[found >= 0] = user_at[found[found >= 0]]
    if len(library_at) and len(keys):
        todo = np.flatnonzero(first < 0)
        subset = keys if len(todo) == len(keys) else keys.take(pa.array(todo))
        rule_at = _library_first(subset, tuple(ordered[i] for i in library_at.tolist()))
        took = rule_at >= 0
        first[todo[took]] = library_at[rule_at[took]]
    return first


def name_matches(keys: pa.ChunkedArray | pa.Array, rules: tuple[Rule, ...], first: np.ndarray) -> Matched:
    """What ``first_match`` (``first``) means: the user's rules are named after themselves, each
    library's name filled in from its keys' groups (extracted only from the keys it took)."""
    ordered = user_first(rules)
    user = tuple(r for r in ordered if r.owner is None)
    library = ordered[len(user) :]
    codes = np.where(first < len(user), first, -1).astype(np.int32)
    names: list[str] = [r.name for r in user]
    named_rules: list[Rule] = list(user)
    links: dict[Rule, set[str]] = {}
    hits = np.flatnonzero(first >= len(user))
    if not len(hits):
        return Matched(codes, names, named_rules, links)
    by_rule = hits[np.argsort(first[hits], kind="stable")]  # key order within each rule
    rule_of = first[by_rule] - len(user)
    bounds = np.flatnonzero(np.diff(rule_of)) + 1
    for at in np.split(by_rule, bounds):
        i = int(first[at[0]]) - len(user)
        rule = library[i]
        family = rule.family
        groups = _groups(keys, library, i, at) if family.groups or family.link_group is not None else {}
        if family.groups:
            parts = _name_parts(rule.name, groups, len(at))
            per_key = (
                pc.binary_join_element_wise(*parts, pa.scalar("", pa.large_string()))
                if len(parts) > 1
                else parts[0]
            )
            encoded = pc.dictionary_encode(per_key)
            local = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
            offset = len(names)
            names += [str(n) for n in encoded.dictionary.to_pylist()]
            named_rules += [rule] * len(encoded.dictionary)
            codes[at] = offset + local
        else:
            codes[at] = len(names)
            names.append(rule.name)
            named_rules.append(rule)
        if family.link_group is not None:
            values = groups[family.link_group]
            links.setdefault(rule, set()).update(v for v in pc.unique(values).to_pylist() if v)
    return Matched(codes, names, named_rules, links)


def _groups(
    keys: pa.ChunkedArray | pa.Array, library: tuple[Rule, ...], i: int, at: np.ndarray
) -> dict[str, pa.Array]:
    """The named groups of library rule ``i`` in the keys ``at`` (which it matched): RE2 on its own
    regex, or Python's ``re`` when RE2 cannot run the libraries' alternation (as ``first_match`` then
    did)."""
    taken = keys.take(pa.array(at))
    values = _joined(taken)
    names = list(re.compile(library[i].regex).groupindex)
    if _runs_in_re2(_combined(library)):
        extracted = pc.extract_regex(values, pattern=library[i].regex)
        return {name: extracted.field(name) for name in names}
    compiled = re.compile(_alternative(library[i], i))
    columns: dict[str, list[str]] = {name: [] for name in names}
    for value in values.to_pylist():
        m = compiled.search(value)
        for name in names:
            columns[name].append((m.group(f"r{i}_{name}") if m is not None else None) or "")
    return {name: pa.array(column, pa.string()) for name, column in columns.items()}


@functools.lru_cache(maxsize=64)
def _runs_in_re2(regex: str) -> bool:
    try:
        pc.match_substring_regex(pa.array([""], pa.string()), pattern=regex)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def _name_parts(template: str, groups: Mapping[str, pa.Array], n: int) -> list[pa.Array]:
    """A name template's literal pieces (as constant arrays) and group values, for ``n`` keys."""
    parts: list[pa.Array] = []
    for piece in re.split(r"(\{\w+\})", template):
        if not piece:
            continue
        if piece.startswith("{") and piece.endswith("}"):
            parts.append(groups[piece[1:-1]].cast(pa.large_string()))
        else:
            parts.append(pa.array([piece] * n, pa.large_string()))
    return parts


def _alternative(rule: Rule, i: int) -> str:
    body = rule.regex
    flags = ""
    if body.startswith("(?s)"):
        body, flags = body[4:], "s"
    body = _GROUP_NAME.sub(lambda m: f"(?P<r{i}_{m.group(1)}>", body)
    return f"(?P<r{i}>(?{flags}:{body}))" if flags else f"(?P<r{i}>{body})"


@functools.lru_cache(maxsize=16)
def _combined(rules: tuple[Rule, ...]) -> str:
    return "|".join(_alternative(rule, i) for i, rule in enumerate(rules))


def _literal_prefix(regex: str) -> str:
    """The text every match of an anchored regex starts with ("" when it fixes none)."""
    body = regex[4:] if regex.startswith("(?s)") else regex
    if not body.startswith("^"):
        return ""
    out, i = [], 1
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body) and not body[i + 1].isalnum():
            nxt = body[i + 2 : i + 3]
            if nxt in ("*", "+", "?", "{"):
                break
            out.append(body[i + 1])
            i += 2
        elif c.isalnum() or c in ":_-/@!#%&=~,;<>'\" ":
            nxt = body[i + 1 : i + 2]
            if nxt in ("*", "+", "?", "{"):  # the character is optional or repeated
                break
            out.append(c)
            i += 1
        else:
            break
    return "".join(out)


def _required_literal(regex: str) -> str:
    """The longest run of literal text every match must contain (outside groups, classes and
    quantified characters): a cheap substring test before the regex runs. "" when there is none."""
    body = regex[4:] if regex.startswith("(?s)") else regex
    runs, run, depth, i = [], [], 0, 0
    while i < len(body):
        c = body[i]
        literal = None
        if c == "\\" and i + 1 < len(body):
            literal = body[i + 1] if not body[i + 1].isalnum() else None
            width = 2
        elif c == "[" and depth == 0:
            end = body.find("]", i + 2)
            width = (end - i + 1) if end > 0 else 1
        elif c == "{":  # a repetition count: not text
            end = body.find("}", i)
            width = (end - i + 1) if end > 0 else 1
        else:
            width = 1
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            elif c not in "^$.*+?{}|" and depth == 0:
                literal = c
        if c == "|" and depth == 0:
            return ""  # an alternation: nothing is required of every match
        quantified = body[i + width : i + width + 1] in ("*", "+", "?", "{")
        if literal is not None and depth == 0 and not quantified:
            run.append(literal)
        else:
            runs.append("".join(run))
            run = []
        i += width
    runs.append("".join(run))
    return max(runs, key=len)


def _first_literal(regex: str) -> str | None:
    """The character every match of an anchored regex starts with, when the regex fixes one."""
    return _literal_prefix(regex)[:1] or None


def _library_first(keys: pa.Array, rules: tuple[Rule, ...]) -> np.ndarray:
    """Per key, the index of the first library rule that matches it (-1: none).

    One RE2 pass with every rule as an alternative finds the keys any rule takes (usually few); those
    are bucketed by their first character, and each rule runs, in order, only on the bucket it can
    start with and only on keys no earlier rule took.
    """
    rule_at = np.full(len(keys), -1, dtype=np.int32)
    try:
        hit = pc.fill_null(pc.match_substring_regex(keys, pattern=_combined(rules)), False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _library_first_python(keys, rules)
    hits = np.flatnonzero(np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool))
    if not len(hits):
        return rule_at
    matched = keys.take(pa.array(hits))
    first = pc.utf8_slice_codeunits(matched, 0, 1).dictionary_encode()
    first_codes = first.indices.to_numpy(zero_copy_only=False)
    letters = first.dictionary.to_pylist()
    buckets: dict[str, np.ndarray] = {c: np.flatnonzero(first_codes == i) for i, c in enumerate(letters)}
    every = np.arange(len(hits))
    found = np.full(len(hits), -1, dtype=np.int32)
    # (positions among the hits, their keys) per first character, then per literal prefix
    letters_of: dict[str, tuple[np.ndarray, pa.Array]] = {}
    subsets: dict[str, tuple[np.ndarray, pa.Array]] = {}
    unprefixed = tuple(rule for rule in rules if not _literal_prefix(rule.regex))
    if unprefixed:  # rules that may start anywhere: one pass finds the keys any of them could take
        could = pc.fill_null(pc.match_substring_regex(matched, pattern=_combined(unprefixed)), False)
        could_np = np.asarray(could.to_numpy(zero_copy_only=False), dtype=bool)
        subsets[""] = (every[could_np], matched.filter(could)) if not could_np.all() else (every, matched)
    for i, rule in enumerate(rules):
        prefix = _literal_prefix(rule.regex)
        if prefix and prefix not in subsets:
            letter = prefix[0]
            if letter not in letters_of:
                at = buckets.get(letter, every[:0])
                letters_of[letter] = (at, matched.take(pa.array(at)) if len(at) != len(every) else matched)
            positions, keys_of = letters_of[letter]
            if len(prefix) > 1 and len(positions):
                starts = np.asarray(
                    pc.starts_with(keys_of, prefix).to_numpy(zero_copy_only=False), dtype=bool
                )
                if not starts.all():
                    positions, keys_of = positions[starts], keys_of.filter(pa.array(starts))
            subsets[prefix] = (positions, keys_of)
        positions, keys_of = subsets.get(prefix, (every[:0], matched))
        if not len(positions):
            continue
        open_ = found[positions] < 0
        if not open_.any():
            continue
        if rule.regex == glob_to_regex(prefix + "*"):  # every key with the prefix: no regex to run
            took_np = open_
        else:
            took_np = _regex_mask(keys_of, rule.regex, len(prefix)) & open_
        found[positions[took_np]] = i
    rule_at[hits] = found
    return rule_at


def _regex_mask(keys: pa.Array, regex: str, prefix_chars: int) -> np.ndarray:
    """Which of ``keys`` match ``regex``, the regex run only where its required text occurs."""
    required = _required_literal(regex)
    if len(required) > max(prefix_chars, 3):
        candidates = np.asarray(pc.match_substring(keys, required).to_numpy(zero_copy_only=False), dtype=bool)
        mask = np.zeros(len(keys), dtype=bool)
        at = np.flatnonzero(candidates)
        if len(at):
            sub = keys.filter(pa.array(candidates))
            took = pc.fill_null(pc.match_substring_regex(sub, pattern=regex), False)
            mask[at] = np.asarray(took.to_numpy(zero_copy_only=False), dtype=bool)
        return mask
    took = pc.fill_null(pc.match_substring_regex(keys, pattern=regex), False)
    return np.asarray(took.to_numpy(zero_copy_only=False), dtype=bool)


def _library_first_python(keys: pa.Array, rules: tuple[Rule, ...]) -> np.ndarray:
    """The same with Python's ``re`` (a catalogue regex RE2 cannot run: slow, but right)."""
    compiled = [re.compile(_alternative(rule, i)) for i, rule in enumerate(rules)]
    values = keys.to_pylist()
    rule_at = np.full(len(values), -1, dtype=np.int32)
    for k, value in enumerate(values):
        if value is None:
            continue
        for i, regex in enumerate(compiled):
            if regex.search(value) is not None:
                rule_at[k] = i
                break
    return rule_at
