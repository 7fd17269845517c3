"""The console's JSON API through the real app on a real redis-server.

Who may do what (anonymous, disabled, the holder, another counsellor, a
supervisor), CSRF on session requests and none with a bearer token, what bad
input gets (a 4xx with a message, never a 500), and what each action leaves
behind: the queue's state, the transcript, and the console event on the
user's pipeline partition that the worker will push (the console never calls
LINE itself).
"""

from __future__ import annotations

import time

import json

import pytest

from bot.console.auth import accounts_of
from bot.handoff.queue import HandoffQueue
from bot.line.events import CONSOLE_EVENT_TYPE
from bot.web import runtime_of
from tests.conftest import tokyo
from tests.console.conftest import login, session_csrf
from tests.fake_line import ManualClock
from tests.redis_server import on_one_and_cluster

# Accounts and the console's actions run on one redis-server and on a Redis Cluster (issue 16).
pytestmark = on_one_and_cluster

STAFFED = tokyo("2026-11-25 15:00")  # Wednesday, the Hyogo desk is staffed 14:00-19:00
CHILD = "U" + "c" * 32
GUARDIAN = "U" + "g" * 32
TEACHER = "U" + "t" * 32
FAKE_ID = "0123456789abcdef"

#: Every API route with its method and a body that would be valid.
ROUTES = [
    ("GET", "/api/handoffs?status=waiting", None),
    ("GET", "/api/handoffs/{id}", None),
    ("GET", "/api/handoffs/{id}/images/1", None),
    ("GET", "/api/handoffs/{id}/history", None),
    ("GET", "/api/follow-ups", None),
    ("GET", "/api/search?q=x", None),
    ("POST", "/api/canned/mine", {"title": "t", "text": "x"}),
    ("POST", "/api/handoffs/{id}/follow-up/done", {}),
    ("GET", "/api/queue/version", None),
    ("GET", "/api/hotlines", None),
    ("GET", "/api/canned", None),
    ("GET", "/api/accounts", None),
    ("POST", "/api/handoffs/{id}/claim", {}),
    ("POST", "/api/handoffs/{id}/reply", {"text": "こんにちは"}),
    ("POST", "/api/handoffs/{id}/card", {"hotline": "sos_dial"}),
    ("POST", "/api/handoffs/{id}/note", {"text": "メモ"}),
    ("POST", "/api/handoffs/{id}/transfer", {"to": "suzuki"}),
    ("POST", "/api/handoffs/{id}/requeue", {}),
    ("POST", "/api/handoffs/{id}/return", {}),
    ("POST", "/api/handoffs/{id}/escalate", {}),
    ("POST", "/api/handoffs/{id}/alert/clear", {}),
    ("POST", "/api/handoffs/{id}/close", {"record": {}}),
]
#: The routes that act on a chat someone holds.
HOLDER_ACTIONS = [
    ("reply", {"text": "こんにちは"}),
    ("card", {"hotline": "sos_dial"}),
    ("note", {"text": "メモ"}),
    ("transfer", {"to": "suzuki"}),
    ("requeue", {}),
    ("return", {}),
    ("escalate", {}),
    ("alert/clear", {}),
]


def good_record(**changes) -> dict:
    record = {
        "role": "child",
        "category": "self_harm",
        "advice": "話を聴き、保護者に相談することを勧めた。24時間子供SOSダイヤルを伝えた。",
        "referred": ["sos_dial"],
        "school_contact_agreed": "not_asked",
        "follow_up": {"needed": True, "text": "明日14時に様子を確認する"},
    }
    record.update(changes)
    return record


@pytest.fixture
def runtime(app):
    runtime = runtime_of(app)
    runtime.clock = lambda: STAFFED  # staffed hours: waiting users are told their place
    return runtime


@pytest.fixture
def people(add_account, accounts):
    add_account("sato")
    add_account("suzuki")
    add_account("boss", "supervisor")
    add_account("gone")
    accounts.disable("gone")


