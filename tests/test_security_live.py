"""Security rules fire from what a live snapshot records, and the password itself is never recorded."""

from __future__ import annotations

import json

from servers import Server, running_server

import insightkit


def _fired(analysis: insightkit.Analysis) -> set[str]:
    return set(analysis.recommendations["rule"])


def test_open_server_fires_no_password_and_exposure_rules() -> None:
    with running_server("redis70", args=["--protected-mode", "no", "--bind", "0.0.0.0"]) as server:
        server.client().set("k", "v")
        analysis = insightkit.analyze(server.url, method="dump", progress=False)
    assert analysis.metadata["config"]["requirepass"] == ""
    fired = _fired(analysis)
    assert "no-password" in fired
    assert "exposed-without-protected-mode" in fired


def test_password_is_recorded_only_as_set(redis70: Server) -> None:
    secret = "Zq9-very-distinctive-secret"
    client = redis70.client()
    client.config_set("requirepass", secret)
    redis70.password = secret
    redis70.client().set("k", "v")
    analysis = insightkit.analyze(redis70.url, method="dump", progress=False)
    assert analysis.metadata["config"]["requirepass"] == "<set>"
    assert secret not in json.dumps(analysis.metadata, default=str)
    assert "no-password" not in _fired(analysis)
