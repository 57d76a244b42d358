"""Security rules read from the live server's CONFIG and ACL LIST: users without a password, open admin
commands, exposure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from insightkit.recommend.base import Case, Context, Finding, Rule


def _acl_users(ctx: Context) -> list[Mapping[str, Any]] | None:
    """The snapshot's ACL users (metadata["acl"], see acquire.serverinfo.parse_acl_list), or None."""
    users = ctx.metadata.get("acl")
    if not isinstance(users, list):
        return None
    return [u for u in users if isinstance(u, Mapping) and u.get("user")]


def _open_to_anyone(user: Mapping[str, Any]) -> bool:
    return bool(user.get("enabled")) and bool(user.get("nopass"))


def _no_password(ctx: Context) -> Finding | None:
    users = _acl_users(ctx)
    if users is not None:  # ACL LIST says it directly (and knows a disabled default user)
        default = next((u for u in users if u.get("user") == "default"), None)
        if default is None or not _open_to_anyone(default):
            return None
        return Finding(
            detail="the default user is on with nopass: any client that connects is let in without a password"
        )
    if "requirepass" in (ctx.metadata.get("config_missing") or []):
        return None
    value = ctx.config("requirepass")
    if value is None or str(value) != "":
        return None
    return Finding(detail="requirepass is empty: the default user needs no password")


NO_PASSWORD = Rule(
    id="no-password",
    title="No password on the default user",
    category="security",
    severity="high",
    description=(
        "Anyone who can reach the port can read, change or delete everything, and CONFIG SET lets them "
        "write files on the host. Set a password (or ACL users with nopass removed) and bind to private "
        "addresses. Trade-off: clients need the credentials."
    ),
    fix="CONFIG SET requirepass <long random secret>   # or ACL SETUSER default on >secret ~* +@all",
    check=_no_password,
    peers=("RedisInsight v2 setPassword",),
    fire=Case(metadata={"config": {"requirepass": ""}}),
    quiet=Case(metadata={"config": {"requirepass": "s3cret-long"}}),
)

_ADMIN = ("FLUSHALL", "FLUSHDB", "KEYS", "CONFIG", "DEBUG", "SHUTDOWN", "MODULE")


def _nopass_users(ctx: Context) -> Finding | None:
    users = _acl_users(ctx)
    if not users:
        return None
    named = [u for u in users if u.get("user") != "default" and _open_to_anyone(u)]
    if not named:
        return None
    names = ", ".join(
        str(u["user"]) + (" (all keys and commands)" if u.get("all_keys") and u.get("all_commands") else "")
        for u in named[:10]
    )
    more = f" and {len(named) - 10} more" if len(named) > 10 else ""
    return Finding(detail=f"{len(named)} enabled ACL user(s) with nopass: {names}{more}")


ACL_NOPASS = Rule(
    id="acl-nopass-users",
    title="ACL users that need no password",
    category="security",
    severity="high",
    description=(
        "An enabled ACL user with nopass accepts AUTH <user> <anything>: whoever can reach the port and "
        "knows (or guesses) the user name gets that user's keys and commands. Worker and service users "
        "created for convenience (ACL SETUSER worker on nopass …) are the usual case; the default user "
        "is no-password's finding. Read from ACL LIST on a live snapshot (Redis/Valkey >= 6); silent "
        "when ACL LIST was not allowed. Trade-off: clients of these users need a password."
    ),
    fix="ACL SETUSER <user> resetpass >long-random-secret   # or ACL SETUSER <user> off; then ACL SAVE",
    check=_nopass_users,
    peers=("RedisInsight v2 setPassword (ACL users)",),
    fire=Case(
        metadata={
            "acl": [
                {"user": "default", "enabled": True, "nopass": False, "passwords": 1},
                {"user": "worker", "enabled": True, "nopass": True, "passwords": 0},
            ]
        }
    ),
    quiet=Case(
        metadata={
            "acl": [
                {"user": "default", "enabled": True, "nopass": True, "passwords": 0},
                {"user": "worker", "enabled": True, "nopass": False, "passwords": 1},
                {"user": "old", "enabled": False, "nopass": True, "passwords": 0},
            ]
        }
    ),
)


