"""Partition leases: which worker may read and acknowledge which partition.

A lease is ``SET <lease key> <worker> NX PX lease_ms`` on the partition's own
key, renewed by its holder every ``lease_ms / 3``. The holder also keeps a
local deadline (``LEASE_SAFETY`` of the lease after the last renewal was
*sent*), so it stops starting work before Redis could give the partition to
someone else. Every script that reads or acknowledges checks the lease on the
Redis side too (bot/pipeline/scripts.py): the local deadline is courtesy, the
check is the fence.

A lease is given back as soon as its partition thread has finished the entry in
hand, by the thread itself, so a worker waiting for that partition can take it
within milliseconds (bot/pipeline/roster.py says when).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

import redis
from redis.exceptions import RedisError

from bot.pipeline import scripts
from bot.pipeline.enqueue import ensure_group
from bot.storage.keys import KeyBuilder
from bot.storage.redis import script_calls

logger = logging.getLogger(__name__)

# The local view of a lease ends before Redis' own expiry: renewals are timed from
# when they were sent, and clocks of different hosts drift.
LEASE_SAFETY = 0.9


class Lease:
    """A partition this worker holds (or is handing back)."""

    def __init__(self, index: int, stream: str) -> None:
        self.index = index
        self.stream = stream
        self.valid_until = 0.0  # worker clock; refreshed by each successful renewal
        self.lost = False  # Redis said the lease is someone else's (or gone)
        self.released = False  # given back by this worker: renewals must not revive it
        self.stop = threading.Event()  # finish the entry in hand, then stop
        self.thread: threading.Thread | None = None
        self.retry_at = 0.0  # after a handler failure: not before this (worker clock)
        self.tidy = True  # first fetch after acquiring also forgets stale consumers
        # The last entry handled when the stream was read to its end: the next
        # wait for new entries blocks from here instead of asking the fetch
        # script, which would only say "nothing new" (one round trip per event).
        self.after: str | None = None


class LeaseTable:
    """The leases one worker holds, and the Redis calls that take, keep and give them."""

    def __init__(self, client: redis.Redis, keys: KeyBuilder, name: str, *, partitions: int,
                 lease_ms: int, clock: Callable[[], float]) -> None:
        self._client = client
        self._keys = keys
        self._name = name
        self._partitions = partitions
        self._lease_ms = lease_ms
        self._clock = clock
        self._leases: dict[int, Lease] = {}
        self._lock = threading.Lock()
        self._renew = client.register_script(scripts.RENEW)
        self._release = client.register_script(scripts.RELEASE)

    def held(self) -> list[Lease]:
        """Every lease in the table, by partition (lost and stopping ones included)."""
        with self._lock:
            return [self._leases[i] for i in sorted(self._leases)]

    def live(self) -> list[int]:
        """Partitions held and not being handed back."""
        with self._lock:
            return sorted(i for i, lease in self._leases.items() if not lease.lost and not lease.stop.is_set())

    def valid(self, lease: Lease) -> bool:
        return not lease.lost and self._clock() < lease.valid_until

    def acquire(self, wanted: int, order: Iterable[int]) -> list[Lease]:
        """Take up to ``wanted`` free partitions, trying them in ``order``."""
        taken: list[Lease] = []
        for index in order:
            if wanted <= 0:
                break
            with self._lock:
                if index in self._leases:
                    continue
            sent = self._clock()
            key = self._keys.partition_lease(index)
            if not self._client.set(key, self._name, nx=True, px=self._lease_ms):
                continue
            lease = Lease(index, self._keys.partition_events(index))
            lease.valid_until = sent + self._lease_ms / 1000 * LEASE_SAFETY
            try:
                ensure_group(self._client, lease.stream)
            except RedisError:
                self._release(keys=[key], args=[self._name])
                raise
            with self._lock:
                self._leases[index] = lease
            taken.append(lease)
            wanted -= 1
        return taken

    def renew_all(self) -> None:
        """Renew every lease still ours in one round trip; mark the ones Redis refused lost."""
        leases = [lease for lease in self.held() if not lease.lost and not lease.released]
        if not leases:
            return
        sent = self._clock()
        results = script_calls(self._client, self._renew, [
            ([self._keys.partition_lease(lease.index)], [self._name, self._lease_ms]) for lease in leases])
        for lease, result in zip(leases, results):
            if isinstance(result, Exception):
                logger.warning("pipeline worker %s: renewing partition %d failed (%s)",
                               self._name, lease.index, type(result).__name__)
            elif int(result) == 1:
                lease.valid_until = sent + self._lease_ms / 1000 * LEASE_SAFETY
            elif not lease.released:  # released meanwhile by its own thread: not a loss
                logger.warning("pipeline worker %s lost the lease of partition %d", self._name, lease.index)
                self.mark_lost(lease)

    @staticmethod
    def mark_lost(lease: Lease) -> None:
        lease.lost = True
        lease.stop.set()

    def release(self, lease: Lease) -> bool:
        """Give the partition back (only if it is still ours). True: it was."""
        if lease.lost or lease.released:
            return False
        lease.released = True
        try:
            return bool(self._release(keys=[self._keys.partition_lease(lease.index)], args=[self._name]))
        except RedisError as exc:
            # It expires on its own after lease_ms.
            logger.warning("pipeline worker %s: releasing partition %d failed (%s)",
                           self._name, lease.index, type(exc).__name__)
            return False

    def forget(self, lease: Lease) -> None:
        with self._lock:
            if self._leases.get(lease.index) is lease:
                del self._leases[lease.index]

    def release_departed(self, worker: str) -> list[int]:
        """Free every partition still leased to ``worker``, whose process is gone;
        returns them. Its pending entries are taken over by the next holder's fetch."""
        replies = script_calls(self._client, self._release,
                               [([self._keys.partition_lease(index)], [worker]) for index in range(self._partitions)])
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return [index for index, freed in enumerate(replies) if int(freed)]
