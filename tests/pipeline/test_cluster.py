"""The event pipeline on a Redis Cluster (issue 16): with REDIS_MIN_REPLICAS, WAIT
must be asked of the master that took the event, and a master killed mid-run is
replaced by its replica with nothing acknowledged lost. Three masters with a
replica each, of the test's own, on loopback (tests/redis_server.OwnCluster)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest
import redis

from bot.pipeline.enqueue import PipelineUnavailable, enqueue, partition_for
from bot.storage.keys import KeyBuilder
from bot.storage.redis import make_redis_client
from tests.pipeline.test_replicas import KEYS, event
from tests.redis_server import OwnCluster
from tests.waiting import wait_until

pytestmark = pytest.mark.slow  # a cluster of its own for each test: a few seconds

P = 16


@pytest.fixture
def cluster(tmp_path) -> Iterator[OwnCluster]:
    made = OwnCluster(tmp_path)
    try:
        yield made
    finally:
        made.stop()


def bot_client(cluster: OwnCluster) -> redis.Redis:
    return make_redis_client(f"redis://{cluster.addresses[0]}/0",
                             cluster_nodes=tuple(("127.0.0.1", node.port) for node in cluster.nodes))


def from_user(user: str, n: int) -> dict:
    return {**event(n), "source": {"type": "user", "userId": user}}


def users_on_two_masters(cluster: OwnCluster) -> tuple[str, str]:
    """Two users whose partitions are on different masters."""
    masters: dict[int, str] = {}
    for n in range(200):
        user = f"U{n:032x}"
        key = KEYS.partition_events(partition_for({"source": {"type": "user", "userId": user}}, P))
        masters.setdefault(cluster.master_of(key).port, user)
        if len(masters) == 2:
            break
    first, second = masters.values()
    return first, second


def stored_ids(client: redis.Redis) -> list[str]:
    return [fields[b"event_id"].decode() for i in range(P) for _id, fields in client.xrange(KEYS.partition_events(i))]


def test_an_event_waits_for_the_replica_of_the_master_that_took_it(cluster):
    client = bot_client(cluster)
    paused_user, other_user = users_on_two_masters(cluster)
    held = cluster.master_of(KEYS.partition_events(partition_for(from_user(paused_user, 0), P)))
    replica = cluster.replica_of(held)
    assert enqueue(client, KEYS, [from_user(paused_user, 1)], partitions=P, replicas=1, wait_ms=1000).stored == 1
    replica.process.send_signal(signal.SIGSTOP)
    try:
        # Its master's replica cannot confirm: refused, whichever node a WAIT would
        # reach by default (another master's replica would confirm at once).
        for n in range(2, 6):
            with pytest.raises(PipelineUnavailable):
                enqueue(client, KEYS, [from_user(paused_user, n)], partitions=P, replicas=1, wait_ms=150)
        # A user on another master is not held up by it.
        assert enqueue(client, KEYS, [from_user(other_user, 10)], partitions=P, replicas=1, wait_ms=1000).stored == 1
        # Both in one webhook: refused as a whole, so LINE delivers both again.
        with pytest.raises(PipelineUnavailable):
            enqueue(client, KEYS, [from_user(other_user, 11), from_user(paused_user, 12)], partitions=P,
                    replicas=1, wait_ms=150)
    finally:
        replica.process.send_signal(signal.SIGCONT)
    client.close()


def test_a_master_killed_is_replaced_by_its_replica_and_nothing_acknowledged_is_lost(cluster):
    client = bot_client(cluster)
    users = [f"U{n:032x}" for n in range(12)]
    events = [from_user(users[n % len(users)], n) for n in range(60)]
    acknowledged: set[str] = set()
    refused: list[dict] = []

    def deliver(e: dict) -> bool:
        try:
            enqueue(client, KEYS, [e], partitions=P, replicas=1, wait_ms=300)
        except PipelineUnavailable:
            return False
        acknowledged.add(e["webhookEventId"])
        return True

    for e in events[:30]:
        # Before the kill too, as LINE does: a WAIT that timed out on a busy machine is a 503.
        wait_until(lambda e=e: deliver(e), 10, f"event {e['webhookEventId']} to be stored")
    victim = cluster.master_of(KEYS.partition_events(partition_for(events[30], P)))
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait()
    killed = time.monotonic()
    for e in events[30:]:
        if not deliver(e):
            refused.append(e)
    assert refused, "the events of the dead master's slots were refused, not acknowledged"
    # The promoted replica serves the slots, but has no replica of its own: with
    # REDIS_MIN_REPLICAS=1 its events are refused until one is back. A supervisor
    # restarts the dead server, which rejoins as the new master's replica.
    key = KEYS.partition_events(partition_for(events[30], P))
    promoted = wait_until(lambda: cluster.serving(key), 20, "a replica to take over the dead master's slots")
    assert promoted is not victim
    assert not deliver(refused[0]), "no replica of the promoted master: still refused"
    victim.restart()
    wait_until(lambda: cluster.replica_of(promoted) is victim, 20, "the restarted server to replicate the new master")
    # LINE delivers the refused events again until they are stored.
    for e in refused:
        wait_until(lambda e=e: deliver(e), 20, f"event {e['webhookEventId']} to be stored after the failover")
    back = time.monotonic() - killed
    ids = stored_ids(client)
    assert sorted(ids) == sorted(e["webhookEventId"] for e in events), "each event once, none lost"
    assert acknowledged == {e["webhookEventId"] for e in events}
    print(f"cluster: service back {back:.1f} s after the master was killed; {len(refused)} events refused meanwhile")
    client.close()


def test_a_cluster_made_by_redis_cli_carries_the_partitions_evenly(redis_cluster):
    """``redis-cli --cluster create`` gives each of three masters a third of the slots:
    each then holds 5 or 6 of the 16 partitions (the plain ``p:<n>`` tags gave 10, 3, 3)."""
    keys = KeyBuilder(secret=b"cluster-spread-secret-0123456789")
    per_master: dict[int, int] = {}
    for n in range(16):
        port = redis_cluster.master_of(keys.partition_events(n)).port
        per_master[port] = per_master.get(port, 0) + 1
    assert sorted(per_master.values()) == [5, 5, 6]


def test_a_worker_s_subscription_lost_with_its_master_is_made_again_on_the_promoted_one(cluster):
    """Other workers tell a live worker from a dead one by its subscription (bot.pipeline.roster):
    a cluster's pub/sub stays on the node it chose, so after that node's failover the
    worker must subscribe again, or it would pass for dead and lose its partitions."""
    import threading

    from bot.pipeline.roster import Roster

    client = bot_client(cluster)
    roster = Roster(client, KEYS, "w1", ttl_ms=5000)
    roster.listen()
    alive = KEYS.pipeline_alive("w1")

    def listening() -> int:
        return dict(client.pubsub_numsub(alive)).get(alive.encode(), 0)

    assert listening() == 1
    victim = cluster.master_of(alive)
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait()
    wait_until(lambda: cluster.serving(alive), 20, "a replica to take over the roster's slot")
    stop = threading.Event()

    def subscribed_again() -> bool:
        roster.wait(0.1, stop)
        try:
            return listening() == 1
        except redis.RedisError:
            return False

    wait_until(subscribed_again, 20, "the worker to be subscribed on the promoted master")
    roster.close()
    client.close()


def test_after_a_failover_a_peer_still_re_subscribing_is_not_taken_for_dead(cluster):
    """Every subscription dies with the master of the workers' channels. The first
    worker back must not call the others gone before they are back too (they would
    lose their partitions, and their users' locks to takeover); one that then really
    stops listening is found gone, asked of the node that serves the channels."""
    import threading

    from bot.pipeline.roster import Roster

    stop = threading.Event()
    client_a, client_b = bot_client(cluster), bot_client(cluster)
    a = Roster(client_a, KEYS, "wa", ttl_ms=5000)
    b = Roster(client_b, KEYS, "wb", ttl_ms=5000)
    for roster in (a, b):
        roster.listen()
        roster.heartbeat()
    assert b.departed() == [] and a.departed() == []
    victim = cluster.master_of(KEYS.pipeline_alive("wa"))
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait()
    wait_until(lambda: cluster.serving(KEYS.pipeline_alive("wa")), 20, "a replica to take over the channels' slot")

    def back(roster: Roster, name: str) -> bool:
        # One round of a worker's loop: its heartbeat (through the cluster client, which
        # reads the slot map again on errors), then its wait for signals.
        try:
            roster.heartbeat()
        except redis.RedisError:
            pass
        roster.wait(0.1, stop)
        try:
            return roster._pubsub is not None and dict(roster._numsub([KEYS.pipeline_alive(name)])).get(
                KEYS.pipeline_alive(name).encode(), 0) == 1
        except redis.RedisError:
            return False

    wait_until(lambda: back(b, "wb"), 20, "worker b to be subscribed again")
    assert b.departed() == [], "a has not re-subscribed yet: not judged"
    wait_until(lambda: back(a, "wa"), 20, "worker a to be subscribed again")
    assert b.departed() == []  # a seen listening on the new master
    a.close()  # a's process ends: its subscription goes with it
    assert b.departed() == ["wa"]
    b.close()
    client_a.close()
    client_b.close()
