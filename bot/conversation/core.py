"""The conversation core: one event of one user in, what to say back out.

Every channel goes through :meth:`Conversation.turn`: the LINE worker, the
local chat page (which posts real webhooks to the same worker) and the
simulator. The core owns what a turn changes:

- the **blocked flag**: a user who blocked the bot gets nothing until they
  follow again, and nothing is kept for them meanwhile;
- the **session** and its **outbox**, in one lock, load and save per event
  (bot.service): an event run again returns its first answer;
- the **handoff**: while a counsellor has the chat the dialogue stays quiet
  and crisis triage alone speaks; otherwise the dialogue answers, and an
  answer that hands off queues the chat (bot.handoff.bridge);
- the **records**: each answer counted once per event id (bot.records).

What comes out is channel-free (:class:`~bot.content.Part`);
the adapter renders and sends it. Nothing here knows LINE.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Callable

import redis

from bot.content import Part
from bot.crypto import Sealer
from bot.handoff.bridge import HandoffBridge
from bot.handoff.queue import HandoffQueue
from bot.handoff.recent import RecentTurns
from bot.records.book import RecordBook
from bot.service import ConsultationService
from bot.storage.keys import KeyBuilder
from bot.storage.redis import RedisStorage
from dialogs.engine import Dialogue, Event, postback_data
from dialogs.reply import Reply
from dialogs.session import Session

#: How long a blocked flag is kept.
BLOCKED_TTL = 400 * 24 * 3600


@dataclass(frozen=True)
class Turn:
    """What one event makes the bot say, in order (may be nothing at all)."""

    parts: tuple[Part, ...]
    #: The dialogue ran (not a redelivered event's stored answer, not a
    #: counsellor's chat), so ``role`` is what it knows after this event.
    answered: bool = False
    role: str | None = None
    #: The reply of the dialogue, when it ran (the simulator shows its state).
    reply: Reply | None = None
    #: What the keys the caller asked to have read (``turn(read=...)``) held at
    #: the start of the turn, when the dialogue ran.
    read: dict[str, Any] | None = None


NOTHING = Turn(())


@dataclass
class _FirstReads:
    """What a turn reads in its first round trip, besides the session."""

    blocked: bool = False
    #: The user index's entry for an open handoff (HandoffQueue.open_handoff).
    handoff: Any = None
    #: The cached language, when the turn asked for it.
    language: Any = None
    #: The caller's own keys (``turn(read=...)``).
    read: dict[str, Any] = field(default_factory=dict)
    #: Makes the open consultation of what was read (RecordBook.read_open), on demand.
    opened: Callable[[], Any] | None = None


@dataclass(frozen=True)
class Language:
    """Where the core finds a user's language when the event does not carry it: a
    cached value under ``key``, read in the turn's first round trip, or else
    ``ask`` (which asks the channel, e.g. LINE's profile, and caches the answer).
    The value cached for "no language known" is the empty string."""

    key: str
    ask: Callable[[], str | None]


@dataclass
class Conversation:
    service: ConsultationService
    client: redis.Redis
    keys: KeyBuilder
    clock: Callable[[], datetime]
    #: The handoff queue's side of each event (None: no counsellors, tests of the pipeline alone).
    handoffs: HandoffBridge | None = None
    #: The consultation records (None: tests of the pipeline alone).
    records: RecordBook | None = None

    @property
    def dialogue(self) -> Dialogue:
        return self.service.dialogue

    @classmethod
    def in_memory(cls, dialogue: Dialogue, clock: Callable[[], datetime]) -> Conversation:
        """The core over an in-process Redis (fakeredis), with the handoff queue
        and the records as production keeps them: the simulator's, and tests'."""
        import fakeredis

        client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
        keys = KeyBuilder(secret=secrets.token_bytes(32))
        queue = HandoffQueue(client, keys, clock=lambda: clock().timestamp(), sealer=Sealer(secrets.token_bytes(32)))
        return cls(
            ConsultationService(dialogue, RedisStorage(client, keys), clock=clock),
            client, keys, clock,
            handoffs=HandoffBridge(queue, dialogue, fetch_content=lambda _mid: None, clock=clock,
                                   recent=RecentTurns(client, keys, queue.sealer),
                                   epoch=lambda: clock().timestamp()),
            records=RecordBook(client, keys, clock=lambda: clock().timestamp()),
        )

    # ------------------------------------------------------------ a user's event

    def turn(self, user: str, event_id: str, event: Event, *, message_id: str | None = None,
             language: Language | None = None, read: tuple[str, ...] = ()) -> Turn:
        """Answer one event of ``user`` (at most once per ``event_id``).

        ``language`` is asked of the channel only when the dialogue needs it and
        nothing is cached (never for a blocked user). ``message_id`` names a media
        message's content, fetched only when a handoff keeps it as evidence.
        ``read``: keys of the channel's own the caller needs after the turn (e.g. the
        user's linked menu), read in the turn's first round trip (``Turn.read``).
        """
        wants_language = language is not None and event.lang is None
        first = _FirstReads()

        def first_reads(reads: Any) -> Callable[[list[Any]], None]:
            # One round trip for what every turn reads first: the user's lock, session
            # and outbox (storage.lock), and these, received in the order queued.
            if event.kind == "follow":
                reads.delete(self.keys.blocked(user))
            else:
                reads.exists(self.keys.blocked(user))
            if self.handoffs is not None:
                reads.hget(self.keys.handoff_by_user(), self.keys.pseudonym(user))
            if wants_language:
                reads.get(language.key)
            for key in read:
                reads.get(key)
            record_read = self.records.read_open(reads, user) if self.records is not None else None

            def receive(replies: list[Any]) -> None:
                rest = iter(replies)
                first.blocked = bool(next(rest)) and event.kind != "follow"
                first.handoff = next(rest) if self.handoffs is not None else None
                first.language = next(rest) if wants_language else None
                first.read = {key: next(rest) for key in read}
                if record_read is not None:
                    first.opened = partial(record_read, list(rest))

            return receive

        storage = self.service.storage
        if isinstance(storage, RedisStorage):
            with storage.lock(user, also=first_reads):
                return self._turn(user, event_id, event, message_id, language, first, locked=True)
        pipe = self.client.pipeline(transaction=False)
        first_reads(pipe)(pipe.execute())
        return self._turn(user, event_id, event, message_id, language, first, locked=False)

    def _turn(self, user: str, event_id: str, event: Event, message_id: str | None,
              language: Language | None, first: _FirstReads, *, locked: bool) -> Turn:
        """The turn, once its ``first`` reads are in (with the user's lock held
        when ``locked``)."""
        handoffs = self.handoffs
        if first.blocked:
            # The user blocked the bot: keep nothing, send nothing, until a follow.
            return NOTHING
        active = handoffs.queue.open_handoff(first.handoff) if handoffs is not None else None
        if handoffs is not None and active is not None and active.status == "claimed":
            # A counsellor has the chat: the dialogue stays quiet (triage does not).
            texts = handoffs.with_counsellor(active, event_id, event, message_id)
            return Turn(tuple(Part.text(active.lang, t) for t in texts))
        if language is not None and event.lang is None:
            cached = first.language
            if cached is not None:
                lang = (cached.decode() if isinstance(cached, bytes) else str(cached)) or None
            else:
                lang = language.ask()
            event = Event(event.kind, event.text, event.data, lang=lang)
        seen: list[Reply] = []
        opened = first.opened() if first.opened is not None else None
        storage = self.service.storage
        # The record's change goes in the round trip that saves the session.
        write_with_release = (partial(storage.on_release, user)
                              if isinstance(storage, RedisStorage) else None)

        def answered(reply: Reply) -> list[dict[str, Any]]:
            if handoffs is not None:
                handoffs.note_turn(user, event_id, event, reply, active, send=write_with_release)
                reply = handoffs.after_reply(user, event_id, event, reply, active, message_id)
            if self.records is not None:
                now = self.clock()
                self.records.note_answer(user, reply, now, self.dialogue.desk_open(now), event_id,
                                         opened=opened, send=write_with_release)
                if reply.handoff and handoffs is not None:
                    self.records.note_handoff(user, handoffs.active(user), send=write_with_release)
            seen.append(reply)
            return [Part.of(reply).to_dict()]

        stored = self.service.answer(user, event_id, event, answered, locked=locked)
        parts = tuple(Part.from_dict(doc) for doc in stored)
        if not seen:
            return Turn(parts)
        return Turn(parts, answered=True, role=seen[-1].role, reply=seen[-1], read=first.read)

    # ------------------------------------------------------------ the console's event

    def console(self, user: str, event_id: str, payload: dict[str, Any]) -> Turn:
        """A counsellor's message, a hotline card, a place in line, the end of
        the chat: what to tell the user, in order with their own events."""
        if self.handoffs is None or self.client.exists(self.keys.blocked(user)):
            return NOTHING
        handoff, said = self.handoffs.console_messages(payload)
        if payload.get("action") in ("closed", "returned") and handoff is not None:
            if self.records is not None:
                # The console noted it already; again here (idempotent) for any other closer.
                self.records.handoff_ended(handoff)

            def calm(session: Session) -> None:
                # The bot's menu comes back; the chat's urgency is over.
                session.urgent, session.severity, session.reasons = False, None, []

            menu = Event("postback", data=postback_data("menu"))
            stored = self.service.answer(
                user, event_id, menu, lambda reply: [*(p.to_dict() for p in said), Part.of(reply).to_dict()],
                prepare=calm)
            return Turn(tuple(Part.from_dict(doc) for doc in stored))
        return Turn(tuple(said))

    # ------------------------------------------------------------ leaving

    def blocked(self, user: str) -> None:
        """The user blocked the bot: forget the dialogue, end a chat in the
        queue and the consultation, and send nothing until a follow."""
        self.service.forget(user)
        handoffs = self.handoffs
        active = handoffs.active(user) if handoffs is not None else None
        if handoffs is not None:
            handoffs.unfollowed(user)
        if self.records is not None:
            ended = handoffs.queue.get(active.id) if handoffs is not None and active else None
            if ended is not None:
                self.records.handoff_ended(ended)  # its times, up to the block
            self.records.user_left(user, self.clock())
        self.client.set(self.keys.blocked(user), "1", ex=BLOCKED_TTL)

    def group_notice(self) -> Part:
        """Said once in a group or room before the bot leaves it."""
        return Part.text("ja", self.dialogue.catalogs.text("ja", "group.notice"))
