"""MEMORY DOCTOR's checks and RedisInsight's INFO-based ones: fragmentation, peak, buffers, scripts.

These read ``metadata["info"]`` from a live snapshot; on a file snapshot they stay silent. Like MEMORY
DOCTOR (object.c, getMemoryDoctorReport), the checks it makes on a sizeable instance — fragmentation and
RSS ratios, peak, client and replica buffers — stay silent while ``used_memory`` (zmalloc_used_memory,
the doctor's ``total_allocated``; not the peak) is below 5 MiB, where the doctor reports only that the
instance is nearly empty (small-instance).
"""

from __future__ import annotations

from collections.abc import Callable

from insightkit._text import human_bytes
from insightkit.recommend.base import Case, Context, Finding, Rule

MB = 1024 * 1024


def _mem(**fields: float) -> dict[str, object]:
    return {"info": {"memory": {"used_memory": 200 * MB, **fields}}}


def _sizeable(ctx: Context) -> bool:
    """MEMORY DOCTOR's floor: used_memory known and at least small_instance_bytes (5 MiB)."""
    used = ctx.info_num("memory", "used_memory")
    return used is not None and used >= ctx["small_instance_bytes"]


def _fragmentation(ctx: Context) -> Finding | None:
    ratio = ctx.info_num("memory", "mem_fragmentation_ratio")
    rss = ctx.info_num("memory", "used_memory_rss")
    used = ctx.info_num("memory", "used_memory")
    if ratio is None or rss is None or used is None or not _sizeable(ctx):
        return None
    waste = ctx.info_num("memory", "mem_fragmentation_bytes") or rss - used
    if ratio <= ctx["fragmentation_ratio"] or waste <= ctx["fragmentation_bytes"]:
        return None
    return Finding(int(waste), f"RSS {human_bytes(rss)} for {human_bytes(used)} used (ratio {ratio:.2f})")


FRAGMENTATION = Rule(
    id="high-fragmentation",
    title="High memory fragmentation",
    category="memory",
    severity="high",
    description=(
        "The process holds much more RSS than the data it uses: freed memory the allocator cannot "
        "return (after deletes/expiry of many keys) or pages swapped back in. With jemalloc, active "
        "defragmentation moves values to compact pages online; otherwise a restart or failover to a "
        "freshly loaded replica reclaims it. Trade-off: activedefrag costs CPU (bounded by "
        "active-defrag-cycle-max)."
    ),
    fix="CONFIG SET activedefrag yes   # jemalloc builds; else fail over to a freshly synced replica",
    check=_fragmentation,
    thresholds=("fragmentation_ratio", "fragmentation_bytes", "small_instance_bytes"),
    peers=("MEMORY DOCTOR high fragmentation",),
    frees="rss",
    fire=Case(metadata=_mem(mem_fragmentation_ratio=2.0, used_memory_rss=400 * MB, used_memory=200 * MB)),
    quiet=Case(metadata=_mem(mem_fragmentation_ratio=1.05, used_memory_rss=210 * MB, used_memory=200 * MB)),
)


def _ratio_check(ratio_field: str, bytes_field: str, threshold: str) -> Callable[[Context], Finding | None]:
    def check(ctx: Context) -> Finding | None:
        ratio = ctx.info_num("memory", ratio_field)
        waste = ctx.info_num("memory", bytes_field)
        if ratio is None or waste is None or not _sizeable(ctx):
            return None
        if ratio <= ctx[threshold] or waste <= ctx["fragmentation_bytes"]:
            return None
        detail = f"{ratio_field} {ratio:.2f}, {human_bytes(waste)}"
        if _fragmentation(ctx) is not None:
            # Already inside high-fragmentation's RSS − used figure: do not count the bytes twice.
            return Finding(0, detail + " (part of high-fragmentation's estimate)", int(waste))
        return Finding(int(waste), detail, int(waste))

    return check


