"""Celery with the Redis broker (kombu) and the Redis result backend."""

from insightkit.patterns.libraries.base import Family, Library

_ID = "66c4b7f8-2d1c-4d7b-9893-847afd80b21c"
_BINDINGS = "_kombu.binding.*"
_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

LIBRARY = Library(
    name="celery",
    title="Celery (kombu Redis transport, Redis result backend)",
    source="PyPI celery 5.7 / kombu 5.7: kombu/transport/redis.py, celery/backends/redis.py, "
    "celery/backends/base.py (KeyValueStoreBackend key prefixes)",
    verified="tests",
    broker=True,
    scripts=5,
    families=(
        Family("celery-task-meta-*", "result", (f"celery-task-meta-{_ID}",), ("celery",), types=("string",)),
        Family("celery-taskset-meta-*", "result", (f"celery-taskset-meta-{_ID}",), types=("string",)),
        Family(
            "*.j",
            "result",
            (f"{_ID}.j",),
            ("reports.j",),
            regex=_UUID + r"\.j$",
            types=("list",),
            note="chord join lists of the Redis result backend",
        ),
        Family(
            "*.t",
            "result",
            (f"{_ID}.t",),
            ("reports.t",),
            regex=_UUID + r"\.t$",
            types=("string",),
            note="chord counters of the Redis result backend",
        ),
        Family(
            _BINDINGS,
            "registry",
            ("_kombu.binding.celery", "_kombu.binding.reports", "_kombu.binding.celery.pidbox"),
            ("_kombu.binding_deadlines",),
            regex=r"^_kombu\.binding\.(?P<exchange>.+)$",
            types=("set",),
            link_group="exchange",
            link_role="queue",
            note="one set per exchange; with Celery's defaults each queue has an exchange of its own "
            "name, so a list named like an exchange is that queue",
        ),
        Family(
            "_kombu.binding_permanent.*", "registry", ("_kombu.binding_permanent.reports",), types=("set",)
        ),
        Family("_kombu.binding_deadlines", "registry", ("_kombu.binding_deadlines",), types=("zset",)),
        Family("unacked", "registry", ("unacked",), ("unacked_index",), types=("zset",), requires=_BINDINGS),
        Family("unacked_index", "registry", ("unacked_index",), types=("hash",), requires=_BINDINGS),
        Family("unacked_mutex", "lock", ("unacked_mutex",), types=("string",), requires=_BINDINGS),
        Family(
            "*.reply.celery.pidbox",
            "queue",
            (f"{_ID}.reply.celery.pidbox",),
            types=("list",),
            note="replies to remote-control commands (celery inspect)",
        ),
    ),
    settings={
        "result": "app.conf.result_expires (default 1 day; None or 0 keeps results forever); "
        "@app.task(ignore_result=True) for tasks whose result nobody reads",
        "registry": "kombu keeps one binding set per exchange; they are small and its own",
    },
    backlog="celery -A proj inspect active_queues (does any worker consume this queue?); "
    "celery -A proj worker -Q <queue>; check task_routes",
)
