"""Fixtures for the handoff queue: the same tests run against a real redis-server
(tests/redis_server.py; what production runs), a Redis Cluster (its scripts must stay
in one slot) and fakeredis with Lua (the newcomer's embedded store in bot.runtime),
since the queue must behave the same on all three."""

from __future__ import annotations

import pytest
import redis

from bot.handoff import HandoffQueue
from bot.storage.keys import KeyBuilder
from tests.fake_line import ManualClock

SECRET = b"handoff-test-secret-0123456789"
# 2026-11-25 06:00 UTC; any fixed instant would do, the queue only compares times.
T0 = 1_795_586_400.0




@pytest.fixture
def keys() -> KeyBuilder:
    return KeyBuilder(secret=SECRET)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture(params=[pytest.param("redis", marks=pytest.mark.redis),
                        pytest.param("cluster", marks=pytest.mark.redis), "fakeredis"])
def client(request: pytest.FixtureRequest) -> redis.Redis:
    if request.param == "redis":
        return request.getfixturevalue("redis_client")
    if request.param == "cluster":
        return request.getfixturevalue("redis_cluster_client")
    import fakeredis

    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


@pytest.fixture
def queue(client: redis.Redis, keys: KeyBuilder, clock: ManualClock) -> HandoffQueue:
    return HandoffQueue(client, keys, clock)
