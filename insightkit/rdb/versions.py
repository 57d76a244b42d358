"""Which server version wrote a file: decides encoding names (embstr limit, listpack lists) and the model.

The ``redis-ver`` aux field (RDB >= 7) names it; Valkey also writes ``valkey-ver`` and keeps
``redis-ver`` at the Redis release it is compatible with. Older files only carry the RDB version,
from which the writing release can be narrowed to a range.
"""

from __future__ import annotations

from insightkit.versions import parse_version, rdb_writers


def writer_version(
    aux: dict[str, str], rdb_version: int, magic: str, server_version: str | None
) -> tuple[str, tuple[int, int], tuple[int, int], str]:
    """(family, family version, Redis-equivalent version, how it was found) for the writing server."""
    family, version = parse_version(server_version)
    if version is not None:
        if family is None:
            family = "valkey" if magic == "VALKEY" or "valkey-ver" in aux else "redis"
        redis_equiv = version if family == "redis" else _valkey_redis_equivalent(version, aux)
        return family, version, redis_equiv, "server_version"
    if "valkey-ver" in aux or magic == "VALKEY":
        _, vversion = parse_version(aux.get("valkey-ver"))
        vversion = vversion or (9, 0)
        return "valkey", vversion, _valkey_redis_equivalent(vversion, aux), "aux"
    _, rversion = parse_version(aux.get("redis-ver"))
    if rversion is not None:
        return "redis", rversion, rversion, "aux"
    guess = (rdb_writers(rdb_version) or ((7, 4), (7, 4)))[0]
    return "redis", guess, guess, "rdb-version"


def _valkey_redis_equivalent(version: tuple[int, int], aux: dict[str, str]) -> tuple[int, int]:
    _, rversion = parse_version(aux.get("redis-ver"))
    if rversion is not None:
        return rversion
    return (7, 2)  # every Valkey release forked from Redis 7.2
