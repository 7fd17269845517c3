"""What a counsellor can do to a chat, and who may.

The rules, in one place for the API (and so for the pages, which use the API):

- who may read a chat (its transcript, images, a teacher's identity) is the
  deployment profile's ``read_policy`` (dialogs.directory.ReadPolicy), by the
  chat's status; Hyogo's and the default: a waiting chat, counsellors on duty (the
  desk's staffed hours) and supervisors; a claimed one, its holder and supervisors;
  a closed one, those who took, were handed or closed it, and supervisors;
- anyone who may read a waiting chat may take (claim) it (so taking it is never a
  way round the policy); of two at once, the queue's Lua script lets exactly one
  win and tells the other who has it;
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
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.console.accounts import Account, Accounts
from bot.console.canned import Canned
from bot.console.own_canned import OwnCanned
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
#: Why a chat may not be read: who may, in the words of the profile's read_policy.
MSG_NOT_READABLE = "{state}を読めるのは、{readers}です。"
MSG_STATE = {"waiting": "待機中の相談", "claimed": "対応中の相談", "closed": "終了した相談"}
MSG_READERS = {"on_duty": "受付時間中の相談員", "counsellors": "相談員", "holder": "担当者",
               "handlers": "対応した相談員", "supervisors": "スーパーバイザー"}


@dataclass
class Console:
    runtime: "Runtime"
    accounts: Accounts
    canned: Canned

    @property
    def own_canned(self) -> OwnCanned:
        """Each account's own canned replies (bot.console.own_canned)."""
        return OwnCanned(self.runtime.client, self.runtime.keys, self.runtime.epoch)

    # --- reading ------------------------------------------------------------------

    def handoff(self, hid: str) -> Handoff:
        handoff = self.runtime.queue.get(hid)
        if handoff is None:
            raise ApiError(404, "missing", MSG_MISSING)
        return handoff

    def readable(self, hid: str, account: Account) -> Handoff:
        """The chat, if the read policy lets ``account`` read it; else 403 (404 if missing)."""
        handoff = self.handoff(hid)
        if not self.may_read(handoff, account):
            readers = self.runtime.dialogue.directory.profile.read_policy.readers(handoff.status)
            state = MSG_STATE.get(handoff.status, MSG_STATE["closed"])
            message = (MSG_NOT_READABLE.format(state=state, readers="と".join(MSG_READERS[r] for r in readers))
                       if readers else f"{state}は、この設定ではだれも読めません。")
            if handoff.status == "claimed" and handoff.claimed_by:
                message = MSG_TAKEN.format(holder=handoff.claimed_by) + message
            raise ApiError(403, "not_allowed", message)
        return handoff

    def may_read(self, handoff: Handoff, account: Account) -> bool:
        """The profile's read policy for this chat's status and this account."""
        policy = self.runtime.dialogue.directory.profile.read_policy
        readers = policy.readers(handoff.status)
        if "supervisors" in readers and account.is_supervisor:
            return True
        if "counsellors" in readers:
            return True
        if "holder" in readers and handoff.status == "claimed" and handoff.claimed_by == account.name:
            return True
        if "handlers" in readers and account.name in handlers_of(handoff):
            return True
        return "on_duty" in readers and self.on_duty()

    def on_duty(self) -> bool:
        """Are counsellors on duty now? The desk's staffed hours (the profile's desk.hours,
        what users are told too), widened by the policy's margin on both sides. No shift
        rota is kept: who is at the desk is the desk's hours, not a person's status."""
        runtime = self.runtime
        profile = runtime.dialogue.directory.profile
        now = runtime.clock()
        margin = timedelta(minutes=profile.read_policy.on_duty_margin_minutes)
        hours = profile.desk.hours
        # Three instants: enough for margins shorter than the shortest staffed slot.
        return any(hours.is_open(at) for at in {now, now - margin, now + margin})

    # --- taking and handing on ------------------------------------------------------

    def claim(self, hid: str, account: Account) -> Handoff:
        before = self.handoff(hid)
        if before.status == "waiting":
            # Taking a chat shows it: whoever may not read it may not take it either.
            self.readable(hid, account)
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


def handlers_of(handoff: Handoff) -> frozenset[str]:
    """Who handled the chat: took it, was handed it, closed it (the queue keeps the
    list; holder and closer are added for handoffs from before it did). "system"
    (the bot's own moves) is nobody."""
    names = {*handoff.handlers, handoff.claimed_by, handoff.closed_by}
    return frozenset(n for n in names if n and n != "system")
