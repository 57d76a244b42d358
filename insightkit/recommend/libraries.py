"""Rules for keys a known library owns (insightkit.patterns.libraries): advice at the library's level.

A queue that backs up is work nobody is doing, not a list to trim; a result store or cache that never
expires is fixed by the library's setting (RQ ``result_ttl``, Celery ``result_expires``, Django's cache
``TIMEOUT`` …), not by renaming its keys. The rules read the engine's ``owner``/``role`` columns and
quote the settings of the libraries whose patterns offend.
"""

from __future__ import annotations

import re

import narwhals as nw

from insightkit._text import plural
from insightkit.patterns.libraries import get
from insightkit.recommend import cost
from insightkit.recommend.base import Aggregates, Case, Context, Rule
from insightkit.recommend.owners import has_role, owned_patterns, owners_of
from insightkit.recommend.ttl import idle_without_ttl

_DAY = 86_400


def _owned(*pairs: tuple[str, str, str]) -> dict[str, dict[str, dict[str, str]]]:
    """Case metadata: ``library_patterns`` for (pattern, owner, role) triples."""
    return {"library_patterns": {p: {"owner": o, "role": r} for p, o, r in pairs}}


def _settings(ctx: Context, agg: Aggregates | None, roles: tuple[str, ...], fallback: str) -> str:
    """One line per library (of the offending patterns) with its setting for these roles."""
    lines = []
    for owner, role in owners_of(ctx, agg.top_patterns if agg is not None else ()):
        library = get(owner)
        text = library.setting(role) if library is not None and role in roles else ""
        line = f"{owner}: {text}" if text else ""
        if line and line not in lines:
            lines.append(line)
    return "\n".join(lines) or fallback


def _backlog_fix(ctx: Context, agg: Aggregates | None) -> str:
    lines = []
    for owner, _ in owners_of(ctx, agg.top_patterns if agg is not None else ()):
        library = get(owner)
        if library is not None and library.backlog:
            line = f"{owner}: {library.backlog}"
            if line not in lines:
                lines.append(line)
    general = (
        "Check that a consumer runs for each of these queues, that it keeps up (more workers or "
        "concurrency), and what lands in the dead letters; never LTRIM a job queue: trimming drops jobs."
    )
    return "\n".join([*lines, general])


def _backlog_detail(ctx: Context, agg: Aggregates) -> str:
    queues = [p for p, (_, role) in owned_patterns(ctx).items() if role == "queue"]
    deepest = agg.top_patterns[0] if agg.top_patterns else "?"
    peers = f" of the {len(queues):,} queue patterns known here" if queues else ""
    return (
        f"{agg.keys:,} queue keys in {agg.patterns:,}{peers} hold at least "
        f"{int(ctx['queue_backlog_items']):,} items; the deepest holds {agg.max_elements:,} "
        f"({deepest} holds the most memory); a.offenders('queue-backlog') lists each queue with its depth"
    )


QUEUE_BACKLOG = Rule(
    id="queue-backlog",
    title="Job queues with a backlog",
    category="operations",
    severity="medium",
    description=(
        "A queue of a known job library (RQ, Celery/kombu, Sidekiq, BullMQ, dramatiq, huey, arq) holds "
        "at least queue_backlog_items waiting jobs: work arrives faster than it is done, or no worker "
        "consumes that queue at all. Its memory is the jobs' own and goes once they run; trimming the "
        "list would drop them. Not priced. Trade-off: more workers cost CPU elsewhere; if the jobs are "
        "not needed, delete them with the library's own tools (their job records live in other keys)."
    ),
    fix=_backlog_fix,
    detail=_backlog_detail,
    select=lambda ctx: has_role("queue") & (nw.col("num_elements") >= ctx["queue_backlog_items"]),
    thresholds=("queue_backlog_items",),
    fire=Case(
        keys=(
            {"key": "rq:queue:low", "type": "list", "num_elements": 17_000, "pattern": "rq:queue:*"},
            {"key": "reports", "type": "list", "num_elements": 3_000, "pattern": "reports"},
        ),
        metadata=_owned(("rq:queue:*", "rq", "queue"), ("reports", "celery", "queue")),
    ),
    quiet=Case(
        keys=(
            {"key": "rq:queue:default", "type": "list", "num_elements": 20, "pattern": "rq:queue:*"},
            {"key": "log", "type": "list", "num_elements": 100_000, "pattern": "log"},
        ),
        metadata=_owned(("rq:queue:*", "rq", "queue")),
    ),
)


def _expiring_with_results(ctx: Context) -> list[str]:
    """Patterns of this snapshot whose keys their library's result lifetime expires together with
    the results (``Library.expire_with_results``: RQ's job hashes)."""
    out = []
    for pattern, (owner, _) in owned_patterns(ctx).items():
        library = get(owner)
        if library is not None and pattern in library.expire_with_results:
            out.append(pattern)
    return sorted(out)


