"""The history of a person: every handoff of one pseudonym, so a counsellor who
takes a chat sees that the same child was here an hour ago, closed with 要フォロー,
and what was written then.

The index (KeyBuilder.handoff_history: pseudonym -> ids in the order opened) is
written by the script that opens a handoff (bot.handoff.lua.OPEN). Handoffs
opened before the index existed are put in it once, by the first reader
(``index_history``), user by user in a script that keeps what the index got
meanwhile; a flag says it is done.
"""

from __future__ import annotations

from collections import defaultdict

from bot.handoff.model import Handoff
from bot.handoff.store import QueueStore
from bot.handoff.stored import as_text

#: How many of a person's handoffs are read at most (the newest).
MAX_HISTORY = 100


class History(QueueStore):
    """The person's history of a HandoffQueue (bot.handoff.queue)."""

    _history_indexed = False

    def history(self, user: str, limit: int = MAX_HISTORY) -> list[Handoff]:
        """Every handoff of the pseudonym ``user`` (Handoff.user), newest first."""
        self.index_history()
        ids = (as_text(self._client.hget(self._keys.handoff_history(), user)) or "").split()
        return self._load(list(reversed(ids))[:limit])

    def earlier_ids(self, handoffs: list[Handoff]) -> dict[str, list[str]]:
        """For each handoff, the ids of the same person's handoffs opened before it,
        newest first: the queue's "here before" badge (one round trip for them all)."""
        if not handoffs:
            return {}
        self.index_history()
        users = sorted({h.user for h in handoffs})
        found = dict(zip(users, self._client.hmget(self._keys.handoff_history(), users)))
        out = {}
        for h in handoffs:
            ids = (as_text(found[h.user]) or "").split()
            before = ids[:ids.index(h.id)] if h.id in ids else ids
            out[h.id] = list(reversed(before))[:MAX_HISTORY]
        return out

    def index_history(self) -> None:
        """Put every handoff opened before the history index existed into it, once."""
        if self._history_indexed:
            return
        flag = self._keys.handoff_history_indexed()
        if self._client.exists(flag):
            self._history_indexed = True
            return
        ids = list(dict.fromkeys(
            as_text(i) for key in (self._keys.handoff_waiting(), self._keys.handoff_claimed(),
                                   self._keys.handoff_closed())
            for i in self._client.zrange(key, 0, -1)))
        pipe = self._client.pipeline(transaction=False)
        for hid in ids:
            pipe.hmget(self._keys.handoff_doc(hid), "user", "queued_at")
        per_user: dict[str, list[tuple[float, str]]] = defaultdict(list)
        for hid, (user, queued_at) in zip(ids, pipe.execute() if ids else []):
            if user is not None and queued_at is not None:
                per_user[as_text(user)].append((float(queued_at), hid))
        for user, opened in per_user.items():
            self._history_backfill(keys=[self._keys.handoff_history()],
                                   args=[user, *(hid for _, hid in sorted(opened))])
        self._client.set(flag, b"1")
        self._history_indexed = True
