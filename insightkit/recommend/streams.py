"""Stream and time-series rules: preallocated stream nodes, untrimmed streams, large or stale PELs, zsets
used as time series."""

from __future__ import annotations

import narwhals as nw

from insightkit.memory.layout import LISTPACK_HEADER, STREAM_PREALLOC_MAX
from insightkit.recommend import cost
from insightkit.recommend._expr import is_type
from insightkit.recommend.base import Aggregates, Case, Context, Rule

TS_SAMPLE_BYTES = 16  # a RedisTimeSeries sample in a compressed chunk, generously


def _stream(**fields: object) -> dict[str, object]:
    return {"key": "events", "type": "stream", **fields}


def _trim_saving(ctx: Context) -> nw.Expr:
    """The trimmed entries' share of the node listpacks.

    Measured on Redis 7.0: used_memory falls by the trimmed share of the listpack payload
    (element_bytes), while MEMORY USAGE (value_bytes) over-reports stream nodes by about a third.
    """
    keep = int(ctx["big_stream_entries"])
    n = nw.col("stream_entries").fill_null(nw.col("num_elements"))
    payload = (
        nw.when(nw.col("element_bytes") > 0).then(nw.col("element_bytes")).otherwise(nw.col("value_bytes"))
    )
    return (payload * ((n - keep) / n)).round(0).cast(nw.Int64)


BIG_STREAM = Rule(
    id="untrimmed-streams",
    title="Streams growing without a cap",
    category="code",
    severity="medium",
    description=(
        "A stream keeps every entry until it is trimmed. Adding entries with XADD … MAXLEN ~ N (or "
        "MINID ~ <time>) caps it cheaply, whole nodes at a time. The saving is priced as trimming to "
        "the threshold length. Trade-off: consumers that fall behind more than N entries lose data."
    ),
    fix=lambda ctx, agg: (
        f"XADD key MAXLEN ~ {ctx['big_stream_entries']} * field value   "
        f"# or once: XTRIM key MAXLEN ~ {ctx['big_stream_entries']}"
    ),
    select=lambda ctx: (
        is_type("stream")
        & (nw.col("stream_entries").fill_null(nw.col("num_elements")) > ctx["big_stream_entries"])
    ),
    saving=_trim_saving,
    thresholds=("big_stream_entries",),
    mechanical=True,
    library_keys=False,
    risk="medium",  # grows without bound
    fire=Case(keys=(_stream(num_elements=200_000),)),
    quiet=Case(keys=(_stream(num_elements=2000),)),
)

LARGE_PEL = Rule(
    id="stream-large-pel",
    title="Streams with a large pending-entries list",
    category="code",
    severity="medium",
    description=(
        "Consumer groups keep every delivered but unacknowledged entry in their PEL. Thousands of "
        "pending entries mean consumers crash or forget XACK; the PEL grows and XPENDING slows. "
        "Acknowledge, or reclaim with XAUTOCLAIM. The saving is what XACK frees: each entry's streamNACK "
        "and its IDs in the group's and the consumer's radix trees (and, from Redis 8.2, in the "
        "stream's group-reference index), ~100 bytes an entry (~200 on 8.2) for entries written in "
        "bursts, up to half more for one entry a millisecond. Trade-off: none; pending entries are a "
        "bug."
    ),
    fix="XACK after processing; XAUTOCLAIM key group consumer 3600000 0 to reassign stuck entries.",
    select=lambda ctx: is_type("stream") & (nw.col("stream_pending").fill_null(0) >= ctx["stream_pending"]),
    saving=lambda ctx: (nw.col("stream_pending") * cost.pel_entry(ctx)).round(0).cast(nw.Int64),
    thresholds=("stream_pending",),
    risk="medium",  # pending entries are a consumer bug
    fire=Case(keys=(_stream(num_elements=5000, stream_groups=1, stream_consumers=2, stream_pending=4000),)),
    quiet=Case(keys=(_stream(num_elements=5000, stream_groups=1, stream_consumers=2, stream_pending=3),)),
)

