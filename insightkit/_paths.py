"""Where outputs may be written: checked before anything is written, for every writer alike.

Outputs are written beside their target under a temporary name and renamed over it, so a target that
exists must be something a rename may replace: a regular file (or, for datasets, a directory).
Renaming over ``/dev/full`` or a FIFO would replace the device node itself.
"""

from __future__ import annotations

import stat
from pathlib import Path

from insightkit.errors import InsightkitError


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
