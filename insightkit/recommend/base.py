"""What a rule is: one small declarative unit (id, title, category, severity, query, saving, fix, why).

A rule is either a *key rule* — ``select`` is a narwhals filter over the key table, ``saving`` the bytes
each offending key would give back — or a *snapshot rule* whose ``check`` looks at the metadata alone
(INFO, CONFIG) and returns a ``Finding``. Key rules may also carry a ``gate`` on the metadata (e.g. only
when ``maxmemory-policy`` is ``noeviction``). Each rule carries its own ``fire`` and ``quiet`` cases:
the anti-pattern and the best practice, as data, run by the tests on every engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import narwhals as nw

from insightkit.errors import ConfigurationError
from insightkit.recommend.thresholds import Thresholds
from insightkit.versions import known_version

CATEGORIES = ("memory", "configuration", "code", "operations", "security")
SEVERITIES = ("high", "medium", "low", "info")
# Which memory a rule's saving gives back: bytes inside used_memory (keys, client buffers, the script
# cache) or RSS the process holds beyond used_memory (fragmentation, allocator and process overheads).
FREES = ("used_memory", "rss")


def _num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def parse_version(text: Any) -> tuple[int, int, int]:
    """Like ``known_version``, with (0, 0, 0) for text that is not a version."""
    return known_version(text) or (0, 0, 0)


@dataclass
class Context:
    """Everything a rule may read besides the keys: metadata, resolved thresholds, the clock."""

    metadata: Mapping[str, Any]
    thresholds: Thresholds

    @classmethod
    def build(cls, metadata: Mapping[str, Any] | None, overrides: Mapping[str, Any] | None = None) -> Context:
        if metadata is not None and not isinstance(metadata, Mapping):
            raise ConfigurationError(f"rules: metadata must be a mapping, not {type(metadata).__name__}")
        if overrides is not None and not isinstance(overrides, Mapping):
            raise ConfigurationError(f"rules: thresholds must be a mapping, not {type(overrides).__name__}")
        metadata = metadata or {}
        config = metadata.get("config") or {}
        return cls(metadata, Thresholds(config, overrides))

    def __getitem__(self, name: str) -> Any:
        return self.thresholds[name]

    @property
    def server(self) -> Mapping[str, Any]:
        server = self.metadata.get("server") or {}
        return server if isinstance(server, Mapping) else {}

    @property
    def family(self) -> str:
        family = self.server.get("family") or ("valkey" if self.info("server", "valkey_version") else None)
        return str(family or "redis")

    @property
    def version_known(self) -> tuple[int, int, int] | None:
        """The writing server's version as recorded (metadata server, else INFO, else the RDB), or
        None when none is recorded or it does not read as a version."""
        version = self.server.get("version") or self.info("server", "valkey_version")
        version = version or self.info("server", "redis_version")
        if not version:
            rdb = self.metadata.get("rdb") or {}
            version = rdb.get("redis_version") if isinstance(rdb, Mapping) else None
        return known_version(version)

    @property
    def version(self) -> tuple[int, int, int]:
        """``version_known``, or 7.0 when unknown (the defaults most rules are written against)."""
        return self.version_known or (7, 0, 0)

    @property
    def allocator(self) -> str:
        allocator = str(self.server.get("allocator") or self.info("memory", "mem_allocator") or "jemalloc")
        if allocator.startswith("libc"):
            return "libc"
        return "jemalloc-16" if allocator == "jemalloc-16" else "jemalloc"

    @property
    def key_layout(self) -> str:
        """How the snapshot's server generation holds a top-level key (rules.cost.key_layout)."""
        from insightkit.recommend.cost import key_layout

        return key_layout(self.family, self.version)

    @property
    def live(self) -> bool:
        """True when INFO/CONFIG were read from a live server (snapshot rules need them)."""
        return bool(self.metadata.get("info") or self.metadata.get("config"))

    @property
    def now_ms(self) -> int | None:
        value = self.metadata.get("snapshot_time_ms")
        return int(value) if value is not None else None

    def config(self, name: str) -> Any:
        """A config value read from the server, or None (file snapshots, CONFIG blocked)."""
        from insightkit.recommend.thresholds import canonical

        config = {canonical(k): v for k, v in (self.metadata.get("config") or {}).items()}
        return config.get(canonical(name))

    def info(self, section: str, name: str) -> Any:
        info = self.metadata.get("info") or {}
        part = info.get(section) or {}
        if name in part:
            return part[name]
        for other in info.values():  # INFO sections differ between versions: look everywhere
            if isinstance(other, Mapping) and name in other:
                return other[name]
        return None

    def info_num(self, section: str, name: str) -> float | None:
        return _num(self.info(section, name))

    def info_total(self, name: str) -> int | None:
        """An INFO memory figure summed over a cluster's primaries or a fleet's files (else the one
        server's); None when some of them lacks it."""
        nodes = self.metadata.get("nodes")
        if isinstance(nodes, list) and nodes:
            values = [
                _num(((n.get("info") or {}).get("memory") or {}).get(name))
                for n in nodes
                if isinstance(n, Mapping)
            ]
            if not values or any(v is None for v in values):
                return None
            return int(sum(v for v in values if v is not None))
        value = self.info_num("memory", name)
        return int(value) if value is not None else None

    @property
    def used_memory(self) -> int | None:
        """INFO used_memory (summed over a cluster's primaries), or None when unknown."""
        return self.info_total("used_memory")

    def config_name(self, name: str) -> str:
        """The spelling the writing server understands (ziplist before 7.0)."""
        if self.version < (7, 0, 0):
            return name.replace("-listpack-", "-ziplist-")
        return name


