"""User-defined patterns (glob or regex) that take precedence over discovery, and renames.

Globs follow Redis ``KEYS``/``SCAN MATCH`` syntax (``*``, ``?``, ``[abc]``, ``[^a]``, ``\\x``) and name
their keys after themselves; regexes (``re:...`` strings or compiled ``re.Pattern``) may be named with a
mapping ``{regex_or_glob: name}``. The first rule that matches a key wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from insightkit.errors import ConfigurationError

REGEX_PREFIX = "re:"


@dataclass(frozen=True)
class Rule:
    name: str
    regex: str  # anchored, RE2/Python compatible where possible
    source: str


@dataclass(frozen=True)
class CustomPatterns:
    """Ordered rules plus renames of discovered patterns (``{"user:*:profile": "profiles"}``)."""

    rules: tuple[Rule, ...] = ()
    renames: Mapping[str, str] = field(default_factory=dict)


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


def parse_custom(custom: CustomSpec | None, renames: Mapping[str, str] | None = None) -> CustomPatterns:
    """Normalise every accepted form of ``custom`` into ``CustomPatterns``."""
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
        base = CustomPatterns(rules=base.rules, renames={**base.renames, **renames})
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
