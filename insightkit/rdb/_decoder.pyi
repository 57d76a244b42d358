from collections.abc import Callable
from typing import Any

import numpy as np

TYPE_NAMES: tuple[str, ...]
ENCODING_LABELS: tuple[str, ...]

class Decoder:
    want: int
    rdb_version: int
    magic: str
    header_done: bool
    eof_seen: bool
    finished: bool
    checksum_state: str | None
    total_bytes: int
    aux: dict[str, str]
    functions: list[str]
    modules: list[str]
    resize_db: dict[int, dict[str, int]]
    keys_per_db: dict[int, int]
    expires_per_db: dict[int, int]
    slot_info: dict[int, int]
    notes: list[str]
    newer_than_known: bool
    on_header: Callable[[Decoder], Any] | None
    batch_size: int
    batch_limit: int
    crc_sink: Callable[[memoryview], None] | None
    crc_wait: Callable[[], int] | None
    n: int
    type_names: list[str]
    segment_room: int
    slot_open: bool
    scan_min_bytes: int
    segment_min_keys: int
    def __init__(
        self,
        batch_size: int = 65536,
        verify_checksum: bool = True,
        on_header: Callable[[Decoder], Any] | None = None,
    ) -> None: ...
    def feed(self, chunk: bytes | bytearray | memoryview) -> None: ...
    def ready(self) -> bool: ...
    def parse(self) -> int: ...
    def at_stream_end(self) -> None: ...
    def leftover(self) -> bytes: ...
    def take_batch(self) -> tuple[int, dict[str, np.ndarray], bytes]: ...
    def take_segment(self) -> tuple[memoryview, int, int, int]: ...
    def segment_decoder(self) -> Decoder: ...
    def decode_segment(self, segment: memoryview, base_offset: int, db: int, nkeys: int) -> None: ...
    def set_writer_version(self, major: int, minor: int, embedded_keys: bool = False) -> None: ...
    def pass_barrier(self) -> None: ...
    def hash_templates(self) -> dict[str, int]: ...
