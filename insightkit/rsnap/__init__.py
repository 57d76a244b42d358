"""RSNAP: the per-key table and the snapshot metadata as Parquet — never values, never credentials.

``write_rsnap``/``RsnapWriter`` stream batches to disk atomically; ``read_rsnap``/``iter_rsnap`` read
them back (files or node-partitioned directories); ``Redactor`` hashes the variable parts of key names.
The layout is documented in docs/rsnap.md.
"""

from insightkit.rsnap.format import (
    ALLOWED_COLUMNS,
    METADATA_DOCS,
    RSNAP_SCHEMA_VERSION,
    sanitize_metadata,
    strip_credentials,
)
from insightkit.rsnap.reader import iter_rsnap, read_rsnap, read_rsnap_metadata
from insightkit.rsnap.redact import Redactor, make_redactor
from insightkit.rsnap.writer import RsnapWriter, write_rsnap

__all__ = [
    "ALLOWED_COLUMNS",
    "METADATA_DOCS",
    "RSNAP_SCHEMA_VERSION",
    "Redactor",
    "RsnapWriter",
    "iter_rsnap",
    "make_redactor",
    "read_rsnap",
    "read_rsnap_metadata",
    "sanitize_metadata",
    "strip_credentials",
    "write_rsnap",
]
