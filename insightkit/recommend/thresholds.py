"""Thresholds a rule compares against: the snapshot's own config, else the writing version's defaults.

Encoding limits are read from ``metadata["config"]`` (either spelling: ``*-listpack-*`` or the pre-7.0
``*-ziplist-*``), fall back to the defaults of ``metadata["server"]``'s version for file snapshots, and
any name can be overridden by the caller (``evaluate(..., thresholds={"big_hash_elements": 10_000})``).
insightkit's own cut-offs (big keys, idle time, …) live in ``INSIGHTKIT_DEFAULTS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from insightkit.errors import ConfigurationError

# Server config defaults shared by Redis 6.2 .. 8.x and Valkey (names in their 7.0+ spelling).
SERVER_DEFAULTS: dict[str, Any] = {
    "hash-max-listpack-entries": 512,
    "hash-max-listpack-value": 64,
    "zset-max-listpack-entries": 128,
    "zset-max-listpack-value": 64,
    "set-max-intset-entries": 512,
    "set-max-listpack-entries": 128,
    "set-max-listpack-value": 64,
    "list-max-listpack-size": -2,
    "list-compress-depth": 0,
    "stream-node-max-bytes": 4096,
    "stream-node-max-entries": 100,
    "maxmemory": 0,
    "maxmemory-policy": "noeviction",
    "lfu-decay-time": 1,  # minutes per step the LFU counter decays by; 0 = it never decays
    "activedefrag": "no",
}

# insightkit's own cut-offs; every one can be overridden per call.
INSIGHTKIT_DEFAULTS: dict[str, Any] = {
    "listpack_headroom": 8,  # raise an encoding limit at most this many times over the current one
    "listpack_max_entries": 4096,  # beyond this many entries listpack lookups get slow (O(n))
    "listpack_max_value": 1024,  # a listpack value limit above this hurts update latency
    "big_string_bytes": 100 * 1024,
    "big_hash_elements": 5000,
    "big_set_elements": 5000,
    "big_zset_elements": 5000,
    "big_list_elements": 10_000,
    "big_stream_entries": 10_000,
    "big_element_bytes": 512 * 1024,
    "long_list_elements": 1000,  # list compression pays off from here
    "small_string_value_bytes": 200,
    "small_string_pattern_keys": 1000,
    "bucket_size": 100,
    "shard_fill": 0.85,  # big-hashes: the fullest crc32 shard stays under this share of the listpack limit  # fields per bucket when small strings are folded into hashes
    "long_key_prefix_chars": 16,
    "long_key_pattern_keys": 1000,
    "short_prefix_chars_per_segment": 2,
    "string_id_max_bytes": 20,
    "string_id_min_members": 16,
    "idle_days": 30,
    # keys without a TTL idle this long are what a TTL would have removed by now (no-ttl-cache-keys,
    # results-without-expiry, library-cache-without-ttl)
    "no_ttl_idle_s": 86_400,
    "idle_lfu_counter": 0,  # LFU counters at or below this (decayed from LFU_INIT_VAL=5) count as idle
    "cache_pattern_regex": r"(?i)(?:^|[:._\-/])(?:cache|cached|session|sessions|sess|tmp|temp|token|tokens|otp|nonce|lock|locks|ratelimit|rate_limit|throttle)(?:[:._\-/]|$)",
    "timeseries_pattern_regex": r"(?i)(?:^|[:._\-/])(?:ts|timeseries|time_series|timeline|history|events|metrics|log|logs|series)(?:[:._\-/]|$)",
    "timeseries_min_members": 1000,
    "many_keys": 1_000_000,
    "tiny_key_memory_bytes": 200,
    "mass_expiry_keys": 10_000,
    "stream_node_bytes_target": 1024,  # stream-node-max-bytes the preallocation rule proposes
    "stream_pending": 1000,
    "stream_stale_idle_s": 86_400,
    "stream_consumers": 100,
    "hash_field_names_elements": 1000,
    "hash_field_names_avg_bytes": 16,
    "hash_list_pattern_keys": 1000,
    "hash_list_max_fields": 16,
    "fragmentation_ratio": 1.4,
    "fragmentation_bytes": 10 * 1024 * 1024,
    "allocator_fragmentation_ratio": 1.1,
    "peak_ratio": 1.5,
    "client_buffer_bytes": 200 * 1024,
    "replica_buffer_bytes": 10 * 1024 * 1024,
    "cached_scripts": 10,
    "scripts_memory_bytes": 3_000_000,
    "lua_to_functions_scripts": 1,  # cached EVAL scripts from which FUNCTION libraries are suggested
    "function_libraries": 20,
    "queue_backlog_items": 1000,  # a known library's queue holding this many jobs is a backlog
    "library_no_ttl_keys": 100,  # keys of one library result/cache pattern without a TTL that count
    "result_store_entries": 1000,  # entries of one result store (huey's hash, BullMQ's completed set)
    "connected_clients": 100,
    "small_instance_bytes": 5 * 1024 * 1024,
    # severity of priced findings by their share of memory (insightkit.recommend.severity)
    "severity_high_share": 0.10,
    "severity_medium_share": 0.01,
    "severity_min_bytes": 1024 * 1024,
    "min_recommended_version": "7.4",  # Redis: the oldest line still patched (SECURITY.md)
    "min_recommended_valkey_version": "7.2",  # Valkey: older "Valkey" versions do not exist
}

_ALIASES = {
    "hash-max-ziplist-entries": "hash-max-listpack-entries",
    "hash-max-ziplist-value": "hash-max-listpack-value",
    "zset-max-ziplist-entries": "zset-max-listpack-entries",
    "zset-max-ziplist-value": "zset-max-listpack-value",
    "list-max-ziplist-size": "list-max-listpack-size",
}


def canonical(name: str) -> str:
    """The 7.0+ spelling of a config name (``hash-max-ziplist-entries`` → ``hash-max-listpack-entries``)."""
    return _ALIASES.get(name, name)


def _coerce(value: Any, default: Any) -> Any:
    if isinstance(default, bool) or not isinstance(default, int | float):
        return value
    try:
        return type(default)(value)
    except (TypeError, ValueError):
        try:
            return float(value)
        except (TypeError, ValueError):
            return default


class Thresholds:
    """Resolved thresholds: user override > snapshot config > version default."""

    def __init__(self, config: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None):
        self.config = {canonical(k): v for k, v in (config or {}).items()}
        self.overrides = {canonical(k): v for k, v in (overrides or {}).items()}
        known = SERVER_DEFAULTS.keys() | INSIGHTKIT_DEFAULTS.keys()
        unknown = sorted(set(self.overrides) - known)
        if unknown:
            raise ConfigurationError(f"unknown threshold(s) {unknown}; see insightkit.recommend.thresholds")

    def __getitem__(self, name: str) -> Any:
        name = canonical(name)
        default = SERVER_DEFAULTS.get(name, INSIGHTKIT_DEFAULTS.get(name))
        if name in self.overrides:
            return _coerce(self.overrides[name], default)
        if name in self.config:
            return _coerce(self.config[name], default)
        if default is None:
            raise ConfigurationError(f"unknown threshold {name!r}; see insightkit.recommend.thresholds")
        return default

    def from_config(self, name: str) -> bool:
        """True when the value came from the server's own CONFIG GET (not a default)."""
        return canonical(name) in self.config

    def as_dict(self) -> dict[str, Any]:
        return {name: self[name] for name in (*SERVER_DEFAULTS, *INSIGHTKIT_DEFAULTS)}
