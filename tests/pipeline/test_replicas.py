"""A webhook event is acknowledged only once a replica has it (issue 16):
REDIS_MIN_REPLICAS puts WAIT in the enqueue's round trip, so a failover loses
nothing LINE was told was stored. A master and a replica of the test's own, on
loopback, from Debian's redis-server; the replica is paused (SIGSTOP) to play
one that is gone or behind."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import signal
import time
from collections.abc import Iterator

import pytest
import redis

from bot.config import ConfigError, load_config
from bot.pipeline.enqueue import PipelineUnavailable, enqueue
from bot.storage.keys import KeyBuilder
from bot.storage.redis import make_redis_client
from tests.redis_server import OwnServer

P = 4
USER = "U" + "5" * 32
KEYS = KeyBuilder(secret=b"replica-test-secret-0123456789abcdef")
#: The settings of a production web process, for the configuration tests.
SETTINGS = {"BOT_ID_SECRET": "replica-test-pseudonym-secret-0123456789", "BOT_LOCAL_CHAT": "",
            "LINE_CHANNEL_SECRET": "s" * 32, "LINE_CHANNEL_ACCESS_TOKEN": "t" * 32,
            "BOT_CONSOLE_SECRET": "c" * 40, "BOT_DATA_KEY": "dGVzdC1kYXRhLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDE="}


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> Iterator[tuple[OwnServer, OwnServer]]:
    root = tmp_path_factory.mktemp("replication")
    master = OwnServer(root / "master")
    replica = OwnServer(root / "replica", "--replicaof", "127.0.0.1", str(master.port))
    client = redis.Redis(port=master.port)
    deadline = time.monotonic() + 10
    while client.info("replication").get("connected_slaves", 0) < 1:
        assert time.monotonic() < deadline, "the replica did not connect"
        time.sleep(0.05)
    client.close()
    yield master, replica
    replica.stop()
    master.stop()


@pytest.fixture
def clients(pair) -> Iterator[tuple[redis.Redis, redis.Redis]]:
    master, replica = pair
    on_master, on_replica = make_redis_client(master.url), make_redis_client(replica.url)
    on_master.flushall()
    yield on_master, on_replica
    replica.process.send_signal(signal.SIGCONT)
    on_master.close()
    on_replica.close()


def event(n: int) -> dict:
    return {"type": "message", "mode": "active", "timestamp": int(time.time() * 1000),
            "source": {"type": "user", "userId": USER}, "webhookEventId": f"01REPLICA{n:017d}",
            "deliveryContext": {"isRedelivery": False}, "replyToken": f"r{n}",
            "message": {"type": "text", "id": str(n), "text": "たすけて"}}


def stored(client: redis.Redis) -> int:
    return sum(client.xlen(KEYS.partition_events(i)) for i in range(P))


def test_an_event_is_acknowledged_only_once_the_replica_has_it(clients):
    on_master, on_replica = clients
    result = enqueue(on_master, KEYS, [event(1), event(2)], partitions=P, replicas=1, wait_ms=2000)
    assert result.stored == 2
    assert stored(on_replica) == 2, "WAIT returned: the replica has both"


def test_with_the_replica_gone_the_event_is_refused_and_its_redelivery_stored_once(pair, clients):
    on_master, on_replica = clients
    _master, replica = pair
    replica.process.send_signal(signal.SIGSTOP)
    started = time.monotonic()
    with pytest.raises(PipelineUnavailable, match="0 of 1 replicas"):
        enqueue(on_master, KEYS, [event(3)], partitions=P, replicas=1, wait_ms=150)
    assert time.monotonic() - started < 2, "503 within the wait, not a hung webhook"
    # LINE delivers again while the replica is still away, to another web process
    # (another connection, which wrote nothing yet): refused again, even though the
    # master has the first copy. (A paused replica makes WAIT answer 0 even on a
    # connection that wrote nothing; the PEXPIRE that enqueue adds is for a replica
    # that still acknowledges but lags, which this test cannot stage.)
    other_process = make_redis_client(_master.url)
    try:
        with pytest.raises(PipelineUnavailable):
            enqueue(other_process, KEYS, [event(3)], partitions=P, replicas=1, wait_ms=150)
    finally:
        other_process.close()
    replica.process.send_signal(signal.SIGCONT)
    result = enqueue(on_master, KEYS, [event(3)], partitions=P, replicas=1, wait_ms=5000)
    assert (result.stored, result.duplicates) == (0, 1)
    assert stored(on_master) == 1 and stored(on_replica) == 1, "stored once, on both"


def _signed(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_the_webhook_answers_503_while_no_replica_confirms(pair, clients, fake_line, dialogue_loaded_once,
                                                            compiled_cache):
    from bot.web import create_app, runtime_of

    master, replica = pair
    secret = "replica-test-channel-secret-0123456789"
    app = create_app({"TESTING": True, "LINE_CHANNEL_SECRET": secret,
                      "LINE_CHANNEL_ACCESS_TOKEN": fake_line.access_token, "LINE_API_BASE_URL": fake_line.base_url,
                      "REDIS_URL": master.url, "BOT_ID_SECRET": "replica-test-pseudonym-secret-0123456789",
                      "BOT_CONSOLE_SECRET": "replica-test-console-secret-0123456789abcdef",
                      "BOT_DATA_KEY": "dGVzdC1kYXRhLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDE=",
                      "BOT_CATALOG_CACHE": compiled_cache, "REDIS_MIN_REPLICAS": "1", "REDIS_WAIT_MS": "100"})
    try:
        body = json.dumps({"destination": "U0", "events": [event(7)]}).encode()
        headers = {"X-Line-Signature": _signed(secret, body), "Content-Type": "application/json"}
        client = app.test_client()
        replica.process.send_signal(signal.SIGSTOP)
        assert client.post("/callback", data=body, headers=headers).status_code == 503
        replica.process.send_signal(signal.SIGCONT)
        assert client.post("/callback", data=body, headers=headers).status_code == 200
    finally:
        runtime_of(app).stop()


@pytest.mark.parametrize("env,problem", [
    ({"REDIS_MIN_REPLICAS": "1"}, "REDIS_URL is not"),
    ({"REDIS_SENTINELS": "10.0.0.1:26379"}, "REDIS_URL is not"),
    ({"REDIS_URL": "redis://127.0.0.1:1/0", "REDIS_SENTINELS": "10.0.0.1"}, "is not host:port"),
    ({"REDIS_URL": "redis://127.0.0.1:1/0", "REDIS_SENTINELS": "10.0.0.1:99999"}, "is not host:port"),
    ({"REDIS_URL": "redis://127.0.0.1:1/0", "REDIS_MIN_REPLICAS": "9"}, "out of range"),
    ({"REDIS_URL": "redis://127.0.0.1:1/0", "REDIS_WAIT_MS": "1"}, "out of range"),
    ({"REDIS_CLUSTER_NODES": "10.0.0.1:6379"}, "REDIS_URL is not"),
    ({"REDIS_URL": "redis://127.0.0.1:1/0", "REDIS_CLUSTER_NODES": "10.0.0.1"}, "is not host:port"),
    ({"REDIS_URL": "redis://127.0.0.1:1/2", "REDIS_CLUSTER_NODES": "10.0.0.1:6379"}, "only database 0"),
    ({"REDIS_URL": "redis://127.0.0.1:1?db=3", "REDIS_CLUSTER_NODES": "10.0.0.1:6379"}, "only database 0"),
    ({"REDIS_URL": "unix:///run/redis.sock", "REDIS_CLUSTER_NODES": "10.0.0.1:6379"}, "unix socket"),
    ({"REDIS_URL": "redis://127.0.0.1:1/0", "REDIS_CLUSTER_NODES": "10.0.0.1:6379",
      "REDIS_SENTINELS": "10.0.0.1:26379"}, "both set"),
])
def test_the_settings_are_checked(env, problem):
    with pytest.raises(ConfigError, match=problem):
        load_config({**SETTINGS, **env})


def test_sentinels_and_the_master_s_name_are_read():
    base = {**SETTINGS, "REDIS_URL": "redis://127.0.0.1:1/0"}
    config = load_config({**base, "REDIS_SENTINELS": "10.0.0.1:26379, [::1]:26380", "REDIS_SENTINEL_MASTER": "hyogo"})
    assert config.redis_sentinels == (("10.0.0.1", 26379), ("::1", 26380))
    assert config.redis_sentinel_master == "hyogo"
    assert any("sentinel" in line for line in config.describe())
    assert load_config(base).redis_sentinels == ()


def test_cluster_nodes_are_read():
    base = {**SETTINGS, "REDIS_URL": "rediss://:pw@127.0.0.1:1"}
    config = load_config({**base, "REDIS_CLUSTER_NODES": "10.0.0.1:6379,10.0.0.2:6379, [::1]:6380"})
    assert config.redis_cluster_nodes == (("10.0.0.1", 6379), ("10.0.0.2", 6379), ("::1", 6380))
    assert any("Redis Cluster" in line for line in config.describe())
    assert load_config(base).redis_cluster_nodes == ()
