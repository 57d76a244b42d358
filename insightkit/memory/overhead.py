"""Dataset-level memory no single key owns: the main and expires hash tables of each database.

MEMORY USAGE charges each key its own entry (dictEntry / embedded robj) but not the bucket arrays of
the keyspace tables; INFO's used_memory_overhead counts those arrays *and* the per-key entries and
robj headers (MEMORY STATS ``overhead.hashtable.main``). Both views are given so totals can be set
beside INFO: sum(memory_bytes) + main/expires table bytes ≈ used_memory - startup/clients/buffers.
"""

from __future__ import annotations

from collections.abc import Mapping

from insightkit.memory._model import MemoryModel
from insightkit.memory.layout import (
    DICT_ENTRY,
    DICT_ENTRY_NO_VALUE,
    DICT_MIN_BUCKETS,
    DICT_SLOT,
    GEN_R82,
    GEN_V81,
    ROBJ,
    generation,
)


def keyspace_table_bytes(model: MemoryModel, entries: int) -> int:
    """Bucket array (+ table struct on Valkey >= 8.1) of a keyspace table holding ``entries`` keys."""
    if entries <= 0:
        return 0
    if _hashtable_generation(model):
        return int(model.dict_table_bytes(entries))
    buckets = DICT_MIN_BUCKETS
    while buckets < entries:
        buckets *= 2
    return buckets * DICT_SLOT


def dataset_overhead(
    model: MemoryModel,
    keys_per_db: Mapping[int, int],
    expires_per_db: Mapping[int, int] | None = None,
) -> dict[int, dict[str, int]]:
    """Per db: ``main_dict_bytes``/``expires_dict_bytes`` (tables no key is charged for), and the
    ``overhead_hashtable_main``/``overhead_hashtable_expires`` figures MEMORY STATS would report.
    """
    expires_per_db = expires_per_db or {}
    out: dict[int, dict[str, int]] = {}
    for db, keys in sorted(keys_per_db.items()):
        expires = int(expires_per_db.get(db, 0))
        main = keyspace_table_bytes(model, int(keys))
        exp = keyspace_table_bytes(model, expires)
        if _hashtable_generation(model):
            stats_main = main + keys * ROBJ
            stats_expires = exp
        elif _kvobj_generation(model):
            # no_value dicts: MEMORY STATS prices each entry as a 16-byte no-value dictEntry (dict.c
            # dictEntryMemUsage); the dicts' own structs and metadata (~2.7 KB per db) are not counted
            stats_main = main + keys * (DICT_ENTRY_NO_VALUE + ROBJ)
            stats_expires = exp + expires * DICT_ENTRY_NO_VALUE
        else:
            stats_main = main + keys * (DICT_ENTRY + ROBJ)
            stats_expires = exp + expires * DICT_ENTRY
        out[int(db)] = {
            "main_dict_bytes": main,
            "expires_dict_bytes": exp,
            "overhead_hashtable_main": stats_main,
            "overhead_hashtable_expires": stats_expires,
        }
    return out


def _kvobj_generation(model: MemoryModel) -> bool:
    return generation(model.family, model.version) == GEN_R82


def _hashtable_generation(model: MemoryModel) -> bool:
    return generation(model.family, model.version) == GEN_V81
