"""Login, sessions, bearer tokens, CSRF and the decorators, through the real app.

A test-only blueprint (``probe``) exercises ``login_required`` and
``role_required`` on pages under /console/ and JSON routes under /api/."""

from __future__ import annotations

import re

import pytest
from flask import Blueprint, jsonify, render_template

from bot.console.auth import accounts_of, current_account, login_required, role_required
from bot.web import create_app, runtime_of
from tests.console.conftest import PASSWORD, csrf_from, login, session_csrf
from tests.fake_line import ManualClock


def probe_blueprint() -> Blueprint:
    bp = Blueprint("probe", __name__)

    @bp.get("/console/probe")
    @login_required
    def page():
        return render_template("console/base.html", message="ok")

    @bp.post("/console/probe")
    @login_required
    def page_post():
        return "done"

    @bp.get("/console/probe/supervise")
    @role_required("supervisor")
    def supervise_page():
        return "supervised"

    @bp.get("/api/probe")
    @login_required
    def whoami():
        account = current_account()
        return jsonify(name=account.name, role=account.role)

    @bp.post("/api/probe")
    @login_required
    def act():
        return jsonify(done=True, name=current_account().name)

    @bp.post("/api/probe/supervise")
    @role_required("supervisor")
    def supervise():
        return jsonify(done=True)

    @bp.post("/outside/probe")
    @login_required
    def outside():
        return "outside"

    return bp


@pytest.fixture
def app(make_console_app):
    return make_console_app(blueprints=[probe_blueprint()])


def set_cookie(response) -> list[str]:
    headers = response.headers.getlist("Set-Cookie")
    assert headers, "no cookie was set"
    return headers


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- the login page ---------------------------------------------------------------------

