"""Per-user session storage (in-memory and Redis backends) and the Redis key builder."""

from bot.storage.base import LockLost, LockTimeout, SessionStorage, StorageError
from bot.storage.keys import KeyBuilder
from bot.storage.memory import MemoryStorage
from bot.storage.redis import RedisStorage, make_redis_client

__all__ = [
    "KeyBuilder",
    "LockLost",
    "LockTimeout",
    "MemoryStorage",
    "RedisStorage",
    "SessionStorage",
    "StorageError",
    "make_redis_client",
]