def open_chat(runtime, user: str = CHILD, **fields):
    defaults = dict(role="child", level=None, lang="ja", category="self_harm", urgent=True,
                    severity="high", reasons=["self_harm.wish_to_die"])
    defaults.update(fields)
    return runtime.queue.open(user, **defaults)


def console_events(runtime) -> list[dict]:
    """The console events waiting on the pipeline, oldest first per partition."""
    found = []
    for index in range(runtime.partitions):
        for _, fields in runtime.client.xrange(runtime.keys.partition_events(index)):
            event = json.loads(fields[b"event"])
            if event.get("type") == CONSOLE_EVENT_TYPE:
                # when it was written (the worker drops a message written after the chat ended)
                assert isinstance(event["console"].pop("sent_at"), float)
                found.append(event)
    return found


def actions(runtime, kind: str | None = None) -> list[dict]:
    return [e["console"] for e in console_events(runtime) if kind is None or e["console"]["action"] == kind]


class Session:
    """A logged-in test client that sends its CSRF token like the pages' scripts do."""

    def __init__(self, client):
        self.client = client
        self.csrf = session_csrf(client)

    def get(self, path: str):
        return self.client.get(path)

    def post(self, path: str, body=None, *, csrf: bool = True, raw: bytes | None = None):
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        if raw is not None:
            return self.client.post(path, data=raw, headers=headers, content_type="application/json")
        return self.client.post(path, json=body if body is not None else {}, headers=headers)


@pytest.fixture
def as_user(app, people):
    def make(name: str) -> Session:
        client = app.test_client()
        response = login(client, name)
        assert response.status_code == 302, response.get_data(as_text=True)
        return Session(client)
    return make


@pytest.fixture
def sato(as_user):
    return as_user("sato")


@pytest.fixture
def suzuki(as_user):
    return as_user("suzuki")


@pytest.fixture
def boss(as_user):
    return as_user("boss")


# --- who may ---------------------------------------------------------------------

@pytest.mark.parametrize("method,path,body", ROUTES)
def test_every_route_refuses_an_anonymous_request(client, runtime, method, path, body):
    handoff = open_chat(runtime)
    response = client.open(path.format(id=handoff.id), method=method, json=body)
    assert response.status_code == 401
    assert response.is_json and response.json["error"] == "unauthorized"
    assert runtime.queue.get(handoff.id).status == "waiting"
    assert console_events(runtime) == []


