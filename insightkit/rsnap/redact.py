"""Key-name redaction that keeps the structure of a keyspace and leaks none of its names.

``user:1234:session`` becomes ``user:8302917465520193:session``. Every part of a key name is replaced by
a keyed hash (HMAC-SHA256 under a secret) unless it is *skeleton*: a literal word of a discovered
family that many keys share. Separators always stay. Nobody without the secret can test a guess, and
the same part maps to the same hash under one secret, so distinct counts and joins between snapshots
redacted with the same secret still work.

**What survives (the skeleton rule).** A word survives verbatim only when it is a literal of a discovered
pattern with at least one ``*`` that covers at least ``min_family_keys`` keys (default 10) whose variable
parts take at least ``min_family_values`` distinct values (default 10): ``user`` and ``session`` of
``user:*:session`` over 500 users. A lone key (``secretproject-falcon``), a name shared by two or three
keys (``tenant:acme:cfg``), a singleton pattern without ``*`` and a custom pattern name that does not
match its keys never qualify; neither do digits, which are always data. The words of the families of a
known library present in the snapshot (``rq:job:*``, ``celery-task-meta-*``) are public and survive
too. A survivor is kept wherever it stands as a word, so a value that equals a skeleton word (a user
called ``session``) shows as that word.

**Hashes keep each part's shape**, so pattern discovery on a redacted snapshot finds the same families,
with the same keys, as on the original. Discovery reads values off their shape (``shapes.py``: digits,
hex, UUIDs, e-mails) and judges the remaining words by how many siblings they have; renaming words
consistently changes neither. So a value is rendered as something ``shapes.py`` always reads as a value
(a number stays a number: 16 digits, as does a value glued to a word, ``tenant42``; a UUID stays
UUID-shaped; letters of random-looking case stay 12 such letters; anything else becomes a digit and 15
hex digits), and a word becomes 12 lowercase letters, which it always reads as a word. A value holding a strong separator (a URL, a timestamp with colons) is
one hash; inside other values (e-mails, dotted IPs) the separators stay. Only lengths change, which
matters to two shapes alone: parts joined by ``/`` or ``+`` before ``=`` (``a/b=c``, ``7/42=x``) may read
as base64 once hashed, and around ``@`` a one-letter top-level domain (``a@b.c``) as an e-mail.

Keys of a pattern a known library owns are cut along that pattern, so the library's own rules (a version
number, a UUID, a prefix glued to a session id) still match the redacted names. A library family's
``version`` (Django's cache VERSION, ``:2:product:7``) stays verbatim in its keys and pattern when it is
a setting, not data: its pattern covers at least ``min_family_keys`` keys and the library has at most
``MAX_LIBRARY_VERSIONS`` versions in the snapshot (an id in a key that merely looks like a version,
``:48213:cart``, is hashed). It is the one thing ``stale-cache-version`` compares: hashed, two versions
would be ordered at random and the advice would name the live version as the stale one.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping
from functools import cache, lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SEPARATORS = ":/|.#-_=,;@ {}[]()<>'\"\t"
_TOKEN = re.compile("([" + re.escape(SEPARATORS) + "]+)")
#: A hashed value that is not a number: a digit, then 15 hex digits (63 bits).
ID_CHARS = 16
#: A hashed number, or a value glued to a word: decimal digits (53 bits).
NUMBER_DIGITS = 16
#: A hashed word: lowercase letters (56 bits).
WORD_CHARS = 12
#: At most this many distinct versions of one library are kept verbatim (more look like data).
MAX_LIBRARY_VERSIONS = 8
#: The skeleton rule's defaults (see the module docstring).
MIN_FAMILY_KEYS = 10
MIN_FAMILY_VALUES = 10
_CACHE_LIMIT = 1_000_000
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def tokenize(key: str) -> list[str]:
    """``"a:b/c"`` → ``["a", ":", "b", "/", "c"]``: even indexes are tokens, odd are separators."""
    return _TOKEN.split(key)


@lru_cache(maxsize=1)
def _shapes() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], str, str]:
    """Discovery's own value regexes (imported late: ``insightkit.rsnap`` must not load discovery)."""
    from insightkit.patterns.shapes import BINARY_RUN, TEMPLATE_REGEX, UUID
    from insightkit.patterns.tokens import SEPARATORS as PATTERN_SEPARATORS
    from insightkit.patterns.tokens import STRONG_SEPARATORS

    return (
        re.compile(TEMPLATE_REGEX),
        re.compile(BINARY_RUN),
        re.compile(UUID),
        PATTERN_SEPARATORS,
        STRONG_SEPARATORS,
    )


