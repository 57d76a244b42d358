"""Live snapshots: act as a replica (PSYNC/SYNC) or walk the keyspace with SCAN+DUMP, decode as bytes arrive.

``open_snapshot(source)`` yields decoded record batches; ``snapshot(source, path)`` writes the RDB and
returns the metadata. Sources: redis://, rediss://, unix:// URLs, ``host:port`` or a redis-py client.
"""

from insightkit.acquire.snapshot import NodeSnapshot, Snapshot, open_snapshot, snapshot

__all__ = ["NodeSnapshot", "Snapshot", "open_snapshot", "snapshot"]
