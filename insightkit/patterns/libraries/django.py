"""Django's cache framework (django-redis or the built-in RedisCache) and its cache-backed sessions.

Every key is ``<KEY_PREFIX>:<VERSION>:<key>`` (default prefix empty, version 1). Sessions, template
fragments and cache_page entries have names of Django's own and are recognised under any prefix; the
rest of the cache (the low-level API) only under the default empty prefix, since ``app:1:…`` cannot be
told from an application's own keys.
"""

from insightkit.patterns.libraries.base import Family, Library

_PV = r"^(?P<prefix>[^:]*):(?P<version>[0-9]+):"
_S = "e0ps2g0fhb2a9wkd3g1jphk6mw9wuwwe"

LIBRARY = Library(
    name="django",
    title="Django cache framework and cache-backed sessions (django-redis, django.core.cache RedisCache)",
    source="PyPI Django 5.2 (core/cache/backends/base.py make_key, contrib/sessions/backends/cache.py, "
    "cached_db.py, core/cache/utils.py, utils/cache.py) and django-redis 7.0",
    verified="tests",
    families=(
        Family(
            "{prefix}:{version}:django.contrib.sessions.cached_db*",
            "session",
            (f":1:django.contrib.sessions.cached_db{_S}",),
            (f":1:django.contrib.sessions.cache{_S}",),
            regex=_PV + r"django\.contrib\.sessions\.cached_db",
            types=("string",),
        ),
        Family(
            "{prefix}:{version}:django.contrib.sessions.cache*",
            "session",
            (f":1:django.contrib.sessions.cache{_S}", f"shop:2:django.contrib.sessions.cache{_S}"),
            (f":1:django_contrib_sessions_cache{_S}",),
            regex=_PV + r"django\.contrib\.sessions\.cache",
            types=("string",),
        ),
        Family(
            "{prefix}:{version}:template.cache.*",
            "cache",
            (":1:template.cache.sidebar.247730f9d0d2eaad265a470e32aa0cdf",),
            regex=_PV + r"template\.cache\.",
            types=("string",),
        ),
        Family(
            "{prefix}:{version}:views.decorators.cache.cache_page.*",
            "cache",
            (
                ":1:views.decorators.cache.cache_page..GET.112dbb082d03c75fe518fdee57e02e90."
                "d41d8cd98f00b204e9800998ecf8427e.en-us.America/Chicago",
            ),
            regex=_PV + r"views\.decorators\.cache\.cache_page\.",
            types=("string",),
        ),
        Family(
            "{prefix}:{version}:views.decorators.cache.cache_header.*",
            "cache",
            (
                ":1:views.decorators.cache.cache_header..128b790914f590e2687ab2f679ef73c5.en-us.America/Chicago",
            ),
            regex=_PV + r"views\.decorators\.cache\.cache_header\.",
            types=("string",),
        ),
        Family(
            ":{version}:*",
            "cache",
            (":1:product:312", ":2:home"),
            ("user:1:profile", "::x", ":v1:x"),
            regex=r"^:(?P<version>[0-9]+):.",
            note="the low-level cache API under the default empty KEY_PREFIX",
        ),
    ),
    settings={
        "cache": "CACHES['default']['TIMEOUT'] (default 300 s) applies when cache.set() gets no timeout; "
        "timeout=None (or TIMEOUT None) keeps an entry forever: pass a number",
        "session": "cache sessions live SESSION_COOKIE_AGE (default 2 weeks); "
        "SESSION_EXPIRE_AT_BROWSER_CLOSE does not shorten the server side",
    },
)
