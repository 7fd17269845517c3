"""Worker: leased partitions, per-user order, retries, dead letters, takeover (real redis-server)."""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bot.pipeline import Entry, PipelineUnavailable, RetryLater, Worker, enqueue, partition_for
from bot.pipeline.enqueue import GROUP, ensure_group
from bot.storage.keys import KeyBuilder
from bot.storage.redis import make_redis_client
from tests.pipeline import SECRET, TEXT_PREFIX, message_event, seq_of, user_id, webhook_event_id

P = 16
USER = user_id(1)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

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


def worker(client: redis.Redis, keys: KeyBuilder, handler: Callable[[Entry], None], **options) -> Worker:
    settings = dict(partitions=P, lease_ms=2_000, block_ms=200, max_attempts=3,
                    backoff_base_ms=1_000, backoff_cap_ms=8_000)
    settings.update(options)
    return Worker(client, keys, handler, **settings)


def drain(w: Worker, clock: FakeClock | None = None, rounds: int = 100) -> int:
    """run_once until every partition stream is empty (advancing the fake clock past any
    backoff), then one more round."""
    client, keys = w._client, w._keys
    total = 0
    for _ in range(rounds):
        total += w.run_once()
        if sum(client.xlen(keys.partition_events(p)) for p in range(P)) == 0:
            return total + w.run_once()
        if clock is not None:
            clock.advance(10)
    raise AssertionError("the worker never emptied the streams")


def send(client: redis.Redis, keys: KeyBuilder, user: str, seqs) -> None:
    for seq in seqs:
        enqueue(client, keys, [message_event(user, seq)], partitions=P)


def pending(client: redis.Redis, keys: KeyBuilder, partition: int) -> int:
    return client.xpending(keys.partition_events(partition), GROUP)["pending"]


def backlog(client: redis.Redis, keys: KeyBuilder) -> int:
    """Entries not yet acknowledged, over every partition (acknowledged ones are deleted)."""
    return sum(client.xlen(keys.partition_events(p)) for p in range(P))


@pytest.fixture
def threads() -> Iterator[list[tuple[threading.Thread, threading.Event]]]:
    """Workers running in threads; stopped (and joined) at the end of the test."""
    running: list[tuple[threading.Thread, threading.Event]] = []
    yield running
    for _, stop in running:
        stop.set()
    for thread, _ in running:
        thread.join(10)


def start(running, w: Worker) -> threading.Event:
    stop = threading.Event()
    thread = threading.Thread(target=w.run, args=(stop,), daemon=True)
    thread.start()
    running.append((thread, stop))
    return stop


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# --- order and once -----------------------------------------------------------------


def test_one_users_events_are_handled_once_in_order(redis_client, keys) -> None:
    seen: list[Entry] = []
    send(redis_client, keys, USER, range(1, 21))
    w = worker(redis_client, keys, seen.append)
    assert drain(w) == 20
    assert [seq_of(e.event) for e in seen] == list(range(1, 21))
    partition = partition_for(message_event(USER, 1), P)
    first = seen[0]
    assert first.event == message_event(USER, 1)
    assert first.event_id == webhook_event_id(USER, 1)
    assert first.partition == partition and first.attempt == 1
    assert first.received_ms > 0 and "-" in first.entry_id
    # Acknowledged entries are deleted: the stream holds only what is still to do.
    assert redis_client.xlen(keys.partition_events(partition)) == 0
    assert pending(redis_client, keys, partition) == 0
    assert not redis_client.hlen(keys.partition_attempts(partition))


def test_the_first_entry_of_each_batch_is_begun_by_the_fetch_itself(redis_client, keys) -> None:
    # One round trip fewer per event: the fetch counts the first entry's start,
    # BEGIN only the entries after it in the same batch.
    seen: list[Entry] = []
    w = worker(redis_client, keys, seen.append, batch_size=4)
    begins: list[str] = []
    real_begin = w._begin
    w._begin = lambda keys, args: begins.append(args[1]) or real_begin(keys=keys, args=args)
    send(redis_client, keys, USER, [1])
    assert drain(w) == 1 and begins == []
    send(redis_client, keys, USER, range(2, 5))
    assert drain(w) == 3
    assert len(begins) == 2, "entries two and three of the batch"
    assert [(seq_of(e.event), e.attempt) for e in seen] == [(1, 1), (2, 1), (3, 1), (4, 1)]


