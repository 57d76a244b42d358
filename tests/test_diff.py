"""insightkit.diff (insightkit.compare) on two RDB files written by a real Redis 7.0 before and after a known set of changes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from diff_data import (
    CATALOGS,
    INVOICES,
    JOBS,
    PAGES,
    PERSISTED,
    TAG_SETS,
    USERS_AFTER,
    USERS_BEFORE,
    DiffFiles,
    make_diff_files,
)

import insightkit
from insightkit.cli import main
from insightkit.compare import DiffResult, diff
from insightkit.errors import ConfigurationError, SourceError

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> DiffFiles:
    return make_diff_files(tmp_path_factory.mktemp("diff"))


@pytest.fixture(scope="module")
def analyses(files: DiffFiles) -> tuple[insightkit.Analysis, insightkit.Analysis]:
    return insightkit.analyze(files.old, progress=False), insightkit.analyze(files.new, progress=False)


@pytest.fixture(scope="module")
def result(analyses: tuple[insightkit.Analysis, insightkit.Analysis]) -> DiffResult:
    return diff(*analyses)


def _row(frame: pd.DataFrame, **where: object) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for column, value in where.items():
        mask &= frame[column] == value
    rows = frame[mask]
    assert len(rows) == 1, f"expected one row for {where}, got {len(rows)}"
    return rows.iloc[0]


def test_new_and_vanished_patterns(result: DiffResult) -> None:
    assert result.new_patterns["pattern"].tolist() == ["invoice:*:pdf"]
    assert result.new_patterns["keys_b"].tolist() == [INVOICES]
    assert result.vanished_patterns["pattern"].tolist() == ["jobs:pending:*"]
    assert result.vanished_patterns["keys_a"].tolist() == [JOBS]
    assert result.totals["patterns_new"] == 1 and result.totals["patterns_vanished"] == 1


def test_growth_by_pattern_counts_added_keys(result: DiffResult) -> None:
    users = _row(result.by_pattern, pattern="user:*:profile")
    assert (users["keys_a"], users["keys_b"]) == (USERS_BEFORE, USERS_AFTER)
    assert users["keys_added"] == USERS_AFTER - USERS_BEFORE and users["keys_removed"] == 0
    assert users["status"] == "grown" and users["memory_delta_bytes"] > 0
    assert users["growth"] == pytest.approx(users["memory_delta_bytes"] / users["memory_bytes_a"])
    assert "user:*:profile" in result.growth(10)["pattern"].tolist()
    assert result.shrinkage(10)["pattern"].tolist() == ["jobs:pending:*"]
    sessions = _row(result.by_pattern, pattern="session:*")
    assert sessions["status"] == "unchanged" and sessions["memory_delta_bytes"] == 0


def test_encoding_changes(result: DiffResult, files: DiffFiles) -> None:
    changes = result.encoding_changes
    tags = _row(changes, type_a="set", encoding_a="intset")
    assert tags["keys"] == TAG_SETS and tags["encoding_b"] != "intset"
    catalogs = _row(changes, type_a="hash", encoding_a="listpack")
    assert (catalogs["keys"], catalogs["encoding_b"]) == (CATALOGS, "hashtable")
    assert result.totals["keys_changed_encoding"] == TAG_SETS + CATALOGS
    assert len(result.changed_keys) == TAG_SETS + CATALOGS
    assert set(result.changed_keys["pattern"]) == {"tags:*", "catalog:*"}
    # Per-key memory comes from each side: the hashtable catalogs are the biggest keys that changed.
    assert result.changed_keys["memory_bytes_b"].is_monotonic_decreasing
    capped = diff(files.old, files.new, max_keys=3)
    assert len(capped.changed_keys) == 3 and capped.totals["keys_changed_encoding"] == TAG_SETS + CATALOGS


def test_lost_ttl(result: DiffResult) -> None:
    lost = result.lost_ttl_keys
    assert sorted(lost["key"]) == sorted(f"cache:page:{i}" for i in range(PERSISTED))
    assert lost["expires_at_a"].notna().all()
    assert result.totals["keys_lost_ttl"] == PERSISTED and result.totals["keys_gained_ttl"] == 0
    pages = _row(result.by_pattern, pattern="cache:page:*")
    assert (pages["keys_lost_ttl"], pages["keys_a"], pages["keys_b"]) == (PERSISTED, PAGES, PAGES)


def test_ttl_mix_matches_each_sides_summary(
    result: DiffResult, analyses: tuple[insightkit.Analysis, insightkit.Analysis]
) -> None:
    old, new = (a.summary().ttl_buckets.set_index("bucket") for a in analyses)
    mix = result.ttl_mix.set_index("bucket")
    assert mix["keys_a"].tolist() == old["keys"].tolist()
    assert mix["keys_b"].tolist() == new["keys"].tolist()
    assert mix["memory_bytes_b"].tolist() == new["memory_bytes"].tolist()
    assert mix.loc["no ttl", "share_delta"] > 0  # persisted pages and new invoices have no TTL
    assert mix["share_a"].sum() == pytest.approx(1.0) and mix["share_b"].sum() == pytest.approx(1.0)


def test_by_type_and_totals_match_the_key_tables(
    result: DiffResult, analyses: tuple[insightkit.Analysis, insightkit.Analysis]
) -> None:
    old, new = analyses
    assert result.totals["memory_bytes_a"] == int(old.keys["memory_bytes"].sum())
    assert result.totals["memory_bytes_b"] == int(new.keys["memory_bytes"].sum())
    assert result.totals["keys_added"] == (USERS_AFTER - USERS_BEFORE) + INVOICES
    assert result.totals["keys_removed"] == JOBS
    by_type = new.summary().by_type.set_index("type")["memory_bytes"]
    assert (
        result.by_type.set_index("type")["memory_bytes_b"].reindex(by_type.index).tolist() == by_type.tolist()
    )
    lists = _row(result.by_type, type="list")
    assert (lists["keys_b"], lists["status"]) == (0, "vanished")
    hashtable = _row(result.by_encoding, type="hash", encoding="hashtable")
    assert (hashtable["keys_a"], hashtable["keys_b"], hashtable["status"]) == (0, CATALOGS, "new")
    assert result.by_pattern["memory_delta_bytes"].abs().is_monotonic_decreasing


def test_identical_snapshots_have_no_changes(
    analyses: tuple[insightkit.Analysis, insightkit.Analysis],
) -> None:
    same = diff(analyses[1], analyses[1])
    assert set(same.by_pattern["status"]) == {"unchanged"}
    assert same.totals["memory_delta_bytes"] == 0 and same.totals["keys_added"] == 0
    assert same.encoding_changes.empty and same.lost_ttl_keys.empty


def test_rsnap_paths_give_the_same_diff(
    tmp_path: Path, result: DiffResult, analyses: tuple[insightkit.Analysis, insightkit.Analysis]
) -> None:
    old = analyses[0].to_rsnap(tmp_path / "old.rsnap.parquet")
    new = analyses[1].to_rsnap(tmp_path / "new.rsnap.parquet")
    from_files = diff(old, new)
    columns = ["pattern", "keys_a", "keys_b", "memory_delta_bytes", "keys_lost_ttl"]
    pd.testing.assert_frame_equal(from_files.by_pattern[columns], result.by_pattern[columns])
    assert from_files.sources == (str(old), str(new))
    own = diff(old, new, patterns="own")  # the patterns stored in each RSNAP
    assert set(own.by_pattern["pattern"]) == set(result.by_pattern["pattern"])


def test_custom_patterns_apply_to_both_sides(
    analyses: tuple[insightkit.Analysis, insightkit.Analysis],
) -> None:
    named = diff(*analyses, custom_patterns={"user:*": "users"})
    users = _row(named.by_pattern, pattern="users")
    assert (users["keys_a"], users["keys_b"]) == (USERS_BEFORE, USERS_AFTER)


def test_text_html_and_json(result: DiffResult) -> None:
    text = str(result)
    assert "invoice:*:pdf" in text and "jobs:pending:*" in text and "Keys that lost their TTL" in text
    assert "+150.0%" in text  # user profiles: 200 → 500 keys of the same size
    html = result._repr_html_()
    assert "<h4>New patterns</h4>" in html and "invoice:*:pdf" in html
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["totals"]["keys_lost_ttl"] == PERSISTED
    assert {r["pattern"] for r in payload["by_pattern"]} >= {"invoice:*:pdf", "jobs:pending:*"}


def test_chart(result: DiffResult) -> None:
    fig = result.plot(top=5)
    patterns_ax, ttl_ax = fig.axes[:2]
    labels = [t.get_text() for t in patterns_ax.get_yticklabels()]
    assert "invoice:*:pdf (new)" in labels and "jobs:pending:* (vanished)" in labels
    assert len(labels) == 5
    assert [t.get_text() for t in ttl_ax.get_yticklabels()] == ["old", "new"]


def test_cli_diff(files: DiffFiles, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chart = tmp_path / "diff.png"
    assert main(["diff", str(files.old), str(files.new), "-q", "--top", "3", "--chart", str(chart)]) == 0
    out = capsys.readouterr().out
    assert "Patterns that moved most (top 3)" in out and "invoice:*:pdf" in out
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert main(["diff", str(files.old), str(files.new), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["totals"]["keys_removed"] == JOBS


def test_bad_inputs(files: DiffFiles, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot diff a int"):
        diff(42, files.new)
    with pytest.raises(SourceError, match="no such file"):
        diff(tmp_path / "missing.rdb", files.new)
    with pytest.raises(ConfigurationError, match="patterns="):
        diff(files.old, files.new, patterns="both")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="lacks columns"):
        diff(pd.DataFrame({"key": ["a"]}), files.new)


def test_insightkit_diff_is_the_function_however_imported(
    analyses: tuple[insightkit.Analysis, insightkit.Analysis],
) -> None:
    import insightkit.compare  # the package behind it has its own name: nothing rebinds insightkit.diff

    assert insightkit.diff is insightkit.compare.diff
    assert insightkit.diff(*analyses).totals == diff(*analyses).totals


REPO = Path(__file__).resolve().parent.parent


def test_a_diff_across_different_redactions_says_what_does_not_compare(tmp_path: Path) -> None:
    """Key names hashed on one side only, or with each side's own random secret, match nothing across
    the two: the diff says so (text, JSON) instead of reporting every key added and removed."""
    import subprocess
    import sys

    from insightkit.analysis import analyze

    analysis = analyze(REPO / "data" / "samples" / "sample.rdb", progress=False)
    plain = analysis.to_rsnap(tmp_path / "plain.rsnap.parquet")
    random_1 = analysis.to_rsnap(tmp_path / "r1.rsnap.parquet", redact=True)
    random_2 = analysis.to_rsnap(tmp_path / "r2.rsnap.parquet", redact=True)
    keyed_1 = analysis.to_rsnap(tmp_path / "k1.rsnap.parquet", redact="one secret")
    keyed_2 = analysis.to_rsnap(tmp_path / "k2.rsnap.parquet", redact="one secret")

    one_side = insightkit.diff(plain, random_1)
    assert len(one_side.warnings) == 1 and "redacted in the new snapshot only" in one_side.warnings[0]
    assert one_side.headline()[0].startswith("warning: key names are redacted")
    both_random = insightkit.diff(random_1, random_2)
    assert "old and new snapshots were redacted with a random secret" in both_random.warnings[0]
    assert both_random.totals["keys_added"] == len(analysis.keys)  # what the warning explains
    same_secret = insightkit.diff(keyed_1, keyed_2)
    assert same_secret.warnings == () and same_secret.totals["keys_added"] == 0
    assert insightkit.diff(plain, plain).warnings == ()

    run = [sys.executable, "-m", "insightkit", "diff", str(random_1), str(random_2)]
    text = subprocess.run(run, capture_output=True, text=True, cwd=REPO, check=True).stdout
    assert text.startswith("warning: the old and new snapshots were redacted with a random secret")
    data = json.loads(
        subprocess.run([*run, "--json"], capture_output=True, text=True, cwd=REPO, check=True).stdout
    )
    assert data["warnings"] == list(both_random.warnings)


def test_a_diff_across_allocators_says_why_memory_moved(tmp_path: Path) -> None:
    """The same keys estimated for two allocators differ in memory with no key changed: the diff says
    so, and says nothing when both sides agree."""
    from insightkit.analysis import analyze

    sample = REPO / "data" / "samples" / "sample.rdb"
    default = analyze(sample, progress=False)
    stock = analyze(sample, progress=False, allocator="jemalloc-16")
    moved = insightkit.diff(default, stock)
    assert moved.totals["keys_added"] == 0 and moved.totals["memory_delta_bytes"] != 0
    assert any("jemalloc in the old snapshot and jemalloc-16 in the new" in w for w in moved.warnings)
    assert insightkit.diff(default, analyze(sample, progress=False)).warnings == ()