def _dangerous(ctx: Context) -> Finding | None:
    config = ctx.metadata.get("config") or {}
    if not config or ctx.metadata.get("config_missing"):
        return None  # CONFIG GET was blocked: renamed or restricted, which is the point
    open_flags = [
        name
        for name in ("enable-debug-command", "enable-module-command", "enable-protected-configs")
        if str(config.get(name, "no")) == "yes"
    ]
    acl = ctx.metadata.get("acl")
    if isinstance(acl, list) and acl:  # each user's own rights (ACL LIST): no guess from CONFIG GET
        # what clients log in as without naming a user (default) or a password (nopass): a named
        # admin user with a password is the fix itself, not the finding
        admins = [
            str(u.get("user"))
            for u in acl
            if isinstance(u, dict)
            and u.get("enabled")
            and (u.get("user") == "default" or u.get("nopass"))
            and u.get("dangerous", u.get("all_commands"))
        ]
        if not admins:
            return None  # CONFIG GET was granted on its own (+config|get), as to a monitoring user
        detail = (
            f"ACL user{'s' if len(admins) > 1 else ''} {', '.join(admins)} can run "
            + ", ".join(_ADMIN[:3])
            + " and CONFIG SET (no -@dangerous)"
        )
    else:
        detail = (
            "CONFIG GET answered this client, so CONFIG (and likely " + ", ".join(_ADMIN[:3]) + ") is open"
        )
        if (ctx.version_known or (0,)) >= (6, 0):  # ACL LIST exists, but this client could not read it
            detail += (
                " — unless this user was granted CONFIG GET alone (+config|get); grant it +acl|list too "
                "and the snapshot checks every user's rights instead"
            )
    if open_flags:
        detail += "; " + ", ".join(open_flags) + " = yes"
    return Finding(detail=detail)


DANGEROUS_COMMANDS = Rule(
    id="dangerous-commands",
    title="Administrative commands open to clients",
    category="security",
    severity="medium",
    description=(
        "The user clients log in as without naming one (default), or a user without a password, can "
        "run CONFIG, FLUSHALL, KEYS and DEBUG (per ACL LIST: no -@dangerous); where ACL LIST could not "
        "be read, the snapshot's own CONFIG GET "
        "is the hint that they are not renamed or restricted (a user granted only +config|get, as a "
        "monitoring user is, shows in ACL LIST and is not flagged). One mistaken FLUSHALL or KEYS * on a "
        "big dataset is an outage. "
        "Restrict them with ACLs (or rename-command on old versions). Trade-off: admin tools need a "
        "separate user."
    ),
    fix="ACL SETUSER app on >secret ~* +@all -@dangerous   # admins get their own user",
    check=_dangerous,
    peers=("RedisInsight v2 dangerousCommands",),
    fire=Case(metadata={"config": {"maxmemory": "0", "enable-debug-command": "yes"}}),
    quiet=Case(metadata={"config": {"maxmemory": "0"}, "config_missing": ["*"]}),
)


def _exposed(ctx: Context) -> Finding | None:
    protected = ctx.config("protected-mode")
    bind = ctx.config("bind")
    if protected is None or bind is None or str(protected) != "no":
        return None
    addresses = str(bind).split()
    if not any(a.lstrip("-") in ("0.0.0.0", "*", "::", "::*") for a in addresses) and addresses:
        return None
    return Finding(detail=f"protected-mode no, bind {bind!r}")


EXPOSED = Rule(
    id="exposed-without-protected-mode",
    title="Listening on all interfaces with protected mode off",
    category="security",
    severity="high",
    description=(
        "With protected-mode off and bind on every interface the server accepts connections from any "
        "network that can route to it. Bind to private addresses and keep protected mode on unless a "
        "password is set. Trade-off: remote clients must be listed explicitly."
    ),
    fix='CONFIG SET bind "127.0.0.1 <private-ip>"; CONFIG SET protected-mode yes',
    check=_exposed,
    fire=Case(metadata={"config": {"protected-mode": "no", "bind": "* -::*"}}),
    quiet=Case(metadata={"config": {"protected-mode": "yes", "bind": "127.0.0.1"}}),
)

RULES = [NO_PASSWORD, ACL_NOPASS, DANGEROUS_COMMANDS, EXPOSED]
