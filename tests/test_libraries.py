"""The library catalogue as data: every entry's example keys, ownership on both paths, bad input.

Each family's ``matches`` must be taken by that family (with the whole catalogue competing, most
specific first) and its ``misses`` must not; the regexes run on RE2 (the fast path). Families win over
discovery in memory (``assign_owned``) and out of core (``fleet.ingest``) alike, with the same owners.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from rule_examples import key_table

import insightkit
import insightkit.recommend as rules_api
from insightkit.analysis import Analysis
from insightkit.errors import ConfigurationError
from insightkit.fleet.ingest import ingest
from insightkit.patterns import libraries
from insightkit.patterns.assign import assign_owned
from insightkit.patterns.custom import library_rules, match_named
from insightkit.patterns.libraries import CATALOGUE, Family, Library
from insightkit.rsnap import read_rsnap, read_rsnap_metadata
from insightkit.schema import KEY_SCHEMA

FAMILIES = [(library, family) for library in CATALOGUE for family in library.families]


def _winner(keys: list[str], rules: Any = None) -> list[tuple[str | None, str | None]]:
    """(owner, family pattern) of the rule that takes each key, or (None, None)."""
    matched = match_named(pa.array(keys, pa.string()), rules if rules is not None else library_rules())
    out: list[tuple[str | None, str | None]] = []
    for code in matched.codes:
        rule = matched.rules[code] if code >= 0 else None
        out.append((rule.owner, rule.family.pattern) if rule is not None else (None, None))
    return out


@pytest.mark.parametrize(("library", "family"), FAMILIES, ids=lambda x: getattr(x, "pattern", None) or x.name)
def test_family_takes_its_examples_and_leaves_its_misses(library: Library, family: Family) -> None:
    for key, (owner, pattern) in zip(family.matches, _winner(list(family.matches)), strict=True):
        assert (owner, pattern) == (library.name, family.pattern), key
    for key, (owner, pattern) in zip(family.misses, _winner(list(family.misses)), strict=True):
        assert (owner, pattern) != (library.name, family.pattern), key


def test_catalogue_regexes_run_on_re2() -> None:
    """Every family regex runs in Arrow's RE2 (one alternation per batch; Python's re only as a
    fallback)."""
    keys = pa.array(["rq:job:1"])
    for _, family in FAMILIES:
        pc.match_substring_regex(keys, pattern=libraries.family_regex(family))


def test_catalogue_table_lists_every_library_and_role() -> None:
    table = libraries.catalogue()
    owners = set(table["owner"])
    for name in ("rq", "celery", "sidekiq", "bullmq", "dramatiq", "huey", "arq", "django", "flask-session"):
        assert name in owners
    for name in ("redis-om", "limits", "spring-session", "rails"):
        assert name in owners
    assert set(table["role"]) <= set(libraries.ROLES)
    assert {"queue", "job", "result", "registry", "scheduler", "dead-letter", "lock", "cache"} <= set(
        table["role"]
    )
    assert {"session", "rate-limit"} <= set(table["role"])
    assert set(table["verified"]) == {"tests", "source"}
    # ActionCable is catalogued with no families: it only publishes
    assert libraries.get("actioncable") is not None and not libraries.get("actioncable").families


def _table(keys: list[str], types: dict[str, str] | None = None) -> Any:
    types = types or {}
    return key_table([{"key": k, "type": types.get(k, "string")} for k in keys])


MIXED = [
    *[f"rq:job:{i:08x}-0000-4000-8000-000000000000" for i in range(40)],
    "rq:queue:low",
    "rq:queues",
    *[f"celery-task-meta-{i:08x}-0000-4000-8000-000000000000" for i in range(30)],
    "_kombu.binding.reports",
    "_kombu.binding.celery",
    "reports",
    *[f":1:django.contrib.sessions.cache{i:032x}" for i in range(25)],
    *[f":1:product:{i}" for i in range(25)],
    *[f"myapp:2:template.cache.sidebar.{i:032x}" for i in range(5)],
    *[f"user:{i}:profile" for i in range(50)],
    "queue:default",  # no Sidekiq "queues" set: not Sidekiq's
]


def test_families_win_over_discovery_with_owner_and_role() -> None:
    keys = _table(MIXED, {"rq:queue:low": "list", "reports": "list", "queue:default": "list"})
    series, owned = assign_owned(keys)
    pattern_of = dict(zip(keys["key"].astype(str), series.astype(str), strict=True))
    assert pattern_of["rq:queue:low"] == "rq:queue:*"
    assert pattern_of[":1:django.contrib.sessions.cache" + "0" * 32] == ":1:django.contrib.sessions.cache*"
    assert pattern_of[":1:product:3"] == ":1:*"
    assert pattern_of["myapp:2:template.cache.sidebar." + "0" * 32] == "myapp:2:template.cache.*"
    assert owned["rq:job:*"] == {"owner": "rq", "role": "job"}
    assert owned["rq:queue:*"] == {"owner": "rq", "role": "queue"}
    assert owned["celery-task-meta-*"] == {"owner": "celery", "role": "result"}
    assert owned["_kombu.binding.*"] == {"owner": "celery", "role": "registry"}
    assert owned["reports"] == {"owner": "celery", "role": "queue"}  # named by its binding
    assert owned[":1:django.contrib.sessions.cache*"] == {"owner": "django", "role": "session"}
    assert owned[":1:*"] == {"owner": "django", "role": "cache"}
    assert "queue:*" not in owned  # Sidekiq's only beside its queues set
    assert not any(p.startswith("user:") for p in owned)
    # the Series carries them too
    from insightkit.patterns import assign_patterns

    assert assign_patterns(keys).attrs["library_patterns"] == owned


def test_out_of_core_ingest_gives_the_same_patterns_and_owners(tmp_path: Path) -> None:
    keys = _table(MIXED, {"rq:queue:low": "list", "reports": "list", "queue:default": "list"})
    series, owned = assign_owned(keys)
    table = pa.Table.from_pandas(keys[list(KEY_SCHEMA.names)], schema=KEY_SCHEMA, preserve_index=False)
    target = tmp_path / "k.rsnap.parquet"
    ingest(table.to_batches(max_chunksize=37), lambda: {"method": "file"}, target)
    written, _ = read_rsnap(target)
    got = dict(zip(written.column("key").to_pylist(), written.column("pattern").to_pylist(), strict=True))
    assert got == dict(zip(keys["key"].astype(str), series.astype(str), strict=True))
    assert read_rsnap_metadata(target)["library_patterns"] == owned
    assert "library_patterns" not in Analysis(_table(["user:1"]), {}).metadata


def test_patterns_and_findings_carry_owner_and_role_on_both_paths(tmp_path: Path) -> None:
    keys = _table(MIXED, {"rq:queue:low": "list", "reports": "list"})
    path = tmp_path / "mixed.rsnap.parquet"
    a = Analysis(keys, {"method": "file", "snapshot_time_ms": 1_800_000_000_000})
    a.to_rsnap(path)
    for analysis in (insightkit.load(path), insightkit.analyze(path, out_of_core=True, progress=False)):
        patterns = analysis.patterns.set_index("pattern")
        assert patterns.loc["rq:job:*", "owner"] == "rq" and patterns.loc["rq:job:*", "role"] == "job"
        assert patterns.loc["reports", "role"] == "queue"
        assert patterns.loc["user:*:profile", "owner"] is pd.NA  # null, as everywhere in Arrow-backed tables
        recs = analysis.recommendations
        assert {"owner", "role"} <= set(recs.columns)
        analysis.close()


def _evaluate(
    specs: list[dict[str, Any]], owned: dict[str, Any], metadata: dict[str, Any] | None = None
) -> Any:
    meta = {"library_patterns": owned, **(metadata or {})}
    return rules_api.evaluate(key_table(specs), None, meta)


def test_queues_of_known_libraries_are_never_trimmed() -> None:
    specs = [
        {"key": "rq:queue:low", "type": "list", "num_elements": 17_000, "pattern": "rq:queue:*"},
        {"key": "log", "type": "list", "num_elements": 50_000, "pattern": "log"},
    ]
    found = _evaluate(specs, {"rq:queue:*": {"owner": "rq", "role": "queue"}}).set_index("rule")
    assert found.loc["big-lists", "offending_keys"] == 1  # the log only
    assert found.loc["big-lists", "top_patterns"] == ["log"]
    backlog = found.loc["queue-backlog"]
    assert backlog["owner"] == "rq" and backlog["role"] == "queue"
    assert "rq worker" in backlog["fix"] and "LTRIM" not in backlog["fix"].replace("never LTRIM", "")
    assert "17,000" in backlog["detail"]


def test_brokers_keep_noeviction() -> None:
    specs = [{"key": "rq:job:{i}", "pattern": "rq:job:*", "expires_at": 1_900_000_000_000, "repeat": 3}]
    config = {"config": {"maxmemory-policy": "noeviction", "maxmemory": "1000000"}}
    owned = {"rq:job:*": {"owner": "rq", "role": "job"}}
    fix = _evaluate(specs, owned, config).set_index("rule").loc["noeviction-with-volatile-keys", "fix"]
    assert "Keep maxmemory-policy noeviction" in fix and "RQ" in fix
    assert "CONFIG SET maxmemory-policy volatile" not in fix
    plain = _evaluate([{**specs[0], "key": "c:{i}", "pattern": "c:*"}], {}, config).set_index("rule")
    assert plain.loc["noeviction-with-volatile-keys", "fix"] == "CONFIG SET maxmemory-policy volatile-lru"


def test_library_keys_get_library_advice_not_renames() -> None:
    n = 1200
    specs = [
        {"key": "celery-task-meta-{i}" + "x" * 20, "pattern": "celery-task-meta-*", "repeat": n},
        {"key": "rq:job:{i}", "type": "hash", "num_elements": 12, "pattern": "rq:job:*", "repeat": n},
        {"key": ":1:obj:{i}", "element_bytes": 20, "pattern": ":1:*", "repeat": n},
        {
            "key": "rq:results:{i}",
            "type": "stream",
            "num_elements": 1,
            "pattern": "rq:results:*",
            "repeat": 150,
        },
    ]
    owned = {
        "celery-task-meta-*": {"owner": "celery", "role": "result"},
        "rq:job:*": {"owner": "rq", "role": "job"},
        ":1:*": {"owner": "django", "role": "cache"},
        "rq:results:*": {"owner": "rq", "role": "result"},
    }
    found = _evaluate(specs, owned, {"rdb": {"functions": []}}).set_index("rule")
    for rule in ("long-key-names", "hashes-as-lists", "small-strings-to-hashes", "streams-to-functions"):
        assert rule not in found.index, rule
    results = found.loc["results-without-expiry"]
    assert "result_expires" in results["fix"] and "result_ttl" in results["fix"]
    assert "TIMEOUT" in found.loc["library-cache-without-ttl", "fix"]


def test_scripts_known_libraries_load_get_no_function_advice() -> None:
    info = {"info": {"memory": {"number_of_cached_scripts": 2, "number_of_libraries": 0}}}
    owned = {"_kombu.binding.*": {"owner": "celery", "role": "registry"}}
    spec = [{"key": "_kombu.binding.celery", "type": "set", "pattern": "_kombu.binding.*"}]
    assert "lua-to-functions" not in set(_evaluate(spec, owned, info)["rule"])
    assert "lua-to-functions" in set(_evaluate(spec, {}, info)["rule"])  # unknown scripts: asked
    many = {"info": {"memory": {"number_of_cached_scripts": 40, "number_of_libraries": 0}}}
    row = _evaluate(spec, owned, many).set_index("rule").loc["lua-to-functions"]
    assert "celery" in row["detail"]


# --- bad input: never an exception, always a clear and stable answer ----------------------------------


def test_an_entry_that_matches_nothing_owns_nothing() -> None:
    nothing = Library(
        name="nothing",
        title="matches nothing here",
        source="test",
        families=(Family("nothing:*", "queue", ("nothing:1",)),),
    )
    keys = _table(["user:1", "user:2", "rq:queue:low"])
    series, owned = assign_owned(keys, libraries=[nothing])
    assert owned == {}
    assert set(series.astype(str)) == {"user:*", "rq:queue:low"}
    # a library with no families at all (ActionCable) too
    assert assign_owned(keys, libraries=["actioncable"])[1] == {}


def test_a_key_two_libraries_could_own_goes_to_the_more_specific() -> None:
    broad = Library(name="broad", title="b", source="t", families=(Family("jobs:*", "job", ("jobs:1",)),))
    narrow = Library(
        name="narrow", title="n", source="t", families=(Family("jobs:mail:*", "queue", ("jobs:mail:1",)),)
    )
    keys = _table(["jobs:mail:1", "jobs:mail:2", "jobs:other:1"])
    for order in ([broad, narrow], [narrow, broad]):
        _, owned = assign_owned(keys, libraries=order)
        assert owned == {
            "jobs:mail:*": {"owner": "narrow", "role": "queue"},
            "jobs:*": {"owner": "broad", "role": "job"},
        }
    # in the catalogue: Django's session family is more specific than its object cache
    assert _winner([":1:django.contrib.sessions.cacheabc"]) == [
        ("django", "{prefix}:{version}:django.contrib.sessions.cache*")
    ]


def test_an_unknown_version_string_is_not_a_django_cache_version() -> None:
    keys = _table([":v2:product:1", ":latest:product:2", ":1:product:3"])
    _, owned = assign_owned(keys)
    assert owned == {":1:*": {"owner": "django", "role": "cache"}}
    assert ":v2:product:1" not in owned
    # version advice compares whole numbers only: an old :1:* beside :2:* is stale ...
    keys = _table([*(f":1:p:{i}" for i in range(5)), *(f":2:p:{i}" for i in range(5)), ":v9:p:1"])
    series, owned = assign_owned(keys)
    meta = {"library_patterns": owned}
    found = rules_api.evaluate(keys.assign(pattern=series.astype(str)), None, meta).set_index("rule")
    assert found.loc["stale-cache-version", "top_patterns"] == [":1:*"]
    assert "version=1" in found.loc["stale-cache-version", "fix"]
    # ... and metadata naming versions that are not numbers gives no version advice and no error
    for bad in ({":v1:*": "cache", ":v2:*": "cache"}, {":1:*": "cache", ":latest:*": "cache"}):
        meta = {"library_patterns": {p: {"owner": "django", "role": r} for p, r in bad.items()}}
        specs = [{"key": f"{p[:-1]}k{i}", "pattern": p, "repeat": 1} for p in bad for i in range(3)]
        assert "stale-cache-version" not in set(rules_api.evaluate(key_table(specs), None, meta)["rule"])


def test_malformed_library_metadata_is_ignored() -> None:
    specs = [{"key": "rq:queue:low", "type": "list", "num_elements": 20_000, "pattern": "rq:queue:*"}]
    for bad in (None, "rq", {"rq:queue:*": "queue"}, {"rq:queue:*": {"owner": 3}}, ["x"]):
        found = rules_api.evaluate(key_table(specs), None, {"library_patterns": bad})
        assert "queue-backlog" not in set(found["rule"])
        assert "big-lists" in set(found["rule"])


def test_unknown_library_names_are_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="not a catalogued library"):
        assign_owned(_table(["a"]), libraries=["no-such-lib"])


def test_html_report_and_cli_show_owner_and_role(tmp_path: Path) -> None:
    from insightkit.cli import main

    keys = _table(MIXED, {"rq:queue:low": "list", "reports": "list"})
    analysis = Analysis(keys, {"method": "file", "snapshot_time_ms": 1_800_000_000_000})
    page = analysis.to_html(tmp_path / "r.html").read_text()
    assert '<th class="">library</th>' in page and '<td class="">rq</td>' in page
    path = analysis.to_rsnap(tmp_path / "m.rsnap.parquet")
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["analyze", str(path), "-q"]) == 0
    text = out.getvalue()
    assert "owner" in text
    assert re.search(r"celery-task-meta-\*\s+celery\s+result", text)


def test_generic_names_are_owned_only_beside_their_anchor(tmp_path: Path) -> None:
    """Sidekiq's queue:* is Sidekiq's beside its queues set; without it, discovery names those keys as
    it always did — on both paths."""
    jobs = [f"queue:jobs:{i}" for i in range(40)]
    for anchor, expected in ((["queues"], {"queue:*": ("sidekiq", "queue")}), ([], {})):
        keys = _table([*jobs, *anchor, "schedule"], {k: "list" for k in jobs})
        series, owned = assign_owned(keys)
        target = tmp_path / f"s{len(anchor)}.rsnap.parquet"
        table = pa.Table.from_pandas(keys[list(KEY_SCHEMA.names)], schema=KEY_SCHEMA, preserve_index=False)
        ingest(table.to_batches(max_chunksize=7), dict, target)
        written, meta = read_rsnap(target)
        assert written.column("pattern").to_pylist() == list(series.astype(str))
        assert meta.get("library_patterns", {}) == owned
        got = {p: (v["owner"], v["role"]) for p, v in owned.items() if p.startswith("queue:")}
        assert got == expected
        if not anchor:
            assert set(series.astype(str)) >= {"queue:jobs:*"} and "schedule" not in owned


def test_fleet_repattern_gives_library_families_too(tmp_path: Path) -> None:
    """RSNAPs without a pattern column opened as a fleet get the same families and owners."""
    from insightkit.fleet import open_fleet
    from insightkit.rsnap import write_rsnap

    keys = _table(MIXED, {"rq:queue:low": "list", "reports": "list"})
    series, owned = assign_owned(keys)
    root = tmp_path / "bare"
    (root / "instance=a").mkdir(parents=True)
    write_rsnap(root / "instance=a" / "part-00000.parquet", keys, {"method": "file"})
    with open_fleet(root, workdir=tmp_path / "work") as fleet:
        assert fleet.metadata["library_patterns"] == owned
        patterns = fleet.patterns.set_index("pattern")
        assert patterns.loc["rq:job:*", "owner"] == "rq" and patterns.loc["reports", "role"] == "queue"
        got = fleet.sql("SELECT key, pattern FROM keys").df()
    assert dict(zip(got["key"], got["pattern"], strict=True)) == dict(
        zip(keys["key"].astype(str), series.astype(str), strict=True)
    )


def test_redacted_rsnaps_name_their_library_patterns_as_their_pattern_column(tmp_path: Path) -> None:
    keys = _table(MIXED, {"rq:queue:low": "list", "reports": "list"})
    analysis = Analysis(keys, {"method": "file"})
    path = analysis.to_rsnap(tmp_path / "r.rsnap.parquet", redact="secret")
    table, meta = read_rsnap(path)
    owned = meta["library_patterns"]
    assert set(owned) <= set(table.column("pattern").to_pylist())
    assert (
        ":1:django.contrib.sessions.cache*" in owned
    )  # the version stays, as in the column (it is compared)
    assert owned["rq:job:*"] == {"owner": "rq", "role": "job"}
