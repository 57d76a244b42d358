"""Spring Session's indexed Redis repository: a hash per session plus expiry bookkeeping keys."""

from insightkit.patterns.libraries.base import Family, Library

_ID = "33fdd1b6-b496-4b33-9f7d-df96679d32fe"

LIBRARY = Library(
    name="spring-session",
    title="Spring Session Data Redis (RedisIndexedSessionRepository, RedisSessionRepository)",
    source="github spring-projects/spring-session: RedisIndexedSessionRepository.java (namespace "
    "spring:session, sessions:<id>, sessions:expires:<id>, expirations:<minute>, index:<name>:<value>) "
    "and its reference documentation",
    families=(
        Family(
            "spring:session:sessions:expires:*",
            "session",
            (f"spring:session:sessions:expires:{_ID}",),
            types=("string",),
        ),
        Family(
            "spring:session:sessions:*",
            "session",
            (f"spring:session:sessions:{_ID}",),
            ("spring:session:expirations:1439245080000",),
            types=("hash",),
        ),
        Family(
            "spring:session:expirations:*",
            "scheduler",
            ("spring:session:expirations:1439245080000",),
            types=("set",),
        ),
        Family(
            "spring:session:index:*",
            "registry",
            (
                "spring:session:index:org.springframework.session.FindByIndexNameSessionRepository."
                "PRINCIPAL_NAME_INDEX_NAME:alice",
            ),
            types=("set",),
        ),
    ),
    settings={
        "session": "sessions live maxInactiveInterval (spring.session.timeout, default 30 min) plus 5 minutes"
    },
)
