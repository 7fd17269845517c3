"""python -m benchmarks.failover: the Redis master killed halfway through a load; is anything lost?

    python -m benchmarks.failover                        # Sentinel, 1,000 events from 100 users
    python -m benchmarks.failover --topology cluster     # a master of the 3 x 2 cluster
    python -m benchmarks.failover --events 200 --users 20 --out /tmp/f.md

The Procfile's processes (gunicorn with 2 processes, 2 workers, the clock) run on
the topology's Redis (benchmarks.topology) with ``REDIS_MIN_REPLICAS=1``. Signed
webhooks of one event each go out at a fixed rate, each user's events in the
order of benchmarks.load's script; once half were sent, the master gets SIGKILL.
The generator acts as LINE does: a request answered other than 200 (503, a
connection error, no answer within ``TIMEOUT_S``) is delivered again, the same
event with ``deliveryContext.isRedelivery: true``, after a backoff, until it gets
200. Then it waits until the bot is done (every acknowledged event answered, the
queue empty on the current master) and checks what the fake LINE API accepted:

* every event that got a 200 is answered exactly once (each chunk of its answer
  once: a reply by its reply token, a push by its ``X-Line-Retry-Key``, derived
  from the event's id: a redelivered event whose reply token went stale is
  pushed, and still counts as that event's answer, never as a new one);
* each user's answers come in the order their events were stored: when event a
  got its 200 before b was first sent, a must be answered first. Two events of
  one user whose deliveries overlapped (a not yet acknowledged when b went out:
  being redelivered, or waiting in the web tier) may be stored either way, as
  the bot cannot know the user's order; those are counted, not failed;
* every event refused (not 200) is delivered again until acknowledged, and
  answered once; nothing is answered that was not sent (an unknown token or
  key, a push to another user); no reply uses a token older than LINE's 60 s
  (the fake accepts it, LINE would not).

It measures the time without service on the events of the partitions whose
queue the killed master held (all of them on Sentinel; on the cluster about a
third, the other masters never stopped): from the kill to the first 200 for a
request sent after it, the longest stretch with no 200, and the longest any one
event waited for its 200; and the 503s and errors, the redeliveries. The
figures are printed and written into a section of ``--out`` (one per
topology), with the date, the commit and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import aiohttp
import redis
from redis.crc import key_slot

from benchmarks.load import SCRIPT, percentile, reply_token, seq_of, sign, webhook_bodies
from benchmarks.stack import CHANNEL_SECRET, ID_SECRET, ROOT, BenchmarkError, Stack, stack
from benchmarks.topology import (
    CLUSTER_NODE_TIMEOUT_MS,
    DOWN_AFTER_MS,
    FAILOVER_TIMEOUT_MS,
    LATENCY_THRESHOLD_MS,
    Cluster,
    Killed,
)
from bot.line.sender import REPLY_TOKEN_TTL, retry_key
from bot.pipeline.enqueue import DEFAULT_PARTITIONS, partition_for
from bot.storage.keys import KeyBuilder

RUN = "F"
WEB_PROCESSES = 2
WORKERS = 2
DEFAULT_RATE = 50.0
#: How long the generator waits for the webhook's answer before it counts as none.
TIMEOUT_S = 5.0
#: LINE's schedule is its own; this one retries soon, then every 2 s.
BACKOFF_S = (0.25, 0.5, 1.0, 2.0)
#: An event not acknowledged this long after its first try is given up (a failure).
GIVE_UP_S = 120.0
#: After everything is answered, how long to keep listening for a late duplicate.
SETTLE_S = 2.0
#: Answer chunks (5 messages each) whose retry keys are recognised per event.
MAX_CHUNKS = 10


# --- sending, as LINE does ------------------------------------------------------------


@dataclass
class Attempt:
    sent_ns: int
    done_ns: int
    status: int | None  # None: no answer
    error: str | None = None  # "timeout" | "connection"


@dataclass
class Sent:
    """One event and every request that carried it."""

    seq: int
    user: str
    event_id: str
    timestamp_ms: int
    partition: int = 0
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def ok_ns(self) -> int | None:
        """When the first 200 for it came back."""
        return next((a.done_ns for a in self.attempts if a.status == 200), None)

    @property
    def first_sent_ns(self) -> int:
        return self.attempts[0].sent_ns


def redelivery(body: bytes, secret: str = CHANNEL_SECRET) -> tuple[bytes, dict[str, str]]:
    """The same events as LINE delivers them again: the same ids, reply tokens and
    timestamps, ``deliveryContext.isRedelivery`` true, signed again."""
    payload = json.loads(body)
    for event in payload["events"]:
        event["deliveryContext"] = {"isRedelivery": True}
    again = json.dumps(payload, ensure_ascii=False).encode()
    return again, {"Content-Type": "application/json", "X-Line-Signature": sign(again, secret)}


async def _send_all(url: str, bodies: list[tuple[bytes, dict[str, str]]], sent: list[Sent], rate: float,
                    on_half: Callable[[], Any], redeliver: bool) -> Any:
    """Every body at ``rate``, open loop, each redelivered until 200 (unless
    ``redeliver`` is False); ``on_half`` runs in a thread once half were sent.
    Returns what ``on_half`` returned."""
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    half = asyncio.Event()
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as session:
        clock = time.perf_counter
        start = clock() + 0.1

        async def one(i: int) -> None:
            delay = start + i / rate - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            body, headers = bodies[i]
            record = sent[i]
            give_up = time.monotonic() + GIVE_UP_S
            tries = 0
            while True:
                if i == len(bodies) // 2 and tries == 0:
                    half.set()
                sent_ns = time.time_ns()
                status = error = None
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        status = response.status
                except asyncio.TimeoutError:
                    error = "timeout"
                except (aiohttp.ClientError, OSError):
                    error = "connection"
                record.attempts.append(Attempt(sent_ns, time.time_ns(), status, error))
                if status == 200 or not redeliver or time.monotonic() > give_up:
                    return
                await asyncio.sleep(BACKOFF_S[min(tries, len(BACKOFF_S) - 1)])
                if tries == 0:
                    body, headers = redelivery(body)
                tries += 1

        async def kill() -> Any:
            await half.wait()
            return await asyncio.to_thread(on_half)

        killer = asyncio.create_task(kill())
        await asyncio.gather(*(one(i) for i in range(len(bodies))))
        return await killer


def _events_of(bodies: list[tuple[bytes, dict[str, str]]], run: str) -> list[Sent]:
    out = []
    for body, _ in bodies:
        [event] = json.loads(body)["events"]
        out.append(Sent(seq_of(event["replyToken"], run), event["source"]["userId"], event["webhookEventId"],
                        event["timestamp"], partition_for(event, DEFAULT_PARTITIONS)))
    return out


# --- what the fake LINE API accepted, attributed to events -----------------------------


@dataclass
class Answer:
    """One call LINE accepted: a reply (``key`` its token) or a push (``key`` its retry key)."""

    kind: str
    key: str
    to: str
    arrived_ns: int
    messages: int

    @classmethod
    def of(cls, row: list[Any]) -> "Answer":
        return cls(str(row[0]), str(row[1]), str(row[2]), int(row[3]), int(row[4]))


@dataclass
class Verdict:
    acknowledged: int = 0
    never_acknowledged: list[int] = field(default_factory=list)
    answered_once: int = 0
    unanswered: list[int] = field(default_factory=list)
    #: Events a chunk of whose answer LINE accepted more than once (a double answer).
    doubled: list[int] = field(default_factory=list)
    #: Events whose answer's chunks came incomplete or out of order, or interleaved with another's.
    broken: list[int] = field(default_factory=list)
    unattributed: list[str] = field(default_factory=list)
    #: (user, earlier seq, later seq): stored in this order, answered the other way.
    out_of_order: list[tuple[str, int, int]] = field(default_factory=list)
    ordered_pairs: int = 0
    #: Pairs whose deliveries overlapped (the earlier not acknowledged yet when the later
    #: was sent), and those of them answered against the user's sending order: either
    #: store order is possible, as with LINE. Counted, not failed; apart, the swaps
    #: where neither event was delivered twice (two requests of one user at once).
    raced_pairs: int = 0
    raced_swapped: int = 0
    raced_swapped_first_try: int = 0
    #: Events some request for which was answered other than 200 (or not at all), and
    #: those of them acknowledged in the end and answered exactly once.
    refused: int = 0
    refused_answered_once: int = 0
    expired_replies: list[int] = field(default_factory=list)
    replies: int = 0
    pushes: int = 0

    @property
    def ok(self) -> bool:
        return not (self.never_acknowledged or self.unanswered or self.doubled or self.broken
                    or self.unattributed or self.out_of_order or self.expired_replies
                    or self.refused_answered_once != self.refused)

    def failures(self) -> list[str]:
        out = []
        for name in ("never_acknowledged", "unanswered", "doubled", "broken", "unattributed", "out_of_order",
                     "expired_replies"):
            value = getattr(self, name)
            if value:
                out.append(f"{name.replace('_', ' ')}: {len(value)} (first {value[:5]})")
        if self.refused_answered_once != self.refused:
            out.append(f"refused events not acknowledged and answered once in the end: "
                       f"{self.refused - self.refused_answered_once} of {self.refused}")
        return out


def verify(sent: list[Sent], answers: list[Answer], run: str = RUN) -> Verdict:
    """The guarantees, from the events sent and what LINE accepted, in arrival order."""
    by_seq = {s.seq: s for s in sent}
    by_key = {retry_key(s.event_id, chunk): (s.seq, chunk) for s in sent for chunk in range(MAX_CHUNKS)}
    v = Verdict()
    # seq -> chunk -> accepted count; user -> [(seq, chunk)] in arrival order
    chunks: dict[int, Counter] = defaultdict(Counter)
    timeline: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for answer in answers:
        if answer.kind == "reply":
            seq, chunk = seq_of(answer.key, run), 0
            v.replies += 1
        else:
            seq, chunk = by_key.get(answer.key, (None, 0))
            v.pushes += 1
        event = by_seq.get(seq) if seq is not None else None
        if event is None or (answer.kind == "push" and answer.to != event.user):
            v.unattributed.append(f"{answer.kind} {answer.key[:40]}")
            continue
        if answer.kind == "reply" and (answer.arrived_ns / 1e9 - event.timestamp_ms / 1000) >= REPLY_TOKEN_TTL:
            v.expired_replies.append(seq)
        chunks[seq][chunk] += 1
        timeline[event.user].append((seq, chunk))

    for s in sent:
        if s.ok_ns is None:
            v.never_acknowledged.append(s.seq)
        else:
            v.acknowledged += 1
        got = chunks.get(s.seq, Counter())
        once = bool(got) and got[0] == 1 and all(n == 1 for n in got.values())
        if any(n > 1 for n in got.values()):
            v.doubled.append(s.seq)
        elif s.ok_ns is not None and got[0] == 0:
            v.unanswered.append(s.seq)
        if got and sorted(got) != list(range(len(got))):
            v.broken.append(s.seq)
        if once and s.ok_ns is not None:
            v.answered_once += 1
        if any(a.status != 200 for a in s.attempts):
            v.refused += 1
            v.refused_answered_once += once and s.ok_ns is not None

    for user, line in timeline.items():
        # An answer's chunks follow each other, first to last, with nothing between them.
        position: dict[int, int] = {}
        previous: tuple[int, int] | None = None
        for index, (seq, chunk) in enumerate(line):
            if seq not in position:
                position[seq] = index
                if chunk != 0:
                    v.broken.append(seq)
            elif previous is None or previous != (seq, chunk - 1):
                if seq not in v.doubled:
                    v.broken.append(seq)
            previous = (seq, chunk)
        mine = sorted((s for s in sent if s.user == user and s.seq in position), key=lambda s: s.seq)
        for i, a in enumerate(mine):
            for b in mine[i + 1:]:
                if a.ok_ns is not None and a.ok_ns < b.first_sent_ns:
                    v.ordered_pairs += 1
                    if position[a.seq] > position[b.seq]:
                        v.out_of_order.append((user, a.seq, b.seq))
                else:
                    v.raced_pairs += 1
                    if position[a.seq] > position[b.seq]:
                        v.raced_swapped += 1
                        v.raced_swapped_first_try += len(a.attempts) == len(b.attempts) == 1
    v.broken = sorted(set(v.broken))
    return v


# --- the time without service ---------------------------------------------------------


@dataclass
class Service:
    """Figures of the run. The time without service is read on the events of the
    partitions the killed master held (all of them, but on a cluster a third):
    the others never lost it."""

    kill_at_s: float  # after the first request
    promoted_s: float | None  # after the kill: Redis' own failover
    partitions_hit: int  # partitions (of 16) whose streams were on the killed master
    first_ok_after_kill_s: float | None  # the first 200 for a request of theirs sent after the kill
    longest_without_200_s: float  # no 200 for any event of theirs
    longest_without_200_from_s: float  # where that stretch began, after the kill (negative: before)
    longest_wait_for_200_s: float  # one event, from its first send to its 200 (LINE retrying meanwhile)
    longest_without_answer_s: float  # no answer reaching LINE
    requests: int
    non_200: dict[str, int]
    redelivery_requests: int
    events_redelivered: int
    most_tries: int
    e2e_p50_ms: float
    e2e_p99_ms: float
    e2e_max_ms: float


def measure(sent: list[Sent], answers: list[Answer], killed: Killed | None, promoted_ns: int | None,
            hit: set[int] | None = None, run: str = RUN) -> Service:
    """``hit``: the partitions the killed master held (None: all)."""
    attempts = [a for s in sent for a in s.attempts]
    t0 = min(a.sent_ns for a in attempts)
    kill_ns = killed.at_ns if killed else t0
    theirs = [s for s in sent if hit is None or s.partition in hit]
    their_attempts = [a for s in theirs for a in s.attempts]
    oks = sorted(a.done_ns for a in their_attempts if a.status == 200)
    # Until the last event's first try: what comes after is only redeliveries draining.
    last_first = max(s.first_sent_ns for s in sent)
    points = [t0] + oks
    gaps = [(b - a, a) for a, b in zip(points, points[1:]) if a <= last_first]
    gap, gap_from = max(gaps) if gaps else (0, t0)
    after = [a.done_ns for a in their_attempts if a.status == 200 and a.sent_ns > kill_ns]
    waits = [s.ok_ns - s.first_sent_ns for s in sent if s.ok_ns is not None]
    non_200 = Counter(str(a.status) if a.status is not None else (a.error or "no answer")
                      for a in attempts if a.status != 200)
    arrivals = sorted(a.arrived_ns for a in answers)
    answer_gap = max((b - a for a, b in zip(arrivals, arrivals[1:])), default=0)
    first_answer: dict[int, int] = {}
    for answer in answers:
        seq = seq_of(answer.key, run) if answer.kind == "reply" else None
        if seq is not None:
            first_answer.setdefault(seq, answer.arrived_ns)
    by_key = {retry_key(s.event_id, 0): s.seq for s in sent}
    for answer in answers:
        if answer.kind == "push" and answer.key in by_key:
            first_answer.setdefault(by_key[answer.key], answer.arrived_ns)
    latencies = sorted((first_answer[s.seq] - s.first_sent_ns) / 1e6 for s in sent if s.seq in first_answer)
    return Service(
        kill_at_s=round((kill_ns - t0) / 1e9, 2),
        promoted_s=round((promoted_ns - kill_ns) / 1e9, 2) if promoted_ns else None,
        partitions_hit=DEFAULT_PARTITIONS if hit is None else len(hit),
        first_ok_after_kill_s=round((min(after) - kill_ns) / 1e9, 2) if after and killed else None,
        longest_without_200_s=round(gap / 1e9, 2),
        longest_without_200_from_s=round((gap_from - kill_ns) / 1e9, 2),
        longest_wait_for_200_s=round(max(waits, default=0) / 1e9, 2),
        longest_without_answer_s=round(answer_gap / 1e9, 2),
        requests=len(attempts),
        non_200=dict(sorted(non_200.items())),
        redelivery_requests=sum(len(s.attempts) - 1 for s in sent),
        events_redelivered=sum(1 for s in sent if len(s.attempts) > 1),
        most_tries=max(len(s.attempts) for s in sent),
        e2e_p50_ms=round(percentile(latencies, 50), 1),
        e2e_p99_ms=round(percentile(latencies, 99), 1),
        e2e_max_ms=round(latencies[-1], 1) if latencies else float("nan"),
    )


# --- the run ----------------------------------------------------------------------------


@dataclass
class Outcome:
    topology: str
    events: int
    users: int
    rate: float
    settings: str
    verdict: Verdict
    service: Service
    refused_replies: int
    refused_pushes: int
    killed: str
    redeliver: bool = True
    #: The worst stall of each kind the live Redis servers saw (LATENCY LATEST), in ms.
    redis_stalls: dict[str, int] = field(default_factory=dict)


def _backlog(s: Stack) -> int:
    assert s.topology is not None
    keys = KeyBuilder(secret=ID_SECRET.encode())
    client = s.topology.client()
    try:
        return sum(client.xlen(keys.partition_events(p)) for p in range(DEFAULT_PARTITIONS))
    finally:
        client.close()


def _answers(s: Stack, since: int) -> tuple[list[Answer], dict]:
    stats = s.line_stats(since=10**9, answers_since=since)
    if stats["unexpected_count"] or stats["unauthorised"]:
        raise BenchmarkError(f"the bot made calls the fake LINE API does not know: {stats['unexpected']}")
    return [Answer.of(row) for row in stats["answers"]], stats


def _wait_balanced(s: Stack, timeout: float = 60.0) -> None:
    """Every partition leased and shared fairly: the load starts in steady state."""
    assert s.topology is not None
    keys = KeyBuilder(secret=ID_SECRET.encode())
    share = -(-DEFAULT_PARTITIONS // WORKERS)
    deadline = time.monotonic() + timeout
    while True:
        client = s.topology.client()
        try:
            holders = [client.get(keys.partition_lease(p)) for p in range(DEFAULT_PARTITIONS)]
        finally:
            client.close()
        counts = Counter(h for h in holders if h is not None)
        if None not in holders and len(counts) == WORKERS and max(counts.values()) <= share:
            return
        if time.monotonic() > deadline:
            raise BenchmarkError(f"the workers did not share the partitions within {timeout:.0f} s: {counts}")
        s.check()
        time.sleep(0.2)


def run(workdir: Path, *, topology: str = "sentinel", events: int = 1000, users: int = 100,
        rate: float = DEFAULT_RATE, redeliver: bool = True, extra_env: dict[str, str] | None = None,
        catalog_cache: str | None = None, log: Callable[[str], None] = lambda line: None) -> Outcome:
    """One failover run; see the module's doc. ``redeliver`` False and ``extra_env``
    (e.g. REDIS_MIN_REPLICAS=0) are for showing that the checks fail when the
    guarantee does not hold; ``catalog_cache``: a BOT_CATALOG_CACHE already filled."""
    env = {**(extra_env or {}), **({"BOT_CATALOG_CACHE": catalog_cache} if catalog_cache else {})}
    with stack(workdir / f"failover-{topology}", web_processes=WEB_PROCESSES, workers=WORKERS,
               topology=topology, extra_env=env) as s:
        assert s.topology is not None
        log(f"{topology}: the Procfile's processes are up; warming up")
        warm = webhook_bodies("W", 2 * len(SCRIPT), 2, CHANNEL_SECRET, first_user=10**6)
        asyncio.run(_send_all(s.webhook_url, warm, _events_of(warm, "W"), 50.0, lambda: None, redeliver=True))
        deadline = time.monotonic() + 60
        while _answers(s, 0)[1]["answer_count"] < len(warm) or _backlog(s):
            if time.monotonic() > deadline:
                raise BenchmarkError("the warm-up events were not answered within 60 s")
            s.check()
            time.sleep(0.2)
        _wait_balanced(s)
        s.topology.settle()
        seen = _answers(s, 0)[1]["answer_count"]
        bodies = webhook_bodies(RUN, events, users, CHANNEL_SECRET, rate=rate)
        sent = _events_of(bodies, RUN)
        watched: dict[str, Any] = {}

        def kill() -> None:
            old = s.topology.master_address()
            if isinstance(s.topology, Cluster):
                ranges = s.topology.slots_of(old)
                keys = KeyBuilder(secret=ID_SECRET.encode())
                watched["hit"] = {p for p in range(DEFAULT_PARTITIONS)
                                  if any(lo <= key_slot(keys.partition_events(p).encode()) <= hi for lo, hi in ranges)}
            killed = s.topology.kill_master()
            watched["killed"] = killed
            log(f"SIGKILL to the master {old[0]}:{old[1]}")
            if topology == "one":
                return
            new = s.topology.wait_promoted(old)
            watched["promoted_ns"] = time.time_ns()
            log(f"{new[0]}:{new[1]} promoted {(watched['promoted_ns'] - killed.at_ns) / 1e9:.2f} s after the kill")
            if topology == "cluster":
                # The promoted master has no replica left to confirm WAIT: the killed node
                # comes back (as a supervisor would restart it) and joins as its replica.
                s.topology.revive()
                log("the killed node restarted; it rejoins as a replica")

        log(f"sending {events} events from {users} users at {rate:g}/s; the master is killed halfway")
        asyncio.run(_send_all(s.webhook_url, bodies, sent, rate, kill, redeliver))
        acknowledged = sum(1 for e in sent if e.ok_ns is not None)
        log(f"load done: {acknowledged}/{events} acknowledged; waiting for the bot to answer them")
        answers: list[Answer] = []
        deadline = time.monotonic() + 180
        while True:
            fresh, _ = _answers(s, seen + len(answers))
            answers += fresh
            answered = {a.key for a in answers}
            missing = [e for e in sent if e.ok_ns is not None and reply_token(RUN, e.seq) not in answered
                       and retry_key(e.event_id, 0) not in answered]
            try:
                backlog = _backlog(s)
            except redis.RedisError:
                backlog = -1
            if not missing and backlog == 0:
                log("every acknowledged event answered, the queue empty")
                break
            if time.monotonic() > deadline:
                log(f"gave up waiting: {len(missing)} acknowledged events unanswered, backlog {backlog}")
                break
            s.check()
            time.sleep(0.5)
        log(f"listening {SETTLE_S:g} s more for a late duplicate")
        time.sleep(SETTLE_S)  # a duplicate the bot was about to send arrives now
        fresh, stats = _answers(s, seen + len(answers))
        answers += fresh
        s.check()
        stalls = s.topology.worst_stalls()
        verdict = verify(sent, answers)
        service = measure(sent, answers, watched.get("killed"), watched.get("promoted_ns"), watched.get("hit"))
        killed = watched.get("killed")
        outcome = Outcome(topology, events, users, rate, _settings(topology, extra_env, redeliver), verdict,
                          service, stats["refused_replies"], stats["refused_pushes"],
                          f"{killed.address[0]}:{killed.address[1]}" if killed else "none", redeliver, stalls)
    log("every process stopped")
    return outcome


def _settings(topology: str, extra_env: dict[str, str] | None, redeliver: bool) -> str:
    redis_part = {
        "one": "One redis-server (AOF `appendfsync always`, `noeviction`)",
        "sentinel": (f"A master, two replicas and three sentinels (quorum 2, `down-after-milliseconds "
                     f"{DOWN_AFTER_MS}`, `failover-timeout {FAILOVER_TIMEOUT_MS}`); AOF `appendfsync always`, "
                     "`noeviction`, `min-replicas-to-write 1` on every data node"),
        "cluster": (f"A cluster of three masters with a replica each (`cluster-node-timeout "
                    f"{CLUSTER_NODE_TIMEOUT_MS}`, `cluster-require-full-coverage no`, AOF `appendfsync always`, "
                    "`noeviction`); the killed node is "
                    "restarted once its replica is promoted, and rejoins as that one's replica"),
    }[topology]
    extra = f" Changed for this run: {extra_env}." if extra_env else ""
    extra += "" if redeliver else " Nothing is delivered again (as if LINE's redelivery were off)."
    return (f"{redis_part}. The Procfile's processes: gunicorn with {WEB_PROCESSES} processes, {WORKERS} "
            f"workers, the clock; `REDIS_MIN_REPLICAS=1`, `REDIS_WAIT_MS` at its default.{extra}")


# --- the report -------------------------------------------------------------------------


def _git(*argv: str) -> str:
    try:
        return subprocess.run(["git", *argv], capture_output=True, text=True, cwd=ROOT, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def _pass(ok: bool) -> str:
    return "pass" if ok else "**FAIL**"


def render(o: Outcome, *, command: str, date: str, commit: str, loadavg: str) -> str:
    v, sv = o.verdict, o.service
    errors = ", ".join(f"{k}: {n}" for k, n in sv.non_200.items()) or "none"
    lines = [
        f"`{command}`, {date}, commit {commit}; load average before the run {loadavg} (1, 5, 15 min).",
        "",
        f"{o.events:,} events from {o.users} users at {o.rate:g}/s, each user's in the script's order; the "
        f"master ({o.killed}) got SIGKILL once half were sent. {o.settings}" + (
            f" The generator acts as LINE: a request answered other than 200, or not within {TIMEOUT_S:g} s, "
            f"is delivered again (`isRedelivery: true`) after {', '.join(f'{b:g}' for b in BACKOFF_S[:-1])} s, "
            f"then every {BACKOFF_S[-1]:g} s, until 200." if o.redeliver else ""),
        "",
        "| the time without service | |",
        "|---|---|",
        f"| master killed | {sv.kill_at_s:.2f} s into the load |",
        f"| replica promoted (Redis' own failover) | "
        f"{f'{sv.promoted_s:.2f} s after the kill' if sv.promoted_s is not None else 'n/a'} |",
        f"| partitions whose queue was on the killed master | {sv.partitions_hit} of {DEFAULT_PARTITIONS} "
        "(the figures below are theirs) |",
        f"| first 200 for a request sent after the kill | "
        f"{f'{sv.first_ok_after_kill_s:.2f} s after the kill' if sv.first_ok_after_kill_s is not None else 'none'} |",
        f"| longest stretch without a 200 | {sv.longest_without_200_s:.2f} s "
        f"(from {sv.longest_without_200_from_s:+.2f} s of the kill) |",
        f"| longest one event waited for its 200 (first send to acknowledgement) | "
        f"{sv.longest_wait_for_200_s:.2f} s |",
        f"| longest stretch without an answer reaching LINE | {sv.longest_without_answer_s:.2f} s |",
        f"| requests / answered other than 200 | {sv.requests:,} / {sum(sv.non_200.values())} ({errors}) |",
        f"| redeliveries | {sv.redelivery_requests} requests for {sv.events_redelivered} events "
        f"(at most {sv.most_tries} tries for one) |",
        f"| first send to answer, all events | p50 {sv.e2e_p50_ms:g} ms, p99 {sv.e2e_p99_ms:g} ms, "
        f"max {sv.e2e_max_ms:g} ms |",
        f"| Redis' own stalls over {LATENCY_THRESHOLD_MS} ms, worst of each kind on the live servers "
        f"(LATENCY LATEST) | {', '.join(f'{k} {ms} ms' for k, ms in o.redis_stalls.items()) or 'none'} |",
        f"| answers LINE accepted | {v.replies} replies, {v.pushes} pushes; it refused {o.refused_replies} "
        f"replies with a spent token and {o.refused_pushes} pushes with a used retry key |",
        "",
        "| guarantee | result |",
        "|---|---|",
        f"| every event that got a 200 is answered exactly once | {_pass(not (v.unanswered or v.doubled or v.broken or v.never_acknowledged))}: "
        f"{v.answered_once} of {v.acknowledged} acknowledged ({o.events - v.acknowledged} never acknowledged, "
        f"{len(v.unanswered)} unanswered, {len(v.doubled)} answered twice, {len(v.broken)} with broken chunks) |",
        f"| answers per user in the order the events were stored | {_pass(not v.out_of_order)}: "
        f"{len(v.out_of_order)} of {v.ordered_pairs:,} pairs whose order was certain the wrong way; "
        f"{v.raced_pairs} pairs overlapped (the earlier not acknowledged when the later was sent), "
        f"{v.raced_swapped} of them answered against the sending order "
        f"({v.raced_swapped_first_try} without a redelivery) |",
        f"| every event refused (not 200) delivered again, acknowledged and answered once | "
        f"{_pass(v.refused_answered_once == v.refused)}: {v.refused_answered_once} of {v.refused} |",
        f"| nothing answered that was not sent | {_pass(not v.unattributed)}: {len(v.unattributed)} |",
        f"| no reply with a token older than LINE's {REPLY_TOKEN_TTL:g} s | {_pass(not v.expired_replies)}: "
        f"{len(v.expired_replies)} |",
    ]
    return "\n".join(lines) + "\n"


PAGE_HEAD = """# Failover: the Redis master killed under load

