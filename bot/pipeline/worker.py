"""Consumer side of the event pipeline: leased partitions, in-order handling, dead letters.

How a worker keeps "no message lost, none answered twice, none out of order":

* **One worker per partition.** A worker may read or acknowledge a partition's stream
  only while it holds the partition's lease (``SET lease <worker> NX PX lease_ms``,
  renewed every ``lease_ms / 3`` by the worker's coordinator thread). Every read
  (XREADGROUP), every start of the handler and every acknowledgement runs in a Lua
  script that first checks the lease, so a worker that lost its lease (paused, cut
  off from Redis, displaced) cannot take new entries or acknowledge anything: it is
  fenced off atomically, on the Redis side. The worker also keeps a local deadline
  (90 % of the lease after the last renewal was sent) and stops starting work when
  it passes, so it does not even try.
* **One entry at a time, in stream order.** Each partition is served by one thread of
  the lease holder. It takes, in this order: entries other consumers left pending
  (XAUTOCLAIM: with the lease, they belong to a dead or displaced worker), its own
  pending entries, then new ones, all in stream-id order, and never reads new entries
  while older ones are pending. The handler is called with one entry; only when it
  returns is the entry acknowledged and deleted (XACK + XDEL).
* **Failures keep the order.** When the handler raises, the entry stays pending and
  the partition waits (exponential backoff) before trying the same entry again; later
  entries wait behind it. After ``max_attempts`` failures the entry is moved to the
  partition's dead-letter stream with the reason, and the partition moves on. The
  attempt count lives in Redis, so an event that crashes the whole process each time
  also ends in the dead-letter stream instead of looping across restarts. Failures
  that say the world is down rather than the event is bad (:class:`RetryLater`,
  Redis connection errors and timeouts) are retried without end and never
  dead-lettered: a LINE or Redis outage must not bury every message in flight.
* **Fair share, handed over at once.** Live workers announce themselves in a sorted
  set with an expiring heartbeat; each holds at most ``ceil(partitions / live
  workers)`` leases and hands extra ones back after finishing the entry in hand. A
  worker that joins, frees a partition or leaves says so on a Redis channel and the
  others rebalance on the spot; a worker whose process dies is noticed within
  ``WATCH_SECONDS`` because Redis drops its subscription (bot/pipeline/roster.py),
  and its partitions are freed without waiting for its leases to lapse. Leases
  themselves are in bot/pipeline/leases.py, the Lua scripts in bot/pipeline/scripts.py.

Exactly once *in effect*: an entry is acknowledged only after the handler returned,
so a worker that dies between the handler's side effects and the acknowledgement
leaves the entry pending and the next lease holder calls the handler again with the
same ``event_id`` (and a higher ``attempt``). The handler must make that repetition
harmless: commit its effect together with a marker keyed by the event id (the
outbox), and send with an idempotency key derived from the event id.

Logs never carry message text or LINE ids: only partition numbers, stream entry ids,
event ids (opaque ULIDs), attempt counts and exception *types*.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from redis.exceptions import RedisClusterException, RedisError, ResponseError

from bot.pipeline.enqueue import (
    DEFAULT_PARTITIONS,
    FIELD_EVENT,
    FIELD_EVENT_ID,
    FIELD_RECEIVED_MS,
    GROUP,
    PipelineError,
    PipelineUnavailable,
    check_partitions,
    ensure_group,
    ensure_partition_count,
)
from bot.pipeline import scripts
from bot.pipeline.leases import Lease, LeaseTable
from bot.pipeline.roster import Roster
from bot.storage.keys import KeyBuilder
from bot.storage.redis import script_then

logger = logging.getLogger(__name__)


class RetryLater(PipelineError):
    """Raised by a handler that could not finish for a reason outside the event itself
    (the LINE API or Redis is down, a rate limit): the entry is retried with backoff,
    in order, for as long as it takes, and the failure does not count toward
    ``max_attempts``. Anything else the handler raises counts."""


DEFAULT_LEASE_MS = 10_000
DEFAULT_BLOCK_MS = 1_000
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_BATCH_SIZE = 10
DEFAULT_BACKOFF_BASE_MS = 1_000
DEFAULT_BACKOFF_CAP_MS = 30_000
# A blocking read must come back well before the client gives up on the socket;
# redis-py does not stretch its socket timeout for XREAD BLOCK.
BLOCK_MARGIN_MS = 500
# How often the coordinator looks for workers that died (and, at most, how long a
# signal from another worker waits to be read): the pause a crash can cost a user.
WATCH_SECONDS = 0.1
# Dead letters keep the event (so it can be replayed or read by a person), so they
# expire: 14 days after the partition's last dead letter, and at most this many.
DEAD_LETTER_TTL_MS = 14 * 24 * 3600 * 1000
DEAD_LETTER_MAXLEN = 10_000
ATTEMPTS_TTL_MS = 7 * 24 * 3600 * 1000
# Handler exceptions that mean "the world is down, not this event": retried without
# end (in order, with backoff) instead of dead-lettering every message in flight
# during a LINE or Redis outage. PipelineUnavailable is what bot code wraps Redis in.
DEFAULT_TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    RetryLater,
    PipelineUnavailable,
    redis.ConnectionError,
    redis.TimeoutError,
    # A failover: a master that became a replica, a cluster slot between masters.
    redis.exceptions.ReadOnlyError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
    redis.exceptions.RedisClusterException,
)
REASON_MAX_CHARS = 500

@dataclass(frozen=True)
class Entry:
    """One event handed to the handler.

    ``attempt`` is 1 on the first delivery and grows with every new start of the
    handler on this entry (after an exception, a crash, or a lost lease), so a handler
    can tell that it may have run before for the same ``event_id``.
    """

    event: dict[str, Any]
    event_id: str
    entry_id: str
    partition: int
    attempt: int
    received_ms: int


Handler = Callable[[Entry], None]


class Worker:
    """Processes the pipeline's partitions it holds leases on; see the module docstring.

    ``handler(entry)`` returning means the event is done (answered or recorded);
    raising means try again later. ``name`` is a label for logs and XINFO: a random
    suffix is always added, so a restarted process never mistakes its predecessor's
    lease or pending entries for its own.

    ``clock`` (monotonic seconds) drives lease deadlines and backoff; the Redis side
    of leases and heartbeats always runs on Redis' own clock.
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: KeyBuilder,
        handler: Handler,
        *,
        name: str | None = None,
        partitions: int = DEFAULT_PARTITIONS,
        lease_ms: int = DEFAULT_LEASE_MS,
        claim_min_idle_ms: int = 0,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        block_ms: int = DEFAULT_BLOCK_MS,
        batch_size: int = DEFAULT_BATCH_SIZE,
        backoff_base_ms: int = DEFAULT_BACKOFF_BASE_MS,
        backoff_cap_ms: int = DEFAULT_BACKOFF_CAP_MS,
        transient_errors: tuple[type[BaseException], ...] = DEFAULT_TRANSIENT_ERRORS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_partitions(partitions)
        _check_int("lease_ms", lease_ms, 100)
        _check_int("claim_min_idle_ms", claim_min_idle_ms, 0)
        _check_int("max_attempts", max_attempts, 1)
        _check_int("block_ms", block_ms, 1)
        _check_int("batch_size", batch_size, 1)
        _check_int("backoff_base_ms", backoff_base_ms, 0)
        _check_int("backoff_cap_ms", backoff_cap_ms, backoff_base_ms)
        socket_timeout = client.get_connection_kwargs().get("socket_timeout")
        if socket_timeout is not None and block_ms + BLOCK_MARGIN_MS > socket_timeout * 1000:
            raise ValueError(
                f"block_ms={block_ms} is too close to the Redis client's socket timeout "
                f"({socket_timeout}s): a blocking read on an idle stream would end in a "
                f"TimeoutError; keep block_ms at least {BLOCK_MARGIN_MS} ms below it"
            )
        if block_ms * 2 > lease_ms:
            raise ValueError(f"block_ms={block_ms} must be at most half of lease_ms={lease_ms}")
        if not callable(handler):
            raise TypeError("handler must be callable")
        label = name or f"{socket.gethostname()}-{os.getpid()}"
        self.name = f"{label}.{secrets.token_hex(4)}"
        self._client = client
        self._keys = keys
        self._handler = handler
        self._partitions = partitions
        self._lease_ms = lease_ms
        self._claim_min_idle_ms = claim_min_idle_ms
        self._max_attempts = max_attempts
        self._block_ms = block_ms
        self._batch_size = batch_size
        self._backoff_base = backoff_base_ms / 1000
        self._backoff_cap = backoff_cap_ms / 1000
        self._transient = tuple(transient_errors)
        self._clock = clock
        self._stop = threading.Event()
        self._threaded = False
        self._checked = False
        self._leases = LeaseTable(client, keys, self.name, partitions=partitions, lease_ms=lease_ms,
                                  clock=clock)
        self._roster = Roster(client, keys, self.name, lease_ms)
        self._fetch = client.register_script(scripts.FETCH)
        self._begin = client.register_script(scripts.BEGIN)
        self._ack = client.register_script(scripts.ACK)
        self._dead_letter = client.register_script(scripts.DEAD_LETTER)
        # Start acquiring at a worker-specific offset, so workers starting together
        # do not all race for partition 0 first.
        self._offset = int.from_bytes(secrets.token_bytes(2), "big") % partitions

    # --- public -----------------------------------------------------------------

    def is_gone(self, worker: str) -> bool:
        """Whether ``worker`` is known to have died (its locks may be taken over)."""
        return worker in self._roster.gone

    @property
    def partitions_held(self) -> list[int]:
        """Partitions this worker currently holds a live lease on (for tests and metrics)."""
        return self._leases.live()

    def run(self, stop_event: threading.Event) -> None:
        """Work until ``stop_event`` is set, then finish the entries in hand and hand back
        every lease. One thread per held partition; this thread renews leases, keeps
        the heartbeat and rebalances every ``lease_ms / 3``, and at once when another
        worker joins, frees a partition, leaves or dies (bot/pipeline/roster.py)."""
        self._threaded = True
        self._stop = stop_event
        self._roster.listen()
        for lease in self._leases.held():  # leases taken by run_once() before
            if lease.thread is None and not lease.stop.is_set():
                self._start_thread(lease)
        period = self._lease_ms / 3000
        logger.info("pipeline worker %s started (%d partitions)", self.name, self._partitions)
        next_round = 0.0
        first = True
        try:
            while not stop_event.is_set():
                signalled = False
                try:
                    if self._clock() >= next_round:
                        self._coordinate()
                        next_round = self._clock() + period
                        if first:
                            # Those holding more than their new share hand it over now.
                            self._roster.signal("joined")
                            first = False
                    signalled = self._take_over_departed()
                except (RedisError, RedisClusterException, PipelineUnavailable) as exc:
                    logger.warning("pipeline worker %s: Redis error while coordinating (%s)",
                                   self.name, type(exc).__name__)
                if not signalled:
                    signalled = self._roster.wait(min(WATCH_SECONDS, max(next_round - self._clock(), 0.0)),
                                                  stop_event)
                if signalled:
                    next_round = 0.0  # rebalance now
        finally:
            self._shutdown()
            self._roster.close()
            logger.info("pipeline worker %s stopped", self.name)

    def run_once(self) -> int:
        """One synchronous round, for tests: coordinate leases, then fetch and handle at
        most one batch per held partition (no blocking, no sleeping: a partition in
        backoff is skipped until ``clock`` passes its retry time). Returns the number
        of entries finished (acknowledged or dead-lettered)."""
        self._coordinate()
        done = 0
        for lease in self._leases.held():
            if lease.lost or lease.stop.is_set() or not self._leases.valid(lease):
                continue
            if self._clock() < lease.retry_at:
                continue
            done += self._step(lease, block=False)
        return done

    def stop(self) -> None:
        """For run_once users: hand back every lease and leave the worker set."""
        self._shutdown()

    # --- coordination -------------------------------------------------------------

    def _coordinate(self) -> None:
        if not self._checked:
            ensure_partition_count(self._client, self._keys, self._partitions)
            self._checked = True
        # Renew first: it is what keeps the partitions we are working on.
        self._leases.renew_all()
        self._reap()
        live = self._roster.heartbeat()
        target = math.ceil(self._partitions / max(live, 1))
        active = [lease for lease in self._leases.held() if not lease.stop.is_set()]
        if len(active) > target:
            for lease in sorted(active, key=lambda item: item.index)[target:]:
                logger.info("pipeline worker %s hands back partition %d (fair share %d)",
                            self.name, lease.index, target)
                lease.stop.set()
            self._reap()
        elif len(active) < target and not self._stop.is_set():
            hints, self._roster.hints = self._roster.hints, []
            order = [*hints, *((self._offset + k) % self._partitions for k in range(self._partitions))]
            for lease in self._leases.acquire(target - len(active), dict.fromkeys(order)):
                logger.info("pipeline worker %s took partition %d", self.name, lease.index)
                if self._threaded:
                    self._start_thread(lease)

    def _take_over_departed(self) -> bool:
        """Free the partitions of workers whose process is gone; True if there were any."""
        gone = self._roster.departed()
        for worker in gone:
            freed = self._leases.release_departed(worker)
            self._roster.evict(worker)
            logger.warning("pipeline worker %s: worker %s is gone (its Redis connections closed); "
                           "partitions %s freed without waiting for its leases to lapse",
                           self.name, worker, freed)
        return bool(gone)

    def _reap(self) -> None:
        """Forget partitions whose thread finished: lost ones, and handed-back ones
        (released by their thread, or here when run_once drives the worker)."""
        for lease in self._leases.held():
            if not lease.stop.is_set():
                if (self._threaded and not self._stop.is_set()
                        and (lease.thread is None or not lease.thread.is_alive())):
                    # The partition thread died of a bug: hand the partition back so
                    # that it is picked up again instead of staying leased and idle.
                    logger.error("pipeline worker %s: partition %d thread ended unexpectedly",
                                 self.name, lease.index)
                    lease.stop.set()
                else:
                    continue
            if lease.thread is not None and lease.thread.is_alive():
                continue
            self._leases.release(lease)
            self._leases.forget(lease)

    def _start_thread(self, lease: Lease) -> None:
        lease.thread = threading.Thread(
            target=self._partition_loop, args=(lease,), name=f"pipeline-p{lease.index}",
            daemon=True,
        )
        lease.thread.start()

    def _shutdown(self) -> None:
        try:
            self._roster.leave()
        except RedisError as exc:
            logger.warning("pipeline worker %s: leaving the roster failed (%s)", self.name,
                           type(exc).__name__)
        for lease in self._leases.held():
            lease.stop.set()
        period = self._lease_ms / 3000
        while any(lease.thread is not None and lease.thread.is_alive() for lease in self._leases.held()):
            # Keep renewing while handlers in hand finish, so that their entries can
            # still be acknowledged rather than handled again by the next holder.
            try:
                self._leases.renew_all()
            except RedisError:
                pass
            for lease in self._leases.held():
                if lease.thread is not None:
                    lease.thread.join(period)
        try:
            self._reap()  # the roster was left first, above
        except RedisError as exc:
            logger.warning("pipeline worker %s: clean hand-back failed (%s); leases expire "
                           "on their own", self.name, type(exc).__name__)

    # --- one partition ------------------------------------------------------------

    def _wait(self, lease: Lease, seconds: float) -> None:
        if seconds > 0:
            lease.stop.wait(seconds)

    def _partition_loop(self, lease: Lease) -> None:
        redis_failures = 0
        try:
            while not lease.stop.is_set() and not self._stop.is_set():
                if not self._leases.valid(lease):
                    # Renewals are failing (Redis unreachable?): do nothing until the
                    # coordinator renews the lease or finds it lost.
                    self._wait(lease, 0.05)
                    continue
                delay = lease.retry_at - self._clock()
                if delay > 0:
                    self._wait(lease, min(delay, 0.25))
                    continue
                try:
                    self._step(lease, block=True)
                    redis_failures = 0
                except RedisError as exc:
                    redis_failures += 1
                    logger.warning("pipeline worker %s: Redis error on partition %d (%s)",
                                   self.name, lease.index, type(exc).__name__)
                    self._wait(lease, min(0.05 * 2 ** redis_failures, 2.0))
        except Exception as exc:  # a bug here must not leave the partition leased and idle
            # Type and place only: an exception message may quote an event.
            logger.error("pipeline worker %s: partition %d loop crashed with %s at %s; "
                         "handing the partition back", self.name, lease.index,
                         type(exc).__name__, _where(exc))
            return
        if lease.stop.is_set() and self._leases.release(lease):
            # Handed back with nothing in hand: free it now and say so, so the worker
            # it is meant for takes it within milliseconds, not at its next round.
            self._roster.signal("freed", lease.index)

    def _step(self, lease: Lease, *, block: bool) -> int:
        """Fetch one batch and handle it in order; return how many entries were finished."""
        if lease.after is not None:
            if not block:
                lease.after = None
            elif not self._client.xread({lease.stream: lease.after}, count=1, block=self._block_ms):
                return 0
            else:
                lease.after = None  # something new: the fetch takes it, fenced
        try:
            reply = self._fetch(
                keys=[lease.stream, self._keys.partition_lease(lease.index),
                      self._keys.partition_attempts(lease.index)],
                args=[self.name, GROUP, self._batch_size, self._claim_min_idle_ms,
                      "1" if lease.tidy else "0", ATTEMPTS_TTL_MS],
            )
        except ResponseError as exc:
            if "NOGROUP" in str(exc):  # the stream was deleted (FLUSHDB, restore): recreate
                ensure_group(self._client, lease.stream)
                return 0
            raise
        status = _text(reply[0])
        if status == "LOST":
            logger.warning("pipeline worker %s lost the lease of partition %d",
                           self.name, lease.index)
            self._leases.mark_lost(lease)
            return 0
        if status == "WAIT":
            if block:
                self._wait(lease, min(self._block_ms, max(self._claim_min_idle_ms // 10, 20)) / 1000)
            return 0
        lease.tidy = False
        if status == "EMPTY":
            if block:
                self._client.xread({lease.stream: _text(reply[1])}, count=1, block=self._block_ms)
            return 0
        done = 0
        entries = reply[1]
        begun: tuple[int, int] | None = (int(reply[2]), int(reply[3]))  # the first entry's counts
        # The stream was read to its end: once the last entry is done, wait for what
        # comes after it instead of asking the fetch script again (which would only
        # say "nothing new"); when blocking, in the acknowledgement's round trip.
        to_the_end = status == "NEW" and len(entries) < self._batch_size
        for n, raw in enumerate(entries, 1):
            if lease.stop.is_set() or not self._leases.valid(lease):
                break  # the rest stays pending: the next lease holder takes it over
            if not self._process(lease, raw, begun, then_wait=block and to_the_end and n == len(entries)):
                break
            begun = None
            done += 1
        if to_the_end and done == len(entries) and not block:
            lease.after = _text(entries[-1][0])
        return done

    def _process(self, lease: Lease, raw: Any, begun: tuple[int, int] | None = None, *,
                 then_wait: bool = False) -> bool:
        """Handle one raw stream entry. True: finished (acked or dead-lettered), go on.

        ``begun``: the entry's attempt counts when the fetch began it already
        (started, transient failures); otherwise BEGIN counts this start.
        ``then_wait``: the last entry of the stream; once it is acknowledged, wait
        for a newer one (_ack_then_wait)."""
        entry_id = _text(raw[0])
        stream_keys = [lease.stream, self._keys.partition_lease(lease.index),
                       self._keys.partition_attempts(lease.index)]
        if raw[1] is None:
            # Deleted from the stream while pending (by hand): nothing left to handle.
            return self._finish(lease, entry_id, stream_keys)
        fields = _fields(raw[1])
        eid = fields.get(FIELD_EVENT_ID, "")
        try:
            event = json.loads(fields[FIELD_EVENT])
            if not isinstance(event, dict):
                raise ValueError("the event is not a JSON object")
            received_ms = int(fields.get(FIELD_RECEIVED_MS, "0"))
        except (KeyError, ValueError) as exc:
            return self._bury(lease, entry_id, fields, 0,
                              f"undecodable entry ({type(exc).__name__})", stream_keys)
        if begun is None:
            begun = (int(x) for x in self._begin(
                keys=stream_keys[1:], args=[self.name, entry_id, ATTEMPTS_TTL_MS]))
        started_n, transient_n = begun
        if started_n < 0:
            logger.warning("pipeline worker %s lost the lease of partition %d",
                           self.name, lease.index)
            self._leases.mark_lost(lease)
            return False
        attempt = started_n
        counted = started_n - transient_n  # this attempt included
        if counted > self._max_attempts:
            return self._bury(
                lease, entry_id, fields, counted - 1,
                f"{counted - 1} attempts started and none finished (worker stopped or lost "
                "its lease during the handler, or the acknowledgement failed)", stream_keys,
            )
        entry = Entry(event=event, event_id=eid, entry_id=entry_id, partition=lease.index,
                      attempt=attempt, received_ms=received_ms)
        started = time.monotonic()
        try:
            self._handler(entry)
        except Exception as exc:
            where = _where(exc)
            # The session storage wraps what Redis raised (StorageError from a ConnectionError).
            transient = isinstance(exc, self._transient) or isinstance(exc.__cause__, self._transient)
            if not transient and counted >= self._max_attempts:
                return self._bury(lease, entry_id, fields, counted, _reason(exc), stream_keys)
            delay = min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1))
            lease.retry_at = self._clock() + delay
            if transient:
                try:
                    self._client.hincrby(stream_keys[2], f"{entry_id}:t", 1)
                except RedisError:
                    pass  # then it counts: at worst a dead letter that can be replayed
            logger.warning(
                "pipeline partition %d entry %s event %s: handler raised %s at %s "
                "(attempt %d, %s), retrying in %.1fs",
                lease.index, entry_id, eid, type(exc).__name__, where, attempt,
                "transient: not counted" if transient
                else f"{counted} of {self._max_attempts} counted", delay,
            )
            return False
        elapsed = time.monotonic() - started
        if elapsed * 1000 > self._lease_ms:
            logger.warning("pipeline partition %d entry %s: handler took %.1fs, longer than "
                           "the lease", lease.index, entry_id, elapsed)
        return self._finish(lease, entry_id, stream_keys, then_wait=then_wait)

    def _finish(self, lease: Lease, entry_id: str, stream_keys: list[str], *, then_wait: bool = False) -> bool:
        if then_wait and not lease.stop.is_set():  # a partition handed back waits for nothing
            result = self._ack_then_wait(lease, entry_id, stream_keys)
        else:
            result = int(self._ack(keys=stream_keys, args=[self.name, GROUP, entry_id]))
        if result == 0:
            # Fenced: another worker holds the partition now and will take this entry
            # over (the handler's idempotency absorbs the repeat).
            logger.warning("pipeline worker %s lost the lease of partition %d before "
                           "acknowledging entry %s", self.name, lease.index, entry_id)
            self._leases.mark_lost(lease)
            return False
        return True

    def _ack_then_wait(self, lease: Lease, entry_id: str, stream_keys: list[str]) -> int:
        """Acknowledge the stream's last entry and, in the same round trip, block for
        a newer one: one round trip per event fewer while the workers keep up.
        Sets ``lease.after``: None when something new came (the fetch takes it,
        fenced), else the entry to wait after next time. Returns ACK's answer."""
        acked, woke = script_then(
            self._client, self._ack, stream_keys, [self.name, GROUP, entry_id],
            lambda pipe: pipe.xread({lease.stream: entry_id}, count=1, block=self._block_ms))
        lease.after = None if woke else entry_id
        return int(acked)

    def _bury(self, lease: Lease, entry_id: str, fields: dict[str, str], attempts: int,
              reason: str, stream_keys: list[str]) -> bool:
        dead = self._keys.partition_dead_letters(lease.index)
        record = {
            FIELD_EVENT: fields.get(FIELD_EVENT, ""),
            FIELD_EVENT_ID: fields.get(FIELD_EVENT_ID, ""),
            FIELD_RECEIVED_MS: fields.get(FIELD_RECEIVED_MS, "0"),
            "entry_id": entry_id,
            "partition": str(lease.index),
            "attempts": str(attempts),
            "reason": reason,
            "failed_ms": str(int(time.time() * 1000)),
        }
        flat: list[str] = []
        for key, value in record.items():
            flat += [key, value]
        result = int(self._dead_letter(
            keys=stream_keys + [dead],
            args=[self.name, GROUP, entry_id, DEAD_LETTER_MAXLEN, DEAD_LETTER_TTL_MS, *flat],
        ))
        if result == 0:
            logger.warning("pipeline worker %s lost the lease of partition %d before "
                           "dead-lettering entry %s", self.name, lease.index, entry_id)
            self._leases.mark_lost(lease)
            return False
        logger.error(
            "pipeline partition %d entry %s event %s moved to the dead-letter stream after "
            "%d attempts (%s)", lease.index, entry_id, fields.get(FIELD_EVENT_ID, ""), attempts,
            reason.split(":", 1)[0],
        )
        return True


# --- helpers -------------------------------------------------------------------------


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _fields(flat: Any) -> dict[str, str]:
    items = [_text(item) for item in flat]
    return dict(zip(items[0::2], items[1::2]))


def _reason(exc: BaseException) -> str:
    """Dead-letter reason: type and message (stored with the event, never logged)."""
    message = str(exc)
    if len(message) > REASON_MAX_CHARS:
        message = message[:REASON_MAX_CHARS] + "..."
    return f"{type(exc).__qualname__}: {message}"


def _where(exc: BaseException) -> str:
    """file:line where the exception was raised: useful in logs, and carries no data."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{os.path.basename(last.filename)}:{last.lineno}"