ALLOCATOR_FRAGMENTATION = Rule(
    id="allocator-fragmentation",
    title="High allocator fragmentation",
    category="memory",
    severity="medium",
    description=(
        "jemalloc reports many bytes in partly used pages (allocator_frag_bytes). This is the part "
        "active defragmentation can reclaim. Trade-off: CPU during defragmentation."
    ),
    fix="CONFIG SET activedefrag yes",
    check=_ratio_check("allocator_frag_ratio", "allocator_frag_bytes", "allocator_fragmentation_ratio"),
    thresholds=("allocator_fragmentation_ratio", "fragmentation_bytes", "small_instance_bytes"),
    peers=("MEMORY DOCTOR high allocator fragmentation",),
    frees="rss",
    fire=Case(metadata=_mem(allocator_frag_ratio=1.3, allocator_frag_bytes=50 * MB)),
    quiet=Case(metadata=_mem(allocator_frag_ratio=1.01, allocator_frag_bytes=1 * MB)),
)

RSS_OVERHEAD = Rule(
    id="rss-overhead",
    title="High process RSS overhead",
    category="memory",
    severity="low",
    description=(
        "The process's RSS exceeds what the allocator holds (rss_overhead_ratio), usually after a fork "
        "(copy-on-write during BGSAVE/AOF rewrite) or from libraries outside the allocator. It often "
        "settles by itself; persistent overhead points at transparent huge pages. Trade-off: none."
    ),
    fix="echo never > /sys/kernel/mm/transparent_hugepage/enabled   # and check fork frequency",
    check=_ratio_check("rss_overhead_ratio", "rss_overhead_bytes", "allocator_fragmentation_ratio"),
    thresholds=("allocator_fragmentation_ratio", "fragmentation_bytes", "small_instance_bytes"),
    peers=("MEMORY DOCTOR high process RSS overhead",),
    frees="rss",
    fire=Case(metadata=_mem(rss_overhead_ratio=1.5, rss_overhead_bytes=80 * MB)),
    quiet=Case(metadata=_mem(rss_overhead_ratio=1.0, rss_overhead_bytes=0)),
)


ALLOCATOR_RSS = Rule(
    id="allocator-rss-overhead",
    title="Allocator holds pages it no longer uses",
    category="memory",
    severity="low",
    description=(
        "jemalloc keeps freed pages resident (allocator_rss_ratio): memory already given back by Redis "
        "but not yet returned to the OS. MEMORY PURGE returns it at once; it is otherwise returned "
        "gradually. Trade-off: a short CPU burst."
    ),
    fix="MEMORY PURGE",
    check=_ratio_check("allocator_rss_ratio", "allocator_rss_bytes", "allocator_fragmentation_ratio"),
    thresholds=("allocator_fragmentation_ratio", "fragmentation_bytes", "small_instance_bytes"),
    peers=("MEMORY DOCTOR high allocator RSS overhead",),
    frees="rss",
    fire=Case(metadata=_mem(allocator_rss_ratio=1.4, allocator_rss_bytes=40 * MB)),
    quiet=Case(metadata=_mem(allocator_rss_ratio=1.02, allocator_rss_bytes=2 * MB)),
)


def _peak(ctx: Context) -> Finding | None:
    peak = ctx.info_num("memory", "used_memory_peak")
    used = ctx.info_num("memory", "used_memory")
    if not peak or not used or peak <= used * ctx["peak_ratio"] or not _sizeable(ctx):
        return None
    return Finding(detail=f"peak {human_bytes(peak)} is {peak / used:.1f}× the {human_bytes(used)} used now")


PEAK = Rule(
    id="memory-peak",
    title="Peak memory far above current use",
    category="memory",
    severity="info",
    description=(
        "Memory peaked at more than 1.5 times today's use. The RSS may still hold that peak (see "
        "fragmentation), and capacity must be planned for the peak, not the average. Find what caused "
        "it (a big batch import, client buffers, a fork). Trade-off: none; this is a warning."
    ),
    fix="MEMORY STATS / INFO memory at peak times; MEMORY PURGE returns freed pages to the OS (jemalloc).",
    check=_peak,
    thresholds=("peak_ratio", "small_instance_bytes"),
    peers=("MEMORY DOCTOR peak",),
    fire=Case(metadata=_mem(used_memory_peak=900 * MB, used_memory=300 * MB)),
    quiet=Case(metadata=_mem(used_memory_peak=310 * MB, used_memory=300 * MB)),
)


