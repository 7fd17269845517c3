"""The audit log: every console action is recorded (who, when, which chat), never
message text, and only supervisors read it."""

from __future__ import annotations

import pytest

from bot.console.auditlog import ACTIONS, AuditLog, audit_log
from tests.console.conftest import PASSWORD, csrf_from, login
from tests.console.test_api import (  # noqa: F401  (fixtures)
    CHILD,
    as_user,
    boss,
    good_record,
    open_chat,
    people,
    runtime,
    sato,
    suzuki,
)


def entries(app, **filters):
    return audit_log(app).list(**filters)


def test_actions_on_a_chat_are_recorded_in_order_without_text(app, runtime, sato):
    h = open_chat(runtime)
    secret = "090-1234-5678 に電話して、秘密のこと"
    assert sato.get(f"/api/handoffs/{h.id}").status_code == 200
    assert sato.post(f"/api/handoffs/{h.id}/claim").status_code == 200
    assert sato.post(f"/api/handoffs/{h.id}/reply", {"text": secret}).status_code == 200
    assert sato.post(f"/api/handoffs/{h.id}/card", {"hotline": "sos_dial"}).status_code == 200
    assert sato.post(f"/api/handoffs/{h.id}/note", {"text": secret}).status_code == 200
    assert sato.post(f"/api/handoffs/{h.id}/escalate").status_code == 200
    assert sato.post(f"/api/handoffs/{h.id}/alert/clear").status_code == 200
    assert sato.post(f"/api/handoffs/{h.id}/close", {"record": good_record()}).status_code == 200
    log = list(reversed(entries(app, handoff_id=h.id)))
    assert [e.action for e in log] == ["view_transcript", "claim", "reply", "card", "note", "escalate",
                                       "alert_clear", "close"]
    assert {e.who for e in log} == {"sato"}
    assert {e.via for e in log} == {"session"}
    assert log[3].details == {"hotline": "sos_dial"}
    assert log[-1].details == {"category": "self_harm", "role": "child"}
    rt = app.extensions["netsoudan.runtime"]
    # Every stored field but the stream ids and the clock, which are numbers that
    # contain 1234 now and then (1796547801234-0 failed a CI run).
    stored = [{k: v for k, v in fields.items() if k != b"at"} for _id, fields in rt.client.xrange(rt.keys.audit_log())]
    raw = repr(stored)
    assert "秘密" not in raw and "1234" not in raw.replace(h.id, "")
    assert CHILD not in raw


def test_transfer_requeue_return_and_the_chat_page(app, runtime, sato, suzuki, boss):
    h = open_chat(runtime)
    assert sato.post(f"/api/handoffs/{h.id}/claim").status_code == 200
    assert sato.post(f"/api/handoffs/{h.id}/transfer", {"to": "suzuki"}).status_code == 200
    assert suzuki.post(f"/api/handoffs/{h.id}/requeue").status_code == 200
    assert boss.get(f"/console/h/{h.id}").status_code == 200
    assert boss.post(f"/api/handoffs/{h.id}/return").status_code == 200
    log = list(reversed(entries(app, handoff_id=h.id)))
    assert [(e.action, e.who) for e in log] == [
        ("claim", "sato"), ("transfer", "sato"), ("requeue", "suzuki"), ("view_transcript", "boss"),
        ("return", "boss")]
    assert log[1].details == {"to": "suzuki"}
    assert log[3].details == {"page": "chat"}


def test_a_refused_action_is_not_recorded_as_done(app, runtime, sato, suzuki):
    h = open_chat(runtime)
    sato.post(f"/api/handoffs/{h.id}/claim")
    assert suzuki.post(f"/api/handoffs/{h.id}/reply", {"text": "x"}).status_code == 403
    assert [e.action for e in entries(app, who="suzuki")] == ["login"]