def test_a_running_partition_waits_for_the_next_event_in_the_acknowledgement_s_round_trip(
        redis_client, keys, threads) -> None:
    # While events keep coming, each costs one fetch and one acknowledgement that
    # also waits for the next: no blocking read of its own in between.
    handled = threading.Semaphore(0)
    seen: list[int] = []
    w = worker(redis_client, keys, lambda e: seen.append(seq_of(e.event)) or handled.release(),
               lease_ms=4_000, block_ms=1_000)
    start(threads, w)
    wait_for(lambda: len(w.partitions_held) == P, 5, "the worker to hold every partition")
    send(redis_client, keys, USER, [1])
    assert handled.acquire(timeout=5)
    stream = keys.partition_events(partition_for(message_event(USER, 1), P))
    waits: list[object] = []  # of this user's partition (the others wait for nothing, on their own)
    real_xread = redis_client.xread
    redis_client.xread = lambda streams, *a, **k: (  # type: ignore[method-assign]
        (stream in streams and waits.append(streams)) or real_xread(streams, *a, **k))
    try:
        for seq in range(2, 12):
            send(redis_client, keys, USER, [seq])
            assert handled.acquire(timeout=5)
    finally:
        redis_client.xread = real_xread  # type: ignore[method-assign]
    assert seen == list(range(1, 12))
    assert waits == [], "a blocking read of its own between two events"


def test_handler_failing_twice_then_succeeding_is_handled_once_in_order(redis_client, keys, clock) -> None:
    calls: list[tuple[int, int]] = []
    done: list[int] = []

    def handler(entry: Entry) -> None:
        seq = seq_of(entry.event)
        calls.append((seq, entry.attempt))
        if seq == 3 and entry.attempt <= 2:
            raise RuntimeError("LINE API answered 500")
        done.append(seq)

    send(redis_client, keys, USER, range(1, 6))
    w = worker(redis_client, keys, handler, clock=clock)
    assert w.run_once() == 2  # 1 and 2, then 3 fails: 4 and 5 must wait behind it
    assert done == [1, 2]
    assert w.run_once() == 0  # backing off: not even tried
    assert calls[-1] == (3, 1) and len(calls) == 3
    clock.advance(1.0)  # first backoff: 1 s
    assert w.run_once() == 0
    assert calls[-1] == (3, 2)
    clock.advance(1.9)  # second backoff is 2 s: still waiting
    assert w.run_once() == 0 and len(calls) == 4
    clock.advance(0.1)
    assert w.run_once() == 3
    assert done == [1, 2, 3, 4, 5]
    assert [c for c in calls if c[0] == 3] == [(3, 1), (3, 2), (3, 3)]


