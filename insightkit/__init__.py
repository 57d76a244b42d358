"""insightkit: where your Redis memory goes, and what to do about it.

Pipeline: acquire (live server or file) → rdb (decode) → memory (RAM model) → rsnap (Parquet) →
patterns → rules → present (charts, widgets, HTML). Public names are imported lazily so that
``import insightkit`` stays cheap and never pulls in matplotlib or ipywidgets.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from insightkit._version import __version__
from insightkit.errors import InsightkitError

_LAZY = {
    "read_rdb": "insightkit.rdb",
    "snapshot": "insightkit.acquire",
    "analyze": "insightkit.analysis",
    "load": "insightkit.analysis",
    "Analysis": "insightkit.analysis",
    "rules": "insightkit.recommend",  # the RuleBook: callable, and the package's names through it
    "diff": "insightkit.compare",
    "terminate_cleanly": "insightkit.interrupts",
}

__all__ = ["Analysis", "InsightkitError", "__version__", *_LAZY]

if TYPE_CHECKING:
    from insightkit.acquire import snapshot
    from insightkit.analysis import Analysis, analyze, load
    from insightkit.compare import diff
    from insightkit.interrupts import terminate_cleanly
    from insightkit.rdb import read_rdb
    from insightkit.recommend import RULE_BOOK as rules


_ATTRIBUTE = {"rules": "RULE_BOOK"}  # public name -> its name in the module, where they differ


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'insightkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), _ATTRIBUTE.get(name, name))
    globals()[name] = value
    return value