#: A part of a key name (between separators) longer than this is one value, hashed whole: no word
#: that long is a skeleton word, and discovery's value regexes, run by Python's ``re`` here, take time
#: growing as the square of a part's length (a 600,000-character name took minutes).
LONG_PART = 256


def _long_run(text: str) -> tuple[int, int] | None:
    """The first run of ``text`` without a separator longer than ``LONG_PART``, or None."""
    if len(text) <= LONG_PART:
        return None
    separators = _shapes()[3]
    start = 0
    for at, char in enumerate(text):
        if char in separators:
            if at - start > LONG_PART:
                return start, at
            start = at + 1
    return (start, len(text)) if len(text) - start > LONG_PART else None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Around each value in ``redact_array``'s RE2 pass: control bytes, which such keys never hold.
_OPEN, _CLOSE = "\x1e", "\x1f"
_MARKS = re.compile("[" + _OPEN + _CLOSE + "]")


@lru_cache(maxsize=4096)
def _pattern_regex(pattern: str) -> re.Pattern[str] | None:
    if "*" not in pattern:
        return None
    body = "(.+?)".join(re.escape(p) for p in pattern.split("*"))
    return re.compile(body + r"\Z", re.DOTALL)


def _words(text: str) -> set[str]:
    """The parts of ``text`` that discovery reads as words (not values), separators left out."""
    template, _, _, _, _ = _shapes()
    found: set[str] = set()
    pos = 0
    for match in [*template.finditer(text), None]:
        end = len(text) if match is None else match.start()
        found.update(part for part in tokenize(text[pos:end])[::2] if part)
        if match is not None:
            pos = match.end()
    return found


class _Families:
    """Per pattern: keys, distinct keys (counted up to the threshold) and one key, over batches."""

    def __init__(self, min_values: int) -> None:
        self.min_values = min_values
        self.keys: dict[str, int] = defaultdict(int)
        self.sample: dict[str, str] = {}
        self.distinct: dict[str, int] = defaultdict(int)
        self._seen: dict[str, set[str]] = defaultdict(set)

    def add(self, keys: pa.Array | pa.ChunkedArray, patterns: pa.Array | pa.ChunkedArray) -> None:
        if len(keys) != len(patterns):
            from insightkit.errors import ConfigurationError

            raise ConfigurationError(f"{len(keys)} keys but {len(patterns)} patterns: they must align")
        table = pa.table({"key": keys.cast(pa.string()), "pattern": patterns.cast(pa.string())})
        table = table.filter(pc.is_valid(table.column("pattern")))
        if not table.num_rows:
            return
        grouped = table.group_by("pattern").aggregate(
            [("key", "count"), ("key", "count_distinct"), ("key", "min")]
        )
        few: list[str] = []
        for pattern, n, distinct, first in zip(
            grouped.column("pattern").to_pylist(),
            grouped.column("key_count").to_pylist(),
            grouped.column("key_count_distinct").to_pylist(),
            grouped.column("key_min").to_pylist(),
            strict=True,
        ):
            self.keys[pattern] += n
            self.sample.setdefault(pattern, first)
            if self.distinct[pattern] >= self.min_values:
                continue
            if distinct >= self.min_values:
                self.distinct[pattern] = distinct
            else:
                few.append(pattern)
        if not few:
            return
        # Patterns with few distinct keys in this batch: their keys are few too, so collect them.
        small = table.filter(pc.is_in(table.column("pattern"), value_set=pa.array(few, pa.string())))
        for key, pattern in zip(
            small.column("key").to_pylist(), small.column("pattern").to_pylist(), strict=True
        ):
            seen = self._seen[pattern]
            if len(seen) < self.min_values:
                seen.add(key)
                self.distinct[pattern] = max(self.distinct[pattern], len(seen))