def test_login_logout_and_failures(app, people):
    client = app.test_client()
    assert login(client, "sato", "wrong-password-123").status_code == 401
    assert login(client, "nobody-here", "wrong-password-123").status_code == 401
    assert login(client, "my-Secret-pass-9", "x").status_code == 401  # a password typed as the name
    assert login(client, "sato").status_code == 302
    page = client.get("/console/")
    client.post("/console/logout", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    log = list(reversed(entries(app)))
    # Failures on names that do not exist are anonymous: counted per day, not entries.
    assert [(e.action, e.who) for e in log] == [("login_failed", "sato"), ("login", "sato"), ("logout", "sato")]
    assert "my-Secret-pass-9" not in repr(log)
    assert log[0].details["address"] == "127.0.0.1"
    audit = app.extensions["netsoudan.console.audit"]
    counted = [day for month in _months_around(log[0].at) for day in audit.refused(month).values()]
    assert counted == [{"login_failed": 2}]


def test_only_supervisors_read_the_log(app, runtime, sato, boss):
    h = open_chat(runtime)
    sato.get(f"/api/handoffs/{h.id}")
    assert sato.get("/api/audit").status_code == 403
    assert sato.get("/console/audit").status_code == 403
    answer = boss.get("/api/audit?action=view_transcript")
    assert answer.status_code == 200
    found = answer.get_json()["entries"]
    assert [(e["who"], e["action"], e["handoff_id"]) for e in found] == [("sato", "view_transcript", h.id)]
    assert found[0]["action_label"] == ACTIONS["view_transcript"]
    page = boss.get("/console/audit")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "監査ログ" in text and "やりとりの閲覧" in text and h.id in text
    # Reading the log is itself recorded.
    assert [e.who for e in entries(app, action="view_audit")] == ["boss", "boss"]
    # Attempts counted instead of logged are shown to supervisors too.
    login(app.test_client(), "nobody-here", "wrong-Password-77")
    text = boss.get("/console/audit").get_data(as_text=True)
    assert "記録せずに数えたログインの試み" in text and "存在しないユーザー名でのログイン失敗" in text
    assert app.test_client().get("/api/audit").status_code == 401


@pytest.mark.parametrize("query", ["action=nope", "limit=0", "limit=x", "since=yesterday", "handoff=../x",
                                   "until=2026-13-45", "who=" + "a" * 80])
def test_bad_filters_are_400(boss, query):
    assert boss.get(f"/api/audit?{query}").status_code == 400
    assert boss.get(f"/console/audit?{query}").status_code == 400


def test_listing_filters_by_time_and_pages_past_the_first_batch(app):
    runtime = app.extensions["netsoudan.runtime"]
    now = [1_800_000_000.0]
    log = AuditLog(runtime.client, runtime.keys, clock=lambda: now[0])
    for i in range(1200):
        now[0] += 1
        log.append("claim" if i % 3 else "reply", "sato", handoff_id=f"h{i}")
    assert log.count() == 1200
    replies = log.list(action="reply", limit=500)
    assert len(replies) == 400 and replies[0].handoff_id == "h1197"
    assert [e.handoff_id for e in log.list(since=1_800_000_000 + 1199, limit=10)] == ["h1199", "h1198"]
    assert [e.handoff_id for e in log.list(until=1_800_000_000 + 2, limit=10)] == ["h1", "h0"]


def test_details_are_small_and_masked(app):
    runtime = app.extensions["netsoudan.runtime"]
    log = AuditLog(runtime.client, runtime.keys)
    log.append("export", "boss", details={"month": "2026-11", "note": "連絡先 090-1234-5678", "Bad Key": 1,
                                           "long": "x" * 1000, "ctl": "a\x00b\nc"})
    entry = log.list(limit=1)[0]
    assert entry.details == {"month": "2026-11", "note": "連絡先 [電話番号]", "long": "x" * 120, "ctl": "abc"}


def test_the_log_is_never_trimmed():
    import inspect

    import bot.console.auditlog as module
    source = inspect.getsource(module)
    assert "maxlen" not in source.lower().replace("no maxlen", "") and "xtrim" not in source.lower()


def _months_around(at: float) -> list[str]:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    day = datetime.fromtimestamp(at, ZoneInfo("Asia/Tokyo"))
    return sorted({(day + timedelta(days=d)).strftime("%Y-%m") for d in (-1, 0, 1)})


def viewers(app, hid):
    return [e.who for e in reversed(entries(app, handoff_id=hid, action="view_transcript"))]


def test_a_chat_read_again_and_again_is_one_entry_per_sign_in_and_quarter_hour(app, runtime, sato, boss):
    now = [1_800_000_000.0]
    audit_log(app).clock = lambda: now[0]
    h = open_chat(runtime)
    poll = {"X-Console-Background": "1"}
    assert sato.get(f"/console/h/{h.id}").status_code == 200
    for _ in range(5):  # the page's transcript, then its polls every two seconds
        now[0] += 2
        assert sato.client.get(f"/api/handoffs/{h.id}", headers=poll).status_code == 200
    assert viewers(app, h.id) == ["sato"]
    now[0] += 15 * 60  # the next quarter hour: the chat still open on the screen is a read again
    assert sato.client.get(f"/api/handoffs/{h.id}", headers=poll).status_code == 200
    assert viewers(app, h.id) == ["sato", "sato"]
    assert boss.get(f"/api/handoffs/{h.id}").status_code == 200
    again = app.test_client()  # sato signed in a second time (another tab of another browser)
    login(again, "sato")
    assert again.get(f"/api/handoffs/{h.id}").status_code == 200
    assert viewers(app, h.id) == ["sato", "sato", "boss", "sato"]


def test_a_poll_that_brings_nothing_new_is_not_a_read(app, runtime, sato):
    now = [1_800_000_000.0]
    audit_log(app).clock = lambda: now[0]
    h = open_chat(runtime)
    runtime.queue.append(h.id, {"from": "user", "kind": "text", "text": "たすけて", "at": now[0]})
    length = sato.get(f"/api/handoffs/{h.id}").get_json()["transcript_length"]
    now[0] += 3600
    assert sato.get(f"/api/handoffs/{h.id}?since={length}").status_code == 200
    assert viewers(app, h.id) == ["sato"]
    runtime.queue.append(h.id, {"from": "user", "kind": "text", "text": "まだいますか", "at": now[0]})
    assert sato.get(f"/api/handoffs/{h.id}?since={length}").get_json()["transcript"]
    assert viewers(app, h.id) == ["sato", "sato"]


def test_a_read_the_log_could_not_take_is_refused_and_the_next_one_is_recorded(app, runtime, sato, monkeypatch):
    import redis

    h = open_chat(runtime)
    real = AuditLog.append
    failing = [True]

    def append(self, *args, **kwargs):
        if failing.pop() if failing else False:
            raise redis.ConnectionError("the log's server went away")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(AuditLog, "append", append)
    assert sato.get(f"/api/handoffs/{h.id}").status_code == 503
    assert sato.get(f"/api/handoffs/{h.id}").status_code == 200
    assert viewers(app, h.id) == ["sato"]