STALE_PEL = Rule(
    id="stream-stale-pel",
    title="Idle streams with pending entries",
    category="operations",
    severity="low",
    description=(
        "The stream has not been touched for a day or more but its consumer groups still hold pending "
        "entries: the consumers are gone. The PEL and consumer records stay forever. Delete dead "
        "consumers and groups; the saving is what XGROUP DESTROY frees: the pending entries (as in "
        "stream-large-pel), each consumer and each group record (names priced at 16 bytes). Trade-off: "
        "none."
    ),
    fix="XINFO GROUPS key; XGROUP DELCONSUMER key group name; XGROUP DESTROY key group if unused.",
    select=lambda ctx: (
        is_type("stream")
        & (nw.col("stream_pending").fill_null(0) > 0)
        & (nw.col("lru_idle_s").fill_null(0) >= ctx["stream_stale_idle_s"])
    ),
    saving=lambda ctx: (
        (
            nw.col("stream_pending") * cost.pel_entry(ctx)
            + nw.col("stream_groups").fill_null(0) * cost.group_record(ctx)
            + nw.col("stream_consumers").fill_null(0) * cost.consumer_record(ctx)
        )
        .round(0)
        .cast(nw.Int64)
    ),
    thresholds=("stream_stale_idle_s",),
    fire=Case(
        keys=(
            _stream(
                num_elements=50, stream_groups=1, stream_consumers=1, stream_pending=10, lru_idle_s=900_000
            ),
        )
    ),
    quiet=Case(
        keys=(_stream(num_elements=50, stream_groups=1, stream_consumers=1, stream_pending=10, lru_idle_s=5),)
    ),
)

MANY_CONSUMERS = Rule(
    id="stream-many-consumers",
    title="Streams with very many consumers",
    category="code",
    severity="low",
    description=(
        "Consumer names created per process start (hostname+pid) accumulate: each consumer keeps a "
        "record and its own PEL tree even when the process is long gone. Reuse stable consumer names, "
        "and delete old ones. Trade-off: none."
    ),
    fix="Use stable consumer names; XGROUP DELCONSUMER for consumers idle in XINFO CONSUMERS.",
    select=lambda ctx: (
        is_type("stream") & (nw.col("stream_consumers").fill_null(0) >= ctx["stream_consumers"])
    ),
    thresholds=("stream_consumers",),
    fire=Case(keys=(_stream(num_elements=50, stream_groups=1, stream_consumers=500),)),
    quiet=Case(keys=(_stream(num_elements=50, stream_groups=1, stream_consumers=3),)),
)

ZSET_TIMESERIES = Rule(
    id="zset-time-series",
    title="Sorted sets used as time series",
    category="code",
    severity="low",
    description=(
        "Big sorted sets in patterns named like time series (metrics, events, history, timeline) are "
        "usually scored by timestamps. A skiplist costs ~60-100 bytes per sample; a time-series store "
        "(RedisTimeSeries / a stream with MINID trimming) compresses samples to a few bytes and expires "
        "old ones by retention. The saving assumes 16 bytes per sample. Names are the only evidence a "
        "snapshot offers, so check one key. Trade-off: a module dependency, or a different access API."
    ),
    fix="TS.CREATE key RETENTION 604800000; TS.ADD key <ts> <value>   # or XADD with MINID trimming",
    select=lambda ctx: (
        is_type("zset")
        & (nw.col("num_elements") >= ctx["timeseries_min_members"])
        & nw.col("timeseries_pattern")
    ),
    saving=lambda ctx: nw.col("value_bytes") - nw.col("num_elements") * TS_SAMPLE_BYTES,
    thresholds=("timeseries_min_members", "timeseries_pattern_regex"),
    peers=("RedisInsight v2 RTS",),
    library_keys=False,
    fire=Case(
        keys=(
            {
                "key": "metrics:cpu:1",
                "pattern": "metrics:cpu:*",
                "type": "zset",
                "encoding": "skiplist",
                "num_elements": 20_000,
            },
        )
    ),
    quiet=Case(
        keys=(
            {
                "key": "leaderboard:1",
                "pattern": "leaderboard:*",
                "type": "zset",
                "encoding": "skiplist",
                "num_elements": 20_000,
            },
        )
    ),
)

