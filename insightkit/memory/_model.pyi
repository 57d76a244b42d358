"""Type stub for the Cython memory model (insightkit/memory/_model.pyx)."""

from typing import Any

ENCODING_NAMES: tuple[str, ...]
KIND_NAMES: tuple[str, ...]
ALLOCATORS: tuple[str, ...]

class MemoryModel:
    allocator: str
    version: tuple[int, int]
    family: str
    list_compress_depth: int
    stream_prealloc: int
    description: dict[str, Any]
    state: str
    def __init__(
        self,
        family: str = "redis",
        version: tuple[int, int] = (7, 0),
        allocator: str = "jemalloc",
        list_compress_depth: int = 0,
        stream_prealloc: int = -1,
        state: str = "live",
    ) -> None: ...
    def alloc_size(self, size: int) -> int: ...
    def sds_size(self, length: int) -> int: ...
    def element_cost(self, kind: int, a_len: int, b_len: int = 0) -> int: ...
    def blob_cost(self, kind: int, nbytes: int, compressed: int = -1) -> int: ...
    def dict_table_bytes(self, n: int, steps_per_insert: int = 0, created_at: int = -1) -> int: ...
    def estimate_facts(
        self,
        *,
        kind: str | int,
        encoding: str | int,
        key_len: int,
        has_expire: bool = False,
        num_elements: int = 1,
        value_len: int = 0,
        int_value: bool = False,
        elements: Any = (),
        blobs: Any = (),
        stream_groups: int = 0,
        stream_consumers: int = 0,
        stream_pel: int = 0,
        stream_name_bytes: int = 0,
        module_bytes: int = 0,
        rdb_type: int = 0,
    ) -> dict[str, int]: ...
    def benchmark(self, keys: int = 1000000) -> float: ...
    def describe(self) -> dict[str, Any]: ...
