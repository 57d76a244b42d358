"""Server-side code: EVAL scripts that could be FUNCTION libraries, and client-side glue around keyspace
notifications and streams that a function could do at write time (RedisInsight v2's three checks).

RedisInsight asks its questions only when no library of the RedisGears "triggers and functions"
module is loaded (TFUNCTION LIST) and points at that module's triggers. These rules ask them of core
Redis >= 7.0 instead: a library counts when the RDB carries it (FUNCTION libraries are persisted) or
INFO reports it, and the rules stay silent when neither says how many there are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from insightkit._text import human_bytes
from insightkit.recommend._expr import is_type
from insightkit.recommend.base import Case, Context, Finding, Rule
from insightkit.recommend.owners import owners_present

FUNCTIONS_SINCE = (7, 0, 0)
NO_LIBRARIES: dict[str, Any] = {"rdb": {"functions": []}}
ONE_LIBRARY: dict[str, Any] = {"rdb": {"functions": ["app"]}}
# notify-keyspace-events classes a writer causes (A = g$lshzxetd); x (expired), e (evicted) and
# m (key miss) are the server's own doing, which no function wrapping the writes can replace.
_WRITE_EVENTS = frozenset("g$lshztdnA")


def _libraries(ctx: Context) -> int | None:
    """How many FUNCTION libraries the server holds: from the RDB, else INFO; None when unknown."""
    rdb = ctx.metadata.get("rdb")
    if isinstance(rdb, Mapping) and "functions" in rdb:
        return len(list(rdb.get("functions") or []))
    count = ctx.info_num("memory", "number_of_libraries")
    return int(count) if count is not None else None


def _no_functions_yet(ctx: Context) -> bool:
    return ctx.version >= FUNCTIONS_SINCE and _libraries(ctx) == 0


def _library_scripts(ctx: Context) -> tuple[int, list[str]]:
    """How many cached scripts the known libraries present may have loaded (at most), and which."""
    loaders = [library for library in owners_present(ctx) if library.scripts]
    return sum(library.scripts for library in loaders), [library.name for library in loaders]


def _lua_to_functions(ctx: Context) -> Finding | None:
    scripts = ctx.info_num("memory", "number_of_cached_scripts")
    if scripts is None or scripts < ctx["lua_to_functions_scripts"] or not _no_functions_yet(ctx):
        return None
    # INFO counts the script cache, not who filled it: scripts a library loads (kombu, limits, RQ,
    # BullMQ …) are its own to manage, so only what the libraries present cannot account for is
    # a question for the application.
    theirs, loaders = _library_scripts(ctx)
    if scripts - theirs < ctx["lua_to_functions_scripts"]:
        return None
    memory = ctx.info_num("memory", "used_memory_scripts_eval") or ctx.info_num(
        "memory", "used_memory_scripts"
    )
    detail = f"{int(scripts):,} cached EVAL scripts ({human_bytes(memory or 0)}) and no FUNCTION library"
    if loaders:
        detail += (
            f"; up to {theirs} of them may be loaded by {', '.join(loaders)} (INFO cannot tell whose a "
            "script is; only your own scripts can become a library)"
        )
    return Finding(detail=detail, offending_memory_bytes=int(memory or 0))


LUA_TO_FUNCTIONS = Rule(
    id="lua-to-functions",
    title="EVAL scripts that could be a FUNCTION library",
    category="code",
    severity="info",
    description=(
        "The server caches EVAL scripts but holds no FUNCTION library (Redis >= 7.0). The script cache "
        "is neither persisted nor replicated: after a restart or a failover every client must send "
        "its scripts again (NOSCRIPT on EVALSHA), and each client carries the script text. A library "
        "loaded once with FUNCTION LOAD is saved in the RDB/AOF, replicated, named, and called with "
        "FCALL. Not priced: a library holds the same code the cache did. Trade-off: libraries "
        "are deployed like schema (FUNCTION LOAD REPLACE on each release) and must declare the keys "
        "they touch. Scripts that known libraries load (kombu, limits, RQ, BullMQ …) are theirs: when "
        "such a library owns keys here, the rule counts only the scripts beyond what it may load."
    ),
    fix=(
        "FUNCTION LOAD \"#!lua name=app\\nredis.register_function('bump', function(keys, args) "
        "return redis.call('INCRBY', keys[1], args[1]) end)\"   # then FCALL bump 1 counter:1 5"
    ),
    check=_lua_to_functions,
    thresholds=("lua_to_functions_scripts",),
    peers=("RedisInsight v2 luaToFunctions",),
    fire=Case(metadata={"info": {"memory": {"number_of_cached_scripts": 12}}, **NO_LIBRARIES}),
    quiet=Case(metadata={"info": {"memory": {"number_of_cached_scripts": 12}}, **ONE_LIBRARY}),
)


def _keyspace_events(ctx: Context) -> Finding | None:
    flags = ctx.config("notify-keyspace-events")
    if flags is None or not _no_functions_yet(ctx):
        return None
    flags = str(flags)
    if not ("K" in flags or "E" in flags) or not _WRITE_EVENTS & set(flags):
        return None  # without K or E nothing is published; x/e/m alone cannot move into a function
    return Finding(detail=f"notify-keyspace-events {flags!r} and no FUNCTION library")


KEYSPACE_TO_FUNCTIONS = Rule(
    id="keyspace-events-to-functions",
    title="Keyspace notifications on writes, and no FUNCTION library",
    category="code",
    severity="info",
    description=(
        "notify-keyspace-events publishes an event for writes (K or E with write classes). Such events "
        "are Pub/Sub: delivered at most once, lost while the subscriber is disconnected or dropped for "
        "a full output buffer, published only by the node that owns the key in a cluster, and paid for "
        "on every matching write. If an application subscribes to keep derived data in step (counters, "
        "indexes, caches elsewhere), doing that work inside the write is reliable: a FUNCTION that "
        "writes the key and the derived data atomically, or that also XADDs a change record to a "
        "stream read with consumer groups. Expiry, eviction and miss events (x, e, m) cannot move into "
        "a function and do not make this rule fire. Needs CONFIG from a live server. Not priced. "
        "Trade-off: writers must go through FCALL instead of plain commands."
    ),
    fix=(
        "FUNCTION LOAD \"#!lua name=app\\nredis.register_function('set_user', function(keys, args) "
        "redis.call('HSET', keys[1], unpack(args)); return redis.call('XADD', keys[2], '*', 'key', "
        'keys[1]) end)"   # FCALL set_user 2 user:1 changes name Ada; then CONFIG SET '
        'notify-keyspace-events ""'
    ),
    check=_keyspace_events,
    peers=("RedisInsight v2 functionsWithKeyspace",),
    fire=Case(metadata={"config": {"notify-keyspace-events": "KEA"}, **NO_LIBRARIES}),
    quiet=Case(metadata={"config": {"notify-keyspace-events": ""}, **NO_LIBRARIES}),
)

STREAMS_TO_FUNCTIONS = Rule(
    id="streams-to-functions",
    title="Streams, and no FUNCTION library",
    category="code",
    severity="info",
    description=(
        "The snapshot holds streams but no FUNCTION library (Redis >= 7.0). Producers that XADD and "
        "then, in further round trips, update keys derived from the entry (a latest-value hash, "
        "counters, a per-user index) can do both in one FUNCTION: atomic, one round trip, and the "
        "logic beside the data instead of in every producer; consumer groups stay for work that has "
        "to happen outside Redis. A snapshot cannot see what consumers do, so read the offenders as "
        "a question. Not priced. Trade-off: a function runs on the server's one thread; keep it short."
    ),
    fix=(
        "FUNCTION LOAD \"#!lua name=app\\nredis.register_function('track', function(keys, args) "
        "redis.call('HSET', keys[2], 'last', args[1]); return redis.call('XADD', keys[1], '*', "
        "'v', args[1]) end)\"   # FCALL track 2 events:1 latest:1 42"
    ),
    gate=_no_functions_yet,
    select=lambda ctx: is_type("stream"),
    peers=("RedisInsight v2 functionsWithStreams",),
    library_keys=False,
    fire=Case(keys=({"key": "events:1", "type": "stream", "num_elements": 500},), metadata=NO_LIBRARIES),
    quiet=Case(keys=({"key": "events:1", "type": "stream", "num_elements": 500},), metadata=ONE_LIBRARY),
)

RULES = [LUA_TO_FUNCTIONS, KEYSPACE_TO_FUNCTIONS, STREAMS_TO_FUNCTIONS]
