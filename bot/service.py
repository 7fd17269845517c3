"""One user's turn, end to end: lock, load, handle, save.

The dialogue itself is pure (dialogs.engine.handle); this is the thin layer
that gives it a stored session, serialised per user so that two events of
one user never interleave. The LINE worker and the simulator both use it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from bot.storage import SessionStorage
from dialogs.engine import Dialogue, Event, handle
from dialogs.hours import TOKYO
from dialogs.reply import Reply
from dialogs.session import Session

#: An idle conversation is forgotten after this long: the least data we need.
DEFAULT_SESSION_TTL = 7 * 24 * 3600


def tokyo_now() -> datetime:
    return datetime.now(TOKYO)


class ConsultationService:
    def __init__(
        self,
        dialogue: Dialogue,
        storage: SessionStorage,
        clock: Callable[[], datetime] = tokyo_now,
        session_ttl: int = DEFAULT_SESSION_TTL,
    ):
        self.dialogue = dialogue
        self.storage = storage
        self.clock = clock
        self.session_ttl = session_ttl

    def handle(self, user_id: str, event: Event, now: datetime | None = None) -> Reply:
        with self.storage.lock(user_id):
            stored = self.storage.load(user_id)
            session = Session.from_dict(stored) if stored is not None else None
            session, reply = handle(self.dialogue, session, event, now or self.clock())
            self.storage.save(user_id, session.to_dict(), ttl_seconds=self.session_ttl)
        return reply

    def forget(self, user_id: str) -> None:
        """The user blocked the bot: drop everything we kept for the dialogue."""
        self.storage.delete(user_id)