# --- stream node preallocation ---------------------------------------------------------------------
# t_stream.c (Redis >= 6.2, every Valkey; measured on 6.2, 7.0, 8.2, Valkey 8.1 and 9.1): the node an
# XADD opens is created as lpNew(min(4096, stream-node-max-bytes)) and keeps that allocation until the
# node is closed (lpShrinkToFit) — a stream of one small entry holds a 4 KB listpack. Loading an RDB
# makes nodes exact, so the waste comes back with the next XADD of each stream.
STREAM_SINCE = (6, 2, 0)
# listpack bytes of a one-node stream besides its strings: header and end (7), master entry count,
# deleted, field count and terminator (2 each), each entry's flags, ms and seq deltas and lp-count
STREAM_NODE_FIXED = LISTPACK_HEADER + 4 * 2
STREAM_ENTRY_FIXED = 4 * 2
STREAM_STRING_OVERHEAD = 1.125  # a listpack string's header and back-length: ~2 bytes per 16
STREAM_NODE_EXTRA = 64  # what a further node costs: its rax key, master entry and listpack header


def _node_max_bytes(ctx: Context) -> int:
    """stream-node-max-bytes as the server applies it to a new node's preallocation (0 = no limit)."""
    value = int(ctx["stream-node-max-bytes"])
    return STREAM_PREALLOC_MAX if value <= 0 else value


def _preallocated(ctx: Context) -> int:
    return min(STREAM_PREALLOC_MAX, _node_max_bytes(ctx))


def _node_target(ctx: Context) -> int:
    return max(1, min(int(ctx["stream_node_bytes_target"]), _preallocated(ctx)))


def _stream_bytes(ctx: Context) -> nw.Expr:
    """The stream's listpack bytes if it sits in one node (the common case for small streams)."""
    entries = nw.col("stream_entries").fill_null(nw.col("num_elements"))
    payload = nw.col("element_bytes") * STREAM_STRING_OVERHEAD
    return (payload + entries * STREAM_ENTRY_FIXED + STREAM_NODE_FIXED).round(0).cast(nw.Int64)


def _one_open_node(ctx: Context) -> nw.Expr:
    """Streams held in a single node — still the open one, mostly preallocated space — when a smaller
    stream-node-max-bytes would shrink that preallocation."""
    if _node_target(ctx) >= _preallocated(ctx):
        return nw.col("num_elements") < 0  # already at (or below) the target: nothing to gain
    entries = nw.col("stream_entries").fill_null(nw.col("num_elements"))
    one_node = entries >= 1
    max_entries = int(ctx["stream-node-max-entries"])
    if max_entries > 0:  # a node closes when an XADD finds it holding max_entries entries
        one_node = one_node & (entries <= max_entries)
    return is_type("stream") & one_node & (_stream_bytes(ctx) < _preallocated(ctx))


