"""Cluster mode: find the primaries, and tag each row with its node and hash slot.

Only primaries are snapshotted (a replica holds the same keys). The slot is what CLUSTER KEYSLOT
gives: CRC16-XMODEM of the key, or of the ``{hash tag}`` when the key has a non-empty one, mod 16384.
"""

from __future__ import annotations

from binascii import crc_hqx
from dataclasses import dataclass

import pyarrow as pa

from insightkit.errors import SnapshotError
from insightkit.rdb import unescape_key

from .connection import RespClient, ServerError

SLOTS = 16384


@dataclass(frozen=True)
class Primary:
    node_id: str
    host: str
    port: int
    slots: tuple[tuple[int, int], ...]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def key_slot(key: bytes) -> int:
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    return crc_hqx(key, 0) % SLOTS


def primaries(client: RespClient, default_host: str) -> list[Primary]:
    """Primaries that own slots, from CLUSTER NODES (works on every version with cluster mode)."""
    try:
        text = client.execute("CLUSTER", "NODES")
    except ServerError as exc:
        raise SnapshotError(
            f"{client.where}: cluster mode is on but CLUSTER NODES failed: {exc.reply}"
        ) from None
    out = []
    for line in (text.decode() if isinstance(text, bytes) else str(text)).splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        flags = set(fields[2].split(","))
        if "master" not in flags or flags & {"fail", "noaddr", "handshake"}:
            continue
        address = fields[1].split("@", 1)[0].split(",", 1)[0]
        host, _, port = address.rpartition(":")
        slots = []
        for spec in fields[8:]:
            if spec.startswith("["):  # a slot being migrated/imported
                continue
            first, _, last = spec.partition("-")
            slots.append((int(first), int(last or first)))
        if not slots:
            continue
        out.append(Primary(fields[0], host.strip("[]") or default_host, int(port), tuple(sorted(slots))))
    if not out:
        raise SnapshotError(f"{client.where}: cluster mode is on but no primary owns any slot")
    return sorted(out, key=lambda p: p.slots[0])


def add_node_columns(batch: pa.RecordBatch, node: str) -> pa.RecordBatch:
    """Append ``node`` (host:port) and ``slot`` (int32) to a decoded batch."""
    keys = batch.column("key").to_pylist()
    binary = batch.column("key_binary").to_pylist()
    slots = [
        key_slot(unescape_key(k) if is_binary else k.encode())
        for k, is_binary in zip(keys, binary, strict=True)
    ]
    node_col = pa.repeat(pa.scalar(node, pa.string()), batch.num_rows)
    arrays = [*batch.columns, node_col, pa.array(slots, pa.int32())]
    schema = batch.schema.append(pa.field("node", pa.string(), nullable=False)).append(
        pa.field("slot", pa.int32(), nullable=False)
    )
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
