"""Build Arrow record batches (exactly KEY_SCHEMA) from the decoder's C column buffers, without Python lists."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from insightkit.schema import KEY_SCHEMA

from ._decoder import ENCODING_LABELS

_ENCODINGS = pa.array(ENCODING_LABELS, pa.string())


def _masked(values: np.ndarray, valid: np.ndarray, typ: pa.DataType) -> pa.Array:
    if valid.all():
        return pa.array(values, typ)
    return pa.array(values, typ, mask=valid == 0)


def build_batch(n: int, cols: dict[str, Any], keydata: bytes, type_names: list[str]) -> pa.RecordBatch:
    """One RecordBatch from the first ``n`` rows of the decoder's arrays."""
    c = {name: arr[:n] for name, arr in cols.items()}
    offsets = cols["key_off"][: n + 1]
    keys = pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(keydata)])
    types = pa.array(type_names, pa.string()).take(pa.array(c["type"], pa.int32()))
    module_idx = c["module"]
    module = pa.array(type_names, pa.string()).take(
        pa.array(np.where(module_idx < 0, 0, module_idx), pa.int32(), mask=module_idx < 0)
    )
    columns = [
        pa.array(c["db"], pa.int32()),
        keys,
        pa.array(c["key_binary"].view(np.bool_), pa.bool_()),
        types,
        _ENCODINGS.take(pa.array(c["encoding"], pa.int32())),
        pa.array(c["num_elements"], pa.int64()),
        pa.array(c["largest_element_bytes"], pa.int64()),
        pa.array(c["element_bytes"], pa.int64()),
        pa.array(c["serialized_bytes"], pa.int64()),
        _masked(c["expires_at"], c["expires_at_valid"], pa.int64()),
        _masked(c["lru_idle_s"], c["lru_idle_s_valid"], pa.int64()),
        _masked(c["lfu_freq"], c["lfu_freq_valid"], pa.int16()),
        _masked(c["all_integers"].view(np.bool_), c["all_integers_valid"], pa.bool_()),
        _masked(c["volatile_fields"], c["hfe_valid"], pa.int64()),
        _masked(c["min_field_expires_at"], c["min_field_valid"], pa.int64()),
        _masked(c["stream_entries"], c["stream_valid"], pa.int64()),
        _masked(c["stream_groups"], c["stream_valid"], pa.int64()),
        _masked(c["stream_consumers"], c["stream_valid"], pa.int64()),
        _masked(c["stream_pending"], c["stream_valid"], pa.int64()),
        module,
        pa.array(c["memory_bytes"], pa.int64()),
        pa.array(c["key_bytes"], pa.int64()),
        pa.array(c["overhead_bytes"], pa.int64()),
        pa.array(c["value_bytes"], pa.int64()),
        pa.array(c["expires_bytes"], pa.int64()),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=KEY_SCHEMA)
