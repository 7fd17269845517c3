"""Every console page and API route (enumerated from app.url_map, so a new route is
covered without editing this file) with random and hostile paths, query strings
and bodies, as anonymous, counsellor, supervisor or by bearer token, with a
missing, wrong, replayed (from a logged-out session) or right CSRF token:

- never a 500 (a 503 would mean Redis is down, which it is not here);
- a refused request (anything but 2xx) changes nothing in Redis but the audit
  stream and the login-failure counters (DUMP of every other key, before and after).

Redis is flushed and the fixture (accounts, a waiting, a claimed and a closed chat)
rebuilt for every example, so examples do not depend on each other.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.console.auth import accounts_of
from bot.web import runtime_of
from tests.console.conftest import PASSWORD, csrf_from, login, session_csrf
from tests.security.hostile import changed, hostile_text, json_values, snapshot

SKIP = ("{audit}", ":fail:")
#: Not the console's: tested in test_hostile_webhook (and /healthz is a plain GET).
NOT_CONSOLE = {"/callback"}
CHILD = "U" + "c" * 32
OTHER = "U" + "d" * 32
THIRD = "U" + "e" * 32
_VAR = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def console_rules(app) -> list[tuple[str, str, dict[str, str]]]:
    """(rule, method, {variable: converter}) for every route but the webhook."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule in NOT_CONSOLE:
            continue
        converters = {name: (conv or "default") for conv, name in _VAR.findall(rule.rule)}
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.rule, method, converters))
    return found


def setup_world(app, redis_client) -> dict[str, Any]:
    """Accounts and three chats on a flushed Redis."""
    redis_client.flushdb()
    runtime = runtime_of(app)
    accounts = accounts_of(app)
    for name, role in (("sato", "counsellor"), ("suzuki", "counsellor"), ("boss", "supervisor")):
        accounts.add(name, role, PASSWORD)
    opened = {}
    for key, user in (("waiting", CHILD), ("claimed", OTHER), ("closed", THIRD)):
        opened[key] = runtime.queue.open(user, role="child", level=None, lang="ja", category="self_harm",
                                         urgent=True, severity="high", reasons=["self_harm.wish_to_die"]).id
    runtime.queue.claim(opened["claimed"], "sato")
    runtime.queue.append(opened["claimed"], {"from": "user", "kind": "text", "text": "090-1234-5678"})
    runtime.queue.claim(opened["closed"], "sato")
    runtime.queue.close(opened["closed"], "sato", {"role": "child", "category": "self_harm"}, force=True)
    return opened


def path_value(draw, converter: str, ids: dict[str, str]) -> str:
    if converter == "int":
        return str(draw(st.one_of(st.integers(0, 5), st.integers(-5, 2**64))))
    value = draw(st.one_of(st.sampled_from(list(ids.values())), hostile_text))
    if not value:
        value = "x"
    return quote(value.encode("utf-8", "surrogatepass"), safe="/" if converter == "path" else "")


@st.composite
def requests(draw, rules, ids):
    rule, method, converters = draw(st.sampled_from(rules))
    path = rule
    for name, converter in converters.items():
        path = re.sub(rf"<(?:[^>:]+:)?{name}>", lambda _m: path_value(draw, converter, ids), path, count=1)
    query = draw(st.dictionaries(st.sampled_from(["status", "limit", "since", "until", "next", "action", "who",
                                                  "handoff", "month", "format", "bye"]),
                                 hostile_text, max_size=3))
    query_text = urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in query.items()})
    body_kind = draw(st.sampled_from(["none", "json", "raw", "form"]))
    body: Any = None
    if body_kind == "json":
        body = draw(st.one_of(json_values, st.fixed_dictionaries({}, optional={
            "text": hostile_text, "to": hostile_text, "hotline": hostile_text, "record": json_values,
            "name": hostile_text, "password": hostile_text})))
    elif body_kind == "raw":
        body = draw(st.binary(max_size=200))
    elif body_kind == "form":
        body = draw(st.dictionaries(st.sampled_from(["name", "password", "csrf_token", "text", "next"]),
                                    hostile_text, max_size=3))
    who = draw(st.sampled_from(["anonymous", "sato", "boss", "token"]))
    csrf = draw(st.sampled_from(["missing", "wrong", "replayed", "right"]))
    return {"path": path + ("?" + query_text if query_text else ""), "method": method, "body_kind": body_kind,
            "body": body, "who": who, "csrf": csrf, "ascii": draw(st.booleans())}


