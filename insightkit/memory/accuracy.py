"""Check the memory model against a real server: load a mix of every type × encoding, record what
MEMORY USAGE key SAMPLES 0 says for each key, and compare with the estimates decoded from its RDB.

Used by the tests (tests/test_memory_accuracy.py) and benchmarks/bench_memory_accuracy.py; also handy
to check the model against a server of your own (on a scratch instance: it writes keys).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd

KEY_PREFIX = "ikmem:"


@dataclass(frozen=True)
class Accuracy:
    """Per-key comparison and the figures the acceptance criteria name."""

    per_key: pd.DataFrame  # key, type, encoding, actual, estimate, error (signed fraction)
    by_encoding: pd.DataFrame  # type, encoding, keys, median_error, p90_abs_error, total_error
    median_abs_error: float
    p90_abs_error: float
    total_error: float

    def summary_row(self, label: str) -> dict[str, Any]:
        return {
            "model": label,
            "keys": len(self.per_key),
            "median |err| %": round(100 * self.median_abs_error, 2),
            "p90 |err| %": round(100 * self.p90_abs_error, 2),
            "total err %": round(100 * self.total_error, 2),
        }


def _text(rng: random.Random, n: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(rng.choice(letters) for _ in range(n))


def _chunks(seq: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


def _key(rng: random.Random, kind: str, i: int) -> str:
    """Key names of varied lengths, across the sds5/sds8 (32 bytes) and expire-embedding (128) limits."""
    pad = rng.choice((0, 0, 0, 3, 12, 20, 25, 40, 120))
    return f"{KEY_PREFIX}{kind}:{i}" + (":" + _text(rng, pad) if pad else "")


def load_mix(client: Any, *, seed: int = 7, scale: float = 1.0) -> int:
    """Write the calibration keyspace (about 2 500 keys at scale 1) into db 0; returns the key count.

    Sizes sit on both sides of every encoding limit of the default configuration (embstr 44 bytes,
    listpack 128/512 entries and 64-byte values, intset 512 entries, 8 KB list nodes, plain nodes).
    """
    rng = random.Random(seed)
    pipe = client.pipeline(transaction=False)
    count = 0

    def n(x: int) -> int:
        return max(1, int(x * scale))

    def maybe_ttl(key: str) -> None:
        if rng.random() < 0.25:
            pipe.pexpire(key, rng.randint(3_600_000, 86_400_000))

    # strings: ints, every side of the embstr limit, raw up to 20 KB
    lengths = [1, 5, 12, 20, 30, 39, 40, 43, 44, 45, 50, 64, 100, 300, 1000, 5000, 20000]
    for i in range(n(1200)):
        key = _key(rng, "str", i)
        r = rng.random()
        if r < 0.2:
            value: str = str(
                rng.choice(
                    (
                        rng.randint(0, 9999),
                        rng.randint(-(10**6), 10**6),
                        2**63 - 1,
                        rng.randint(10**12, 10**18),
                    )
                )
            )
        else:
            value = _text(rng, rng.choice(lengths))
        pipe.set(key, value)
        maybe_ttl(key)
        count += 1
    # lists: small (listpack on 7.2+), multi-node, long items, plain nodes (> 8 KB items)
    for i in range(n(200)):
        key = _key(rng, "list", i)
        r = rng.random()
        if r < 0.6:
            items = [_text(rng, rng.randint(1, 30)) for _ in range(rng.randint(1, 60))]
        elif r < 0.8:
            items = [str(rng.randint(0, 10**6)) for _ in range(rng.randint(100, 3000))]
        elif r < 0.95:
            items = [_text(rng, rng.randint(100, 600)) for _ in range(rng.randint(20, 200))]
        else:
            items = [_text(rng, rng.choice((9000, 12000))) for _ in range(rng.randint(2, 6))]
        for part in _chunks(items, 100):
            pipe.rpush(key, *part)
        maybe_ttl(key)
        count += 1
    # sets: intsets around 512, small/large string sets around 128, values around 64 bytes
    for i in range(n(300)):
        key = _key(rng, "set", i)
        r = rng.random()
        if r < 0.35:
            size = rng.choice((rng.randint(1, 100), rng.randint(500, 512), rng.randint(513, 600)))
            members: list[str] = [str(x) for x in rng.sample(range(-(10**9), 10**9), size)]
        elif r < 0.8:
            size = rng.choice((rng.randint(1, 128), rng.randint(120, 140), rng.randint(129, 900)))
            members = [_text(rng, rng.randint(3, 40)) for _ in range(size)]
        elif r < 0.95:
            members = [_text(rng, rng.choice((63, 64, 65, 70))) for _ in range(rng.randint(2, 40))]
        else:
            members = [_text(rng, 16) for _ in range(rng.randint(3000, 6000))]
        for part in _chunks(members, 100):  # as applications write: many commands, not one
            pipe.sadd(key, *part)
        maybe_ttl(key)
        count += 1
    # hashes: around 512 fields and 64-byte values
    for i in range(n(350)):
        key = _key(rng, "hash", i)
        r = rng.random()
        if r < 0.6:
            size = rng.randint(1, 60)
        elif r < 0.8:
            size = rng.choice((rng.randint(500, 512), rng.randint(513, 700)))
        else:
            size = rng.randint(1, 30)
        vlen = 64 if r < 0.9 else rng.choice((64, 65, 120))
        mapping = {
            f"field:{j}:{_text(rng, rng.randint(0, 12))}": (
                str(rng.randint(0, 10**9)) if rng.random() < 0.3 else _text(rng, rng.randint(1, vlen))
            )
            for j in range(size)
        }
        if r >= 0.9:
            mapping["long"] = _text(rng, rng.choice((65, 100, 300)))
        fields = list(mapping.items())
        for pairs in _chunks(fields, 50):
            pipe.hset(key, mapping=dict(pairs))
        maybe_ttl(key)
        count += 1
    # sorted sets: around 128 members and 64-byte members
    for i in range(n(300)):
        key = _key(rng, "zset", i)
        r = rng.random()
        if r < 0.6:
            size = rng.randint(1, 128)
        elif r < 0.85:
            size = rng.choice((rng.randint(129, 200), rng.randint(500, 2000)))
        else:
            size = rng.randint(2, 40)
        mlen = 20 if r < 0.85 else rng.choice((64, 65, 90))
        zmap = {_text(rng, rng.randint(1, mlen)): rng.random() * 1000 for _ in range(size)}
        zitems = list(zmap.items())
        for part in _chunks(zitems, 50):
            pipe.zadd(key, dict(part))
        maybe_ttl(key)
        count += 1
    pipe.execute()
    # streams: single and multi-node, groups with consumers and pending entries
    for i in range(n(60)):
        key = _key(rng, "stream", i)
        entries = rng.choice((1, 5, 30, 100, 250, 700))
        for e in range(entries):
            pipe.xadd(key, {"f": _text(rng, rng.randint(1, 40)), "n": str(e)})
        if rng.random() < 0.5:
            for g in range(rng.randint(1, 3)):
                group = f"group{g}"
                pipe.xgroup_create(key, group, id="0")
                for c in range(rng.randint(1, 4)):
                    pipe.xreadgroup(group, f"consumer-{c}", {key: ">"}, count=rng.randint(1, 20))
        maybe_ttl(key)
        count += 1
        pipe.execute()
    return count


def scan_keys(client: Any, match: str = KEY_PREFIX + "*") -> Iterator[bytes]:
    yield from client.scan_iter(match=match, count=1000)


def measure(client: Any, keys: Iterable[bytes] | None = None) -> pd.DataFrame:
    """``key``, ``type``, ``encoding``, ``actual`` (MEMORY USAGE key SAMPLES 0) for every key."""
    keys = list(keys if keys is not None else scan_keys(client))
    rows = []
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        pipe = client.pipeline(transaction=False)
        for k in chunk:
            pipe.memory_usage(k, samples=0)
            pipe.type(k)
            pipe.object("encoding", k)
        out = pipe.execute()
        for j, k in enumerate(chunk):
            usage, typ, enc = out[3 * j : 3 * j + 3]
            rows.append(
                {
                    "key": k.decode() if isinstance(k, bytes) else k,
                    "type": typ.decode() if isinstance(typ, bytes) else typ,
                    "encoding": enc.decode() if isinstance(enc, bytes) else enc,
                    "actual": int(usage),
                }
            )
    return pd.DataFrame(rows)


def compare(measured: pd.DataFrame, estimated: pd.DataFrame, column: str = "memory_bytes") -> Accuracy:
    """Join on ``key``: ``estimated`` has ``key`` and ``column`` (e.g. decoded rows); errors are
    (estimate - actual) / actual. Keys missing from ``estimated`` count as estimate 0."""
    est = estimated[["key", column]].rename(columns={column: "estimate"})
    df = measured.merge(est, on="key", how="left")
    df["estimate"] = df["estimate"].fillna(0).astype("int64")
    df["error"] = (df["estimate"] - df["actual"]) / df["actual"]
    abs_err = df["error"].abs()
    df["abs_error"] = abs_err
    grouped = df.groupby(["type", "encoding"], sort=True)
    by_encoding = grouped.agg(
        keys=("error", "size"),
        median_error=("error", "median"),
        p90_abs_error=("abs_error", lambda s: s.quantile(0.9)),
        estimate=("estimate", "sum"),
        actual=("actual", "sum"),
    ).reset_index()
    by_encoding["total_error"] = (by_encoding["estimate"] - by_encoding["actual"]) / by_encoding["actual"]
    by_encoding = by_encoding.drop(columns=["estimate", "actual"])
    by_encoding["keys"] = by_encoding["keys"].astype("int64")
    return Accuracy(
        per_key=df,
        by_encoding=by_encoding,
        median_abs_error=float(abs_err.median()),
        p90_abs_error=float(abs_err.quantile(0.9)),
        total_error=float((df["estimate"].sum() - df["actual"].sum()) / df["actual"].sum()),
    )


def format_table(results: dict[str, Accuracy]) -> str:
    """Side-by-side text table: overall figures, then median error per type × encoding."""
    overall = pd.DataFrame([acc.summary_row(label) for label, acc in results.items()])
    frames = []
    for label, acc in results.items():
        t = acc.by_encoding.set_index(["type", "encoding"])
        frames.append(
            pd.DataFrame(
                {
                    ("keys", ""): t["keys"],
                    (label, "median %"): (100 * t["median_error"]).round(2),
                    (label, "p90 |err| %"): (100 * t["p90_abs_error"]).round(2),
                }
            )
        )
    detail = pd.concat(frames, axis=1)
    detail = detail.loc[:, ~detail.columns.duplicated()]
    return overall.to_string(index=False) + "\n\n" + detail.to_string()
