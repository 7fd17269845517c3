"""Races against a real redis-server, and a Redis Cluster: many counsellors (or events)
at one instant.

Each thread has its own connection and its own HandoffQueue, as separate web workers
would, and a threading.Barrier releases them together so the scripts really arrive at
Redis at the same moment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from bot.handoff import HandoffQueue
from bot.storage.keys import KeyBuilder

from tests.redis_server import on_one_and_cluster

from .conftest import SECRET

pytestmark = [pytest.mark.redis, on_one_and_cluster]

THREADS = 8
ROUNDS = 200
TIMEOUT = 10.0


class Racers:
    """THREADS threads, each with its own connection, running ``action(queue, i, arg)``
    together once per call of run(arg)."""

    def __init__(self, connect: Callable[[], Any], action: Callable[[HandoffQueue, int, Any], Any]) -> None:
        self.action = action
        self.start = threading.Barrier(THREADS + 1, timeout=TIMEOUT)
        self.done = threading.Barrier(THREADS + 1, timeout=TIMEOUT)
        self.arg: Any = None
        self.stop = False
        self.results: list[Any] = [None] * THREADS
        self.clients = [connect() for _ in range(THREADS)]
        keys = KeyBuilder(secret=SECRET)
        self.threads = [
            threading.Thread(target=self._loop, args=(i, HandoffQueue(c, keys)), daemon=True)
            for i, c in enumerate(self.clients)
        ]
        for t in self.threads:
            t.start()

    def _loop(self, i: int, queue: HandoffQueue) -> None:
        while True:
            self.start.wait()
            if self.stop:
                return
            try:
                self.results[i] = self.action(queue, i, self.arg)
            except Exception as exc:  # reported by run(), never swallowed
                self.results[i] = exc
            self.done.wait()

    def run(self, arg: Any) -> list[Any]:
        self.arg = arg
        self.results = [None] * THREADS
        self.start.wait()
        self.done.wait()
        for result in self.results:
            if isinstance(result, Exception):
                raise result
        return list(self.results)

    def close(self) -> None:
        self.stop = True
        self.start.wait()
        for t in self.threads:
            t.join(TIMEOUT)
        for c in self.clients:
            c.close()


def open_for(queue: HandoffQueue, user: str, severity: str | None = "high"):
    return queue.open(user, role="child", level=None, lang="ja", category="threat", urgent=True,
                      severity=severity, reasons=["threat.kill"])


def test_eight_concurrent_claims_have_exactly_one_winner_200_times(redis_connect, redis_client) -> None:
    queue = HandoffQueue(redis_client, KeyBuilder(secret=SECRET))
    racers = Racers(redis_connect, lambda q, i, hid: q.claim(hid, f"counsellor-{i}"))
    try:
        for n in range(ROUNDS):
            hid = open_for(queue, f"U{n:032x}").id
            results = racers.run(hid)
            winners = [r for r in results if r.ok]
            assert len(winners) == 1, f"round {n}: {len(winners)} winners"
            holder = winners[0].holder
            losers = [r for r in results if not r.ok]
            assert len(losers) == THREADS - 1
            assert all(r.reason == "taken" and r.holder == holder for r in losers), f"round {n}"
            got = queue.get(hid)
            assert (got.status, got.claimed_by) == ("claimed", holder)
            assert [e["event"] for e in queue.transcript(hid)] == ["claimed"]
    finally:
        racers.close()
    assert len(queue.list("claimed", limit=ROUNDS)) == ROUNDS
    assert queue.list("waiting") == []


def test_concurrent_opens_for_one_user_make_one_handoff(redis_connect, redis_client) -> None:
    queue = HandoffQueue(redis_client, KeyBuilder(secret=SECRET))
    severities = [None, "medium", "high", "critical"]
    racers = Racers(redis_connect, lambda q, i, user: open_for(q, user, severities[i % 4]).id)
    try:
        for n in range(50):
            user = f"U{n:032x}"
            ids = racers.run(user)
            assert len(set(ids)) == 1, f"round {n}: {len(set(ids))} handoffs for one user"
            # Whatever the order, the merge ends at the highest severity.
            assert queue.active_for(user).severity == "critical"
    finally:
        racers.close()
    assert len(queue.list("waiting", limit=100)) == 50


def test_racing_closes_and_requeues_leave_one_consistent_state(redis_connect, redis_client) -> None:
    # A supervisor forcing a requeue while the holder closes: one of them wins and the
    # handoff is in exactly one index, never both.
    queue = HandoffQueue(redis_client, KeyBuilder(secret=SECRET))
    keys = KeyBuilder(secret=SECRET)

    def act(q: HandoffQueue, i: int, hid: str):
        if i % 2:
            return q.close(hid, "holder", {"n": i})
        return q.requeue(hid, "supervisor", force=True)

    racers = Racers(redis_connect, act)
    try:
        for n in range(50):
            hid = open_for(queue, f"U{n:032x}").id
            queue.claim(hid, "holder")
            racers.run(hid)
            status = queue.get(hid).status
            in_waiting = redis_client.zscore(keys.handoff_waiting(), hid) is not None
            in_claimed = redis_client.zscore(keys.handoff_claimed(), hid) is not None
            in_closed = redis_client.zscore(keys.handoff_closed(), hid) is not None
            # Either the requeue won (the closes were refused: not the holder any more)
            # or a close did (the rest were refused: closed).
            assert (in_waiting, in_claimed, in_closed) == (status == "waiting", False, status == "closed")
    finally:
        racers.close()
