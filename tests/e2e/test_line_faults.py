"""LINE answers 500, 429 and times out for a while: every answer is delivered once,
retried pushes carry the same X-Line-Retry-Key, and no worker is left stuck.

The real stack of tests/e2e/conftest.py (Flask webhook, two worker threads, a real
redis-server, the stand-in LINE over HTTP), with the sender's read timeout cut to
half a second (LINE_API_READ_TIMEOUT_MS) so that a slow answer is a timeout in a
test that runs in seconds. LINE misbehaves in three runs, one after the other,
while the queue is full: 500s (some after LINE accepted the message: the answer
was lost), then 429s with a short Retry-After, then answers later than the read
timeout (some processed first, some processed only after the client gave up).
Half of the users' reply tokens are stale, so their answers are pushes with retry keys.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest

from bot.line.standin import INVALID_REPLY_TOKEN, RETRY_KEY_ACCEPTED
from bot.pipeline import partition_for
from bot.web import create_app, dialogue_of, runtime_of
from tests.e2e.conftest import Bot
from tests.e2e.test_order_and_crash import SCRIPT, expected_first_texts

READ_TIMEOUT = 0.5  # seconds: the sender's read timeout in this test
SLOW = 1.0  # seconds: how late a delayed answer comes (well past READ_TIMEOUT)
USERS = 48
PUSH = "/v2/bot/message/push"
REPLY = "/v2/bot/message/reply"

# The runs of faults, armed one after the other while events are queued: errors are
# (how many, status, path, accept_first: LINE took the message, then the answer was lost),
# delays (how many, path, after_processing: False = LINE takes it only after the client gave up).
ERRORS_500 = [(10, 500, PUSH, False), (6, 500, PUSH, True), (5, 500, REPLY, False), (4, 500, REPLY, True)]
ERRORS_429 = [(10, 429, PUSH, False), (5, 429, REPLY, False)]
DELAYS = [(5, PUSH, True), (3, PUSH, False), (3, REPLY, True), (2, REPLY, False)]
RETRY_AFTER = 0.2


class Timed:
    """WSGI middleware around the stand-in: when each request (by LINE's request id)
    started and how long its answer took. An answer later than the read timeout is
    one the sender gave up on; the stand-in itself records only what it answered."""

    def __init__(self, app) -> None:
        self.app = app
        self._lock = threading.Lock()
        self.spans: dict[str, tuple[float, float]] = {}  # request id -> (start, seconds)

    def __call__(self, environ, start_response):
        start = time.monotonic()
        ids: list[str] = []

        def remember(status, headers, exc_info=None):
            ids.extend(value for name, value in headers if name.lower() == "x-line-request-id")
            return start_response(status, headers, exc_info)

        body = self.app(environ, remember)  # the view, delay included, has run
        took = time.monotonic() - start
        with self._lock:
            for request_id in ids:
                self.spans[request_id] = (start, took)
        return body


@pytest.fixture
def faulty(fake_line, bot_env, redis_client):
    timed = Timed(fake_line.standin.app.wsgi_app)
    fake_line.standin.app.wsgi_app = timed
    app = create_app({"TESTING": True, **bot_env, "LINE_API_READ_TIMEOUT_MS": str(int(READ_TIMEOUT * 1000))})
    runtime = runtime_of(app)
    runtime.start_workers(2, lease_ms=2000, block_ms=200, backoff_base_ms=50, backoff_cap_ms=200)
    try:
        yield Bot(app, app.test_client(), fake_line), timed
    finally:
        runtime.stop()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.02)


def test_line_failing_for_a_while_delivers_every_answer_once_and_leaves_no_worker_stuck(
        faulty, redis_client):
    bot, timed = faulty
    line = bot.line
    runtime = runtime_of(bot.app)
    keys, partitions = runtime.keys, runtime.partitions
    users = [f"U{n:032x}" for n in range(USERS)]
    fresh = {user: n % 2 == 0 for n, user in enumerate(users)}  # the others' tokens are stale: pushes
    started = time.monotonic()

    def post_steps(steps: list[str]) -> None:
        """These steps of every user's script, interleaved across users (LINE's order per user)."""
        for step in steps:
            for user in users:
                event = (bot.event(user, "follow", fresh=fresh[user]) if step == "follow"
                         else bot.tap(user, step, fresh=fresh[user]))
                assert bot.post(event).status_code == 200

    def served(status: int) -> int:
        return sum(c.status == status for c in line.calls("/v2/bot/message/"))

    def slow() -> int:
        return sum(took >= SLOW - 0.05 for _, took in list(timed.spans.values()))

    # LINE fails for a while, three times, each run armed just before a third of the
    # script is queued (so that there are calls to fail): 500s, then 429s, then slow answers.
    for count, status, path, accept_first in ERRORS_500:
        line.fail_next(count, status, path, accept_first=accept_first)
    post_steps(SCRIPT[:3])
    wait_for(lambda: served(500) == sum(f[0] for f in ERRORS_500), 20, "the run of 500s to be served")
    for count, status, path, accept_first in ERRORS_429:
        line.fail_next(count, status, path, retry_after=RETRY_AFTER, accept_first=accept_first)
    post_steps(SCRIPT[3:6])
    wait_for(lambda: served(429) == sum(f[0] for f in ERRORS_429), 20, "the run of 429s to be served")
    for count, path, after_processing in DELAYS:
        line.delay_next(count, SLOW, path, after_processing=after_processing)
    post_steps(SCRIPT[6:])
    wait_for(lambda: slow() >= sum(d[0] for d in DELAYS), 20, "the slow answers to be served")

    # Everything answered, nothing left behind: no pending entry, no dead letter.
    line.wait_for_deliveries(USERS * len(SCRIPT), timeout=30)

    def backlog() -> int:
        return sum(redis_client.xlen(keys.partition_events(p)) for p in range(partitions))

    wait_for(lambda: backlog() == 0, 10, "the queue to drain")
    for p in range(partitions):
        assert redis_client.xpending(keys.partition_events(p), "workers")["pending"] == 0
        assert redis_client.xlen(keys.partition_dead_letters(p)) == 0, "an answer was given up on"
    # A late duplicate, if there is one, comes from a call the sender gave up on that
    # the stand-in is still answering (or has yet to take): once none is, it is here.
    wait_for(line.idle, READ_TIMEOUT + SLOW + 10, "the stand-in to answer every call under way")
    took = time.monotonic() - started

    # Every user's answers once each, in order.
    expected = expected_first_texts(dialogue_of(bot.app))
    for user in users:
        got = [d.messages[0]["text"] for d in line.deliveries(user)]
        assert got == expected, f"answers of one user missing, doubled or out of order: {len(got)} answers"
    assert len(line.deliveries()) == USERS * len(SCRIPT)

    # No push delivered twice: each retry key accepted once.
    pushed = Counter(d.retry_key for d in line.deliveries() if d.kind == "push")
    assert pushed and all(key is not None for key in pushed)
    assert max(pushed.values()) == 1, "a push was delivered twice"

    # Every push that failed (500, 429, or no answer within the read timeout) was sent
    # again, later, with the same retry key; and every key was finally delivered.
    calls = line.calls("/v2/bot/message/")
    assert all(c.request_id in timed.spans for c in calls)
    calls.sort(key=lambda c: timed.spans[c.request_id][0])  # by when the request started

    def failure(call) -> str | None:
        if timed.spans[call.request_id][1] >= READ_TIMEOUT:
            return "timeout"
        return str(call.status) if call.status in (500, 429) else None

    failed = Counter()
    for n, call in enumerate(calls):
        kind = failure(call)
        if kind is None:
            continue
        failed[(call.path, kind)] += 1
        if call.path == PUSH:
            assert call.retry_key is not None
            assert any(later.retry_key == call.retry_key for later in calls[n + 1:]), (
                f"a push that failed ({kind}) was not retried with the same retry key")
    push_calls = [c for c in calls if c.path == PUSH]
    assert {c.retry_key for c in push_calls} == set(pushed), "a push was never delivered"

    # The faults really happened, each kind on both paths (so this cannot pass vacuously),
    # and LINE's "accepted, but the answer was lost" showed up as a 409 / a used token.
    for path in (PUSH, REPLY):
        for kind in ("500", "429", "timeout"):
            assert failed[(path, kind)] > 0, f"no {kind} was injected on {path}"
    assert failed[(PUSH, "500")] == sum(f[0] for f in ERRORS_500 if f[2] == PUSH)
    assert failed[(PUSH, "429")] == sum(f[0] for f in ERRORS_429 if f[2] == PUSH)
    assert failed[(PUSH, "timeout")] >= sum(d[0] for d in DELAYS if d[1] == PUSH)
    already_accepted = sum(c.status == 409 and c.error == RETRY_KEY_ACCEPTED for c in push_calls)
    token_used = sum(c.status == 400 and c.error == INVALID_REPLY_TOKEN for c in calls if c.path == REPLY)
    assert already_accepted > 0 and token_used > 0

    # No worker stuck: both workers and a thread per partition alive, and a new user
    # on every partition answered within about two seconds.
    names = [t.name for t in threading.enumerate() if t.is_alive()]
    assert sum(name.startswith("embedded-") for name in names) == 2, "a worker thread died"
    workers = {w.decode() for w in redis_client.zrange(keys.pipeline_workers(), 0, -1)}
    assert len(workers) == 2
    wait_for(lambda: all((redis_client.get(keys.partition_lease(p)) or b"").decode() in workers
                         for p in range(partitions)), 2, "every partition to be leased by a live worker")
    newcomers: dict[int, str] = {}
    n = 0
    while len(newcomers) < partitions:
        user = f"U{0xFEED0000 + n:032x}"
        newcomers.setdefault(partition_for({"source": {"type": "user", "userId": user}}, partitions), user)
        n += 1
    asked = time.monotonic()
    for user in newcomers.values():
        assert bot.post(bot.event(user, "follow")).status_code == 200
    for user in newcomers.values():
        got = line.wait_for_deliveries(1, user_id=user, timeout=max(0.1, asked + 2.0 - time.monotonic()))
        assert got[0].messages[0]["text"] == expected[0]
    answered_in = time.monotonic() - asked

    retries_per_key = Counter(c.retry_key for c in push_calls)
    figures = {f"{path.rsplit('/', 1)[1]} {kind}": count for (path, kind), count in sorted(failed.items())}
    print(f"\nLINE faults injected: {figures}; "
          f"409 already accepted {already_accepted}, reply token already used {token_used}; "
          f"push calls {len(push_calls)} for {len(pushed)} pushes (most calls for one key "
          f"{max(retries_per_key.values())}); {len(line.deliveries())} deliveries; "
          f"scenario {took:.1f}s; {partitions} newcomers answered in {answered_in:.2f}s")
