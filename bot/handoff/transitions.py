"""Moving a handoff through its statuses: opening one (or merging into the
user's open handoff), raising its priority, claim, transfer, requeue, return to
the bot, close, and returning to the bot the open chats nobody touched for too
long. Each change is one Lua script (bot.handoff.lua), so Redis serialises
them: of two counsellors taking one chat at once, exactly one gets it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from typing import Any

from redis.exceptions import RedisError

from bot.handoff.follow_ups import follow_up_due
from bot.handoff.model import ClaimResult, Handoff, check_name, check_reasons, check_severity
from bot.handoff.store import QueueStore
from bot.handoff.stored import as_text, encode, ms, to_json
from bot.privacy import mask_pii_deep

logger = logging.getLogger(__name__)

# open() retries when the user index changed between its read and its script; that
# needs another open() for the same user in that instant, so a few tries suffice.
_OPEN_ATTEMPTS = 20


class Transitions(QueueStore):
    """The status changes of a HandoffQueue (bot.handoff.queue)."""

    # --- opening ------------------------------------------------------------------

    def open(
        self,
        line_user: str,
        *,
        role: str | None,
        level: str | None,
        lang: str,
        category: str | None,
        urgent: bool,
        severity: str | None,
        reasons: Iterable[str],
        identity: str | None = None,
    ) -> Handoff:
        """Queue the user for a counsellor, or merge into the user's open handoff:
        severity only rises (re-scored, alert "danger"), reasons are united, queued_at
        is kept. Idempotent per user, also for two calls at the same instant."""
        return self.open_or_merge(
            line_user, role=role, level=level, lang=lang, category=category, urgent=urgent,
            severity=severity, reasons=reasons, identity=identity,
        )[0]

    def open_or_merge(
        self,
        line_user: str,
        *,
        role: str | None,
        level: str | None,
        lang: str,
        category: str | None,
        urgent: bool,
        severity: str | None,
        reasons: Iterable[str],
        identity: str | None = None,
    ) -> tuple[Handoff, str]:
        """open(), also saying what happened: "created" (a new handoff, tell the user
        their place), "merged" (it was already open) or "raised" (already open and now
        more urgent)."""
        check_severity(severity)
        reasons = check_reasons(reasons)
        user = self._keys.pseudonym(line_user)
        now = self._clock()
        new_id = secrets.token_hex(8)
        doc = {
            "id": new_id, "user": user, "line_user": self._seal(new_id, "line_user", line_user),
            "status": "waiting", "role": role, "level": level, "lang": lang, "category": category,
            "urgent": urgent, "severity": severity, "reasons": list(reasons),
            "identity": self._seal(new_id, "identity", identity) if identity else None,
            "queued_at": now, "touched_at": now, "escalated": False,
        }
        pairs = [item for name, value in doc.items() if value is not None
                 for item in (name, encode(value))]
        by_user = self._keys.handoff_by_user()
        for _ in range(_OPEN_ATTEMPTS):
            expected = as_text(self._client.hget(by_user, user))
            # The script fills a missing identity into the open handoff it merges into
            # (``expected``): sealed for that handoff, so it opens there.
            merge_identity = self._seal(expected, "identity", identity) if identity and expected else ""
            reply = self._open(
                keys=[
                    by_user, self._keys.handoff_waiting(), self._keys.handoff_version(),
                    self._keys.handoff_doc(new_id),
                    self._keys.handoff_doc(expected or new_id),
                    self._keys.handoff_history(),
                ],
                args=[
                    user, expected or "", new_id, encode(now), severity or "", category or "",
                    role or "", level or "", merge_identity, "1" if urgent else "0",
                    len(reasons), *reasons, *pairs,
                ],
            )
            if as_text(reply[0]) != "retry":
                return self._snapshot(reply[2:]), as_text(reply[0])
        raise RuntimeError("open(): the user's handoff index kept changing; try again")

    # --- priority -----------------------------------------------------------------

    def raise_priority(self, hid: str, severity: str | None, reasons: Iterable[str]) -> bool:
        """A new danger signal from crisis triage on an open handoff: it becomes urgent.
        True if the severity rose (the chat moves up); alert="danger" is set when the
        severity rose or a reason is new. A closed or missing handoff is left alone (False)."""
        check_severity(severity)
        reasons = check_reasons(reasons)
        reply = self._raise(
            keys=[self._keys.handoff_doc(hid), self._keys.handoff_waiting(), self._keys.handoff_version()],
            args=[hid, severity or "", len(reasons), *reasons],
        )
        return bool(int(reply[0]))

    # --- claim, hand over, return, close ------------------------------------------

    def claim(self, hid: str, counsellor: str) -> ClaimResult:
        """waiting -> claimed by ``counsellor``. When it is not waiting, ``holder``
        says who has it ("taken"), or it is "closed" / "missing"."""
        return self._move("claim", hid, counsellor, event={"event": "claimed"})

    def transfer(self, hid: str, by: str, to: str, *, force: bool = False) -> ClaimResult:
        """Hand a claimed chat from ``by`` to ``to``. Only the holder may, unless
        ``force`` (a supervisor), which may also assign a waiting chat."""
        check_name(to)
        return self._move("transfer", hid, by, target=to, force=force,
                          event={"event": "transferred", "to": to})

    def requeue(self, hid: str, by: str, *, force: bool = False) -> ClaimResult:
        """claimed -> waiting with its original queued_at, so it gets its place back."""
        return self._move("requeue", hid, by, force=force, event={"event": "requeued"})

    def return_to_bot(self, hid: str, by: str, *, force: bool = False) -> ClaimResult:
        """-> "bot" (final): the bot answers the user again; the user leaves the index."""
        return self._move("bot", hid, by, force=force, event={"event": "returned_to_bot"})

    def close(self, hid: str, by: str, record: dict, *, force: bool = False) -> ClaimResult:
        """claimed -> closed with the closing record (記録簿); the user leaves the index."""
        if not isinstance(record, dict):
            raise TypeError("record must be a dict")
        # The record is kept for good (the report, a later review): phone numbers,
        # e-mail and addresses in its free text never reach it.
        return self._move("close", hid, by, force=force, record=mask_pii_deep(record),
                          event={"event": "closed"}, due=follow_up_due(record, self._clock()))

    def expire_open_before(self, cutoff: float, note: str) -> list[Handoff]:
        """Return to the bot every waiting or claimed chat in which nothing happened
        (no message, no counsellor's action, no transition) since before ``cutoff``
        (epoch seconds): left open, it would never be closed, so never purged, and a
        user writing into a chat nobody holds any more would hear nothing. ``note``
        (Japanese) is what the transcript says happened. Checked and done in one
        script per chat, so a message arriving meanwhile keeps its chat open.
        Returns the chats returned to the bot (by "system")."""
        if not isinstance(note, str) or not note:
            raise ValueError("expire_open_before needs the note the transcript will show")
        ids = [*self._client.zrange(self._keys.handoff_waiting(), 0, -1),
               *self._client.zrange(self._keys.handoff_claimed(), 0, -1)]
        expired = []
        for raw_id in ids:
            result = self._move("expire", as_text(raw_id), "system", cutoff=cutoff,
                                event={"event": "expired", "text": note})
            if result.ok and result.handoff is not None:
                expired.append(result.handoff)
        return expired

    def _take_back(self, log: str, entry: str) -> None:
        try:
            self._client.lrem(log, 1, entry)
        except RedisError as exc:
            logger.warning("handoff transcript: a line of a move not made could not be taken back (%s)",
                           type(exc).__name__)

    def _move(
        self, op: str, hid: str, actor: str, *, event: dict[str, Any], target: str = "",
        force: bool = False, record: dict | None = None, cutoff: float | None = None,
        due: float | None = None,
    ) -> ClaimResult:
        check_name(actor)
        now = self._clock()
        entry = self._seal_entry(hid, {"at": now, "from": "system", "by": actor, "kind": "event", "text": "",
                                       **event})
        keys = self._keys
        # The entry goes first, in the chat's own slot: a move committed by the script
        # then always has its line, in its place among the chat's entries. Taken back
        # when the script makes no move (someone else's claim, a second click, ...).
        log = keys.handoff_transcript(hid)
        self._client.rpush(log, entry)
        # Should the script fail, whether the move was made is unknown: the line stays.
        reply = self._transition(
            keys=[
                keys.handoff_doc(hid), keys.handoff_waiting(), keys.handoff_claimed(),
                keys.handoff_closed(), keys.handoff_by_user(), keys.handoff_version(),
                keys.handoff_follow_ups(),
            ],
            args=[op, hid, actor, target, "1" if force else "0", encode(now), ms(now),
                  to_json(record or {}), encode(cutoff) if cutoff is not None else "",
                  encode(due) if due is not None else ""],
        )
        reason, holder = as_text(reply[0]), as_text(reply[1]) or None
        if reason != "ok":
            self._take_back(log, entry)
        if reason == "same":
            reason = "ok"
        handoff = self._snapshot(reply[2:]) if len(reply) > 2 else None
        return ClaimResult(ok=reason == "ok", handoff=handoff, holder=holder, reason=reason)