def test_always_failing_event_goes_to_the_dead_letters_and_the_partition_moves_on(
    redis_client, keys, clock, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    done: list[int] = []

    def handler(entry: Entry) -> None:
        if seq_of(entry.event) == 1:
            # A careless message that quotes the user's text and id: stored with the
            # dead letter, never logged.
            raise RuntimeError(f"cannot answer {entry.event['message']['text']} of {USER}")
        done.append(seq_of(entry.event))

    send(redis_client, keys, USER, [1, 2, 3])
    w = worker(redis_client, keys, handler, clock=clock, max_attempts=3)
    drain(w, clock)
    assert done == [2, 3]
    partition = partition_for(message_event(USER, 1), P)
    dead = keys.partition_dead_letters(partition)
    ((_, fields),) = redis_client.xrange(dead)
    record = {k.decode(): v.decode() for k, v in fields.items()}
    assert record["reason"] == f"RuntimeError: cannot answer {TEXT_PREFIX} 1 of {USER}"
    assert record["attempts"] == "3"
    assert json.loads(record["event"]) == message_event(USER, 1)
    assert record["event_id"] == webhook_event_id(USER, 1)
    assert record["partition"] == str(partition)
    assert 0 < redis_client.pttl(dead) <= 14 * 24 * 3600 * 1000
    assert redis_client.xlen(keys.partition_events(partition)) == 0
    assert pending(redis_client, keys, partition) == 0
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "dead-letter" in logged and "RuntimeError" in logged
    assert USER not in logged and TEXT_PREFIX not in logged


def test_transient_failures_are_retried_in_order_without_end_and_never_dead_lettered(
    redis_client, keys, clock
) -> None:
    calls: list[tuple[int, int]] = []
    from bot.storage.base import StorageError

    def wrapped(cause: Exception) -> StorageError:
        try:
            raise StorageError("Redis SET failed") from cause
        except StorageError as exc:
            return exc

    # A Redis outage and a failover as the handler sees them, raw or through the session
    # storage (which wraps what Redis raised).
    outage = [RetryLater("LINE API down"), redis.ConnectionError("Redis down"),
              PipelineUnavailable("Redis down"), redis.TimeoutError("slow"), RetryLater("429"),
              wrapped(redis.ConnectionError("the master went away")),
              redis.exceptions.ReadOnlyError("You can't write against a read only replica."),
              wrapped(redis.exceptions.ClusterDownError("CLUSTERDOWN"))]

    def handler(entry: Entry) -> None:
        calls.append((seq_of(entry.event), entry.attempt))
        if seq_of(entry.event) == 1 and outage:
            raise outage.pop(0)

    send(redis_client, keys, USER, [1, 2])
    w = worker(redis_client, keys, handler, clock=clock, max_attempts=2, backoff_cap_ms=4_000)
    drain(w, clock)
    # Eight failures with max_attempts=2, yet handled: attempt still tells the truth.
    assert calls == [(1, n) for n in range(1, 10)] + [(2, 1)]
    partition = partition_for(message_event(USER, 1), P)
    assert not redis_client.exists(keys.partition_dead_letters(partition))
    assert not redis_client.exists(keys.partition_attempts(partition))


def test_an_event_whose_attempts_never_finished_is_dead_lettered_without_a_new_try(
    redis_client, keys
) -> None:
    # A poison event that kills the whole process each time: the attempt count lives in
    # Redis, so it ends in the dead letters instead of looping across restarts.
    send(redis_client, keys, USER, [1, 2])
    partition = partition_for(message_event(USER, 1), P)
    (first_id, _), _ = redis_client.xrange(keys.partition_events(partition))
    redis_client.hset(keys.partition_attempts(partition), first_id, 3)
    seen: list[int] = []
    w = worker(redis_client, keys, lambda e: seen.append(seq_of(e.event)), max_attempts=3)
    drain(w)
    assert seen == [2]
    ((_, fields),) = redis_client.xrange(keys.partition_dead_letters(partition))
    assert b"none finished" in fields[b"reason"]


def test_an_undecodable_entry_is_dead_lettered_at_once(redis_client, keys) -> None:
    stream = keys.partition_events(0)
    redis_client.xadd(stream, {"event": "{not json", "event_id": "x", "received_ms": "1"})
    calls: list[Entry] = []
    drain(worker(redis_client, keys, calls.append))
    assert calls == []
    ((_, fields),) = redis_client.xrange(keys.partition_dead_letters(0))
    assert fields[b"reason"].startswith(b"undecodable entry (JSONDecodeError)")


def test_the_stream_deleted_under_a_worker_is_recreated_and_read_from_the_start(
    redis_client, keys
) -> None:
    seen: list[int] = []
    w = worker(redis_client, keys, lambda e: seen.append(seq_of(e.event)))
    w.run_once()  # holds every partition, groups created
    partition = partition_for(message_event(USER, 1), P)
    redis_client.delete(keys.partition_events(partition))  # FLUSHDB, a restore, an operator
    send(redis_client, keys, USER, [1, 2])  # XADD recreates the stream, without a group
    drain(w)
    assert seen == [1, 2]


# --- several workers ----------------------------------------------------------------


def test_two_workers_200_users_10_events_each_in_order_none_missing_none_doubled(
    redis_client, keys, threads
) -> None:
    handled: dict[str, list[int]] = defaultdict(list)
    by_worker: dict[str, int] = defaultdict(int)
    lock = threading.Lock()

    def make_handler(name: str):
        def handler(entry: Entry) -> None:
            time.sleep(random.random() / 2000)
            with lock:
                handled[entry.event["source"]["userId"]].append(seq_of(entry.event))
                by_worker[name] += 1
        return handler

    w1 = worker(redis_client, keys, make_handler("w1"), lease_ms=1_500, block_ms=300)
    w2 = worker(redis_client, keys, make_handler("w2"), lease_ms=1_500, block_ms=300)
    start(threads, w1)
    start(threads, w2)
    wait_for(lambda: len(w1.partitions_held) == 8 and len(w2.partitions_held) == 8, 10,
             "the partitions to be shared 8/8")

    users = [user_id(i) for i in range(200)]

    def producer(mine: list[str]) -> None:
        # Like concurrent webhook requests: bodies of 5 users' events; each user's
        # events are sent in order, one body after the other.
        for seq in range(1, 11):
            for k in range(0, len(mine), 5):
                enqueue(redis_client, keys, [message_event(u, seq) for u in mine[k:k + 5]],
                        partitions=P)

    producers = [threading.Thread(target=producer, args=(users[i::4],)) for i in range(4)]
    for thread in producers:
        thread.start()
    for thread in producers:
        thread.join()
    wait_for(lambda: sum(by_worker.values()) >= 2000, 30, "2000 events to be handled")
    # Every entry acknowledged: none left to handle again, so anything doubled shows up now.
    wait_for(lambda: backlog(redis_client, keys) == 0, 10, "every entry to be acknowledged")
    assert sum(by_worker.values()) == 2000
    for user in users:
        assert handled[user] == list(range(1, 11)), user
    assert by_worker["w1"] > 0 and by_worker["w2"] > 0


def test_a_worker_joining_under_load_takes_half_without_breaking_order(
    redis_client, keys, threads
) -> None:
    handled: dict[str, list[int]] = defaultdict(list)
    by_worker: dict[str, int] = defaultdict(int)
    lock = threading.Lock()

    def make_handler(name: str):
        def handler(entry: Entry) -> None:
            time.sleep(0.02)
            with lock:
                handled[entry.event["source"]["userId"]].append(seq_of(entry.event))
                by_worker[name] += 1
        return handler

    users = [user_id(i) for i in range(100)]
    for seq in range(1, 11):
        enqueue(redis_client, keys, [message_event(u, seq) for u in users], partitions=P)
    w1 = worker(redis_client, keys, make_handler("w1"), lease_ms=600, block_ms=250)
    start(threads, w1)
    wait_for(lambda: by_worker["w1"] >= 100, 10, "the first worker to be busy")
    w2 = worker(redis_client, keys, make_handler("w2"), lease_ms=600, block_ms=250)
    start(threads, w2)
    wait_for(lambda: sum(by_worker.values()) >= 1000, 30, "1000 events to be handled")
    wait_for(lambda: backlog(redis_client, keys) == 0, 10, "every entry to be acknowledged")
    assert sum(by_worker.values()) == 1000
    for user in users:
        assert handled[user] == list(range(1, 11)), user
    assert by_worker["w2"] > 0, "the second worker never got a partition"


def test_partitions_are_shared_fairly_and_taken_back_when_a_worker_leaves(redis_client, keys) -> None:
    w1 = worker(redis_client, keys, lambda e: None)
    w2 = worker(redis_client, keys, lambda e: None)
    w1.run_once()
    assert len(w1.partitions_held) == 16
    w2.run_once()
    assert w2.partitions_held == []  # its share (8) is still leased to w1
    w1.run_once()
    assert len(w1.partitions_held) == 8  # w1 hands back the extra ones
    w2.run_once()
    assert len(w2.partitions_held) == 8
    assert set(w1.partitions_held).isdisjoint(w2.partitions_held)
    w2.stop()  # clean stop: leases released, heartbeat removed
    w1.run_once()
    assert len(w1.partitions_held) == 16


def test_entries_of_a_dead_consumer_are_taken_over_after_its_lease_expires(redis_client, keys) -> None:
    send(redis_client, keys, USER, range(1, 11))
    partition = partition_for(message_event(USER, 1), P)
    stream = keys.partition_events(partition)
    # A worker that took the lease, read five entries, started the handler on the
    # first one and died (SIGKILL): nothing acknowledged.
    redis_client.set(keys.partition_lease(partition), "dead-worker.0000", px=400)
    ensure_group(redis_client, stream)
    read = redis_client.xreadgroup(GROUP, "dead-worker.0000", {stream: ">"}, count=5)
    first_id = read[0][1][0][0]
    redis_client.hset(keys.partition_attempts(partition), first_id, 1)

    seen: list[Entry] = []
    w = worker(redis_client, keys, seen.append)
    w.run_once()
    assert partition not in w.partitions_held and seen == []  # still leased to the dead one
    wait_for(lambda: not redis_client.exists(keys.partition_lease(partition)), 5,
             "the dead worker's lease to expire")
    drain(w)
    assert [seq_of(e.event) for e in seen] == list(range(1, 11))
    assert seen[0].attempt == 2  # the handler may have run before for this event
    assert all(e.attempt == 1 for e in seen[1:])
    assert pending(redis_client, keys, partition) == 0
    consumers = {c["name"].decode() for c in redis_client.xinfo_consumers(stream, GROUP)}
    assert consumers == {w.name}, "the dead worker's consumer should be forgotten"


def test_with_a_claim_min_idle_time_nothing_newer_overtakes_the_entries_waiting_for_it(
    redis_client, keys
) -> None:
    send(redis_client, keys, USER, range(1, 6))
    partition = partition_for(message_event(USER, 1), P)
    stream = keys.partition_events(partition)
    ensure_group(redis_client, stream)
    redis_client.xreadgroup(GROUP, "displaced.0000", {stream: ">"}, count=2)  # 1 and 2
    send(redis_client, keys, USER, [6])
    seen: list[int] = []
    w = worker(redis_client, keys, lambda e: seen.append(seq_of(e.event)), claim_min_idle_ms=400)
    w.run_once()
    assert partition in w.partitions_held
    assert seen == [], "3..6 must not be handled before 1 and 2"
    wait_for(lambda: all(p["time_since_delivered"] >= 400
                         for p in redis_client.xpending_range(stream, GROUP, "-", "+", 10)), 5,
             "the displaced consumer's entries to be idle for the claim min-idle time")
    drain(w)
    assert seen == [1, 2, 3, 4, 5, 6]


def test_a_lost_lease_fences_the_acknowledgement_and_stops_the_partition(redis_client, keys) -> None:
    partition = partition_for(message_event(USER, 1), P)
    lease = keys.partition_lease(partition)
    calls: list[tuple[int, int]] = []

    def handler(entry: Entry) -> None:
        calls.append((seq_of(entry.event), entry.attempt))
        if len(calls) == 1:
            redis_client.set(lease, "intruder.0000", px=60_000)  # displaced mid-handler

    send(redis_client, keys, USER, [1, 2, 3])
    w = worker(redis_client, keys, handler)
    assert w.run_once() == 0
    assert calls == [(1, 1)], "after losing the lease, no further entry may be started"
    assert partition not in w.partitions_held
    assert pending(redis_client, keys, partition) == 3  # not acknowledged: still to do
    w.run_once()
    assert calls == [(1, 1)]  # the intruder holds the partition
    redis_client.delete(lease)  # ... and dies
    drain(w)
    # Handled again, with attempt 2: this is why the handler must be idempotent.
    assert calls == [(1, 1), (1, 2), (2, 1), (3, 1)]
    assert pending(redis_client, keys, partition) == 0


def test_a_displaced_worker_takes_no_new_entries(redis_client, keys, threads) -> None:
    seen: list[int] = []
    w = worker(redis_client, keys, lambda e: seen.append(seq_of(e.event)), lease_ms=3_000,
               block_ms=300)
    start(threads, w)
    partition = partition_for(message_event(USER, 1), P)
    wait_for(lambda: partition in w.partitions_held, 5, "the worker to hold the partition")
    redis_client.set(keys.partition_lease(partition), "intruder.0000", px=60_000)
    send(redis_client, keys, USER, [1])  # wakes the worker's blocking read
    # It finds the lease gone and drops the partition; after that it cannot read it.
    wait_for(lambda: partition not in w.partitions_held, 5, "the worker to drop the partition")
    assert seen == []
    assert pending(redis_client, keys, partition) == 0  # not even read into its PEL
    assert partition not in w.partitions_held


# --- blocking reads and lifecycle -------------------------------------------------------


def test_blocking_longer_than_the_socket_timeout_is_refused(redis_server_url, keys) -> None:
    # What the guard prevents: redis-py does not stretch its socket timeout for XREAD BLOCK.
    raw = redis.Redis.from_url(redis_server_url, socket_timeout=0.3, retry=Retry(NoBackoff(), 0))
    raw.xgroup_create("guard-demo", "g", id="0", mkstream=True)
    with pytest.raises(redis.TimeoutError):
        raw.xread({"guard-demo": "$"}, block=600)
    with pytest.raises(ValueError, match="socket timeout"):
        worker(raw, keys, lambda e: None, block_ms=600)
    client = make_redis_client(redis_server_url)  # 2 s socket timeout
    with pytest.raises(ValueError, match="socket timeout"):
        worker(client, keys, lambda e: None, lease_ms=5_000, block_ms=1_600)
    raw.delete("guard-demo")
    raw.close()
    client.close()


@pytest.mark.slow  # blocks for 2.6 s on purpose
def test_a_worker_blocking_on_empty_streams_outlives_the_socket_timeout(
    redis_server_url, redis_client, keys, threads, caplog
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.pipeline")
    client = make_redis_client(redis_server_url)  # 2 s socket timeout, retries
    seen: list[int] = []
    w = worker(client, keys, lambda e: seen.append(seq_of(e.event)), lease_ms=3_000, block_ms=1_400)
    start(threads, w)
    wait_for(lambda: len(w.partitions_held) == P, 5, "the worker to hold every partition")
    time.sleep(2.6)  # two blocking reads of 1.4 s each on every partition, > 2 s socket timeout
    assert [r.getMessage() for r in caplog.records] == []
    assert len(w.partitions_held) == P
    send(redis_client, keys, USER, [1])
    wait_for(lambda: seen == [1], 2, "the event to be handled")


def test_a_clean_stop_hands_every_lease_back(redis_client, keys, threads) -> None:
    w = worker(redis_client, keys, lambda e: None, lease_ms=1_500, block_ms=300)
    stop = start(threads, w)
    wait_for(lambda: len(w.partitions_held) == P, 5, "the worker to hold every partition")
    assert redis_client.zscore(keys.pipeline_workers(), w.name) is not None
    stop.set()
    threads[0][0].join(5)
    assert not threads[0][0].is_alive()
    assert all(not redis_client.exists(keys.partition_lease(p)) for p in range(P))
    assert redis_client.zscore(keys.pipeline_workers(), w.name) is None


# --- handing partitions over (a deploy: workers joining and leaving) ------------------
# The lease here is 10 s, so a round of the coordinator is 3.3 s: a handover that
# waited for the next round, or for a lease to lapse, could not pass these.

HANDOVER_LIMIT_S = 1.0


def test_a_joining_worker_gets_its_share_at_once_not_at_the_next_round(redis_client, keys, threads) -> None:
    w1 = worker(redis_client, keys, lambda e: None, lease_ms=10_000, block_ms=300)
    start(threads, w1)
    wait_for(lambda: len(w1.partitions_held) == P, 5, "the first worker to hold every partition")
    w2 = worker(redis_client, keys, lambda e: None, lease_ms=10_000, block_ms=300)
    joined = time.monotonic()
    start(threads, w2)
    wait_for(lambda: len(w2.partitions_held) == P // 2, HANDOVER_LIMIT_S, "the newcomer's share")
    assert time.monotonic() - joined < HANDOVER_LIMIT_S
    assert sorted(w1.partitions_held + w2.partitions_held) == list(range(P))


def test_a_leaving_worker_hands_its_partitions_over_at_once(redis_client, keys, threads) -> None:
    handled: list[int] = []
    w1 = worker(redis_client, keys, lambda e: handled.append(seq_of(e.event)), lease_ms=10_000, block_ms=300)
    w2 = worker(redis_client, keys, lambda e: None, lease_ms=10_000, block_ms=300)
    start(threads, w1)
    wait_for(lambda: len(w1.partitions_held) == P, 5, "the first worker to hold every partition")
    stop2 = start(threads, w2)
    wait_for(lambda: len(w2.partitions_held) == P // 2, 5, "the partitions to be shared")
    mine = w2.partitions_held
    left = time.monotonic()
    stop2.set()
    wait_for(lambda: len(w1.partitions_held) == P, HANDOVER_LIMIT_S, "the stayer to take every partition")
    assert time.monotonic() - left < HANDOVER_LIMIT_S
    # And it works them: an event of a user on a partition the leaver had is answered.
    user = next(user_id(i) for i in range(1000) if partition_for(message_event(user_id(i), 1), P) in mine)
    send(redis_client, keys, user, [1])
    wait_for(lambda: handled == [1], HANDOVER_LIMIT_S, "the event to be handled")


def test_pipeline_keys_carry_ttls(redis_client, keys, clock) -> None:
    def handler(entry: Entry) -> None:
        raise RuntimeError("always")

    send(redis_client, keys, USER, [1])
    partition = partition_for(message_event(USER, 1), P)
    w = worker(redis_client, keys, handler, clock=clock, max_attempts=2)
    w.run_once()
    assert 0 < redis_client.pttl(keys.partition_lease(partition)) <= 2_000
    assert 0 < redis_client.pttl(keys.pipeline_workers()) <= 4_000
    assert 0 < redis_client.pttl(keys.partition_attempts(partition)) <= 7 * 24 * 3600 * 1000
    clock.advance(10)
    w.run_once()
    assert 0 < redis_client.pttl(keys.partition_dead_letters(partition))
    assert not redis_client.exists(keys.partition_attempts(partition))  # last field removed


# --- the newcomer's embedded store ----------------------------------------------------


def test_the_same_pipeline_runs_on_fakeredis_the_embedded_store(keys, threads) -> None:
    # With REDIS_URL unset the bot runs on fakeredis (with Lua): its replies differ from
    # Redis' in places (XREADGROUP inside a script), which the scripts must absorb.
    try:
        import fakeredis
        import lupa  # noqa: F401  (fakeredis runs Lua through it)
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"fakeredis[lua] is a test dependency: {exc}")
        pytest.skip(f"fakeredis[lua] is not installed: {exc}")
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    users = [user_id(i) for i in range(10)]
    for seq in range(1, 4):
        enqueue(client, keys, [message_event(u, seq) for u in users], partitions=P)
    enqueue(client, keys, [message_event(users[0], 1)], partitions=P)  # a redelivery
    handled: dict[str, list[int]] = defaultdict(list)

    def handler(entry: Entry) -> None:
        handled[entry.event["source"]["userId"]].append(seq_of(entry.event))

    w = worker(client, keys, handler, lease_ms=1_500, block_ms=200)
    drain(w)
    start(threads, w)  # now blocking reads, woken by new entries
    for seq in range(4, 6):
        enqueue(client, keys, [message_event(u, seq) for u in users], partitions=P)
    wait_for(lambda: sum(map(len, handled.values())) == 50, 5, "50 events on fakeredis")
    assert all(handled[u] == [1, 2, 3, 4, 5] for u in users)
