"""Signed webhook → Redis stream → worker → dialogue → the real SDK → LINE (stand-in)."""

from __future__ import annotations

import pytest

USER = "U" + "a" * 32


def texts(delivery) -> list[str]:
    return [m.get("text", "") for m in delivery.messages if m.get("type") == "text"]


def test_follow_gets_greeting_disclosure_and_first_question(bot):
    assert bot.post(bot.event(USER, "follow")).status_code == 200
    [answer] = bot.answers(USER, 1)
    said = "\n".join(texts(answer))
    assert "ボット" in said and answer.kind == "reply"
    labels = [i["action"]["label"] for i in answer.messages[-1]["quickReply"]["items"]]
    assert "保護者" in labels


def test_crisis_first_reply_carries_the_24_hour_number(bot):
    bot.post(bot.text(USER, "もう死にたい"))
    [answer] = bot.answers(USER, 1)
    assert "0120-0-78310" in texts(answer)[0]


def test_a_redelivered_event_is_answered_once(bot):
    event = bot.event(USER, "follow")
    redelivery = {**event, "deliveryContext": {"isRedelivery": True}}
    assert bot.post(event).status_code == 200
    assert bot.post(redelivery).status_code == 200
    bot.answers(USER, 1)
    bot.post(bot.text(USER, "悪口を書かれた"))
    assert len(bot.answers(USER, 2)) == 2  # the redelivery did not add an answer


def test_old_reply_token_falls_back_to_push_with_retry_key(bot):
    bot.post(bot.event(USER, "follow", fresh=False))
    [answer] = bot.answers(USER, 1)
    assert answer.kind == "push" and answer.retry_key


def test_line_500_twice_then_200_delivers_once(bot):
    bot.line.fail_next(2, status=500, path_prefix="/v2/bot/message/reply")
    bot.post(bot.event(USER, "follow"))
    assert len(bot.answers(USER, 1)) == 1
    import time

    time.sleep(0.5)
    assert len(bot.line.deliveries(USER)) == 1


@pytest.mark.parametrize("status", [400, 401])
def test_bad_signature_and_bodies_are_refused(bot, status):
    if status == 400:
        response = bot.post(bot.event(USER, "follow"), secret="not-the-secret")
    else:
        response = bot.client.post("/callback", data=b'{"events": []}')
        status = 400
    assert response.status_code == status
    assert bot.line.deliveries() == []


def test_verify_button(bot):
    assert bot.post(body=b'{"destination":"U0","events":[]}').status_code == 200