def test_login_page_is_japanese_and_has_no_inline_script(client):
    response = client.get("/console/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="ja">' in html and "ログイン" in html and "パスワード" in html
    assert 'name="viewport"' in html
    assert csrf_from(html)
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert "style=" not in html
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["Cache-Control"] == "no-store"
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', html).group(1)
    assert stylesheet == "/console/static/console.css"
    css = client.get(stylesheet)
    assert css.status_code == 200 and css.mimetype == "text/css"
    css.close()


def test_login_sets_an_httponly_lax_cookie_and_redirects_to_the_console(client, add_account):
    add_account("aoki")
    response = login(client, "aoki")
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/"
    cookie = set_cookie(response)[-1]
    assert cookie.startswith("console_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie, "tests run over plain http"
    assert client.get("/api/probe").get_json() == {"name": "aoki", "role": "counsellor"}


def test_the_cookie_is_secure_in_production_and_hashes_are_full_strength(make_console_app, redis_client):
    app = make_console_app(TESTING=False, cheap_hashing=False)
    accounts_of(app).add("aoki", "counsellor", PASSWORD)
    stored = redis_client.hget(runtime_of(app).keys.console_user("aoki"), "hash").decode()
    assert stored.startswith("$argon2id$") and "m=65536," in stored
    client = app.test_client()
    cookie = set_cookie(login(client, "aoki"))[-1]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert app.permanent_session_lifetime.total_seconds() == 8 * 3600


def test_the_cookie_is_not_secure_in_local_mode(tmp_path):
    from tests.web import UNSET_FOR_LOCAL_MODE

    app = create_app({**UNSET_FOR_LOCAL_MODE, "BOT_CATALOG_CACHE": str(tmp_path / "mo")})
    try:
        assert app.config["SESSION_COOKIE_SECURE"] is False
        assert app.config["SESSION_COOKIE_HTTPONLY"] is True
        assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    finally:
        runtime_of(app).stop()


def test_the_cookie_holds_only_a_session_id_and_the_csrf_token(client, add_account):
    """Who is signed in, since when and the last action are kept on the server."""
    add_account("aoki")
    login(client, "aoki")
    with client.session_transaction() as session:
        assert set(session) - {"_permanent"} == {"sid", "csrf"}
        assert "aoki" not in repr(dict(session))


@pytest.mark.parametrize("name, password", [("aoki", "wrong-Password-1"), ("nobody", PASSWORD),
                                            ("aoki", ""), ("", "")])
def test_a_failed_login_does_not_say_which_part_was_wrong(client, add_account, name, password):
    add_account("aoki")
    response = login(client, name, password)
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "ユーザー名またはパスワードが違います。" in html
    with client.session_transaction() as session:
        assert "account" not in session
    assert client.get("/api/probe").status_code == 401


def test_a_disabled_account_cannot_log_in_and_gets_the_same_answer(client, add_account, accounts):
    add_account("aoki")
    accounts.disable("aoki")
    response = login(client, "aoki")
    assert response.status_code == 401
    assert "ユーザー名またはパスワードが違います。" in response.get_data(as_text=True)


def test_names_are_read_case_and_space_insensitively(client, add_account):
    add_account("aoki")
    assert login(client, "  Aoki ").status_code == 302


def test_login_is_a_new_session(client, add_account):
    """Nothing planted in the session before login survives it (no fixation)."""
    add_account("aoki")
    client.get("/console/login")
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
        before = session["csrf"]
    login(client, "aoki")
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["csrf"] != before


def test_already_logged_in_goes_to_the_console(client, add_account):
    add_account("aoki")
    login(client, "aoki")
    response = client.get("/console/login")
    assert response.status_code == 302 and response.headers["Location"] == "/console/"


@pytest.mark.parametrize(
    "next_url, landing",
    [
        ("/console/h/abc123?x=1", "/console/h/abc123?x=1"),
        ("//evil.example/console/", "/console/"),
        ("https://evil.example/console/", "/console/"),
        ("/\\evil.example", "/console/"),
        ("/api/handoffs", "/console/"),
        ("/console/login", "/console/"),
        ("javascript:alert(1)", "/console/"),
    ],
)
def test_login_returns_only_to_a_console_page(client, add_account, next_url, landing):
    add_account("aoki")
    response = login(client, "aoki", next=next_url)
    assert response.headers["Location"] == landing


def test_a_page_sends_the_anonymous_to_login_and_back(client, add_account):
    response = client.get("/console/probe?tab=2")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login?next=")
    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert 'name="next" value="/console/probe?tab=2"' in html
    add_account("aoki")
    response = client.post("/console/login", data={"name": "aoki", "password": PASSWORD,
                                                   "csrf_token": csrf_from(html), "next": "/console/probe?tab=2"})
    assert response.headers["Location"] == "/console/probe?tab=2"


def test_the_anonymous_are_refused(client):
    assert client.post("/console/probe").status_code == 401
    for method in (client.get, client.post):
        response = method("/api/probe")
        assert response.status_code == 401
        assert response.get_json()["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.post("/outside/probe").status_code == 401


def test_a_logged_in_page_offers_logout_with_the_csrf_token(client, add_account):
    add_account("aoki")
    login(client, "aoki")
    html = client.get("/console/probe").get_data(as_text=True)
    assert "aoki" in html and "相談員" in html and "ログアウト" in html
    assert csrf_from(html) == session_csrf(client)
    assert f'<meta name="csrf-token" content="{session_csrf(client)}">' in html


# --- logout ---------------------------------------------------------------------------

def test_logout_clears_the_session(client, add_account):
    add_account("aoki")
    login(client, "aoki")
    response = client.post("/console/logout", data={"csrf_token": session_csrf(client)})
    assert response.status_code == 302 and response.headers["Location"].startswith("/console/login")
    with client.session_transaction() as session:
        assert "account" not in session
    assert client.get("/api/probe").status_code == 401
    assert "ログアウトしました" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_logout_needs_the_csrf_token(client, add_account):
    add_account("aoki")
    login(client, "aoki")
    assert client.post("/console/logout").status_code == 400
    assert client.get("/api/probe").status_code == 200


# --- CSRF -------------------------------------------------------------------------------

def test_a_post_without_the_csrf_token_is_refused(client, add_account):
    add_account("aoki")
    login(client, "aoki")
    page = client.post("/console/probe")
    assert page.status_code == 400
    assert "画面を読み込み直して" in page.get_data(as_text=True)
    api = client.post("/api/probe", json={"x": 1})
    assert api.status_code == 400 and api.get_json()["error"] == "csrf"
    assert client.post("/outside/probe").status_code == 400, "the decorator checks outside /console/ too"


def test_a_post_with_the_csrf_token_is_accepted(client, add_account):
    add_account("aoki")
    login(client, "aoki")
    token = session_csrf(client)
    assert client.post("/console/probe", data={"csrf_token": token}).get_data(as_text=True) == "done"
    response = client.post("/api/probe", json={"x": 1}, headers={"X-CSRF-Token": token})
    assert response.get_json() == {"done": True, "name": "aoki"}
    assert client.post("/outside/probe", headers={"X-CSRF-Token": token}).status_code == 200


def test_a_csrf_token_from_another_session_is_refused(app, add_account):
    add_account("aoki")
    add_account("mallory")
    victim, attacker = app.test_client(), app.test_client()
    login(victim, "aoki")
    login(attacker, "mallory")
    stolen = session_csrf(attacker)
    assert stolen != session_csrf(victim)
    assert victim.post("/api/probe", headers={"X-CSRF-Token": stolen}).status_code == 400
    assert victim.post("/console/probe", data={"csrf_token": stolen}).status_code == 400


def test_the_login_form_needs_its_csrf_token(client, add_account, app):
    add_account("aoki")
    response = client.post("/console/login", data={"name": "aoki", "password": PASSWORD})
    assert response.status_code == 400
    assert "有効期限" in response.get_data(as_text=True)
    other = app.test_client()
    other.get("/console/login")
    response = client.post("/console/login", data={"name": "aoki", "password": PASSWORD,
                                                   "csrf_token": session_csrf(other)})
    assert response.status_code == 400
    assert client.get("/api/probe").status_code == 401


def test_the_webhook_is_not_subject_to_console_csrf(client, add_account):
    add_account("aoki")
    login(client, "aoki")
    # A LINE webhook with a bad signature: answered by the webhook (400), not by the CSRF guard.
    response = client.post("/callback", data=b"{}", headers={"X-Line-Signature": "x",
                                                             "Content-Type": "application/json"})
    assert response.status_code == 400
    assert b"CSRF" not in response.data and "画面" not in response.get_data(as_text=True)


# --- bearer tokens ----------------------------------------------------------------------

def test_a_personal_token_works_as_bearer_without_csrf(client, add_account, accounts):
    add_account("aoki")
    token = accounts.issue_token("aoki")
    assert client.get("/api/probe", headers=bearer(token)).get_json()["name"] == "aoki"
    response = client.post("/api/probe", json={}, headers=bearer(token))
    assert response.status_code == 200, "no cookie, so no CSRF token is needed"
    assert client.get_cookie("console_session") is None


def test_reissuing_a_token_stops_the_old_one(client, add_account, accounts):
    add_account("aoki")
    old = accounts.issue_token("aoki")
    new = accounts.issue_token("aoki")
    assert client.get("/api/probe", headers=bearer(old)).status_code == 401
    assert client.get("/api/probe", headers=bearer(new)).status_code == 200


@pytest.mark.parametrize("header", ["Bearer ", "Bearer nonsense", "bearer " + "x" * 300])
def test_a_wrong_token_is_refused_even_with_a_good_session(client, add_account, header):
    add_account("aoki")
    login(client, "aoki")
    response = client.get("/api/probe", headers={"Authorization": header})
    assert response.status_code == 401


def test_another_authorization_scheme_leaves_the_session_alone(client, add_account):
    """A proxy's Basic auth in front of the console must not lock counsellors out."""
    add_account("aoki")
    login(client, "aoki")
    assert client.get("/api/probe", headers={"Authorization": "Basic YTpi"}).status_code == 200


# --- disabled accounts, expiry ----------------------------------------------------------

def test_a_disabled_account_is_refused_at_its_next_request(app, add_account, accounts):
    add_account("aoki")
    browser, script = app.test_client(), app.test_client()
    login(browser, "aoki")
    token = accounts.issue_token("aoki")
    assert browser.get("/api/probe").status_code == 200
    assert script.get("/api/probe", headers=bearer(token)).status_code == 200
    accounts.disable("aoki")
    assert browser.get("/api/probe").status_code == 401
    assert browser.get("/console/probe").status_code == 302
    assert script.get("/api/probe", headers=bearer(token)).status_code == 401
    accounts.enable("aoki")
    assert browser.get("/api/probe").status_code == 401, "the old session does not come back"
    assert script.get("/api/probe", headers=bearer(token)).status_code == 401
    login(browser, "aoki")
    assert browser.get("/api/probe").status_code == 200


def test_a_password_change_ends_open_sessions(app, add_account, accounts):
    add_account("aoki")
    client = app.test_client()
    accounts.clock = clock = ManualClock()
    login(client, "aoki")
    clock.advance(1)
    accounts.set_password("aoki", "brand-New-password-3")
    assert client.get("/api/probe").status_code == 401


def test_a_session_ends_eight_hours_after_login(client, add_account, accounts):
    add_account("aoki")
    accounts.clock = clock = ManualClock()
    login(client, "aoki")
    for _ in range(8 * 3):  # active every 20 minutes, so never idle
        clock.advance(20 * 60 - 3)
        assert client.get("/api/probe").status_code == 200, "activity does not extend it..."
    clock.advance(120)
    assert client.get("/api/probe").status_code == 401, "...past 8 hours from login"


def test_a_forged_session_is_refused(make_console_app, add_account, console_env):
    add_account("aoki")
    other_secret = make_console_app(blueprints=[probe_blueprint()],
                                    BOT_CONSOLE_SECRET="another-console-secret-0123456789abcdef")
    forger = other_secret.test_client()
    login(forger, "aoki")
    cookie = forger.get_cookie("console_session").value
    app = make_console_app(blueprints=[probe_blueprint()])
    client = app.test_client()
    client.set_cookie("console_session", cookie)
    assert client.get("/api/probe").status_code == 401


# --- roles ------------------------------------------------------------------------------

def test_a_counsellor_is_refused_a_supervisor_action(client, add_account, accounts):
    add_account("aoki")
    login(client, "aoki")
    token = session_csrf(client)
    response = client.post("/api/probe/supervise", headers={"X-CSRF-Token": token})
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"
    assert "スーパーバイザー" in response.get_json()["message"]
    page = client.get("/console/probe/supervise")
    assert page.status_code == 403 and "スーパーバイザー" in page.get_data(as_text=True)
    bearer_response = client.post("/api/probe/supervise", headers=bearer(accounts.issue_token("aoki")))
    assert bearer_response.status_code == 403


def test_a_supervisor_may_do_both(client, add_account):
    add_account("suzuki", role="supervisor")
    login(client, "suzuki")
    token = session_csrf(client)
    assert client.post("/api/probe/supervise", headers={"X-CSRF-Token": token}).status_code == 200
    assert client.post("/api/probe", headers={"X-CSRF-Token": token}).status_code == 200
    assert client.get("/console/probe/supervise").get_data(as_text=True) == "supervised"


def test_role_checks_refuse_the_anonymous_and_a_missing_csrf_token(client, add_account):
    assert client.post("/api/probe/supervise").status_code == 401
    assert client.get("/console/probe/supervise").status_code == 302
    add_account("suzuki", role="supervisor")
    login(client, "suzuki")
    assert client.post("/api/probe/supervise").status_code == 400


def test_role_required_knows_the_roles():
    with pytest.raises(ValueError, match="counsellor, supervisor"):
        role_required("admin")
