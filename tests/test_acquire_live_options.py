"""Connection odds and ends against real servers: a db in the URL, a ConnectionPool as the source,
the password from REDISCLI_AUTH or a prompt, and DUMP snapshots of one db that load back."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from acquire_helpers import fill, server_args, table_of
from servers import running_server, start_server

from insightkit import cli
from insightkit.acquire import open_snapshot, snapshot
from insightkit.errors import LimitExceeded, PasswordRequired

pytestmark = pytest.mark.server
REPO = Path(__file__).resolve().parent.parent
SECRET = "s3cret-pw"


@pytest.mark.parametrize("flavour", ["redis70", "valkey91"])
def test_db_in_url_snapshots_that_db_and_its_dump_rdb_loads(flavour: str, tmp_path: Path) -> None:
    with running_server(flavour, args=server_args(flavour)) as server:
        fill(server, 50, dbs=(0, 3))
        expected = server.client(db=3).dbsize()
        url = f"redis://127.0.0.1:{server.port}/3"
        for method in ("sync", "dump"):
            with open_snapshot(url, method=method, progress=False) as snap:
                table = table_of(snap.batches())
            assert set(table.column("db").to_pylist()) == {3}, method
            assert table.num_rows == expected, method
            assert snap.metadata["db"] == 3
        pool = redis.ConnectionPool(host="127.0.0.1", port=server.port, db=3)
        with open_snapshot(pool, method="dump", progress=False) as snap:
            assert table_of(snap.batches()).num_rows == expected
        # The DUMP method's RDB holds db 3 alone, and the same server version loads it.
        out = tmp_path / "db3.rdb"
        meta = snapshot(url, out, method="dump", progress=False)
        assert meta["rdb"]["checksum"] == "ok"
        workdir = tmp_path / "load"
        workdir.mkdir()
        shutil.copy(out, workdir / "dump.rdb")
        loaded = start_server(flavour, workdir=workdir, args=server_args(flavour))
        try:
            assert loaded.client(db=3).dbsize() == expected
            assert loaded.client(db=0).dbsize() == 0
            assert sorted(loaded.client(db=3).scan_iter(count=1000)) == sorted(
                server.client(db=3).scan_iter(count=1000)
            )
        finally:
            loaded.stop()


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != cli.PASSWORD_ENV}
    return subprocess.run(
        [sys.executable, "-m", "insightkit", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**environ, **env},
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def test_password_from_rediscli_auth_and_no_prompt_without_a_terminal() -> None:
    with running_server("redis70", args=server_args("redis70"), password=SECRET) as server:
        fill(server, 20)
        url = f"127.0.0.1:{server.port}"
        ok = _cli("summary", url, "-q", "--json", env={cli.PASSWORD_ENV: SECRET})
        assert ok.returncode == 0, ok.stderr
        assert SECRET not in ok.stdout
        # stdin is not a terminal: no prompt, one line saying what is missing
        refused = _cli("summary", url, "-q", env={})
        assert refused.returncode == 1
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and "requires a password" in lines[0], refused.stderr


def test_noauth_prompts_once_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        asked.append(prompt)
        return SECRET

    monkeypatch.delenv(cli.PASSWORD_ENV, raising=False)
    monkeypatch.setattr(cli.getpass, "getpass", fake_getpass)
    monkeypatch.setattr(cli.sys.stdin, "isatty", lambda: True, raising=False)
    with running_server("redis70", args=server_args("redis70"), password=SECRET) as server:
        fill(server, 20)
        assert cli.main(["summary", f"127.0.0.1:{server.port}", "-q"]) == 0
        assert len(asked) == 1
        # a wrong password from the prompt is not asked again
        monkeypatch.setattr(cli.getpass, "getpass", lambda prompt="": "wrong")
        assert cli.main(["summary", f"127.0.0.1:{server.port}", "-q"]) == 1
    assert "authentication failed" in capsys.readouterr().err


def test_password_required_is_its_own_error() -> None:
    with running_server("redis70", args=server_args("redis70"), password=SECRET) as server:
        for method in ("sync", "dump"):
            with pytest.raises(PasswordRequired):
                snapshot(f"127.0.0.1:{server.port}", method=method, progress=False)


def test_a_key_bigger_than_the_reply_cap_is_still_dumped() -> None:
    """max_reply_bytes caps INFO and the like; a key's DUMP has its own, larger cap."""
    with running_server("redis70", args=server_args("redis70")) as server:
        server.client().set("big", os.urandom(3 << 20))
        meta = snapshot(server.url, method="dump", progress=False, max_reply_bytes=1 << 20)
        assert meta["dump"]["keys"] == 1
        with pytest.raises(LimitExceeded, match="max_dump_bytes"):
            snapshot(server.url, method="dump", progress=False, max_dump_bytes=1 << 20)
