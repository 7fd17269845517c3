"""Issue 13, finding 1: console sessions live on the server, so logging out ends them.

A cookie copied before logout must open nothing afterwards; a supervisor (or the
operator, ``python -m bot users end-sessions``) ends every session of an account;
the keyspace holds no session id a cookie could carry."""

from __future__ import annotations

import pytest

from bot.console.auth import accounts_of
from bot.web import runtime_of
from tests.console.conftest import PASSWORD, login, session_csrf
from tests.console.test_auth import app, probe_blueprint  # noqa: F401  (fixture)
from tests.fake_line import ManualClock

COOKIE = "console_session"


def copy_cookie(client) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None, "not signed in"
    return cookie.value


def replay(app, cookie: str):
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie)
    return thief


def session_keys(app, redis_client) -> list[bytes]:
    return list(redis_client.scan_iter(match=runtime_of(app).keys.console("session:") + "*"))


def logout(client):
    return client.post("/console/logout", data={"csrf_token": session_csrf(client)})


def test_a_cookie_copied_before_logout_opens_nothing_after_it(app, add_account):
    add_account("aoki")
    browser = app.test_client()
    assert login(browser, "aoki").status_code == 302
    copied = copy_cookie(browser)
    assert replay(app, copied).get("/api/handoffs").status_code == 200, "a copy works while signed in"
    assert logout(browser).status_code == 302
    thief = replay(app, copied)
    answer = thief.get("/api/handoffs")
    assert answer.status_code == 401 and answer.get_json()["error"] == "unauthorized"
    page = thief.get("/console/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/console/login")
    assert thief.get("/api/probe").status_code == 401


def test_logout_deletes_the_session_on_the_server(app, add_account, redis_client):
    add_account("aoki")
    browser = app.test_client()
    login(browser, "aoki")
    sessions = session_keys(app, redis_client)
    assert len(sessions) == 1
    logout(browser)
    assert not redis_client.exists(*sessions)


def test_the_keyspace_holds_no_session_id(app, add_account, redis_client):
    """Someone who reads Redis (MONITOR, a dump) finds no cookie value to reuse."""
    add_account("aoki")
    browser = app.test_client()
    login(browser, "aoki")
    with browser.session_transaction() as session:
        sid = session["sid"]
    stored: list[bytes] = []
    for key in redis_client.scan_iter():
        stored.append(key)
        kind = redis_client.type(key)
        if kind == b"hash":
            stored += redis_client.hvals(key)
        elif kind == b"zset":
            stored += redis_client.zrange(key, 0, -1)
        elif kind == b"string":
            stored.append(redis_client.get(key))
    assert not any(sid.encode() in value for value in stored)


def test_a_supervisor_ends_every_session_of_an_account(app, add_account):
    add_account("aoki")
    add_account("boss", role="supervisor")
    laptop, phone, boss = app.test_client(), app.test_client(), app.test_client()
    for client, name in ((laptop, "aoki"), (phone, "aoki"), (boss, "boss")):
        assert login(client, name).status_code == 302
    answer = boss.post("/api/accounts/aoki/end-sessions", headers={"X-CSRF-Token": session_csrf(boss)})
    assert answer.status_code == 200 and answer.get_json() == {"account": "aoki", "ended": 2}
    assert laptop.get("/api/handoffs").status_code == 401
    assert phone.get("/api/handoffs").status_code == 401
    assert boss.get("/api/handoffs").status_code == 200, "only aoki's sessions end"
    entries = boss.get("/api/audit?action=end_sessions").get_json()["entries"]
    assert [(e["who"], e["details"]) for e in entries] == [("boss", {"target": "aoki", "sessions": "2"})]
    # aoki may sign in again.
    assert login(laptop, "aoki").status_code == 302
    assert laptop.get("/api/handoffs").status_code == 200


def test_only_a_supervisor_ends_sessions(app, add_account, accounts):
    add_account("aoki")
    add_account("boss", role="supervisor")
    boss, aoki = app.test_client(), app.test_client()
    login(boss, "boss")
    login(aoki, "aoki")
    refused = aoki.post("/api/accounts/boss/end-sessions", headers={"X-CSRF-Token": session_csrf(aoki)})
    assert refused.status_code == 403
    assert boss.get("/api/handoffs").status_code == 200
    assert boss.post("/api/accounts/boss/end-sessions").status_code == 400, "CSRF, like every session POST"
    missing = boss.post("/api/accounts/ghost/end-sessions", headers={"X-CSRF-Token": session_csrf(boss)})
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"
    assert app.test_client().post("/api/accounts/aoki/end-sessions").status_code == 401


def test_logging_in_again_ends_the_browsers_previous_session(app, add_account):
    add_account("aoki")
    browser = app.test_client()
    login(browser, "aoki")
    first = copy_cookie(browser)
    # (the login page sends a signed-in browser on, so the form is posted as it stands)
    again = browser.post("/console/login", data={"name": "aoki", "password": PASSWORD,
                                                 "csrf_token": session_csrf(browser)})
    assert again.status_code == 302
    assert copy_cookie(browser) != first
    assert replay(app, first).get("/api/probe").status_code == 401
    assert browser.get("/api/probe").status_code == 200


def test_idle_and_lifetime_limits_still_hold_on_the_server(app, add_account):
    add_account("aoki")
    accounts = accounts_of(app)
    accounts.clock = clock = ManualClock()
    browser = app.test_client()
    login(browser, "aoki")
    clock.advance(29 * 60)
    assert browser.get("/api/probe").status_code == 200
    clock.advance(31 * 60)
    assert browser.get("/api/probe").status_code == 401


def test_the_session_outlives_nothing_in_redis(app, add_account, redis_client):
    """The server's copy expires by itself (idle limit plus a little), never later than 8 hours."""
    add_account("aoki")
    login(app.test_client(), "aoki")
    [key] = session_keys(app, redis_client)
    ttl = redis_client.ttl(key)
    assert 30 * 60 < ttl <= 30 * 60 + 60
    index = runtime_of(app).keys.console_account_sessions("aoki")
    assert 0 < redis_client.ttl(index) <= 8 * 3600 + 60


@pytest.mark.parametrize("how", ["disable", "set_password"])
def test_disabling_or_a_new_password_still_ends_sessions(app, add_account, how):
    add_account("aoki")
    accounts = accounts_of(app)
    accounts.clock = clock = ManualClock()
    browser = app.test_client()
    login(browser, "aoki")
    clock.advance(1)
    if how == "disable":
        accounts.disable("aoki")
    else:
        accounts.set_password("aoki", "brand-New-password-3")
    assert browser.get("/api/probe").status_code == 401