@pytest.mark.parametrize("method,path,body", ROUTES)
def test_every_route_refuses_a_disabled_account_by_session_and_by_token(app, runtime, people, accounts,
                                                                          method, path, body):
    handoff = open_chat(runtime)
    client = app.test_client()
    login(client, "suzuki")
    token = accounts.issue_token("suzuki")
    csrf = session_csrf(client)
    accounts.disable("suzuki")
    response = client.open(path.format(id=handoff.id), method=method, json=body,
                           headers={"X-CSRF-Token": csrf})
    assert response.status_code == 401
    response = app.test_client().open(path.format(id=handoff.id), method=method, json=body,
                                      headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert runtime.queue.get(handoff.id).status == "waiting"


@pytest.mark.parametrize("action,body", HOLDER_ACTIONS)
def test_a_counsellor_cannot_act_on_a_chat_someone_else_holds(runtime, sato, suzuki, action, body):
    handoff = open_chat(runtime)
    assert sato.post(f"/api/handoffs/{handoff.id}/claim").status_code == 200
    before = len(runtime.queue.transcript(handoff.id))
    events = len(console_events(runtime))
    response = suzuki.post(f"/api/handoffs/{handoff.id}/{action}", body)
    assert response.status_code == 403
    assert response.json["error"] == "not_holder" and response.json["holder"] == "sato"
    assert "sato" in response.json["message"]
    after = runtime.queue.get(handoff.id)
    assert after.status == "claimed" and after.claimed_by == "sato" and not after.escalated
    assert len(runtime.queue.transcript(handoff.id)) == before
    assert len(console_events(runtime)) == events


def test_a_counsellor_cannot_close_a_chat_someone_else_holds(runtime, sato, suzuki):
    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    response = suzuki.post(f"/api/handoffs/{handoff.id}/close", {"record": good_record()})
    assert response.status_code == 403 and response.json["holder"] == "sato"
    assert runtime.queue.get(handoff.id).status == "claimed"


def test_a_supervisor_may_act_on_a_chat_someone_else_holds(runtime, sato, boss):
    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    response = boss.post(f"/api/handoffs/{handoff.id}/reply", {"text": "スーパーバイザーです。"})
    assert response.status_code == 200
    assert boss.post(f"/api/handoffs/{handoff.id}/note", {"text": "見守り中"}).status_code == 200
    assert boss.post(f"/api/handoffs/{handoff.id}/escalate").status_code == 200
    response = boss.post(f"/api/handoffs/{handoff.id}/transfer", {"to": "suzuki"})
    assert response.status_code == 200 and response.json["handoff"]["claimed_by"] == "suzuki"
    response = boss.post(f"/api/handoffs/{handoff.id}/requeue")
    assert response.status_code == 200 and response.json["handoff"]["status"] == "waiting"
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    response = boss.post(f"/api/handoffs/{handoff.id}/close", {"record": good_record()})
    assert response.status_code == 200 and response.json["handoff"]["status"] == "closed"
    closed = runtime.queue.get(handoff.id)
    assert closed.closed_by == "boss" and closed.record["advice"].startswith("話を聴き")


def test_only_a_supervisor_may_assign_a_waiting_chat(runtime, sato, boss):
    handoff = open_chat(runtime)
    response = sato.post(f"/api/handoffs/{handoff.id}/transfer", {"to": "suzuki"})
    assert response.status_code == 409 and response.json["error"] == "not_claimed"
    assert runtime.queue.get(handoff.id).status == "waiting"
    response = boss.post(f"/api/handoffs/{handoff.id}/transfer", {"to": "suzuki"})
    assert response.status_code == 200
    assigned = runtime.queue.get(handoff.id)
    assert assigned.status == "claimed" and assigned.claimed_by == "suzuki"
    assert [a["action"] for a in actions(runtime)] == ["claimed"], "the user hears a person joined"


def test_nothing_is_sent_on_a_chat_nobody_has_taken(runtime, sato, boss):
    handoff = open_chat(runtime)
    for who in (sato, boss):
        response = who.post(f"/api/handoffs/{handoff.id}/reply", {"text": "こんにちは"})
        assert response.status_code == 409 and response.json["error"] == "not_claimed"
    assert console_events(runtime) == []


def test_a_session_post_without_its_csrf_token_is_refused(runtime, sato):
    handoff = open_chat(runtime)
    response = sato.post(f"/api/handoffs/{handoff.id}/claim", csrf=False)
    assert response.status_code == 400 and response.json["error"] == "csrf"
    assert runtime.queue.get(handoff.id).status == "waiting"
    response = sato.client.post(f"/api/handoffs/{handoff.id}/claim", json={},
                                headers={"X-CSRF-Token": "not-the-token"})
    assert response.status_code == 400
    assert sato.post(f"/api/handoffs/{handoff.id}/claim").status_code == 200


def test_a_bearer_token_works_without_csrf(app, runtime, people, accounts):
    handoff = open_chat(runtime)
    token = accounts.issue_token("sato")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    listed = client.get("/api/handoffs?status=waiting", headers=auth)
    assert listed.status_code == 200 and [h["id"] for h in listed.json["handoffs"]] == [handoff.id]
    response = client.post(f"/api/handoffs/{handoff.id}/claim", headers=auth)
    assert response.status_code == 200 and response.json["handoff"]["claimed_by"] == "sato"
    response = client.post(f"/api/handoffs/{handoff.id}/reply", json={"text": "トークンから"}, headers=auth)
    assert response.status_code == 200
    response = client.get("/api/handoffs/x", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401


# --- claiming ----------------------------------------------------------------------

def test_claim_conflict_names_the_holder(runtime, sato, suzuki):
    handoff = open_chat(runtime)
    response = sato.post(f"/api/handoffs/{handoff.id}/claim")
    assert response.status_code == 200
    assert response.json["handoff"]["status"] == "claimed" and response.json["handoff"]["claimed_by"] == "sato"
    response = suzuki.post(f"/api/handoffs/{handoff.id}/claim")
    assert response.status_code == 409
    assert response.json == {"error": "taken", "holder": "sato",
                             "message": "この相談は sato さんが対応中です。"}


def test_a_second_click_by_the_holder_tells_the_user_once(runtime, sato):
    handoff = open_chat(runtime)
    assert sato.post(f"/api/handoffs/{handoff.id}/claim").status_code == 200
    assert sato.post(f"/api/handoffs/{handoff.id}/claim").status_code == 200
    assert [a["action"] for a in actions(runtime)] == ["claimed"]
    assert actions(runtime)[0]["handoff"] == handoff.id


def test_claiming_moves_the_others_up_and_tells_them(runtime, sato):
    first = open_chat(runtime, CHILD)
    second = open_chat(runtime, GUARDIAN, role="guardian", category="delete", urgent=False, severity=None,
                       reasons=[])
    runtime.queue.set_notified_position(first.id, 1)
    runtime.queue.set_notified_position(second.id, 2)
    sato.post(f"/api/handoffs/{first.id}/claim")
    told = actions(runtime, "position")
    assert told == [{"action": "position", "handoff": second.id, "n": 1}]


def test_a_closed_chat_cannot_be_claimed(runtime, sato, suzuki):
    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    sato.post(f"/api/handoffs/{handoff.id}/close", {"record": good_record()})
    response = suzuki.post(f"/api/handoffs/{handoff.id}/claim")
    assert response.status_code == 409 and response.json["error"] == "closed"


# --- talking -----------------------------------------------------------------------

def test_reply_queues_a_console_event_on_the_users_pipeline(runtime, sato):
    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    response = sato.post(f"/api/handoffs/{handoff.id}/reply", {"text": "  話してくれてありがとう。  "})
    assert response.status_code == 200
    [event] = [e for e in console_events(runtime) if e["console"]["action"] == "message"]
    assert event["source"] == {"type": "user", "userId": CHILD}
    assert event["console"] == {"action": "message", "handoff": handoff.id, "text": "話してくれてありがとう。"}
    entry = runtime.queue.transcript(handoff.id)[-1]
    assert entry["from"] == "counsellor" and entry["by"] == "sato" and entry["text"] == "話してくれてありがとう。"
    assert runtime.queue.get(handoff.id).first_reply_at is not None


def test_a_card_is_sent_and_recorded(runtime, sato):
    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    assert sato.post(f"/api/handoffs/{handoff.id}/card", {"hotline": "sos_dial"}).status_code == 200
    assert actions(runtime, "card") == [{"action": "card", "handoff": handoff.id, "hotline": "sos_dial"}]
    shown = sato.get(f"/api/handoffs/{handoff.id}").json["transcript"][-1]
    assert shown["kind"] == "card" and shown["hotline"] == "sos_dial" and "SOS" in shown["text"]


def test_a_note_is_kept_and_never_sent(runtime, sato):
    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    before = len(console_events(runtime))
    assert sato.post(f"/api/handoffs/{handoff.id}/note", {"text": "声が沈んでいる"}).status_code == 200
    assert len(console_events(runtime)) == before
    data = sato.get(f"/api/handoffs/{handoff.id}").json
    assert [n["text"] for n in data["notes"]] == ["声が沈んでいる"]
    assert data["notes"][0]["from"] == "note" and data["notes"][0]["by"] == "sato"


def test_escalation_is_recorded_and_returns_the_steps(runtime, sato):
    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    response = sato.post(f"/api/handoffs/{handoff.id}/escalate")
    assert response.status_code == 200 and response.json["handoff"]["escalated"] is True
    steps = " ".join(s["text"] for s in response.json["escalation"]["steps"])
    assert "義務教育課" in steps and "警察" in steps
    assert all("004_b58c78e7698d38bf.txt" in s["source"] for s in response.json["escalation"]["steps"][:5])
    shown = sato.get(f"/api/handoffs/{handoff.id}").json["transcript"][-1]
    assert shown["event"] == "escalated" and "sato" in shown["text"]


def test_the_holder_clears_a_danger_alert(runtime, sato):
    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    runtime.queue.raise_priority(handoff.id, "critical", ["self_harm.place_now"])
    assert sato.get(f"/api/handoffs/{handoff.id}").json["handoff"]["alert"] == "danger"
    assert sato.post(f"/api/handoffs/{handoff.id}/alert/clear").status_code == 200
    assert runtime.queue.get(handoff.id).alert is None


# --- handing on and ending ----------------------------------------------------------

def test_transfer_to_another_counsellor(runtime, sato, suzuki):
    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    response = sato.post(f"/api/handoffs/{handoff.id}/transfer", {"to": "suzuki"})
    assert response.status_code == 200 and response.json["handoff"]["claimed_by"] == "suzuki"
    assert suzuki.post(f"/api/handoffs/{handoff.id}/reply", {"text": "引き継ぎました"}).status_code == 200
    assert sato.post(f"/api/handoffs/{handoff.id}/reply", {"text": "まだいます"}).status_code == 403


@pytest.mark.parametrize("to", ["gone", "nobody", "", 42, None])
def test_transfer_only_to_an_enabled_account(runtime, sato, to):
    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    response = sato.post(f"/api/handoffs/{handoff.id}/transfer", {"to": to})
    assert response.status_code == 400 and response.json["message"]
    assert runtime.queue.get(handoff.id).claimed_by == "sato"


def test_requeue_gives_the_chat_its_place_back_and_tells_the_user(runtime, sato):
    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    response = sato.post(f"/api/handoffs/{handoff.id}/requeue")
    assert response.status_code == 200 and response.json["handoff"]["status"] == "waiting"
    assert response.json["handoff"]["queued_at"] == handoff.queued_at
    assert actions(runtime, "position") == [{"action": "position", "handoff": handoff.id, "n": 1}]


def test_return_to_the_bot(runtime, sato):
    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    response = sato.post(f"/api/handoffs/{handoff.id}/return")
    assert response.status_code == 200 and response.json["handoff"]["status"] == "bot"
    assert actions(runtime, "returned") == [{"action": "returned", "handoff": handoff.id}]
    assert runtime.queue.active_for(CHILD) is None


def test_close_stores_the_record_and_tells_the_user(runtime, sato):
    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    response = sato.post(f"/api/handoffs/{handoff.id}/close",
                         {"record": good_record(referred=["sos_dial", "sos_dial", "jinken"])})
    assert response.status_code == 200 and response.json["handoff"]["status"] == "closed"
    stored = runtime.queue.get(handoff.id).record
    assert stored == {
        "role": "child", "category": "self_harm",
        "advice": "話を聴き、保護者に相談することを勧めた。24時間子供SOSダイヤルを伝えた。",
        "referred": ["sos_dial", "jinken"], "school_contact_agreed": "not_asked",
        # Due three days after the day it closed (STAFFED), as no day was given.
        "follow_up": {"needed": True, "text": "明日14時に様子を確認する", "due": "2026-11-28"},
    }
    assert actions(runtime, "closed") == [{"action": "closed", "handoff": handoff.id}]
    shown = sato.get(f"/api/handoffs/{handoff.id}").json
    assert shown["record"]["school_contact_label"] == "確認していない"
    assert shown["can_act"] is False
    listed = sato.get("/api/handoffs?status=closed").json["handoffs"]
    assert [h["id"] for h in listed] == [handoff.id]
    response = sato.post(f"/api/handoffs/{handoff.id}/reply", {"text": "もう一言"})
    assert response.status_code == 409 and response.json["error"] == "closed"
    # A follow-up note on the finished chat, by whoever closed it.
    assert sato.post(f"/api/handoffs/{handoff.id}/note", {"text": "翌日確認済み"}).status_code == 200


@pytest.mark.parametrize("record,field", [
    (None, "record"),
    ("記録", "record"),
    (good_record(role="alien"), "role"),
    (good_record(category=None), "category"),
    (good_record(advice=""), "advice"),
    (good_record(advice="   "), "advice"),
    (good_record(advice=123), "advice"),
    (good_record(advice="あ" * 4001), "advice"),
    (good_record(referred="sos_dial"), "referred"),
    (good_record(referred=["no_such_window"]), "referred"),
    (good_record(school_contact_agreed=True), "school_contact_agreed"),
    (good_record(follow_up=True), "follow_up"),
    (good_record(follow_up="no"), "follow_up"),
    (good_record(follow_up={"needed": "yes"}), "follow_up"),
    (good_record(follow_up={"needed": True, "text": ""}), "follow_up"),
    (good_record(follow_up={"needed": False, "text": 5}), "follow_up"),
])
def test_close_validates_the_record(runtime, sato, record, field):
    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    response = sato.post(f"/api/handoffs/{handoff.id}/close", {"record": record})
    assert response.status_code == 400
    assert response.json["field"] == field and response.json["message"]
    assert runtime.queue.get(handoff.id).status == "claimed"
    assert actions(runtime, "closed") == []


# --- bad input -----------------------------------------------------------------------

@pytest.mark.parametrize("body,code", [
    ({}, "missing"),
    ({"text": None}, "missing"),
    ({"text": 5}, "bad_type"),
    ({"text": ["a"]}, "bad_type"),
    ({"text": "   "}, "empty"),
    ({"text": "あ" * 2001}, "too_long"),
])
def test_reply_validation(runtime, sato, body, code):
    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    response = sato.post(f"/api/handoffs/{handoff.id}/reply", body)
    assert response.status_code == 400 and response.json["error"] == code
    assert actions(runtime, "message") == []


def test_a_reply_of_exactly_2000_characters_is_sent(runtime, sato):
    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    assert sato.post(f"/api/handoffs/{handoff.id}/reply", {"text": "あ" * 2000}).status_code == 200


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'"text"', b"{", b"null"])
def test_a_body_that_is_not_a_json_object_gets_400(runtime, sato, raw):
    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    response = sato.post(f"/api/handoffs/{handoff.id}/reply", raw=raw)
    assert response.status_code == 400 and response.json["error"] == "bad_json"