def client_for(app, who: str, csrf_mode: str):
    """A test client signed in as ``who``, and the CSRF token to send (or None)."""
    client = app.test_client()
    headers: dict[str, str] = {}
    if who == "token":
        headers["Authorization"] = "Bearer " + accounts_of(app).issue_token("sato")
    elif who != "anonymous":
        if csrf_mode == "replayed":
            # A token of a session that has since logged out, then a fresh session.
            login(client, who)
            old = session_csrf(client)
            client.post("/console/logout", data={"csrf_token": old})
            assert login(client, who).status_code == 302
            return client, headers, old
        assert login(client, who).status_code == 302
    else:
        page = client.get("/console/login")
        if csrf_mode == "replayed":
            return client, headers, csrf_from(page.get_data(as_text=True)) + "x"
    token = None
    if csrf_mode == "right":
        with client.session_transaction() as session:
            token = session.get("csrf")
    elif csrf_mode == "wrong":
        token = "A" * 43
    return client, headers, token


def send(client, request: dict[str, Any], headers: dict[str, str], token: str | None):
    headers = dict(headers)
    kind, body = request["body_kind"], request["body"]
    kwargs: dict[str, Any] = {}
    if kind == "json":
        # ensure_ascii: "\ud800" escapes reach the app as lone surrogates; without, raw UTF-8.
        text = json.dumps(body, ensure_ascii=request.get("ascii", False))
        kwargs = {"data": text.encode("utf-8", "surrogatepass"),
                  "content_type": "application/json"}
    elif kind == "raw":
        kwargs = {"data": body, "content_type": "application/json"}
    elif kind == "form":
        form = {k: v.encode("utf-8", "surrogatepass") for k, v in body.items()}
        if token is not None and "csrf_token" not in form:
            form["csrf_token"] = token
        kwargs = {"data": form}
    if token is not None:
        headers["X-CSRF-Token"] = token
    return client.open(request["path"], method=request["method"], headers=headers, **kwargs)


@pytest.fixture
def world(app, redis_client):
    return setup_world(app, redis_client)


@pytest.mark.slow  # 300 hostile request sequences: about 10 s
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_no_route_fails_and_a_refusal_changes_nothing(app, redis_client, world, data):
    ids = setup_world(app, redis_client)
    request = data.draw(requests(console_rules(app), ids))
    client, headers, token = client_for(app, request["who"], request["csrf"])
    before = snapshot(redis_client, skip=SKIP)
    answer = send(client, request, headers, token)
    event(f"{request['who']} {request['method']} {answer.status_code}")  # --hypothesis-show-statistics
    assert answer.status_code < 500, (request, answer.get_data(as_text=True)[:500])
    # A logout with the right token is a 302 that must change something: it
    # deletes the server-side session (issue 13). Every other refusal changes nothing.
    logout = request["path"] == "/console/logout" and answer.status_code == 302
    if not 200 <= answer.status_code < 300 and not logout:
        assert changed(before, snapshot(redis_client, skip=SKIP)) == [], request


def test_every_route_is_enumerated(app):
    rules = {rule for rule, _method, _conv in console_rules(app)}
    for expected in ("/api/handoffs/<hid>/reply", "/api/handoffs/<hid>/close", "/console/login",
                     "/console/logout", "/console/audit", "/api/audit", "/console/h/<hid>"):
        assert expected in rules


UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


@pytest.mark.slow  # 60 sessions, each logged in: about 3 s
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_session_post_without_its_own_csrf_token_is_always_refused(app, redis_client, world, data):
    ids = setup_world(app, redis_client)
    rules = [r for r in console_rules(app) if r[1] in UNSAFE and r[0] != "/console/logout"]
    request = data.draw(requests(rules, ids))
    request["who"] = data.draw(st.sampled_from(["sato", "boss"]))
    request["csrf"] = data.draw(st.sampled_from(["missing", "wrong", "replayed"]))
    client, headers, token = client_for(app, request["who"], request["csrf"])
    before = snapshot(redis_client, skip=SKIP)
    answer = send(client, request, headers, token)
    assert answer.status_code in (400, 404, 405), (request, answer.status_code)
    assert changed(before, snapshot(redis_client, skip=SKIP)) == []


@pytest.mark.parametrize("action, body", [
    ("reply", '{"text": "\\ud800"}'), ("note", '{"text": "a\\udfffb"}'), ("transfer", '{"to": "\\ud800"}'),
    ("card", '{"hotline": "\\udc00"}'),
    ("close", '{"record": {"advice": "\\ud800", "role": "child", "category": "self_harm", "referred": [], '
              '"school_contact_agreed": "not_asked", "follow_up": false}}'),
    ("reply", '{"text": "ok", "\\ud800": 1}'),
])
def test_a_lone_surrogate_in_json_is_a_400_not_a_500(app, redis_client, world, action, body):
    """Found by the property above: valid JSON, no character, could not be stored."""
    ids = setup_world(app, redis_client)
    client, headers, token = client_for(app, "sato", "right")
    before = snapshot(redis_client, skip=SKIP)
    answer = client.post(f"/api/handoffs/{ids['claimed']}/{action}", data=body.encode(),
                         content_type="application/json", headers={"X-CSRF-Token": token})
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "bad_json"
    assert changed(before, snapshot(redis_client, skip=SKIP)) == []
