"""docs/rsnap.md is generated from the schema: it must match what the generator prints now."""

from __future__ import annotations

from pathlib import Path

from insightkit.rsnap.docs import render_markdown
from insightkit.rsnap.format import METADATA_DOCS
from insightkit.schema import KEY_COLUMNS

DOC = Path(__file__).resolve().parent.parent / "docs" / "rsnap.md"


def test_docs_are_current() -> None:
    assert DOC.read_text() == render_markdown(), "run: python -m insightkit.rsnap.docs > docs/rsnap.md"


def test_docs_cover_every_column_and_metadata_key() -> None:
    text = DOC.read_text()
    for name in [*KEY_COLUMNS, "pattern", "node", "slot", *METADATA_DOCS]:
        assert f"| `{name}` |" in text
