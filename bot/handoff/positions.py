"""The place in line: where a waiting chat stands, and the place its user was
last told, so that the bridge (bot.handoff.bridge) tells a user only when their
place changed."""

from __future__ import annotations

from bot.handoff.store import QueueStore


class Positions(QueueStore):
    """The place in line, for a HandoffQueue (bot.handoff.queue)."""

    def position(self, hid: str) -> int | None:
        """1-based place among waiting chats; None if it is not waiting."""
        rank = self._client.zrank(self._keys.handoff_waiting(), hid)
        return None if rank is None else int(rank) + 1

    def notified_position(self, hid: str) -> int | None:
        """The place in line the user was last told (None: not told since it last
        entered the line), so the bridge tells only those whose place changed."""
        value = self._client.hget(self._keys.handoff_doc(hid), "notified_position")
        return int(value) if value is not None else None

    def notified_positions(self, hids: list[str]) -> list[int | None]:
        """``notified_position`` of each of ``hids``, in one round trip: the bridge asks
        it of every waiting chat whenever one joins the line."""
        pipe = self._client.pipeline(transaction=False)
        for hid in hids:
            pipe.hget(self._keys.handoff_doc(hid), "notified_position")
        return [int(value) if value is not None else None for value in pipe.execute()]

    def set_notified_position(self, hid: str, position: int) -> None:
        """Remember that the user was told ``position``; ignored unless the chat is waiting."""
        if isinstance(position, bool) or not isinstance(position, int) or position < 1:
            raise ValueError(f"position must be an int >= 1, got {position!r}")
        self._set_notified(keys=[self._keys.handoff_doc(hid), self._keys.handoff_version()],
                           args=[position])

    def forget_notified_position(self, hid: str) -> bool:
        """The user's place was withdrawn (counsellors went off duty and the user was
        told so): the next place is told afresh. True if there was one to forget."""
        return bool(self._client.hdel(self._keys.handoff_doc(hid), "notified_position"))