def _client_buffers(ctx: Context) -> Finding | None:
    total = ctx.info_num("memory", "mem_clients_normal")
    clients = ctx.info_num("clients", "connected_clients")
    if not total or not clients or not _sizeable(ctx):
        return None
    average = total / clients
    if average <= ctx["client_buffer_bytes"]:
        return None
    saving = int(total - clients * 20 * 1024)  # an idle client costs ~20 KB of buffers
    return Finding(
        max(saving, 0),
        f"{int(clients):,} clients hold {human_bytes(total)} of buffers ({human_bytes(average)} each)",
    )


CLIENT_BUFFERS = Rule(
    id="client-output-buffers",
    title="Big client buffers",
    category="operations",
    severity="medium",
    description=(
        "Normal clients hold on average more than 200 KiB of query/output buffers: clients reading huge "
        "replies (KEYS, HGETALL on big keys, MONITOR) or pipelining more than they read. This memory "
        "counts against maxmemory. Limit it with client-output-buffer-limit. Trade-off: clients over "
        "the limit are disconnected."
    ),
    fix='CONFIG SET client-output-buffer-limit "normal 64mb 16mb 60"; CLIENT LIST shows omem/qbuf per client',
    check=_client_buffers,
    thresholds=("client_buffer_bytes", "small_instance_bytes"),
    peers=("MEMORY DOCTOR big client buffers",),
    risk="medium",  # buffers count against maxmemory: a burst of them evicts keys or refuses writes
    fire=Case(
        metadata={
            "info": {
                "memory": {"mem_clients_normal": 50 * MB, "used_memory": 200 * MB},
                "clients": {"connected_clients": 10},
            }
        }
    ),
    quiet=Case(
        metadata={"info": {"memory": {"mem_clients_normal": 400_000}, "clients": {"connected_clients": 10}}}
    ),
)


def _replica_buffers(ctx: Context) -> Finding | None:
    total = ctx.info_num("memory", "mem_clients_slaves")
    replicas = ctx.info_num("replication", "connected_slaves")
    if not total or not replicas or total / replicas <= ctx["replica_buffer_bytes"] or not _sizeable(ctx):
        return None
    return Finding(detail=f"{int(replicas)} replicas hold {human_bytes(total)} of output buffers")


REPLICA_BUFFERS = Rule(
    id="replica-output-buffers",
    title="Big replica output buffers",
    category="operations",
    severity="medium",
    description=(
        "Each replica's output buffer holds more than 10 MiB: replicas are slow to read, or a full sync "
        "is in progress. If the buffer hits its limit the replica disconnects and resyncs again. Check "
        "the network and the replica's load. Trade-off: raising the limit costs memory on the primary."
    ),
    fix="Check replica lag (INFO replication); size client-output-buffer-limit replica for the write rate.",
    check=_replica_buffers,
    thresholds=("replica_buffer_bytes", "small_instance_bytes"),
    peers=("MEMORY DOCTOR big replica buffers",),
    fire=Case(
        metadata={
            "info": {
                "memory": {"mem_clients_slaves": 80 * MB, "used_memory": 200 * MB},
                "replication": {"connected_slaves": 2},
            }
        }
    ),
    quiet=Case(
        metadata={"info": {"memory": {"mem_clients_slaves": 40_000}, "replication": {"connected_slaves": 2}}}
    ),
)


def _scripts(ctx: Context) -> Finding | None:
    count = ctx.info_num("memory", "number_of_cached_scripts") or 0
    memory = ctx.info_num("memory", "used_memory_scripts") or ctx.info_num("memory", "used_memory_lua") or 0
    if count <= ctx["cached_scripts"] and memory <= ctx["scripts_memory_bytes"]:
        return None
    return Finding(int(ctx.info_num("memory", "used_memory_scripts") or 0), f"{int(count)} cached scripts")


