"""`python -m bot users` for issue 13: token expiry and scope, `revoke-token`,
`end-sessions` (finding 9 and 1) and the password's strength (finding 10), as an
operator runs them against a real redis-server."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from bot.console.auth import accounts_of
from dialogs.hours import TOKYO
from tests.console.conftest import PASSWORD, login
from tests.console.test_cli_users import accounts, env, refused, users  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e  # every test starts `python -m bot users`


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_revoke_token_stops_the_token(env, accounts):
    users(env, "add", "aoki", "--role", "counsellor", stdin=PASSWORD + "\n")
    token = users(env, "token", "aoki").stdout.strip()
    assert accounts.account_for_token(token).name == "aoki"
    result = users(env, "revoke-token", "aoki")
    assert result.returncode == 0, result.stderr
    assert "revoked the API token of aoki" in result.stderr
    assert accounts.account_for_token(token) is None
    again = users(env, "revoke-token", "aoki")
    assert again.returncode == 0 and "had no API token" in again.stderr
    refused(users(env, "revoke-token", "ghost"), "no account 'ghost'")


def test_a_token_says_how_long_it_works_and_the_list_shows_it(env, accounts):
    users(env, "add", "aoki", "--role", "counsellor", stdin=PASSWORD + "\n")
    result = users(env, "token", "aoki")
    assert result.returncode == 0, result.stderr
    until = (datetime.now(TOKYO) + timedelta(days=90)).strftime("%Y-%m-%d")
    assert f"valid until {until}" in result.stderr and "full" in result.stderr
    expires = accounts.get("aoki").token_expires
    assert abs(expires - (time.time() + 90 * 86400)) < 120
    listed = users(env, "list").stdout.split()
    assert listed == ["aoki", "counsellor", "enabled", f"token:full:until={until}"]


def test_a_read_only_token_for_some_days(env, accounts):
    users(env, "add", "aoki", "--role", "counsellor", stdin=PASSWORD + "\n")
    result = users(env, "token", "aoki", "--read-only", "--days", "7")
    assert result.returncode == 0, result.stderr
    assert "read-only" in result.stderr
    account = accounts.account_for_token(result.stdout.strip())
    assert account.token_scope == "read"
    assert abs(account.token_expires - (time.time() + 7 * 86400)) < 120
    refused(users(env, "token", "aoki", "--days", "0"), "not a number of days from 1 to 366")
    refused(users(env, "token", "aoki", "--days", "400"), "not a number of days from 1 to 366")


def test_end_sessions_signs_an_account_out_everywhere(env, make_console_app):
    app = make_console_app()
    accounts_of(app).add("aoki", "counsellor", PASSWORD)
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, "aoki")
    login(phone, "aoki")
    assert laptop.get("/api/handoffs").status_code == 200
    result = users(env, "end-sessions", "aoki")
    assert result.returncode == 0, result.stderr
    assert "ended 2 console session(s) of aoki" in result.stderr
    assert laptop.get("/api/handoffs").status_code == 401
    assert phone.get("/api/handoffs").status_code == 401
    refused(users(env, "end-sessions", "ghost"), "no account 'ghost'")


def test_disable_deletes_the_sessions_too(env, make_console_app, redis_client):
    app = make_console_app()
    accounts_of(app).add("aoki", "counsellor", PASSWORD)
    login(app.test_client(), "aoki")
    session_keys = app.extensions["netsoudan.runtime"].keys.console("session:") + "*"
    assert list(redis_client.scan_iter(match=session_keys))
    assert users(env, "disable", "aoki").returncode == 0
    assert not list(redis_client.scan_iter(match=session_keys))


def test_a_common_password_is_refused_with_the_reason(env, accounts):
    result = users(env, "add", "aoki", "--role", "counsellor", stdin="password1234\n")
    refused(result, "too easy to guess")
    assert "very common password" in result.stderr
    assert accounts.get("aoki") is None
    users(env, "add", "aoki", "--role", "counsellor", stdin=PASSWORD + "\n")
    refused(users(env, "passwd", "aoki", stdin="qwertyuiop12\n"), "too easy to guess")
    assert accounts.verify("aoki", PASSWORD) is not None
