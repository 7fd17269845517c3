"""Workers joining, leaving and crashing under load: how long does any user wait?

The Procfile's processes (2 web, 2 workers, the clock) answer a steady open-loop
load. While it runs, a third worker joins (a deploy scaling up), then leaves with
SIGTERM (a deploy scaling down), then a worker is killed with SIGKILL (a crash).
Each change moves partitions between workers; every event sent in the seconds
after it is timed from its send to its reply at the fake LINE API. The figure
that matters is the slowest of those: the longest any user waited because of the
change, beside the same figure in a quiet stretch.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from benchmarks.load import percentile, run_load, seq_of
from benchmarks.stack import BOT_APP, BenchmarkError, stack
from benchmarks.webhook import Events, _wait_balanced, _wait_replies

#: When each change happens, in seconds after the load starts, and what it is.
CHANGES = ((5.0, "join", "a third worker starts"), (12.0, "leave", "the third worker gets SIGTERM"),
           (19.0, "crash", "worker 1 gets SIGKILL"))
#: Events sent this long after a change are counted as the change's.
WINDOW_S = 4.0
LOAD_S = 26.0


@dataclass
class Window:
    what: str
    at_s: float
    events: int
    answered: int
    p50_ms: float
    p99_ms: float
    max_ms: float


@dataclass
class Handover:
    rate: float
    events: int
    acknowledged: int
    answered: int
    #: Replies received more than once for one event (an event in hand when its
    #: worker was killed is run again; the outbox gives the same answer, sent again).
    doubled: int
    windows: list[Window] = field(default_factory=list)


def handover(workdir: Path, *, web_processes: int, rate: float, gunicorn_args: str,
             log: Callable[[str], None]) -> Handover:
    with stack(workdir / "handover", app=BOT_APP, web_processes=web_processes, workers=2,
               gunicorn_args=gunicorn_args) as s:
        events = Events("H")
        run_load(s.webhook_url, events.take(100, 50, users=20, first_user=10**6), 50)
        _wait_replies(s, events.run, range(100), timeout=60)
        _wait_balanced(s, 2)
        count = int(rate * LOAD_S)
        users = max(1, int(rate * 4))
        first_seq = events.next
        bodies = events.take(count, rate, users=users)
        happened: dict[str, float] = {}

        def changes(start: float) -> None:
            for at, what, _ in CHANGES:
                time.sleep(max(0.0, start + at - time.monotonic()))
                happened[what] = time.monotonic() - start
                if what == "join":
                    s.start_worker("worker3")
                elif what == "leave":
                    s.end("worker3", signal.SIGTERM)
                else:
                    s.end("worker1", signal.SIGKILL)
                log(f"handover: {what} at {happened[what]:.2f} s")

        started = time.monotonic() + 0.1  # run_load starts sending 0.1 s after it is called
        thread = threading.Thread(target=changes, args=(started,), daemon=True)
        thread.start()
        result = run_load(s.webhook_url, bodies, rate)
        thread.join()
        sent = {first_seq + i: sample.sent_ns for i, sample in enumerate(result.samples) if sample.status == 200}
        arrivals, stats = _wait_replies(s, events.run, sent.keys(), timeout=120)
        s.check()
        tokens = Counter(seq_of(token, events.run) for token, _ in s.line_stats()["replies"])
        doubled = sum(n - 1 for seq, n in tokens.items() if seq in sent and n > 1)
        out = Handover(rate, count, len(sent), sum(1 for seq in sent if seq in arrivals), doubled)
        spans = [("quiet", 1.0)] + [(what, happened[what]) for _, what, _ in CHANGES]
        for what, at in spans:
            lo, hi = int(at * rate), int((at + WINDOW_S) * rate)
            seqs = [first_seq + i for i in range(lo, min(hi, count)) if first_seq + i in sent]
            lat = sorted((arrivals[q] - sent[q]) / 1e6 for q in seqs if q in arrivals)
            out.windows.append(Window(what, round(at, 2), len(seqs), len(lat), round(percentile(lat, 50), 1),
                                      round(percentile(lat, 99), 1), round(lat[-1], 1) if lat else float("nan")))
            log(f"handover {what}: {out.windows[-1]}")
        if stats["unexpected_count"]:
            raise BenchmarkError(f"the bot made calls the fake LINE API does not know: {stats['unexpected']}")
        return out
