"""Build Arrow record batches (exactly KEY_SCHEMA) from the decoder's C column buffers, without Python lists."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from insightkit.schema import KEY_SCHEMA

# All-null columns are slices of one cached array per type (Arrow arrays are immutable, so batches may
# share its buffers): ``pa.nulls`` allocates and zero-fills a fresh data buffer each time, ~11 columns
# of a batch of plain strings (no TTLs, no streams, no modules).
_NULLS: dict[pa.DataType, pa.Array] = {}


def _nulls(n: int, typ: pa.DataType) -> pa.Array:
    cached = _NULLS.get(typ)
    if cached is None or len(cached) < n:
        cached = _NULLS[typ] = pa.nulls(max(n, 65536), typ)
    return cached.slice(0, n)


def _plain(values: np.ndarray, typ: pa.DataType) -> pa.Array:
    """``values`` (a contiguous numpy array of ``typ``'s width, or 0/1 bytes for booleans) without
    nulls, zero-copy for numbers. ``pa.array(ndarray)`` would first import pandas to ask whether the
    array is a pandas object: ~0.6 s on the first batch of a process that has not imported it."""
    if typ == pa.bool_():
        data = pa.py_buffer(np.packbits(values, bitorder="little"))
    else:
        data = pa.py_buffer(np.ascontiguousarray(values))
    return pa.Array.from_buffers(typ, len(values), [None, data], null_count=0)


def _masked(values: np.ndarray, valid: np.ndarray, typ: pa.DataType) -> pa.Array:
    """``values`` where ``valid`` (0/1 bytes) is set, else null. The validity bitmap is packed by
    numpy: ``pa.array(values, mask=...)`` converts the mask one element at a time."""
    n = len(values)
    count = int(np.count_nonzero(valid))
    if count == n:
        return _plain(values, typ)
    if count == 0:
        return _nulls(n, typ)
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    if typ == pa.bool_():
        data = pa.py_buffer(np.packbits(values, bitorder="little"))
    else:
        data = pa.py_buffer(np.ascontiguousarray(values))
    return pa.Array.from_buffers(typ, n, [bitmap, data], null_count=n - count)


def _strings(n: int, offsets: np.ndarray, data: np.ndarray) -> pa.Array:
    """A string column the decoder wrote row by row (Arrow layout: n + 1 int32 offsets, UTF-8 data)."""
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets[: n + 1]), pa.py_buffer(data)])


def build_batch(n: int, cols: dict[str, Any], keydata: bytes, type_names: list[str]) -> pa.RecordBatch:
    """One RecordBatch from the first ``n`` rows of the decoder's arrays."""
    c = {name: arr[:n] for name, arr in cols.items()}
    offsets = cols["key_off"][: n + 1]
    keys = pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(keydata)])
    types = _strings(n, cols["type_off"], cols["type_data"])
    module_idx = c["module"]
    no_module = module_idx < 0
    if no_module.all():  # the usual case: no module keys in this batch
        module = _nulls(n, pa.string())
    else:
        module = pa.array(type_names, pa.string()).take(
            pa.array(np.where(no_module, 0, module_idx), pa.int32(), mask=no_module)
        )
    columns = [
        _plain(c["db"], pa.int32()),
        keys,
        _plain(c["key_binary"], pa.bool_()),
        types,
        _strings(n, cols["encoding_off"], cols["encoding_data"]),
        _plain(c["num_elements"], pa.int64()),
        _plain(c["largest_element_bytes"], pa.int64()),
        _plain(c["element_bytes"], pa.int64()),
        _plain(c["serialized_bytes"], pa.int64()),
        _masked(c["expires_at"], c["expires_at_valid"], pa.int64()),
        _masked(c["lru_idle_s"], c["lru_idle_s_valid"], pa.int64()),
        _masked(c["lfu_freq"], c["lfu_freq_valid"], pa.int16()),
        _masked(c["all_integers"], c["all_integers_valid"], pa.bool_()),
        _masked(c["volatile_fields"], c["hfe_valid"], pa.int64()),
        _masked(c["min_field_expires_at"], c["min_field_valid"], pa.int64()),
        _masked(c["stream_entries"], c["stream_valid"], pa.int64()),
        _masked(c["stream_groups"], c["stream_valid"], pa.int64()),
        _masked(c["stream_consumers"], c["stream_valid"], pa.int64()),
        _masked(c["stream_pending"], c["stream_valid"], pa.int64()),
        module,
        _plain(c["memory_bytes"], pa.int64()),
        _plain(c["key_bytes"], pa.int64()),
        _plain(c["overhead_bytes"], pa.int64()),
        _plain(c["value_bytes"], pa.int64()),
        _plain(c["expires_bytes"], pa.int64()),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=KEY_SCHEMA)
