"""BullMQ (Node.js): per queue, lists and sorted sets by job state, one hash per job, an events stream."""

from insightkit.patterns.libraries.base import Family, Library

_P = r"^bull:(?P<queue>[^:]+):"


def _state(name: str, role: str, types: tuple[str, ...]) -> Family:
    return Family(
        f"bull:{{queue}}:{name}",
        role,
        (f"bull:email:{name}",),
        (f"bull:email:{name}x",),
        regex=_P + name.replace("-", r"\-") + "$",
        types=types,
    )


LIBRARY = Library(
    name="bullmq",
    title="BullMQ (and Bull 3/4, same layout)",
    source="github taskforcesh/bullmq: src/classes/queue-keys.ts (prefix 'bull', the per-queue key "
    "suffixes), src/classes/job.ts (<prefix>:<queue>:<jobId>, :logs, :lock, :dependencies, :processed)",
    broker=True,
    scripts=100,
    families=(
        _state("wait", "queue", ("list",)),
        _state("paused", "queue", ("list",)),
        _state("prioritized", "queue", ("zset",)),
        _state("waiting-children", "registry", ("zset",)),
        _state("active", "registry", ("list",)),
        _state("delayed", "scheduler", ("zset",)),
        _state("repeat", "scheduler", ("zset",)),
        _state("completed", "result", ("zset",)),
        _state("failed", "dead-letter", ("zset",)),
        _state("stalled", "registry", ("set",)),
        _state("stalled-check", "lock", ("string",)),
        _state("limiter", "rate-limit", ("string",)),
        _state("meta", "registry", ("hash",)),
        _state("events", "events", ("stream",)),
        _state("id", "stats", ("string",)),
        _state("pc", "stats", ("string",)),
        _state("marker", "registry", ("zset",)),
        Family(
            "bull:{queue}:de:*",
            "lock",
            ("bull:email:de:welcome-42",),
            regex=_P + r"de:.+$",
            types=("string",),
        ),
        Family(
            "bull:{queue}:*:logs", "job", ("bull:email:17:logs",), regex=_P + r"[^:]+:logs$", types=("list",)
        ),
        Family(
            "bull:{queue}:*:lock",
            "lock",
            ("bull:email:17:lock",),
            regex=_P + r"[^:]+:lock$",
            types=("string",),
        ),
        Family(
            "bull:{queue}:*:dependencies",
            "registry",
            ("bull:email:17:dependencies",),
            regex=_P + r"[^:]+:dependencies$",
            types=("set",),
        ),
        Family(
            "bull:{queue}:*:processed",
            "result",
            ("bull:email:17:processed",),
            regex=_P + r"[^:]+:processed$",
            types=("hash",),
        ),
        Family(
            "bull:{queue}:*",
            "job",
            ("bull:email:17", "bull:email:repeat:abc:1700000000000"),
            ("bull:email", "bull:email:17:logs"),
            regex=_P + r"[^:]+(?::[^:]+:[0-9]+)?$",
            types=("hash",),
        ),
    ),
    settings={
        "result": "completed jobs are kept forever unless removeOnComplete: { age, count } is set in the "
        "job options (or the Worker's defaults)",
        "dead-letter": "failed jobs are kept forever unless removeOnFail: { age, count } is set",
        "events": "the events stream is capped at streams.events.maxLen (default 10,000)",
    },
    backlog="is a Worker running for this queue (queue.getWorkers())? is the queue paused "
    "(bull:<queue>:paused)? check failed jobs",
)