@pytest.mark.parametrize("body", [{}, {"hotline": 3}, {"hotline": "no_such_window"}])
def test_card_validation(runtime, sato, body):
    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    response = sato.post(f"/api/handoffs/{handoff.id}/card", body)
    assert response.status_code == 400 and response.json["field"] == "hotline"


@pytest.mark.parametrize("path", [
    "/api/handoffs/{missing}", "/api/handoffs/{missing}/images/1", "/api/handoffs/{bad}",
    "/api/handoffs/{id}/images/0", "/api/handoffs/{id}/images/7", "/api/nothing-here",
])
def test_unknown_things_get_a_json_404(runtime, sato, path):
    handoff = open_chat(runtime)
    response = sato.get(path.format(missing=FAKE_ID, bad="no%20such!", id=handoff.id))
    assert response.status_code == 404 and response.is_json and response.json["message"]


@pytest.mark.parametrize("action", ["claim", "reply", "requeue", "return", "escalate", "close"])
def test_acting_on_an_unknown_chat_gets_404(sato, action):
    response = sato.post(f"/api/handoffs/{FAKE_ID}/{action}", {"text": "x", "record": good_record()})
    assert response.status_code == 404 and response.json["error"] == "missing"


def test_a_wrong_method_gets_a_json_405(sato):
    response = sato.get(f"/api/handoffs/{FAKE_ID}/claim")
    assert response.status_code == 405 and response.is_json


