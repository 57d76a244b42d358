"""Units and key names for the presentation layer: the one definition lives in ``insightkit._text``.

Re-exported here so charts, the HTML report and widgets share the CLI's conventions (binary units
named KiB/MiB/GiB, redis-cli-style escaping of key names); ``html_key`` adds the page's own needs.
"""

from __future__ import annotations

import html
from typing import Any

from insightkit._text import clip, display_key, epoch_ms, human_bytes, human_count, percent, unit_for

__all__ = [
    "chart_text",
    "clip",
    "display_key",
    "epoch_ms",
    "html_key",
    "human_bytes",
    "human_count",
    "percent",
    "unit_for",
]


def html_key(name: Any, width: int = 80) -> str:
    """A key name for an HTML page: escaped, clipped to ``width``, the full (escaped) name on hover."""
    full = display_key(name)
    shown = clip(full, width)
    if shown == full:
        return html.escape(full)
    return f'<span title="{html.escape(full, quote=True)}">{html.escape(shown)}</span>'


def chart_text(name: Any, width: int | None = 48) -> str:
    """A key or pattern name for a matplotlib label: escaped, clipped, and ``$`` made literal.

    matplotlib reads text between two ``$`` as math (``a$_$b`` fails to render); an escaped ``\\$`` is
    a literal dollar whatever the user's ``text.parse_math`` setting.
    """
    return clip(display_key(name), width).replace("$", r"\$")
