"""Realistic labeled keyspaces: every key carries the pattern a person would group it under.

Used by tests/test_patterns_keyspaces.py (purity / inverse purity of the discovered grouping) and by
benchmarks/bench_patterns.py (the same scoring for naive peer approaches, and the 10M-key run).
A family is (label, count, key maker, type, encoding, TTL range, memory range); labels only matter as a
grouping, but they are spelled as the pattern a reader expects. The word lists and makers of key parts
are in tests/keymakers.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from keymakers import (
    ADJ,
    B62,
    HEX,
    LAST,
    Maker,
    chars,
    dates,
    emails,
    epochs,
    escape_key,
    fixed,
    ints,
    ips,
    queries,
    slugs,
    usernames,
    uuids,
)


@dataclass(frozen=True)
class Family:
    label: str
    count: int
    make: Maker
    type: str = "string"
    encoding: str = "embstr"
    ttl_s: tuple[int, int] | None = None
    memory: tuple[int, int] = (64, 256)
    elements: tuple[int, int] = (1, 1)


def build(families: list[Family], *, seed: int = 0, now_ms: int = 1_735_000_000_000) -> pd.DataFrame:
    """One row per key (the columns patterns use) plus ``expected``; duplicate keys are dropped."""
    rng = np.random.default_rng(seed)
    frames = []
    for fam in families:
        made = fam.make(rng, fam.count)
        keys, binary = [], []
        for k in made:
            if isinstance(k, bytes):
                text, is_bin = escape_key(k)
            else:
                text, is_bin = str(k), False
            keys.append(text)
            binary.append(is_bin)
        n = len(keys)
        ttl = (
            pd.array([None] * n, dtype="Int64")
            if fam.ttl_s is None
            else pd.array(now_ms + rng.integers(fam.ttl_s[0], fam.ttl_s[1] + 1, n) * 1000, dtype="Int64")
        )
        frames.append(
            pd.DataFrame(
                {
                    "db": np.zeros(n, dtype=np.int32),
                    "key": keys,
                    "key_binary": binary,
                    "type": fam.type,
                    "encoding": fam.encoding,
                    "num_elements": rng.integers(fam.elements[0], fam.elements[1] + 1, n),
                    "memory_bytes": rng.integers(fam.memory[0], fam.memory[1] + 1, n),
                    "expires_at": ttl,
                    "expected": fam.label,
                }
            )
        )
    df = pd.concat(frames, ignore_index=True).drop_duplicates("key", keep="first")
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _i(fmt: str, lo: int = 1, hi: int = 10**7) -> Maker:
    return lambda rng, n: [fmt.format(int(i)) for i in ints(rng, n, lo, hi)]


def ecommerce() -> list[Family]:
    return [
        Family("product:*", 8000, _i("product:{}"), "hash", "listpack", memory=(300, 900), elements=(8, 20)),
        Family("product:*:reviews", 3000, _i("product:{}:reviews"), "list", "quicklist", memory=(500, 8000)),
        Family("product:*:views", 3000, _i("product:{}:views"), "string", "int"),
        Family(
            "cart:*",
            5000,
            lambda r, n: [f"cart:{u}" for u in uuids(r, n)],
            "hash",
            "listpack",
            (3600, 604800),
        ),
        Family("customer:*", 4000, lambda r, n: [f"customer:{e}" for e in emails(r, n)], "hash", "listpack"),
        Family(
            "order:*",
            6000,
            lambda r, n: [
                f"order:ORD-{y}-{i:06d}"
                for y, i in zip(r.integers(2019, 2026, n), ints(r, n, 1, 999999), strict=True)
            ],
            "hash",
            "listpack",
        ),
        Family(
            "category:*:products",
            300,
            lambda r, n: [f"category:{s}:products" for s in slugs(r, n)],
            "zset",
            "skiplist",
        ),
        Family(
            "search:cache:*",
            3000,
            lambda r, n: [f"search:cache:{q}" for q in queries(r, n)],
            ttl_s=(60, 3600),
        ),
        Family(
            "inventory:warehouse*:*",
            5000,
            lambda r, n: [
                f"inventory:warehouse{w}:SKU-{s}-{c}"
                for w, s, c in zip(
                    r.integers(1, 13, n),
                    ints(r, n, 10000, 99999),
                    r.choice(["BL", "RD", "GR", "BK", "WH"], n),
                    strict=True,
                )
            ],
            "string",
            "int",
        ),
        Family("user:*:wishlist", 2000, _i("user:{}:wishlist"), "set", "listpack"),
        Family("user:*:recently_viewed", 2000, _i("user:{}:recently_viewed"), "list", "listpack"),
        Family(
            "coupon:*",
            400,
            lambda r, n: [f"coupon:{c}" for c in chars(r, n, 8, B62[26:])],
            ttl_s=(86400, 30 * 86400),
        ),
        *[
            Family(
                f"stats:daily:*:{m}",
                700,
                lambda r, n, m=m: [f"stats:daily:{d}:{m}" for d in dates(r, n)],
                "string",
                "int",
            )
            for m in ("orders", "revenue", "visitors")
        ],
        Family(
            "config:*",
            4,
            fixed("config:shipping_rates", "config:tax_table", "config:feature_flags", "config:currencies"),
            "hash",
        ),
    ]


def sessions_and_caches() -> list[Family]:
    return [
        Family(
            "sess:*",
            10000,
            lambda r, n: [f"sess:{t}" for t in chars(r, n, 32, B62)],
            ttl_s=(60, 1800),
            memory=(200, 1200),
        ),
        Family(
            "session:*",
            9000,
            lambda r, n: [f"session:{u}" for u in uuids(r, n)],
            "hash",
            "listpack",
            (600, 86400),
        ),
        Family("cache:user:*:profile", 4000, _i("cache:user:{}:profile"), ttl_s=(60, 600)),
        Family(
            "cache:user:*:permissions", 2000, _i("cache:user:{}:permissions"), "set", "listpack", (60, 600)
        ),
        Family("cache:GET:/api/v1/products/*", 3000, _i("cache:GET:/api/v1/products/{}"), ttl_s=(5, 300)),
        Family(
            "cache:GET:/api/v1/users/*/orders", 2000, _i("cache:GET:/api/v1/users/{}/orders"), ttl_s=(5, 300)
        ),
        Family(
            "fragment:*",
            3000,
            lambda r, n: [f"fragment:{h}" for h in chars(r, n, 32, HEX)],
            ttl_s=(300, 3600),
        ),
        Family(
            "page:*",
            1500,
            lambda r, n: [f"page:{s}" for s in slugs(r, n)],
            ttl_s=(300, 86400),
            memory=(2000, 40000),
        ),
        Family("csrf:*", 2000, lambda r, n: [f"csrf:{h}" for h in chars(r, n, 40, HEX)], ttl_s=(600, 3600)),
        Family(
            "oauth2:token:*",
            1500,
            lambda r, n: [f"oauth2:token:{t}" for t in chars(r, n, 43, np.append(B62, ["-", "_"]))],
            ttl_s=(3600, 3600),
        ),
        *[
            Family(
                f"lock:{res}:*",
                300,
                lambda r, n, res=res: [f"lock:{res}:{i}" for i in ints(r, n)],
                ttl_s=(1, 30),
            )
            for res in ("invoice", "payment", "shipment")
        ],
        Family(
            "jwt:denylist:*", 1200, lambda r, n: [f"jwt:denylist:{u}" for u in uuids(r, n)], ttl_s=(60, 86400)
        ),
        Family(
            "remember_token:*",
            800,
            lambda r, n: [f"remember_token:{h}" for h in chars(r, n, 64, HEX)],
            ttl_s=(86400, 2592000),
        ),
    ]


METRICS = ["page_views", "signups", "logins", "checkouts", "errors", "api_calls", "emails_sent", "refunds"]


def rate_limits_and_metrics() -> list[Family]:
    return [
        Family(
            "rl:*:*",
            8000,
            lambda r, n: [f"rl:{ip}:{t}" for ip, t in zip(ips(r, n), epochs(r, n), strict=True)],
            "string",
            "int",
            (1, 60),
        ),
        Family(
            "ratelimit:api:*:*",
            4000,
            lambda r, n: [
                f"ratelimit:api:{k}:{w}"
                for k, w in zip(chars(r, n, 32, HEX), r.choice([60, 3600, 86400], n), strict=True)
            ],
            "string",
            "int",
            (1, 86400),
        ),
        Family(
            "throttle:login:*",
            2000,
            lambda r, n: [f"throttle:login:{e}" for e in emails(r, n)],
            "string",
            "int",
            (60, 900),
        ),
        *[
            Family(
                f"metrics:{m}:*",
                700,
                lambda r, n, m=m: [f"metrics:{m}:{d}" for d in dates(r, n)],
                "hash",
                "listpack",
            )
            for m in METRICS
        ],
        *[
            Family(
                f"ts:*:{res}:*",
                1500,
                lambda r, n, res=res: [
                    f"ts:web-{h:02d}:{res}:{t}"
                    for h, t in zip(r.integers(1, 400, n), epochs(r, n, 3600), strict=True)
                ],
                "zset",
                "listpack",
            )
            for res in ("cpu", "mem", "disk")
        ],
        Family(
            "hll:uniques:*",
            600,
            lambda r, n: [f"hll:uniques:{d}" for d in dates(r, n, "%Y%m%d")],
            "string",
            "raw",
            memory=(12000, 12400),
        ),
        *[
            Family(
                f"counter:api:{ep}:*",
                500,
                lambda r, n, ep=ep: [f"counter:api:{ep}:{t // 3600}" for t in epochs(r, n, 3600)],
                "string",
                "int",
                (3600, 7 * 86400),
            )
            for ep in ("search", "checkout", "login", "upload")
        ],
        Family(
            "leaderboard:weekly:*",
            100,
            lambda r, n: [
                f"leaderboard:weekly:{y}-W{w:02d}"
                for y, w in zip(r.integers(2022, 2026, n), r.integers(1, 53, n), strict=True)
            ],
            "zset",
            "skiplist",
        ),
    ]


def multi_tenant_saas() -> list[Family]:
    def orgs(r: np.random.Generator, n: int) -> list[str]:
        suffix = r.choice(["labs", "corp", "inc", "group", "io"], n)
        return [
            f"{a}-{b}" if k else a
            for a, b, k in zip(r.choice(LAST, n), suffix, r.integers(0, 2, n), strict=True)
        ]

    return [
        Family(
            "tenant*:users:*",
            8000,
            lambda r, n: [
                f"tenant{t}:users:{u}" for t, u in zip(r.integers(1, 300, n), ints(r, n), strict=True)
            ],
            "hash",
            "listpack",
        ),
        Family(
            "tenant*:settings",
            300,
            lambda r, n: [f"tenant{t}:settings" for t in range(1, n + 1)],
            "hash",
            "listpack",
        ),
        Family(
            "tenant*:audit:*",
            3000,
            lambda r, n: [
                f"tenant{t}:audit:{d}" for t, d in zip(r.integers(1, 300, n), dates(r, n), strict=True)
            ],
            "stream",
            "stream",
        ),
        Family(
            "org:*:members",
            600,
            lambda r, n: [f"org:{o}:members" for o in orgs(r, n)],
            "set",
            "listpack",
        ),
        Family(
            "org:*:billing", 600, lambda r, n: [f"org:{o}:billing" for o in orgs(r, n)], "hash", "listpack"
        ),
        Family(
            "user:*:profile",
            3000,
            lambda r, n: [f"user:{u}:profile" for u in usernames(r, n)],
            "hash",
            "listpack",
        ),
        Family(
            "user:*:settings",
            3000,
            lambda r, n: [f"user:{u}:settings" for u in usernames(r, n)],
            "hash",
            "listpack",
        ),
        Family(
            "user:*:notifications",
            2500,
            lambda r, n: [f"user:{u}:notifications" for u in usernames(r, n)],
            "list",
            "quicklist",
        ),
        Family(
            "apikey:*",
            2000,
            lambda r, n: [f"apikey:sk_live_{t}" for t in chars(r, n, 24, B62)],
            "hash",
            "listpack",
        ),
        *[
            Family(
                f"feature:{flag}:*",
                250,
                lambda r, n, flag=flag: [f"feature:{flag}:{t}" for t in r.integers(1, 300, n)],
                "string",
                "int",
            )
            for flag in ("new_dashboard", "beta_search", "dark_mode", "ai_assist")
        ],
    ]


def job_queues() -> list[Family]:
    fams = []
    for q in ("email", "video", "reports"):
        fams.append(
            Family(
                f"bull:{q}:*",
                4000,
                lambda r, n, q=q: [f"bull:{q}:{i}" for i in ints(r, n)],
                "hash",
                "listpack",
                memory=(400, 4000),
            )
        )
        for meta, typ in (
            ("wait", "list"),
            ("active", "list"),
            ("completed", "zset"),
            ("failed", "zset"),
            ("delayed", "zset"),
            ("id", "string"),
            ("events", "stream"),
            ("meta", "hash"),
        ):
            fams.append(Family(f"bull:{q}:{meta}", 1, fixed(f"bull:{q}:{meta}"), typ, typ))
    return [
        *fams,
        Family(
            "queue:*",
            6,
            fixed(
                "queue:default",
                "queue:mailers",
                "queue:critical",
                "queue:low",
                "queue:webhooks",
                "queue:exports",
            ),
            "list",
            "quicklist",
        ),
        Family(
            "stat:processed:*",
            365,
            lambda r, n: [f"stat:processed:{d}" for d in dates(r, n)],
            "string",
            "int",
        ),
        Family("stat:failed:*", 365, lambda r, n: [f"stat:failed:{d}" for d in dates(r, n)], "string", "int"),
        Family(
            "celery-task-meta-*",
            6000,
            lambda r, n: [f"celery-task-meta-{u}" for u in uuids(r, n)],
            "string",
            "raw",
            (3600, 86400),
        ),
        Family(
            "_kombu.binding.*",
            5,
            fixed(
                "_kombu.binding.celery",
                "_kombu.binding.celery.pidbox",
                "_kombu.binding.reply.celery.pidbox",
                "_kombu.binding.emails",
                "_kombu.binding.reports",
            ),
            "set",
            "listpack",
        ),
        *[
            Family(
                f"job:*:{part}",
                3000,
                lambda r, n, part=part: [f"job:{u}:{part}" for u in uuids(r, n)],
                typ,
                typ,
                (600, 86400),
            )
            for part, typ in (("status", "string"), ("result", "string"), ("progress", "hash"))
        ],
        Family("delayed:*", 500, lambda r, n: [f"delayed:{t}" for t in epochs(r, n)], "zset", "listpack"),
        Family(
            "worker:*:*",
            200,
            lambda r, n: [
                f"worker:worker-{a}-{b}:{p}"
                for a, b, p in zip(
                    chars(r, n, 9, HEX), chars(r, n, 5, B62[:36]), r.integers(100, 65000, n), strict=True
                )
            ],
            "hash",
            "listpack",
            (30, 60),
        ),
    ]


def mixed_separators() -> list[Family]:
    return [
        *[
            Family(
                f"metrics.{m}.host*",
                1000,
                lambda r, n, m=m: [f"metrics.{m}.host{h}" for h in ints(r, n, 1, 5000)],
                "zset",
                "listpack",
            )
            for m in ("cpu", "mem", "disk")
        ],
        Family("cache/page/*", 2000, lambda r, n: [f"cache/page/{s}" for s in slugs(r, n)], ttl_s=(60, 3600)),
        Family(
            "cache/img/*",
            1500,
            lambda r, n: [
                f"cache/img/{h}.{e}"
                for h, e in zip(chars(r, n, 16, HEX), r.choice(["png", "jpg", "webp"], n), strict=True)
            ],
            memory=(4000, 60000),
        ),
        Family("user|*|prefs", 2000, _i("user|{}|prefs"), "hash", "listpack"),
        Family("user|*|cart", 2000, _i("user|{}|cart"), "hash", "listpack"),
        Family("order#*#items", 2000, _i("order#{}#items"), "list", "listpack"),
        Family("order#*#status", 2000, _i("order#{}#status")),
        Family(
            "session_*", 3000, lambda r, n: [f"session_{h}" for h in chars(r, n, 24, HEX)], ttl_s=(60, 3600)
        ),
        Family(
            "img-thumb-*",
            2000,
            lambda r, n: [
                f"img-thumb-{i}-{w}x{h}"
                for i, w, h in zip(
                    ints(r, n), r.choice([64, 128, 256], n), r.choice([64, 128, 256], n), strict=True
                )
            ],
        ),
        Family(
            "app.config.*",
            6,
            fixed(
                "app.config.mail",
                "app.config.db",
                "app.config.cache",
                "app.config.flags",
                "app.config.limits",
                "app.config.i18n",
            ),
            "hash",
        ),
        Family(
            "rate-limit:*",
            2000,
            lambda r, n: [f"rate-limit:{ip}" for ip in ips(r, n)],
            "string",
            "int",
            (1, 60),
        ),
        Family(
            "events.*.clicks",
            700,
            lambda r, n: [f"events.{d}.clicks" for d in dates(r, n)],
            "hash",
            "listpack",
        ),
        Family(
            "events.*.views", 700, lambda r, n: [f"events.{d}.views" for d in dates(r, n)], "hash", "listpack"
        ),
    ]


def _packed(prefix: bytes, width: int) -> Maker:
    return lambda rng, n: [prefix + rng.bytes(width) for _ in range(n)]


def hash_tags_and_binary() -> list[Family]:
    return [
        Family("{acct:*}:cart", 3000, _i("{{acct:{}}}:cart"), "hash", "listpack"),
        Family("{acct:*}:orders", 3000, _i("{{acct:{}}}:orders"), "list", "quicklist"),
        Family("{acct:*}:profile", 2000, _i("{{acct:{}}}:profile"), "hash", "listpack"),
        Family("{user*}:feed", 3000, _i("{{user{}}}:feed"), "list", "quicklist"),
        Family(
            "{order:*}:items",
            2000,
            lambda r, n: [f"{{order:{u}}}:items" for u in uuids(r, n)],
            "list",
            "listpack",
        ),
        Family("idx:*", 4000, _packed(b"idx:", 8), "set", "intset"),
        Family("geo:cell:*", 3000, _packed(b"geo:cell:", 6), "zset", "listpack"),
        Family(
            "blob:*:meta",
            2000,
            lambda r, n: [b"blob:" + r.bytes(12) + b":meta" for _ in range(n)],
            "hash",
            "listpack",
        ),
        Family("bin-raw", 1500, lambda r, n: [b"\xff\xfe" + r.bytes(14) for _ in range(n)], "string", "raw"),
    ]


def _per_user(users: list[str], per_user: int, fmt: str) -> Maker:
    """``per_user`` keys for each user (values drawn per key), so users carry many keys each."""

    def make(rng: np.random.Generator, n: int) -> list[str]:
        picks = [users[i % len(users)] for i in range(n)]
        return [fmt.format(u=u, i=int(i)) for u, i in zip(picks, ints(rng, n), strict=True)]

    return make


def social_heavy_users() -> list[Family]:
    """Values that carry many keys each: the cardinality ratio alone would call them names."""
    users = sorted(set(usernames(np.random.default_rng(11), 500)))[:300]
    users = [u if k % 4 else f"{u}{k}" for k, u in enumerate(users)]  # some handles end in digits
    return [
        Family("user:*:posts:*", 300 * 50, _per_user(users, 50, "user:{u}:posts:{i}"), "hash", "listpack"),
        Family(
            "user:*:followers",
            300,
            lambda r, n: [f"user:{u}:followers" for u in users[:n]],
            "set",
            "hashtable",
        ),
        Family(
            "user:*:timeline",
            200,
            lambda r, n: [f"user:{u}:timeline" for u in users[:n]],
            "list",
            "quicklist",
        ),
        Family(
            "stats:*:*",
            26 * 200,
            lambda r, n: [f"stats:{METRIC_NAMES[i % 26]}:{d}" for i, d in enumerate(dates(r, n))],
            "string",
            "int",
        ),
        *[
            Family(
                f"{t}:users:*",
                2000,
                lambda r, n, t=t: [f"{t}:users:{i}" for i in ints(r, n)],
                "hash",
                "listpack",
            )
            for t in ("acme", "globex", "initech", "umbrella", "hooli")
        ],
        Family(
            "userSession:*", 3000, lambda r, n: [f"userSession:{u}" for u in uuids(r, n)], ttl_s=(60, 3600)
        ),
    ]


METRIC_NAMES = [f"{a}_{b}" for a in ("api", "web", "db") for b in ADJ][:26]


KEYSPACES: dict[str, Callable[[], list[Family]]] = {
    "ecommerce": ecommerce,
    "sessions_caches": sessions_and_caches,
    "rate_limits_metrics": rate_limits_and_metrics,
    "multi_tenant_saas": multi_tenant_saas,
    "job_queues": job_queues,
    "mixed_separators": mixed_separators,
    "hash_tags_binary": hash_tags_and_binary,
    "social_heavy_users": social_heavy_users,
}


def keyspace(name: str, *, seed: int = 0) -> pd.DataFrame:
    return build(KEYSPACES[name](), seed=seed)


def purity(predicted: pd.Series, expected: pd.Series) -> tuple[float, float]:
    """(purity, inverse purity) of the grouping ``predicted`` against the labels ``expected``.

    Purity: share of keys whose group's majority label is their own label (no mixed groups); inverse
    purity: the same with roles swapped (no split families). Key-weighted, 1.0 is perfect.
    """
    both = pd.DataFrame({"p": np.asarray(predicted, dtype=object), "e": np.asarray(expected, dtype=object)})
    counts = both.groupby(["p", "e"], sort=False).size()
    n = max(len(both), 1)
    pur = counts.groupby(level="p").max().sum() / n
    inv = counts.groupby(level="e").max().sum() / n
    return float(pur), float(inv)


def worst_groups(predicted: pd.Series, expected: pd.Series, n: int = 10) -> pd.DataFrame:
    """The label × pattern cells behind impurity, for debugging and reports."""
    both = pd.DataFrame(
        {"pattern": np.asarray(predicted, dtype=object), "expected": np.asarray(expected, dtype=object)}
    )
    cells = both.groupby(["expected", "pattern"], sort=False).size().rename("keys").reset_index()
    main = cells.groupby("expected")["keys"].transform("max")
    main_p = cells.groupby("pattern")["keys"].transform("max")
    return (
        cells[(cells["keys"] < main) | (cells["keys"] < main_p)].sort_values("keys", ascending=False).head(n)
    )
