"""The bot's one clock: the wall clock, or, for ``python -m bot serve --at``, a fixed
or shifted one.

A newcomer trying the bot at 21:00 or on a Sunday would never see the counsellors'
side, so ``serve`` can set the time the consultation lives at. That time is
everything a person reads or the records count: the desk's hours, the handoff
queue's stamps, the console's waiting times, the records and the monthly report.
LINE's own time stays on the wall clock: event timestamps, reply-token ages and
the pipeline's leases are compared with real time by LINE (or its stand-in) and
by the webhook, which drops events that look too old.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Callable

from dialogs.hours import TOKYO


class Clock:
    """``now()``: an aware datetime in Tokyo; ``epoch()``: the same instant in epoch seconds.

    ``at`` unset: the wall clock. ``at`` set: time starts there and runs on
    (shifted), or stands still there when ``frozen``.
    """

    def __init__(self, at: datetime | None = None, *, frozen: bool = False,
                 wall: Callable[[], float] = time.time) -> None:
        if at is not None and at.tzinfo is None:
            raise ValueError("the clock's instant needs a UTC offset")
        if frozen and at is None:
            raise ValueError("a frozen clock needs an instant to stand at")
        self._wall = wall
        self._at = at
        self._frozen = frozen
        self._offset = at.timestamp() - wall() if at is not None else 0.0

    def epoch(self) -> float:
        if self._frozen:
            assert self._at is not None
            return self._at.timestamp()
        return self._wall() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.epoch(), TOKYO)

    def describe(self) -> str | None:
        """A start-up line when the clock is not the wall clock, else None."""
        if self._at is None:
            return None
        start = self._at.astimezone(TOKYO).isoformat(timespec="minutes")
        if self._frozen:
            return f"the clock stands at {start} (--at, --freeze): the bot and the console see this instant only"
        return (f"the clock starts at {start} and runs on (--at): the desk's hours, the queue, the "
                "console and the records follow it; LINE's own timestamps stay real")
