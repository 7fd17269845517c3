"""Failures and slow answers on demand (``fail_next``, ``delay_next``).

A test asks for them before the bot calls; each request under a fault's or a
delay's path takes one use of it, in the order they were asked for. Every
function here runs with the stand-in's lock held.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from bot.line.standin.protocol import Answer


@dataclass
class Fault:
    remaining: int
    path_prefix: str
    status: int = 500
    retry_after: float | None = None
    body: dict | None = None
    accept_first: bool = False  # process the request, then answer with the fault
    skip: int = 0  # matching requests let through before the fault starts


@dataclass
class Delay:
    remaining: int
    seconds: float
    path_prefix: str
    after_processing: bool = True


Pending = TypeVar("Pending", Fault, Delay)


def take(items: list[Pending], path: str) -> Pending | None:
    """Consume one use of the first fault or delay matching ``path``."""
    for item in items:
        if item.remaining > 0 and path.startswith(item.path_prefix):
            if isinstance(item, Fault) and item.skip > 0:
                item.skip -= 1
                return None
            item.remaining -= 1
            if item.remaining == 0:
                items.remove(item)
            return item
    return None


def answer(fault: Fault) -> Answer:
    """What LINE would answer in the fault's place."""
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(int(fault.retry_after) if float(fault.retry_after).is_integer()
                                     else fault.retry_after)
    default = {429: "The API rate limit has been exceeded. Try again later."}.get(
        fault.status, "An error occurred in the stand-in (injected)")
    payload = fault.body or {"message": default}
    return fault.status, payload, headers, payload.get("message")
