"""Issue 13, finding 9: personal API tokens expire (90 days by default), may be
read-only, and are revoked at once."""

from __future__ import annotations

import hashlib

import pytest

from bot.console.accounts import AccountError
from bot.console.auth import accounts_of
from bot.web import runtime_of
from tests.console.conftest import login, session_csrf
from tests.console.test_auth import app, probe_blueprint  # noqa: F401  (fixture)
from tests.fake_line import ManualClock

DAY = 86400


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def clock(app) -> ManualClock:
    accounts_of(app).clock = clock = ManualClock()
    return clock


def test_a_token_expires_after_90_days_by_default(app, client, add_account, clock):
    add_account("aoki")
    token = accounts_of(app).issue_token("aoki")
    clock.advance(90 * DAY - 60)
    assert client.get("/api/probe", headers=bearer(token)).status_code == 200
    clock.advance(60)
    assert client.get("/api/probe", headers=bearer(token)).status_code == 401
    assert accounts_of(app).get("aoki").token_expires == clock.now


def test_the_token_mapping_leaves_redis_with_the_token(app, add_account, redis_client):
    add_account("aoki")
    token = accounts_of(app).issue_token("aoki", days=7)
    key = runtime_of(app).keys.console_token(hashlib.sha256(token.encode()).hexdigest())
    assert 7 * DAY - 60 < redis_client.ttl(key) <= 7 * DAY


def test_a_shorter_or_longer_life_on_request(app, client, add_account, clock):
    add_account("aoki")
    token = accounts_of(app).issue_token("aoki", days=1)
    clock.advance(DAY)
    assert client.get("/api/probe", headers=bearer(token)).status_code == 401
    with pytest.raises(AccountError, match="1 to 366 days"):
        accounts_of(app).issue_token("aoki", days=0)
    with pytest.raises(AccountError, match="1 to 366 days"):
        accounts_of(app).issue_token("aoki", days=367)


def test_a_read_only_token_reads_and_nothing_else(app, client, add_account):
    add_account("aoki", role="supervisor")
    token = accounts_of(app).issue_token("aoki", scope="read")
    assert client.get("/api/probe", headers=bearer(token)).get_json()["name"] == "aoki"
    assert client.get("/api/handoffs", headers=bearer(token)).status_code == 200
    for path in ("/api/probe", "/api/probe/supervise", "/console/probe"):
        refused = client.post(path, json={}, headers=bearer(token))
        assert refused.status_code == 403, path
    refused = client.post("/api/probe", json={}, headers=bearer(token))
    assert refused.get_json()["error"] == "read_only_token"
    assert "読み取り専用" in refused.get_json()["message"]
    full = accounts_of(app).issue_token("aoki")
    assert client.post("/api/probe", json={}, headers=bearer(full)).status_code == 200


def test_the_scope_is_one_of_two(app, add_account):
    add_account("aoki")
    with pytest.raises(AccountError, match="full, read"):
        accounts_of(app).issue_token("aoki", scope="admin")


def test_a_session_is_not_limited_by_a_read_only_token(app, client, add_account):
    add_account("aoki")
    accounts_of(app).issue_token("aoki", scope="read")
    login(client, "aoki")
    assert client.post("/api/probe", headers={"X-CSRF-Token": session_csrf(client)}).status_code == 200


def test_revoking_stops_the_token_at_once(app, client, add_account):
    add_account("aoki")
    accounts = accounts_of(app)
    token = accounts.issue_token("aoki")
    assert accounts.revoke_token("aoki") is True
    assert client.get("/api/probe", headers=bearer(token)).status_code == 401
    assert accounts.get("aoki").has_token is False
    assert accounts.revoke_token("aoki") is False, "nothing left to revoke"


def test_a_token_from_before_expiry_existed_is_refused(app, client, add_account, redis_client):
    """A token issued by the old code has no expiry: it would work for ever, so it does not."""
    add_account("aoki")
    keys = runtime_of(app).keys
    token = "legacy-token-" + "x" * 30
    digest = hashlib.sha256(token.encode()).hexdigest()
    redis_client.set(keys.console_token(digest), "aoki")
    redis_client.hset(keys.console_user("aoki"), "token", digest)
    assert client.get("/api/probe", headers=bearer(token)).status_code == 401
    account = accounts_of(app).get("aoki")
    assert account.has_token and account.token_expires is None
