"""The 要フォロー list: closed chats whose closing record asks for a follow-up
that nobody has marked done yet, ordered by the day it is due.

A follow-up is what a counsellor promised or planned when closing a chat ("call
the school on Monday", "check in with the child after the weekend"): if it is
written only in a record nobody opens again, a shift change loses it. The
close transition puts the chat on the list in the same script that closes it
(bot.handoff.lua.TRANSITION); marking it done takes it off and keeps who and
when on the handoff, for good like its record.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from bot.handoff.model import Handoff, check_name
from bot.handoff.store import QueueStore
from bot.handoff.stored import as_text, encode
from dialogs.hours import TOKYO


def follow_up_due(record: dict[str, Any] | None, now: float) -> float | None:
    """When the record's follow-up is due (Tokyo midnight of its day, epoch seconds),
    or None when it asks for none. The console's validation (close_record) gave it
    a day; a record written without one is due the day it is written (``now``)."""
    follow = (record or {}).get("follow_up")
    if not isinstance(follow, dict) or follow.get("needed") is not True:
        return None
    try:
        day = date.fromisoformat(follow.get("due") or "")
    except (TypeError, ValueError):
        day = datetime.fromtimestamp(now, TOKYO).date()
    return datetime.combine(day, time(0), tzinfo=TOKYO).timestamp()


class FollowUps(QueueStore):
    """The list of a HandoffQueue (bot.handoff.queue)."""

    def follow_ups(self, limit: int = 200) -> list[tuple[Handoff, float]]:
        """(handoff, due at) for every follow-up not yet done, the earliest due first."""
        found = self._client.zrange(self._keys.handoff_follow_ups(), 0, limit - 1, withscores=True)
        due = {as_text(hid): float(score) for hid, score in found}
        return [(h, due[h.id]) for h in self._load(due)]

    def follow_ups_among(self, hids: list[str]) -> set[str]:
        """Which of ``hids`` have a follow-up not yet done (one round trip)."""
        if not hids:
            return set()
        scores = self._client.zmscore(self._keys.handoff_follow_ups(), hids)
        return {hid for hid, score in zip(hids, scores) if score is not None}

    def follow_up_done(self, hid: str, by: str) -> bool:
        """Mark the chat's follow-up done. False when it was not on the list (already
        done by someone else a moment ago, or never asked for)."""
        check_name(by)
        done = self._follow_up_done(
            keys=[self._keys.handoff_follow_ups(), self._keys.handoff_doc(hid), self._keys.handoff_version()],
            args=[hid, by, encode(float(self._clock()))],
        )
        return bool(int(done))
