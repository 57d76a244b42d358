"""Acceptance: on realistic labeled keyspaces, the grouping that ``pattern`` induces agrees with the
labels (purity and inverse purity >= 0.95), and the main families get the pattern a reader expects."""

from __future__ import annotations

import pandas as pd
import pytest
from keyspaces import KEYSPACES, keyspace, purity, worst_groups

from insightkit.patterns import aggregate_patterns, assign_patterns, pattern_hierarchy

THRESHOLD = 0.95

# Labels whose discovered pattern must be spelled exactly like the label.
EXACT = {
    "ecommerce": ["product:*", "product:*:reviews", "cart:*", "customer:*", "category:*:products",
                  "search:cache:*", "inventory:warehouse*:*", "user:*:wishlist", "stats:daily:*:orders"],
    "sessions_caches": ["sess:*", "session:*", "cache:user:*:profile", "fragment:*", "page:*", "lock:invoice:*"],
    "rate_limits_metrics": ["rl:*:*", "ratelimit:api:*:*", "throttle:login:*", "metrics:page_views:*",
                            "ts:*:cpu:*", "hll:uniques:*", "counter:api:search:*"],
    "multi_tenant_saas": ["tenant*:users:*", "tenant*:settings", "org:*:members", "user:*:profile",
                          "user:*:settings", "apikey:*", "feature:dark_mode:*"],
    "job_queues": ["bull:email:*", "bull:email:wait", "queue:*", "celery-task-meta-*", "job:*:status",
                   "stat:processed:*"],
    "mixed_separators": ["metrics.cpu.host*", "cache/page/*", "cache/img/*", "user|*|prefs", "order#*#items",
                         "session_*", "img-thumb-*", "app.config.*", "rate-limit:*", "events.*.clicks"],
    "hash_tags_binary": ["{acct:*}:cart", "{acct:*}:orders", "{user*}:feed", "{order:*}:items", "idx:*",
                         "geo:cell:*", "blob:*:meta"],
    "social_heavy_users": ["user:*:posts:*", "user:*:followers", "stats:*:*", "acme:users:*", "userSession:*"],
}  # fmt: skip


@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize("name", sorted(KEYSPACES))
def test_grouping_agrees_with_labels(name: str, seed: int) -> None:
    df = keyspace(name, seed=seed)
    predicted = assign_patterns(df)
    pur, inv = purity(predicted, df["expected"])
    detail = worst_groups(predicted, df["expected"]).to_string()
    assert pur >= THRESHOLD, f"{name}: mixed groups, purity {pur:.4f}\n{detail}"
    assert inv >= THRESHOLD, f"{name}: split families, inverse purity {inv:.4f}\n{detail}"


@pytest.mark.parametrize("name", sorted(EXACT))
def test_main_families_named_as_expected(name: str) -> None:
    df = keyspace(name)
    df["pattern"] = assign_patterns(df).astype(str)
    for label in EXACT[name]:
        family = df.loc[df["expected"] == label, "pattern"]
        assert len(family) > 0, label
        share = (family == label).mean()
        assert share >= 0.98, f"{label}: {family.value_counts().head(5).to_dict()}"


def test_purity_metric_detects_mixing_and_splitting() -> None:
    labels = pd.Series(["a"] * 50 + ["b"] * 50)
    assert purity(labels, labels) == (1.0, 1.0)
    assert purity(pd.Series(["x"] * 100), labels) == (0.5, 1.0)  # everything mixed
    assert purity(pd.Series(range(100)), labels) == (1.0, 0.02)  # every key its own group


def test_aggregate_and_hierarchy_on_a_keyspace() -> None:
    df = keyspace("ecommerce")
    df["pattern"] = assign_patterns(df)
    agg = aggregate_patterns(df, now_ms=1_735_000_000_000)
    assert agg["keys"].sum() == len(df)
    assert agg["memory_bytes"].sum() == df["memory_bytes"].sum()
    cart = agg.set_index("pattern").loc["cart:*"]
    assert cart["type"] == "hash" and cart["keys_without_ttl"] == 0
    assert cart["ttl_1h_1d"] + cart["ttl_1d_7d"] + cart["ttl_under_1h"] == cart["keys"]
    tree = pattern_hierarchy(agg)
    assert set(tree.loc[tree["depth"] == 1, "node"]) >= {"product", "cart", "user", "stats"}
