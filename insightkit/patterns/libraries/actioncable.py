"""ActionCable's Redis adapter: Pub/Sub only, so it leaves no keys for a snapshot to see."""

from insightkit.patterns.libraries.base import Library

LIBRARY = Library(
    name="actioncable",
    title="ActionCable (Redis subscription adapter)",
    source="github rails/rails: actioncable/lib/action_cable/subscription_adapter/redis.rb "
    "(broadcast = PUBLISH; channel_prefix names channels, not keys)",
    families=(),
)