def _prealloc_saving(ctx: Context) -> cost.Steps:
    """alloc(preallocated now) − what the same entries cost in nodes of the target size."""
    target = _node_target(ctx)
    lp, nodes = f"{cost.TEMP}lp", f"{cost.TEMP}nodes"
    entries = nw.col("stream_entries").fill_null(nw.col("num_elements"))
    first: cost.Steps = [
        (lp, _stream_bytes(ctx)),
        # entries spill into further nodes once a node reaches the target (never more nodes than entries)
        (nodes, nw.min_horizontal(nw.max_horizontal(cost.ceil_div(nw.col(lp), target), nw.lit(1)), entries)),
    ]
    now = cost.alloc_steps("now", nw.lit(_preallocated(ctx)), ctx.allocator)
    after = cost.alloc_steps("after", nw.max_horizontal(nw.col(lp), nw.lit(target)), ctx.allocator)

    def saving(now_bytes: nw.Expr, after_bytes: nw.Expr) -> nw.Expr:
        return now_bytes - after_bytes - (nw.col(nodes) - 1) * STREAM_NODE_EXTRA

    return [*first, *cost.saving_steps(now, after, saving=saving)]


def _prealloc_fix(ctx: Context, agg: Aggregates | None) -> str:
    target = _node_target(ctx)
    lines = [
        f"CONFIG SET stream-node-max-bytes {target}   # and persist it in redis.conf",
        f"# New stream nodes are preallocated to {target} bytes instead of {_preallocated(ctx)}; streams "
        "already written shrink when their open node closes or the dataset is reloaded.",
        "# Cost: streams longer than one node use more, smaller nodes (measured on Redis 7.0 with "
        "~60-byte entries: +5 % at 1024, +22 % at 512; entries of ~10 bytes: no change at 1024, +5 % "
        "at 512). stream_node_bytes_target=512 saves more per small stream where no big stream lives.",
    ]
    patterns = agg.top_patterns if agg is not None else ()
    owners = {o.lower() for o in (agg.owners if agg is not None else ())}
    if "rq" in owners or any(p.startswith("rq:results") for p in patterns):
        lines.append(
            "# RQ keeps each job's results in a stream rq:results:<job id> (XADD ... MAXLEN 10) for "
            "result_ttl seconds (default 500): enqueue(..., result_ttl=0) where nobody reads return "
            "values, or a shorter result_ttl, keeps fewer of them alive."
        )
    return "\n".join(lines)


STREAM_PREALLOC = Rule(
    id="stream-node-preallocation",
    title="Small streams holding a preallocated 4 KiB node",
    category="configuration",
    severity="medium",
    description=(
        "Since Redis 6.2 (and in every Valkey) XADD creates each stream node with "
        "min(4096, stream-node-max-bytes) bytes and keeps them until the node is full: a stream of one "
        "or a few small entries — job results, per-user event logs — costs over 4 KiB where its data "
        "needs a few hundred bytes. A smaller stream-node-max-bytes shrinks that preallocation; the "
        "saving is priced for the streams that fit in one node as the allocation now minus the same "
        "entries in nodes of stream_node_bytes_target bytes. A snapshot read after a restart shows "
        "exact nodes, yet the waste returns with each stream's next XADD. Trade-off: big streams use "
        "more, smaller nodes (a few percent at 1024 bytes, more below)."
    ),
    fix=_prealloc_fix,
    gate=lambda ctx: ctx.family == "valkey" or ctx.version >= STREAM_SINCE,
    select=_one_open_node,
    saving=_prealloc_saving,
    thresholds=("stream-node-max-bytes", "stream-node-max-entries", "stream_node_bytes_target"),
    mechanical=True,
    fire=Case(
        keys=(
            _stream(
                key="rq:results:{i}", pattern="rq:results:*", num_elements=1, element_bytes=240, repeat=3
            ),
        )
    ),
    quiet=Case(
        keys=(
            _stream(
                key="rq:results:{i}", pattern="rq:results:*", num_elements=1, element_bytes=240, repeat=3
            ),
            _stream(key="events", num_elements=50_000, element_bytes=3_000_000),
        ),
        metadata={"config": {"stream-node-max-bytes": "1024"}},
    ),
)

RULES = [STREAM_PREALLOC, BIG_STREAM, LARGE_PEL, STALE_PEL, MANY_CONSUMERS, ZSET_TIMESERIES]
