"""Sidekiq (Ruby): a list per queue, the set of queue names, sorted sets for schedule/retry/dead."""

from insightkit.patterns.libraries.base import Family, Library

_Q = "queues"

LIBRARY = Library(
    name="sidekiq",
    title="Sidekiq",
    source="github sidekiq/sidekiq: lib/sidekiq/api.rb, client.rb, launcher.rb (queues, queue:<name>, "
    "schedule, retry, dead, processes, stat:*)",
    broker=True,
    scripts=2,
    families=(
        Family(_Q, "registry", ("queues",), ("queue:default",), types=("set",)),
        Family(
            "queue:*",
            "queue",
            ("queue:default", "queue:mailers"),
            ("queues",),
            types=("list",),
            requires=_Q,
            note="owned only beside the queues set: queue:* alone is a common name",
        ),
        Family("schedule", "scheduler", ("schedule",), types=("zset",), requires=_Q),
        Family("retry", "scheduler", ("retry",), types=("zset",), requires=_Q),
        Family("dead", "dead-letter", ("dead",), types=("zset",), requires=_Q),
        Family("processes", "worker", ("processes",), types=("set",), requires=_Q),
        Family("stat:processed:*", "stats", ("stat:processed:2026-10-01",), types=("string",), requires=_Q),
        Family("stat:failed:*", "stats", ("stat:failed:2026-10-01",), types=("string",), requires=_Q),
        Family("stat:processed", "stats", ("stat:processed",), types=("string",), requires=_Q),
        Family("stat:failed", "stats", ("stat:failed",), types=("string",), requires=_Q),
    ),
    settings={
        "dead-letter": "the dead set keeps dead_max_jobs (default 10,000) for dead_timeout_in_seconds "
        "(default 6 months): Sidekiq.configure_server { |c| c[:dead_max_jobs] = … }",
        "scheduler": "retries: sidekiq_options retry: <n> (default 25, about three weeks of retries)",
        "stats": "daily stat:* counters are kept five years",
    },
    backlog="Sidekiq Web (Busy, Queues): is a process listening on this queue? sidekiq -q <queue>; "
    "check the retry and dead sets",
)