class Redactor:
    """Replaces every part of key names that is not skeleton with a shape-keeping keyed hash.

    ``secret``: bytes or text; a random one when None (hashes then cannot be linked across files).
    Keep the same secret to compare redacted snapshots over time. ``fit()`` learns the skeleton from
    the key and pattern columns; an unfitted Redactor keeps no word at all.
    """

    method = "hmac-sha256"

    def __init__(
        self,
        secret: bytes | str | None = None,
        *,
        min_family_keys: int = MIN_FAMILY_KEYS,
        min_family_values: int = MIN_FAMILY_VALUES,
    ) -> None:
        self.key_supplied = secret is not None
        if secret is None:
            secret = secrets.token_bytes(32)
        self._secret = secret.encode() if isinstance(secret, str) else bytes(secret)
        if min_family_keys < 1 or min_family_values < 1:
            from insightkit.errors import ConfigurationError

            raise ConfigurationError("min_family_keys and min_family_values must be at least 1")
        self.min_family_keys = int(min_family_keys)
        self.min_family_values = int(min_family_values)
        self.fitted = False
        self.skeleton: frozenset[str] = frozenset()
        self._owned: frozenset[str] = frozenset()
        self._owners: dict[str, str] = {}  # library-owned pattern → its library
        self._versions: frozenset[tuple[str, str]] = frozenset()  # (library, version) kept verbatim
        self._cache: dict[tuple[bytes, str], str] = {}
        self._plain_cache: dict[tuple[str, bool], str] = {}

    # --- learning the skeleton ----------------------------------------------------------------

    def fit(
        self,
        keys: Any,
        patterns: Any = None,
        library_patterns: Mapping[str, Any] | None = None,
    ) -> Redactor:
        """Learn the skeleton from aligned ``keys`` and ``patterns`` (arrays, Series or lists)."""
        if patterns is None:
            return self.fit_batches([], library_patterns)
        return self.fit_batches([(keys, patterns)], library_patterns)

    def fit_batches(
        self, batches: Iterable[tuple[Any, Any]], library_patterns: Mapping[str, Any] | None = None
    ) -> Redactor:
        """``fit`` over (keys, patterns) batches: memory holds per-pattern counts, not the keys."""
        families = _Families(self.min_family_values)
        for keys, patterns in batches:
            families.add(_arrow(keys), _arrow(patterns))
        skeleton: set[str] = set()
        for pattern, n in families.keys.items():
            regex = _pattern_regex(pattern)
            if (
                regex is None
                or n < self.min_family_keys
                or families.distinct[pattern] < self.min_family_values
                or not regex.match(families.sample[pattern])  # a name, not a glob of its keys
            ):
                continue
            for literal in pattern.split("*"):
                skeleton.update(_words(literal))
        owned = dict(library_patterns or {})
        skeleton.update(_library_words(owned))
        self.skeleton = frozenset(skeleton)
        self._owned = frozenset(owned)
        self._owners = {
            pattern: str(value["owner"])
            for pattern, value in owned.items()
            if isinstance(value, Mapping) and value.get("owner")
        }
        self._versions = self._settings(families)
        self.fitted = True
        self._plain_cache.clear()  # the skeleton changed
        return self

    def _settings(self, families: _Families) -> frozenset[tuple[str, str]]:
        """The (library, version) pairs that are settings: each version's patterns cover at least
        ``min_family_keys`` keys, and the library has no more than ``MAX_LIBRARY_VERSIONS`` of them."""
        keys: dict[tuple[str, str], int] = defaultdict(int)
        for pattern, owner in self._owners.items():
            span = _library_version(pattern, owner)
            if span is not None:
                keys[(owner, pattern[span[0] : span[1]])] += families.keys.get(pattern, 0)
        per_owner: dict[str, int] = defaultdict(int)
        for owner, _ in keys:
            per_owner[owner] += 1
        return frozenset(
            pair
            for pair, n in keys.items()
            if n >= self.min_family_keys and per_owner[pair[0]] <= MAX_LIBRARY_VERSIONS
        )

    def _kept_version(self, text: str, pattern: str) -> tuple[int, int] | None:
        """Where in ``text`` (a key of ``pattern``, or the pattern) a version to keep verbatim lies."""
        owner = self._owners.get(pattern)
        span = _library_version(text, owner)
        if span is None or owner is None or (owner, text[span[0] : span[1]]) not in self._versions:
            return None
        return span

    # --- hashing ------------------------------------------------------------------------------

    def _digest(self, kind: bytes, text: str) -> bytes:
        return hmac.digest(self._secret, kind + text.encode("utf-8", "surrogatepass"), "sha256")

    def _hashed(self, kind: bytes, text: str) -> str:
        cached = self._cache.get((kind, text))
        if cached is not None:
            return cached
        digest = self._digest(kind, text)
        if kind == b"w\0":
            out = "".join(chr(ord("a") + b % 26) for b in digest[:WORD_CHARS])
        elif kind == b"n\0":
            out = str(int.from_bytes(digest[:8], "big") % 10**NUMBER_DIGITS).zfill(NUMBER_DIGITS)
        elif kind == b"r\0":  # lower, upper, lower…: a case flip every other letter
            out = "".join(
                chr((ord("a") if i % 2 == 0 else ord("A")) + b % 26)
                for i, b in enumerate(digest[:WORD_CHARS])
            )
        elif kind == b"u\0":
            h = digest.hex()
            out = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
        else:  # a digit first: ``shapes.py`` never reads it as a word nor glues a word before it
            out = str(digest[0] % 10) + digest.hex()[1:ID_CHARS]
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[(kind, text)] = out
        return out

    def hash_part(self, text: str) -> str:
        """The keyed hash of one value part (a digit and hex digits, fixed width)."""
        return self._hashed(b"v\0", text)

    def hash_word(self, text: str) -> str:
        """The keyed hash of one word (lowercase letters, fixed width)."""
        return self._hashed(b"w\0", text)

    def _value(self, span: str, glued: bool) -> str:
        """A value as discovery's shapes found it, hashed into a form they find again."""
        _, _, uuid, _, strong = _shapes()
        if span.isascii() and span.isalpha():  # letters only: random-looking case, as it was found
            return self._hashed(b"r\0", span)
        if glued or (span.isascii() and span.isdigit()):
            return self._hashed(b"n\0", span)
        if uuid.fullmatch(span):
            return self._hashed(b"u\0", span)
        if any(ch in strong for ch in span):
            return self.hash_part(span)
        parts = tokenize(span)
        return "".join(
            part
            if i % 2 or not part
            else self._hashed(b"n\0", part)
            if part.isascii() and part.isdigit()
            else self.hash_part(part)
            for i, part in enumerate(parts)
        )

    def _plain(self, text: str, keep: bool) -> str:
        """Words between values: skeleton words kept (when ``keep``), others hashed as words.

        A part made of ``*`` alone (a raw byte in a binary key) is a wildcard to discovery: a value.
        The same text between values recurs in key after key (``user:``, ``:session``): cached.
        """
        cached = self._plain_cache.get((text, keep))
        if cached is not None:
            return cached
        out = "".join(
            part
            if i % 2 or not part or (keep and part in self.skeleton)
            else self.hash_part(part)
            if not part.strip("*")
            else self.hash_word(part)
            for i, part in enumerate(tokenize(text))
        )
        if len(self._plain_cache) < _CACHE_LIMIT:
            self._plain_cache[(text, keep)] = out
        return out

    def _render(self, text: str, *, glued: bool = False, keep: bool = True, binary: bool = False) -> str:
        """``text`` with each value and each non-skeleton word hashed by its shape.

        ``glued``: ``text`` continues a word (a value there must stay digits); ``binary``: a
        ``key_binary`` key, whose escaped run is one value up to its trailing named segments.
        """
        template, binary_run, _, _, _ = _shapes()
        if binary or _CONTROL.search(text):
            run = binary_run.search(text)
            if run is not None:
                head, tail = run.group(1) or "", run.group(2) or ""
                body = text[run.start() + len(head) : run.end() - len(tail)]
                return (
                    self._render(text[: run.start()], glued=glued, keep=keep)
                    + head
                    + self.hash_part(body)
                    + self._render(tail, keep=keep)
                )
        long_run = _long_run(text)
        if long_run is not None:  # (Python's regex on it would take time growing as its square)
            start, end = long_run
            return (
                self._render(text[:start], glued=glued, keep=keep)
                + self._value(text[start:end], glued and start == 0)
                + self._render(text[end:], keep=keep)
            )
        parts: list[str] = []
        pos = 0
        for match in template.finditer(text):
            parts += [text[pos : match.start()], match.group()]
            pos = match.end()
        parts.append(text[pos:])
        return self._assemble(parts, glued, keep)

    def _assemble(self, parts: list[str], glued: bool, keep: bool) -> str:
        """Words (even ``parts``) and values (odd ``parts``, as discovery's shapes cut them) hashed.

        A value right after a word character, or after another value, is glued to it.
        """
        separators = _shapes()[3]
        out = [self._plain(parts[0], keep)]
        for i in range(1, len(parts), 2):
            before = parts[i - 1]
            stuck = before[-1] not in separators if before else (glued if i == 1 else True)
            out.append(self._value(parts[i], stuck))
            out.append(self._plain(parts[i + 1], keep))
        return "".join(out)

    # --- keys and patterns --------------------------------------------------------------------

    def redact_key(self, key: str, pattern: str | None = None, binary: bool = False) -> str:
        """``key`` with everything but its skeleton hashed.

        Keys of a library-owned ``pattern`` are cut along it: its literal parts are rendered as the
        pattern column renders them, each ``*`` span as one value.
        """
        if pattern is not None and pattern in self._owned:
            regex = _pattern_regex(pattern)
            match = regex.match(key) if regex is not None else None
            if match is not None:
                _, _, _, separators, _ = _shapes()
                kept = self._kept_version(key, pattern)
                out, last = [], 0
                for group in range(1, match.re.groups + 1):
                    start, end = match.span(group)
                    out.append(self._render_literal(key, last, start, kept))
                    stuck = start > 0 and key[start - 1] not in separators
                    out.append(self._render(key[start:end], glued=stuck, keep=False))
                    last = end
                out.append(self._render_literal(key, last, len(key), kept))
                return "".join(out)
        return self._render(key, binary=binary)

    def _render_literal(self, text: str, start: int, end: int, kept: tuple[int, int] | None) -> str:
        """``text[start:end]`` rendered, but for the part of it inside ``kept``, which stays as it is."""
        if kept is None or kept[1] <= start or kept[0] >= end:
            return self._render(text[start:end])
        first, last = max(kept[0], start), min(kept[1], end)
        return self._render(text[start:first]) + text[first:last] + self._render(text[last:end])

    def redact_pattern(self, pattern: str) -> str:
        """A pattern redacted as its keys are: ``*`` stays, every literal part is rendered alike."""
        kept = self._kept_version(pattern, pattern)
        out, at = [], 0
        for part in pattern.split("*"):
            out.append(self._render_literal(pattern, at, at + len(part), kept))
            at += len(part) + 1
        return "*".join(out)

    def redact_patterns(self, patterns: pa.Array | pa.ChunkedArray) -> pa.Array:
        """``redact_pattern`` over a column, computed once per distinct pattern."""
        values = patterns.to_pylist()
        mapping = {p: self.redact_pattern(p) for p in set(values) if p is not None}
        return pa.array([None if p is None else mapping[p] for p in values], pa.string())

    def redact_array(
        self, keys: pa.Array | pa.ChunkedArray, patterns: Any = None, binary: Any = None
    ) -> pa.Array:
        """A string array of redacted keys, aligned with ``keys`` (``patterns``, ``binary`` optional).

        Values are found for every key at once by discovery's own RE2 pass (``shapes.templates_of``
        runs the same regex), which marks them; keys that need more (binary keys, control bytes, a
        library-owned pattern) go through ``redact_key``.
        """
        array = keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
        array = pc.fill_null(array.cast(pa.string()), "")
        n = len(array)
        slow = np.zeros(n, dtype=bool)
        if binary is not None:
            slow |= np.asarray(pc.fill_null(binary, False).to_numpy(zero_copy_only=False), dtype=bool)
        from insightkit.patterns.shapes import TEMPLATE_REGEX, control_byte_rows

        control = control_byte_rows(array)
        if control is not None:
            slow |= control
        pattern_list = patterns.to_pylist() if patterns is not None else None
        if pattern_list is not None and self._owned:
            slow |= np.fromiter((p in self._owned for p in pattern_list), dtype=bool, count=n)
        marked = pc.replace_substring_regex(
            array, pattern=TEMPLATE_REGEX, replacement=_OPEN + "\\0" + _CLOSE
        ).to_pylist()
        flags = slow.tolist()
        out = [
            "" if flagged else self._assemble(_MARKS.split(text), False, True)
            for text, flagged in zip(marked, flags, strict=True)
        ]
        if slow.any():
            originals = array.to_pylist()
            binary_list = binary.to_pylist() if binary is not None else [False] * n
            for i in np.flatnonzero(slow).tolist():
                pattern = pattern_list[i] if pattern_list is not None else None
                out[i] = self.redact_key(originals[i], pattern, bool(binary_list[i]))
        return pa.array(out, pa.string())

    def describe(self) -> dict[str, Any]:
        """What goes in the RSNAP metadata (never the secret)."""
        return {
            "method": self.method,
            "parts": "all but the skeleton",
            "min_family_keys": self.min_family_keys,
            "min_family_values": self.min_family_values,
            "key_supplied": self.key_supplied,
        }