LUA_SCRIPTS = Rule(
    id="lua-script-cache",
    title="Many cached Lua scripts",
    category="code",
    severity="medium",
    description=(
        "Every distinct script sent with EVAL stays in the script cache until SCRIPT FLUSH. Scripts "
        "generated with values inlined (instead of passed as KEYS/ARGV) make the cache grow without "
        "bound. Parametrise the script, or move it to a FUNCTION library. Trade-off: none."
    ),
    fix="Pass values as ARGV and use EVALSHA of one script; SCRIPT FLUSH ASYNC clears the cache.",
    check=_scripts,
    thresholds=("cached_scripts", "scripts_memory_bytes"),
    peers=(
        "RedisInsight v2 luaScript",
        "MEMORY DOCTOR many scripts",
        "RedisInsight v1 avoid-dynamic-lua-script",
    ),
    fire=Case(metadata=_mem(number_of_cached_scripts=5000, used_memory_scripts=12 * MB)),
    quiet=Case(metadata=_mem(number_of_cached_scripts=3, used_memory_scripts=2000)),
)


def _functions(ctx: Context) -> Finding | None:
    rdb = ctx.metadata.get("rdb") or {}
    libraries = list(rdb.get("functions") or []) if isinstance(rdb, dict) else []
    if len(libraries) <= ctx["function_libraries"]:
        return None
    memory = ctx.info_num("memory", "used_memory_vm_functions") or 0
    return Finding(0, f"{len(libraries)} function libraries, {human_bytes(memory)} of function VM memory")


FUNCTIONS = Rule(
    id="function-libraries",
    title="Many function libraries loaded",
    category="code",
    severity="low",
    description=(
        "The snapshot carries many FUNCTION libraries. Libraries loaded per tenant or generated per "
        "deploy accumulate like dynamic Lua scripts do, and are replicated and persisted. Consolidate "
        "them. Trade-off: none."
    ),
    fix="FUNCTION LIST to review; FUNCTION DELETE unused libraries; load one library per application.",
    check=_functions,
    thresholds=("function_libraries",),
    fire=Case(metadata={"rdb": {"functions": [f"lib{i}" for i in range(30)]}}),
    quiet=Case(metadata={"rdb": {"functions": ["lib1"]}}),
)


def _clients(ctx: Context) -> Finding | None:
    clients = ctx.info_num("clients", "connected_clients")
    if clients is None or clients <= ctx["connected_clients"]:
        return None
    return Finding(detail=f"{int(clients)} connected clients")


MANY_CLIENTS = Rule(
    id="many-connected-clients",
    title="Many connected clients",
    category="operations",
    severity="low",
    description=(
        "More than 100 clients are connected. Each costs buffers and a file descriptor; many short-lived "
        "or leaked connections point at a missing connection pool. Trade-off: none."
    ),
    fix="Use a connection pool; CLIENT LIST to find idle connections; set timeout to close idle ones.",
    check=_clients,
    thresholds=("connected_clients",),
    peers=("RedisInsight v2 bigAmountOfConnectedClients",),
    fire=Case(metadata={"info": {"clients": {"connected_clients": 2000}}}),
    quiet=Case(metadata={"info": {"clients": {"connected_clients": 12}}}),
)


def _small(ctx: Context) -> Finding | None:
    used = ctx.info_num("memory", "used_memory")
    if used is None or used >= ctx["small_instance_bytes"]:
        return None
    return Finding(detail=f"only {human_bytes(used)} used: findings about ratios may be noise")


SMALL_INSTANCE = Rule(
    id="small-instance",
    title="Instance is nearly empty",
    category="operations",
    severity="info",
    description=(
        "Less than 5 MiB is in use. Ratios such as fragmentation are meaningless at this size, so treat "
        "the other findings with care. Trade-off: none."
    ),
    fix="Nothing to do.",
    check=_small,
    thresholds=("small_instance_bytes",),
    peers=("MEMORY DOCTOR empty instance",),
    fire=Case(metadata={"info": {"memory": {"used_memory": 900_000}}}),
    quiet=Case(metadata={"info": {"memory": {"used_memory": 900 * MB}}}),
)

RULES = [
    FRAGMENTATION,
    ALLOCATOR_FRAGMENTATION,
    RSS_OVERHEAD,
    ALLOCATOR_RSS,
    PEAK,
    CLIENT_BUFFERS,
    REPLICA_BUFFERS,
    LUA_SCRIPTS,
    FUNCTIONS,
    MANY_CLIENTS,
    SMALL_INSTANCE,
]