def _with_results(ctx: Context) -> nw.Expr:
    patterns = _expiring_with_results(ctx)
    # (a typed list even when empty: an empty is_in gives some engines no type to compare with)
    return nw.col("pattern").is_in(patterns or [""]) & nw.lit(bool(patterns))


def _results_saving(ctx: Context) -> nw.Expr:
    """Results idle for no_ttl_idle_s (a day) or more, with what deleting each frees; keys that expire
    with their results (RQ's finished job hashes) as many as there are such results: each at the
    share results / idle keys of its pattern (jobs still queued without a TTL are idle too)."""
    share = nw.col("owner_idle_results").fill_null(0) / nw.max_horizontal(
        nw.col("pattern_idle_forever_keys"), nw.lit(1)
    )
    companion = idle_without_ttl(ctx) * nw.min_horizontal(share, nw.lit(1.0))
    return nw.when(_with_results(ctx)).then(companion).otherwise(idle_without_ttl(ctx))


def _results_detail(ctx: Context, agg: Aggregates) -> str:
    """The default count (empty: the engine's), and when it takes in job hashes (RQ's ``rq:job:*``),
    what they are: jobs still queued have such a hash too, and the result lifetime leaves those alone."""
    companions = [p for p in _expiring_with_results(ctx) if p in agg.top_patterns]
    if not companions:
        return ""
    return (
        f"{plural(agg.keys, 'key')} in {plural(agg.patterns, 'pattern')}: results without a TTL and the job "
        f"hashes without one ({', '.join(companions)}), queued jobs' included; the result lifetime expires "
        "a finished job's hash with its result, so the saving counts at most as many hashes as results"
    )


RESULTS_WITHOUT_EXPIRY = Rule(
    id="results-without-expiry",
    title="Job results that never expire",
    category="code",
    severity="medium",
    description=(
        "A job library keeps results (RQ result streams, Celery task meta, arq results, huey's results "
        "hash, BullMQ's completed set) without a TTL or a cap, so every result ever produced stays: "
        "patterns of at least library_no_ttl_keys such keys, or one store of at least "
        "result_store_entries entries. The fix is the library's result lifetime setting, quoted per "
        "library; the saving counts results idle for no_ttl_idle_s (a day) or more (LRU snapshots), "
        "and the keys the same setting expires with them (RQ: a finished job's hash lives result_ttl "
        "like its result), as many as there are such results. Trade-off: a result read after it "
        "expired is gone; set the lifetime longer than anyone waits for one."
    ),
    fix=lambda ctx, agg: _settings(
        ctx, agg, ("result",), "Give results a lifetime in the library's settings (result TTL)."
    ),
    select=lambda ctx: (
        nw.col("expires_at").is_null()
        & (
            (
                has_role("result")
                & (
                    (nw.col("pattern_keys") >= ctx["library_no_ttl_keys"])
                    | (nw.col("num_elements") >= ctx["result_store_entries"])
                )
            )
            | (
                _with_results(ctx)
                & (nw.col("owner_forever_results").fill_null(0) >= ctx["library_no_ttl_keys"])
            )
        )
    ),
    saving=_results_saving,
    detail=_results_detail,
    thresholds=("library_no_ttl_keys", "result_store_entries", "no_ttl_idle_s"),
    fire=Case(
        keys=(
            {
                "key": "celery-task-meta-{i}",
                "pattern": "celery-task-meta-*",
                "lru_idle_s": 3 * _DAY,
                "repeat": 120,
            },
            {"key": "huey.results.app", "type": "hash", "num_elements": 5000, "pattern": "huey.results.*"},
        ),
        metadata=_owned(("celery-task-meta-*", "celery", "result"), ("huey.results.*", "huey", "result")),
    ),
    quiet=Case(
        keys=(
            {
                "key": "celery-task-meta-{i}",
                "pattern": "celery-task-meta-*",
                "expires_at": 1_900_000_000_000,
                "repeat": 120,
            },
            {"key": "huey.results.app", "type": "hash", "num_elements": 20, "pattern": "huey.results.*"},
            {"key": "report:{i}", "pattern": "report:*", "repeat": 120},
        ),
        metadata=_owned(("celery-task-meta-*", "celery", "result"), ("huey.results.*", "huey", "result")),
    ),
)

