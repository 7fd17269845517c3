"""The stored session: lock, load, handle, save, once per event.

The dialogue itself is pure (dialogs.engine.handle); this is the thin layer
that gives it a stored session, serialised per user so that two events of
one user never interleave, and an outbox that makes an event run again
(a redelivery, a worker that died before acknowledging) find its first
answer. The conversation core (bot.conversation) is its caller.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime
from typing import Any, Callable

from bot.storage import SessionStorage
from dialogs.engine import Dialogue, Event, handle
from dialogs.hours import TOKYO
from dialogs.reply import Reply
from dialogs.session import Session

#: An idle conversation is forgotten after this long: the least data we need.
DEFAULT_SESSION_TTL = 7 * 24 * 3600
#: Where sessions saved before the outbox had a key of its own kept it.
OUTBOX = "outbox"
#: How long the answer to a user's last event is kept, written with the session
#: in one atomic step. A user's events are handled one at a time, in order
#: (bot.pipeline.worker): when one is answered, the ones before it were
#: acknowledged or dead-lettered, so the outbox holds the last answer only, and
#: nothing has to delete it after delivery (a second lock, load and save per
#: event). An event still failing after this long (LINE down for a day) is
#: answered again rather than not at all.
OUTBOX_TTL = 24 * 3600


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
            # A save without an outbox leaves the answers still on their way alone.
            self.storage.save(user_id, session.to_dict(), ttl_seconds=self.session_ttl)
        return reply

    def answer(
        self,
        user_id: str,
        event_id: str,
        event: Event,
        render: Callable[[Reply], Any],
        now: datetime | None = None,
        *,
        prepare: Callable[[Session], None] | None = None,
        locked: bool = False,
    ) -> Any:
        """Answer one LINE event at most once, whatever happens after.

        The rendered answer is saved in the same write as the session that
        produced it, keyed by ``event_id``. If the event comes again (LINE
        redelivered it, or a worker died before acknowledging it), the saved
        answer is returned instead of running the dialogue a second time, so
        the conversation never moves twice and the user gets the same words.
        It is kept beside the session until the user's next answer replaces
        it, or for ``OUTBOX_TTL``. ``prepare`` may change the
        stored session before the event is handled (a counsellor closed the
        chat: the urgency of that chat is over). ``locked``: the caller holds the
        user's lock already (storage.lock), so it is not taken again.
        """
        with nullcontext() if locked else self.storage.lock(user_id):
            stored = self.storage.load(user_id) or {}
            outbox = self.storage.load_outbox(user_id)
            legacy = stored.pop(OUTBOX, None)  # a session saved by an earlier version
            if isinstance(legacy, dict) and event_id in legacy:
                return legacy[event_id]
            if event_id in outbox:
                return outbox[event_id]
            session = Session.from_dict(stored) if stored else None
            if session is not None and prepare is not None:
                prepare(session)
            session, reply = handle(self.dialogue, session, event, now or self.clock())
            rendered = render(reply)
            self.storage.save(user_id, session.to_dict(), ttl_seconds=self.session_ttl,
                              outbox={event_id: rendered}, outbox_ttl=OUTBOX_TTL)
        return rendered

    def forget(self, user_id: str) -> None:
        """The user blocked the bot: drop everything we kept for the dialogue."""
        self.storage.delete(user_id)
