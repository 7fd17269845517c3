"""Who is working: the live workers, and the signals that hand partitions over at once.

Fair shares come from a sorted set of live workers with heartbeats on Redis'
clock. Heartbeats alone are slow news, though: a worker that joins, leaves or
dies would otherwise be noticed at the others' next round (a third of a
lease), and a dead one's partitions would wait for its leases to lapse. Users
on those partitions would wait with them. So:

- every running worker stays subscribed to a channel of its own
  (``KeyBuilder.pipeline_alive``). Redis drops the subscription the moment the
  process's connections close, which the kernel does even for SIGKILL, so a
  worker seen subscribed and then no longer is gone, whatever its heartbeat says;
- a worker that joins, frees a partition or leaves says so on one channel
  (``KeyBuilder.pipeline_signals``), and the others rebalance on the spot.

A false "gone" (a worker whose subscription dropped while it lives on) costs
nothing but a handover: its leases are taken, the lease check in every script
fences it off, and the handler's idempotency absorbs an event run twice.
"""

from __future__ import annotations

import logging
import threading

import redis
from redis.exceptions import RedisError

from bot.pipeline import scripts
from bot.storage.keys import KeyBuilder

logger = logging.getLogger(__name__)


class Roster:
    """This worker's view of the others; one per worker, used by its coordinator thread."""

    def __init__(self, client: redis.Redis, keys: KeyBuilder, name: str, ttl_ms: int) -> None:
        self._client = client
        self._keys = keys
        self._name = name
        self._ttl_ms = ttl_ms
        self._heartbeat = client.register_script(scripts.HEARTBEAT)
        self._pubsub: redis.client.PubSub | None = None
        #: listen() was asked for: a subscription lost with its server is made again.
        self._listening = False
        self._told_unsubscribed = False
        self._seen_listening: set[str] = set()
        self.hints: list[int] = []  # partitions others said they freed, to try first
        #: Workers found gone, here or by another worker (read by partition threads).
        self.gone: set[str] = set()

    # --- liveness -------------------------------------------------------------------

    def heartbeat(self) -> int:
        """Say this worker is live; returns how many workers are."""
        return int(self._heartbeat(keys=[self._keys.pipeline_workers()], args=[self._name, self._ttl_ms]))

    def listen(self) -> None:
        """Subscribe before the first heartbeat: from then on others may watch this worker."""
        self._listening = True
        try:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(self._keys.pipeline_signals(), self._keys.pipeline_alive(self._name))
            self._pubsub = pubsub
            # A new subscription (at start, or after a failover dropped every one):
            # a worker counts as gone only once it was seen listening since, or a
            # peer still re-subscribing would pass for dead.
            self._seen_listening.clear()
        except (RedisError, NotImplementedError) as exc:
            # Without signals the worker still works: it rebalances at its next round,
            # and a dead worker's partitions wait for its leases to lapse. Said once an
            # outage: it is tried again every tenth of a second until it works.
            if not self._told_unsubscribed:
                logger.warning("pipeline worker %s: no Redis pub/sub (%s); handovers wait for the next round",
                               self._name, type(exc).__name__)
                self._told_unsubscribed = True
            self._pubsub = None
            return
        self._told_unsubscribed = False

    def departed(self) -> list[str]:
        """Other workers still in the roster whose process is gone (see the module doc).
        Only workers seen listening count: a worker driven by ``run_once`` never
        listens and is left to its heartbeat and leases."""
        others = [_text(m) for m in self._client.zrange(self._keys.pipeline_workers(), 0, -1)]
        others = [name for name in others if name != self._name]
        self._seen_listening &= set(others)
        # One evicted that heartbeats again was alive after all (a failover's false alarm).
        self.gone -= set(others)
        if not others or self._pubsub is None:
            return []  # not subscribed ourselves: no basis to judge anyone
        counts = self._numsub([self._keys.pipeline_alive(name) for name in others])
        gone = []
        for name, (_, listening) in zip(others, counts):
            if int(listening) > 0:
                self._seen_listening.add(name)
            elif name in self._seen_listening:
                gone.append(name)
        return gone

    def _numsub(self, channels: list[str]) -> list[tuple[bytes, int]]:
        """Subscribers of ``channels``. On a cluster, asked of the node this worker's own
        subscription is on: every worker's channels share one slot, redis-py's cluster
        pub/sub subscribes on the node serving it, and a node counts only its own
        subscribers (the cluster client would ask some other node)."""
        node = getattr(self._pubsub, "get_pubsub_node", lambda: None)()
        if isinstance(self._client, redis.RedisCluster) and node is not None:
            return self._client.get_redis_connection(node).pubsub_numsub(*channels)
        return self._client.pubsub_numsub(*channels)

    def evict(self, worker: str) -> None:
        self.gone.add(worker)
        self._client.zrem(self._keys.pipeline_workers(), worker)
        self._seen_listening.discard(worker)
        self.signal("departed", worker)

    def leave(self) -> None:
        """Out of the roster first, so the others count one worker fewer when they
        take the partitions this one is about to free."""
        self._client.zrem(self._keys.pipeline_workers(), self._name)
        self.signal("left")

    # --- signals --------------------------------------------------------------------

    def signal(self, what: str, about: int | str | None = None) -> None:
        """Tell the other workers to rebalance now (``about``: the partition just
        freed, or the worker found gone)."""
        message = f"{what} {'-' if about is None else about} {self._name}"
        try:
            self._client.publish(self._keys.pipeline_signals(), message)
        except RedisError as exc:
            logger.warning("pipeline worker %s: signalling %s failed (%s); the others rebalance at "
                           "their next round", self._name, what, type(exc).__name__)

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Wait up to ``seconds`` for another worker's signal; True when one came."""
        if self._pubsub is None and self._listening:
            self.listen()  # lost with its server (a failover): subscribe where the channel is now
        if self._pubsub is None:
            stop.wait(seconds)
            return False
        try:
            message = self._pubsub.get_message(timeout=max(seconds, 0.0))
        except RedisError as exc:
            logger.warning("pipeline worker %s: Redis error while listening (%s); subscribing again",
                           self._name, type(exc).__name__)
            # A cluster's pub/sub stays on the node it first chose; after a failover that
            # node is gone, so the subscription is made anew at the next wait.
            self._drop_subscription()
            stop.wait(seconds)
            return False
        if not message or message.get("type") != "message":
            return False
        parts = _text(message.get("data", b"")).split(" ")
        if len(parts) != 3 or parts[2] == self._name:
            return False
        if parts[0] == "freed" and parts[1].isdigit():
            self.hints.append(int(parts[1]))
        elif parts[0] == "departed":
            self.gone.add(parts[1])
        return True

    def close(self) -> None:
        """Stop listening, for good (the worker is stopping)."""
        self._listening = False
        self._drop_subscription()

    def _drop_subscription(self) -> None:
        if self._pubsub is not None:
            try:
                self._pubsub.close()
            except RedisError:
                pass
            self._pubsub = None


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
