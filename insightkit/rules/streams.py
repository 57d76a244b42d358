"""Stream and time-series rules: untrimmed streams, large or stale PELs, zsets used as time series."""

from __future__ import annotations

import narwhals as nw

from insightkit.rules._expr import is_type
from insightkit.rules.base import Case, Context, Rule

PEL_ENTRY_BYTES = 80  # one pending entry: a streamNACK plus its node in the group and consumer radix trees
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
        "Acknowledge, or reclaim with XAUTOCLAIM. Trade-off: none; pending entries are a bug."
    ),
    fix="XACK after processing; XAUTOCLAIM key group consumer 3600000 0 to reassign stuck entries.",
    select=lambda ctx: is_type("stream") & (nw.col("stream_pending").fill_null(0) >= ctx["stream_pending"]),
    saving=lambda ctx: nw.col("stream_pending") * PEL_ENTRY_BYTES,
    thresholds=("stream_pending",),
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
        "consumers and groups. Trade-off: none."
    ),
    fix="XINFO GROUPS key; XGROUP DELCONSUMER key group name; XGROUP DESTROY key group if unused.",
    select=lambda ctx: (
        is_type("stream")
        & (nw.col("stream_pending").fill_null(0) > 0)
        & (nw.col("lru_idle_s").fill_null(0) >= ctx["stream_stale_idle_s"])
    ),
    saving=lambda ctx: nw.col("stream_pending") * PEL_ENTRY_BYTES,
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

RULES = [BIG_STREAM, LARGE_PEL, STALE_PEL, MANY_CONSUMERS, ZSET_TIMESERIES]
