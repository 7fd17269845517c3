"""One queued LINE event, answered: the worker's handler, LINE's adapter.

For each event the pipeline hands over (in order, one user at a time):

1. translate it (bot.line.events);
2. take a turn of the conversation core (bot.conversation): the session,
   the blocked flag, the handoff, the outbox and the records are its work;
3. render what it says as LINE messages (bot.line.render) and deliver them:
   the reply token while fresh, otherwise a push with a retry key derived
   from the event, so a retried push is delivered once. Only then does the
   worker acknowledge the event.

A group or room gets one short notice, then the bot leaves. Nothing here
logs message text or LINE ids in clear.
"""

from __future__ import annotations

import json
import logging
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Iterable

import redis

from bot.content import Part
from bot.conversation.core import Conversation, Language
from bot.line.events import Incoming, translate
from bot.line.loading import LoadingIndicator
from bot.line.render import CardLabels, render
from bot.line.sender import LineApiError, Sender
from bot.line.usermenu import UserMenus
from bot.pipeline.worker import Entry, RetryLater
from bot.storage.keys import KeyBuilder
from dialogs.reply import Reply

log = logging.getLogger(__name__)

#: How long a cached profile language is kept.
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
    core: Conversation
    sender: Sender
    client: redis.Redis
    keys: KeyBuilder
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
            assert incoming.user_id is not None
            self.client.delete(self.keys.profile_language(incoming.user_id))
            self.core.blocked(incoming.user_id)
        elif incoming.action == "group":
            self._group(incoming)
        elif incoming.action == "console":
            assert incoming.user_id is not None and incoming.console is not None
            turn = self.core.console(incoming.user_id, incoming.event_id, incoming.console)
            if turn.parts:
                self._send(incoming, turn.parts)

    def _dialogue(self, incoming: Incoming) -> None:
        user = incoming.user_id
        assert user is not None and incoming.event is not None
        menu_key = (self.menus.linked_key(user),) if self.menus is not None else ()
        with self._preparing(incoming, incoming.event.kind):
            turn = self.core.turn(user, incoming.event_id, incoming.event, message_id=incoming.message_id,
                                  language=Language(self.keys.profile_language(user),
                                                    lambda: self._ask_language(user)),
                                  read=menu_key)
        if turn.parts:
            self._send(incoming, turn.parts)
        if self.menus is not None and turn.answered and turn.read is not None:
            self.menus.follow_role(user, turn.role, turn.read[menu_key[0]])

    def _preparing(self, incoming: Incoming, kind: str) -> AbstractContextManager[object]:
        """The loading animation, should the answer to a text take longer than a moment."""
        if self.loading is None or kind != "text" or incoming.user_id is None:
            return nullcontext()
        return self.loading.while_preparing(incoming.user_id, incoming.timestamp_ms)

    def _send(self, incoming: Incoming, parts: Iterable[Part]) -> None:
        user = incoming.user_id
        assert user is not None
        outcome = self.sender.deliver(
            user,
            [m for part in parts for m in self._render_json(part)],
            reply_token=incoming.reply_token,
            token_issued_at=incoming.timestamp_ms / 1000 if incoming.timestamp_ms else None,
            retry_key_seed=incoming.event_id,
        )
        if not outcome.delivered:
            if outcome.retryable:
                raise LineUnavailable(outcome.describe())
            raise DeliveryFailed(outcome.describe())

    def _ask_language(self, user: str) -> str | None:
        """The LINE profile language, asked of LINE once per user and cached (the
        core reads the cache, bot.conversation.core.Language)."""
        key = self.keys.profile_language(user)
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

    # ------------------------------------------------------------ groups

    def _group(self, incoming: Incoming) -> None:
        assert incoming.source_type and incoming.source_id
        if incoming.reply_token:
            notice = self.core.group_notice()
            self.sender.deliver_to_group(incoming.reply_token, "\n".join(notice.texts))
        self.sender.leave(incoming.source_type, incoming.source_id)

    def __post_init__(self) -> None:
        # Many users meet the same answer (the same question, language and minute),
        # and building it through the SDK's validating models costs more than the
        # dialogue step itself: each distinct answer is rendered once per worker.
        self._rendered = lru_cache(maxsize=RENDER_CACHE_SIZE)(self._render_text)

    def _render_json(self, part: Part) -> list[dict[str, Any]]:
        """LINE messages as JSON dicts, as the sender takes them."""
        # A fresh copy each time: the sender may change what it is given.
        return json.loads(self._rendered(part.lang, part.texts, part.cards, part.choices))

    def _render_text(self, lang: str, texts: tuple, cards: tuple, choices: tuple) -> str:
        """The answer's LINE messages as a JSON text; the arguments are all ``render`` reads."""
        labels = CardLabels.from_catalog(self.core.dialogue.catalogs, lang)
        reply = Reply(texts=texts, cards=cards, choices=choices, state="", lang=lang)
        return json.dumps([m.to_dict() for m in render(reply, labels)], ensure_ascii=False)
