"""Real libraries on a real Redis 7.0: their families found with owner and role, and advice that does not
hurt the people who follow it.

RQ 3.0 and Celery 5.7 (kombu) run as their users run them — jobs enqueued to a queue nobody works on,
results kept forever, a worker draining another queue — together with dramatiq and huey (brokers);
Django's cache and sessions (django-redis), Flask-Session and ``limits`` write to a second server. The
snapshot is analysed in memory and out of core. Nothing here types a library's key names by hand.
arq and redis-om pin redis-py below the version insightkit's tests use, so they are catalogued from their
source and checked by their examples (tests/test_libraries.py) only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from library_workloads import (
    celery_workload,
    django_workload,
    dramatiq_workload,
    flask_session_workload,
    huey_workload,
    installed,
    limits_workload,
    rq_workload,
)
from servers import Server, running_server

import insightkit
import insightkit.recommend as rules_api

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(
        not installed(
            "rq", "celery", "dramatiq", "huey", "django", "django_redis", "flask_session", "limits"
        ),
        reason="pip install -e '.[dev]' brings the job, cache and session libraries",
    ),
]

#: lowered so that a few hundred keys show what thousands would (each rule's own threshold)
SMALL = {
    "long_key_pattern_keys": 50,
    "hash_list_pattern_keys": 50,
    "small_string_pattern_keys": 50,
    "big_list_elements": 500,
    "big_hash_elements": 500,
    "big_zset_elements": 50,
}


@pytest.fixture(scope="module")
def brokers() -> Iterator[dict[str, Any]]:
    """RQ, Celery, dramatiq and huey on one server (maxmemory set, noeviction as the libraries ask),
    analysed in memory and out of core."""
    logging.disable(logging.WARNING)
    try:
        with running_server("redis70", args=["--maxmemory", "512mb"]) as server:
            runs = {
                "rq": rq_workload(server),
                "celery": celery_workload(server),
                "dramatiq": dramatiq_workload(server),
                "huey": huey_workload(server),
            }
            memory = insightkit.analyze(server.url, progress=False)
            memory.keys  # noqa: B018
            streamed = insightkit.analyze(server.url, progress=False, out_of_core=True)
            yield {"server": server, "runs": runs, "memory": memory, "streamed": streamed}
            streamed.close()
    finally:
        logging.disable(logging.NOTSET)


def _owners(analysis: Any) -> dict[str, tuple[Any, Any]]:
    p = analysis.patterns
    return {row.pattern: (row.owner, row.role) for row in p.itertuples()}


def _findings(analysis: Any, thresholds: dict[str, Any] | None = None) -> pd.DataFrame:
    if thresholds is None:
        return analysis.recommendations.set_index("rule")
    if analysis.out_of_core:
        table = analysis.key_table.rows
        return rules_api.evaluate(table, None, analysis.metadata, thresholds).set_index("rule")
    return rules_api.evaluate(analysis.keys, None, analysis.metadata, thresholds).set_index("rule")


@pytest.mark.parametrize("path", ["memory", "streamed"])
def test_broker_families_are_found_with_owner_and_role(brokers: dict[str, Any], path: str) -> None:
    owners = _owners(brokers[path])
    expected = {
        "rq:queue:*": ("rq", "queue"),
        "rq:job:*": ("rq", "job"),
        "rq:results:*": ("rq", "result"),
        "rq:queues": ("rq", "registry"),
        "rq:finished:*": ("rq", "registry"),
        "rq:failed:*": ("rq", "dead-letter"),
        "rq:scheduled:*": ("rq", "scheduler"),
        "celery-task-meta-*": ("celery", "result"),
        "_kombu.binding.*": ("celery", "registry"),
        "reports": ("celery", "queue"),  # the list a worker never consumed, named by its binding
        "dramatiq:*": ("dramatiq", "queue"),
        "dramatiq:*.msgs": ("dramatiq", "job"),
        "dramatiq:*.DQ": ("dramatiq", "scheduler"),
        "huey.redis.*": ("huey", "queue"),
        "huey.results.*": ("huey", "result"),
    }
    for pattern, pair in expected.items():
        assert owners.get(pattern) == pair, (pattern, owners.get(pattern))
    # nothing a library wrote was left to discovery
    unowned = [p for p, (owner, _) in owners.items() if pd.isna(owner)]
    assert unowned == [], unowned


def test_both_paths_agree_on_patterns_and_owners(brokers: dict[str, Any]) -> None:
    assert brokers["memory"].metadata["library_patterns"] == brokers["streamed"].metadata["library_patterns"]


@pytest.mark.parametrize("path", ["memory", "streamed"])
def test_queues_get_a_backlog_finding_and_no_trim_advice(brokers: dict[str, Any], path: str) -> None:
    analysis = brokers[path]
    found = _findings(analysis)
    backlog = found.loc["queue-backlog"]
    assert set(backlog["top_patterns"]) >= {"rq:queue:*", "reports", "dramatiq:*", "huey.redis.*"}
    assert backlog["offending_keys"] == 4
    assert {"rq", "celery", "dramatiq", "huey"} <= set(backlog["owner"].split(", "))
    assert "rq worker" in backlog["fix"] and "celery -A proj inspect active_queues" in backlog["fix"]
    offenders = analysis.offenders("queue-backlog").set_index("key")
    assert offenders.loc["rq:queue:low", "num_elements"] == brokers["runs"]["rq"]["backlog"]
    assert offenders.loc["reports", "num_elements"] == brokers["runs"]["celery"]["backlog"]
    # with big-lists' threshold below the queues' depth, it still never offers LTRIM on them
    small = _findings(analysis, SMALL)
    assert "big-lists" not in small.index or not (
        set(small.loc["big-lists", "top_patterns"]) & {"rq:queue:*", "reports", "dramatiq:*", "huey.redis.*"}
    )


@pytest.mark.parametrize("path", ["memory", "streamed"])
def test_a_broker_keeps_noeviction(brokers: dict[str, Any], path: str) -> None:
    analysis = brokers[path]
    assert analysis.metadata["config"]["maxmemory-policy"] == "noeviction"
    row = _findings(analysis).loc["noeviction-with-volatile-keys"]  # RQ jobs enqueued with a TTL
    assert "Keep maxmemory-policy noeviction" in row["fix"]
    assert "volatile-lru" not in row["fix"].split("instance of their own")[0]
    assert "RQ" in row["fix"] and "Celery" in row["fix"]


@pytest.mark.parametrize("path", ["memory", "streamed"])
def test_library_keys_get_library_settings_instead_of_renames(brokers: dict[str, Any], path: str) -> None:
    analysis = brokers[path]
    small = _findings(analysis, SMALL)
    for rule in ("long-key-names", "hashes-as-lists", "streams-to-functions", "small-strings-to-hashes"):
        if rule in small.index:
            owned = {p for p, (o, _) in _owners(analysis).items() if o}
            assert not set(small.loc[rule, "top_patterns"]) & owned, rule
    results = _findings(analysis).loc["results-without-expiry"]
    assert {"rq:results:*", "celery-task-meta-*", "huey.results.*"} <= set(results["top_patterns"])
    assert "result_ttl" in results["fix"]
    assert "result_expires" in results["fix"]
    assert "RedisExpireHuey" in results["fix"]
    # kombu, RQ and dramatiq load Lua scripts; they are theirs, not a FUNCTION library to write
    assert analysis.metadata["info"]["memory"]["number_of_cached_scripts"] not in (0, "0")
    assert "lua-to-functions" not in _findings(analysis).index


@pytest.fixture(scope="module")
def web() -> Iterator[Server]:
    logging.disable(logging.WARNING)
    try:
        with running_server("redis70") as server:
            django_workload(server)
            flask_session_workload(server)
            limits_workload(server)
            yield server
    finally:
        logging.disable(logging.NOTSET)


def test_web_families_are_split_and_owned(web: Server) -> None:
    analysis = insightkit.analyze(web.url, progress=False)
    owners = _owners(analysis)
    assert owners[":1:django.contrib.sessions.cache*"] == ("django", "session")
    assert owners[":1:template.cache.*"] == ("django", "cache")
    assert owners[":1:views.decorators.cache.cache_page.*"] == ("django", "cache")
    assert owners[":1:views.decorators.cache.cache_header.*"] == ("django", "cache")
    assert owners[":1:*"] == ("django", "cache")
    assert owners["session:*"] == ("flask-session", "session")
    assert owners["LIMITS:LIMITER/*"] == ("limits", "rate-limit")
    assert [p for p, (owner, _) in owners.items() if pd.isna(owner)] == []
    # half the object cache was written with timeout=None: visible now that sessions and pages are apart
    found = _findings(analysis)
    row = found.loc["library-cache-without-ttl"]
    assert row["top_patterns"] == [":1:*"] and row["offending_keys"] == 200
    assert "TIMEOUT" in row["fix"]
    small = _findings(analysis, {**SMALL, "small_string_pattern_keys": 20})
    assert "small-strings-to-hashes" not in small.index


def test_rq_job_hashes_counted_with_results_are_said_to_include_queued_jobs() -> None:
    """results-without-expiry takes in RQ's job hashes without a TTL (they expire with their results),
    queued jobs' among them: its detail says so, so 'N keys' is not read as N results."""
    from library_workloads import add, rq_results_workload
    from rq import Queue

    with running_server("redis70") as server:
        rq_results_workload(server.url, jobs=150, result_ttl=-1)  # finished, results kept forever
        Queue("low", connection=server.client()).enqueue_many(
            [Queue.prepare_data(add, (i, 1)) for i in range(300)]  # queued, nobody works on them
        )
        found = insightkit.analyze(server.url, method="dump", progress=False).recommendations
    row = found.set_index("rule").loc["results-without-expiry"]
    assert row["offending_keys"] == 150 + 150 + 300  # result streams, finished and queued job hashes
    assert "rq:job:*" in row["detail"] and "queued jobs' included" in row["detail"]