@pytest.mark.parametrize("query", ["status=open", "status=", "limit=0", "limit=abc", "limit=201"])
def test_list_validation(sato, query):
    response = sato.get(f"/api/handoffs?{query}")
    assert response.status_code == 400 and response.json["message"]


def test_since_must_be_a_number(runtime, sato):
    handoff = open_chat(runtime)
    assert sato.get(f"/api/handoffs/{handoff.id}?since=-1").status_code == 400


# --- reading ---------------------------------------------------------------------------

def test_the_list_shows_what_the_queue_needs_and_never_the_line_id(runtime, sato):
    child = open_chat(runtime, CHILD)
    guardian = open_chat(runtime, GUARDIAN, role="guardian", category="delete", urgent=False, severity=None,
                         reasons=[])
    time.sleep(0.005)  # equal severity is ordered by waiting time, in ms: not the same ms
    teacher = open_chat(runtime, TEACHER, role="teacher", category="human", urgent=False, severity=None,
                        reasons=[], identity="県立○○高校の山田です")
    response = sato.get("/api/handoffs?status=waiting")
    assert response.status_code == 200
    listed = response.json["handoffs"]
    assert [h["id"] for h in listed] == [child.id, guardian.id, teacher.id]
    first = listed[0]
    for key in ("id", "user", "role", "category", "severity", "reasons", "queued_at", "claimed_by",
                "position", "alert", "urgent", "waiting_seconds"):
        assert key in first
    assert first["user"] == child.user[:8] and first["position"] == 1
    assert first["severity"] == "high" and first["reasons"] == ["self_harm.wish_to_die"]
    assert first["severity_label"] == "緊急" and first["role_label"] == "児童生徒"
    body = response.get_data(as_text=True)
    for line_id in (CHILD, GUARDIAN, TEACHER):
        assert line_id not in body
    detail = sato.get(f"/api/handoffs/{teacher.id}")
    assert TEACHER not in detail.get_data(as_text=True)
    assert detail.json["identity"] == "県立○○高校の山田です"


