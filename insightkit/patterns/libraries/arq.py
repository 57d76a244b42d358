"""arq: one sorted set per queue, a string per job, result and in-progress keys."""

from insightkit.patterns.libraries.base import Family, Library

LIBRARY = Library(
    name="arq",
    title="arq",
    source="github python-arq/arq: arq/constants.py (key prefixes), arq/connections.py",
    families=(
        Family("arq:queue", "queue", ("arq:queue",), ("arq:queue:health-check",), types=("zset",)),
        Family("arq:queue:health-check", "worker", ("arq:queue:health-check",), types=("string",)),
        Family("arq:job:*", "job", ("arq:job:4a1f0e3c9b7d4e21a6a3c1d0b9e8f7a6",), types=("string",)),
        Family("arq:result:*", "result", ("arq:result:4a1f0e3c9b7d4e21a6a3c1d0b9e8f7a6",), types=("string",)),
        Family("arq:in-progress:*", "lock", ("arq:in-progress:4a1f0e3c",), types=("string",)),
        Family("arq:retry:*", "job", ("arq:retry:4a1f0e3c",), types=("string",)),
        Family("arq:abort", "registry", ("arq:abort",), types=("zset",)),
    ),
    broker=True,
    settings={
        "result": "results live keep_result seconds (default 3600; keep_result_forever=True never "
        "expires): @func(keep_result=…) or Worker(keep_result=…)"
    },
    backlog="is a worker running? arq <module>.WorkerSettings",
)
