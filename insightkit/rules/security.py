"""Security rules read from the live server's CONFIG: no password, open admin commands, exposure."""

from __future__ import annotations

from insightkit.rules.base import Case, Context, Finding, Rule


def _no_password(ctx: Context) -> Finding | None:
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


def _dangerous(ctx: Context) -> Finding | None:
    config = ctx.metadata.get("config") or {}
    if not config or ctx.metadata.get("config_missing"):
        return None  # CONFIG GET was blocked: renamed or restricted, which is the point
    open_flags = [
        name
        for name in ("enable-debug-command", "enable-module-command", "enable-protected-configs")
        if str(config.get(name, "no")) == "yes"
    ]
    detail = "CONFIG GET answered this client, so CONFIG (and likely " + ", ".join(_ADMIN[:3]) + ") is open"
    if open_flags:
        detail += "; " + ", ".join(open_flags) + " = yes"
    return Finding(detail=detail)


DANGEROUS_COMMANDS = Rule(
    id="dangerous-commands",
    title="Administrative commands open to clients",
    category="security",
    severity="medium",
    description=(
        "The snapshot could run CONFIG GET, so CONFIG, FLUSHALL, KEYS and DEBUG are not renamed or "
        "restricted for this user. One mistaken FLUSHALL or KEYS * on a big dataset is an outage. "
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

RULES = [NO_PASSWORD, DANGEROUS_COMMANDS, EXPOSED]
