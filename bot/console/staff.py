"""What a supervisor does to console accounts on the web (the page and API of
bot.console.admin): each function checks its input, changes the account, and
writes one audit entry naming the account acted on; never a password or token.

The command line (bot.console.admin_cli) stays the way back in when the web is
not: it may disable the last supervisor, the web may not, so a supervisor cannot
lock everyone out of the administration page by a click.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.console.accounts import NAME_RE, ROLES, AccountError, Accounts, LastSupervisorError, one_time_password
from bot.console.audit import record_action
from bot.console.auth import ROLE_LABELS
from bot.console.sessions import SessionStore
from bot.console.validate import ApiError

#: The account-changing actions by URL segment (the page's forms and the API share them).
ACTIONS = ("disable", "enable", "reset-password", "revoke-token", "end-sessions", "role")

MSG_BAD_NAME = "ユーザー名は、半角の英小文字・数字・「_」「.」「-」で1〜32文字（先頭は英小文字か数字）にしてください。"
MSG_BAD_ROLE = "役割は「相談員」か「スーパーバイザー」を選んでください。"
MSG_EXISTS = "そのユーザー名はすでに使われています。別の名前にするか、既存のアカウントを有効にしてください。"
MSG_NOT_FOUND = "そのアカウントはありません。一覧を読み込み直してください。"
MSG_LAST_SUPERVISOR = ("有効なスーパーバイザーがいなくなるため、できません。"
                       "先に別のスーパーバイザーを追加するか有効にしてから、もう一度操作してください。")
MSG_RACE = "ほかの操作と重なりました。一覧を読み込み直してから、もう一度操作してください。"
MSG_HAND_OVER = ("この一時パスワードはこの画面に一度だけ表示されます。本人に直接（口頭や手渡しで）伝えてください。"
                 "本人は最初のログインで自分のパスワードを決めるまで、ほかの操作はできません。")


@dataclass(frozen=True)
class Done:
    """What happened, in words for the supervisor, and the one-time password when one was made."""

    account: str
    action: str
    message: str
    password: str | None = None
    ended: int = 0

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"ok": True, "account": self.account, "action": self.action,
                                   "message": self.message, "sessions_ended": self.ended}
        if self.password is not None:
            data["one_time_password"] = self.password
        return data


def add(accounts: Accounts, name: object, role: object) -> Done:
    """A new account with a one-time password, which it must replace at its first sign-in."""
    name = _name(name)
    if role not in ROLES:
        raise ApiError(400, "bad_role", MSG_BAD_ROLE, field="role")
    if accounts.get(name) is not None:
        raise ApiError(409, "exists", MSG_EXISTS, field="name")
    password = one_time_password(name)
    try:
        accounts.add(name, str(role), password, must_change=True)
    except AccountError:
        raise ApiError(409, "exists", MSG_EXISTS, field="name") from None
    record_action("account_add", target=name, role=str(role))
    return Done(name, "add", f"{name}（{ROLE_LABELS[str(role)]}）を追加しました。{MSG_HAND_OVER}", password=password)


def act(accounts: Accounts, sessions: SessionStore, name: str, action: str, role: object = None) -> Done:
    """One of ACTIONS on the account ``name``."""
    if action not in ACTIONS:
        raise ApiError(404, "missing", "その操作はありません。")
    name = _name(name)
    account = accounts.get(name)
    if account is None:
        raise ApiError(404, "not_found", MSG_NOT_FOUND)
    try:
        if action == "disable":
            accounts.disable(name, keep_a_supervisor=True)
            ended = sessions.end_all(name)
            record_action("account_disable", target=name, sessions=ended)
            return Done(name, action, f"{name} を無効にしました。ログイン中の画面と API トークンは次の操作から使えません"
                                      f"（終了したセッション {ended}件）。", ended=ended)
        if action == "enable":
            accounts.enable(name)
            record_action("account_enable", target=name)
            return Done(name, action, f"{name} を有効にしました。以前のパスワードでログインできます。"
                                      "API を使う場合は、トークンを新しく発行してください（コマンドライン）。")
        if action == "reset-password":
            password = accounts.reset_password(name)
            ended = sessions.end_all(name)
            record_action("password_reset", target=name, sessions=ended)
            return Done(name, action, f"{name} のパスワードを再設定しました（終了したセッション {ended}件）。{MSG_HAND_OVER}",
                        password=password, ended=ended)
        if action == "revoke-token":
            had = accounts.revoke_token(name)
            record_action("token_revoke", target=name, had_token="yes" if had else "no")
            return Done(name, action, f"{name} の API トークンを無効にしました。" if had
                        else f"{name} には API トークンがありませんでした。")
        if action == "end-sessions":
            ended = sessions.end_all(name)
            record_action("end_sessions", target=name, sessions=ended)
            return Done(name, action, f"{name} のセッションを {ended}件 終了しました。もう一度ログインが必要です。",
                        ended=ended)
        # role
        if role not in ROLES:
            raise ApiError(400, "bad_role", MSG_BAD_ROLE, field="role")
        if role == account.role:
            return Done(name, action, f"{name} はすでに{ROLE_LABELS[account.role]}です。")
        accounts.set_role(name, str(role), keep_a_supervisor=True)
        record_action("role_change", target=name, role=str(role))
        return Done(name, action, f"{name} の役割を{ROLE_LABELS[str(role)]}にしました。次の操作から変わります。")
    except LastSupervisorError:
        raise ApiError(409, "last_supervisor", MSG_LAST_SUPERVISOR) from None
    except AccountError:
        raise ApiError(409, "conflict", MSG_RACE) from None


def _name(name: object) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name.strip().lower()):
        raise ApiError(400, "bad_name", MSG_BAD_NAME, field="name")
    return name.strip().lower()
