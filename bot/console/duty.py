"""Who is on duty now, for the supervisors' administration page: what it can
honestly say, and what it is based on.

No shift rota is kept anywhere, so "on duty" is two separate facts:

- the desk's staffed hours now: the deployment profile's desk hours (what users
  are told), and whether counsellors may read waiting chats now (the read
  policy's margin around those hours: Console.on_duty);
- who is signed in to the console now: accounts with a session whose last own
  action is within the idle limit (bot.console.sessions; the pages' background
  polls do not count as actions), i.e. sessions the console would still accept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.console.accounts import Accounts
from bot.console.actions import Console
from bot.console.auth import ROLE_LABELS
from bot.console.sessions import SessionStore
from dialogs.hours import TOKYO, OpeningHours, format_when

#: Someone whose last action is this recent is shown as working right now (seconds).
ACTIVE_SECONDS = 5 * 60


def duty_now(console: Console, accounts: Accounts, sessions: SessionStore, idle_seconds: int) -> dict[str, Any]:
    """The desk's hours now and the accounts signed in now (see the module's docstring)."""
    runtime = console.runtime
    desk = runtime.dialogue.directory.profile.desk
    now_desk = runtime.clock()
    status = desk.hours.status(now_desk)
    if status.open_now:
        status_text = "受付時間中" + (f"（{format_when(status.closes_at, 'ja', now_desk)} まで）"
                                   if status.closes_at else "")
    else:
        status_text = "受付時間外" + (f"（次は {format_when(status.next_open, 'ja', now_desk)} から）"
                                   if status.next_open else "")
    now = accounts.clock()
    lifetime = sessions.lifetime_seconds
    signed_in = []
    for account in accounts.list():
        if account.disabled:
            continue
        live = [r for r in sessions.open_sessions(account.name)
                if now - r.seen <= idle_seconds and now - r.login_at <= lifetime and r.login_at >= account.not_before]
        if not live:
            continue
        seen = max(r.seen for r in live)
        signed_in.append({
            "name": account.name, "role": account.role, "role_label": ROLE_LABELS.get(account.role, account.role),
            "sessions": len(live), "last_action_at": seen, "last_action_text": _clock(seen),
            "active": now - seen <= ACTIVE_SECONDS,
            "state_label": "操作中" if now - seen <= ACTIVE_SECONDS else f"ログイン中（最後の操作 {int((now - seen) // 60)}分前）",
        })
    idle_minutes = idle_seconds // 60
    return {
        "desk_name": desk.name_in("ja"),
        "desk_open": bool(status.open_now),
        "desk_status": status_text,
        "hours_note": _hours_text(desk.hours),
        "desk_note": desk.hours_note.in_lang("ja") if desk.hours_note is not None else None,
        "counsellors_may_read_waiting": console.on_duty(),
        "signed_in": signed_in,
        "basis": ("受付時間は、この窓口の設定（利用者に案内している受付時間）によるものです。勤務表は管理していないため、"
                  "だれが当番かは表示できません。代わりに、いまコンソールにログインしているアカウント"
                  f"（最後の操作から{idle_minutes}分以内のセッション）を表示します。"
                  "画面を開いたままの自動更新は操作に数えません。"),
    }


_DAYS = "月火水木金土日"


def _hours_text(hours: OpeningHours) -> str:
    """The staffed hours spelled out, e.g. 「月・火・水・木・金・土 14:00〜19:00（祝日・12/29〜1/3は休み）」."""
    if hours.kind == "always":
        return "24時間"
    if hours.kind != "weekly":
        return "決まった受付時間はありません"
    parts = ["・".join(_DAYS[d] for d in sorted(slot.days))
             + f" {slot.open_minute // 60}:{slot.open_minute % 60:02d}〜{slot.close_minute // 60}:{slot.close_minute % 60:02d}"
             for slot in hours.slots]
    closed = (["祝日"] if hours.closed_on_holidays else []) + [
        f"{c.start[0]}/{c.start[1]}〜{c.end[0]}/{c.end[1]}" for c in hours.closures]
    return "、".join(parts) + (f"（{'・'.join(closed)}は休み）" if closed else "")


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, TOKYO).strftime("%Y-%m-%d %H:%M")
