"""Key-name redaction that keeps the shape of a keyspace and hides its data.

``user:1234:session`` becomes ``user:3f9a0c1b7e22:session``: literal parts (namespaces, suffixes) and
separators survive so memory by pattern still reads the same, while every variable part (ids, emails,
tokens) is replaced by a keyed hash (HMAC-SHA256, truncated). The same part always maps to the same
hash under one secret, so counts of distinct users and joins between snapshots redacted with the same
secret still work; without the secret nobody can test a guess.

Which parts are literal comes from the key's pattern when pattern discovery has run (the ``pattern``
column: ``*`` marks a variable span). Without a pattern, ``fit()`` learns literal tokens from the whole
key column by frequency and cardinality; a streaming writer that never saw the column hashes every
token. Mistakes err on the side of hashing: a token with a digit is always treated as data.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import pyarrow as pa

SEPARATORS = ":/|.#-_=,;@ {}[]()<>'\"\t"
_TOKEN = re.compile("([" + re.escape(SEPARATORS) + "]+)")
HASH_HEX_CHARS = 12  # 48 bits: collisions are negligible below tens of millions of distinct parts


def tokenize(key: str) -> list[str]:
    """``"a:b/c"`` → ``["a", ":", "b", "/", "c"]``: even indexes are tokens, odd are separators."""
    return _TOKEN.split(key)


def _is_separator(part: str) -> bool:
    return bool(part) and all(ch in SEPARATORS for ch in part)


@lru_cache(maxsize=4096)
def _pattern_regex(pattern: str) -> re.Pattern[str] | None:
    if "*" not in pattern:
        return None
    literal_parts = pattern.split("*")
    body = "(.+?)".join(re.escape(p) for p in literal_parts)
    return re.compile(body + r"\Z", re.DOTALL)


class Redactor:
    """Replaces variable parts of key names with keyed hashes.

    ``secret``: bytes or text; a random one when None (hashes then cannot be linked across files).
    Keep the same secret to compare redacted snapshots over time.
    """

    method = "hmac-sha256"

    def __init__(
        self,
        secret: bytes | str | None = None,
        *,
        max_literals_per_position: int = 16,
        min_literal_keys: int = 2,
    ) -> None:
        self.key_supplied = secret is not None
        if secret is None:
            secret = secrets.token_bytes(32)
        self._secret = secret.encode() if isinstance(secret, str) else bytes(secret)
        self.max_literals_per_position = max_literals_per_position
        self.min_literal_keys = min_literal_keys
        self._literals: set[tuple[str, int, int, str]] = set()
        self._cache: dict[str, str] = {}

    # --- learning literal tokens --------------------------------------------------------------

    @staticmethod
    def _position(tokens: list[str], index: int) -> tuple[str, int, int]:
        """A token's position class: (namespace, depth, token count)."""
        return (tokens[0] if index else "", index, len(tokens))

    def fit(self, keys: Iterable[str]) -> Redactor:
        """Learn which tokens are literal: shared by several keys, few distinct values, no digits."""
        counts: dict[tuple[str, int, int], Counter[str]] = defaultdict(Counter)
        for key in keys:
            tokens = tokenize(key)
            for i in range(0, len(tokens), 2):
                counts[self._position(tokens, i)][tokens[i]] += 1
        literals = set()
        for position, counter in counts.items():
            if len(counter) > self.max_literals_per_position:
                continue
            for token, n in counter.items():
                if n >= self.min_literal_keys and token and not any(ch.isdigit() for ch in token):
                    literals.add((*position, token))
        # A later token only counts as literal under a literal namespace.
        namespaces = {t for (ns, depth, _, t) in literals if depth == 0}
        self._literals = {lit for lit in literals if lit[1] == 0 or lit[0] in namespaces}
        return self

    # --- hashing ------------------------------------------------------------------------------

    def hash_part(self, text: str) -> str:
        """The keyed hash of one variable part (hex, fixed width)."""
        cached = self._cache.get(text)
        if cached is None:
            digest = hmac.new(self._secret, text.encode("utf-8", "surrogatepass"), hashlib.sha256)
            cached = digest.hexdigest()[:HASH_HEX_CHARS]
            if len(self._cache) < 1_000_000:
                self._cache[text] = cached
        return cached

    def _hash_span(self, span: str) -> str:
        """Hash every token of a variable span, keeping its separators."""
        return "".join(
            part if (i % 2 or not part) else self.hash_part(part) for i, part in enumerate(tokenize(span))
        )

    def redact_key(self, key: str, pattern: str | None = None) -> str:
        """``key`` with its variable parts hashed; ``pattern`` (``*`` = variable) guides when given."""
        if pattern:
            regex = _pattern_regex(pattern)
            if regex is None and pattern == key:  # a fully literal pattern: the key is its own family
                return self._redact_literal_span(key)
            match = regex.match(key) if regex is not None else None
            if match is not None:
                out, last = [], 0
                for group in range(1, match.re.groups + 1):
                    start, end = match.span(group)
                    out.append(self._redact_literal_span(key[last:start]))
                    out.append(self._hash_span(key[start:end]))
                    last = end
                out.append(self._redact_literal_span(key[last:]))
                return "".join(out)
        tokens = tokenize(key)
        return "".join(
            part
            if (i % 2 or not part or (*self._position(tokens, i), part) in self._literals)
            else self.hash_part(part)
            for i, part in enumerate(tokens)
        )

    def _redact_literal_span(self, span: str) -> str:
        """A span the pattern calls literal; digits inside it are still treated as data."""
        if not any(ch.isdigit() for ch in span):
            return span
        return "".join(
            part if (i % 2 or not part or not any(c.isdigit() for c in part)) else self.hash_part(part)
            for i, part in enumerate(tokenize(span))
        )

    def redact_pattern(self, pattern: str) -> str:
        """A pattern redacted as its keys are: ``*`` stays, digits in literal parts are hashed."""
        return "*".join(self._redact_literal_span(part) for part in pattern.split("*"))

    def redact_patterns(self, patterns: pa.Array | pa.ChunkedArray) -> pa.Array:
        """``redact_pattern`` over a column, computed once per distinct pattern."""
        values = patterns.to_pylist()
        mapping = {p: self.redact_pattern(p) for p in set(values) if p is not None}
        return pa.array([None if p is None else mapping[p] for p in values], pa.string())

    def redact_array(self, keys: pa.Array | pa.ChunkedArray, patterns: Any = None) -> pa.Array:
        """A string array of redacted keys, aligned with ``keys`` (``patterns`` optional, aligned)."""
        key_list = keys.to_pylist()
        pattern_list = patterns.to_pylist() if patterns is not None else [None] * len(key_list)
        return pa.array(
            [self.redact_key(k, p) for k, p in zip(key_list, pattern_list, strict=True)], pa.string()
        )

    def describe(self) -> dict[str, Any]:
        """What goes in the RSNAP metadata (never the secret)."""
        return {"method": self.method, "parts": "variable", "key_supplied": self.key_supplied}


def make_redactor(redact: object) -> Redactor | None:
    """Interpret the public ``redact=`` option: None/False, True (random secret), a secret, a Redactor."""
    if redact is None or redact is False:
        return None
    if isinstance(redact, Redactor):
        return redact
    if redact is True:
        return Redactor()
    if isinstance(redact, bytes | bytearray | str):
        if not redact:
            from insightkit.errors import ConfigurationError

            raise ConfigurationError("redact= secret must not be empty")
        return Redactor(bytes(redact) if not isinstance(redact, str) else redact)
    from insightkit.errors import ConfigurationError

    raise ConfigurationError(
        f"redact= takes True, a secret (str/bytes) or a Redactor, not {type(redact).__name__}"
    )