def test_the_transcript_keeps_the_bots_part_and_polls_from_an_index(runtime, sato):
    handoff = open_chat(runtime)
    queue = runtime.queue
    queue.append(handoff.id, {"from": "user", "kind": "text", "text": "もう死にたい", "event": "01ABC",
                              "mark": "user"})
    queue.append(handoff.id, {"from": "bot", "kind": "text", "text": "24時間子供SOSダイヤル", "event": "01ABC"})
    queue.append(handoff.id, {"from": "system", "kind": "event", "text": "image received", "event": "01ABD"})
    data = sato.get(f"/api/handoffs/{handoff.id}").json
    assert [(e["n"], e["from"]) for e in data["transcript"]] == [(0, "user"), (1, "bot"), (2, "system")]
    assert data["transcript"][2]["text"] == "画像を受け取りました"
    assert "mark" not in data["transcript"][0] and "event" not in data["transcript"][0]
    assert data["transcript_length"] == 3
    later = sato.get(f"/api/handoffs/{handoff.id}?since=2").json
    assert [e["n"] for e in later["transcript"]] == [2]


def test_an_evidence_image_is_served_with_its_type_and_nosniff(runtime, sato):
    handoff = open_chat(runtime)
    n = runtime.queue.add_image(handoff.id, b"\x89PNG\r\n\x1a\nfake", "image/png")
    response = sato.get(f"/api/handoffs/{handoff.id}/images/{n}")
    assert response.status_code == 200
    assert response.data == b"\x89PNG\r\n\x1a\nfake"
    assert response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"]
    listed = sato.get(f"/api/handoffs/{handoff.id}").json["images"]
    assert [i["url"] for i in listed] == [f"/api/handoffs/{handoff.id}/images/{n}"]


