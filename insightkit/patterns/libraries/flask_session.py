"""Flask-Session's Redis interface: one string per session, under ``session:`` by default."""

from insightkit.patterns.libraries.base import Family, Library

LIBRARY = Library(
    name="flask-session",
    title="Flask-Session (SESSION_TYPE redis)",
    source="PyPI Flask-Session 0.8: flask_session/redis/redis.py, base.py (key_prefix 'session:', "
    "sid = secrets.token_urlsafe(32))",
    verified="tests",
    families=(
        Family(
            "session:*",
            "session",
            ("session:5b1QcIkbIacnT0D_z8KqijAUlzxdp_3JlbE993UWVy4",),
            ("session:5258a575-404d-41c9-e135-13a3cba487f6", "session:abc"),
            regex=r"^session:[A-Za-z0-9_-]{43}$",
            types=("string",),
            note="session ids of 43 URL-safe characters (token_urlsafe(32)); other session:* keys "
            "are not Flask-Session's",
        ),
    ),
    settings={
        "session": "sessions live PERMANENT_SESSION_LIFETIME (default 31 days) also when the browser "
        "session ends: lower it, or SESSION_PERMANENT=False"
    },
)
