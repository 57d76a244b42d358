"""Presentation at scale: how long charts, one explorer interaction and the HTML report take, and how
big the report file is, as the key table grows.

The key table is tests/keytables.py's synthetic one (plausible namespaces, types and TTLs), with
patterns and recommendations computed by insightkit itself. What a person waits for: a chart after
``a.plot_*()``, the table after changing one explorer filter, the report file.

    python benchmarks/bench_present.py [--keys 100000 1000000]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from keytables import key_batches

from insightkit import present
from insightkit.analysis import Analysis
from insightkit.present.units import human_bytes


def _timed(action):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def run(rows: int) -> None:
    table = pa.Table.from_batches(key_batches(rows))
    keys = table.to_pandas(types_mapper=pd.ArrowDtype)
    analysis = Analysis(
        keys,
        {"method": "file", "source": f"synthetic-{rows}", "snapshot_time_ms": 1_790_000_000_000},
    )
    _, t_patterns = _timed(lambda: (analysis.keys, analysis.patterns))
    _, t_rules = _timed(lambda: analysis.recommendations)
    print(
        f"\n{rows:,} keys, {len(analysis.patterns):,} patterns (patterns {t_patterns:.2f} s, rules {t_rules:.2f} s)"
    )
    for name in present.PLOTS:
        _, seconds = _timed(
            lambda name=name: present.plot(analysis, name).savefig(io.BytesIO(), format="png")
        )
        print(f"  plot_{name:<16} {seconds:6.2f} s (drawn and saved as PNG)")
    explorer, t_open = _timed(lambda: present.explore(analysis))
    print(f"  explore()              {t_open:6.2f} s")

    def change_filter() -> None:
        explorer.type_filter.value = "hash"

    _, t_filter = _timed(change_filter)
    print(
        f"  one filter change      {t_filter:6.2f} s ({explorer.status.value.split('</b>')[0][3:]} keys match)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path, t_html = _timed(lambda: analysis.to_html(Path(tmp) / "report.html"))
        print(f"  to_html()              {t_html:6.2f} s, {human_bytes(path.stat().st_size)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, nargs="+", default=[100_000, 1_000_000])
    for rows in parser.parse_args().keys:
        run(rows)


if __name__ == "__main__":
    main()
