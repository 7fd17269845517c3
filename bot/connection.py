"""The Redis connection of an operator's command (``users``, ``purge``,
``clock``, ``report``): the server the web and worker processes use, never
an in-process store, since what these commands change must be what the
running bot sees. Kept apart from bot.runtime, which builds the LINE
adapter: the records and the console need a connection, not LINE."""

from __future__ import annotations

import os

import redis

from bot.config import Config, ConfigError, load_config
from bot.pipeline.enqueue import adopt_partition_layout
from bot.storage.keys import KeyBuilder
from bot.storage.redis import make_redis_client


def connect_for_command(why_redis: str) -> tuple[Config, redis.Redis, KeyBuilder]:
    """Settings, a reachable Redis and the key builder. ``why_redis`` says,
    when REDIS_URL is unset, why an in-process store will not do. Raises
    ConfigError with a one-line reason."""
    if not os.environ.get("REDIS_URL", "").strip():
        raise ConfigError(f"REDIS_URL is not set: {why_redis}")
    config = load_config()
    client = make_redis_client(config.redis_url, sentinels=config.redis_sentinels,
                               master=config.redis_sentinel_master,
                               cluster_nodes=config.redis_cluster_nodes)
    try:
        client.ping()
    except Exception as exc:
        raise ConfigError(f"Redis at REDIS_URL is not reachable: {exc}") from None
    keys = KeyBuilder(secret=config.id_secret)
    # What a command sends to a user goes through the pipeline's partitions: their
    # keys must be the ones the workers read (a Redis begun before the spread tags).
    adopt_partition_layout(client, keys)
    return config, client, keys
