"""Issue 13, finding 3: no anonymous request can grow Redis without bound.

Redis runs ``noeviction``: a full Redis makes the webhook answer 503 and
children's messages wait. Attempts refused while locked and failures on names
that do not exist are counted per day (one small hash a month), not appended to
the audit stream; only keys with a TTL (the lock-out counters) may come and go."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.console.auditlog import audit_log
from bot.web import runtime_of
from tests.console.conftest import csrf_from, login
from tests.console.test_auth import app, probe_blueprint  # noqa: F401  (fixture)

WRONG = "wrong-Password-77"


def from_address(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def refused_today(app) -> dict[str, int]:
    log = audit_log(app)
    today = datetime.fromtimestamp(log.clock(), ZoneInfo("Asia/Tokyo"))
    return log.refused(today.strftime("%Y-%m")).get(today.strftime("%Y-%m-%d"), {})


def persistent_bytes(redis_client) -> dict[bytes, int]:
    """MEMORY USAGE of every key that has no TTL: what stays until someone deletes it."""
    return {key: int(redis_client.memory_usage(key, samples=0) or 0)
            for key in redis_client.scan_iter(count=1000) if redis_client.ttl(key) == -1}


def test_a_flood_on_a_locked_name_is_counted_not_logged(app, add_account):
    add_account("aoki")
    attacker = from_address(app, "203.0.113.7")
    for _ in range(5):
        assert login(attacker, "aoki", WRONG).status_code == 401
    log = audit_log(app)
    entries = log.count()
    assert entries == 5, "each failure on a real account is an entry (the lock-out allows 5)"
    assert log.list(limit=1)[0].details.get("lock") == "started", "the last one says the lock began"
    for _ in range(200):
        assert login(attacker, "aoki", WRONG).status_code == 429
    assert log.count() == entries, "refused attempts add no entries"
    assert refused_today(app) == {"login_locked": 200}


def test_failures_on_unknown_names_are_counted_not_logged(app):
    for i in range(40):
        login(from_address(app, f"198.51.100.{i}"), f"nobody{i}", WRONG)
    assert audit_log(app).count() == 0
    assert refused_today(app) == {"login_failed": 40}


def test_anonymous_requests_leave_no_lasting_growth(app, add_account, redis_client):
    """Hundreds of anonymous requests of every kind: the keys that stay (no TTL) grow by
    one small counter hash at most, and the audit stream not at all."""
    add_account("aoki")
    login(app.test_client(), "aoki", WRONG)  # the stream and this month's counters exist already
    login(app.test_client(), "nobody", WRONG)
    before = persistent_bytes(redis_client)
    stream = audit_log(app).count()
    for i in range(300):
        client = from_address(app, f"192.0.2.{i % 250}")
        kind = i % 5
        if kind == 0:
            login(client, "aoki", WRONG)                     # a real name: locked after 5
        elif kind == 1:
            login(client, f"guess-{i}", WRONG)               # a new name each time
        elif kind == 2:
            client.get("/console/login")                      # a form with its CSRF token
        elif kind == 3:
            client.post("/console/login", data={"name": "aoki", "password": WRONG})  # no CSRF token
        else:
            client.get("/api/handoffs")                       # 401
    after = persistent_bytes(redis_client)
    assert audit_log(app).count() - stream <= 4, "at most the real name's remaining failures"
    assert set(after) == set(before), "no new lasting key"
    growth = sum(after.values()) - sum(before.values())
    assert growth <= 256, f"lasting keys grew by {growth} bytes"


def test_the_login_form_writes_nothing_to_redis(app, redis_client):
    """Its CSRF token lives in the signed cookie: an anonymous visitor costs Redis nothing."""
    before = redis_client.dbsize()
    for i in range(50):
        page = from_address(app, f"192.0.2.{i}").get("/console/login")
        assert csrf_from(page.get_data(as_text=True))
    assert redis_client.dbsize() == before


def test_a_refused_attempt_changes_no_counter(app, redis_client):
    """Locked: the lock is neither extended nor the counters grown by hammering."""
    attacker = from_address(app, "203.0.113.8")
    for i in range(20):
        login(attacker, f"guess-{i}", WRONG)
    keys = sorted(k for k in redis_client.scan_iter(match=runtime_of(app).keys.console("fail:") + "*"))
    values = [redis_client.get(k) for k in keys]
    for i in range(50):
        assert login(attacker, f"other-{i}", WRONG).status_code == 429
    assert sorted(redis_client.scan_iter(match=runtime_of(app).keys.console("fail:") + "*")) == keys
    assert [redis_client.get(k) for k in keys] == values
