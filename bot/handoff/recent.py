"""What the user saw and did in the last few turns before a handoff, kept as it
was sent, so the transcript a counsellor opens starts with the real exchange
(the bot's words in the language they were sent, the cards and the buttons it
offered, the label of each tap) rather than a re-rendering of the states the
session passed through, which put questions the child never saw, in an order
they never had, before their words.

Least data: what is kept is the bot's own words and the labels of the buttons
the user tapped. A message the user typed is kept as the fact that they wrote
("［文字で入力］"), not its text: nobody has asked for a person yet, and the text
of the message that does ask is recorded by the handoff itself. Sealed (bot.crypto)
under the user's pseudonym, at most ``KEEP`` turns, gone ``TTL_SECONDS`` after
the last one: enough to be copied into the transcript when a handoff opens.

The log is written in the round trip that saves the session (the conversation
core passes ``RedisStorage.on_release``) and read only when a handoff opens.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import redis

from bot.crypto import SealedDataError, Sealer
from bot.storage.keys import KeyBuilder
from dialogs.engine import Event
from dialogs.reply import Reply

log = logging.getLogger(__name__)

#: Turns kept: the handoff's transcript starts with at most these.
KEEP = 6
#: An hour after the last turn nothing is kept: the turns before a handoff are minutes away from it.
TTL_SECONDS = 3600


class RecentTurns:
    """The log of one deployment (all users): ``note`` a turn, ``read`` them back."""

    def __init__(self, client: redis.Redis, keys: KeyBuilder, sealer: Sealer) -> None:
        self._client = client
        self._keys = keys
        self._sealer = sealer

    def entry(self, event_id: str, event: Event, reply: Reply, tap_label: str | None, at: float) -> dict[str, Any]:
        """One turn as the user had it: what they did, and what the bot sent back."""
        did: dict[str, Any] = {"kind": event.kind}
        if event.kind == "postback":
            did["label"] = tap_label or ""
        elif event.kind == "media":
            did["media"] = event.data or ""
        return {
            "event": event_id, "at": at, "did": did, "lang": reply.lang, "texts": list(reply.texts),
            "cards": [{"id": c.id, "name": c.name} for c in reply.cards],
            "choices": [c.label for c in reply.choices],
        }

    def note(self, user: str, entry: dict[str, Any], send: Callable[[Callable[[Any], Any]], None] | None) -> None:
        """Keep ``entry`` (RPUSH, trimmed, TTL renewed), in ``send``'s round trip when
        given (the session's save), else at once."""
        key = self._key(user)
        sealed = self._sealer.seal_text(json.dumps(entry, ensure_ascii=False), self._context(user))

        def write(pipe: Any) -> None:
            pipe.rpush(key, sealed)
            pipe.ltrim(key, -KEEP, -1)
            pipe.expire(key, TTL_SECONDS)

        if send is not None:
            send(write)
            return
        pipe = self._client.pipeline(transaction=False)
        write(pipe)
        pipe.execute()

    def read(self, user: str) -> list[dict[str, Any]]:
        """The turns kept for ``user``, oldest first (re-run events once). A turn that
        does not open (BOT_DATA_KEY changed since) is left out: the handoff must
        open all the same, and the transcript then shows the states instead."""
        found: dict[str, dict[str, Any]] = {}
        for raw in self._client.lrange(self._key(user), 0, -1):
            token = raw.decode("ascii") if isinstance(raw, bytes) else raw
            try:
                entry = json.loads(self._sealer.open_text(token, self._context(user)))
            except (SealedDataError, ValueError):
                log.warning("a kept turn did not open (was BOT_DATA_KEY changed?); it is left out")
                continue
            found.setdefault(str(entry.get("event")), entry)
        return list(found.values())

    def clear(self, user: str) -> None:
        """Forget the kept turns: they are in a handoff's transcript now, and must not
        open the next one as well."""
        self._client.delete(self._key(user))

    def _key(self, user: str) -> str:
        return self._keys.user(user, "recent")

    def _context(self, user: str) -> str:
        return f"recent:{self._keys.pseudonym(user)}"
