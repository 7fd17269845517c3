"""The console's JSON API under /api/ (the pages use it; so can scripts, with a token).

Every route needs an enabled account, by session (plus the CSRF token on a POST)
or ``Authorization: Bearer <personal token>`` (bot.console.auth). Answers are
JSON; a refusal is ``{"error": code, "message": Japanese text, ...}`` with a 4xx
status, never a 500 for bad input. The routes, their bodies and curl examples
are in docs/console-api.md.

Reading follows the profile's read policy (bot.console.actions): a chat's
transcript and images answer 403 to whoever it does not let read them; lists
show every waiting and claimed chat (who has what is how the desk works
together) without a teacher's identity unless the reader may read the chat, and
closed chats only to those who may read them.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException

from bot.console import own_canned, present
from bot.console.actions import Console
from bot.console.audit import record_action, record_read
from bot.console.auth import current_account, login_required
from bot.console.validate import (
    MAX_NOTE_CHARS,
    MAX_REPLY_CHARS,
    ApiError,
    close_record,
    hotline_field,
    json_body,
    text_field,
)
from bot.crypto import SealedDataError

log = logging.getLogger(__name__)

bp = Blueprint("console_api", __name__, url_prefix="/api")

CONSOLE_EXTENSION = "netsoudan.console"
LIST_STATUSES = ("waiting", "claimed", "closed")
MAX_LIST = 200
_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def console() -> Console:
    return current_app.extensions[CONSOLE_EXTENSION]


def _account():
    account = current_account()
    assert account is not None  # login_required ran first
    return account


def _now() -> float:
    # The runtime's clock in epoch seconds: the one the queue stamps by, so waiting
    # times agree with it (serve --at shifts or fixes it).
    return console().runtime.epoch()


def _hid(hid: str) -> str:
    if not _ID_RE.fullmatch(hid):
        raise ApiError(404, "missing", "この相談は見つかりません。")
    return hid


def _done(handoff, **extra: Any) -> ResponseReturnValue:
    return jsonify(ok=True, handoff=_shown(handoff, _now()), **extra)


def _shown(handoff, now: float) -> dict[str, Any]:
    """One chat as this account may see it (a teacher's identity only to its readers)."""
    return present.handoff_json(handoff, now, readable=console().may_read(handoff, _account()))


# --- errors ------------------------------------------------------------------------

@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> ResponseReturnValue:
    return jsonify(exc.to_json()), exc.status


@bp.errorhandler(SealedDataError)
def _not_opened(exc: SealedDataError) -> ResponseReturnValue:
    # The operator's fix is in the message (the same BOT_DATA_KEY everywhere); it names no person.
    log.error("console: %s", exc)
    return jsonify(error="sealed",
                   message="保存された相談を開けませんでした（サーバーの暗号鍵の設定）。管理者に連絡してください。"), 500


@bp.errorhandler(RedisError)
def _redis_down(_exc: RedisError) -> ResponseReturnValue:
    return jsonify(error="unavailable",
                   message="データベースに接続できませんでした。少し待ってから、もう一度操作してください。"), 503


@bp.app_errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    """Under /api/ even a wrong path or method answers JSON; elsewhere nothing changes."""
    if not (request.path == "/api" or request.path.startswith("/api/")):
        return exc
    messages = {404: "そのAPIはありません。", 405: "このAPIはその方法（メソッド）では使えません。",
                400: "リクエストの形が正しくありません。"}
    response = jsonify(error=exc.name.lower().replace(" ", "_"),
                       message=messages.get(exc.code or 0, exc.description or exc.name))
    response.status_code = exc.code or 500
    if exc.code == 405 and exc.response is None:
        allowed = getattr(exc, "valid_methods", None)
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
    return response


# --- reading -----------------------------------------------------------------------

@bp.get("/handoffs")
@login_required
def list_handoffs() -> ResponseReturnValue:
    status = request.args.get("status", "waiting")
    if status not in LIST_STATUSES:
        raise ApiError(400, "bad_value", f"status は {' / '.join(LIST_STATUSES)} のどれかです。",
                       field="status", allowed=list(LIST_STATUSES))
    limit_raw = request.args.get("limit", str(MAX_LIST))
    if not limit_raw.isdigit() or not 1 <= int(limit_raw) <= MAX_LIST:
        raise ApiError(400, "bad_value", f"limit は 1〜{MAX_LIST} の数です。", field="limit")
    c = console()
    queue = c.runtime.queue
    account = _account()
    now = _now()
    version = queue.version()
    handoffs = queue.list(status, int(limit_raw))
    if status == "closed":
        # The history of finished chats is for those who may read them (policy "closed").
        handoffs = [h for h in handoffs if c.may_read(h, account)]
    earlier = queue.earlier_ids(handoffs)
    pending = queue.follow_ups_among(sorted({i for ids in earlier.values() for i in ids}))
    return jsonify(status=status, version=version, now=now,
                   handoffs=[{**_shown(h, now), "earlier": len(earlier[h.id]),
                              "earlier_follow_up": any(i in pending for i in earlier[h.id])}
                             for h in handoffs])


@bp.get("/handoffs/<hid>")
@login_required
def show_handoff(hid: str) -> ResponseReturnValue:
    since_raw = request.args.get("since", "0")
    if not since_raw.isdigit():
        raise ApiError(400, "bad_value", "since は 0 以上の数です。", field="since")
    c = console()
    account = _account()
    handoff = c.readable(_hid(hid), account)  # the profile's read policy, else 403
    directory = c.runtime.dialogue.directory
    entries = c.runtime.queue.transcript(hid)
    transcript = present.transcript_json(entries, hid, directory, start=int(since_raw))
    if transcript or not int(since_raw):
        # Audited before anything is shown; no log, no transcript (strict: 503). A poll
        # that brings nothing new shows nothing to record; a read is one entry per
        # chat, sign-in and quarter hour (audit.record_read).
        record_read("view_transcript", handoff_id=hid, since=int(since_raw))
    return jsonify(
        handoff=present.handoff_json(handoff, _now(), readable=True),
        version=c.runtime.queue.version(),
        transcript=transcript,
        transcript_length=len(entries),
        notes=[e for e in transcript if e["from"] == "note"],
        images=[{"n": e["image"], "url": e["image_url"], "at": e["at"]}
                for e in present.transcript_json(entries, hid, directory) if "image_url" in e],
        record=present.record_json(handoff.record, directory),
        identity=handoff.identity,
        can_act=handoff.status in ("waiting", "claimed")
        and (handoff.claimed_by == account.name and handoff.status == "claimed" or account.is_supervisor),
    )


@bp.get("/handoffs/<hid>/history")
@login_required
def handoff_history(hid: str) -> ResponseReturnValue:
    """The same person's earlier chats, newest first: when, what, how urgent, who
    answered, the closing record, the follow-up and the counsellors' notes. For
    whoever may read this chat: what the desk wrote then is what the one answering
    now needs. An earlier transcript itself stays under the read policy (``can_read``
    says whether its page opens)."""
    c = console()
    account = _account()
    handoff = c.readable(_hid(hid), account)
    queue = c.runtime.queue
    earlier = [h for h in queue.history(handoff.user) if h.queued_at < handoff.queued_at and h.id != handoff.id]
    record_read("view_history", handoff_id=hid, what="history", chats=len(earlier))
    pending = queue.follow_ups_among([h.id for h in earlier])
    directory = c.runtime.dialogue.directory
    now = _now()
    return jsonify(history=[
        present.history_json(h, now, queue.transcript(h.id), directory,
                             follow_up_open=h.id in pending, readable=c.may_read(h, account))
        for h in earlier])


@bp.get("/follow-ups")
@login_required
def follow_ups() -> ResponseReturnValue:
    """The 要フォロー list: closed chats whose follow-up nobody has marked done, the
    earliest due first. For the whole desk (counsellors and supervisors): a promise
    made on one shift is kept on the next."""
    c = console()
    now = _now()
    today = c.runtime.clock().date()
    return jsonify(follow_ups=[present.follow_up_json(h, due, today) for h, due in c.runtime.queue.follow_ups()],
                   now=now)


@bp.post("/handoffs/<hid>/follow-up/done")
@login_required
def follow_up_done(hid: str) -> ResponseReturnValue:
    json_body(request)
    c = console()
    c.handoff(_hid(hid))  # 404 if missing
    if not c.runtime.queue.follow_up_done(hid, _account().name):
        raise ApiError(409, "not_pending", "このフォローアップは、すでに完了しているか、必要とされていません。")
    record_action("follow_up_done", handoff_id=hid)
    return _done(c.handoff(hid))


#: How many finished chats a search reads (newest first): the desk's recent months.
SEARCH_SCOPE = 500
MAX_QUERY = 100


@bp.get("/search")
@login_required
def search() -> ResponseReturnValue:
    """Finished chats (the open ones are all on the page already) found by the
    words of ``q``: each word in the pseudonym, a date (2026-12-07 or 12/7), the
    labels, the signs, the closing record or the notes; for supervisors in the
    transcript too (audited: it reads what users wrote). Only chats the reader may
    read are searched, the newest SEARCH_SCOPE of them."""
    q = request.args.get("q", "").strip()
    if not q or len(q) > MAX_QUERY:
        raise ApiError(400, "bad_value", f"q は1〜{MAX_QUERY}文字です。", field="q")
    c = console()
    account = _account()
    queue = c.runtime.queue
    directory = c.runtime.dialogue.directory
    words = q.lower().split()
    deep = account.is_supervisor
    found = []
    for handoff in queue.list("closed", SEARCH_SCOPE):
        if not c.may_read(handoff, account):
            continue
        entries = queue.transcript(handoff.id)
        text = present.search_text(handoff, entries, directory, transcript=deep)
        if all(w in text for w in words):
            found.append(handoff)
    record_action("search", chats=len(found), transcripts="yes" if deep else "no")  # never the words
    now = _now()
    return jsonify(q=q, handoffs=[_shown(h, now) for h in found[:MAX_LIST]])


@bp.get("/handoffs/<hid>/images/<int:n>")
@login_required
def handoff_image(hid: str, n: int) -> ResponseReturnValue:
    c = console()
    c.readable(_hid(hid), _account())  # the profile's read policy, else 403
    found = c.runtime.queue.image(hid, n) if n >= 1 else None
    if found is None:
        raise ApiError(404, "missing", "この画像は見つかりません。")
    data, content_type = found
    record_read("view_transcript", handoff_id=hid, what=f"image:{n}", image=n)
    if not content_type.startswith("image/"):
        content_type = "application/octet-stream"  # never let a stored type make this a page
    response = Response(data, mimetype=content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = f'inline; filename="evidence-{hid}-{n}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/queue/version")
@login_required
def queue_version() -> ResponseReturnValue:
    """The cheap poll: the pages ask every ~2 s and refetch only when it changed.
    Idle claimed chats are marked here, so some open console raises the alert."""
    runtime = console().runtime
    queue = runtime.queue
    idle = queue.idle_claims(runtime.config.idle_alert_seconds)
    waiting = queue.list("waiting")
    claimed = queue.list("claimed")
    account = _account()
    return jsonify(
        version=queue.version(),
        counts={"waiting": len(waiting), "claimed": len(claimed)},
        urgent_waiting=sum(1 for h in waiting if h.urgent),
        urgent_ids=[h.id for h in waiting if h.urgent],
        alerts=[{"id": h.id, "alert": h.alert, "claimed_by": h.claimed_by, "status": h.status}
                for h in (*waiting, *claimed) if h.alert],
        idle=[h.id for h in idle],
        mine=[h.id for h in claimed if h.claimed_by == account.name],
        desk_open=runtime.desk_open(),
    )


@bp.get("/hotlines")
@login_required
def hotlines() -> ResponseReturnValue:
    runtime = console().runtime
    dialogue = runtime.dialogue
    return jsonify(hotlines=present.hotlines_json(dialogue.directory, runtime.clock(), dialogue.catalogs))


@bp.get("/canned")
@login_required
def canned() -> ResponseReturnValue:
    c = console()
    data = c.canned
    return jsonify(replies=[r.to_api() for r in data.replies], escalation=data.escalation.to_api(),
                   mine=[r.to_api() for r in c.own_canned.list(_account().name)])


@bp.post("/canned/mine")
@login_required
def add_own_canned() -> ResponseReturnValue:
    """One of the account's own canned replies (never shared; own_canned.py)."""
    body = json_body(request)
    title = text_field(body, "title", own_canned.MAX_TITLE, label="定型文の名前")
    text = text_field(body, "text", own_canned.MAX_TEXT, label="定型文")
    try:
        reply = console().own_canned.add(_account().name, title, text)
    except own_canned.OwnCannedFull:
        raise ApiError(409, "full", f"自分の定型文は{own_canned.MAX_OWN}件までです。使わないものを消してください。")
    record_action("canned_add", chars=len(text))
    return jsonify(ok=True, reply=reply.to_api())


@bp.post("/canned/mine/<rid>/delete")
@login_required
def delete_own_canned(rid: str) -> ResponseReturnValue:
    json_body(request)
    if not _ID_RE.fullmatch(rid) or not console().own_canned.delete(_account().name, rid):
        raise ApiError(404, "missing", "この定型文は見つかりません。")
    record_action("canned_delete")
    return jsonify(ok=True)


@bp.get("/accounts")
@login_required
def accounts() -> ResponseReturnValue:
    """Who a chat can be handed to: the enabled accounts (no other detail)."""
    return jsonify(accounts=[{"name": a.name, "role": a.role} for a in console().accounts.list()
                             if not a.disabled])


# --- acting ------------------------------------------------------------------------

@bp.post("/handoffs/<hid>/claim")
@login_required
def claim(hid: str) -> ResponseReturnValue:
    json_body(request)
    handoff = console().claim(_hid(hid), _account())
    record_action("claim", handoff_id=hid)
    return _done(handoff)


@bp.post("/handoffs/<hid>/reply")
@login_required
def reply(hid: str) -> ResponseReturnValue:
    text = text_field(json_body(request), "text", MAX_REPLY_CHARS, label="返信")
    handoff = console().reply(_hid(hid), _account(), text)
    record_action("reply", handoff_id=hid, chars=len(text))  # how long, never what
    return _done(handoff)


@bp.post("/handoffs/<hid>/card")
@login_required
def card(hid: str) -> ResponseReturnValue:
    c = console()
    hotline = hotline_field(json_body(request), c.runtime.dialogue.directory)
    handoff = c.card(_hid(hid), _account(), hotline)
    record_action("card", handoff_id=hid, hotline=hotline)
    return _done(handoff)


@bp.post("/handoffs/<hid>/note")
@login_required
def note(hid: str) -> ResponseReturnValue:
    text = text_field(json_body(request), "text", MAX_NOTE_CHARS, label="メモ")
    handoff = console().note(_hid(hid), _account(), text)
    record_action("note", handoff_id=hid, chars=len(text))
    return _done(handoff)


@bp.post("/handoffs/<hid>/transfer")
@login_required
def transfer(hid: str) -> ResponseReturnValue:
    body = json_body(request)
    to = body.get("to")
    if not isinstance(to, str) or not to.strip():
        raise ApiError(400, "missing", "引き継ぎ先（to）を選んでください。", field="to")
    handoff = console().transfer(_hid(hid), _account(), to.strip())
    record_action("transfer", handoff_id=hid, to=handoff.claimed_by or to.strip())
    return _done(handoff)


@bp.post("/handoffs/<hid>/requeue")
@login_required
def requeue(hid: str) -> ResponseReturnValue:
    json_body(request)
    handoff = console().requeue(_hid(hid), _account())
    record_action("requeue", handoff_id=hid)
    return _done(handoff)


@bp.post("/handoffs/<hid>/return")
@login_required
def return_to_bot(hid: str) -> ResponseReturnValue:
    json_body(request)
    handoff = console().return_to_bot(_hid(hid), _account())
    record_action("return", handoff_id=hid)
    return _done(handoff)


@bp.post("/handoffs/<hid>/escalate")
@login_required
def escalate(hid: str) -> ResponseReturnValue:
    json_body(request)
    c = console()
    handoff = c.escalate(_hid(hid), _account())
    record_action("escalate", handoff_id=hid)
    return _done(handoff, escalation=c.canned.escalation.to_api())


@bp.post("/handoffs/<hid>/alert/clear")
@login_required
def clear_alert(hid: str) -> ResponseReturnValue:
    json_body(request)
    handoff = console().clear_alert(_hid(hid), _account())
    record_action("alert_clear", handoff_id=hid)
    return _done(handoff)


@bp.post("/handoffs/<hid>/close")
@login_required
def close(hid: str) -> ResponseReturnValue:
    c = console()
    record = close_record(json_body(request), c.runtime.dialogue.directory, today=c.runtime.clock().date())
    handoff = c.close(_hid(hid), _account(), record)
    record_action("close", handoff_id=hid, category=record.get("category"), role=record.get("role"))
    return _done(handoff)
