"""LINE webhook events, as the dialogue sees them.

One pure function, :func:`translate`, from a raw event dict (as LINE sent it
and the queue kept it) to an :class:`Incoming`: which user, which dialogue
event, which reply token, or that the event is about a group, an unfollow, or
nothing the bot answers. No I/O, so every kind in LINE's own corpus is easy to
test.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from bot.pipeline.enqueue import CONSOLE_EVENT_TYPE
from dialogs.engine import Event

__all__ = ["CONSOLE_EVENT_TYPE", "Incoming", "event_id_of", "timestamp_of", "translate"]

Action = Literal["dialogue", "unfollow", "group", "console", "ignore"]


@dataclass(frozen=True)
class Incoming:
    event_id: str
    action: Action
    user_id: str | None = None
    event: Event | None = None
    reply_token: str | None = None
    timestamp_ms: int = 0
    #: "group" or "room" with its id, for the notice and the leave call.
    source_type: str | None = None
    source_id: str | None = None
    #: LINE's id of a media message, to fetch its content (an image kept as evidence).
    message_id: str | None = None
    #: What the console asked to send (action "console").
    console: dict[str, Any] | None = None


def event_id_of(raw: dict[str, Any]) -> str:
    """webhookEventId, or a stable hash for an event without one."""
    value = raw.get("webhookEventId")
    if isinstance(value, str) and value:
        return value
    blob = json.dumps(raw, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return "h" + hashlib.sha256(blob).hexdigest()[:32]


def timestamp_of(raw: dict[str, Any]) -> int | None:
    """When the event happened, as LINE writes it (ms since the epoch); None if it does not say.
    A redelivered event keeps the timestamp of its first delivery."""
    value = raw.get("timestamp")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def translate(raw: dict[str, Any]) -> Incoming:
    event_id = event_id_of(raw)
    source = raw.get("source") if isinstance(raw.get("source"), dict) else {}
    kind = raw.get("type")
    token = raw.get("replyToken") if isinstance(raw.get("replyToken"), str) else None
    stamp = timestamp_of(raw) or 0
    source_type = source.get("type")

    if source_type in ("group", "room"):
        source_id = source.get("groupId") if source_type == "group" else source.get("roomId")
        if kind in ("join", "message", "memberJoined", "postback") and isinstance(source_id, str):
            return Incoming(event_id, "group", reply_token=token, timestamp_ms=stamp,
                            source_type=source_type, source_id=source_id)
        return Incoming(event_id, "ignore", timestamp_ms=stamp)

    user = source.get("userId") if source_type == "user" else None
    if not isinstance(user, str) or not user:
        return Incoming(event_id, "ignore", timestamp_ms=stamp)

    def dialogue(event: Event, message_id: str | None = None) -> Incoming:
        return Incoming(event_id, "dialogue", user, event, token, stamp, message_id=message_id)

    if kind == CONSOLE_EVENT_TYPE:
        payload = raw.get("console")
        if isinstance(payload, dict):
            return Incoming(event_id, "console", user, timestamp_ms=stamp, console=payload)
        return Incoming(event_id, "ignore", user, timestamp_ms=stamp)

    if kind == "follow":
        return dialogue(Event("follow"))
    if kind == "unfollow":
        return Incoming(event_id, "unfollow", user, timestamp_ms=stamp)
    if kind == "postback":
        data = (raw.get("postback") or {}).get("data")
        return dialogue(Event("postback", data=data if isinstance(data, str) else None))
    if kind == "message":
        message = raw.get("message") if isinstance(raw.get("message"), dict) else {}
        mtype = message.get("type")
        if mtype == "text" and isinstance(message.get("text"), str):
            return dialogue(Event("text", text=message["text"]))
        mid = message.get("id") if isinstance(message.get("id"), str) else None
        return dialogue(Event("media", data=mtype if isinstance(mtype, str) else "file"), mid)
    return Incoming(event_id, "ignore", user, timestamp_ms=stamp)
