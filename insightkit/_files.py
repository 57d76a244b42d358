"""Output files that appear whole or not at all: a command that fails must leave nothing behind.

Outputs are written beside their target under a temporary name and renamed over it, so a target that
exists must be something a rename may replace: a regular file (or, for datasets, a directory).
Renaming over ``/dev/full`` or a FIFO would replace the device node itself.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from insightkit.errors import InsightkitError, OutputError


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextmanager
def replaced_atomically(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success, delete it on any error.

    The temporary name keeps ``path``'s suffix, so writers that pick a format from it (matplotlib's
    ``savefig``) still do; an existing ``path`` is untouched unless the whole write succeeded.
    """
    target = Path(path)
    check_output_path(target, OutputError)
    try:
        fd, name = tempfile.mkstemp(
            prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent
        )
    except OSError as exc:
        raise os_error(target, exc, OutputError) from exc
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; an output is an ordinary file
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise os_error(target, exc, OutputError) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def os_error(target: Path, exc: OSError, error: type[InsightkitError]) -> InsightkitError:
    """A write failure said of the target the user named, never of our temporary names beside it."""
    errno = exc.errno
    if errno is None:  # pyarrow's IO errors carry it only in their text: "… [errno 28] …"
        found = re.search(r"\[errno (\d+)\]", str(exc))
        errno = int(found.group(1)) if found else None
    reason = os.strerror(errno) if errno else exc.strerror or type(exc).__name__
    return error(f"{target}: cannot write: {reason}")


def remove_output(path: str | os.PathLike[str]) -> None:
    """Delete an output this command wrote: an RSNAP file, or an RSNAP dataset directory."""
    import shutil

    target = Path(path)
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target, ignore_errors=True)
    else:
        target.unlink(missing_ok=True)


def check_output_path(path: Path, error: type[InsightkitError], *, directory_ok: bool = False) -> None:
    """Raise ``error`` unless ``path`` can be created or replaced by a rename of a finished file."""
    if not path.parent.is_dir():
        raise error(f"{path}: directory {path.parent} does not exist")
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if stat.S_ISREG(mode) or stat.S_ISLNK(mode) or (directory_ok and stat.S_ISDIR(mode)):
        return
    kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a device, FIFO or socket)"
    raise error(f"{path}: is {kind}; give a file path to write to")
