"""The one way insightkit shows units, expiries and key names (CLI, HTML, charts, widgets)."""

from __future__ import annotations

import pandas as pd
import pytest

from insightkit._text import clip, display_key, epoch_ms, human_bytes, render_table, text_columns, wrap
from insightkit.present.units import chart_text, html_key


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("user:1:session", "user:1:session"),
        ("a$_$b", "a$_$b"),
        ("日本:ключ", "日本:ключ"),
        ("a\x1b[2Jb", '"a\\x1b[2Jb"'),
        ("x\r\ny", '"x\\r\\ny"'),
        ("nul\x00bel\x07", '"nul\\x00bel\\a"'),
        ("\u202eevil", '"\\u202eevil"'),
        ('q"\\\x1b', '"q\\"\\\\\\x1b"'),
        ("c1\x9b", '"c1\\x9b"'),
    ],
)
def test_display_key_escapes_like_redis_cli(name: str, shown: str) -> None:
    assert display_key(name) == shown
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or 0x2066 <= ord(c) <= 0x2069 for c in shown)


def test_long_names_are_clipped_with_the_full_name_on_hover() -> None:
    name = "k:" + "x" * 200
    assert display_key(name, 20) == "k:" + "x" * 17 + "…"
    cell = html_key(name + "<b>", 20)
    assert cell.startswith('<span title="k:xxx') and "&lt;b&gt;" in cell and "<b>" not in cell


def test_chart_text_keeps_dollars_literal() -> None:
    assert chart_text("a$_$b") == r"a\$_\$b"


@pytest.mark.parametrize(
    ("ms", "shown"),
    [
        (1_764_000_000_123, "2025-11-24 16:00:00Z"),
        (253_402_300_799_999, "9999-12-31 23:59:59Z"),
        (253_402_300_800_000, "253402300800000 ms (beyond 9999)"),
        (9_007_199_254_740_993, "9007199254740993 ms (beyond 9999)"),
        (None, "–"),
    ],
)
def test_expiries_beyond_the_calendar_are_shown_not_crashed(ms: int | None, shown: str) -> None:
    assert epoch_ms(ms) == shown


def test_binary_units_are_named_as_such() -> None:
    assert human_bytes(2_439_411) == "2.33 MiB"
    assert human_bytes(1023) == "1023 B"


# --- render_table with a width budget (issue 19) --------------------------------------------------


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "key": ["user:1234:profile:with:a:very:long:name:indeed", "evil\x1b[2J\r\n"],
            "offending_keys": [1_234_567, 3],
            "estimated_savings_bytes": [2_439_411, 0],
            "title": ["Long lists without list compression, and more words to wrap", "x"],
        }
    )


@pytest.mark.parametrize("width", [40, 60, 80, 100])
def test_render_table_keeps_to_its_width(width: int) -> None:
    text = render_table(_table(), title="Findings", width=width)
    assert max(text_columns(line) for line in text.splitlines()) <= width
    assert "1,234,567" in text and "2.33 MiB" in text  # numbers whole, counts with separators
    assert "\x1b" not in text and "\r" not in text
    assert text.count("user:12") == 1  # a name is clipped on its row, never wrapped


def test_render_table_breaks_headers_before_clipping_names() -> None:
    text = render_table(_table(), width=100)
    assert "user:1234:profile:with:a:very:long:name:indeed" in text
    assert "estimated_" in text and "estimated_savings_bytes" not in text
    wide = render_table(_table())
    assert "estimated_savings_bytes" in wide and '"evil\\x1b[2J\\r\\n"' in wide


def test_wrap_and_clip_count_terminal_columns() -> None:
    assert text_columns("键名") == 4 and clip("键名键名", 5) == "键名…"
    assert wrap("one two three four", 9, indent="  ", first="") == ["one two", "  three", "  four"]
    assert wrap("no limit here", None) == ["no limit here"]


def test_a_far_expiry_fits_an_80_column_table_uncut() -> None:
    import pandas as pd

    from insightkit._text import render_table

    frame = pd.DataFrame(
        {
            "db": [0, 0],
            "key": ["user:" + "x" * 60, "a\x1b[2J"],
            "type": ["string", "hash"],
            "encoding": ["embstr", "listpack"],
            "num_elements": [1, 30_000],
            "memory_bytes": [100, 2_000_000],
            "expires_at": [9_007_199_254_740_993, 1_764_000_000_000],
        }
    )
    lines = render_table(frame, width=80).splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[-2].endswith(" 9007199254740993 ms") and lines[-1].endswith("2025-11-24 16:00:00Z")
    assert '"a\\x1b[2J"' in lines[-1]
