"""One queued LINE event, answered: the worker's handler.

For each event the pipeline hands over (in order, one user at a time):

1. translate it (bot.line.events);
2. a user event goes through the dialogue once (ConsultationService.answer
   keeps the rendered answer with the session until it is delivered, so a
   redelivered or reclaimed event is re-sent, never re-answered);
3. deliver it: the reply token while fresh, otherwise a push with a retry key
   derived from the event, so a retried push is delivered once;
4. forget the copy. Only then does the worker acknowledge the event.

A user who blocked the bot (unfollow) loses their session and gets no push
until they follow again. A group or room gets one short notice, then the bot
leaves. Nothing here logs message text or LINE ids in clear.
"""

from __future__ import annotations

import json
import logging
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any, Callable, Mapping

import redis

from bot.handoff.bridge import HandoffBridge
from bot.line.events import Incoming, translate
from bot.line.loading import LoadingIndicator
from bot.line.render import CardLabels, render
from bot.line.sender import LineApiError, Sender
from bot.line.usermenu import UserMenus
from bot.pipeline.worker import Entry, RetryLater
from bot.records.book import RecordBook
from bot.service import ConsultationService
from bot.storage.keys import KeyBuilder
from dialogs.engine import Event, postback_data
from dialogs.reply import Reply
from dialogs.session import Session

log = logging.getLogger(__name__)

#: How long a blocked flag and a cached profile language are kept.
BLOCKED_TTL = 400 * 24 * 3600
LANGUAGE_TTL = 30 * 24 * 3600
#: Distinct rendered answers kept per worker (a few hundred states x languages x minutes).
RENDER_CACHE_SIZE = 4096


class DeliveryFailed(RuntimeError):
    """LINE refused the answer for what it is (a 4xx): counted toward the
    dead-letter limit, since sending it again the same way will not help."""


class LineUnavailable(RetryLater):
    """LINE did not answer or was overloaded: try again later, without limit."""


