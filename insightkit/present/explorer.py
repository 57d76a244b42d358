"""``Analysis.explore()``: an ipywidgets explorer of the key table.

Three tabs: Keys (filters by db, type, encoding, pattern, TTL state, size and key text; sortable
table), Patterns (pick a pattern, drill into its keys), Recommendations (pick one, see its fix and
offenders). Filtering is plain pandas on the analysis' own table, so what the widget shows is what
``a.keys[...]`` would give. Widgets carry ``ik-*`` CSS classes so a browser test can find them.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import pandas as pd

from insightkit.present.html import largest_offenders
from insightkit.present.source import AnalysisLike
from insightkit.present.tables import TABLE_CSS, html_table
from insightkit.present.units import human_bytes, human_count

ALL = "(all)"
TTL_STATES = (ALL, "no ttl", "with ttl", "expired")
SIZE_THRESHOLDS: dict[str, int] = {
    "any size": 0,
    "≥ 100 B": 100,
    "≥ 1 KiB": 1024,
    "≥ 10 KiB": 10 * 1024,
    "≥ 100 KiB": 100 * 1024,
    "≥ 1 MiB": 1024**2,
    "≥ 10 MiB": 10 * 1024**2,
}
SORTABLE = (
    "memory_bytes",
    "num_elements",
    "largest_element_bytes",
    "serialized_bytes",
    "expires_at",
    "key",
)
MAX_PATTERN_OPTIONS = 5000
# (column, header); the cells follow insightkit.present.tables (units by column name, names clipped)
KEY_COLUMNS: list[tuple[str, str]] = [
    ("node", "node"),  # clusters only; tables skip columns a frame lacks
    ("db", "db"),
    ("key", "key"),
    ("pattern", "pattern"),
    ("type", "type"),
    ("encoding", "encoding"),
    ("num_elements", "elements"),
    ("largest_element_bytes", "largest element"),
    ("memory_bytes", "memory"),
    ("expires_at", "expires"),
]
OFFENDER_COLUMNS: list[tuple[str, str]] = [*KEY_COLUMNS, ("estimated_savings_bytes", "estimated saving")]
PATTERN_COLUMNS: list[tuple[str, str]] = [
    ("pattern", "pattern"),
    ("owner", "library"),  # shown only when a known library owns some pattern
    ("role", "role"),
    ("keys", "keys"),
    ("memory_bytes", "memory"),
    ("share", "share"),
]
TABLE_STYLE = (
    f"<style>{TABLE_CSS}"
    ".ik-html{line-height:1.35}.ik-html p{margin:6px 0}"
    ".ik-html pre{white-space:pre-wrap;overflow-wrap:break-word;max-width:100ch}</style>"
)


def _scrolling() -> widgets.Layout:
    """Tables never wrap their cells, so a wide one scrolls sideways inside the tab instead of being cut."""
    return widgets.Layout(width="100%", overflow="auto")


def _options(values: pd.Series) -> list[str]:
    return [ALL, *sorted(str(v) for v in values.dropna().unique())]


def _styled(widget: widgets.Widget, css_class: str) -> Any:
    widget.add_class(css_class)
    return widget


class Explorer:
    """The explorer: ``widget`` is what a notebook displays; ``filtered()``/``shown()`` its tables.

    Not a widget subclass: widget classes reserve attribute names (``keys`` among them) as traits.
    """

    def __init__(self, analysis: AnalysisLike, *, rows: int = 25) -> None:
        self.analysis = analysis
        self.keys = analysis.keys
        self._holding = False
        self.total_bytes = float(self.keys["memory_bytes"].sum())
        self.now_ms = _snapshot_time_ms(analysis.metadata, self.keys)
        has_pattern = "pattern" in self.keys.columns
        narrow = widgets.Layout(width="190px")

        self.db_filter = _styled(
            widgets.Dropdown(description="db", options=_options(self.keys["db"]), layout=narrow),
            "ik-db-filter",
        )
        self.type_filter = _styled(
            widgets.Dropdown(description="type", options=_options(self.keys["type"]), layout=narrow),
            "ik-type-filter",
        )
        self.encoding_filter = _styled(
            widgets.Dropdown(description="encoding", options=_options(self.keys["encoding"]), layout=narrow),
            "ik-encoding-filter",
        )
        self.ttl_filter = _styled(
            widgets.Dropdown(description="TTL", options=list(TTL_STATES), layout=narrow), "ik-ttl-filter"
        )
        self.size_filter = _styled(
            widgets.Dropdown(description="size", options=list(SIZE_THRESHOLDS), layout=narrow),
            "ik-size-filter",
        )
        pattern_names = self._pattern_names() if has_pattern else []
        self.pattern_filter = _styled(
            widgets.Combobox(
                description="pattern",
                placeholder="any pattern",
                options=pattern_names,
                ensure_option=False,
                layout=widgets.Layout(width="390px"),
                disabled=not has_pattern,
            ),
            "ik-pattern-filter",
        )
        self.key_filter = _styled(
            widgets.Text(
                description="key has", placeholder="substring", layout=widgets.Layout(width="390px")
            ),
            "ik-key-filter",
        )
        self.sort_by = _styled(
            widgets.Dropdown(
                description="sort by", options=list(SORTABLE), layout=widgets.Layout(width="260px")
            ),
            "ik-sort-by",
        )
        self.descending = _styled(
            widgets.ToggleButtons(options=["descending", "ascending"], style={"button_width": "110px"}),
            "ik-sort-order",
        )
        self.rows = _styled(
            widgets.BoundedIntText(description="rows", value=rows, min=1, max=1000, layout=narrow),
            "ik-rows",
        )
        self.status = _styled(widgets.HTML(), "ik-status")
        self.keys_table = _styled(widgets.HTML(layout=_scrolling()), "ik-keys-table")

        self.type_filter.observe(self._encodings_of_type, names="value")
        for control in (
            self.db_filter,
            self.type_filter,
            self.encoding_filter,
            self.ttl_filter,
            self.size_filter,
            self.pattern_filter,
            self.key_filter,
            self.sort_by,
            self.descending,
            self.rows,
        ):
            control.observe(self._refresh, names="value")

        keys_tab = widgets.VBox(
            [
                widgets.HBox([self.db_filter, self.type_filter, self.encoding_filter, self.ttl_filter]),
                widgets.HBox([self.size_filter, self.pattern_filter]),
                widgets.HBox([self.key_filter]),
                widgets.HBox([self.sort_by, self.descending, self.rows]),
                self.status,
                self.keys_table,
            ]
        )
        self.tabs = _styled(widgets.Tab(), "ik-tabs")
        children: list[widgets.Widget] = [keys_tab]
        titles = ["Keys"]
        if has_pattern:
            children.append(self._patterns_tab())
            titles.append("Patterns")
        children.append(self._recommendations_tab())
        titles.append("Recommendations")
        self.tabs.children = children
        self.tabs.titles = tuple(titles)
        self._refresh()
        self.widget = _styled(widgets.VBox([self.tabs]), "ik-explorer")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # -- keys -----------------------------------------------------------------------------

    def _pattern_names(self) -> list[str]:
        patterns = self.analysis.patterns
        if "pattern" not in patterns.columns:
            return []
        ranked = patterns.sort_values("memory_bytes", ascending=False)["pattern"]
        return [str(p) for p in ranked.head(MAX_PATTERN_OPTIONS)]

    def _encodings_of_type(self, _change: object = None) -> None:
        """Offer only the encodings the chosen type has (a hash is never an intset)."""
        chosen = self.type_filter.value
        keys = self.keys if chosen == ALL else self.keys[self.keys["type"] == chosen]
        options = _options(keys["encoding"])
        if list(self.encoding_filter.options) != options:
            current = self.encoding_filter.value
            self._holding = True  # one refresh for the type change, not one per option reset
            self.encoding_filter.options = options
            self.encoding_filter.value = current if current in options else ALL
            self._holding = False

    def filtered(self) -> pd.DataFrame:
        """Rows of ``analysis.keys`` that pass every filter, unsorted."""
        keys = self.keys
        mask = pd.Series(True, index=keys.index)
        if self.db_filter.value != ALL:
            mask &= keys["db"].astype("int64") == int(self.db_filter.value)
        if self.type_filter.value != ALL:
            mask &= keys["type"] == self.type_filter.value
        if self.encoding_filter.value != ALL:
            mask &= keys["encoding"] == self.encoding_filter.value
        pattern = (self.pattern_filter.value or "").strip()
        if pattern and "pattern" in keys.columns:
            mask &= keys["pattern"] == pattern
        text = self.key_filter.value or ""
        if text:
            mask &= keys["key"].str.contains(text, regex=False)
        threshold = SIZE_THRESHOLDS[self.size_filter.value]
        if threshold:
            mask &= keys["memory_bytes"] >= threshold
        ttl = self.ttl_filter.value
        if ttl != ALL:
            expires = keys["expires_at"]
            if ttl == "no ttl":
                mask &= expires.isna()
            elif ttl == "with ttl":
                mask &= expires.notna() & (expires >= self.now_ms).fillna(False)
            else:
                mask &= expires.notna() & (expires < self.now_ms).fillna(False)
        return keys[mask.fillna(False).astype(bool)]

    def shown(self) -> pd.DataFrame:
        """The filtered rows in the chosen order, cut to the chosen number of rows."""
        rows = self.filtered()
        ascending = self.descending.value == "ascending"
        ordered = rows.sort_values(self.sort_by.value, ascending=ascending, na_position="last")
        return ordered.head(int(self.rows.value))

    def _refresh(self, _change: object = None) -> None:
        if self._holding:
            return
        rows = self.filtered()
        held = float(rows["memory_bytes"].sum())
        share = held / self.total_bytes if self.total_bytes else 0.0
        # The table first: once the status line changes, what it describes is already on screen.
        self.keys_table.value = _html(html_table(self.shown(), KEY_COLUMNS))
        self.status.value = (
            f"<b>{human_count(len(rows))}</b> of {human_count(len(self.keys))} keys match · "
            f"<b>{html.escape(human_bytes(held))}</b> ({share:.1%} of {html.escape(human_bytes(self.total_bytes))})"
        )

    # -- patterns -------------------------------------------------------------------------

    def _patterns_tab(self) -> widgets.Widget:
        patterns = self.analysis.patterns.sort_values("memory_bytes", ascending=False)
        self.pattern_list = _styled(
            widgets.Select(
                options=[str(p) for p in patterns["pattern"].head(MAX_PATTERN_OPTIONS)],
                rows=12,
                layout=widgets.Layout(width="520px"),
            ),
            "ik-pattern-list",
        )
        self.drill_button = _styled(
            widgets.Button(description="Show its keys", icon="search", button_style="primary"), "ik-drill"
        )
        self.drill_button.on_click(lambda _b: self.drill(self.pattern_list.value))
        unowned = [c for c in ("owner", "role") if c in patterns.columns and patterns[c].isna().all()]
        table_html = _html(html_table(patterns.head(100).drop(columns=unowned), PATTERN_COLUMNS))
        return widgets.VBox(
            [
                widgets.HBox([self.pattern_list, self.drill_button]),
                _styled(widgets.HTML(table_html, layout=_scrolling()), "ik-patterns-table"),
            ]
        )

    def drill(self, pattern: str | None) -> None:
        """Show the keys of ``pattern``: set the pattern filter, clear the others, open the Keys tab."""
        if not pattern:
            return
        self._holding = True
        for control in (self.db_filter, self.type_filter, self.encoding_filter, self.ttl_filter):
            control.value = ALL
        self.size_filter.value = "any size"
        self.key_filter.value = ""
        self.pattern_filter.value = pattern
        self._holding = False
        self._refresh()
        self.tabs.selected_index = 0

    # -- recommendations ------------------------------------------------------------------

    def _recommendations_tab(self) -> widgets.Widget:
        recommendations = self.analysis.recommendations
        self.recommendation_detail = _styled(widgets.HTML(layout=_scrolling()), "ik-recommendation")
        if recommendations is None or recommendations.empty:
            self.rule_list = None
            self.recommendation_detail.value = "<p>No recommendation fired on this snapshot.</p>"
            return widgets.VBox([self.recommendation_detail])
        labels = [
            (f"{human_bytes(s)} · {r}: {t}", str(r))
            for r, t, s in zip(
                recommendations["rule"],
                recommendations["title"],
                recommendations["estimated_savings_bytes"].fillna(0),
                strict=True,
            )
        ]
        self.rule_list = _styled(
            widgets.Select(options=labels, rows=min(12, len(labels)), layout=widgets.Layout(width="720px")),
            "ik-rule-list",
        )
        self.rule_list.observe(lambda _c: self._show_rule(), names="value")
        self._show_rule()
        return widgets.VBox([self.rule_list, self.recommendation_detail])

    def _show_rule(self) -> None:
        if self.rule_list is None or self.rule_list.value is None:
            return
        rule = str(self.rule_list.value)
        recs = self.analysis.recommendations
        row = recs[recs["rule"] == rule].iloc[0]
        parts = [
            f"<h4>{html.escape(rule)}: {html.escape(str(row.get('title', '')))} "
            f"<small>({html.escape(str(row.get('severity', '')))}, {html.escape(str(row.get('category', '')))})</small></h4>",
            f"<p>{html.escape(str(row.get('description', '') or ''))}</p>",
            *(
                [f"<p><i>{html.escape(str(row.get('detail')))}</i></p>"]
                if isinstance(row.get("detail"), str) and row.get("detail")
                else []
            ),
        ]
        if not int(row.get("offending_keys") or 0) and not int(row.get("estimated_savings_bytes") or 0):
            parts.append("<p>About the server as a whole (its configuration, INFO), not particular keys.</p>")
        else:
            parts.append(
                f"<p>Estimated savings <b>{html.escape(human_bytes(row.get('estimated_savings_bytes') or 0))}</b>"
                " (this fix alone)"
                + (
                    f", {html.escape(human_bytes(row.get('counted_savings_bytes') or 0))} counted once"
                    if "counted_savings_bytes" in row.index
                    and int(row.get("counted_savings_bytes") or 0)
                    != int(row.get("estimated_savings_bytes") or 0)
                    else ""
                )
                + f" · {human_count(row.get('offending_keys') or 0)} offending keys</p>"
            )
        fix = row.get("fix")
        if isinstance(fix, str) and fix:
            parts.append(f"<pre>{html.escape(fix)}</pre>")
        offenders = None
        if row.get("offending_keys"):
            try:
                offenders = self.analysis.offenders(rule)
            except (KeyError, ValueError):  # a finding without per-key offenders
                offenders = None
        if offenders is not None and len(offenders):
            top = largest_offenders(offenders, int(self.rows.value))
            parts.append(f"<p>Top {len(top)} of {human_count(len(offenders))} offenders:</p>")
            parts.append(html_table(top, OFFENDER_COLUMNS))
        self.recommendation_detail.value = _html("".join(parts))


def _html(body: str) -> str:
    """Widget HTML with the explorer's table style and normal line height (widgets default to 28px)."""
    return f'{TABLE_STYLE}<div class="ik-html">{body}</div>'


def _snapshot_time_ms(metadata: dict[str, Any] | None, keys: pd.DataFrame) -> int:
    """TTL state is judged at snapshot time, not now: an RSNAP opened next month is not all expired."""
    value = (metadata or {}).get("snapshot_time_ms")
    if value:
        return int(value)
    import time

    return int(time.time() * 1000)
