"""What a counsellor can do to a chat, and who may.

The rules, in one place for the API (and so for the pages, which use the API):

- anyone signed in may take (claim) a waiting chat; of two at once, the queue's
  Lua script lets exactly one win and tells the other who has it;
- everything else on a chat belongs to the counsellor holding it; a supervisor
  may do it on any chat (the queue's ``force``);
- messages to the user are never sent from here: they become console events on
  the user's pipeline partition (``runtime.send_to_user``) and the worker pushes
  them in order with the user's own messages;
- whenever the waiting line changes (a claim, a chat put back, closed or returned
  to the bot), the users still waiting hear their new place
  (``bridge.notify_positions``), while the desk is staffed.

Transcript text, names given by teachers and LINE ids are never logged here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.console.accounts import Account, Accounts
from bot.console.canned import Canned
from bot.console.validate import ApiError
from bot.handoff.bridge import notify_positions
from bot.handoff.queue import OPEN_STATUSES, ClaimResult, Handoff

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

MSG_MISSING = "この相談は見つかりません。"
MSG_CLOSED = "この相談はすでに終了しています。"
MSG_TAKEN = "この相談は {holder} さんが対応中です。"
MSG_NOT_HOLDER = "この相談は {holder} さんが対応中です。操作できるのは担当者とスーパーバイザーだけです。"
MSG_NOT_CLAIMED = "まだ誰も担当していません。先に「担当する」を押してください。"
MSG_WAITING_FOR_SUPERVISOR = "待機中の相談です。先に担当者を決めてから送ってください（担当するか、引き継ぎで割り当て）。"


@dataclass
class Console:
    runtime: "Runtime"
    accounts: Accounts
    canned: Canned

    # --- reading ------------------------------------------------------------------

    def handoff(self, hid: str) -> Handoff:
        handoff = self.runtime.queue.get(hid)
        if handoff is None:
            raise ApiError(404, "missing", MSG_MISSING)
        return handoff

    # --- taking and handing on ------------------------------------------------------

    def claim(self, hid: str, account: Account) -> Handoff:
        before = self.handoff(hid)
        result = self.runtime.queue.claim(hid, account.name)
        handoff = self._result(result)
        if before.status == "waiting":
            # A new claim (not the holder's second click): the user hears a person joined.
            # Two clicks at one instant both saw "waiting": the event id names this claim,
            # so the pipeline keeps one of the two notices.
            claim_id = f"xcclaim-{handoff.id}-{int((handoff.claimed_at or 0) * 1000)}"
            self.runtime.send_to_user(handoff, "claimed", event_id=claim_id)
            self._positions_changed()
        log.info("console: %s claimed a chat", account.name)
        return handoff

    def transfer(self, hid: str, account: Account, to: str) -> Handoff:
        target = self.accounts.get(to) if isinstance(to, str) else None
        if target is None or target.disabled:
            raise ApiError(400, "unknown_account", f"引き継ぎ先「{to}」は有効なアカウントではありません。", field="to")
        before = self.handoff(hid)
        if before.status == "claimed" and before.claimed_by == target.name:
            raise ApiError(400, "same_holder", f"{target.name} さんがすでに担当しています。", field="to")
        result = self.runtime.queue.transfer(hid, account.name, target.name, force=account.is_supervisor)
        handoff = self._result(result)
        if before.status == "waiting":
            # A supervisor assigned a waiting chat: for the user, a person joined.
            self.runtime.send_to_user(handoff, "claimed")
            self._positions_changed()
        log.info("console: %s transferred a chat to %s", account.name, target.name)
        return handoff

    def requeue(self, hid: str, account: Account) -> Handoff:
        self.handoff(hid)
        handoff = self._result(self.runtime.queue.requeue(hid, account.name, force=account.is_supervisor))
        # The user was told a person had joined: say truthfully what happens now.
        self.runtime.send_to_user(handoff, "requeued")
        self._positions_changed()
        return handoff

    def return_to_bot(self, hid: str, account: Account) -> Handoff:
        self.handoff(hid)
        handoff = self._result(self.runtime.queue.return_to_bot(hid, account.name, force=account.is_supervisor))
        self.runtime.records.handoff_ended(handoff)  # the consultation's record: times, end
        self.runtime.send_to_user(handoff, "returned")
        self._positions_changed()
        return handoff

    def close(self, hid: str, account: Account, record: dict[str, Any]) -> Handoff:
        before = self.handoff(hid)
        self._may_act(before, account)
        handoff = self._result(self.runtime.queue.close(hid, account.name, record, force=account.is_supervisor))
        self.runtime.records.handoff_ended(handoff)  # the consultation's record: times, 記録簿, end
        self.runtime.send_to_user(handoff, "closed")
        self._positions_changed()
        log.info("console: %s closed a chat with its record", account.name)
        return handoff

    # --- talking --------------------------------------------------------------------

    def reply(self, hid: str, account: Account, text: str) -> Handoff:
        handoff = self._talking(hid, account)
        queue = self.runtime.queue
        queue.append(hid, {"from": "counsellor", "by": account.name, "kind": "text", "text": text})
        queue.touch(hid, account.name, reply=True)
        self.runtime.send_to_user(handoff, "message", {"text": text})
        return self.handoff(hid)

    def card(self, hid: str, account: Account, hotline: str) -> Handoff:
        handoff = self._talking(hid, account)
        directory = self.runtime.dialogue.directory
        queue = self.runtime.queue
        queue.append(hid, {"from": "counsellor", "by": account.name, "kind": "card", "hotline": hotline,
                           "text": directory.get(hotline).name_in("ja")})
        queue.touch(hid, account.name)
        self.runtime.send_to_user(handoff, "card", {"hotline": hotline})
        return self.handoff(hid)

    def note(self, hid: str, account: Account, text: str) -> Handoff:
        """A private note: in the transcript for counsellors, never sent to the user.
        Also on a finished chat, by whoever closed it or a supervisor (follow-up)."""
        handoff = self.handoff(hid)
        if handoff.status in OPEN_STATUSES:
            self._may_act(handoff, account, need_claimed=False)
        elif not (account.is_supervisor or handoff.closed_by == account.name):
            raise ApiError(403, "not_holder", "終了した相談にメモを残せるのは、終了した相談員とスーパーバイザーだけです。")
        queue = self.runtime.queue
        queue.append(hid, {"from": "note", "by": account.name, "kind": "text", "text": text})
        if handoff.status == "claimed":
            queue.touch(hid, account.name)
        return self.handoff(hid)

    def escalate(self, hid: str, account: Account) -> Handoff:
        """命に関わる: record that the escalation steps were started (who, when)."""
        handoff = self.handoff(hid)
        self._may_act(handoff, account, need_claimed=False)
        self.runtime.queue.escalate(hid, account.name)
        if handoff.status == "claimed":
            self.runtime.queue.touch(hid, account.name)
        log.warning("console: %s started the escalation steps for a chat", account.name)
        return self.handoff(hid)

    def clear_alert(self, hid: str, account: Account) -> Handoff:
        """The holder (or a supervisor) has seen the alert (a new danger signal, idleness)."""
        handoff = self.handoff(hid)
        self._may_act(handoff, account, need_claimed=False)
        self.runtime.queue.clear_alert(hid)
        return self.handoff(hid)

    # --- rules ----------------------------------------------------------------------

    def _talking(self, hid: str, account: Account) -> Handoff:
        """A message to the user: only on a claimed chat (the user was told a person
        joined), by its holder or a supervisor."""
        handoff = self.handoff(hid)
        self._may_act(handoff, account)
        return handoff

    def _may_act(self, handoff: Handoff, account: Account, *, need_claimed: bool = True) -> None:
        if handoff.status not in OPEN_STATUSES:
            raise ApiError(409, "closed", MSG_CLOSED)
        holder = handoff.claimed_by if handoff.status == "claimed" else None
        if holder == account.name:
            return
        if holder is not None and not account.is_supervisor:
            raise ApiError(403, "not_holder", MSG_NOT_HOLDER.format(holder=holder), holder=holder)
        if holder is None and need_claimed:
            if account.is_supervisor:
                raise ApiError(409, "not_claimed", MSG_WAITING_FOR_SUPERVISOR)
            raise ApiError(409, "not_claimed", MSG_NOT_CLAIMED)
        if holder is None and not account.is_supervisor:
            raise ApiError(409, "not_claimed", MSG_NOT_CLAIMED)

    @staticmethod
    def _result(result: ClaimResult) -> Handoff:
        if result.ok and result.handoff is not None:
            return result.handoff
        if result.reason == "missing" or result.handoff is None:
            raise ApiError(404, "missing", MSG_MISSING)
        if result.reason == "taken":
            raise ApiError(409, "taken", MSG_TAKEN.format(holder=result.holder), holder=result.holder)
        if result.reason == "closed":
            raise ApiError(409, "closed", MSG_CLOSED)
        if result.reason == "not_holder":
            if result.holder:
                raise ApiError(403, "not_holder", MSG_NOT_HOLDER.format(holder=result.holder),
                               holder=result.holder)
            raise ApiError(409, "not_claimed", MSG_NOT_CLAIMED)
        raise ApiError(409, result.reason, MSG_CLOSED)

    def _positions_changed(self) -> None:
        runtime = self.runtime
        notify_positions(runtime.queue, runtime.send_to_user, runtime.desk_open())
