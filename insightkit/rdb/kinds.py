"""The names behind the numbers in ``_kinds.pxd``: one definition for the decoder, the model and Python.

``_kinds.pxd`` holds the C enums the decoder and the memory model are compiled against; these tuples are
indexed by them. The decoder checks, when imported, that every enum constant lands on its name here
(``check_enum``), so the two cannot drift apart silently.
"""

from __future__ import annotations

from collections.abc import Mapping

# The `type` column (TYPE command), indexed by the T_* label numbers; module keys get their module's
# type name at runtime instead.
TYPE_NAMES: tuple[str, ...] = ("string", "list", "set", "zset", "hash", "stream", "array", "gcra")

# OBJECT ENCODING names, indexed by Encoding (ENC_*); ENC_MODULE is the model's own ("module").
ENCODING_NAMES: tuple[str, ...] = (
    "raw", "int", "embstr", "hashtable", "linkedlist", "ziplist", "listpack", "listpackex",
    "intset", "zipmap", "quicklist", "skiplist", "stream", "module",
    "sliced-array", "template-listpack", "template-array",
)  # fmt: skip

# The `encoding` column: as ENCODING_NAMES, except that a module key says "raw" as OBJECT ENCODING does.
ENCODING_LABELS: tuple[str, ...] = tuple("raw" if name == "module" else name for name in ENCODING_NAMES)

# The memory model's logical kinds, indexed by Kind (KIND_*): TYPE_NAMES up to streams, then modules.
KIND_NAMES: tuple[str, ...] = ("string", "list", "set", "zset", "hash", "stream", "module", "array", "gcra")


def check_enum(names: tuple[str, ...], numbers: Mapping[str, int], what: str) -> None:
    """Raise ImportError unless ``numbers`` (name -> compiled enum value) matches ``names`` exactly."""
    if len(numbers) != len(names) or any(
        names[n] != name for name, n in numbers.items() if 0 <= n < len(names)
    ):
        raise ImportError(f"{what}: the compiled enum does not match insightkit.rdb.kinds ({dict(numbers)})")
    if any(not 0 <= n < len(names) for n in numbers.values()):
        raise ImportError(f"{what}: a compiled enum value is outside insightkit.rdb.kinds ({dict(numbers)})")


# Decoder.parse() results, indexed by Status (ST_*) in _kinds.pxd.
STATUS_NAMES: tuple[str, ...] = ("need_more", "batch_full", "done", "segment", "flush", "barrier")
NEED_MORE, BATCH_FULL, DONE, SEGMENT, FLUSH, BARRIER = range(len(STATUS_NAMES))