LIBRARY_CACHE_WITHOUT_TTL = Rule(
    id="library-cache-without-ttl",
    title="Cache and session entries of a known library without a TTL",
    category="code",
    severity="medium",
    description=(
        "A cache or session library (Django's cache framework, Rails' cache store, Flask-Session, "
        "Spring Session) wrote at least library_no_ttl_keys keys of one pattern without a TTL: an entry "
        "written with timeout=None (or a store configured without one) lives until it is deleted or "
        "evicted. The fix is the library's timeout setting, quoted per library; the saving counts the "
        "entries idle for no_ttl_idle_s (a day) or more (LRU snapshots). Trade-off: a shorter "
        "lifetime means more misses."
    ),
    fix=lambda ctx, agg: _settings(
        ctx, agg, ("cache", "session"), "Give the entries a lifetime in the library's timeout setting."
    ),
    select=lambda ctx: (
        has_role("cache", "session")
        & nw.col("expires_at").is_null()
        & (nw.col("pattern_keys") >= ctx["library_no_ttl_keys"])
    ),
    saving=idle_without_ttl,
    thresholds=("library_no_ttl_keys", "no_ttl_idle_s"),
    fire=Case(
        keys=({"key": ":1:product:{i}", "pattern": ":1:*", "lru_idle_s": 2 * _DAY, "repeat": 150},),
        metadata=_owned((":1:*", "django", "cache")),
    ),
    quiet=Case(
        keys=(
            {"key": ":1:product:{i}", "pattern": ":1:*", "expires_at": 1_900_000_000_000, "repeat": 150},
            {"key": "product:{i}", "pattern": "product:*", "repeat": 150},
        ),
        metadata=_owned((":1:*", "django", "cache")),
    ),
)


def stale_versions(ctx: Context) -> dict[str, tuple[str, int, int]]:
    """Patterns of a library family with a ``{version}`` in its name (Django's cache VERSION) under a
    version older than the newest one of the same family and prefix: ``{pattern: (owner, old, new)}``.

    Only whole numbers are versions: a pattern whose version part is anything else (an unknown version
    string) is left alone, never guessed at.
    """
    seen: dict[tuple[str, str, str], list[tuple[int, str]]] = {}
    for pattern, (owner, _) in owned_patterns(ctx).items():
        library = get(owner)
        if library is None:
            continue
        for family in library.families:
            if "version" not in family.groups or family.regex is None:
                continue
            match = re.match(family.regex, pattern)
            if match is None:
                continue
            version = match.groupdict().get("version") or ""
            if version.isdigit():
                prefix = match.groupdict().get("prefix") or ""
                seen.setdefault((owner, family.pattern, prefix), []).append((int(version), pattern))
            break  # the most specific family of the catalogue order that names it
    stale: dict[str, tuple[str, int, int]] = {}
    for (owner, _, _), versions in seen.items():
        newest = max(v for v, _ in versions)
        for version, pattern in versions:
            if version < newest:
                stale[pattern] = (owner, version, newest)
    return stale


def _stale_fix(ctx: Context, agg: Aggregates | None) -> str:
    stale = stale_versions(ctx)
    lines = []
    for pattern in agg.top_patterns if agg is not None else ():
        if pattern in stale:
            owner, old, new = stale[pattern]
            lines.append(
                f"{owner}: {pattern} was written under VERSION {old}; the cache now reads VERSION {new}. "
                f"Delete the old entries: cache.delete_pattern('*', version={old}) (django-redis), or "
                f"redis-cli --scan --pattern '{pattern}' | xargs redis-cli unlink"
            )
    return "\n".join(lines) or "Delete the entries of the older cache VERSION."


STALE_CACHE_VERSION = Rule(
    id="stale-cache-version",
    title="Cache entries under an old cache VERSION",
    category="memory",
    severity="low",
    description=(
        "Django's cache puts its VERSION in every key (<KEY_PREFIX>:<VERSION>:<key>). After VERSION is "
        "raised (CACHES['default']['VERSION'], or version= on cache calls), entries written under an "
        "older version are never read again, yet stay until their TTL runs out, or forever without one. "
        "The saving is what they hold. Only numeric versions are compared: an unknown version string is "
        "never a reason for advice. Trade-off: none, unless code still reads an old version explicitly."
    ),
    fix=_stale_fix,
    gate=lambda ctx: bool(stale_versions(ctx)),
    # (a typed list even when empty: an empty is_in gives some engines no type to compare with)
    select=lambda ctx: (
        nw.col("pattern").is_in(sorted(stale_versions(ctx)) or [""]) & nw.lit(bool(stale_versions(ctx)))
    ),
    saving=cost.freed,
    fire=Case(
        keys=(
            {"key": ":1:product:{i}", "pattern": ":1:*", "repeat": 20},
            {"key": ":2:product:{i}", "pattern": ":2:*", "repeat": 20},
        ),
        metadata=_owned((":1:*", "django", "cache"), (":2:*", "django", "cache")),
    ),
    quiet=Case(
        keys=(
            {"key": ":2:product:{i}", "pattern": ":2:*", "repeat": 20},
            {"key": ":v1:product:{i}", "pattern": ":v1:*", "repeat": 20},
        ),
        metadata=_owned((":2:*", "django", "cache"), (":v1:*", "django", "cache")),
    ),
)

RULES = [QUEUE_BACKLOG, RESULTS_WITHOUT_EXPIRY, LIBRARY_CACHE_WITHOUT_TTL, STALE_CACHE_VERSION]
