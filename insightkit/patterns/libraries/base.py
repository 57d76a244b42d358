"""What a catalogue entry is: a library, the key families it writes, and what it lets users set.

A ``Family`` is one kind of key a library writes: the pattern its users would name it by
(``rq:job:*``), the role the keys play, and example keys that must and must not match — the entry's
own test cases, run by the tests like the rules' fire/quiet cases. ``pattern`` is a Redis glob unless
``regex`` is given; then ``pattern`` may name the regex's groups (``{prefix}:{version}:…``) and each
key's pattern is the template filled in from its own match (Django's KEY_PREFIX and VERSION).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

#: What a key does for the library that owns it.
ROLES = (
    "queue",  # work waiting for a consumer (lists, sorted sets, streams)
    "job",  # one unit of work: its payload and state
    "result",  # what a job returned
    "registry",  # bookkeeping sets of jobs by state (started, finished, failed …), bindings
    "scheduler",  # jobs waiting for a time
    "dead-letter",  # jobs that failed for good
    "lock",  # mutual exclusion
    "cache",  # recomputable values
    "session",  # web sessions
    "rate-limit",  # counters and windows of a rate limiter
    "worker",  # worker/process registrations and heartbeats
    "stats",  # counters the library keeps about itself
    "events",  # event streams the library publishes
    "model",  # application records an object mapper stores
    "index",  # an object mapper's index bookkeeping
)

_GROUP = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Family:
    pattern: str
    role: str
    matches: tuple[str, ...]
    misses: tuple[str, ...] = ()
    regex: str | None = None
    types: tuple[str, ...] = ()  # the Redis types the library writes for it (documentation, tests)
    note: str = ""
    #: another family of the same library (by pattern) that must be present for this one to be
    #: owned: generic names (``queue:*``, ``unacked``) are the library's only beside its anchor key
    requires: str | None = None
    #: a group of ``regex`` whose values name other keys: a key (or literal pattern) named exactly
    #: so is owned with ``link_role`` (kombu: ``_kombu.binding.reports`` → the list ``reports``)
    link_group: str | None = None
    link_role: str | None = None

    def __post_init__(self) -> None:
        for role in (self.role, self.link_role):
            if role is not None and role not in ROLES:
                raise ValueError(f"{self.pattern}: unknown role {role!r}")
        groups = set(_GROUP.findall(self.pattern))
        if groups and self.regex is None:
            raise ValueError(f"{self.pattern}: a pattern naming groups needs a regex")
        if self.regex is not None:
            named = set(re.compile(self.regex).groupindex)
            if not groups <= named:
                raise ValueError(f"{self.pattern}: groups {sorted(groups - named)} not in its regex")
            if self.link_group is not None and self.link_group not in named:
                raise ValueError(f"{self.pattern}: link group {self.link_group!r} not in its regex")
        if not self.matches:
            raise ValueError(f"{self.pattern}: give at least one example key")
        if self.requires is not None and groups:
            raise ValueError(f"{self.pattern}: a family that requires an anchor cannot name groups")

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(_GROUP.findall(self.pattern))

    @property
    def literal_chars(self) -> int:
        """How specific the family is: characters its name fixes (groups and ``*`` fix none)."""
        return len(_GROUP.sub("", self.pattern).replace("*", "").replace("?", ""))


@dataclass(frozen=True)
class Library:
    name: str  # the ``owner`` value: short, lower case (``rq``, ``celery``)
    title: str
    source: str  # where the key names come from: the package/repository and file(s) read
    families: tuple[Family, ...]
    #: library-level settings by role: what a user changes instead of renaming the library's keys
    settings: Mapping[str, str] = field(default_factory=dict)
    #: what to check when one of its queues backs up
    backlog: str = ""
    #: True for job queues and brokers (they need maxmemory-policy noeviction)
    broker: bool = False
    #: Lua scripts it may load into the script cache (EVAL/EVALSHA), at most
    scripts: int = 0
    #: "tests": its families were checked against the real library writing to a real server;
    #: "source": read from its public source/docs
    verified: str = "source"
    #: family patterns whose keys the result lifetime setting expires too, one per result (RQ: a
    #: finished job's hash lives result_ttl like its result stream)
    expire_with_results: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.name != self.name.lower() or not self.name:
            raise ValueError(f"library name {self.name!r}: lower case, not empty")
        patterns = [f.pattern for f in self.families]
        if len(set(patterns)) != len(patterns):
            raise ValueError(f"{self.name}: two families with one pattern")
        for family in self.families:
            if family.requires is not None and family.requires not in patterns:
                raise ValueError(f"{self.name}: {family.pattern} requires unknown {family.requires!r}")
        for role in self.settings:
            if role not in ROLES:
                raise ValueError(f"{self.name}: settings for unknown role {role!r}")
        for pattern in self.expire_with_results:
            if pattern not in patterns:
                raise ValueError(f"{self.name}: expire_with_results names unknown family {pattern!r}")
        if self.verified not in ("tests", "source"):
            raise ValueError(f"{self.name}: verified is 'tests' or 'source'")

    def setting(self, role: str | None) -> str:
        return self.settings.get(role or "", "")
