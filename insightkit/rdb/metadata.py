"""What a decoded RDB says about itself besides its keys (docs/architecture.md, ``RdbMetadata``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RdbMetadata:
    """File-level facts; complete once the reader has been iterated to the end.

    ``checksum`` is ``"ok"``, ``"disabled"`` (zero trailer), ``"not-verified"`` (verify_checksum=False)
    or ``"absent"`` (RDB < 5); ``None`` while decoding has not reached the end.

    ``newer_than_known`` is true for a file whose header names an RDB version newer than the newest the
    decoder knows (15 for ``REDIS``, 80 for ``VALKEY``): it is read with the newest rules it knows,
    which works as long as every type byte in it is one the decoder knows (else an ``RdbFormatError``
    names the type, the key and the offset); ``notes`` then says so in words. ``hash_templates``
    (RDB 15) counts the hash templates the file declares: ``{"count", "fields", "bytes"}`` with
    ``bytes`` their estimated memory, shared by the keys that use them and not part of any key's
    ``memory_bytes``; empty when there are none.
    """

    rdb_version: int | None = None
    magic: str | None = None
    aux: dict[str, str] = field(default_factory=dict)
    redis_version: str | None = None
    server: dict[str, Any] = field(default_factory=dict)
    functions: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    resize_db: dict[int, dict[str, int]] = field(default_factory=dict)
    keys_per_db: dict[int, int] = field(default_factory=dict)
    expires_per_db: dict[int, int] = field(default_factory=dict)
    slot_info: dict[int, int] = field(default_factory=dict)
    checksum: str | None = None
    total_bytes: int | None = None
    memory_model: dict[str, Any] = field(default_factory=dict)
    dataset_overhead: dict[int, dict[str, int]] = field(default_factory=dict)
    complete: bool = False
    newer_than_known: bool = False
    notes: list[str] = field(default_factory=list)
    hash_templates: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: dict keys become strings (JSON objects cannot have int keys)."""
        out = asdict(self)
        for name in ("resize_db", "keys_per_db", "expires_per_db", "slot_info", "dataset_overhead"):
            out[name] = {str(k): v for k, v in out[name].items()}
        return out
