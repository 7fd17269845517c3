"""What every request to the stand-in goes through: the bearer token, faults
and delays on demand, the record of every call (refused ones too, never the
token), and any call it does not know, or a bug of its own, recorded as
unexpected."""

from __future__ import annotations

import json
import time
import uuid

from bot.line.standin import StandinLine
from tests.line.standin.kit import AUTH, TEXT, TOKEN, push, reply


# --- auth -----------------------------------------------------------------------------


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


# --- faults ---------------------------------------------------------------------------


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


# --- unexpected calls, the record of calls --------------------------------------------


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
