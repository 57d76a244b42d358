"""What an RSNAP file is: which columns it may hold, where the metadata lives, which schema version.

An RSNAP is ordinary Parquet so that pyarrow, pandas, DuckDB and Spark read it with no insightkit
installed. The snapshot metadata travels in the Parquet footer's key-value metadata as one JSON
document, next to the schema version as a plain string so a reader can refuse a newer file before
parsing anything else.

Schema versions: the number grows when columns are added or their meaning changes. A reader opens
every version up to its own (missing columns come back as nulls, see ``upgrade_table``) and refuses a
newer one with a clear error rather than misreading it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from insightkit.errors import RsnapError
from insightkit.schema import (
    COLUMN_DOCS,
    KEY_COLUMNS,
    KEY_SCHEMA,
    NODE_COLUMN,
    PATTERN_COLUMN,
    SLOT_COLUMN,
)

RSNAP_SCHEMA_VERSION = 1

# Parquet footer key-value metadata keys.
META_KEY = b"insightkit.metadata"
VERSION_KEY = b"insightkit.rsnap_schema_version"

# Columns added after decoding; together with KEY_SCHEMA these are the only columns an RSNAP may hold.
# Refusing anything else is how "no values, ever" is enforced by construction.
EXTRA_FIELDS: dict[str, pa.Field] = {
    PATTERN_COLUMN: pa.field(PATTERN_COLUMN, pa.string(), nullable=True),
    NODE_COLUMN: pa.field(NODE_COLUMN, pa.string(), nullable=True),
    SLOT_COLUMN: pa.field(SLOT_COLUMN, pa.int32(), nullable=True),
}
EXTRA_DOCS: dict[str, str] = {
    PATTERN_COLUMN: "Key pattern (namespace) the key belongs to, e.g. user:*:session.",
    NODE_COLUMN: "Cluster node (host:port of the primary) that holds the key; absent for one server.",
    SLOT_COLUMN: "Cluster hash slot of the key; absent for one server.",
}
ALLOWED_COLUMNS: list[str] = [*KEY_COLUMNS, *EXTRA_FIELDS]

# Metadata keys documented in docs/rsnap.md (the architecture's metadata dict plus what rsnap adds).
METADATA_DOCS: dict[str, str] = {
    "rsnap_schema_version": "Version of this layout (an integer); readers open every version up to theirs.",
    "insightkit_version": "insightkit version that wrote the file.",
    "method": "How the keys were obtained: sync, dump or file (rsnap when re-written from an RSNAP).",
    "original_method": "Only after load(): the method stored in the file.",
    "source": "Where the keys came from, without credentials (redis://127.0.0.1:7001/0, a path).",
    "fallback_reason": "Why method auto fell back from replica sync to SCAN+DUMP; absent otherwise.",
    "snapshot_time_ms": "Epoch milliseconds when the snapshot was taken (file: ctime aux field, else mtime).",
    "server": "{family, version, allocator} of the server that produced the data.",
    "rdb": "Decoder metadata: rdb_version, magic, aux fields, functions, modules, resize_db, "
    "keys_per_db, checksum, total_bytes, memory_model, dataset_overhead (per-db dict overhead), "
    "hash_templates (RDB 15: count, fields, bytes of the shared templates), newer_than_known and notes "
    "(a header version newer than the decoder knows, read with the newest rules).",
    "info": "Live snapshots: INFO sections {section: {field: value}} (server, memory, keyspace, …).",
    "config": "Live snapshots: CONFIG GET values (encoding thresholds, maxmemory, policy); secrets removed.",
    "config_missing": "Config names that could not be read (CONFIG blocked).",
    "acl": "Live snapshots (Redis/Valkey >= 6, ACL LIST allowed): one entry per ACL user {user, enabled, "
    "nopass, passwords (a count), all_keys, all_commands, dangerous (+@all or +@dangerous not taken "
    "back: FLUSHALL, CONFIG SET, KEYS, DEBUG)}; password hashes are never stored.",
    "nodes": "Clusters: one entry per primary with its own metadata.",
    "redaction": "Present when key names were redacted: {method, parts, min_family_keys, "
    "min_family_values, key_supplied} (see Redaction).",
    "library_patterns": "Present when a known library owns patterns: {pattern: {owner, role}} (owner: the library, e.g. "
    "rq, celery; role: queue, job, result, registry, scheduler, dead-letter, lock, cache, session, "
    "rate-limit, …). Patterns not listed have no known owner. Owner and role are a function of the "
    "pattern, so they live here, once per pattern, rather than in a column per key.",
}

# CONFIG parameters that hold secrets. Acquisition keeps only whether they are set; the writer
# reduces them to that again because a file that leaks a password cannot be recalled.
SECRET_CONFIG = frozenset(
    {
        "requirepass",
        "masterauth",
        "masteruser",
        "tls-key-file-pass",
        "tls-client-key-file-pass",
        "aclfile",
        "sentinel-pass",
        "sentinel-user",
    }
)

# What an ``acl`` metadata entry may hold (acquire.serverinfo.parse_acl_list); anything else — a raw
# ACL rule line, a password hash — is dropped by the writer.
ACL_FIELDS = frozenset({"user", "enabled", "nopass", "passwords", "all_keys", "all_commands", "dangerous"})

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<cred>[^@/\s]*)@")
_PASSWORD_QUERY = re.compile(r"(?i)([?&](?:password|pass|pwd|username|user)=)[^&#\s]*")


def strip_credentials(text: str) -> str:
    """``redis://user:secret@host:1/0?password=x`` → ``redis://host:1/0?password=***``."""
    text = _URL_CREDENTIALS.sub(lambda m: m.group("scheme"), text)
    return _PASSWORD_QUERY.sub(lambda m: m.group(1) + "***", text)


