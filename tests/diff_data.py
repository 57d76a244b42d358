"""Two RDB files from one real server, before and after a day of typical change.

Before → after: user profiles grow (more of them), a job-queue family is deleted, an invoice family
appears, tag sets go from intset to a string encoding, small catalog hashes outgrow listpack, and 40
cached pages are PERSISTed (they lose their TTL). The expected numbers below are what the tests check.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from servers import running_server

USERS_BEFORE, USERS_AFTER = 200, 500
JOBS = 50
INVOICES = 80
TAG_SETS = 30
CATALOGS = 5
PAGES, PERSISTED = 100, 40
SESSIONS = 100


@dataclass(frozen=True)
class DiffFiles:
    old: Path
    new: Path


def _before(client: object) -> None:
    pipe = client.pipeline(transaction=False)  # type: ignore[attr-defined]
    for i in range(USERS_BEFORE):
        pipe.hset(f"user:{1000 + i}:profile", mapping={"name": f"n{i}", "plan": "pro"})
    for i in range(SESSIONS):
        pipe.set(f"session:{7000 + i}", "s" * 64, ex=3_600 * 5)
    for i in range(PAGES):
        pipe.set(f"cache:page:{i}", "p" * 300, ex=86_400 * 3)
    for i in range(JOBS):
        pipe.rpush(f"jobs:pending:{i}", *[f"job-{j}" for j in range(10)])
    for i in range(TAG_SETS):
        pipe.sadd(f"tags:{i}", *range(1, 20))
    for i in range(CATALOGS):
        pipe.hset(f"catalog:{i}", mapping={f"sku{j}": "x" for j in range(20)})
    pipe.execute()


def _after(client: object) -> None:
    pipe = client.pipeline(transaction=False)  # type: ignore[attr-defined]
    for i in range(USERS_BEFORE, USERS_AFTER):
        pipe.hset(f"user:{1000 + i}:profile", mapping={"name": f"n{i}", "plan": "free"})
    for i in range(JOBS):
        pipe.delete(f"jobs:pending:{i}")
    for i in range(INVOICES):
        pipe.set(f"invoice:{50000 + i}:pdf", "%PDF" + "z" * 2_000)
    for i in range(TAG_SETS):
        pipe.sadd(f"tags:{i}", "not-an-integer")
    for i in range(CATALOGS):
        pipe.hset(f"catalog:{i}", mapping={f"sku{j}": "x" for j in range(20, 600)})
    for i in range(PERSISTED):
        pipe.persist(f"cache:page:{i}")
    pipe.execute()


def make_diff_files(directory: Path, flavour: str = "redis70") -> DiffFiles:
    """Write, SAVE, change, SAVE again; both RDBs copied into ``directory``."""
    with running_server(flavour) as server:
        client = server.client()
        _before(client)
        old = Path(shutil.copyfile(server.save(), directory / "old.rdb"))
        _after(client)
        new = Path(shutil.copyfile(server.save(), directory / "new.rdb"))
    return DiffFiles(old, new)
