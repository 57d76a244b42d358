"""limits (and Flask-Limiter, SlowAPI on top of it): one key per limit and client."""

from insightkit.patterns.libraries.base import Family, Library

LIBRARY = Library(
    name="limits",
    title="limits (RedisStorage; used by Flask-Limiter and SlowAPI)",
    source="PyPI limits 5.8: limits/storage/redis.py (key_prefix 'LIMITS'), limits/limits.py key_for",
    verified="tests",
    scripts=6,
    families=(
        Family(
            "LIMITS:LIMITER/*",
            "rate-limit",
            ("LIMITS:LIMITER/api/6/10/1/minute", "LIMITS:LIMITER/login/16/10/1/minute"),
            ("LIMITER", "LIMITS:other"),
            types=("string", "list"),
        ),
        Family(
            "LIMITER/*",
            "rate-limit",
            ("LIMITER/api/6/10/1/minute",),
            types=("string", "list"),
            note="limits before 3.0 wrote no key prefix",
        ),
    ),
)