def sanitize_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-safe copy with credentials removed from URLs and secret CONFIG entries dropped."""

    def clean(value: Any, parent: str | None) -> Any:
        if parent == "acl" and not isinstance(value, Mapping | list | tuple):
            return None  # an ACL user is a mapping of ACL_FIELDS, never a raw rule line
        if isinstance(value, Mapping):
            out = {}
            for k, v in value.items():
                name = str(k)
                if parent == "acl" and name not in ACL_FIELDS:
                    continue
                if parent == "config" and name.lower() in SECRET_CONFIG:
                    out[name] = "<set>" if v else ""  # whether a secret is set, never its value
                    continue
                out[name] = clean(v, name)
            return out
        if isinstance(value, list | tuple | set | frozenset):
            items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
            return [clean(v, parent) for v in items]
        if isinstance(value, bytes):
            return strip_credentials(value.decode("utf-8", "backslashreplace"))
        if isinstance(value, str):
            return strip_credentials(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if hasattr(value, "item"):  # numpy scalars
            return clean(value.item(), parent)
        return strip_credentials(str(value))

    cleaned: dict[str, Any] = clean(dict(metadata), None)
    return cleaned


def encode_metadata(metadata: Mapping[str, Any]) -> dict[bytes, bytes]:
    """Footer key-value pairs for ``metadata`` (sanitized, with the schema version stamped in)."""
    from insightkit._version import __version__

    clean = sanitize_metadata(metadata)
    clean["rsnap_schema_version"] = RSNAP_SCHEMA_VERSION
    clean["insightkit_version"] = __version__
    return {
        META_KEY: json.dumps(clean, sort_keys=True, ensure_ascii=False).encode(),
        VERSION_KEY: str(RSNAP_SCHEMA_VERSION).encode(),
    }


def decode_metadata(kv: Mapping[bytes, bytes] | None, where: str) -> dict[str, Any]:
    """The metadata dict from a footer, refusing files that are not RSNAP or are too new."""
    if not kv or VERSION_KEY not in kv:
        raise RsnapError(f"{where}: a Parquet file, but not an RSNAP (no insightkit metadata)")
    try:
        version = int(kv[VERSION_KEY])
    except ValueError:
        raise RsnapError(f"{where}: unreadable RSNAP schema version {kv[VERSION_KEY]!r}") from None
    if version > RSNAP_SCHEMA_VERSION:
        raise RsnapError(
            f"{where}: RSNAP schema version {version} is newer than this insightkit reads "
            f"(up to {RSNAP_SCHEMA_VERSION}); upgrade insightkit"
        )
    try:
        metadata = json.loads(kv.get(META_KEY, b"{}"))
    except ValueError as exc:
        raise RsnapError(f"{where}: corrupt RSNAP metadata ({exc})") from None
    if not isinstance(metadata, dict):
        raise RsnapError(f"{where}: corrupt RSNAP metadata (not an object)")
    metadata["rsnap_schema_version"] = version
    return metadata


def field_for(name: str) -> pa.Field:
    """The canonical Arrow field of an allowed column, with its description attached."""
    if name in EXTRA_FIELDS:
        field, doc = EXTRA_FIELDS[name], EXTRA_DOCS[name]
    else:
        field, doc = KEY_SCHEMA.field(name), COLUMN_DOCS[name]
    return field.with_metadata({b"description": doc.encode()})


def file_schema(columns: list[str]) -> pa.Schema:
    """The schema an RSNAP gets for ``columns``: KEY_SCHEMA order first, then pattern/node/slot."""
    unknown = [c for c in columns if c not in ALLOWED_COLUMNS]
    if unknown:
        raise RsnapError(
            f"refusing to write columns {unknown}: an RSNAP holds only the per-key table "
            f"({', '.join(ALLOWED_COLUMNS)})"
        )
    missing = [c for c in KEY_COLUMNS if c not in columns]
    if missing:
        raise RsnapError(f"cannot write an RSNAP without the key columns {missing}")
    return pa.schema([field_for(c) for c in ALLOWED_COLUMNS if c in columns])


def conform(batch: pa.RecordBatch | pa.Table, schema: pa.Schema) -> pa.Table:
    """``batch`` reordered and cast to ``schema`` (a table, so chunked input is fine)."""
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    names = set(table.column_names)
    if names != set(schema.names):
        raise RsnapError(
            f"batch columns {sorted(names)} differ from the file's columns {sorted(schema.names)}"
        )
    table = table.select(schema.names)
    if not table.schema.equals(schema, check_metadata=False):
        try:
            table = table.cast(schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
            raise RsnapError(f"batch does not fit the RSNAP schema: {exc}") from None
    return table


def upgrade_table(table: pa.Table, version: int) -> pa.Table:
    """Bring a table read from an older schema version up to the current one.

    Version 1 is the first; later versions add their migrations here (typically: append the new
    columns as nulls). Unknown extra columns from a newer minor writer are dropped.
    """
    del version
    for name in KEY_COLUMNS:
        if name not in table.column_names:
            field = KEY_SCHEMA.field(name).with_nullable(True)
            table = table.append_column(field, pa.nulls(len(table), field.type))
    keep = [c for c in ALLOWED_COLUMNS if c in table.column_names]
    return table.select(keep)
