"""Shared helpers of the pipeline tests (also used by the worker subprocess of test_faults)."""

from __future__ import annotations

import hashlib
from typing import Any

import redis

from bot.storage.keys import KeyBuilder

SECRET = b"pipeline-test-secret-0123456789"
TEXT_PREFIX = "ひみつの相談"  # message text: must never show up in logs


def user_id(index: int) -> str:
    """A LINE-shaped user id (U + 32 hex)."""
    return f"U{index:032x}"


def webhook_event_id(user: str, seq: int) -> str:
    """A ULID-shaped webhookEventId, stable per (user, seq)."""
    digest = hashlib.sha1(f"{user}/{seq}".encode()).hexdigest().upper()
    return "01J" + digest[:23]


def message_event(user: str, seq: int, *, with_id: bool = True, redelivery: bool = False) -> dict[str, Any]:
    """A LINE text message event; ``message.id`` carries the user's sequence number."""
    event: dict[str, Any] = {
        "type": "message",
        "mode": "active",
        "timestamp": 1_700_000_000_000 + seq,
        "source": {"type": "user", "userId": user},
        "replyToken": hashlib.sha1(f"reply/{user}/{seq}".encode()).hexdigest(),
        "deliveryContext": {"isRedelivery": redelivery},
        "message": {"id": str(seq), "type": "text", "text": f"{TEXT_PREFIX} {seq}"},
    }
    if with_id:
        event["webhookEventId"] = webhook_event_id(user, seq)
    return event


def seq_of(event: dict[str, Any]) -> int:
    return int(event["message"]["id"])


# An idempotent handler effect, the way a real handler must record its work: the
# marker keyed by the event id and the effect are written in one atomic step, in the
# user's slot, so a handler run twice for the same event has the effect once.
_RECORD_LUA = """
-- KEYS[1] done marker of the event, KEYS[2] the user's handled sequence
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', 3600) then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  redis.call('EXPIRE', KEYS[2], 3600)
  return 1
end
return 0
"""
CALLS_KEY = "test:pipeline:handler-calls"


class Recorder:
    """Records handled events in Redis, exactly once per event id."""

    def __init__(self, client: redis.Redis, keys: KeyBuilder) -> None:
        self._client = client
        self._keys = keys
        self._script = client.register_script(_RECORD_LUA)

    def record(self, event: dict[str, Any], event_id: str) -> bool:
        user = event["source"]["userId"]
        self._client.incr(CALLS_KEY)
        done = self._keys.user(user, f"t-done:{event_id}")
        sequence = self._keys.user(user, "t-seq")
        return bool(self._script(keys=[done, sequence], args=[seq_of(event)]))

    def sequence(self, user: str) -> list[int]:
        return [int(x) for x in self._client.lrange(self._keys.user(user, "t-seq"), 0, -1)]

    def calls(self) -> int:
        return int(self._client.get(CALLS_KEY) or 0)