def test_the_version_poll_counts_and_raises_idle_alerts(app, runtime, sato):
    clock = ManualClock()
    runtime.queue = HandoffQueue(runtime.client, runtime.keys, clock=clock)
    urgent = open_chat(runtime, CHILD)
    calm = open_chat(runtime, GUARDIAN, role="guardian", category="delete", urgent=False, severity=None,
                     reasons=[])
    first = sato.get("/api/queue/version").json
    assert first["counts"] == {"waiting": 2, "claimed": 0}
    assert first["urgent_waiting"] == 1 and first["urgent_ids"] == [urgent.id]
    assert first["desk_open"] is True
    sato.post(f"/api/handoffs/{calm.id}/claim")
    second = sato.get("/api/queue/version").json
    assert second["version"] > first["version"] and second["mine"] == [calm.id]
    assert second["idle"] == []
    clock.advance(runtime.config.idle_alert_seconds + 1)
    third = sato.get("/api/queue/version").json
    assert third["idle"] == [calm.id]
    assert {"id": calm.id, "alert": "idle", "claimed_by": "sato", "status": "claimed"} in third["alerts"]
    sato.post(f"/api/handoffs/{calm.id}/reply", {"text": "お待たせしました"})
    assert runtime.queue.get(calm.id).alert is None, "a counsellor's action ends the idle alert"


