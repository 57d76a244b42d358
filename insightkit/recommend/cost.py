"""Memory arithmetic for "what would this key cost after the fix", as engine-neutral expressions.

The cost *now* is the snapshot's own ``value_bytes`` / ``memory_bytes`` (the memory model's estimate,
what MEMORY USAGE reports). The cost *after* a fix is computed here with the same allocator rules the
server uses, written as narwhals expressions so one formula runs on pandas and on DuckDB. Facts about
the encodings (listpack entry layout, intset width, sds headers) come from redis listpack.c / intset.c /
sds.h; the per-allocation rounding follows jemalloc's size classes (8-byte steps up to 64 in the build
Redis and Valkey bundle, "jemalloc"; 16-byte steps in a stock build, "jemalloc-16") or glibc's 16-byte
chunks ("libc"). What a top-level key costs besides its value depends on the server generation
(``key_layout``): a dictEntry + robj + key sds up to Redis 8.0 / Valkey 7.2, the key inside the dict
entry on Valkey 8.0, the key inside the value object from Valkey 8.1 and Redis 8.2.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import narwhals as nw
import numpy as np

from insightkit.memory import layout
from insightkit.memory.layout import (
    DICT_ENTRY,
    EMBKEY_ENTRY,
    EXPIRE_SLOT,
    INTSET_HEADER,
    JE_FINE_MAX,
    JE_LG_CLASSES,
    JE_QUANTUM,
    JE_QUANTUM_BUNDLED,
    JE_QUANTUM_MAX,
    JE_TINY,
    KV_HDR_BYTE,
    KV_LONG_KEY,
    LIBC_CHUNK,
    LIBC_HEADER,
    LIBC_MIN_CHUNK,
    LIBC_MMAP_HEADER,
    LIBC_MMAP_THRESHOLD,
    LIBC_PAGE,
    LISTPACK_HEADER,
    LP_STR6_BELOW,
    LP_STR12_BELOW,
    ROBJ,
    SDS5_BELOW,
    SDS5_HDR,
    SDS8_BELOW,
    SDS8_HDR,
    SDS16_BELOW,
    SDS16_HDR,
    SDS32_HDR,
)

if TYPE_CHECKING:
    from insightkit.recommend.base import Context

Steps = list[tuple[str, nw.Expr]]  # (temporary column, expression) evaluated in order; see engine
TEMP = "_ik_"  # prefix of temporary columns, dropped before anything leaves the engine

# Struct sizes, headers and size classes are insightkit.memory.layout's (layout.pxd), the numbers
# the memory model itself uses: this module only writes their arithmetic as expressions.


def floor_div(a: nw.Expr, b: nw.Expr | int) -> nw.Expr:
    """``a // b`` for non-negative sizes, as ``floor(a / b)``: exact below 2**53, and one cheap
    vectorised op on every engine (narwhals spells ``//`` on DuckDB as a per-row type test)."""
    return (a / b).floor().cast(nw.Int64)


def ceil_div(a: nw.Expr, b: nw.Expr | float) -> nw.Expr:
    return (a / b).ceil().cast(nw.Int64)


def _ceil_to(size: nw.Expr, step: int) -> nw.Expr:
    return ceil_div(size, step) * step


def jemalloc_spacing(size: nw.Expr) -> nw.Expr:
    """The distance between jemalloc's size classes around ``size`` (> 128): a quarter of its doubling."""
    doubling = nw.max_horizontal(size - 1, nw.lit(1)).log(2).floor()
    # up to 128 bytes the classes are 16 apart: no logarithm for them (DuckDB evaluates a CASE
    # branch only for its own rows)
    return (
        nw.when(size <= JE_QUANTUM_MAX)
        .then(nw.lit(JE_QUANTUM))
        .otherwise(nw.max_horizontal(nw.lit(2) ** (doubling - JE_LG_CLASSES), nw.lit(JE_QUANTUM)))
    )


def jemalloc(size: nw.Expr, spacing: nw.Expr | None = None, quantum: int = JE_QUANTUM) -> nw.Expr:
    """jemalloc's size class for ``size`` bytes: 8, then steps of 16 to 128, then 4 classes per doubling;
    with ``quantum`` 8 (the jemalloc Redis and Valkey bundle) steps of 8 up to 64 first.

    Closed form (no branch per class) so the expression stays small on every engine; ``spacing`` may
    be given as a column already holding ``jemalloc_spacing(size)``.
    """
    spacing = jemalloc_spacing(size) if spacing is None else spacing
    rounded = ceil_div(size, spacing) * spacing
    # Up to 128 bytes the classes are 16 apart: a branch of its own, so the logarithm (the costly
    # part on DuckDB, which evaluates a CASE branch only for its rows) runs for bigger sizes only.
    small = nw.when(size <= 0).then(nw.lit(0)).when(size <= JE_TINY).then(nw.lit(JE_TINY))
    if quantum == JE_QUANTUM_BUNDLED:
        small = small.when(size <= JE_FINE_MAX).then(_ceil_to(size, JE_QUANTUM_BUNDLED))
    return small.when(size <= JE_QUANTUM_MAX).then(_ceil_to(size, JE_QUANTUM)).otherwise(rounded)


def jemalloc_quantum(allocator: str) -> int:
    """The size-class quantum of a jemalloc allocator name: 16 for "jemalloc-16", else 8."""
    return JE_QUANTUM if allocator == "jemalloc-16" else JE_QUANTUM_BUNDLED


def libc(size: nw.Expr) -> nw.Expr:
    """glibc malloc_usable_size: 16-byte chunks with an 8-byte header, 24 bytes at least; from the
    128 KiB mmap threshold on, the chunk plus its header in whole pages, less a 16-byte header (as
    the memory model's ``glibc_size``)."""
    chunk = _ceil_to(size + LIBC_HEADER, LIBC_CHUNK)
    usable = chunk - LIBC_HEADER
    mapped = _ceil_to(chunk + LIBC_HEADER, LIBC_PAGE) - LIBC_MMAP_HEADER
    return (
        nw.when(size <= 0)
        .then(nw.lit(0))
        .when(size >= LIBC_MMAP_THRESHOLD)
        .then(mapped)
        .otherwise(nw.max_horizontal(usable, nw.lit(LIBC_MIN_CHUNK - LIBC_HEADER)))
    )


def alloc(size: nw.Expr, allocator: str) -> nw.Expr:
    return libc(size) if allocator == "libc" else jemalloc(size, quantum=jemalloc_quantum(allocator))


def sds_header(length: nw.Expr) -> nw.Expr:
    """sds header plus the NUL terminator: sdshdr5 (1 byte) below 32 bytes, then sdshdr8/16/32.

    Key names are copied with sdsdup, which picks the smallest header type, sdshdr5 included.
    """
    return (
        nw.when(length < SDS5_BELOW)
        .then(SDS5_HDR + 1)
        .when(length < SDS8_BELOW)
        .then(SDS8_HDR + 1)
        .when(length < SDS16_BELOW)
        .then(SDS16_HDR + 1)
        .otherwise(SDS32_HDR + 1)
    )


def sds_alloc(length: nw.Expr, allocator: str) -> nw.Expr:
    return alloc(length + sds_header(length), allocator)


def listpack_entry_overhead(avg_len: nw.Expr) -> nw.Expr:
    """Encoding header + back-length bytes of one string entry of ``avg_len`` bytes."""
    header = nw.when(avg_len < LP_STR6_BELOW).then(2).when(avg_len < 126).then(3)
    header = header.when(avg_len < LP_STR12_BELOW).then(4)
    return header.otherwise(7)  # (encoding byte(s) + back-length byte(s)) by entry size


def listpack_bytes(entries: nw.Expr, payload: nw.Expr) -> nw.Expr:
    """Bytes of a listpack holding ``entries`` string entries with ``payload`` bytes between them."""
    avg = payload / nw.max_horizontal(entries, nw.lit(1))
    return (payload + entries * listpack_entry_overhead(avg) + LISTPACK_HEADER).round(0).cast(nw.Int64)


def listpack_alloc(entries: nw.Expr, payload: nw.Expr, allocator: str) -> nw.Expr:
    return alloc(listpack_bytes(entries, payload), allocator)


def intset_width(largest_digits: nw.Expr) -> nw.Expr:
    """Bytes per member of an intset, from the widest member's decimal length (sign included)."""
    return nw.when(largest_digits <= 4).then(2).when(largest_digits <= 9).then(4).otherwise(8)


def intset_alloc(members: nw.Expr, largest_digits: nw.Expr, allocator: str) -> nw.Expr:
    return alloc(members * intset_width(largest_digits) + INTSET_HEADER, allocator)


def positive(expr: nw.Expr) -> nw.Expr:
    """Savings never go negative: a fix that would not pay off saves nothing."""
    return nw.max_horizontal(expr.fill_null(0), nw.lit(0))


# --- staged forms --------------------------------------------------------------------------------
# A size expression referenced by the allocator's rounding several times would be re-evaluated each
# time (and inlined into SQL each time): the staged helpers first materialise the size as a temporary
# column, then round that column. Each returns the steps plus the name of the column holding the result.


def alloc_steps(name: str, size: nw.Expr, allocator: str) -> tuple[Steps, nw.Expr]:
    size_col = f"{TEMP}{name}_size"
    out = f"{TEMP}{name}"
    if allocator == "libc":
        return [(size_col, size), (out, libc(nw.col(size_col)))], nw.col(out)
    spacing_col = f"{TEMP}{name}_spacing"  # its logarithm once, not once per use
    steps: Steps = [
        (size_col, size),
        (spacing_col, jemalloc_spacing(nw.col(size_col))),
        (out, jemalloc(nw.col(size_col), nw.col(spacing_col), jemalloc_quantum(allocator))),
    ]
    return steps, nw.col(out)


def sds_steps(name: str, length: nw.Expr, allocator: str) -> tuple[Steps, nw.Expr]:
    length_col = f"{TEMP}{name}_len"
    steps, result = alloc_steps(name, nw.col(length_col) + sds_header(nw.col(length_col)), allocator)
    return [(length_col, length), *steps], result


def key_layout(family: str, version: tuple[int, ...]) -> str:
    """How a server generation holds a top-level key (see ``key_steps``): "dict" (Redis <= 8.0, Valkey
    7.2), "embkey" (Valkey 8.0), "kvobj" (Valkey >= 8.1, Redis >= 8.2)."""
    return layout.key_layout(family, version)


def key_steps(name: str, key_len: nw.Expr, allocator: str, layout: str = "dict") -> tuple[Steps, nw.Expr]:
    """What one top-level key costs besides its value (the keyspace table's bucket aside): its name,
    the object header and the keyspace entry, as the generation's ``layout`` holds them.

    "dict": a dictEntry (24), an robj (16) and the key's sds; "embkey": the robj and one allocation of
    value + next pointers, a header-size byte and the key's sds; "kvobj": one allocation of robj, a
    header-size byte and the key's sds (the value's expiry slot, which keys of 128 bytes and more always
    have, counted; embedded strings aside).
    """
    length_col = f"{TEMP}{name}_len"
    key_sds = nw.col(length_col) + sds_header(nw.col(length_col))
    if layout == "kvobj":
        # keys of 128 bytes and more always get the 8-byte expiry slot (object.c)
        expiry = nw.when(nw.col(length_col) >= KV_LONG_KEY).then(EXPIRE_SLOT).otherwise(0)
        steps, result = alloc_steps(name, key_sds + ROBJ + KV_HDR_BYTE + expiry, allocator)
        return [(length_col, key_len), *steps], result
    if layout == "embkey":
        steps, result = alloc_steps(name, key_sds + EMBKEY_ENTRY, allocator)
        return [(length_col, key_len), *steps], result + ROBJ
    steps, result = alloc_steps(name, key_sds, allocator)
    return [(length_col, key_len), *steps], result + ROBJ + DICT_ENTRY


def listpack_steps(name: str, entries: nw.Expr, payload: nw.Expr, allocator: str) -> tuple[Steps, nw.Expr]:
    e, p = f"{TEMP}{name}_entries", f"{TEMP}{name}_payload"
    avg = f"{TEMP}{name}_avg"
    first: Steps = [(e, entries), (p, payload), (avg, nw.col(p) / nw.max_horizontal(nw.col(e), nw.lit(1)))]
    size = (
        (nw.col(p) + nw.col(e) * listpack_entry_overhead(nw.col(avg)) + LISTPACK_HEADER)
        .round(0)
        .cast(nw.Int64)
    )
    steps, result = alloc_steps(name, size, allocator)
    return [*first, *steps], result


def intset_steps(
    name: str, members: nw.Expr, largest_digits: nw.Expr, allocator: str
) -> tuple[Steps, nw.Expr]:
    return alloc_steps(name, members * intset_width(largest_digits) + INTSET_HEADER, allocator)


def saving_steps(*parts: tuple[Steps, nw.Expr], saving: object) -> Steps:
    """Concatenate staged parts and end with the saving expression built from their results."""
    steps: Steps = [step for part in parts for step in part[0]]
    assert callable(saving)
    return [*steps, ("saving", saving(*[part[1] for part in parts]))]


# --- sharding a big hash by crc32(field) % S ---------------------------------------------------------
# crc32 spreads n fields over S shards like n balls over S bins: each shard's size is ~ Poisson(λ = n/S),
# and the fullest of S shards sits about z·√λ above λ with z = √(2·ln S) (the expected maximum of S
# normal deviates, a little on the safe side). S is the smallest shard count with
#     λ + √(2·ln S)·√λ  <=  fill · hash-max-listpack-entries,
# i.e. λ = ((√(z² + 4T) − z) / 2)² with T = fill · limit, S = ⌈n / λ⌉; z depends on S, so the pair is
# iterated three times from S = ⌈n / T⌉ (it has converged by then: checked against a search over S).
SHARD_ITERATIONS = 3


def _shard_lambda(z: float, target: float) -> float:
    return ((math.sqrt(z * z + 4 * target) - z) / 2) ** 2


def hash_shards(fields: int, limit: int, fill: float) -> int:
    """Shards for ``fields`` fields so that the fullest stays under ``fill`` of the listpack ``limit``."""
    target = fill * limit
    shards = max(1, math.ceil(fields / target))
    for _ in range(SHARD_ITERATIONS):
        z = math.sqrt(2 * math.log(max(shards, 2)))
        shards = max(1, math.ceil(fields / _shard_lambda(z, target)))
    return shards


def hash_shard_steps(name: str, fields: nw.Expr, limit: int, fill: float) -> tuple[Steps, nw.Expr]:
    """``hash_shards`` as staged expressions (the same arithmetic, one row per key)."""
    target = fill * limit
    col = f"{TEMP}{name}0"
    steps: Steps = [(col, nw.max_horizontal(ceil_div(fields, target), nw.lit(1)))]
    for i in range(1, SHARD_ITERATIONS + 1):
        z = (nw.max_horizontal(nw.col(col), nw.lit(2)).log() * 2).sqrt()
        lam = ((z * z + 4 * target).sqrt() - z) / 2
        col = f"{TEMP}{name}{i}"
        steps.append((col, nw.max_horizontal(ceil_div(fields, lam * lam), nw.lit(1))))
    return steps, nw.col(col)


# --- constant sizes: structs whose size the sources fix ----------------------------------------------


def alloc_bytes(size: int, allocator: str) -> int:
    """``alloc`` for one constant request of ``size`` bytes (a struct, a node), as a Python int."""
    if size <= 0:
        return 0
    if allocator == "libc":
        if size >= LIBC_MMAP_THRESHOLD:
            chunk = math.ceil((size + LIBC_HEADER) / LIBC_CHUNK) * LIBC_CHUNK
            return math.ceil((chunk + LIBC_HEADER) / LIBC_PAGE) * LIBC_PAGE - LIBC_MMAP_HEADER
        return max(
            math.ceil((size + LIBC_HEADER) / LIBC_CHUNK) * LIBC_CHUNK - LIBC_HEADER,
            LIBC_MIN_CHUNK - LIBC_HEADER,
        )
    if size <= JE_TINY:
        return JE_TINY
    if jemalloc_quantum(allocator) == JE_QUANTUM_BUNDLED and size <= JE_FINE_MAX:
        return math.ceil(size / JE_QUANTUM_BUNDLED) * JE_QUANTUM_BUNDLED
    if size <= JE_QUANTUM_MAX:
        return math.ceil(size / JE_QUANTUM) * JE_QUANTUM
    spacing = max(2 ** (math.floor(math.log2(size - 1)) - JE_LG_CLASSES), JE_QUANTUM)
    return math.ceil(size / spacing) * spacing


# --- streams: what their radix trees and consumer groups really allocate -------------------------------
# MEMORY USAGE (object.c, streamRadixTreeMemoryUsage) charges a Redis stream's radix trees 16 bytes per
# ID plus 244 per node (sizeof(raxNode) + 30 longs): the node rax of a one-node stream 504, each pending
# entry of a consumer group ~550 (two trees). The trees' allocations are far smaller (rax.h, rax.c; all
# measured on 6.2, 7.0 and 8.2 by the drop in used_memory): a rax is a 24-byte struct and a 4-byte head
# node; a 16-byte stream ID is a leaf (the 4-byte node header and its value pointer) hung from its
# parent by one character and one pointer, and an ID that starts a new millisecond also gets a
# compressed node of its 8 sequence bytes (header, 8 bytes, 4 of padding, the child pointer). Valkey
# >= 8.0 charges what rax allocates (raxAllocSize), so only Redis streams are corrected.
RAX_STRUCT_BYTES = layout.RAX_STRUCT
RAX_NODE_BYTES = layout.RAX_NODE_HEADER
RAX_LEAF_BYTES = RAX_NODE_BYTES + 8
RAX_CHILD_BYTES = layout.RAX_CHILD
RAX_SEQUENCE_NODE_BYTES = RAX_NODE_BYTES + 8 + 4 + 8
# the compressed node a one-key rax turns its head into: header, the 16-byte ID, the child pointer
RAX_ONE_KEY_NODE_BYTES = RAX_NODE_BYTES + layout.STREAM_ID + 4 + 8
MEMORY_USAGE_RAX_NODE = layout.RAX_NODE_COST
STREAM_ID_BYTES = layout.STREAM_ID
# Pending entries from bursts of XADDs read together: as the memory model assumes where it does not
# read the IDs, a millisecond change every 4 entries. Measured on 7.0 (16-byte jemalloc classes): 85
# bytes a pending entry for a pipelined producer (~300 entries a millisecond), 92 at 10 a millisecond,
# 148 at one a millisecond; priced here at 98.
PEL_RUN_SHARE = 0.25
# A streamNACK: delivery time, delivery count, consumer; Redis 8.2 adds the entry's node in the
# stream's cgroups_ref index (ID -> list of the groups that reference it: one more rax ID, a 48-byte
# list and a 24-byte list node per entry), measured on 8.2.3 at ~180 bytes a pending entry
# (layout.nack_bytes; the list and list node: layout.LIST_STRUCT, layout.LIST_NODE)
# Consumer and group names are not in the key table: priced at this many bytes
STREAM_NAME_BYTES = 16


def rax_id_bytes(allocator: str, run_share: float = PEL_RUN_SHARE) -> float:
    """What one more stream ID costs a radix tree (the leaf, its slot, its share of sequence nodes)."""
    return (
        alloc_bytes(RAX_LEAF_BYTES, allocator)
        + RAX_CHILD_BYTES
        + run_share * alloc_bytes(RAX_SEQUENCE_NODE_BYTES, allocator)
    )


def empty_rax_bytes(allocator: str) -> int:
    return alloc_bytes(RAX_STRUCT_BYTES, allocator) + alloc_bytes(RAX_NODE_BYTES, allocator)


def pel_entry_bytes(family: str, version: tuple[int, ...], allocator: str) -> float:
    """What one pending entry holds: its streamNACK and its ID in the group's and the consumer's PEL
    trees; on Redis >= 8.2 also its ID, list and list node in the cgroups_ref index."""
    redis82 = layout.redis_82(family, version)
    nack = alloc_bytes(layout.nack_bytes(family, version), allocator)
    trees = 3 if redis82 else 2
    index = (
        alloc_bytes(layout.LIST_STRUCT, allocator) + alloc_bytes(layout.LIST_NODE, allocator)
        if redis82
        else 0
    )
    return nack + trees * rax_id_bytes(allocator) + index


def _name_node_bytes(allocator: str) -> int:
    """A name in the stream's groups rax or a group's consumers rax: a compressed node, a leaf."""
    padding = (8 - (STREAM_NAME_BYTES + RAX_NODE_BYTES) % 8) % 8
    node = RAX_NODE_BYTES + STREAM_NAME_BYTES + padding + 8
    return alloc_bytes(node, allocator) + alloc_bytes(RAX_LEAF_BYTES, allocator)


def group_record_bytes(family: str, version: tuple[int, ...], allocator: str) -> int:
    """A consumer group without its pending entries: streamCG (32 bytes before 7.0, 40 since), its
    empty PEL and consumers trees, its name in the stream's groups tree."""
    struct = layout.stream_group_struct(family, version)
    return alloc_bytes(struct, allocator) + 2 * empty_rax_bytes(allocator) + _name_node_bytes(allocator)


def consumer_record_bytes(family: str, version: tuple[int, ...], allocator: str) -> int:
    """A consumer without its pending entries: streamConsumer (24 bytes, 32 from 7.2 with
    active-time), its name sds, its empty PEL tree, its name in the group's consumers tree."""
    struct = layout.stream_consumer_struct(family, version)
    name = alloc_bytes(STREAM_NAME_BYTES + SDS5_HDR + 1, allocator)  # sdsnewlen: sds5 below 32 bytes
    return alloc_bytes(struct, allocator) + name + empty_rax_bytes(allocator) + _name_node_bytes(allocator)


class _ExprOps:
    """``stream_overcharge``'s operations as narwhals expressions (any engine, any number of rows)."""

    @staticmethod
    def where(condition: Any, then: Any, otherwise: Any) -> Any:
        return nw.when(condition).then(then).otherwise(otherwise)

    @staticmethod
    def maximum(value: Any, floor: float) -> Any:
        return nw.max_horizontal(value, nw.lit(floor))

    @staticmethod
    def ceil(value: Any) -> Any:
        return value.ceil()


class _ArrayOps:
    """The same operations on numpy arrays: the formula on a few stream rows, without the ~20 ms an
    expression of ~100 terms costs narwhals to evaluate on any table."""

    @staticmethod
    def where(condition: Any, then: Any, otherwise: Any) -> Any:
        return np.where(condition, then, otherwise)

    @staticmethod
    def maximum(value: Any, floor: float) -> Any:
        return np.maximum(value, floor)

    @staticmethod
    def ceil(value: Any) -> Any:
        return np.ceil(value)


def _memory_usage_rax(ids: Any, runs: Any, ops: Any) -> Any:
    """streamRadixTreeMemoryUsage as the memory model charges it (16 per ID, 244 per node)."""
    many = STREAM_ID_BYTES * ids + MEMORY_USAGE_RAX_NODE * (ids + runs + 1)
    two = float(STREAM_ID_BYTES + 2 * MEMORY_USAGE_RAX_NODE)
    return ops.where(ids <= 0, float(MEMORY_USAGE_RAX_NODE), ops.where(ids <= 1, two, many))


#: What ``stream_overcharge`` reads of a stream: its entries (``num_elements`` where unknown) and
#: these counts (0 where unknown), as floats.
OVERCHARGE_COUNTS = ("stream_pending", "stream_groups", "stream_consumers")


def overcharge_inputs() -> list[nw.Expr]:
    """The stream's entries and ``OVERCHARGE_COUNTS`` as the formula reads them."""
    entries = nw.col("stream_entries").fill_null(nw.col("num_elements")).cast(nw.Float64)
    return [entries, *(nw.col(c).fill_null(0).cast(nw.Float64) for c in OVERCHARGE_COUNTS)]


def stream_overcharge(
    family: str, version: tuple[int, ...], allocator: str, node_max_entries: int
) -> nw.Expr:
    """What ``memory_bytes`` charges a Redis stream beyond its allocations, as an expression: the radix
    trees at MEMORY USAGE's 244 bytes a node (0 for other keys and on Valkey; ``_overcharge``)."""
    if family == "valkey":
        return nw.lit(0.0)
    entries, pel, groups, consumers = overcharge_inputs()
    charged = _overcharge(
        family, version, allocator, node_max_entries, (entries, pel, groups, consumers), _ExprOps
    )
    return nw.when(nw.col("type") == "stream").then(charged).otherwise(0.0)


def stream_overcharge_of(
    family: str, version: tuple[int, ...], allocator: str, node_max_entries: int, inputs: list[np.ndarray]
) -> np.ndarray:
    """``stream_overcharge`` of stream rows, from their ``overcharge_inputs`` as numpy arrays."""
    if family == "valkey":
        return np.zeros(len(inputs[0]))
    entries, pel, groups, consumers = inputs
    charged = _overcharge(
        family, version, allocator, node_max_entries, (entries, pel, groups, consumers), _ArrayOps
    )
    return np.asarray(charged, dtype="float64")


def _overcharge(
    family: str,
    version: tuple[int, ...],
    allocator: str,
    node_max_entries: int,
    stream: tuple[Any, Any, Any, Any],
    ops: Any,
) -> Any:
    """A Redis stream's overcharge from its ``stream`` (entries, pending entries, groups, consumers, as
    floats) in ``ops``' terms (``_ExprOps``, ``_ArrayOps``): one formula for both.

    Nodes of the stream are taken as one per ``stream-node-max-entries`` entries (at least one); the
    pending entries' trees as the memory model prices them when it does not read the IDs (a new
    millisecond every 4 entries), split evenly over groups and consumers.
    """
    entries, pel, groups, consumers = stream
    per_node = max(int(node_max_entries), 1)
    nodes = ops.maximum(ops.ceil(entries / per_node), 1.0)
    one_node = float(
        empty_rax_bytes(allocator)
        - alloc_bytes(RAX_NODE_BYTES, allocator)
        + alloc_bytes(RAX_ONE_KEY_NODE_BYTES, allocator)
        + alloc_bytes(RAX_LEAF_BYTES, allocator)
    )
    node_rax_real = ops.where(
        nodes <= 1, one_node, empty_rax_bytes(allocator) + nodes * rax_id_bytes(allocator, 1.0)
    )
    # the stream's node rax: the memory model charges runs = nodes + 1 (one per master ID, +1)
    node_rax = _memory_usage_rax(nodes, nodes + 1, ops) - node_rax_real

    def trees(count: Any) -> Any:
        each = pel / ops.maximum(count, 1.0)
        return ops.where(count > 0, count * _memory_usage_rax(each, 1 + each / 4, ops), 0.0)

    # the groups as the memory model charges them (struct sizes unrounded) and as they are allocated
    group_struct = layout.stream_group_struct(family, version)
    consumer_struct = layout.stream_consumer_struct(family, version)
    nack = layout.nack_bytes(family, version)
    charged = (
        groups * group_struct
        + consumers * (consumer_struct + STREAM_NAME_BYTES)
        + pel * nack
        + trees(groups)
        + trees(consumers)
    )
    allocated = (
        groups * group_record_bytes(family, version, allocator)
        + consumers * consumer_record_bytes(family, version, allocator)
        + pel * pel_entry_bytes(family, version, allocator)
    )
    return ops.maximum(node_rax + ops.where(groups > 0, charged - allocated, 0.0), 0.0)


#: The key table's column holding each key's ``stream_overcharge`` (``overcharge``), derived once per
#: evaluation (``frames.with_row_columns``) rather than priced again inside every rule that frees keys.
OVERCHARGE = "stream_overcharge_bytes"


def overcharge(ctx: Context) -> nw.Expr:
    """``stream_overcharge`` for the snapshot's server generation, allocator and stream node size."""
    return stream_overcharge(ctx.family, ctx.version, ctx.allocator, int(ctx["stream-node-max-entries"]))


def overcharge_of(ctx: Context, inputs: list[np.ndarray]) -> np.ndarray:
    """``stream_overcharge_of`` for the snapshot's server generation, allocator and stream node size."""
    node_max_entries = int(ctx["stream-node-max-entries"])
    return stream_overcharge_of(ctx.family, ctx.version, ctx.allocator, node_max_entries, inputs)


def freed(ctx: Context) -> nw.Expr:
    """What deleting a key gives back: its memory and expires entry, less what MEMORY USAGE charges a
    Redis stream's radix trees beyond their allocations (the ``OVERCHARGE`` column)."""
    return nw.col("memory_bytes") + nw.col("expires_bytes").fill_null(0) - nw.col(OVERCHARGE)


def pel_entry(ctx: Context) -> float:
    return pel_entry_bytes(ctx.family, ctx.version, ctx.allocator)


def group_record(ctx: Context) -> int:
    return group_record_bytes(ctx.family, ctx.version, ctx.allocator)


def consumer_record(ctx: Context) -> int:
    return consumer_record_bytes(ctx.family, ctx.version, ctx.allocator)
