"""Waiting for something to happen, instead of sleeping a fixed time and hoping it did.

``wait_until(predicate)`` polls until the predicate holds and returns its value,
failing with ``what`` after ``timeout``; the test goes on the moment the
condition is met, and a slow machine gets the whole timeout, not a guess.

``drained(runtime)`` is the condition after which the bot can do nothing more
on its own: every event queued on the pipeline's streams has been handled and
acknowledged (acknowledged entries are deleted, dead-lettered ones moved), so a
duplicate answer or a late effect, if the bot made one, has already happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, what: str = "the condition",
               interval: float = 0.02) -> T:
    """Poll ``predicate`` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def backlog(runtime: Any) -> int:
    """Entries still on the pipeline's streams (handled ones are acknowledged and deleted)."""
    return sum(runtime.client.xlen(runtime.keys.partition_events(p)) for p in range(runtime.partitions))


def drained(runtime: Any, timeout: float = 15.0) -> None:
    """Wait until every queued event of ``runtime``'s pipeline was handled."""
    wait_until(lambda: backlog(runtime) == 0, timeout, "every queued event to be handled")
