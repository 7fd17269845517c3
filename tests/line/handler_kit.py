"""A worker's LineHandler on an in-process store, talking to the fake LINE API.

The real handler, conversation core, dialogue, session service and SDK (over HTTP to the
stand-in); only Redis is fakeredis, and events are handed to the handler
directly, one at a time, as a worker would, so tests see exactly which calls
each event made and in which order.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import fakeredis

from bot.conversation.core import Conversation
from bot.line.handler import LineHandler
from bot.line.sender import Sender
from bot.pipeline.worker import Entry
from bot.service import ConsultationService, tokyo_now
from bot.storage.keys import KeyBuilder
from bot.storage.redis import RedisStorage

_ids = itertools.count(1)


def make_handler(line, dialogue, *, service: ConsultationService | None = None, **extras: Any) -> LineHandler:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    keys = KeyBuilder(secret=b"handler-kit-secret-0123456789")
    service = service or ConsultationService(dialogue, RedisStorage(client, keys))
    sender = Sender(line.base_url, line.access_token, max_attempts=1)
    core = Conversation(service, client, keys, tokyo_now)
    return LineHandler(core, sender, client, keys, **extras)


def event(line, user: str, kind: str, *, sent_ago: float = 0.0, **fields: Any) -> dict:
    """A webhook event from ``user``, sent ``sent_ago`` seconds ago, with a reply token the fake issued."""
    sent = time.time() - sent_ago
    n = next(_ids)
    return {
        "type": kind, "mode": "active", "timestamp": int(sent * 1000),
        "source": {"type": "user", "userId": user},
        "webhookEventId": f"01KIT{n:021d}",
        "deliveryContext": {"isRedelivery": False},
        "replyToken": line.issue_reply_token(user, issued_at=sent),
        **fields,
    }


def text(line, user: str, words: str, **kw: Any) -> dict:
    return event(line, user, "message", message={"type": "text", "id": str(next(_ids)), "text": words}, **kw)


def tap(line, user: str, data: str, **kw: Any) -> dict:
    return event(line, user, "postback", postback={"data": data}, **kw)


def handle(handler: LineHandler, webhook_event: dict) -> None:
    handler(Entry(event=webhook_event, event_id=webhook_event["webhookEventId"], entry_id="0-1", partition=0,
                  attempt=1, received_ms=int(time.time() * 1000)))
