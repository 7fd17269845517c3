"""Redis Sentinel (issue 16): the bot's client finds the master through the
sentinels (REDIS_SENTINELS) and, after the master is killed, reaches the
promoted replica without a restart; with REDIS_MIN_REPLICAS every event that
was acknowledged is on the new master, once. A master, two replicas and three
sentinels of the test's own, on loopback, from Debian's redis-server."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import redis

from benchmarks.topology import online_replicas
from bot.pipeline.enqueue import PipelineUnavailable, enqueue
from bot.storage.redis import make_redis_client
from tests.pipeline.test_replicas import KEYS, P, event
from tests.redis_server import OwnServer
from tests.waiting import wait_until

pytestmark = pytest.mark.slow  # six servers and a failover: about 10 s

MASTER_NAME = "netsoudan"


def sentinel(workdir: Path, master_port: int) -> OwnServer:
    return OwnServer(workdir, sentinel_conf=(
        f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n"
        f"sentinel down-after-milliseconds {MASTER_NAME} 400\n"
        f"sentinel failover-timeout {MASTER_NAME} 2000\n"))


def test_the_master_killed_the_bot_reaches_the_promoted_replica_and_loses_nothing_acknowledged(tmp_path):
    master = OwnServer(tmp_path / "master")
    replicas = [OwnServer(tmp_path / f"replica{n}", "--replicaof", "127.0.0.1", str(master.port)) for n in (1, 2)]
    sentinels = [sentinel(tmp_path / f"sentinel{n}", master.port) for n in (1, 2, 3)]
    servers = [master, *replicas, *sentinels]
    try:
        wait_until(lambda: online_replicas(master.port) == 2, 15, "both replicas to be in sync")
        watch = redis.Redis(port=sentinels[0].port, decode_responses=True)
        wait_until(lambda: len(watch.sentinel_slaves(MASTER_NAME)) == 2
                 and len(watch.sentinel_sentinels(MASTER_NAME)) == 2, 15, "the sentinels to know the set")
        client = make_redis_client("redis://127.0.0.1:1/0", sentinels=tuple(("127.0.0.1", s.port) for s in sentinels),
                                   master=MASTER_NAME)
        acknowledged: list[int] = []
        refused: list[int] = []

        def deliver(n: int) -> bool:
            try:
                enqueue(client, KEYS, [event(n)], partitions=P, replicas=1, wait_ms=300)
            except PipelineUnavailable:
                return False
            acknowledged.append(n)
            return True

        for n in range(20):
            assert deliver(n), "before the failover every event is acknowledged"
        master.process.send_signal(signal.SIGKILL)
        master.process.wait()
        killed = time.monotonic()
        for n in range(20, 40):
            if not deliver(n):
                refused.append(n)
        # LINE delivers the refused events again until they are stored.
        for n in list(refused):
            wait_until(lambda n=n: deliver(n), 20, f"event {n} to be stored after the failover")
        back = time.monotonic() - killed
        promoted = watch.sentinel_get_master_addr_by_name(MASTER_NAME)
        assert int(promoted[1]) in {r.port for r in replicas}, "a replica was promoted"
        on_new = redis.Redis(port=int(promoted[1]))
        ids = [fields[b"event_id"].decode() for i in range(P)
               for _id, fields in on_new.xrange(KEYS.partition_events(i))]
        assert sorted(ids) == sorted(event(n)["webhookEventId"] for n in range(40)), "each event once"
        assert len(set(acknowledged)) == 40
        print(f"service back {back:.1f} s after the master was killed; {len(refused)} events refused meanwhile")
        client.close()
        watch.close()
        on_new.close()
    finally:
        for server in servers:
            server.stop()
