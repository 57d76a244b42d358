"""What a live snapshot records about the server besides its keys: INFO sections, CONFIG values and
the ACL users' shape.

Rules read encoding thresholds and the eviction policy from here, and the memory model needs the
allocator. Managed services often block CONFIG (or rename it): everything is best effort, and what
could not be read is listed (``config_missing``, ``info_missing``) rather than failing the snapshot.
``ACL LIST`` is reduced to what the security rules need (name, on/off, nopass, how many passwords, all
keys/commands): the password hashes it prints are never kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import hiredis

from insightkit.errors import PasswordRequired
from insightkit.memory.layout import JE_QUANTUM

from .connection import RespClient, ServerError

INFO_SECTIONS = ("server", "memory", "keyspace", "clients", "stats", "persistence", "replication", "cluster")
# Patterns and names for CONFIG GET. Old (ziplist) and new (listpack) spellings are both asked for.
CONFIG_PATTERNS = (
    "*-max-listpack-*",
    "*-max-ziplist-*",
    "*-max-intset-*",
    "list-max-*",
    "list-compress-depth",
    "maxmemory",
    "maxmemory-policy",
    "maxmemory-samples",
    "lfu-log-factor",
    "lfu-decay-time",
    "databases",
    "activedefrag",
    "lazyfree-lazy-eviction",
    "lazyfree-lazy-expire",
    "hz",
    "notify-keyspace-events",
    "stream-node-max-bytes",
    "stream-node-max-entries",
    "save",
    "appendonly",
    "repl-diskless-sync",
    "protected-mode",
    "bind",
    "enable-debug-command",
    "enable-module-command",
    "enable-protected-configs",
    "requirepass",
)
# Secrets CONFIG GET would return: only whether they are set is kept, never the value.
SECRET_CONFIG = frozenset({"requirepass", "masterauth", "tls-key-file-pass", "tls-client-key-file-pass"})
SECRET_SET = "<set>"
# What the rules cannot do without: reported in config_missing when CONFIG did not give it.
REQUIRED_CONFIG = (
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    "set-max-intset-entries",
    "list-max-listpack-size",
    "list-compress-depth",
    "maxmemory",
    "maxmemory-policy",
    "databases",
)
_OLD_NAMES = {
    "hash-max-listpack-entries": "hash-max-ziplist-entries",
    "hash-max-listpack-value": "hash-max-ziplist-value",
    "zset-max-listpack-entries": "zset-max-ziplist-entries",
    "zset-max-listpack-value": "zset-max-ziplist-value",
    "list-max-listpack-size": "list-max-ziplist-size",
}


@dataclass
class ServerInfo:
    info: dict[str, dict[str, Any]] = field(default_factory=dict)
    config: dict[str, str] = field(default_factory=dict)
    config_missing: list[str] = field(default_factory=list)
    info_missing: list[str] = field(default_factory=list)
    config_error: str | None = None
    jemalloc_quantum: int | None = None  # from MEMORY MALLOC-STATS ("Quantum size"), jemalloc builds only
    acl: list[dict[str, Any]] | None = None  # parse_acl_list(ACL LIST); None when not read

    @property
    def family(self) -> str:
        return "valkey" if self.info.get("server", {}).get("valkey_version") else "redis"

    @property
    def version(self) -> str | None:
        server = self.info.get("server", {})
        return server.get("valkey_version") or server.get("redis_version")

    @property
    def allocator(self) -> str | None:
        """``"jemalloc"``, ``"jemalloc-16"`` or ``"libc"`` (what the memory model needs), from INFO memory
        and, for jemalloc, its size-class quantum: 8 bytes in the jemalloc Redis and Valkey bundle, 16 in
        a stock build (distribution packages linking the system library)."""
        raw = str(self.info.get("memory", {}).get("mem_allocator") or "")
        if not raw:
            return None
        if not raw.startswith("jemalloc"):
            return "libc"
        return "jemalloc-16" if self.jemalloc_quantum == JE_QUANTUM else "jemalloc"

    @property
    def list_compress_depth(self) -> int:
        """``list-compress-depth`` from CONFIG (0 when unknown): decides how quicklist nodes are priced."""
        try:
            return max(0, int(self.config.get("list-compress-depth") or 0))
        except ValueError:
            return 0

    @property
    def stream_node_max_bytes(self) -> int:
        """``stream-node-max-bytes`` from CONFIG (0 when unknown): what a stream's open node is
        preallocated to (at most 4096 bytes)."""
        try:
            return max(0, int(self.config.get("stream-node-max-bytes") or 0))
        except ValueError:
            return 0

    @property
    def cluster_enabled(self) -> bool:
        return str(self.info.get("cluster", {}).get("cluster_enabled", "0")) == "1"

    def keyspace(self) -> dict[int, tuple[int, int]]:
        """{db: (keys, expires)} from INFO keyspace."""
        out: dict[int, tuple[int, int]] = {}
        for name, value in self.info.get("keyspace", {}).items():
            if not name.startswith("db") or not isinstance(value, dict):
                continue
            try:
                out[int(name[2:])] = (int(value.get("keys", 0)), int(value.get("expires", 0)))
            except ValueError:
                continue
        return out

    def server_dict(self) -> dict[str, Any]:
        return {"family": self.family, "version": self.version, "allocator": self.allocator}


def parse_info(text: str) -> dict[str, dict[str, Any]]:
    """INFO text → {section: {field: value}}; ``db0:keys=1,expires=0`` becomes a dict of ints."""
    sections: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] = sections.setdefault("server", {})
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            current = sections.setdefault(line[1:].strip().lower(), {})
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        if name.startswith("db") and name[2:].isdigit():
            parts = dict(item.partition("=")[::2] for item in value.split(","))
            current[name] = {k: int(v) if v.lstrip("-").isdigit() else v for k, v in parts.items()}
        else:
            current[name] = value
    return {name: fields for name, fields in sections.items() if fields}


#: ACL rules that grant FLUSHALL, FLUSHDB, KEYS, CONFIG SET or DEBUG (their categories included: FLUSHALL
#: is in @write and @keyspace, KEYS in @read and @keyspace, CONFIG and DEBUG in @admin), and the rules
#: that take all of them back.
_GRANTS = frozenset(
    {"+@all", "allcommands", "+@dangerous", "+@admin", "+@write", "+@keyspace", "+flushall", "+flushdb",
     "+keys", "+config", "+config|set", "+debug"}
)  # fmt: skip
_REVOKES = frozenset({"-@all", "nocommands", "-@dangerous"})


def _dangerous_granted(rules: Sequence[str]) -> bool:
    """Whether a user's rules (in ACL LIST's order: a later rule overrides an earlier one) leave a
    dangerous command open: the last granting or revoking rule decides (``+@read`` grants KEYS too, but
    a read-only user is not the point of the check)."""
    granted = False
    for rule in rules:
        if rule in _GRANTS:
            granted = True
        elif rule in _REVOKES:
            granted = False
    return granted


def parse_acl_list(lines: Sequence[Any]) -> list[dict[str, Any]]:
    """``ACL LIST`` replies → one dict per user with no secret in it.

    ``user app on #<sha256> ~* +@all -@dangerous`` → ``{"user": "app", "enabled": True, "nopass":
    False, "passwords": 1, "all_keys": True, "all_commands": True, "dangerous": False}``. Password hashes (``#…``) are
    counted, never copied; a line that is not a user line is skipped.
    """
    users = []
    for line in lines:
        tokens = _text(line).split()
        if len(tokens) < 2 or tokens[0] != "user":
            continue
        rules = tokens[2:]
        users.append(
            {
                "user": tokens[1],
                "enabled": "on" in rules,
                "nopass": "nopass" in rules,
                "passwords": sum(1 for r in rules if r.startswith("#")),
                "all_keys": "~*" in rules or "allkeys" in rules,
                "all_commands": "+@all" in rules or "allcommands" in rules,
                "dangerous": _dangerous_granted(rules),
            }
        )
    return users


def collect(client: RespClient) -> ServerInfo:
    """INFO per section (INFO with several sections needs 7.0), CONFIG GET per pattern, ACL LIST.

    Two round trips: every INFO plus the first CONFIG GET in one pipeline, then (only if that one was
    allowed) the other CONFIG GETs and ACL LIST in a second, so a server that refuses admin commands
    sees one refused command, as when they were sent one by one. Servers before 6.0 have no ACL.
    """
    result = ServerInfo()
    first, *rest = [("CONFIG", "GET", pattern) for pattern in CONFIG_PATTERNS]
    replies = _pipeline(client, [("INFO", section) for section in INFO_SECTIONS] + [first])
    for section, text in zip(INFO_SECTIONS, replies, strict=False):
        if isinstance(text, hiredis.ReplyError):
            reply = str(text)
            if reply.split(" ", 1)[0] == "NOAUTH":
                raise PasswordRequired(f"{client.where}: the server requires a password ({reply})")
            result.info_missing.append(section)
            continue
        parsed = parse_info(text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text))
        result.info[section] = parsed.get(section, {})
    config_replies = replies[len(INFO_SECTIONS) :]
    if not isinstance(config_replies[0], hiredis.ReplyError):
        *more, acl = _pipeline(client, [*rest, ("ACL", "LIST")])
        config_replies += more
        if isinstance(acl, list):
            result.acl = parse_acl_list(acl)
    denied = None
    for reply in config_replies:
        if isinstance(reply, hiredis.ReplyError):
            denied = str(reply)
            break
        pairs = reply if isinstance(reply, list) else []
        for name, value in zip(pairs[0::2], pairs[1::2], strict=False):
            key = _text(name)
            text = _text(value)
            result.config[key] = (SECRET_SET if text else "") if key in SECRET_CONFIG else text
    for name in REQUIRED_CONFIG:
        if name not in result.config and _OLD_NAMES.get(name, "") not in result.config:
            result.config_missing.append(name)
    if "mem_allocator" not in result.info.get("memory", {}):
        result.config_missing.append("mem_allocator")
    result.config_error = denied
    if str(result.info.get("memory", {}).get("mem_allocator", "")).startswith("jemalloc"):
        result.jemalloc_quantum = _jemalloc_quantum(_pipeline(client, [("MEMORY", "MALLOC-STATS")])[0])
    return result


def _jemalloc_quantum(reply: Any) -> int | None:
    """The "Quantum size: N" line of jemalloc's statistics (None when the command was refused)."""
    if isinstance(reply, hiredis.ReplyError):
        return None
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    match = re.search(r"Quantum size:\s*(\d+)", text)
    return int(match.group(1)) if match else None


def _pipeline(client: RespClient, commands: Sequence[Sequence[str]]) -> list[Any]:
    """Send commands in one write and read their replies (error replies are returned, not raised)."""
    if not commands:
        return []
    client.send(commands)
    return client.read_replies(len(commands))


def probe_keyspace(client: RespClient, databases: int = 16) -> dict[int, tuple[int, int]]:
    """{db: (keys, 0)} by SELECT + DBSIZE, for when INFO keyspace is not allowed."""
    out: dict[int, tuple[int, int]] = {}
    for db in range(databases):
        try:
            client.execute("SELECT", db)
        except ServerError:
            break
        size = client.execute("DBSIZE")
        if size:
            out[db] = (int(size), 0)
    client.execute("SELECT", 0)
    return out


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
