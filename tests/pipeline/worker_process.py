"""A pipeline worker process for tests/pipeline/test_faults.py (which kills it with SIGKILL).

    python -m tests.pipeline.worker_process REDIS_URL [--lease-ms N] [--sleep-ms N]

The handler records every event idempotently in Redis (tests.pipeline.Recorder): the
effect and its per-event marker are written in one Lua step, so the test can check
"exactly once in effect" and per-user order after any number of kills. SIGTERM stops
the worker cleanly (exit code 0).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time

from bot.pipeline import Entry, Worker
from bot.storage.keys import KeyBuilder
from bot.storage.redis import make_redis_client
from tests.pipeline import SECRET, Recorder

SUPPRESSED_KEY = "test:pipeline:suppressed"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("redis_url")
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--lease-ms", type=int, default=1_000)
    parser.add_argument("--block-ms", type=int, default=300)
    parser.add_argument("--sleep-ms", type=float, default=5.0)
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s worker %(message)s")

    client = make_redis_client(options.redis_url)
    keys = KeyBuilder(secret=SECRET)
    recorder = Recorder(client, keys)
    half = options.sleep_ms / 2000

    def handler(entry: Entry) -> None:
        # Work before and after the effect, so that a kill lands both before the effect
        # (the event must be handled again) and between the effect and the
        # acknowledgement (the repeat must not show).
        time.sleep(half)
        if not recorder.record(entry.event, entry.event_id):
            client.incr(SUPPRESSED_KEY)
        time.sleep(half)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    Worker(client, keys, handler, name="killable", partitions=options.partitions,
           lease_ms=options.lease_ms, block_ms=options.block_ms).run(stop)


if __name__ == "__main__":
    main()