@dataclass
class LineHandler:
    service: ConsultationService
    sender: Sender
    client: redis.Redis
    keys: KeyBuilder
    clock: Callable[[], datetime]
    #: The handoff queue's side of each event (None: no counsellors, tests of the pipeline alone).
    bridge: HandoffBridge | None = None
    #: The consultation records (None: tests of the pipeline alone).
    records: RecordBook | None = None
    #: LINE's loading animation while a slow answer to a text is prepared (None: never shown).
    loading: LoadingIndicator | None = None
    #: The per-user rich menu, switched when the dialogue learns the role (None: the default for all).
    menus: UserMenus | None = None

    def __call__(self, entry: Entry) -> None:
        # The pipeline's event id names the entry everywhere (outbox, retry keys).
        incoming = replace(translate(dict(entry.event)), event_id=entry.event_id)
        if incoming.action == "dialogue":
            self._dialogue(incoming)
        elif incoming.action == "unfollow":
            self._unfollow(incoming)
        elif incoming.action == "group":
            self._group(incoming)
        elif incoming.action == "console" and self.bridge is not None:
            self._console(incoming)

    # ------------------------------------------------------------ users

    def _dialogue(self, incoming: Incoming) -> None:
        user = incoming.user_id
        assert user is not None and incoming.event is not None
        event = incoming.event
        if event.kind == "follow":
            self.client.delete(self.keys.blocked(user))
        elif self.client.exists(self.keys.blocked(user)):
            # The user blocked the bot: keep nothing, send nothing, until a follow.
            return
        event = Event(event.kind, event.text, event.data, lang=self._language(user))
        active = self.bridge.active(user) if self.bridge is not None else None
        if self.bridge is not None and active is not None and active.status == "claimed":
            # A counsellor has the chat: the dialogue stays quiet (triage does not).
            texts = self.bridge.with_counsellor(active, incoming)
            if texts:
                self._send(incoming, [{"type": "text", "text": t} for t in texts])
            return
        render = self._render_json
        if self.bridge is not None:
            bridge = self.bridge

            def render(reply: Reply) -> list[dict[str, Any]]:
                return self._render_json(bridge.after_reply(user, incoming, reply, active))

        if self.records is not None:
            render = self._recording(user, incoming.event_id, render)
        roles: list[str | None] = []  # the role the dialogue knows after this event (rich menu)
        answer_render = render

        def noting_role(reply: Reply) -> list[dict[str, Any]]:
            roles.append(reply.role)
            return answer_render(reply)

        with self._preparing(incoming, event.kind):
            messages = self.service.answer(user, incoming.event_id, event, noting_role)
        self._send(incoming, messages)
        self.service.delivered(user, incoming.event_id)
        if self.menus is not None and roles:
            self.menus.follow_role(user, roles[-1])

    def _preparing(self, incoming: Incoming, kind: str) -> AbstractContextManager[object]:
        """The loading animation, should the answer to a text take longer than a moment."""
        if self.loading is None or kind != "text" or incoming.user_id is None:
            return nullcontext()
        return self.loading.while_preparing(incoming.user_id, incoming.timestamp_ms)

    def _recording(self, user: str, event_id: str,
                   render: Callable[[Reply], list[dict[str, Any]]]) -> Callable[[Reply], list[dict[str, Any]]]:
        """``render``, then the answer noted in the consultation's record. Only a new
        answer is rendered (service.answer keeps it with the session), and the record
        skips an event id it already holds, so a re-run event counts once."""
        records = self.records
        assert records is not None

        def noted(reply: Reply) -> list[dict[str, Any]]:
            messages = render(reply)
            now = self.clock()
            records.note_answer(user, reply, now, self.service.dialogue.desk_open(now), event_id)
            if reply.handoff and self.bridge is not None:
                records.note_handoff(user, self.bridge.active(user))
            return messages

        return noted

    def _send(self, incoming: Incoming, messages: list[dict[str, Any]]) -> None:
        user = incoming.user_id
        assert user is not None
        outcome = self.sender.deliver(
            user,
            messages,
            reply_token=incoming.reply_token,
            token_issued_at=incoming.timestamp_ms / 1000 if incoming.timestamp_ms else None,
            retry_key_seed=incoming.event_id,
        )
        if not outcome.delivered:
            if outcome.retryable:
                raise LineUnavailable(outcome.describe())
            raise DeliveryFailed(outcome.describe())

    def _console(self, incoming: Incoming) -> None:
        """A counsellor's message, a hotline card, a place in line, the end of
        the chat: pushed (retry key from the event), in order with the user's
        own events."""
        user = incoming.user_id
        assert user is not None and incoming.console is not None and self.bridge is not None
        if self.client.exists(self.keys.blocked(user)):
            return
        handoff, said = self.bridge.console_messages(incoming.console)
        if incoming.console.get("action") in ("closed", "returned") and handoff is not None:
            if self.records is not None:
                # The console noted it already; again here (idempotent) for any other closer.
                self.records.handoff_ended(handoff)
            # The bot's menu comes back; the chat's urgency is over.
            def calm(session: Session) -> None:
                session.urgent, session.severity, session.reasons = False, None, []

            event = Event("postback", data=postback_data("menu"))
            messages = self.service.answer(
                user, incoming.event_id, event, lambda reply: [*said, *self._render_json(reply)], prepare=calm)
            self._send(incoming, messages)
            self.service.delivered(user, incoming.event_id)
            return
        if said:
            self._send(incoming, said)

    def _language(self, user: str) -> str | None:
        """The LINE profile language, asked of LINE once per user and cached."""
        key = self.keys.profile_language(user)
        cached = self.client.get(key)
        if cached is not None:
            value = cached.decode() if isinstance(cached, bytes) else str(cached)
            return value or None
        try:
            lang = self.sender.profile_language(user)
        except LineApiError as exc:
            if exc.retryable:
                raise LineUnavailable(f"profile: {exc}") from exc
            # LINE refused the profile for another reason: answer in the default
            # language now rather than not at all; ask again next time.
            log.warning("line profile refused (status %s): answering in the default language", exc.status)
            return None
        self.client.set(key, lang or "", ex=LANGUAGE_TTL)
        return lang

    def _unfollow(self, incoming: Incoming) -> None:
        user = incoming.user_id
        assert user is not None
        self.service.forget(user)
        active = self.bridge.active(user) if self.bridge is not None else None
        if self.bridge is not None:
            self.bridge.unfollowed(user)
        if self.records is not None:
            ended = self.bridge.queue.get(active.id) if self.bridge is not None and active else None
            if ended is not None:
                self.records.handoff_ended(ended)  # its times, up to the block
            self.records.user_left(user, self.clock())
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self.keys.profile_language(user))
        pipe.set(self.keys.blocked(user), "1", ex=BLOCKED_TTL)
        pipe.execute()

    # ------------------------------------------------------------ groups

    def _group(self, incoming: Incoming) -> None:
        assert incoming.source_type and incoming.source_id
        if incoming.reply_token:
            notice = self.service.dialogue.catalogs.text("ja", "group.notice")
            self.sender.deliver_to_group(incoming.reply_token, notice)
        self.sender.leave(incoming.source_type, incoming.source_id)

    def __post_init__(self) -> None:
        # Many users meet the same answer (the same question, language and minute),
        # and building it through the SDK's validating models costs more than the
        # dialogue step itself: each distinct answer is rendered once per worker.
        self._rendered = lru_cache(maxsize=RENDER_CACHE_SIZE)(self._render_text)

    def _render_json(self, reply: Reply) -> list[dict[str, Any]]:
        """LINE messages as JSON, so the answer can be kept with the session."""
        # A fresh copy each time: the answer is stored and sent by code that may change it.
        return json.loads(self._rendered(reply.lang, reply.texts, reply.cards, reply.choices))

    def _render_text(self, lang: str, texts: tuple, cards: tuple, choices: tuple) -> str:
        """The answer's LINE messages as a JSON text; the arguments are all ``render`` reads."""
        labels = CardLabels.from_catalog(self.service.dialogue.catalogs, lang)
        reply = Reply(texts=texts, cards=cards, choices=choices, state="", lang=lang)
        return json.dumps([m.to_dict() for m in render(reply, labels)], ensure_ascii=False)
