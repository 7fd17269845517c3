"""Issue 13, finding 7: forwarded headers are trusted only from the configured proxies.

With ``BOT_BEHIND_PROXY=1`` and the app reachable directly, a rotating
``X-Forwarded-For`` used to give every guess a new address, so the per-address
lock-out never came. Now ProxyFix applies only when the TCP peer is one of
``BOT_TRUSTED_PROXIES``; IPv6 clients are counted per /64."""

from __future__ import annotations

import pytest

from bot.console.throttle import subject_digest
from bot.runtime import StartupError
from bot.web import runtime_of
from tests.console.conftest import csrf_from

WRONG = "wrong-Password-77"
PROXY = "10.0.0.1"


def post_login(app, peer: str, name: str, headers: dict[str, str] | None = None):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = peer
    token = csrf_from(client.get("/console/login", headers=headers or {}).get_data(as_text=True))
    return client.post("/console/login", data={"name": name, "password": WRONG, "csrf_token": token},
                       headers=headers or {})


def address_count(app, address: str) -> int:
    key = runtime_of(app).keys.console_login_failures(subject_digest("address", address))  # (IPv4: itself)
    return int(runtime_of(app).client.get(key) or 0)


@pytest.fixture
def proxied(make_console_app, monkeypatch):
    monkeypatch.setenv("BOT_BEHIND_PROXY", "1")
    monkeypatch.setenv("BOT_TRUSTED_PROXIES", f"{PROXY}, 192.168.5.0/24")
    return make_console_app()


def test_a_direct_client_cannot_rotate_its_address_with_forwarded_for(proxied):
    attacker = "203.0.113.50"
    for i in range(20):
        answer = post_login(proxied, attacker, f"guess{i}", {"X-Forwarded-For": f"198.51.100.{i}"})
        assert answer.status_code == 401
    answer = post_login(proxied, attacker, "guess-more", {"X-Forwarded-For": "198.51.100.200"})
    assert answer.status_code == 429, "the peer's own address was counted, whatever it claimed"
    assert address_count(proxied, attacker) == 20
    assert address_count(proxied, "198.51.100.1") == 0


def test_a_direct_client_cannot_claim_https(proxied):
    answer = proxied.test_client().get("/console/login", environ_base={"REMOTE_ADDR": "203.0.113.50"},
                                       headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in answer.headers


@pytest.mark.parametrize("peer", [PROXY, "192.168.5.77"])
def test_a_trusted_proxy_speaks_for_its_client(proxied, peer):
    answer = post_login(proxied, peer, "someone", {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    assert answer.status_code == 401
    assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert address_count(proxied, "203.0.113.9") == 1
    assert address_count(proxied, peer) == 0


def test_behind_a_proxy_without_the_list_the_app_refuses_to_start(make_console_app, monkeypatch):
    monkeypatch.setenv("BOT_BEHIND_PROXY", "1")
    monkeypatch.delenv("BOT_TRUSTED_PROXIES", raising=False)
    with pytest.raises(StartupError, match="BOT_TRUSTED_PROXIES is not set"):
        make_console_app()


@pytest.mark.parametrize("value", ["10.0.0.300", "proxy.example", "10.0.0.0/99"])
def test_a_wrong_proxy_list_is_named(make_console_app, monkeypatch, value):
    monkeypatch.setenv("BOT_BEHIND_PROXY", "1")
    monkeypatch.setenv("BOT_TRUSTED_PROXIES", value)
    with pytest.raises(StartupError, match=f"BOT_TRUSTED_PROXIES: '{value}' is not an IP address or network"):
        make_console_app()


def test_ipv6_clients_are_counted_per_64(make_console_app):
    """A single IPv6 subscriber holds a /64: billions of addresses, one lock-out."""
    app = make_console_app()
    for i in range(20):
        assert post_login(app, f"2001:db8:1:2::{i + 1:x}", f"guess{i}").status_code == 401
    assert post_login(app, "2001:db8:1:2:ffff::9", "guess-more").status_code == 429
    assert post_login(app, "2001:db8:1:3::1", "guess-more").status_code == 401, "the next /64 is someone else"