@dataclass(frozen=True)
class Finding:
    """What a snapshot rule found: the bytes a fix would save and a sentence about the numbers."""

    estimated_savings_bytes: int = 0
    detail: str = ""
    offending_memory_bytes: int = 0


@dataclass(frozen=True)
class Aggregates:
    """Offender totals a key rule's fix text may quote (e.g. the limit that would cover them)."""

    keys: int
    memory_bytes: int
    savings_bytes: int
    patterns: int
    max_elements: int
    max_element_bytes: int
    top_patterns: tuple[str, ...] = ()  # the offending patterns holding the most memory
    # values of the optional ``owner`` / ``role`` columns among the offenders (library-owned keys)
    owners: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    """Example data for one rule: key rows (partial: tests/rule_examples.py fills in the rest) and metadata."""

    keys: tuple[Mapping[str, Any], ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    thresholds: Mapping[str, Any] = field(default_factory=dict)


Select = Callable[[Context], nw.Expr]
Check = Callable[[Context], Finding | None]


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    category: str
    severity: str
    description: str  # why it matters and what the fix costs
    fix: str | Callable[[Context, Aggregates | None], str]
    fire: Case
    quiet: Case
    select: Select | None = None
    # bytes each offending key gives back: an expression, or steps (temp column, expr) ending in it
    saving: Callable[[Context], nw.Expr | list[tuple[str, nw.Expr]]] | None = None
    gate: Callable[[Context], bool] | None = None
    check: Check | None = None
    thresholds: tuple[str, ...] = ()
    mechanical: bool = False  # the fix can be applied by a script (tests measure it on a server)
    peers: tuple[str, ...] = ()  # the peer checks this rule covers (RedisInsight, MEMORY DOCTOR)
    # False: keys a known library owns are left out (renaming or restructuring them is the library's
    # business; its settings are what a user can change: see rules/libraries.py)
    library_keys: bool = True
    # a sentence about the offenders instead of "N keys in M patterns"
    detail: Callable[[Context, Aggregates], str] | None = None
    frees: str = "used_memory"  # see FREES
    # A priced finding is graded by its share of memory (rules.severity); ``risk`` is the level it keeps
    # whatever its size, for what the bytes do not say (blocking commands, unbounded growth, a bug)
    risk: str | None = None

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ConfigurationError(f"{self.id}: category {self.category!r}")
        if self.severity not in SEVERITIES:
            raise ConfigurationError(f"{self.id}: severity {self.severity!r}")
        if self.risk is not None and self.risk not in SEVERITIES:
            raise ConfigurationError(f"{self.id}: risk {self.risk!r}")
        if self.frees not in FREES:
            raise ConfigurationError(f"{self.id}: frees {self.frees!r}")
        if (self.select is None) == (self.check is None):
            raise ConfigurationError(f"{self.id}: a rule has either a key query or a snapshot check")

    @property
    def per_key(self) -> bool:
        return self.select is not None

    @property
    def priced(self) -> bool:
        """Whether the rule prices a saving per key (snapshot rules price theirs in their check)."""
        return self.saving is not None

    def fix_text(self, ctx: Context, agg: Aggregates | None = None) -> str:
        return self.fix if isinstance(self.fix, str) else self.fix(ctx, agg)
