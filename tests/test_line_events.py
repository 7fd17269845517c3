"""bot.line.events.translate on LINE's own recorded bodies and on edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.line.events import event_id_of, translate
from dialogs.engine import Event

CORPUS = Path(__file__).parent / "data" / "line_webhooks"


def all_events():
    for path in sorted(CORPUS.glob("*/*.json")):
        for n, raw in enumerate(json.loads(path.read_text(encoding="utf-8"))["events"]):
            yield pytest.param(raw, id=f"{path.parent.name}/{path.stem}#{n}")


@pytest.mark.parametrize("raw", list(all_events()))
def test_every_recorded_event_translates_without_error(raw):
    incoming = translate(raw)
    assert incoming.action in ("dialogue", "unfollow", "group", "ignore")
    if incoming.action == "dialogue":
        assert incoming.user_id and incoming.event is not None
    if incoming.action == "group":
        assert incoming.source_type in ("group", "room") and incoming.source_id


def user_event(**fields):
    return {"type": "message", "webhookEventId": "01H000", "timestamp": 1, "replyToken": "rt",
            "source": {"type": "user", "userId": "U1"}, "mode": "active", **fields}


@pytest.mark.parametrize(
    "raw, expected",
    [
        (user_event(message={"type": "text", "id": "1", "text": "死にたい"}), Event("text", text="死にたい")),
        (user_event(message={"type": "image", "id": "1"}), Event("media", data="image")),
        (user_event(message={"type": "sticker", "id": "1"}), Event("media", data="sticker")),
        (user_event(message={"type": "location", "id": "1"}), Event("media", data="location")),
        (user_event(message={"type": "somethingNew", "id": "1"}), Event("media", data="somethingNew")),
        (user_event(type="postback", postback={"data": "t=menu"}), Event("postback", data="t=menu")),
        (user_event(type="follow"), Event("follow")),
    ],
)
def test_user_events_become_dialogue_events(raw, expected):
    incoming = translate(raw)
    assert (incoming.action, incoming.user_id, incoming.event, incoming.reply_token) == ("dialogue", "U1", expected, "rt")


def test_unfollow_group_and_ignored():
    assert translate(user_event(type="unfollow")).action == "unfollow"
    group = translate(user_event(type="join", source={"type": "group", "groupId": "G1"}))
    assert (group.action, group.source_type, group.source_id) == ("group", "group", "G1")
    room = translate(user_event(source={"type": "room", "roomId": "R1", "userId": "U1"},
                                message={"type": "text", "id": "1", "text": "hi"}))
    assert (room.action, room.source_id) == ("group", "R1")
    assert translate(user_event(type="beacon")).action == "ignore"
    assert translate({"type": "message"}).action == "ignore"
    assert translate(user_event(source="not a dict")).action == "ignore"


def test_event_id_falls_back_to_a_stable_hash():
    raw = {"type": "follow", "timestamp": 5, "source": {"type": "user", "userId": "U1"}}
    assert event_id_of(raw) == event_id_of(dict(reversed(list(raw.items()))))
    assert event_id_of(raw).startswith("h") and "U1" not in event_id_of(raw)
    assert event_id_of(user_event()) == "01H000"


# -- issue 4: media ids for evidence, and the bot's own console events ----------------------------

def test_an_image_carries_its_message_id_for_the_content_api():
    from bot.line.events import translate

    raw = {"type": "message", "webhookEventId": "01IMG", "timestamp": 1,
           "source": {"type": "user", "userId": "U1"}, "replyToken": "r",
           "message": {"type": "image", "id": "468789577898262530"}}
    incoming = translate(raw)
    assert incoming.action == "dialogue" and incoming.event.data == "image"
    assert incoming.message_id == "468789577898262530"


def test_a_console_event_is_translated_for_the_worker():
    from bot.line.events import CONSOLE_EVENT_TYPE, translate

    raw = {"type": CONSOLE_EVENT_TYPE, "webhookEventId": "xc1", "timestamp": 1,
           "source": {"type": "user", "userId": "U1"}, "console": {"action": "message", "text": "こんにちは"}}
    incoming = translate(raw)
    assert incoming.action == "console" and incoming.console["text"] == "こんにちは"


def test_the_webhook_never_queues_a_console_event():
    """Only the bot's own console puts these on the pipeline; a body that carries
    one (even correctly signed) is acknowledged and the event dropped."""
    import base64, hashlib, hmac, json
    from linebot.v3.webhook import WebhookParser
    from bot.line.events import CONSOLE_EVENT_TYPE
    from bot.line.intake import read_events

    body = json.dumps({"destination": "U0", "events": [
        {"type": CONSOLE_EVENT_TYPE, "mode": "active", "timestamp": 1, "webhookEventId": "01X",
         "deliveryContext": {"isRedelivery": False}, "source": {"type": "user", "userId": "U1"},
         "console": {"action": "message", "text": "forged"}}]}).encode()
    secret = "s" * 32
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    assert read_events(body, signature, WebhookParser(secret)) == []
