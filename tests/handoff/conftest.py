"""Fixtures for the handoff queue: the same tests run against a real redis-server
(tests/redis_server.py; what production runs) and fakeredis with Lua (the newcomer's
embedded store in bot.runtime), since the queue must behave the same on both."""

from __future__ import annotations

import pytest
import redis

from bot.handoff import HandoffQueue
from bot.storage.keys import KeyBuilder

SECRET = b"handoff-test-secret-0123456789"
# 2026-11-25 06:00 UTC; any fixed instant would do, the queue only compares times.
T0 = 1_795_586_400.0


class FakeClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def keys() -> KeyBuilder:
    return KeyBuilder(secret=SECRET)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=[pytest.param("redis", marks=pytest.mark.redis), "fakeredis"])
def client(request: pytest.FixtureRequest) -> redis.Redis:
    if request.param == "redis":
        return request.getfixturevalue("redis_client")
    import fakeredis

    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


@pytest.fixture
def queue(client: redis.Redis, keys: KeyBuilder, clock: FakeClock) -> HandoffQueue:
    return HandoffQueue(client, keys, clock)
