"""Two web and three worker processes, started as the Procfile's web: and worker: lines,
under load for a fixed number of events: every user's answers in order, none doubled,
none lost, and the counts asserted.

A real redis-server carries the queue, gunicorn serves the signed webhooks, three
`python -m bot worker` processes share the partitions, and the stand-in LINE API
receives the answers. Users send their scripts concurrently from a thread pool,
alternating between the two web processes; each user's next message goes out only once
the previous one was acknowledged, as LINE sends them.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot.config import DEFAULT_PROFILE
from bot.pipeline import DEFAULT_PARTITIONS
from bot.pipeline.enqueue import GROUP
from bot.storage.keys import KeyBuilder
from dialogs.engine import Dialogue
from dialogs.i18n import compile_catalogs
from tests.e2e.conftest import ID_SECRET, Bot
from tests.e2e.test_order_and_crash import SCRIPT, expected_first_texts
from tests.e2e.test_procfile import free_port, post, procfile, procfile_env, processes_running
from tests.waiting import wait_until

WEBS = 2
WORKERS = 3
USERS = 150
EVENTS = USERS * len(SCRIPT)  # 1,500
SENDERS = 24  # users sending at the same time
#: What a worker logs once per event it answered (outcome and counts only, no ids).
ANSWERED = re.compile(r"line delivery (delivered|already_replied) ")


def test_two_web_and_three_worker_processes_answer_every_event_once_in_order(
        fake_line, bot_env, redis_client, tmp_path):
    keys = KeyBuilder(secret=ID_SECRET.encode())
    partitions = DEFAULT_PARTITIONS
    lines = procfile()
    ports = [free_port() for _ in range(WEBS)]
    commands = {f"web{n}": (lines["web"], procfile_env(port, bot_env)) for n, port in enumerate(ports)}
    commands.update({f"worker{n}": (lines["worker"], procfile_env(ports[0], bot_env)) for n in range(WORKERS)})
    users = [f"U{n:032x}" for n in range(USERS)]
    fresh = {user: n % 3 != 0 for n, user in enumerate(users)}  # a third with stale tokens: pushes
    events = Bot(app=None, client=None, line=fake_line)  # only its LINE event builders are used
    expected = expected_first_texts(
        Dialogue.load(DEFAULT_PROFILE, catalogs=compile_catalogs(cache_dir=Path(bot_env["BOT_CATALOG_CACHE"]))))

    acknowledged: Counter[int] = Counter()
    counting = threading.Lock()

    def converse(n: int) -> None:
        """One user's script, message after acknowledged message, alternating web processes."""
        user = users[n]
        for k, step in enumerate(SCRIPT):
            event = (events.event(user, "follow", fresh=fresh[user]) if step == "follow"
                     else events.tap(user, step, fresh=fresh[user]))
            port = ports[(n + k) % WEBS]
            status = post(port, [event])
            assert status == 200, f"webhook answered {status}"
            with counting:
                acknowledged[port] += 1

    booting = time.monotonic()
    with processes_running(commands, ports, tmp_path) as logs:
        up_in = time.monotonic() - booting
        # The three workers share the partitions before the load starts (fair share).
        deadline = time.monotonic() + 30
        while True:
            live = {w.decode() for w in redis_client.zrange(keys.pipeline_workers(), 0, -1)}
            holders = Counter((redis_client.get(keys.partition_lease(p)) or b"").decode()
                              for p in range(partitions))
            if len(live) == WORKERS and set(holders) == live:
                break
            assert time.monotonic() < deadline, f"{len(live)} workers live, leases held by {len(holders)}"
            time.sleep(0.1)

        shared_in = time.monotonic() - booting - up_in
        started = time.monotonic()
        with ThreadPoolExecutor(SENDERS) as pool:
            for future in [pool.submit(converse, n) for n in range(USERS)]:
                future.result()
        sent_in = time.monotonic() - started
        fake_line.wait_for_deliveries(EVENTS, timeout=60)
        answered_in = time.monotonic() - started

        def backlog() -> int:
            return sum(redis_client.xlen(keys.partition_events(p)) for p in range(partitions))

        deadline = time.monotonic() + 10
        while backlog():
            assert time.monotonic() < deadline, f"{backlog()} events still queued"
            time.sleep(0.05)
        # Every event handled and no call to LINE under way: any duplicate has shown up.
        wait_until(fake_line.idle, 10, "the stand-in LINE to answer every call under way")
        log_text = {name: path.read_text(errors="replace") for name, path in logs.items()}

    # Exact counts: every event acknowledged, answered and delivered once.
    assert sum(acknowledged.values()) == EVENTS
    assert [acknowledged[port] for port in ports] == [EVENTS // WEBS] * WEBS, "both web processes took a share"
    deliveries = fake_line.deliveries()
    assert len(deliveries) == EVENTS, f"{len(deliveries)} deliveries for {EVENTS} events"
    for user in users:
        got = [d.messages[0]["text"] for d in fake_line.deliveries(user)]
        assert got == expected, f"answers of one user missing, doubled or out of order: {len(got)} answers"
    pushed = Counter(d.retry_key for d in deliveries if d.kind == "push")
    assert sum(pushed.values()) == sum(not fresh[u] for u in users) * len(SCRIPT)
    assert max(pushed.values()) == 1 and None not in pushed
    assert fake_line.unexpected() == []

    # Nothing left behind: no pending entry, no dead letter.
    for p in range(partitions):
        assert redis_client.xpending(keys.partition_events(p), GROUP)["pending"] == 0
        assert redis_client.xlen(keys.partition_dead_letters(p)) == 0

    # All three workers answered a share, every event once (from their own log lines,
    # which carry outcomes and counts, never a user id).
    answered = {name: len(ANSWERED.findall(log_text[name])) for name in commands if name.startswith("worker")}
    assert all(count > 0 for count in answered.values()), answered
    assert sum(answered.values()) == EVENTS, answered
    everything = "".join(log_text.values())
    assert not any(user in everything for user in users), "a user id reached a log"

    print(f"\nprocesses up in {up_in:.1f}s, partitions shared in {shared_in:.1f}s; {EVENTS} events from "
          f"{USERS} users over {WEBS} web processes {[acknowledged[p] for p in ports]}, "
          f"answered by {WORKERS} workers {sorted(answered.values())}: sent in {sent_in:.1f}s, "
          f"all delivered in {answered_in:.1f}s ({EVENTS / answered_in:.0f} events/s)")
