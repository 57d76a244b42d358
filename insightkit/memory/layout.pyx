# cython: language_level=3
"""The memory layout's numbers for Python (defined once, in layout.pxd) and the version tests that
pick among them, shared by the memory model (_model.pyx) and the after-the-fix pricing (recommend/cost.py).

Every constant of layout.pxd is a module-level int here (``cpdef enum``); the functions below are the
one place a server family/version is mapped to a generation or to a version-dependent struct size.
"""

# "jemalloc": the jemalloc Redis and Valkey bundle (deps/, built with an 8-byte quantum), in every build
# from their sources; "jemalloc-16": a jemalloc with its stock 16-byte quantum (distribution packages that
# link the system library, e.g. Debian's redis-server); "libc": glibc malloc. Indexed by ALLOC_* codes.
ALLOCATORS = ("jemalloc", "jemalloc-16", "libc")

# How each generation (GEN_*) holds a top-level key: a dictEntry + robj + key sds ("dict"), the key
# inside the dict entry ("embkey", Valkey 8.0), the key inside the value object ("kvobj").
KEY_LAYOUTS = ("dict", "dict", "embkey", "kvobj", "kvobj")


def _major_minor(version: tuple) -> tuple:
    return tuple(int(part) for part in version[:2])


def generation(family: str, version: tuple) -> int:
    """The accounting generation (GEN_*) of a server family ("redis"/"valkey") and version."""
    v = _major_minor(version)
    if family == "valkey":
        if v >= (8, 1):
            return GEN_V81
        return GEN_V80 if v >= (8, 0) else GEN_R70
    # Redis 8.0 keeps 7.x's keyspace (dictEntry + key sds + robj); the kvobj came with 8.2
    return GEN_R82 if v >= (8, 2) else (GEN_R70 if v >= (7, 0) else GEN_R62)


def key_layout(family: str, version: tuple) -> str:
    """"dict" (Redis <= 8.0, Valkey 7.2), "embkey" (Valkey 8.0) or "kvobj" (Valkey >= 8.1, Redis >= 8.2)."""
    return KEY_LAYOUTS[generation(family, version)]


def redis_equivalent(family: str, version: tuple) -> tuple:
    """The Redis release whose structs a server has: itself, or 7.2 for every Valkey (forked from it)."""
    return _major_minor(version) if family == "redis" else (7, 2)


def redis_82(family: str, version: tuple) -> bool:
    """Redis >= 8.2 (kvobj keyspace, the streams' cgroups_ref index)."""
    return family == "redis" and _major_minor(version) >= (8, 2)


def stream_group_struct(family: str, version: tuple) -> int:
    """sizeof(streamCG)."""
    return STREAM_CG_R62 if redis_equivalent(family, version) < (7, 0) else STREAM_CG


def stream_consumer_struct(family: str, version: tuple) -> int:
    """sizeof(streamConsumer)."""
    return STREAM_CONSUMER if redis_equivalent(family, version) >= (7, 2) else STREAM_CONSUMER_R70


def nack_bytes(family: str, version: tuple) -> int:
    """A pending entry's streamNACK as MEMORY USAGE counts it (Redis 8.2: + its cgroups_ref node)."""
    return NACK + (NACK_R82 if redis_82(family, version) else 0)


def allocator_code(allocator: str) -> int:
    """ALLOC_* for an allocator name of ALLOCATORS."""
    return ALLOCATORS.index(allocator)