def test_the_hotline_directory_with_open_now(runtime, sato):
    hotlines = {h["id"]: h for h in sato.get("/api/hotlines").json["hotlines"]}
    assert hotlines["sos_dial"]["phones"][0]["number"] == "0120-0-78310"
    assert hotlines["sos_dial"]["open_now"] is True and hotlines["sos_dial"]["status"]
    assert "kawanishi_ombudsperson" in hotlines


def test_canned_replies_name_their_source(sato):
    data = sato.get("/api/canned").json
    ids = {r["id"] for r in data["replies"]}
    assert {"save_screen", "deletion_warning", "change_address", "talk_to_guardian",
            "police_via_guardian"} <= ids
    # The procedure's replies come from seed 004; those for a child at risk may also
    # come from a named national guideline (issue 15), and say so in words.
    assert all("004_b58c78e7698d38bf.txt" in r["source"] for r in data["replies"] if not r["crisis"])
    assert all("004_b58c78e7698d38bf.txt" in r["source"] or "文科省TALK" in r["source"]
               for r in data["replies"] if r["crisis"])
    assert all(r["source_label"] and ".txt" not in r["source_label"] for r in data["replies"])
    by_id = {r["id"]: r for r in data["replies"]}
    assert "広がって" in by_id["deletion_warning"]["texts"]["ja"]


def test_accounts_lists_only_enabled_ones(sato):
    names = {a["name"] for a in sato.get("/api/accounts").json["accounts"]}
    assert names == {"sato", "suzuki", "boss"}


def test_a_supervisor_role_change_is_seen_at_the_next_request(app, runtime, sato):
    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    other = app.test_client()
    login(other, "suzuki")
    session = Session(other)
    assert session.post(f"/api/handoffs/{handoff.id}/requeue").status_code == 403
    accounts_of(app).set_role("suzuki", "supervisor")
    assert session.post(f"/api/handoffs/{handoff.id}/requeue").status_code == 200


def test_close_takes_the_short_form_of_follow_up(runtime, sato):
    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    record = good_record(follow_up=False)
    response = sato.post(f"/api/handoffs/{handoff.id}/close", {"record": record})
    assert response.status_code == 200
    assert runtime.queue.get(handoff.id).record["follow_up"] == {"needed": False, "text": ""}