def _arrow(values: Any) -> pa.Array | pa.ChunkedArray:
    """An Arrow array from an Arrow array, a pandas Series (Arrow-backed or not) or a list."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values
    array = getattr(values, "array", None)
    if array is not None and hasattr(array, "__arrow_array__"):
        return pa.array(array)
    return pa.array(list(values), pa.string())


def _library_words(owned: Mapping[str, Any]) -> set[str]:
    """The literal words of every family of the known libraries that own patterns here."""
    owners = {v.get("owner") for v in owned.values() if isinstance(v, Mapping)}
    if not owners:
        return set()
    from insightkit.patterns.libraries import BY_NAME

    words: set[str] = set()
    for owner in owners:
        library = BY_NAME.get(str(owner))
        for family in library.families if library is not None else ():
            for literal in _PLACEHOLDER.sub("*", family.pattern).split("*"):
                words.update(_words(literal))
    return words


def _library_version(text: str, owner: str | None) -> tuple[int, int] | None:
    """Where the ``version`` group of ``owner``'s first family that names one and matches ``text`` (a
    key or a pattern) lies in it, or None."""
    for regex in _version_regexes(owner) if owner is not None else ():
        match = regex.match(text)
        if match is not None and match.group("version") is not None:
            return match.span("version")
    return None


@cache
def _version_regexes(owner: str) -> tuple[re.Pattern[str], ...]:
    """The regexes of ``owner``'s families that name a ``version``, in the catalogue's order."""
    from insightkit.patterns.libraries import BY_NAME

    library = BY_NAME.get(owner)
    found = []
    for family in library.families if library is not None else ():
        regex = re.compile(family.regex) if family.regex is not None else None
        if regex is not None and "version" in regex.groupindex:
            found.append(regex)
    return tuple(found)


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
