"""The audit log in the console: ``record_action`` for the views, and the
supervisors' page and API that read the log.

What the log holds, why it is never trimmed and why anonymous requests are only
counted is in bot.console.auditlog, the store. This module adds who is asking:
``record_action(action, handoff_id=..., **details)`` appends by the signed-in
account and the way it signed in (bot.console.auth.identity) unless ``who`` is
given.

Supervisors read it at ``/console/audit`` and ``GET /api/audit``; counsellors
are refused (403).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from bot.console import auditlog
from bot.console.auditlog import ACTIONS, MAX_LIST, REFUSED_KINDS, audit_log
from bot.console.auth import credential_digest, identity, role_required
from dialogs.hours import TOKYO


def init_app(app, runtime) -> None:  # type: ignore[no-untyped-def]
    """The store for this app and the supervisor's page and API."""
    auditlog.init_app(app, runtime)
    app.register_blueprint(bp)


def record_action(action: str, *, handoff_id: str | None = None, who: str | None = None,
                  strict: bool = False, **details: Any) -> None:
    """Append one console action, by the signed-in account unless ``who`` is given.

    A view that *shows* something (a transcript) passes ``strict=True``: if the log
    cannot be written the error goes up and nothing is shown (the API answers 503),
    since a read nobody can account for should not happen. After an action that
    already happened, a failed write is logged and the answer stays a success.
    """
    via = None
    if who is None:
        who, via = identity()
    auditlog.write(action, who=who, via=via, handoff_id=handoff_id, details=details, strict=strict)


def record_read(action: str, *, handoff_id: str, what: str = "", **details: Any) -> None:
    """Record that the signed-in account was shown chat ``handoff_id`` (its transcript,
    an image, its person's history): one entry per chat, ``what`` and sign-in (session
    or token) per quarter hour. The pages ask for new messages every two seconds;
    an entry each time buried the real reads. Strict: if the log cannot be written,
    the error goes up and nothing is shown."""
    who, via = identity()
    auditlog.audit_log().append_read(action, who, credential=credential_digest(), handoff_id=handoff_id,
                                     what=what, via=via, details=details)


# --- the supervisor's page and API --------------------------------------------------------

bp = Blueprint("audit", __name__, template_folder="templates")


def _filters() -> tuple[dict[str, Any], str | None]:
    """The query's filters, or an error message (Japanese) for a bad one."""
    args = request.args
    filters: dict[str, Any] = {}
    action = args.get("action", "").strip()
    if action:
        if action not in ACTIONS:
            return {}, "action が正しくありません。"
        filters["action"] = action
    who = args.get("who", "").strip().lower()
    if who:
        if len(who) > 64:
            return {}, "who が長すぎます。"
        filters["who"] = who
    handoff = args.get("handoff", "").strip()
    if handoff:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", handoff):
            return {}, "handoff が正しくありません。"
        filters["handoff_id"] = handoff
    for name in ("since", "until"):
        raw = args.get(name, "").strip()
        if raw:
            moment = _moment(raw, end_of_day=name == "until")
            if moment is None:
                return {}, f"{name} は YYYY-MM-DD か、エポック秒で指定してください。"
            filters[name] = moment
    limit = args.get("limit", "100").strip()
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIST:
        return {}, f"limit は 1〜{MAX_LIST} の数です。"
    filters["limit"] = int(limit)
    return filters, None


def _moment(raw: str, *, end_of_day: bool) -> float | None:
    if re.fullmatch(r"\d{1,12}(\.\d{1,6})?", raw):
        return float(raw)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        try:
            day = datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=TOKYO)
        except ValueError:
            return None
        return day.timestamp() + (86400 - 0.001 if end_of_day else 0)
    return None


@bp.get("/api/audit")
@role_required("supervisor")
def api_audit() -> ResponseReturnValue:
    filters, problem = _filters()
    if problem:
        return jsonify(error="bad_value", message=problem), 400
    entries = audit_log().list(**filters)
    record_action("view_audit", strict=True)
    return jsonify(entries=[e.to_json() for e in entries], actions=ACTIONS,
                   refused=_recent_refusals(), refused_kinds=REFUSED_KINDS)


@bp.get("/console/audit")
@role_required("supervisor")
def page_audit() -> ResponseReturnValue:
    filters, problem = _filters()
    entries = [] if problem else audit_log().list(**filters)
    record_action("view_audit", strict=True)
    return render_template("console/audit.html", entries=[e.to_json() for e in entries], actions=ACTIONS,
                           problem=problem, args=request.args, refused=_recent_refusals(),
                           refused_kinds=REFUSED_KINDS), 400 if problem else 200


def _recent_refusals() -> dict[str, dict[str, int]]:
    """Counted refusals of this month and the one before: {day: {kind: n}}, newest day first."""
    log_ = audit_log()
    today = datetime.fromtimestamp(log_.clock(), TOKYO)
    last_month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    days = {**log_.refused(last_month), **log_.refused(today.strftime("%Y-%m"))}
    return dict(sorted(days.items(), reverse=True))
