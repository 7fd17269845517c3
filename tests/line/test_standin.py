"""The LINE Messaging API stand-in behaves like LINE where the bot's
correctness depends on it: single-use, 60-second reply tokens; retry keys
accepted once (409 after); validation of the messages; faults on demand; and
any call it does not know is recorded as unexpected."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest
import urllib3

from bot.line.standin import INVALID_REPLY_TOKEN, StandinLine, validate_messages
from tests.fake_line import ManualClock, fake_line  # noqa: F401

TOKEN = "secret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TEXT = {"type": "text", "text": "こんにちは"}


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def line(clock):
    return StandinLine(access_token=TOKEN, clock=clock)


@pytest.fixture
def client(line):
    return line.app.test_client()


def reply(client, token, messages=(TEXT,), headers=AUTH):
    return client.post("/v2/bot/message/reply", json={"replyToken": token, "messages": list(messages)},
                       headers=headers)


def push(client, to, messages=(TEXT,), key=None, headers=AUTH):
    headers = dict(headers)
    if key is not None:
        headers["X-Line-Retry-Key"] = key
    return client.post("/v2/bot/message/push", json={"to": to, "messages": list(messages)}, headers=headers)


# --- reply tokens --------------------------------------------------------------------------


def test_a_reply_with_an_issued_token_goes_to_the_user_it_was_issued_for(line, client):
    token = line.issue_reply_token("U1")
    response = reply(client, token)
    assert response.status_code == 200
    assert len(response.json["sentMessages"]) == 1
    assert response.headers["X-Line-Request-Id"]
    [delivered] = line.deliveries()
    assert (delivered.kind, delivered.user_id, delivered.messages) == ("reply", "U1", (TEXT,))


def test_a_reply_token_is_single_use(line, client):
    token = line.issue_reply_token("U1")
    assert reply(client, token).status_code == 200
    second = reply(client, token)
    assert second.status_code == 400
    assert second.json == {"message": INVALID_REPLY_TOKEN}
    assert len(line.deliveries()) == 1


def test_an_unknown_reply_token_is_invalid(line, client):
    response = reply(client, "0" * 32)
    assert response.status_code == 400 and response.json["message"] == INVALID_REPLY_TOKEN
    assert line.deliveries() == []


def test_a_reply_token_lives_just_under_a_minute(line, client, clock):
    young = line.issue_reply_token("U1")
    old = line.issue_reply_token("U1")
    clock.advance(59.9)
    assert reply(client, young).status_code == 200
    clock.advance(0.1)
    assert reply(client, old).json == {"message": INVALID_REPLY_TOKEN}


def test_a_token_can_be_issued_in_the_past(line, client, clock):
    token = line.issue_reply_token("U1", issued_at=clock() - 61)
    assert reply(client, token).status_code == 400


def test_a_refused_reply_does_not_spend_the_token(line, client):
    token = line.issue_reply_token("U1")
    assert reply(client, token, messages=[]).status_code == 400
    assert reply(client, token).status_code == 200


def test_a_reply_to_a_group_goes_to_the_group(line, client):
    token = line.issue_reply_token("Cgroup")
    reply(client, token)
    assert line.deliveries()[0].user_id == "Cgroup"


def test_retry_key_on_a_reply_is_refused_like_line(line, client):
    token = line.issue_reply_token("U1")
    response = reply(client, token, headers={**AUTH, "X-Line-Retry-Key": str(uuid.uuid4())})
    assert response.status_code == 400


# --- auth --------------------------------------------------------------------------------


def test_no_bearer_token_is_401(line, client):
    assert reply(client, line.issue_reply_token("U1"), headers={}).status_code == 401
    assert push(client, "U1", headers={"Authorization": "Bearer "}).status_code == 401


def test_a_configured_token_must_match(line, client):
    assert push(client, "U1", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert line.deliveries() == []


def test_any_token_is_accepted_when_none_is_configured():
    line = StandinLine()
    response = line.app.test_client().post(
        "/v2/bot/message/push", json={"to": "U1", "messages": [TEXT]}, headers={"Authorization": "Bearer x"}
    )
    assert response.status_code == 200


# --- push and retry keys ------------------------------------------------------------------------


def test_push_without_retry_key_is_delivered_each_time(line, client):
    assert push(client, "U1").status_code == 200
    assert push(client, "U1").status_code == 200
    assert [d.kind for d in line.deliveries("U1")] == ["push", "push"]


def test_a_retry_key_is_accepted_once_then_409_like_line(line, client):
    key = str(uuid.uuid4())
    first = push(client, "U1", key=key)
    assert first.status_code == 200
    again = push(client, "U1", key=key)
    assert again.status_code == 409
    assert again.json["message"] == "The retry key is already accepted"
    assert again.headers["x-line-accepted-request-id"] == first.headers["X-Line-Request-Id"]
    [delivered] = line.deliveries()
    assert delivered.retry_key == key
    assert [c.status for c in line.calls()] == [200, 409]


def test_a_retry_key_must_be_a_uuid(line, client):
    response = push(client, "U1", key="not-a-uuid")
    assert response.status_code == 400
    assert line.deliveries() == []


def test_a_refused_push_does_not_spend_its_retry_key(line, client):
    key = str(uuid.uuid4())
    assert push(client, "U1", messages=[], key=key).status_code == 400
    assert push(client, "U1", key=key).status_code == 200


def test_push_to_a_user_who_unfollowed_is_accepted_but_recorded(line, client):
    line.add_user("U1")
    line.unfollow("U1")
    assert push(client, "U1").status_code == 200
    assert [d.user_id for d in line.pushes_to_unfollowed()] == ["U1"]
    line.follow("U1")
    push(client, "U1")
    assert len(line.pushes_to_unfollowed()) == 1


# --- validation like LINE ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "messages, problem",
    [
        ([], "messages"),
        ([TEXT] * 6, "messages"),
        ([{"type": "song"}], "messages[0].type"),
        (["hello"], "messages[0].type"),
        ([{"type": "text", "text": ""}], "messages[0].text"),
        ([{"type": "text", "text": "あ" * 5001}], "messages[0].text"),
        ([{"type": "text", "text": "😀" * 2501}], "messages[0].text"),  # 5002 UTF-16 units
        ([{"type": "flex", "contents": {"type": "bubble"}}], "messages[0].altText"),
        ([{"type": "flex", "altText": "a", "contents": {"type": "carousel",
                                                        "contents": [{"type": "bubble"}] * 13}}],
         "messages[0].contents.contents"),
        ([{"type": "flex", "altText": "a" * 1501, "contents": {"type": "bubble"}}], "messages[0].altText"),
        ([{"type": "flex", "altText": "a", "contents": {"type": "bubble", "footer": {
            "type": "box", "layout": "vertical", "contents": [
                {"type": "button", "action": {"type": "uri", "label": "x", "uri": "javascript:alert(1)"}}]}}}],
         "messages[0].contents.footer.contents[0].action.uri"),
        ([{**TEXT, "quickReply": {"items": [
            {"type": "action", "action": {"type": "postback", "label": "x", "data": "d"}}] * 14}}],
         "messages[0].quickReply.items"),
        ([{**TEXT, "quickReply": {"items": [
            {"type": "action", "action": {"type": "postback", "label": "あ" * 21, "data": "d"}}]}}],
         "messages[0].quickReply.items[0].action.label"),
        ([{**TEXT, "quickReply": {"items": [{"type": "action", "action": {"type": "postback", "data": "d"}}]}}],
         "messages[0].quickReply.items[0].action.label"),
        ([{**TEXT, "quickReply": {"items": [
            {"type": "action", "action": {"type": "postback", "label": "x", "data": "d" * 301}}]}}],
         "messages[0].quickReply.items[0].action.data"),
    ],
)
def test_messages_line_would_refuse_are_refused_with_the_property(line, client, messages, problem):
    assert problem in [p for _, p in validate_messages(messages)]
    response = push(client, "U1", messages=messages)
    assert response.status_code == 400
    assert "error" in response.json["message"]
    assert problem in [d["property"] for d in response.json["details"]]
    assert line.deliveries() == []


def test_limits_exactly_are_accepted():
    assert validate_messages([{"type": "text", "text": "😀" * 2500}] * 5) == []
    items = [{"type": "action", "action": {"type": "postback", "label": "あ" * 20, "data": "d" * 300}}] * 13
    assert validate_messages([{**TEXT, "quickReply": {"items": items}}]) == []


# --- profile, leave ----------------------------------------------------------------------------


def test_profile_of_a_known_user_with_language(line, client):
    line.add_user("U1", display_name="たろう")
    response = client.get("/v2/bot/profile/U1", headers=AUTH)
    assert response.status_code == 200
    assert response.json == {"userId": "U1", "displayName": "たろう", "language": "ja"}
    line.set_language("U1", "en-US")
    assert client.get("/v2/bot/profile/U1", headers=AUTH).json["language"] == "en-US"
    line.set_language("U1", None)
    assert "language" not in client.get("/v2/bot/profile/U1", headers=AUTH).json


def test_a_user_a_token_was_issued_for_is_known(line, client):
    line.issue_reply_token("U9")
    assert client.get("/v2/bot/profile/U9", headers=AUTH).json["language"] == "ja"


def test_profile_of_an_unknown_or_blocking_user_is_404(line, client):
    assert client.get("/v2/bot/profile/Unobody", headers=AUTH).status_code == 404
    line.add_user("U1")
    line.unfollow("U1")
    assert client.get("/v2/bot/profile/U1", headers=AUTH).status_code == 404


def test_leave_group_and_room(line, client):
    assert client.post("/v2/bot/group/G1/leave", headers=AUTH).status_code == 200
    assert client.post("/v2/bot/room/R1/leave", headers=AUTH).json == {}
    assert line.left() == [("group", "G1"), ("room", "R1")]


# --- faults ------------------------------------------------------------------------------------


def test_fail_next_answers_that_many_then_works(line, client):
    line.fail_next(2, status=500)
    assert [push(client, "U1").status_code for _ in range(3)] == [500, 500, 200]
    assert len(line.deliveries()) == 1


def test_fail_next_only_on_its_path(line, client):
    line.fail_next(1, status=500, path_prefix="/v2/bot/message/push")
    assert reply(client, line.issue_reply_token("U1")).status_code == 200
    assert push(client, "U1").status_code == 500


def test_fail_next_can_let_some_through_first(line, client):
    line.fail_next(1, status=500, skip=2)
    assert [push(client, "U1").status_code for _ in range(4)] == [200, 200, 500, 200]


def test_429_carries_retry_after(line, client):
    line.fail_next(1, status=429, retry_after=3)
    response = push(client, "U1")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"


def test_a_failure_after_acceptance_delivers_and_answers_500(line, client):
    line.fail_next(1, status=500, accept_first=True)
    key = str(uuid.uuid4())
    assert push(client, "U1", key=key).status_code == 500
    assert len(line.deliveries()) == 1
    assert push(client, "U1", key=key).status_code == 409  # a retry does not deliver again
    assert len(line.deliveries()) == 1


def test_an_injected_failure_is_not_a_delivery(line, client):
    line.fail_next(1, status=503)
    key = str(uuid.uuid4())
    assert push(client, "U1", key=key).status_code == 503
    assert push(client, "U1", key=key).status_code == 200  # the key was not accepted


def test_delay_next_slows_the_answer(line, client):
    line.delay_next(1, 0.3)
    started = time.monotonic()
    push(client, "U1")
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    push(client, "U1")
    assert time.monotonic() - started < 0.3


# --- unexpected calls, queries --------------------------------------------------------------------


def test_unknown_paths_and_methods_are_404_and_recorded_as_unexpected(line, client):
    assert client.get("/v2/bot/message/reply", headers=AUTH).status_code == 404
    assert client.post("/v2/bot/message/multicast", json={}, headers=AUTH).status_code == 404
    assert [(c.method, c.path) for c in line.unexpected()] == [
        ("GET", "/v2/bot/message/reply"),
        ("POST", "/v2/bot/message/multicast"),
    ]
    assert all(c.unexpected for c in line.unexpected())


def test_a_bug_in_the_stand_in_is_unexpected_not_a_line_500(line, client):
    def broken_clock():
        raise RuntimeError("boom")

    line.set_clock(broken_clock)
    assert push(client, "U1").status_code == 500
    [call] = line.unexpected()
    assert call.status == 500 and "RuntimeError: boom" in call.error


def test_calls_include_refused_ones_but_not_the_access_token(line, client):
    push(client, "U1", messages=[])
    push(client, "U1")
    assert [c.status for c in line.calls()] == [400, 200]
    assert TOKEN not in repr(line.calls())


def test_messages_for_a_chat_page(line, client):
    token = line.issue_reply_token("U1")
    reply(client, token, messages=[TEXT, {"type": "text", "text": "二"}])
    push(client, "U2")
    push(client, "U1", messages=[{"type": "text", "text": "三"}])
    assert [m["text"] for m in line.messages_for("U1")] == ["こんにちは", "二", "三"]
    assert [m["text"] for m in line.messages_for("U1", since=2)] == ["三"]


def test_wait_for_deliveries_returns_when_they_arrive(line, client):
    threading.Timer(0.1, lambda: push(line.app.test_client(), "U1")).start()
    assert len(line.wait_for_deliveries(1, "U1", timeout=5)) == 1
    with pytest.raises(TimeoutError):
        line.wait_for_deliveries(2, "U1", timeout=0.1)


def test_reset_forgets_everything(line, client):
    push(client, "U1")
    line.fail_next(1)
    line.reset()
    assert line.deliveries() == [] and line.calls() == []
    assert push(client, "U1").status_code == 200


# --- over HTTP through the fixture ------------------------------------------------------------------


def test_the_fixture_serves_over_http(fake_line):
    http = urllib3.PoolManager()
    token = fake_line.issue_reply_token("U1")
    response = http.request(
        "POST", fake_line.base_url + "/v2/bot/message/reply",
        body=json.dumps({"replyToken": token, "messages": [TEXT]}),
        headers={"Authorization": f"Bearer {fake_line.access_token}", "Content-Type": "application/json"},
    )
    assert response.status == 200
    assert fake_line.deliveries()[0].user_id == "U1"


def test_the_fixture_cuts_a_delayed_answer_short_at_shutdown(fake_line):
    fake_line.delay_next(1, 30)
    http = urllib3.PoolManager()
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        http.request("POST", fake_line.base_url + "/v2/bot/message/push",
                     body=json.dumps({"to": "U1", "messages": [TEXT]}),
                     headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
                     timeout=urllib3.Timeout(connect=1, read=0.2), retries=False)
    # teardown must not wait 30 s (pytest's own timeout would catch a hang)


@pytest.mark.e2e  # starts a pytest of its own in a subprocess
def test_the_fixture_fails_a_test_that_made_an_unexpected_call(tmp_path):
    test_file = tmp_path / "test_strict.py"
    test_file.write_text(textwrap.dedent(
        """
        import urllib3
        from tests.fake_line import fake_line  # noqa: F401

        def test_calls_an_unknown_endpoint(fake_line):
            urllib3.PoolManager().request("POST", fake_line.base_url + "/v2/bot/message/broadcast",
                                          headers={"Authorization": "Bearer t"})
        """
    ))
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2]
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not the project's settings
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         "-c", str(tmp_path / "pytest.ini"), str(test_file)],
        cwd=root, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert result.returncode != 0, result.stdout
    assert "unexpected calls to the LINE API stand-in" in result.stdout
    assert "POST /v2/bot/message/broadcast" in result.stdout
    assert "1 passed, 1 error" in result.stdout


def test_a_sender_that_dies_mid_request_is_recorded_but_is_not_a_misuse(line, client):
    # A worker killed while sending (tests/e2e/test_order_and_crash.py) leaves a
    # request shorter than its Content-Length: nothing is delivered, and it is
    # not a call LINE would refuse as malformed.
    import io

    from bot.line.standin import CUT_OFF

    body = json.dumps({"replyToken": "x" * 32, "messages": [TEXT]}).encode()
    r = client.post("/v2/bot/message/reply", input_stream=io.BytesIO(body[:10]),
                    headers={**AUTH, "Content-Type": "application/json"},
                    environ_overrides={"CONTENT_LENGTH": str(len(body))})
    assert r.status_code == 400
    assert line.unexpected() == [] and line.deliveries() == []
    assert [c.error for c in line.calls()] == [CUT_OFF]
