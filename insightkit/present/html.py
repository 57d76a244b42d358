"""One self-contained HTML file for people without Python: charts inlined as PNG, tables, findings.

No script, no stylesheet or font from elsewhere: the file opens the same from a mail attachment, a
wiki upload or an air-gapped laptop. Every key name and pattern is escaped twice over: for HTML, since
key names are data written by the application and may contain markup, and redis-cli-style for control
bytes (``\x1b``, ``\x00``), which a browser would otherwise receive raw.

The findings come first, in the order the rules rank them (security, then severity, then saving), so
what needs doing is on the first screen; the views RedisInsight's Database Analysis offers follow.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

import pandas as pd
from matplotlib.figure import Figure

from insightkit._files import replaced_atomically
from insightkit.present import charts
from insightkit.present.charts import plural
from insightkit.present.source import AnalysisLike
from insightkit.present.units import epoch_ms, html_key, human_bytes, human_count

Formatter = Callable[[Any], str]


class Markup(str):
    """Text a formatter has already escaped for HTML (a key name with its hover title)."""

    __slots__ = ()


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


def _expiry(value: Any) -> str:
    return "" if value is None or pd.isna(value) else epoch_ms(value)


def _name(value: Any) -> Markup:
    """A key or pattern name: control bytes escaped, long names clipped with the full name on hover."""
    return Markup(html_key(value, 80))


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
            f'<td class="{"num" if c in numeric else ""}">{_cell(f(v))}</td>'
            for (c, _, f), v in zip(specs, record, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _cell(text: str) -> str:
    return text if isinstance(text, Markup) else html.escape(text)


KEY_COLUMNS: list[tuple[str, str, Formatter]] = [
    ("node", "node", _text),  # clusters only; tables skip columns a frame lacks
    ("db", "db", _text),
    ("key", "key", _name),
    ("pattern", "pattern", _name),
    ("type", "type", _text),
    ("encoding", "encoding", _text),
    ("num_elements", "elements", _count),
    ("largest_element_bytes", "largest element", _bytes),
    ("memory_bytes", "memory", _bytes),
    ("expires_at", "expires", _expiry),
]
OFFENDER_COLUMNS: list[tuple[str, str, Formatter]] = [
    *KEY_COLUMNS,
    ("estimated_savings_bytes", "estimated saving", _bytes),
]
PATTERN_COLUMNS: list[tuple[str, str, Formatter]] = [
    ("pattern", "pattern", _name),
    ("owner", "library", _text),  # shown only when a known library owns some pattern
    ("role", "role", _text),
    ("keys", "keys", _count),
    ("memory_bytes", "memory", _bytes),
    ("share", "share", _share),
]

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #222; }
header { background: #1f2d3d; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 22px; overflow-wrap: anywhere; }
header .meta { font-size: 13px; opacity: .85; overflow-wrap: anywhere; }
main { padding: 16px 32px 48px 32px; max-width: 1200px; }
h2 { border-bottom: 2px solid #e3e7ec; padding-bottom: 4px; margin-top: 36px; }
h3.sub { font-size: 15px; margin: 20px 0 4px 0; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 12px; }
.card { background: #f4f6f9; border-radius: 6px; padding: 10px 16px; min-width: 140px; max-width: 100%;
        box-sizing: border-box; overflow-wrap: anywhere; }
.card .value { font-size: 22px; font-weight: 600; }
.card .label { font-size: 12px; color: #555; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0 16px 0; max-width: 100%; }
th, td { border-bottom: 1px solid #e3e7ec; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f4f6f9; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td { max-width: 520px; overflow-wrap: break-word; }
img.chart { max-width: 100%; display: block; margin: 8px 0 20px 0; }
.sev, .cat { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
             font-weight: normal; vertical-align: 2px; }
.sev { color: #fff; }
.sev-high { background: #d62728; } .sev-medium { background: #ff7f0e; }
.sev-low { background: #1f77b4; } .sev-info { background: #7f7f7f; }
.cat { border: 1px solid #8a99ab; color: #34495e; background: #fff; }
.cat-security { border-color: #d62728; color: #a31d1e; }
.rec { border: 1px solid #e3e7ec; border-radius: 6px; padding: 10px 16px; margin: 10px 0;
       overflow-wrap: anywhere; }
.rec-security { border-left: 4px solid #d62728; }
.rec h3 { margin: 0 0 6px 0; font-size: 16px; }
.rec p { margin: 6px 0; }
.rec pre { background: #f4f6f9; padding: 8px; white-space: pre-wrap; overflow-wrap: anywhere; }
.rec .about { color: #444; }
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


# What a finding that names no key is about, by its rule's category.
_ABOUT = {
    "security": "who can reach the server and what they may do",
    "configuration": "the server's configuration",
    "operations": "how the server is run",
    "code": "how the application uses Redis",
    "memory": "the server's memory",
}


def _number(value: Any) -> int:
    return 0 if value is None or pd.isna(value) else int(value)


def _scope(row: pd.Series) -> list[str]:
    """What a finding concerns: its keys, patterns and their memory, or, when it names no key, what
    it is about instead (a configuration or security finding has no "0 keys · 0 patterns")."""
    keys, patterns = _number(row.get("offending_keys")), _number(row.get("offending_patterns"))
    if keys or patterns:
        parts = [plural(keys, "key"), plural(patterns, "pattern")]
        held = _number(row.get("offending_memory_bytes"))
        if held:
            parts.append(f"{human_bytes(held)} held by {'it' if keys == 1 else 'them'}")
        return parts
    about = _ABOUT.get(_text(row.get("category")), "the server as a whole")
    return [f"about {about}, not about particular keys"]


def _recommendation(analysis: AnalysisLike, row: pd.Series, offenders_shown: int) -> str:
    severity = html.escape(_text(row.get("severity")) or "info")
    category = html.escape(_text(row.get("category")))
    badges = f'<span class="sev sev-{severity}" title="severity">{severity}</span>'
    if category:
        badges += f' <span class="cat cat-{category}" title="category">{category}</span>'
    saving = _number(row.get("estimated_savings_bytes"))
    facts = [
        *([f"estimated saving <b>{_bytes(saving)}</b> (this fix alone)"] if saving else []),
        *_counted_part(row),
        *(html.escape(part) for part in _scope(row)),
        *(
            [html.escape(f"keys of {_text(row.get('owner'))} ({_text(row.get('role'))})")]
            if _text(row.get("owner"))
            else []
        ),
    ]
    parts = [
        f'<div class="rec rec-{category or "other"}" data-rule="{html.escape(str(row["rule"]))}">',
        f"<h3>{badges} {html.escape(str(row['rule']))}: {html.escape(_text(row.get('title')))}</h3>",
        f"<p>{html.escape(_text(row.get('description')))}</p>",
    ]
    detail = _text(row.get("detail"))
    if detail and not (_number(row.get("offending_keys")) or _number(row.get("offending_patterns"))):
        parts.append(f'<p class="about">{html.escape(detail)}</p>')  # what was found, e.g. the version
    parts.append('<p class="facts">' + " · ".join(facts) + "</p>")
    fix = _text(row.get("fix"))
    if fix:
        parts.append(f"<p>Fix:</p><pre>{html.escape(fix)}</pre>")
    total = int(_number(row.get("offending_keys")))  # configuration findings name no keys
    offenders = _offenders(analysis, str(row["rule"]), offenders_shown) if total else None
    if offenders is not None and len(offenders):
        top = largest_offenders(offenders, offenders_shown)
        total = max(total, len(offenders))
        if len(top) == total:
            shown = "The offending key" if len(top) == 1 else f"All {len(top)} offending keys"
        else:
            shown = f"Top {len(top)} of {human_count(total)} offending keys"
        parts.append(
            f"<details><summary>{shown}</summary>{table(top, OFFENDER_COLUMNS, 'offenders')}</details>"
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
    """The offenders that matter most: by their own estimated saving when the rule gives one, then
    memory; ties by (db, key), as ``Analysis.offenders(largest=)`` picks them."""
    order = "estimated_savings_bytes" if "estimated_savings_bytes" in offenders.columns else "memory_bytes"
    names = [c for c in ("db", "key") if c in offenders.columns]
    columns = list(dict.fromkeys([order, "memory_bytes"])) + names
    ascending = [False] * (len(columns) - len(names)) + [True] * len(names)
    return offenders.sort_values(columns, ascending=ascending, kind="stable").head(n)


def _offenders(analysis: AnalysisLike, rule: str, shown: int) -> pd.DataFrame | None:
    """The offenders a finding shows: out of core only the ``shown`` largest are fetched (a rule may
    flag millions of keys); another analysis-like object gives them all."""
    try:
        if getattr(analysis, "out_of_core", False):
            stored: Any = analysis  # an Analysis: offenders(largest=) is not in AnalysisLike
            return cast(pd.DataFrame, stored.offenders(rule, largest=shown))
        return analysis.offenders(rule)
    except (KeyError, ValueError):  # a rule reported without per-key offenders (configuration rules)
        return None


def _ranked(recommendations: pd.DataFrame) -> pd.DataFrame:
    """Findings in the rules' ranking: security first, then severity, then saving.

    ``evaluate()`` already returns them so; a table from elsewhere (an older RSNAP's, a hand-made
    AnalysisLike) is ranked here the same way, so the report never lists a high finding among 0 B ones.
    """
    needed = {"rule", "category", "severity", "estimated_savings_bytes"}
    if not len(recommendations) or not needed <= set(recommendations.columns):
        return recommendations
    from insightkit.recommend.severity import rank

    return rank(recommendations)


def _method(metadata: dict[str, Any]) -> str:
    """How the keys were obtained; an RSNAP re-read says the original method, not just "rsnap"."""
    method = _text(metadata.get("method"))
    original = _text(metadata.get("original_method"))
    reason = _text(metadata.get("fallback_reason"))
    fell_back = f"; fell back: {reason}" if reason else ""
    if method == "rsnap":
        if original and original != "rsnap":
            return f"{original} (re-read from an RSNAP{fell_back})"
        return "RSNAP"
    return f"{method} ({fell_back[2:]})" if fell_back else method


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _no_control_bytes(document: str) -> str:
    """Last guard: no C0/C1 control byte reaches the page raw, whatever text slipped past the escaping
    of names (a rule's detail, a source path); written as ``\\x1b`` the way names are."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", document)


def render(
    analysis: AnalysisLike,
    *,
    title: str | None = None,
    top: int = 50,
    offenders_shown: int = 10,
    chart_top: int = 20,
) -> str:
    """The report as one HTML string: findings first, then the views of memory, keys and expiry."""
    keys, leaders = _key_views(analysis, max(top, chart_top))
    metadata: dict[str, Any] = dict(analysis.metadata or {})
    summary = analysis.summary()
    patterns = analysis.patterns
    recommendations = _ranked(analysis.recommendations)
    source = str(metadata.get("source", ""))
    title = title or f"insightkit report: {source or 'snapshot'}"
    server = metadata.get("server") or {}
    snapshot_ms = metadata.get("snapshot_time_ms")
    snapshot_time = _expiry(snapshot_ms)
    generated = dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%d %H:%MZ")
    totals = dict(summary.totals)
    if "estimated_savings_bytes" not in totals:  # an AnalysisLike whose summary does not carry them
        from insightkit.recommend.savings import savings_totals

        totals.update(savings_totals(recommendations, metadata))
    savings_total = float(totals.get("estimated_savings_bytes") or 0)
    rss_total = float(totals.get("estimated_rss_savings_bytes") or 0)
    saving_findings = (
        int((recommendations["estimated_savings_bytes"].fillna(0) > 0).sum()) if len(recommendations) else 0
    )
    n_findings = len(recommendations)
    card_items = [
        ("keys", human_count(totals.get("keys", len(keys)))),
        ("estimated key memory", human_bytes(totals.get("memory_bytes", 0))),
        ("dataset overhead", human_bytes(totals.get("dataset_overhead_bytes", 0))),
    ]
    if totals.get("used_memory") is not None:
        card_items.append(("used_memory (INFO)", human_bytes(totals["used_memory"])))
    card_items += [
        ("patterns", human_count(len(patterns))),
        ("recommendations", human_count(n_findings)),
        (
            f"estimated savings ({plural(saving_findings, 'recommendation')}, each key once)",
            human_bytes(savings_total),
        ),
    ]
    if rss_total:
        card_items.append(("RSS savings (fragmentation)", human_bytes(rss_total)))
    meta_line = " · ".join(
        html.escape(part)
        for part in [
            f"{server.get('family', '')} {server.get('version', '')}".strip(),
            str(server.get("allocator", "") or ""),
            f"method: {_method(metadata)}",
            f"snapshot: {snapshot_time}" if snapshot_time else "",
            f"generated: {generated}",
        ]
        if part
    )
    n_keys = len(keys)
    top_keys = charts.largest_keys(leaders, top, "memory_bytes")
    longest = charts.largest_keys(leaders, top, "num_elements")
    collections = int((keys["type"] != "string").sum()) if n_keys else 0
    by_memory = patterns.sort_values("memory_bytes", ascending=False).head(top)
    horizons = charts.expiry_horizons(keys, snapshot_ms)
    body = [
        f"<header><h1>{html.escape(title)}</h1><div class='meta'>{meta_line}</div></header><main>",
        "<h2>Overview</h2>",
        _cards(card_items),
        f'<h2 id="recommendations">{plural(n_findings, "recommendation")}</h2>',
    ]
    if n_findings:
        body.append("<p>Security first, then by severity (high, medium, low, info), then by saving.</p>")
        body += [_recommendation(analysis, row, offenders_shown) for _, row in recommendations.iterrows()]
        body.append(f"<p>{html.escape(SAVINGS_NOTE)}</p>")
        body.append(_chart(charts.savings(recommendations), "estimated savings per recommendation"))
    else:
        body.append("<p>No recommendation fired on this snapshot.</p>")
    body += [
        "<h2>Memory and keys by type</h2>",
        _chart(charts.memory_by_type(summary.by_encoding), "memory by type and encoding"),
        _chart(charts.keys_by_type(summary.by_type), "key count by type"),
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
        "<h2>Time to live and memory freed over time</h2>",
        _chart(charts.ttl_buckets(summary.ttl_buckets), "memory by time to live"),
        _chart(charts.memory_freed_over_time(keys, snapshot_ms), "memory freed by expiry over time"),
        table(
            horizons,
            [
                ("horizon", "within", _text),
                ("keys", "keys expired", _count),
                ("memory_bytes", "memory freed", _bytes),
                ("share", "of all key memory", _share),
            ],
            "freed-over-time",
        )
        if len(horizons)
        else "<p>The snapshot time is unknown, so expiry cannot be placed in time.</p>",
        "<h2>Patterns (namespaces)</h2>",
        _chart(charts.top_patterns(patterns, n=chart_top), "top patterns by memory"),
        _chart(charts.top_patterns(patterns, n=chart_top, by="keys"), "top patterns by key count"),
        _chart(charts.pattern_treemap(patterns), "treemap of memory by pattern"),
        f'<h3 class="sub">Top {len(by_memory)} of {plural(len(patterns), "pattern")} by memory</h3>',
        table(_without_empty_owners(by_memory), PATTERN_COLUMNS, "patterns"),
        "<h2>Key sizes and element counts</h2>",
        _chart(charts.key_sizes(keys), "distribution of key sizes"),
        _chart(charts.element_counts(keys), "distribution of element counts"),
        "<h2>Largest keys by memory</h2>",
        _chart(charts.top_keys(leaders, n=chart_top, among=n_keys), "top keys by memory"),
        f'<h3 class="sub">Top {len(top_keys)} of {plural(n_keys, "key")} by memory</h3>',
        table(top_keys, KEY_COLUMNS, "top-keys"),
        "<h2>Longest keys (elements)</h2>",
        _chart(
            charts.top_keys(leaders, n=chart_top, by="num_elements", among=collections), "top keys by length"
        ),
        f'<h3 class="sub">Top {len(longest)} of {plural(collections, "collection")} by length</h3>',
        table(longest, KEY_COLUMNS, "longest-keys"),
    ]
    body.append(
        "<footer>Made by insightkit. Key names and sizes only; no values were read into this report."
        "</footer></main>"
    )
    document = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
    return _no_control_bytes(document)


#: What the report's views over every key read (histograms, expiry over time, counts).
KEY_VIEW_COLUMNS = ["type", "memory_bytes", "num_elements", "expires_at"]


def _key_views(analysis: AnalysisLike, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every key's ``KEY_VIEW_COLUMNS``, and whole rows of the keys the top-N tables and charts can
    show (the ``n`` largest by memory and the ``n`` longest collections). Out of core these are two
    small queries and four narrow columns: the key names of a 20M-key snapshot stay on disk (the
    whole table would need ~900 bytes a key). Any other analysis-like object gives its ``keys``."""
    if not getattr(analysis, "out_of_core", False) or not hasattr(analysis, "key_columns"):
        keys = analysis.keys
        return keys, keys
    stored: Any = analysis  # an Analysis out of core: its narrow queries are not in AnalysisLike
    numbers = stored.key_columns(KEY_VIEW_COLUMNS)
    leaders = pd.concat(
        [stored.top(n), stored.top(n, by="num_elements", collections=True)], ignore_index=True
    )
    return numbers, leaders.drop_duplicates(subset=["db", "key"], ignore_index=True)


def to_html(analysis: AnalysisLike, path: str | os.PathLike[str], **options: Any) -> Path:
    """Write the report to ``path`` atomically (a temp file renamed), so no half-written report remains."""
    target = Path(path)
    document = render(analysis, **options)
    with replaced_atomically(target) as tmp:
        tmp.write_text(document, encoding="utf-8")
    return target
