"""RQ (Python RQ 1.x-3.x): one hash per job, one list per queue, sorted-set registries per queue."""

from insightkit.patterns.libraries.base import Family, Library

_ID = "6f0c2a52-8b1e-4c3e-9a59-0e5b3c0c1f11"

LIBRARY = Library(
    name="rq",
    title="RQ (Redis Queue)",
    source="PyPI rq 3.0: rq/queue.py, job.py, registry.py, results.py, executions.py, worker/base.py",
    verified="tests",
    broker=True,
    scripts=9,
    families=(
        Family("rq:queue:*", "queue", ("rq:queue:default", "rq:queue:low"), ("rq:queues",), types=("list",)),
        Family("rq:queues", "registry", ("rq:queues",), ("rq:queue:default",), types=("set",)),
        Family(
            "rq:job:*:dependents",
            "registry",
            (f"rq:job:{_ID}:dependents",),
            (f"rq:job:{_ID}",),
            types=("set",),
        ),
        Family(
            "rq:job:*:dependencies",
            "registry",
            (f"rq:job::{_ID}:dependencies",),
            (f"rq:job:{_ID}",),
            types=("set",),
            note="RQ writes these with two colons after job (rq:job::<id>:dependencies)",
        ),
        Family("rq:job:*", "job", (f"rq:job:{_ID}", "rq:job:my-own-id"), ("rq:jobs",), types=("hash",)),
        Family("rq:results:*", "result", (f"rq:results:{_ID}",), (f"rq:job:{_ID}",), types=("stream",)),
        Family("rq:executions:*", "job", (f"rq:executions:{_ID}",), types=("zset",)),
        Family("rq:execution:*", "job", (f"rq:execution:{_ID}:7a1b",), types=("hash",)),
        Family("rq:wip:*", "registry", ("rq:wip:default",), types=("zset",), note="StartedJobRegistry"),
        Family("rq:finished:*", "registry", ("rq:finished:default",), types=("zset",)),
        Family("rq:failed:*", "dead-letter", ("rq:failed:default",), types=("zset",)),
        Family("rq:deferred:*", "registry", ("rq:deferred:default",), types=("zset",)),
        Family("rq:canceled:*", "registry", ("rq:canceled:default",), types=("zset",)),
        Family("rq:scheduled:*", "scheduler", ("rq:scheduled:default",), types=("zset",)),
        Family("rq:scheduler-lock:*", "lock", ("rq:scheduler-lock:default",), types=("string",)),
        Family("rq:clean_registries:*", "lock", ("rq:clean_registries:default",), types=("string",)),
        Family("rq:clean_groups", "lock", ("rq:clean_groups",), types=("string",)),
        Family("rq:groups", "registry", ("rq:groups",), types=("set",)),
        Family("rq:group:*", "job", ("rq:group:nightly",), types=("set",)),
        Family("rq:workers", "worker", ("rq:workers",), ("rq:worker:w1",), types=("set",)),
        Family("rq:workers:*", "worker", ("rq:workers:default",), types=("set",)),
        Family("rq:worker:*:executions", "worker", ("rq:worker:9d3c:executions",), types=("zset",)),
        Family("rq:worker:*", "worker", ("rq:worker:c5bdeaa5943747568936ace70e1ae612",), types=("hash",)),
    ),
    settings={
        "result": "results live result_ttl seconds (default 500; -1 keeps them forever): "
        "queue.enqueue(f, result_ttl=500) or @job(queue, result_ttl=500); rq worker --results-ttl sets the default",
        "job": "a finished job lives as long as its result (result_ttl), a failed one failure_ttl "
        "(default 1 year), a queued one ttl: enqueue(f, ttl=…, failure_ttl=86400)",
        "dead-letter": "failed jobs stay failure_ttl (default 1 year): enqueue(f, failure_ttl=86400); "
        "requeue or delete them with rq requeue / FailedJobRegistry",
        "registry": "registries are cleaned by workers (rq worker --with-scheduler); they grow when no "
        "worker runs",
    },
    backlog="rq info (workers per queue, failed jobs); start a worker for it: rq worker <queue>",
    # job.cleanup(ttl=result_ttl) expires the job hash with its result (RQ 3.0 job.py, measured)
    expire_with_results=("rq:job:*",),
)
