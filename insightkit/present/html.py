"""One self-contained HTML file for people without Python: charts inlined as PNG, tables, findings.

No script, no stylesheet or font from elsewhere: the file opens the same from a mail attachment, a
wiki upload or an air-gapped laptop. Every key name and pattern is escaped, since key names are data
written by the application and may contain markup.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from insightkit.present import charts
from insightkit.present.source import AnalysisLike
from insightkit.present.units import display_key, epoch_ms, human_bytes, human_count

Formatter = Callable[[Any], str]


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return ""
    return str(value)


def _bytes(value: Any) -> str:
    return "" if value is None or pd.isna(value) else human_bytes(value)


def _count(value: Any) -> str:
    return "" if value is None or pd.isna(value) else human_count(value)


def _share(value: Any) -> str:
    return "" if value is None or pd.isna(value) else f"{float(value):.1%}"


def _epoch_ms(value: Any) -> str:
    # the shared formatter: expiries past year 9999 (Redis takes any 64-bit ms) print as raw ms
    return "" if value is None or pd.isna(value) else epoch_ms(value)


def figure_to_data_uri(fig: Figure, dpi: int = 100) -> str:
    """PNG bytes of a figure as a ``data:`` URI, so the page needs no file beside it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def table(frame: pd.DataFrame, columns: Iterable[tuple[str, str, Formatter]], css_class: str = "") -> str:
    """An escaped HTML table of ``frame`` with (column, header, formatter) per shown column."""
    specs = [(c, h, f) for c, h, f in columns if c in frame.columns]
    numeric = {c for c, _, f in specs if f in (_bytes, _count, _share)}
    head = "".join(f'<th class="{"num" if c in numeric else ""}">{html.escape(h)}</th>' for c, h, _ in specs)
    rows = []
    for record in frame[[c for c, _, _ in specs]].itertuples(index=False, name=None):
        cells = "".join(
            f'<td class="{"num" if c in numeric else ""}">{html.escape(f(v))}</td>'
            for (c, _, f), v in zip(specs, record, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


KEY_COLUMNS: list[tuple[str, str, Formatter]] = [
    ("node", "node", _text),  # clusters only; tables skip columns a frame lacks
    ("db", "db", _text),
    ("key", "key", display_key),
    ("pattern", "pattern", display_key),
    ("type", "type", _text),
    ("encoding", "encoding", _text),
    ("num_elements", "elements", _count),
    ("largest_element_bytes", "largest element", _bytes),
    ("memory_bytes", "memory", _bytes),
    ("expires_at", "expires", _epoch_ms),
]
OFFENDER_COLUMNS: list[tuple[str, str, Formatter]] = [
    *KEY_COLUMNS,
    ("estimated_savings_bytes", "estimated saving", _bytes),
]
PATTERN_COLUMNS: list[tuple[str, str, Formatter]] = [
    ("pattern", "pattern", display_key),
    ("owner", "library", _text),  # shown only when a known library owns some pattern
    ("role", "role", _text),
    ("keys", "keys", _count),
    ("memory_bytes", "memory", _bytes),
    ("share", "share", _share),
]

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #222; }
header { background: #1f2d3d; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 22px; }
header .meta { font-size: 13px; opacity: .85; }
main { padding: 16px 32px 48px 32px; max-width: 1200px; }
h2 { border-bottom: 2px solid #e3e7ec; padding-bottom: 4px; margin-top: 36px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 12px; }
.card { background: #f4f6f9; border-radius: 6px; padding: 10px 16px; min-width: 140px; }
.card .value { font-size: 22px; font-weight: 600; }
.card .label { font-size: 12px; color: #555; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0 16px 0; }
th, td { border-bottom: 1px solid #e3e7ec; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f4f6f9; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td { max-width: 520px; overflow-wrap: anywhere; }
img.chart { max-width: 100%; display: block; margin: 8px 0 20px 0; }
.sev { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px; }
.sev-high { background: #d62728; } .sev-medium { background: #ff7f0e; }
.sev-low { background: #1f77b4; } .sev-info { background: #7f7f7f; }
.rec { border: 1px solid #e3e7ec; border-radius: 6px; padding: 10px 16px; margin: 10px 0; }
.rec h3 { margin: 0 0 6px 0; font-size: 16px; }
.rec pre { background: #f4f6f9; padding: 8px; white-space: pre-wrap; }
details summary { cursor: pointer; color: #1f5f99; }
footer { color: #777; font-size: 12px; margin-top: 40px; }
"""


def _cards(items: Iterable[tuple[str, str]]) -> str:
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="value">{html.escape(v)}</div>'
            f'<div class="label">{html.escape(k)}</div></div>'
            for k, v in items
        )
        + "</div>"
    )


def _chart(fig: Figure, alt: str) -> str:
    return f'<img class="chart" alt="{html.escape(alt)}" src="{figure_to_data_uri(fig)}">'


def _without_empty_owners(patterns: pd.DataFrame) -> pd.DataFrame:
    """The patterns table without ``owner``/``role`` when no known library owns any of them."""
    if "owner" in patterns.columns and patterns["owner"].isna().all():
        return patterns.drop(columns=[c for c in ("owner", "role") if c in patterns.columns])
    return patterns


def _recommendation(analysis: AnalysisLike, row: pd.Series, offenders_shown: int) -> str:
    severity = html.escape(str(row.get("severity", "info")))
    parts = [
        '<div class="rec">',
        f'<h3><span class="sev sev-{severity}">{severity}</span> {html.escape(str(row["rule"]))}: '
        f"{html.escape(str(row.get('title', '')))}</h3>",
        f"<p>{html.escape(_text(row.get('description')))}</p>",
        "<p>"
        + " · ".join(
            [
                f"estimated savings <b>{_bytes(row.get('estimated_savings_bytes'))}</b> (this fix alone)",
                *_counted_part(row),
                f"{_count(row.get('offending_keys'))} keys",
                f"{_count(row.get('offending_patterns'))} patterns",
                f"{_bytes(row.get('offending_memory_bytes'))} held by offenders",
                *(
                    [f"keys of {_text(row.get('owner'))} ({_text(row.get('role'))})"]
                    if _text(row.get("owner"))
                    else []
                ),
            ]
        )
        + "</p>",
    ]
    fix = _text(row.get("fix"))
    if fix:
        parts.append(f"<p>Fix:</p><pre>{html.escape(fix)}</pre>")
    has_keys = bool(row.get("offending_keys") or 0)  # configuration findings name no keys: skip the query
    offenders = _offenders(analysis, str(row["rule"])) if has_keys else None
    if offenders is not None and len(offenders):
        top = largest_offenders(offenders, offenders_shown)
        parts.append(
            f"<details><summary>Top {len(top)} of {human_count(len(offenders))} offending keys"
            f"</summary>{table(top, OFFENDER_COLUMNS, 'offenders')}</details>"
        )
    parts.append("</div>")
    return "".join(parts)


def _counted_part(row: pd.Series) -> list[str]:
    """How much of the finding's saving the total counts, when that differs from the saving itself."""
    counted, alone = row.get("counted_savings_bytes"), row.get("estimated_savings_bytes")
    if counted is None or pd.isna(counted) or alone is None or pd.isna(alone) or int(counted) == int(alone):
        return []
    where = "of RSS" if row.get("frees") == "rss" else "in the total"
    return [f"{_bytes(counted)} counted {where} (the rest is claimed by findings listed above it)"]


SAVINGS_NOTE = (
    "Each finding's estimated saving is what its fix would save alone. The totals count every key's "
    "bytes once: the fixes are applied in the order listed and each is priced on what the previous "
    "ones left, so the total never exceeds the memory of the keys it concerns, nor used_memory. "
    "Fragmentation and RSS findings free memory outside used_memory and are totalled apart."
)


def largest_offenders(offenders: pd.DataFrame, n: int) -> pd.DataFrame:
    """The offenders that matter most: by their own estimated saving when the rule gives one."""
    order = "estimated_savings_bytes" if "estimated_savings_bytes" in offenders.columns else "memory_bytes"
    return offenders.sort_values([order, "memory_bytes"], ascending=False).head(n)


def _offenders(analysis: AnalysisLike, rule: str) -> pd.DataFrame | None:
    try:
        return analysis.offenders(rule)
    except (KeyError, ValueError):  # a rule reported without per-key offenders (configuration rules)
        return None


def render(
    analysis: AnalysisLike, *, title: str | None = None, top: int = 50, offenders_shown: int = 10
) -> str:
    """The report as one HTML string."""
    keys = analysis.keys
    metadata: dict[str, Any] = dict(analysis.metadata or {})
    summary = analysis.summary()
    patterns = analysis.patterns
    recommendations = analysis.recommendations
    source = str(metadata.get("source", ""))
    title = title or f"insightkit report: {source or 'snapshot'}"
    server = metadata.get("server") or {}
    snapshot_time = _epoch_ms(metadata.get("snapshot_time_ms"))
    generated = dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    totals = dict(summary.totals)
    if "estimated_savings_bytes" not in totals:  # an AnalysisLike whose summary does not carry them
        from insightkit.rules.savings import savings_totals

        totals.update(savings_totals(recommendations, metadata))
    savings_total = float(totals.get("estimated_savings_bytes") or 0)
    rss_total = float(totals.get("estimated_rss_savings_bytes") or 0)
    card_items = [
        ("keys", human_count(totals.get("keys", len(keys)))),
        ("estimated key memory", human_bytes(totals.get("memory_bytes", 0))),
        ("dataset overhead", human_bytes(totals.get("dataset_overhead_bytes", 0))),
    ]
    if totals.get("used_memory") is not None:
        card_items.append(("used_memory (INFO)", human_bytes(totals["used_memory"])))
    card_items += [
        ("patterns", human_count(len(patterns))),
        ("recommendations", human_count(len(recommendations))),
        ("estimated savings (each key once)", human_bytes(savings_total)),
    ]
    if rss_total:
        card_items.append(("RSS savings (fragmentation)", human_bytes(rss_total)))
    meta_line = " · ".join(
        html.escape(part)
        for part in [
            f"{server.get('family', '')} {server.get('version', '')}".strip(),
            str(server.get("allocator", "") or ""),
            f"method: {metadata.get('method', '')}",
            f"snapshot: {snapshot_time}" if snapshot_time else "",
            f"generated: {generated}",
        ]
        if part
    )
    top_keys = keys.nlargest(top, "memory_bytes")
    body = [
        f"<header><h1>{html.escape(title)}</h1><div class='meta'>{meta_line}</div></header><main>",
        "<h2>Overview</h2>",
        _cards(card_items),
        "<h2>Memory by type and encoding</h2>",
        _chart(charts.memory_by_type(summary.by_encoding), "memory by type and encoding"),
        table(
            summary.by_encoding.sort_values("memory_bytes", ascending=False),
            [
                ("type", "type", _text),
                ("encoding", "encoding", _text),
                ("keys", "keys", _count),
                ("memory_bytes", "memory", _bytes),
                ("share", "share", _share),
            ],
            "by-encoding",
        ),
        "<h2>Databases</h2>",
        table(
            summary.by_db,
            [
                ("db", "db", _text),
                ("keys", "keys", _count),
                ("memory_bytes", "memory", _bytes),
                ("share", "share", _share),
                ("volatile_keys", "keys with TTL", _count),
            ],
            "by-db",
        ),
        "<h2>Time to live</h2>",
        _chart(charts.ttl_buckets(summary.ttl_buckets), "memory by time to live"),
        "<h2>Patterns</h2>",
        _chart(charts.top_patterns(patterns), "top patterns by memory"),
        _chart(charts.pattern_treemap(patterns), "treemap of memory by pattern"),
        table(
            _without_empty_owners(patterns.sort_values("memory_bytes", ascending=False).head(top)),
            PATTERN_COLUMNS,
            "patterns",
        ),
        "<h2>Key sizes and element counts</h2>",
        _chart(charts.key_sizes(keys), "distribution of key sizes"),
        _chart(charts.element_counts(keys), "distribution of element counts"),
        f"<h2>Top {len(top_keys)} keys</h2>",
        _chart(charts.top_keys(keys), "largest keys"),
        table(top_keys, KEY_COLUMNS, "top-keys"),
        "<h2>Recommendations</h2>",
    ]
    if len(recommendations):
        body.append(f"<p>{html.escape(SAVINGS_NOTE)}</p>")
        body.append(_chart(charts.savings(recommendations), "estimated savings per recommendation"))
        body += [_recommendation(analysis, row, offenders_shown) for _, row in recommendations.iterrows()]
    else:
        body.append("<p>No recommendation fired on this snapshot.</p>")
    body.append(
        "<footer>Made by insightkit. Key names and sizes only; no values were read into this report."
        "</footer></main>"
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def to_html(analysis: AnalysisLike, path: str | os.PathLike[str], **options: Any) -> Path:
    """Write the report to ``path`` atomically (a temp file renamed), so no half-written report remains."""
    target = Path(path)
    document = render(analysis, **options)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(document)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report is an ordinary file
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
