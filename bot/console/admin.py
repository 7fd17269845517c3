"""The supervisors' administration page (/console/admin) and its JSON API
(/api/admin/...): accounts (add, disable, enable, one-time password reset, role),
tokens (revoke), sessions (end), and who is on duty now.

The page works with plain forms (no script is needed to act; admin.js only asks
for confirmation and copies a one-time password): a form's answer is the page
itself, with what happened and, once, the one-time password. The work and its
audit entry are in bot.console.staff, shared by the forms and the API; who is
on duty in bot.console.duty. Counsellors get 403, anonymous callers 401, and
cookie-borne POSTs need the CSRF token like every console request
(bot.console.auth).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from redis.exceptions import RedisError

from bot.console import staff
from bot.console.accounts import Account
from bot.console.actions import Console
from bot.console.api import CONSOLE_EXTENSION
from bot.console.auth import ROLE_LABELS, accounts_of, current_account, role_required, sessions_of
from bot.console.duty import duty_now
from bot.console.validate import ApiError, json_body
from dialogs.hours import TOKYO

bp = Blueprint("admin", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    """The administration page and API, and the password page a one-time password leads to."""
    from bot.console.password import bp as password_bp

    app.register_blueprint(bp)
    app.register_blueprint(password_bp)


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> ResponseReturnValue:
    if request.path.startswith("/api/"):
        return jsonify(exc.to_json()), exc.status
    return _page(error=exc.message, status=exc.status)


@bp.errorhandler(RedisError)
def _redis_down(_exc: RedisError) -> ResponseReturnValue:
    message = "データベースに接続できませんでした。少し待ってから、もう一度操作してください。"
    if request.path.startswith("/api/"):
        return jsonify(error="unavailable", message=message), 503
    return render_template("console/base.html", message=message), 503


# --- the page ----------------------------------------------------------------------------

@bp.get("/console/admin")
@role_required("supervisor")
def page() -> ResponseReturnValue:
    return _page()


@bp.post("/console/admin/accounts")
@role_required("supervisor")
def page_add() -> ResponseReturnValue:
    done = staff.add(accounts_of(), request.form.get("name", ""), request.form.get("role", ""))
    return _page(done=done)


@bp.post("/console/admin/accounts/<name>/<action>")
@role_required("supervisor")
def page_act(name: str, action: str) -> ResponseReturnValue:
    done = staff.act(accounts_of(), sessions_of(), name, action, role=request.form.get("role"))
    return _page(done=done)


def _page(*, done: staff.Done | None = None, error: str | None = None, status: int = 200) -> ResponseReturnValue:
    me = current_account()
    return render_template("console/admin.html", accounts=_accounts_json(), duty=_duty(), done=done,
                           error=error, roles=ROLE_LABELS, me=me.name if me else ""), status


# --- the API -------------------------------------------------------------------------------

@bp.get("/api/admin/accounts")
@role_required("supervisor")
def api_accounts() -> ResponseReturnValue:
    return jsonify(accounts=_accounts_json())


@bp.post("/api/admin/accounts")
@role_required("supervisor")
def api_add() -> ResponseReturnValue:
    body = json_body(request)
    done = staff.add(accounts_of(), body.get("name"), body.get("role"))
    return jsonify(done.to_json()), 201


@bp.post("/api/admin/accounts/<name>/<action>")
@role_required("supervisor")
def api_act(name: str, action: str) -> ResponseReturnValue:
    body = json_body(request)
    done = staff.act(accounts_of(), sessions_of(), name, action, role=body.get("role"))
    return jsonify(done.to_json())


@bp.get("/api/admin/duty")
@role_required("supervisor")
def api_duty() -> ResponseReturnValue:
    return jsonify(_duty())


# --- what both show -------------------------------------------------------------------------

def _duty() -> dict[str, Any]:
    console: Console = current_app.extensions[CONSOLE_EXTENSION]
    return duty_now(console, accounts_of(), sessions_of(), current_app.config["CONSOLE_IDLE_SECONDS"])


def _accounts_json() -> list[dict[str, Any]]:
    accounts = accounts_of()
    sessions = sessions_of()
    now = accounts.clock()
    idle = current_app.config["CONSOLE_IDLE_SECONDS"]
    listed = []
    for account in accounts.list():
        live = [r for r in sessions.open_sessions(account.name)
                if now - r.seen <= idle and r.login_at >= account.not_before and not account.disabled]
        listed.append({
            "name": account.name,
            "role": account.role,
            "role_label": ROLE_LABELS.get(account.role, account.role),
            "disabled": account.disabled,
            "state_label": "無効" if account.disabled else "有効",
            "must_change_password": account.must_change_password,
            "created_at": account.created_at,
            "created_text": _when(account.created_at),
            "last_login_at": account.last_login_at,
            "last_login_text": _when(account.last_login_at),
            "sessions": len(live),
            "token": _token(account, now),
        })
    return listed


def _token(account: Account, now: float) -> dict[str, Any] | None:
    """The account's personal API token as a supervisor needs to know it (never the token)."""
    if not account.has_token:
        return None
    if account.token_expires is None:
        state, label = "refused", "期限のない古いトークン（使えません）"
    elif account.token_expires <= now:
        state, label = "expired", "期限切れ"
    else:
        scope = "読み取り専用" if account.token_scope == "read" else "読み書き"
        state, label = "valid", f"{scope}・{_when(account.token_expires, date_only=True)} まで"
    return {"state": state, "scope": account.token_scope, "expires_at": account.token_expires, "label": label}


def _when(epoch: float | None, *, date_only: bool = False) -> str:
    if epoch is None:
        return "記録なし"
    return datetime.fromtimestamp(epoch, TOKYO).strftime("%Y-%m-%d" if date_only else "%Y-%m-%d %H:%M")
