"""Memory model: what each key costs in RAM on the server that wrote the snapshot.

``model_for()`` picks a ``MemoryModel`` (family, version, allocator) from what the file says; the
decoder drives it through the cdef interface in ``_model.pxd``; ``dataset_overhead()`` gives the
per-database table costs no key is charged for.
"""

from insightkit.memory._model import ENCODING_NAMES, KIND_NAMES, MemoryModel
from insightkit.memory.overhead import dataset_overhead, keyspace_table_bytes
from insightkit.memory.select import choose, model_for, parse_server_version

__all__ = [
    "ENCODING_NAMES",
    "KIND_NAMES",
    "MemoryModel",
    "choose",
    "dataset_overhead",
    "keyspace_table_bytes",
    "model_for",
    "parse_server_version",
]
