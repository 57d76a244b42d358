"""dramatiq's Redis broker: a list per queue beside a hash of its messages, delay and dead-letter queues."""

from insightkit.patterns.libraries.base import Family, Library

LIBRARY = Library(
    name="dramatiq",
    title="dramatiq (RedisBroker)",
    source="PyPI dramatiq 2.2: dramatiq/brokers/redis.py, dramatiq/brokers/redis/dispatch.lua",
    verified="tests",
    broker=True,
    scripts=2,
    families=(
        Family("dramatiq:__heartbeats__", "worker", ("dramatiq:__heartbeats__",), types=("zset",)),
        Family("dramatiq:__acks__.*", "registry", ("dramatiq:__acks__.w1.exports",), types=("set",)),
        Family(
            "dramatiq:*.DQ.msgs",
            "scheduler",
            ("dramatiq:exports.DQ.msgs",),
            ("dramatiq:exports.msgs",),
            types=("hash",),
        ),
        Family(
            "dramatiq:*.XQ.msgs",
            "dead-letter",
            ("dramatiq:exports.XQ.msgs",),
            ("dramatiq:exports.msgs",),
            types=("hash",),
        ),
        Family(
            "dramatiq:*.DQ", "scheduler", ("dramatiq:exports.DQ",), ("dramatiq:exports",), types=("list",)
        ),
        Family(
            "dramatiq:*.XQ", "dead-letter", ("dramatiq:exports.XQ",), ("dramatiq:exports",), types=("zset",)
        ),
        Family("dramatiq:*.msgs", "job", ("dramatiq:exports.msgs",), ("dramatiq:exports",), types=("hash",)),
        Family(
            "dramatiq:*",
            "queue",
            ("dramatiq:exports", "dramatiq:default"),
            ("dramatiq:exports.msgs", "dramatiq:__heartbeats__", "dramatiq:exports.DQ"),
            regex=r"^dramatiq:[^.]+$",
            types=("list",),
        ),
    ),
    settings={
        "dead-letter": "dead-lettered messages stay dead_message_ttl (default 7 days): "
        "RedisBroker(dead_message_ttl=…)",
        "job": "message bodies stay in <queue>.msgs until acknowledged; they grow with the queue",
    },
    backlog="is a worker consuming it? dramatiq <module> --queues <queue>; check the .XQ dead letters",
)
