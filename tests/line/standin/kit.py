"""What the stand-in's tests share: the channel's token, a text message, and a
reply and a push as the bot sends them (through a Flask test client)."""

from __future__ import annotations

TOKEN = "secret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TEXT = {"type": "text", "text": "こんにちは"}


def reply(client, token, messages=(TEXT,), headers=AUTH):
    return client.post("/v2/bot/message/reply", json={"replyToken": token, "messages": list(messages)},
                       headers=headers)


def push(client, to, messages=(TEXT,), key=None, headers=AUTH):
    headers = dict(headers)
    if key is not None:
        headers["X-Line-Retry-Key"] = key
    return client.post("/v2/bot/message/push", json={"to": to, "messages": list(messages)}, headers=headers)
