"""What presentation needs from an analysis: the documented tables, nothing more.

``insightkit.analysis.Analysis`` satisfies these protocols; stating them here keeps present/ free of
imports from the computation side it renders (and lets a notebook hand in any object that matches).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import pandas as pd


class SummaryLike(Protocol):
    """``Analysis.summary()`` as docs/architecture.md describes it."""

    by_db: pd.DataFrame
    by_type: pd.DataFrame
    by_encoding: pd.DataFrame
    ttl_buckets: pd.DataFrame
    totals: Mapping[str, Any]


class AnalysisLike(Protocol):
    """The parts of ``Analysis`` that charts, the explorer and the report read."""

    @property
    def keys(self) -> pd.DataFrame: ...

    @property
    def metadata(self) -> dict[str, Any]: ...

    @property
    def patterns(self) -> pd.DataFrame: ...

    @property
    def recommendations(self) -> pd.DataFrame: ...

    def summary(self) -> SummaryLike: ...

    def offenders(self, rule_id: str) -> pd.DataFrame: ...
