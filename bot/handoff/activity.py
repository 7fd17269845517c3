"""Counsellors at work on a claimed chat: their activity restarts its idle
timer, chats left idle are flagged, an alert is cleared once seen, and the
escalation steps (命に関わる) are recorded with who started them."""

from __future__ import annotations

from bot.handoff.model import Handoff, check_name
from bot.handoff.store import QueueStore
from bot.handoff.stored import as_text, encode, ms


class Activity(QueueStore):
    """Counsellor activity and alerts, for a HandoffQueue (bot.handoff.queue)."""

    def touch(self, hid: str, by: str, *, reply: bool = False) -> None:
        """Counsellor activity on a claimed chat: restarts its idle timer; ``reply``
        stamps first_reply_at the first time. Who may act is the console's check."""
        check_name(by)
        now = self._clock()
        self._touch(
            keys=[self._keys.handoff_doc(hid), self._keys.handoff_claimed(), self._keys.handoff_version()],
            args=[hid, encode(now), ms(now), "1" if reply else "0"],
        )

    def clear_alert(self, hid: str) -> None:
        self._clear_alert(keys=[self._keys.handoff_doc(hid), self._keys.handoff_version()])

    def idle_claims(self, idle_seconds: float) -> list[Handoff]:
        """Claimed chats without counsellor activity for ``idle_seconds``, oldest
        activity first; each gets alert="idle" (unless it already has a danger alert)."""
        cutoff = ms(self._clock() - idle_seconds)
        claimed = self._keys.handoff_claimed()
        idle: list[Handoff] = []
        for raw_id in self._client.zrangebyscore(claimed, "-inf", cutoff):
            hid = as_text(raw_id)
            marked = self._mark_idle(
                keys=[self._keys.handoff_doc(hid), claimed, self._keys.handoff_version()],
                args=[hid, cutoff],
            )
            handoff = self.get(hid) if int(marked) else None
            if handoff is not None:
                idle.append(handoff)
        return idle

    def escalate(self, hid: str, by: str) -> None:
        """Record that the escalation steps (命に関わる) were started, and by whom."""
        check_name(by)
        entry = {"at": self._clock(), "from": "system", "by": by, "kind": "event", "text": "",
                 "event": "escalated"}
        self._append_entry(hid, entry, "escalated", "1")
