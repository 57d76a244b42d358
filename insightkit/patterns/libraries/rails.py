"""Rails' Redis cache store: fragment caches under ``views/``."""

from insightkit.patterns.libraries.base import Family, Library

LIBRARY = Library(
    name="rails",
    title="Rails cache (ActiveSupport::Cache::RedisCacheStore)",
    source="github rails/rails: actionview/lib/action_view/helpers/cache_helper.rb "
    "(combined_fragment_cache_key: [:views, …]), activesupport cache.rb expand_cache_key",
    families=(
        Family(
            "views/*",
            "cache",
            ("views/products/index:4f1c2d/products/1-20240101120000",),
            ("view/x", "reviews/1"),
            types=("string",),
            note="fragment caches; other Rails.cache keys are named by the application",
        ),
    ),
    settings={
        "cache": "config.cache_store = :redis_cache_store, { expires_in: 1.day } gives every entry "
        "a TTL; or cache … expires_in: in the view"
    },
)
