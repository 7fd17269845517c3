"""Login throttling and lock-out (in Redis), inactivity expiry, HSTS and the
proxy setting, cookie flags."""

from __future__ import annotations

import re

import pytest

from bot.console.auth import MSG_LOCKED, THROTTLE_EXTENSION
from bot.console.throttle import subject_digest
from bot.web import runtime_of
from tests.console.conftest import PASSWORD, login
from tests.console.test_auth import app, probe_blueprint  # noqa: F401  (fixture)
from tests.fake_line import ManualClock

WRONG = "wrong-Password-77"


def from_address(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def failures_key(app, kind: str, value: str) -> str:
    return runtime_of(app).keys.console_login_failures(subject_digest(kind, value))


def test_five_failures_lock_the_name_even_with_the_right_password(app, client, add_account):
    add_account("aoki")
    for _ in range(5):
        assert login(client, "aoki", WRONG).status_code == 401
    locked = login(client, "aoki")
    assert locked.status_code == 429
    assert MSG_LOCKED in locked.get_data(as_text=True)
    ttl = runtime_of(app).client.ttl(failures_key(app, "account", "aoki"))
    assert 14 * 60 < ttl <= 15 * 60
    # Locked attempts do not extend the lock.
    login(client, "aoki")
    assert runtime_of(app).client.ttl(failures_key(app, "account", "aoki")) <= ttl


def test_the_lock_ends_when_its_time_is_up(app, client, add_account):
    add_account("aoki")
    for _ in range(5):
        login(client, "aoki", WRONG)
    assert login(client, "aoki").status_code == 429
    runtime_of(app).client.delete(failures_key(app, "account", "aoki"))  # what the TTL does after 15 min
    assert login(client, "aoki").status_code == 302


def test_an_unknown_name_locks_the_same_way_and_reads_the_same(app, add_account):
    add_account("aoki")
    answers = {}
    for name in ("aoki", "nobody"):
        client = from_address(app, f"10.0.0.{len(answers) + 1}")
        for _ in range(5):
            login(client, name, WRONG)
        answer = login(client, name, WRONG)
        page = re.sub(r'(csrf[-_]token"? (?:name="csrf_token" )?(?:content|value))="[^"]+"', r"\1", answer.get_data(as_text=True))
        answers[name] = (answer.status_code, page.replace(name, "NAME"))
    assert answers["aoki"] == answers["nobody"]
    assert answers["aoki"][0] == 429


def test_a_success_resets_the_names_counter(app, client, add_account):
    add_account("aoki")
    for _ in range(4):
        login(client, "aoki", WRONG)
    assert login(client, "aoki").status_code == 302
    assert runtime_of(app).client.get(failures_key(app, "account", "aoki")) is None
    other = app.test_client()
    for _ in range(4):
        assert login(other, "aoki", WRONG).status_code == 401  # a fresh count of 4, not locked


def test_twenty_failures_from_one_address_lock_the_address_for_every_name(app, add_account):
    add_account("aoki")
    attacker = from_address(app, "203.0.113.9")
    for i in range(20):
        assert login(attacker, f"guess{i}", WRONG).status_code == 401
    assert login(attacker, "aoki").status_code == 429
    colleague = from_address(app, "198.51.100.7")
    assert login(colleague, "aoki").status_code == 302


def test_the_keys_do_not_hold_names_or_addresses(app, client, add_account):
    login(client, "secret-name", WRONG)
    keys = [k.decode() for k in runtime_of(app).client.keys("*fail*")]
    assert len(keys) == 2
    assert not any("secret" in k or "127.0.0.1" in k for k in keys)


def test_the_limit_holds_across_processes(make_console_app, add_account):
    # Two apps (two gunicorn workers) on one Redis share the count.
    first = make_console_app()
    second = make_console_app()
    add_account("aoki")
    for app in (first, second, first, second, first):
        login(app.test_client(), "aoki", WRONG)
    assert login(second.test_client(), "aoki").status_code == 429
    assert first.extensions[THROTTLE_EXTENSION] is not second.extensions[THROTTLE_EXTENSION]


# --- inactivity -------------------------------------------------------------------------

def test_a_session_ends_after_thirty_idle_minutes(client, add_account, accounts):
    add_account("aoki")
    accounts.clock = clock = ManualClock()
    login(client, "aoki")
    clock.advance(29 * 60)
    assert client.get("/api/probe").status_code == 200
    clock.advance(29 * 60)
    assert client.get("/api/probe").status_code == 200, "the last action counts, not the login"
    clock.advance(31 * 60)
    assert client.get("/api/probe").status_code == 401
    assert client.get("/console/probe").status_code == 302


def test_background_polls_do_not_keep_a_session_alive(client, add_account, accounts):
    add_account("aoki")
    accounts.clock = clock = ManualClock()
    login(client, "aoki")
    for _ in range(6):
        clock.advance(5 * 60)
        assert client.get("/api/probe", headers={"X-Console-Background": "1"}).status_code == 200
    clock.advance(60)
    assert client.get("/api/probe", headers={"X-Console-Background": "1"}).status_code == 401


def test_the_idle_limit_is_a_setting(make_console_app, add_account, monkeypatch):
    monkeypatch.setenv("BOT_CONSOLE_IDLE_MINUTES", "10")
    app = make_console_app(blueprints=[probe_blueprint()])
    assert app.config["CONSOLE_IDLE_SECONDS"] == 600


# --- headers ----------------------------------------------------------------------------

def test_hsts_only_over_tls(client):
    assert "Strict-Transport-Security" not in client.get("/console/login").headers
    secure = client.get("/console/login", base_url="https://console.example")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert client.get("/healthz", base_url="https://console.example").headers["Strict-Transport-Security"]


def test_forwarded_headers_are_ignored_unless_behind_a_proxy(make_console_app, monkeypatch):
    plain = make_console_app()
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
    assert "Strict-Transport-Security" not in plain.test_client().get("/console/login", headers=forwarded).headers
    monkeypatch.setenv("BOT_BEHIND_PROXY", "1")
    monkeypatch.setenv("BOT_TRUSTED_PROXIES", "127.0.0.1")  # the test client's address
    proxied = make_console_app()
    answer = proxied.test_client().get("/console/login", headers=forwarded)
    assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_behind_a_proxy_the_clients_address_is_throttled(make_console_app, add_account, monkeypatch):
    monkeypatch.setenv("BOT_BEHIND_PROXY", "1")
    monkeypatch.setenv("BOT_TRUSTED_PROXIES", "127.0.0.1")  # the test client's address
    app = make_console_app()
    client = app.test_client()
    page = client.get("/console/login")
    from tests.console.conftest import csrf_from
    token = csrf_from(page.get_data(as_text=True))
    client.post("/console/login", data={"name": "x", "password": WRONG, "csrf_token": token},
                headers={"X-Forwarded-For": "203.0.113.5"})
    assert runtime_of(app).client.get(failures_key(app, "address", "203.0.113.5")) == b"1"


@pytest.mark.parametrize("path", ["/console/login", "/console/probe", "/api/probe"])
def test_console_security_headers(client, path):
    headers = client.get(path).headers
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"


def test_cookie_flags_in_production(make_console_app, monkeypatch, add_account):
    app = make_console_app(TESTING=False)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
