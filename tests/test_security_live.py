"""Security rules fire from what a live snapshot records, and the password itself is never recorded."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
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


@pytest.mark.parametrize("flavour", ["redis62", "redis70", "valkey91"])
def test_acl_users_without_password_are_found_and_no_hash_is_kept(flavour: str) -> None:
    """ACL LIST is collected as the users' shape only; an enabled non-default user with nopass fires
    acl-nopass-users, a disabled one or one with a password does not, and neither does the default
    user once it has a password."""
    secret = "Zq9-another-distinctive-secret"
    with running_server(flavour) as server:
        client = server.client()
        client.execute_command("ACL", "SETUSER", "worker", "on", "nopass", "~rq:*", "+@all")
        client.execute_command("ACL", "SETUSER", "app", "on", f">{secret}", "~*", "+@all", "-@dangerous")
        client.execute_command("ACL", "SETUSER", "retired", "off", "nopass")
        hashes = [t for line in client.execute_command("ACL", "LIST") for t in line.split() if t[:1] == b"#"]
        client.config_set("requirepass", secret)  # the default user gets a password
        server.password = secret
        server.client().set("k", "v")
        analysis = insightkit.analyze(server.url, method="dump", progress=False)
    users = {u["user"]: u for u in analysis.metadata["acl"]}
    assert set(users) == {"default", "worker", "app", "retired"}
    assert users["worker"] == {
        "user": "worker",
        "enabled": True,
        "nopass": True,
        "passwords": 0,
        "all_keys": False,
        "all_commands": True,
        "dangerous": True,
    }
    assert users["app"]["passwords"] == 1 and not users["app"]["nopass"]
    assert users["app"]["all_commands"] and users["app"]["dangerous"] is False  # +@all -@dangerous
    assert users["retired"]["enabled"] is False
    dumped = json.dumps(analysis.metadata, default=str)
    assert secret not in dumped
    assert hashes and not any(h.decode()[1:] in dumped for h in hashes)
    recs = analysis.recommendations.set_index("rule")
    assert "acl-nopass-users" in recs.index and "no-password" not in recs.index
    detail = recs.loc["acl-nopass-users", "detail"]
    assert "worker" in detail and "app" not in detail and "retired" not in detail
    dangerous = recs.loc["dangerous-commands", "detail"]  # each user's own rights, from ACL LIST
    assert dangerous.startswith("ACL users default, worker can run FLUSHALL")
    assert "app" not in dangerous and "retired" not in dangerous
    # the RSNAP keeps the same shape and nothing more
    with tempfile.TemporaryDirectory() as tmp:
        path = analysis.to_rsnap(Path(tmp) / "acl.rsnap.parquet")
        stored = insightkit.load(path).metadata["acl"]
    assert stored == analysis.metadata["acl"]


def test_acl_metadata_keeps_only_the_users_shape() -> None:
    from insightkit.acquire.serverinfo import parse_acl_list
    from insightkit.rsnap import sanitize_metadata

    users = parse_acl_list(
        [b"user default on nopass sanitize-payload ~* &* +@all", "user app on #abc123 #def456 ~app:* +get"]
    )
    assert users[1] == {
        "user": "app",
        "enabled": True,
        "nopass": False,
        "passwords": 2,
        "all_keys": False,
        "all_commands": False,
        "dangerous": False,
    }
    assert users[0]["dangerous"] is True  # +@all, nothing taken back
    restricted = parse_acl_list(["user app on #abc ~* +@all -@dangerous", "user mon on #abc ~* +config|get"])
    assert [u["dangerous"] for u in restricted] == [False, False]
    # FLUSHALL is in @write and @keyspace, not @admin; a later rule overrides an earlier one
    still_open = ["+@all -@admin", "-@all +@read +@write", "+@all -@dangerous +flushall"]
    assert [u["dangerous"] for u in parse_acl_list([f"user u on #abc ~* {r}" for r in still_open])] == [
        True
    ] * 3
    assert "abc123" not in json.dumps(users)
    # whatever a hand-made metadata dict carries under "acl", the writer keeps only the known fields
    raw = {"acl": [{"user": "x", "nopass": True, "rules": "on #abc123 ~*"}, "user y on #def456"]}
    cleaned = sanitize_metadata(raw)
    assert "abc123" not in json.dumps(cleaned) and "def456" not in json.dumps(cleaned)
    assert cleaned["acl"][0] == {"user": "x", "nopass": True}


def test_dangerous_commands_judges_each_users_rights_not_a_monitoring_users_config_get() -> None:
    """A monitoring user granted CONFIG GET alone is not the finding: with +acl|list the rule reads
    every user's rights and names the ones that can FLUSHALL; without it, it says how to let it."""
    secret = "Mon-Itor-7731"
    reads = ["on", f">{secret}", "~*", "+@read", "+@connection", "+info", "+scan", "+dump", "+pttl"]
    reads += ["+pexpiretime", "+object", "+config|get", "+client", "+select"]
    with running_server("redis70") as server:
        server.client().execute_command("ACL", "SETUSER", "root", "on", f">{secret}", "~*", "&*", "+@all")
        admin = server.client(username="root", password=secret)
        admin.set("k", "v")
        admin.execute_command("ACL", "SETUSER", "monitor", *reads, "+acl|list")
        admin.execute_command("ACL", "SETUSER", "blind", *reads)
        admin.execute_command("ACL", "SETUSER", "default", "-@dangerous")  # the application's user
        admin.execute_command("ACL", "SETUSER", "root", "off")  # (an admin nobody logs in as)
        url = "redis://{user}:" + secret + f"@127.0.0.1:{server.port}/0"
        seen = insightkit.analyze(url.format(user="monitor"), method="dump", progress=False)
        assert "dangerous-commands" not in set(seen.recommendations["rule"])  # nobody has +@all
        admin.execute_command("ACL", "SETUSER", "default", "+@all")  # (root's open connection keeps working)
        seen = insightkit.analyze(url.format(user="monitor"), method="dump", progress=False)
        found = seen.recommendations.set_index("rule")
        assert found.loc["dangerous-commands", "detail"].startswith("ACL user default can run FLUSHALL")
        blind = insightkit.analyze(url.format(user="blind"), method="dump", progress=False)
        detail = blind.recommendations.set_index("rule").loc["dangerous-commands", "detail"]
        assert "+acl|list" in detail and blind.metadata.get("acl") is None
