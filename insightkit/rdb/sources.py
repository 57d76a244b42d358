"""Turn whatever the caller hands read_rdb into an iterator of bytes-like chunks.

Paths are memory-mapped (one zero-copy chunk: the OS pages the file in as the decoder walks it),
bytes-likes are passed through as they are, file-like objects are read in pieces, and iterables of
chunks (a socket feed) are used as given. Nothing here seeks, so a pipe or socket works as well as a file.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from collections.abc import Iterable, Iterator
from typing import Any

from insightkit.errors import SourceError

READ_SIZE = 4 * 1024 * 1024


def describe(source: Any) -> str:
    """A short description of the source for messages and metadata (a path, or the kind of object)."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return type(source).__name__


def iter_chunks(source: Any) -> Iterator[Any]:
    """Yield the source's bytes as a sequence of bytes-like chunks."""
    if isinstance(source, (str, os.PathLike)):
        yield from _mapped_file(os.fspath(source))
    elif isinstance(source, (bytes, bytearray, memoryview)):
        yield source
    elif hasattr(source, "read"):
        yield from _read_file(source)
    elif isinstance(source, Iterable):
        for chunk in source:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise SourceError(f"chunks must be bytes-like, got {type(chunk).__name__}")
            yield chunk
    else:
        raise SourceError(
            f"cannot read an RDB from {type(source).__name__}: give a path, bytes, "
            "a binary file object or an iterable of bytes chunks"
        )


def _mapped_file(path: str) -> Iterator[Any]:
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed in finally, after the map
    except OSError as exc:
        raise SourceError(f"cannot open {path}: {exc.strerror}") from exc
    try:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            return
        try:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # not mappable (a FIFO, /proc file…): fall back to reads
            yield from _read_file(handle)
            return
        try:
            if hasattr(mapped, "madvise") and hasattr(mmap, "MADV_SEQUENTIAL"):
                mapped.madvise(mmap.MADV_SEQUENTIAL)
            view = memoryview(mapped)
            try:
                yield view
            finally:
                # The decoder may still hold the buffer; then the GC unmaps it once it is dropped.
                with contextlib.suppress(BufferError):
                    view.release()
        finally:
            with contextlib.suppress(BufferError):
                mapped.close()
    finally:
        handle.close()


def _read_file(handle: Any) -> Iterator[Any]:
    reader = getattr(handle, "read1", None) or handle.read
    while True:
        chunk = reader(READ_SIZE)
        if not chunk:
            return
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise SourceError("the file object must be opened in binary mode")
        yield chunk