Written by `python -m benchmarks.failover` (benchmarks/failover.py), one section per
topology; each run replaces its topology's section. How the run works and what each
check means: the module's docstring. Back to [performance](performance.md).

Two things to read the figures with. Per-user order is checked where it is certain:
an event acknowledged before the user's next one was sent must be answered first;
when a refused event is redelivered after the user's next one was stored, the bot
answers in the order it stored them, and those pairs are counted, not failed. And
the master is a process killed on the same machine: whatever it had written to the
replicas' sockets still reaches them, so a run shows that nothing acknowledged is
lost and how long service is gone, not what an asynchronous replica would lose with
a machine (with `REDIS_MIN_REPLICAS=0` such a run lost nothing either).
"""
TITLES = {"one": "One server (no replica: nothing to fail over to)", "sentinel": "Redis Sentinel",
          "cluster": "Redis Cluster (3 masters x 1 replica)"}


def write(out: Path, topology: str, section: str) -> None:
    """Replace this topology's section of ``out`` (or add it), keeping the others."""
    begin, end = f"<!-- failover:{topology}:begin -->", f"<!-- failover:{topology}:end -->"
    block = f"{begin}\n## {TITLES[topology]}\n\n{section}{end}\n"
    text = out.read_text(encoding="utf-8") if out.exists() else PAGE_HEAD
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.failover", description=__doc__.splitlines()[0])
    parser.add_argument("--topology", choices=("sentinel", "cluster", "one"), default="sentinel")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE, help="events per second (default %(default)s)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "failover.md")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="run in DIR and keep every process's log there (default: a temporary directory)")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so every server this run started is stopped with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    loadavg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    # The pages a run writes (docs/) do not make the code it measured uncommitted.
    dirty = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)docs")
    commit = _git("rev-parse", "--short", "HEAD") + (" (with uncommitted changes)" if dirty else "")
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    started = time.monotonic()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - started:5.1f} s] {line}", file=sys.stderr, flush=True)

    command = "python -m benchmarks.failover " + " ".join(argv if argv is not None else sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="failover-") as tmp:
        workdir = args.keep if args.keep is not None else Path(tmp)
        outcome = run(workdir, topology=args.topology, events=args.events, users=args.users, rate=args.rate,
                      log=log)
    section = render(outcome, command=command.strip(), date=date, commit=commit, loadavg=loadavg)
    print(section)
    write(args.out, args.topology, section)
    log(f"wrote {args.out}")
    if not outcome.verdict.ok:
        print("FAILED: " + "; ".join(outcome.verdict.failures()), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
