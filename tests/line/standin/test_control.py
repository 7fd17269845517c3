"""What a test or the chat page reads from the stand-in: the messages for one
chat, deliveries waited for, and a reset that forgets everything."""

from __future__ import annotations

import threading

import pytest

from tests.line.standin.kit import TEXT, push, reply


# --- queries --------------------------------------------------------------------------


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
