"""Separators and tokenization shared by every patterns module.

Keys are cut into alternating *words* and *separators*. Separators come in two strengths: strong ones
(``:`` ``/`` ``|`` ``#`` and the hash-tag braces) delimit the segments people think in, weak ones
(``.`` ``_`` ``-`` ``@``) also glue the pieces of a single value together (``2024-01-05``, ``10.0.0.1``,
``blue-running-shoes``). A keyspace that uses no strong separator at all (``metrics.cpu.host1``,
``session_ab12``) is structured by its weak ones instead, so the strength is decided per key.
"""

from __future__ import annotations

import re

STRONG_SEPARATORS = ":/|#{}"
WEAK_SEPARATORS = "._-@"
SEPARATORS = STRONG_SEPARATORS + WEAK_SEPARATORS

#: The variable-part placeholder in templates and patterns.
WILDCARD = "*"

# Character classes in RE2 / Python re syntax (both accept the same escapes here).
SEP_CLASS = "[" + re.escape(SEPARATORS) + "]"
NON_SEP_CLASS = "[^" + re.escape(SEPARATORS) + "]"
STRONG_CLASS = "[" + re.escape(STRONG_SEPARATORS) + "]"
WEAK_CLASS = "[" + re.escape(WEAK_SEPARATORS) + "]"

_STRONG_SPLIT = re.compile("(" + STRONG_CLASS + ")")
_WEAK_STAR_RUN = re.compile(re.escape(WILDCARD) + "(?:" + WEAK_CLASS + re.escape(WILDCARD) + ")+")
_HAS_WEAK = re.compile(WEAK_CLASS)
_STAR_RUN = re.compile(re.escape(WILDCARD) + "{2,}")


def has_strong_separator(text: str) -> bool:
    return _STRONG_SPLIT.search(text) is not None


def fold_variable_segments(template: str) -> str:
    """Merge the pieces of one variable value into a single wildcard.

    With strong separators present, a strong segment that is partly variable and also contains a weak
    separator is one value (``ORD-*-*``, ``*.*.*.*``, ``*-*-shoes``) and becomes ``*``; without them, only
    runs of wildcards joined by weak separators (``*-*-*``) fold, since the weak separators are then the
    structure (``user_*_profile`` must stay).
    """
    if WILDCARD not in template:
        return template
    template = _STAR_RUN.sub(WILDCARD, template)
    if not has_strong_separator(template):
        return _WEAK_STAR_RUN.sub(WILDCARD, template)
    parts = _STRONG_SPLIT.split(template)
    for i in range(0, len(parts), 2):
        part = parts[i]
        if WILDCARD in part and _HAS_WEAK.search(part):
            parts[i] = WILDCARD
    return "".join(parts)


def split_levels(pattern: str) -> list[str]:
    """Prefixes of a pattern at each structural level, for drill-down views.

    ``"user:*:profile"`` → ``["user", "user:*", "user:*:profile"]``. Splits on strong separators (and
    ``.``) outside hash-tag braces; a pattern without any of those splits on its weak separators.
    """
    cuts: list[int] = []
    depth = 0
    structural = ":/|#."
    if not any(c in pattern for c in structural):
        structural = "_-@"
    for i, c in enumerate(pattern):
        if c == "{":
            depth += 1
        elif c == "}":
            depth = max(0, depth - 1)
        elif depth == 0 and c in structural and i > 0:
            cuts.append(i)
    prefixes = [pattern[:i] for i in cuts if pattern[:i]]
    prefixes.append(pattern)
    # Drop duplicates created by consecutive separators while keeping order.
    seen: set[str] = set()
    return [p for p in prefixes if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]
