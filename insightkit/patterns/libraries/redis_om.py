"""redis-om (Python): one hash or JSON document per model instance, keyed by a ULID."""

from insightkit.patterns.libraries.base import Family, Library

_ULID = "01HJ8Q9ZK3W7X2M5N4P6R8S0TV"

LIBRARY = Library(
    name="redis-om",
    title="Redis OM Python (HashModel, JsonModel)",
    source="github redis/redis-om-python: aredis_om/model/model.py (make_key: "
    "<global_key_prefix>:<model_key_prefix>:<pk>, model_key_prefix <module>.<Class>, ULID pks), "
    "aredis_om/model/migrations/migrator.py",
    families=(
        Family(
            "{prefix}:{model}:index:hash",
            "index",
            (":app.models.Customer:index:hash",),
            regex=r"^(?P<prefix>[^:]*):(?P<model>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+):index:hash$",
            types=("string",),
        ),
        Family(
            "{prefix}:{model}:*",
            "model",
            (f":app.models.Customer:{_ULID}", f"shop:app.models.Order:{_ULID}"),
            (f"user:{_ULID}", ":app.models.Customer:42", f":customer:{_ULID}"),
            regex=r"^(?P<prefix>[^:]*):(?P<model>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+):[0-9A-HJKMNP-TV-Z]{26}$",
            types=("hash", "ReJSON-RL"),
            note="the default primary key (ULID) and model_key_prefix (<module>.<Class>)",
        ),
    ),
    settings={
        "model": "records are the application's: expire them with Model.expire(seconds) or "
        "Meta.ttl-style EXPIRE after save() where they are temporary",
    },
)
