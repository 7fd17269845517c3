"""Choosing one's own password on the web (/console/password).

Anyone signed in may change their password here; someone signed in with a
one-time password (a supervisor's reset or a new account, bot.console.staff)
is sent here first and may do nothing else until they have
(bot.console.auth refuses other routes). The current password is checked
through the login throttle, so a left-open session is not a way to guess it.
Afterwards every session of the account ends, and the person signs in again
with the new password: proof that they know it.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from bot.console.accounts import MIN_PASSWORD_CHARS, AccountError, check_password
from bot.console.audit import record_action
from bot.console.auth import THROTTLE_EXTENSION, accounts_of, current_account, login_required, sessions_of
from bot.console.throttle import LoginThrottle

bp = Blueprint("password", __name__, template_folder="templates")

MSG_WRONG = "いまのパスワードが違います。"
MSG_DIFFER = "新しいパスワードが2回とも同じになるように入力してください。"
MSG_SAME = "新しいパスワードは、いまのパスワードと別のものにしてください。"
MSG_LOCKED = "失敗が続いたため、しばらく変更できません。15分ほど待ってから、もう一度お試しください。"
MSG_WEAK = (f"このパスワードは使えません。{MIN_PASSWORD_CHARS}文字以上で、ユーザー名を含まず、推測されにくいもの"
            "（よくあるパスワード、単語に数字を足しただけのもの、キーボードの並び、日付、くり返しは不可）にしてください。"
            "関係のない3〜4語を記号や数字でつなぐと覚えやすく安全です。")
MSG_DONE = "パスワードを変更しました。新しいパスワードで、もう一度ログインしてください。"


@bp.route("/console/password", methods=["GET", "POST"])
@login_required
def change() -> ResponseReturnValue:
    account = current_account()
    assert account is not None
    if request.method == "GET":
        return _form(account.must_change_password)
    current = request.form.get("current", "")
    new = request.form.get("new", "")
    if new != request.form.get("again", ""):
        return _form(account.must_change_password, MSG_DIFFER, 400)
    if new == current:
        return _form(account.must_change_password, MSG_SAME, 400)
    try:
        check_password(new, account.name)
    except AccountError:
        return _form(account.must_change_password, MSG_WEAK, 400)
    throttle: LoginThrottle = current_app.extensions[THROTTLE_EXTENSION]
    address = request.remote_addr or "-"
    attempt = throttle.attempt(account.name, address)
    if not attempt.allowed:
        return _form(account.must_change_password, MSG_LOCKED, 429)
    accounts = accounts_of()
    if accounts.verify(account.name, current) is None:
        return _form(account.must_change_password, MSG_WRONG, 400)
    throttle.succeeded(account.name, address)
    accounts.set_password(account.name, new)
    sessions_of().end_all(account.name)
    record_action("password_change")
    session.clear()
    return render_template("console/base.html", message=MSG_DONE, link=url_for("auth.login"),
                           link_label="ログイン画面へ")


def _form(forced: bool, error: str | None = None, status: int = 200) -> ResponseReturnValue:
    return render_template("console/password.html", forced=forced, error=error,
                           min_chars=MIN_PASSWORD_CHARS), status
