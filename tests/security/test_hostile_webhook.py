"""POST /callback with random and hostile bodies and headers: never a 500, and a
refused request stores nothing (the webhook's only effect is the pipeline in Redis)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.hostile import NASTY, changed, hostile_text, json_values, snapshot

SKIP = ("{audit}", ":fail:")
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def event(**overrides: Any) -> dict[str, Any]:
    base = {
        # Now: the webhook refuses events older than its de-duplication window (issue 13).
        "type": "message", "mode": "active", "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": "U" + "a" * 32},
        "webhookEventId": "01JDEV0000000000000000000A", "deliveryContext": {"isRedelivery": False},
        "replyToken": "r" * 32,
        "message": {"type": "text", "id": "1", "text": "こんにちは", "quoteToken": "q"},
    }
    base.update(overrides)
    return base


#: Events shaped like LINE's, with any field replaced by anything.
events = st.one_of(
    json_values,
    st.builds(event),
    st.dictionaries(st.sampled_from(["type", "mode", "timestamp", "source", "webhookEventId",
                                     "deliveryContext", "replyToken", "message", "postback"]),
                    json_values, max_size=5).map(lambda changes: event(**changes)),
    st.builds(lambda text: event(message={"type": "text", "id": "1", "text": text, "quoteToken": "q"}),
              hostile_text),
)
bodies = st.one_of(
    st.binary(max_size=300),
    hostile_text.map(lambda s: s.encode("utf-8", "surrogatepass")),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.lists(events, max_size=4).map(lambda evs: json.dumps({"destination": "U" + "0" * 32, "events": evs},
                                                             ensure_ascii=False).encode("utf-8", "surrogatepass")),
    # Escaped: "\ud800" is valid JSON and valid UTF-8, and decodes to a lone surrogate.
    st.lists(events, max_size=4).map(lambda evs: json.dumps({"destination": "U" + "0" * 32, "events": evs}).encode()),
    st.integers(1, 200_000).map(lambda depth: (b'{"events":' + b"[" * depth + b"]" * depth + b"}")),
    st.just(b'{"events": []}' + b" " * (1024 * 1024)),
)
signatures = st.sampled_from(["valid", "missing", "wrong", "garbage", "empty"])
header_values = st.one_of(st.sampled_from(NASTY[:20]), st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40))


@SETTINGS
@given(body=bodies, how=signatures, content_type=st.sampled_from(
    ["application/json", "text/plain", "application/x-www-form-urlencoded", "", "application/json; charset=latin-1"]),
    extra=st.dictionaries(st.sampled_from(["X-Forwarded-For", "Content-Encoding", "X-Line-Retry-Key",
                                           "Authorization", "Cookie"]), header_values, max_size=3))
def test_the_webhook_never_fails_and_a_refusal_stores_nothing(app, redis_client, console_env, body, how,
                                                              content_type, extra):
    secret = console_env["LINE_CHANNEL_SECRET"]
    headers = {k: v for k, v in extra.items() if v.isascii() and "\n" not in v and "\r" not in v}
    if how == "valid":
        headers["X-Line-Signature"] = sign(secret, body)
    elif how == "wrong":
        headers["X-Line-Signature"] = sign("another-secret-0123456789abcdef", body)
    elif how == "garbage":
        headers["X-Line-Signature"] = "!!not base64!!"
    elif how == "empty":
        headers["X-Line-Signature"] = ""
    before = snapshot(redis_client, skip=SKIP)
    answer = app.test_client().post("/callback", data=body, headers=headers, content_type=content_type or None)
    assert answer.status_code in (200, 400, 413), answer.get_data(as_text=True)[:300]
    if answer.status_code != 200:
        assert changed(before, snapshot(redis_client, skip=SKIP)) == []
    if how != "valid":
        assert answer.status_code != 200


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "PUT", "DELETE", "PATCH"]), body=st.binary(max_size=50))
def test_other_methods_are_refused(app, redis_client, method, body):
    before = snapshot(redis_client, skip=SKIP)
    answer = app.test_client().open("/callback", method=method, data=body)
    assert answer.status_code == 405
    assert changed(before, snapshot(redis_client, skip=SKIP)) == []


def test_deep_json_with_a_valid_signature_is_a_400(app, console_env):
    body = b'{"events":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    answer = app.test_client().post("/callback", data=body, content_type="application/json",
                                    headers={"X-Line-Signature": sign(console_env["LINE_CHANNEL_SECRET"], body)})
    assert answer.status_code == 400


def test_a_declared_length_over_the_limit_is_refused_unread(app):
    answer = app.test_client().post("/callback", data=b"{}", headers={"Content-Length": str(5 * 1024 * 1024),
                                                                       "X-Line-Signature": "x"})
    assert answer.status_code in (400, 413)


def test_a_lone_surrogate_in_a_signed_message_is_stored_as_a_replacement_character(app, console_env,
                                                                                    redis_client):
    """Found by the property above: a 500 (UTF-8 could not encode it). The message is kept."""
    body = json.dumps({"destination": "U" + "0" * 32, "events": [
        event(message={"type": "text", "id": "1", "text": "たすけて\ud800", "quoteToken": "q"})]}).encode()
    answer = app.test_client().post("/callback", data=body, content_type="application/json",
                                    headers={"X-Line-Signature": sign(console_env["LINE_CHANNEL_SECRET"], body)})
    assert answer.status_code == 200
    stored = b"".join(v for key in redis_client.scan_iter(match="*events*")
                      for _id, fields in redis_client.xrange(key) for v in fields.values())
    assert "たすけて\ufffd" in stored.decode("utf-8")
