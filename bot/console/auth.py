"""Who is asking: login, logout, sessions, CSRF and the decorators of the console.

Two ways in, both checked again on every request (so a disabled account is
refused at its next request, whichever it uses):

- a session, kept on the server (bot.console.sessions: a hash in Redis per
  signed-in session). Flask's signed cookie carries only the session's random id
  and a CSRF token; every request looks the id up, and logging out deletes it,
  so a cookie copied before the logout is refused after it. A supervisor can end
  every session of an account (``POST /api/accounts/<name>/end-sessions``, or
  ``python -m bot users end-sessions``). Cookies are HttpOnly, SameSite=Lax,
  Secure outside local mode and tests; a session ends 8 hours after login
  (checked here, not only by the cookie's expiry) and after
  ``BOT_CONSOLE_IDLE_MINUTES`` (30) without an action of the counsellor's own:
  the pages' background polls send ``X-Console-Background: 1`` and do not count,
  so a console left open on an empty desk does not stay signed in all day.
  Before login the cookie holds only the login form's CSRF token and nothing is
  written to Redis, so anonymous visitors cannot grow it. Every
  POST/PUT/PATCH/DELETE under /console/ and /api/ made with a session must carry
  its CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``); the
  login form too, with the token of the pre-login session.
- ``Authorization: Bearer <personal token>`` (``python -m bot users token``):
  the session is then ignored, and no CSRF token is needed, because a
  cross-site page can make a browser send cookies but not this header. Tokens
  expire (90 days unless told otherwise); a ``read`` token may only GET (403
  otherwise).

Logins are throttled in Redis (bot.console.throttle): 5 attempts for one name or
20 from one address within 15 minutes (a success gives its attempt back) lock
that name or address for 15 minutes. An attempt is counted before its password
is checked, atomically, so parallel guesses cannot slip past the count.
Anonymous refusals are counted in the audit log, not written one by one
(bot.console.auditlog, the store this module writes logins and logouts through).

Every console response carries the CSP below (no inline script), frame-ancestors
'none', nosniff; every response over TLS carries HSTS. ``BOT_BEHIND_PROXY=1``
with ``BOT_TRUSTED_PROXIES`` makes the app trust one proxy's
X-Forwarded-For/-Proto (ProxyFix), only on requests that come from those
proxies (bot.console.proxies), so the client's own address is throttled and
https is recognised behind a load balancer.

A session signed in with a one-time password (a supervisor's reset or a new
account from the administration page, bot.console.admin) may use nothing but
the password page (bot.console.password) until its owner has chosen a password.

Routes call ``login_required`` or ``role_required("supervisor")``. Under /api/
a refusal is JSON (401 or 403); a page is redirected to the login form (a
non-GET gets 401). Templates get ``csrf_token()``, ``current_account()`` and
``role_label()``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta
from functools import wraps
from typing import TYPE_CHECKING, Any, Callable, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from bot.console import auditlog, proxies
from bot.console.accounts import ROLES, Account, Accounts
from bot.console.sessions import LIFETIME_SECONDS, SessionStore
from bot.console.throttle import LoginThrottle

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(seconds=LIFETIME_SECONDS)
COOKIE_NAME = "console_session"
DEFAULT_HOME = "/console/"
API_PREFIX = "/api/"
#: Paths whose unsafe requests need the CSRF token when they come with a session.
GUARDED_PREFIXES = ("/console/", API_PREFIX)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ROLE_LABELS = {"counsellor": "相談員", "supervisor": "スーパーバイザー"}
#: The console's pages load nothing but their own files and run no inline script.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; media-src 'self' data:; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")

# What counsellors read (Japanese). The login failure never says which part was wrong.
MSG_LOGIN_FAILED = "ユーザー名またはパスワードが違います。"
MSG_FORM_EXPIRED = "画面の有効期限が切れました。もう一度入力してください。"
MSG_LOGGED_OUT = "ログアウトしました。"
MSG_LOGIN_NEEDED = "ログインが必要です。もう一度ログインしてください。"
MSG_CSRF = "画面の有効期限が切れたため、操作を受け付けられませんでした。画面を読み込み直してから、もう一度操作してください。"
MSG_FORBIDDEN = "この操作は{role}だけが行えます。"
MSG_READ_ONLY_TOKEN = "この API トークンは読み取り専用です。変更する操作には、読み書きできるトークンを発行してもらってください。"
MSG_NO_ACCOUNT = "そのアカウントはありません。"
MSG_PASSWORD_CHANGE = ("スーパーバイザーが発行した一時パスワードでログインしています。"
                       "ほかの操作の前に、パスワード変更の画面で自分のパスワードを決めてください。")
# The same words whether or not the name exists: the lock-out counts unknown names too.
MSG_LOCKED = "ログインの失敗が続いたため、しばらくログインできません。15分ほど待ってから、もう一度お試しください。"
#: Sent by the pages' background polls: such a request does not count as the counsellor's action.
BACKGROUND_HEADER = "X-Console-Background"
#: Browsers remember to use https only for this long (a year); sent only over TLS.
HSTS = "max-age=31536000"
#: Refresh the last-action time at most this often (seconds): fewer new cookies.
_SEEN_RESOLUTION = 15

#: app.extensions key of the Accounts store (tests may put one with a cheaper hasher there).
ACCOUNTS_EXTENSION = "netsoudan.console.accounts"
THROTTLE_EXTENSION = "netsoudan.console.throttle"
SESSIONS_EXTENSION = "netsoudan.console.sessions"
_AUTH = "_console_auth"
_CSRF_CHECKED = "_console_csrf_checked"
# Cookie fields: the server-side session's id (after login) and the CSRF token (also before).
_S_SID, _S_CSRF = "sid", "csrf"
#: The one page a session signed in with a one-time password may use (bot.console.password).
PASSWORD_ENDPOINT = "password.change"
#: Methods a read-only token may use.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bp = Blueprint("auth", __name__, template_folder="templates", static_folder="static",
               static_url_path="/console/static")

View = TypeVar("View", bound=Callable[..., ResponseReturnValue])


def init_app(app: Flask, runtime: "Runtime") -> None:
    """Sessions, cookie settings, the accounts store and the login pages."""
    config = runtime.config
    local = config.local_line or config.embedded_redis
    app.secret_key = config.console_secret
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Local mode is served over plain http on 127.0.0.1; a Secure cookie would never come back.
        SESSION_COOKIE_SECURE=not (local or app.config.get("TESTING")),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    app.config.setdefault("CONSOLE_HOME", DEFAULT_HOME)
    app.config.setdefault("CONSOLE_IDLE_SECONDS", config.console_idle_minutes * 60)
    app.extensions[ACCOUNTS_EXTENSION] = Accounts(runtime.client, runtime.keys)
    app.extensions[THROTTLE_EXTENSION] = LoginThrottle(runtime.client, runtime.keys)
    app.extensions[SESSIONS_EXTENSION] = SessionStore(runtime.client, runtime.keys,
                                                      int(SESSION_LIFETIME.total_seconds()))
    try:
        networks = proxies.trusted_networks(proxies.setting_from(app.config), behind_proxy=config.behind_proxy)
    except proxies.ProxySettingError as exc:
        from bot.runtime import StartupError

        raise StartupError(f"cannot start the web app: {exc}") from None
    if networks is not None:
        # One hop, and only from the named proxies: the proxy's own X-Forwarded-For entry is
        # the client's address. From anyone else the headers are ignored, since anyone can send them.
        log.warning("start-up: %s", proxies.describe(networks))
        app.wsgi_app = proxies.TrustedProxyFix(app.wsgi_app, networks)  # type: ignore[method-assign]
    app.register_blueprint(bp)


def accounts_of(app: Flask | None = None) -> Accounts:
    return (app or current_app).extensions[ACCOUNTS_EXTENSION]


def sessions_of(app: Flask | None = None) -> SessionStore:
    return (app or current_app).extensions[SESSIONS_EXTENSION]


# --- who is asking ---------------------------------------------------------------------

def current_account() -> Account | None:
    """The enabled account behind this request (session or bearer token), else None."""
    if _AUTH not in g:
        setattr(g, _AUTH, _authenticate())
    return getattr(g, _AUTH)[0]


def authenticated_by() -> str | None:
    """"session" or "token" for an authenticated request, else None."""
    current_account()
    account, how = getattr(g, _AUTH)
    return how if account is not None else None


def identity() -> tuple[str, str | None]:
    """Who is asking, for the audit log: the signed-in account's name ("" if none, or
    outside a request) and how it signed in ("session", "token" or None)."""
    if not has_request_context():
        return "", None
    account = current_account()
    return (account.name if account is not None else ""), authenticated_by()


def credential_digest() -> str:
    """A digest of what signed this request in (the session's id or the bearer token),
    never the credential itself: to tell one sign-in's reads from another's."""
    current_account()
    _account, how = getattr(g, _AUTH)
    secret = _bearer_token() if how == "token" else session.get(_S_SID)
    return hashlib.sha256(f"{how}:{secret or ''}".encode("utf-8", "replace")).hexdigest()


def _bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer`` header; None without one.

    Other schemes (a proxy's Basic auth in front of the console) are not ours
    and are ignored, so they do not lock out session users.
    """
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip()


def _authenticate() -> tuple[Account | None, str | None]:
    accounts = accounts_of()
    token = _bearer_token()
    if token is not None:
        return accounts.account_for_token(token), "token"
    sid = session.get(_S_SID)
    if not isinstance(sid, str):
        return None, None
    sessions = sessions_of()
    record = sessions.get(sid)
    if record is None:
        return None, "session"  # logged out, ended by a supervisor, expired, or never made
    account = accounts.get(record.account)
    if account is None or account.disabled:
        return None, "session"
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    idle = current_app.config["CONSOLE_IDLE_SECONDS"]
    now = accounts.clock()
    if record.login_at < account.not_before or now - record.login_at > lifetime:
        return None, "session"  # disabled or password changed since, or too old
    if now - record.seen > idle:
        return None, "session"  # nobody has used it for too long
    if request.headers.get(BACKGROUND_HEADER) != "1" and now - record.seen >= _SEEN_RESOLUTION:
        sessions.touch(sid, record, now, idle)
    return account, "session"


# --- CSRF ------------------------------------------------------------------------------

def csrf_token() -> str:
    """This session's CSRF token (made on first use, also before login)."""
    token = session.get(_S_CSRF)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session[_S_CSRF] = token
    return token


def _csrf_valid() -> bool:
    expected = session.get(_S_CSRF)
    given = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token")
    if not isinstance(expected, str) or not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def _csrf_refusal() -> ResponseReturnValue | None:
    """A 400 answer if this unsafe, cookie-borne request lacks its CSRF token."""
    if request.method not in UNSAFE_METHODS or getattr(g, _CSRF_CHECKED, False):
        return None
    if _bearer_token() is not None:
        return None  # no cookie authenticates it, so there is nothing to forge
    is_login = request.endpoint == "auth.login"
    if not is_login and not isinstance(session.get(_S_SID), str):
        return None  # anonymous: the route's decorator refuses it with 401
    if _csrf_valid():
        setattr(g, _CSRF_CHECKED, True)
        return None
    # %r and a cut: a path is the requester's text, and must not forge or flood log lines.
    log.warning("console: %s %r refused, CSRF token missing or wrong", request.method, request.path[:200])
    if is_login:
        return _login_page(error=MSG_FORM_EXPIRED, status=400)
    if _is_api():
        return jsonify(error="csrf", message=MSG_CSRF), 400
    return _message_page(MSG_CSRF, 400)


@bp.before_app_request
def _guard_csrf() -> ResponseReturnValue | None:
    # Every console and API route, decorated or not; the webhook and the local chat are not ours.
    if _guarded(request.path):
        return _csrf_refusal()
    return None


# --- decorators ------------------------------------------------------------------------

def login_required(view: View) -> View:
    """Any enabled account, by session or bearer token."""
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if current_account() is None:
            return _unauthenticated()
        # also for routes outside the guarded prefixes
        refusal = _csrf_refusal() or _scope_refusal() or _password_change_refusal()
        if refusal is not None:
            return refusal
        return view(*args, **kwargs)
    return wrapped  # type: ignore[return-value]


def role_required(role: str) -> Callable[[View], View]:
    """At least ``role``: a supervisor may do whatever a counsellor may."""
    if role not in ROLES:
        raise ValueError(f"role_required({role!r}): the roles are {', '.join(ROLES)}")
    needed = ROLES.index(role)

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            account = current_account()
            if account is None:
                return _unauthenticated()
            refusal = _csrf_refusal() or _scope_refusal() or _password_change_refusal()
            if refusal is not None:
                return refusal
            if account.role not in ROLES or ROLES.index(account.role) < needed:
                return _forbidden(role)
            return view(*args, **kwargs)
        return wrapped  # type: ignore[return-value]
    return decorator


def _unauthenticated() -> ResponseReturnValue:
    if _is_api():
        response = jsonify(error="unauthorized", message=MSG_LOGIN_NEEDED)
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="console"'
        return response
    if request.method in ("GET", "HEAD"):
        return redirect(url_for("auth.login", next=_here()))
    return _message_page(MSG_LOGIN_NEEDED, 401, link=url_for("auth.login"), link_label="ログイン画面へ")


def _scope_refusal() -> ResponseReturnValue | None:
    """A 403 answer if a read-only token asks for anything but a read."""
    if authenticated_by() != "token" or request.method in READ_METHODS:
        return None
    account = current_account()
    if account is None or account.token_scope != "read":
        return None
    if _is_api():
        return jsonify(error="read_only_token", message=MSG_READ_ONLY_TOKEN), 403
    return _message_page(MSG_READ_ONLY_TOKEN, 403)


def _password_change_refusal() -> ResponseReturnValue | None:
    """Until a one-time password is replaced, a session may only choose its own password.

    Only sessions: a token is issued to a named person for a script, and a password reset
    does not touch it (revoking it is a separate, explicit action)."""
    account = current_account()
    if (account is None or not account.must_change_password or authenticated_by() != "session"
            or request.endpoint == PASSWORD_ENDPOINT):
        return None
    if _is_api():
        return jsonify(error="password_change_required", message=MSG_PASSWORD_CHANGE), 403
    if request.method in READ_METHODS:
        return redirect(url_for(PASSWORD_ENDPOINT))
    return _message_page(MSG_PASSWORD_CHANGE, 403, link=url_for(PASSWORD_ENDPOINT), link_label="パスワードを変更する")


def _forbidden(role: str) -> ResponseReturnValue:
    message = MSG_FORBIDDEN.format(role=ROLE_LABELS.get(role, role))
    if _is_api():
        return jsonify(error="forbidden", message=message), 403
    return _message_page(message, 403, link=current_app.config["CONSOLE_HOME"], link_label="キューに戻る")


# --- pages -----------------------------------------------------------------------------

@bp.route("/console/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_account() is not None:
            return redirect(target)
        return _login_page(next_url=target, info=MSG_LOGGED_OUT if request.args.get("bye") else None)
    # (the CSRF token was checked before this view: see _guard_csrf)
    name = (request.form.get("name") or "").strip().lower()[:256]
    accounts = accounts_of()
    throttle: LoginThrottle = current_app.extensions[THROTTLE_EXTENSION]
    address = request.remote_addr or "-"
    attempt = throttle.attempt(name, address)  # counted now, before the password: no race
    if not attempt.allowed:
        # Refused before the password is looked at: a right guess now tells nothing. Counted,
        # not logged one by one: this is what a flood of anonymous posts would be.
        log.warning("console: a login refused, too many failures")
        auditlog.count_refused("login_locked")
        return _login_page(error=MSG_LOCKED, name=name, next_url=target, status=429)
    account = accounts.verify(name, request.form.get("password") or "")
    if account is None:
        # No name in the log: people type their password into the name field. The
        # audit log has an entry only if an account by that name exists (at most 5 per
        # lock window, so not a flood path); other names are counted.
        log.warning("console: a login failed")
        if accounts.get(name) is not None:
            details = {"address": address, **({"lock": "started"} if attempt.locks_name else {})}
            auditlog.write("login_failed", who=name, details=details)
        else:
            auditlog.count_refused("login_failed")
        return _login_page(error=MSG_LOGIN_FAILED, name=name, next_url=target, status=401)
    throttle.succeeded(name, address)
    now = accounts.clock()
    accounts.mark_login(account.name, now)  # "last sign-in" on the supervisors' page
    sid = sessions_of().open(account.name, now, current_app.config["CONSOLE_IDLE_SECONDS"])
    old_sid = session.get(_S_SID)
    if isinstance(old_sid, str):
        sessions_of().close(old_sid)  # logging in again: the session this browser had ends
    session.clear()  # a new session on login: nothing planted before it survives
    session.permanent = True
    session[_S_SID] = sid
    session[_S_CSRF] = secrets.token_urlsafe(32)
    log.info("console: %s logged in", account.name)
    auditlog.write("login", who=account.name, details={"address": address})
    return redirect(target)


@bp.post("/console/logout")
def logout() -> ResponseReturnValue:
    sid = session.get(_S_SID)
    # Deleted on the server: the cookie, wherever it was copied, opens nothing any more.
    name = sessions_of().close(sid) if isinstance(sid, str) else None
    session.clear()
    if name is not None:
        log.info("console: %s logged out", name)
        auditlog.write("logout", who=name)
    return redirect(url_for("auth.login", bye=1))


@bp.post("/api/accounts/<name>/end-sessions")
@role_required("supervisor")
def end_sessions(name: str) -> ResponseReturnValue:
    """A supervisor signs an account out everywhere (a lost phone, a shared PC left signed in)."""
    account = name.strip().lower()
    if accounts_of().get(account) is None:
        return jsonify(error="not_found", message=MSG_NO_ACCOUNT), 404
    ended = sessions_of().end_all(account)
    log.info("console: the sessions of %s were ended by a supervisor", account)
    who, via = identity()
    auditlog.write("end_sessions", who=who, via=via, details={"target": account, "sessions": ended})
    return jsonify(account=account, ended=ended)


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "current_account": current_account,
            "role_label": lambda role: ROLE_LABELS.get(role, role)}


@bp.after_app_request
def _console_headers(response):  # type: ignore[no-untyped-def]
    headers = response.headers
    if request.is_secure:
        # Over TLS (directly, or behind a proxy with BOT_BEHIND_PROXY): never plain http again.
        headers.setdefault("Strict-Transport-Security", HSTS)
    if not _guarded(request.path):
        return response
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if not request.path.startswith("/console/static/"):
        # Pages and API answers hold chats with children: no copies in caches.
        headers.setdefault("Cache-Control", "no-store")
    return response


def _login_page(*, error: str | None = None, info: str | None = None, name: str = "",
                next_url: str | None = None, status: int = 200) -> ResponseReturnValue:
    next_url = next_url or _safe_next(request.values.get("next"))
    return render_template("console/login.html", error=error, info=info, name=name,
                           next_url=next_url), status


def _message_page(message: str, status: int, *, link: str | None = None,
                  link_label: str | None = None) -> ResponseReturnValue:
    return render_template("console/base.html", message=message, link=link,
                           link_label=link_label), status


# --- helpers ---------------------------------------------------------------------------

def _guarded(path: str) -> bool:
    return path in ("/console", "/api") or path.startswith(GUARDED_PREFIXES)


def _is_api() -> bool:
    return request.path == "/api" or request.path.startswith(API_PREFIX)


def _here() -> str:
    query = request.query_string.decode("utf-8", "replace")
    return request.path + (f"?{query}" if query else "")


def _safe_next(target: str | None) -> str:
    """Where to go after login: a console page of this site, never elsewhere."""
    home = current_app.config.get("CONSOLE_HOME", DEFAULT_HOME)
    if not target or len(target) > 2000 or any(ord(c) < 32 or c == "\\" for c in target):
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return home
    if not parts.path.startswith("/console/") or parts.path.startswith(("/console/login", "/console/static/")):
        return home
    return target
