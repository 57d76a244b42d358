"""The fixtures really start the servers they claim to."""

from __future__ import annotations

from servers import Server


def test_each_flavour_starts_and_reports_its_version(any_server: Server) -> None:
    info = any_server.client().info("server")
    version = info.get("valkey_version") or info["redis_version"]
    major, minor = (int(p) for p in str(version).split(".")[:2])
    assert (major, minor) == any_server.flavour.version
    assert any_server.port != 6379
    any_server.client().set("k", "v")
    assert any_server.save().stat().st_size > 0
