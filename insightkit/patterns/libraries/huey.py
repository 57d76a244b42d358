"""huey's Redis storage: one list per queue, one sorted set of scheduled tasks, one results hash."""

from insightkit.patterns.libraries.base import Family, Library

LIBRARY = Library(
    name="huey",
    title="huey (RedisHuey / RedisExpireHuey)",
    source="PyPI huey 3.5: huey/storage.py (RedisStorage, RedisExpireStorage), huey/api.py",
    verified="tests",
    broker=True,
    scripts=1,
    families=(
        Family("huey.redis.*", "queue", ("huey.redis.ikapp",), ("huey.results.ikapp",), types=("list",)),
        Family("huey.schedule.*", "scheduler", ("huey.schedule.ikapp",), types=("zset",)),
        Family(
            "huey.results.*",
            "result",
            ("huey.results.ikapp",),
            types=("hash",),
            note="one hash for every result: a result stays until read, the hash never expires",
        ),
        Family("huey.r.*", "result", ("huey.r.ikapp.3f1c",), ("huey.redis.ikapp",), types=("string",)),
        Family("huey.counters.*", "stats", ("huey.counters.ikapp",), types=("hash",)),
        Family("huey.c.*", "stats", ("huey.c.ikapp.k",), types=("string",)),
    ),
    settings={
        "result": "results stay in huey.results.<name> until read (result.get() removes them): read "
        "them, run tasks that return nothing to read without results (RedisHuey(results=False) or "
        "store_none=False), or use RedisExpireHuey(expire_time=86400), which stores each result as "
        "its own key with a TTL",
    },
    backlog="is a consumer running? huey_consumer.py <module>.huey",
)
