"""A counsellor's own canned replies: the phrasings one person reaches for that
the desk's shared ones (resources/console/canned.yaml, each with its source) do
not have. Kept per account in Redis, never shared, at most ``MAX_OWN`` each; the
text is the counsellor's own words, so it carries no source and the page says so.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from bot.storage.keys import KeyBuilder

MAX_OWN = 30
MAX_TITLE = 40
MAX_TEXT = 2000


@dataclass(frozen=True)
class OwnReply:
    id: str
    title: str
    text: str
    at: float

    def to_api(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "text": self.text, "at": self.at}


class OwnCannedFull(Exception):
    """The account has MAX_OWN already."""


class OwnCanned:
    def __init__(self, client: redis.Redis, keys: KeyBuilder, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._keys = keys
        self._clock = clock

    def list(self, account: str) -> list[OwnReply]:
        """The account's own replies, oldest first."""
        raw = self._client.hgetall(self._keys.console_own_canned(account))
        replies = []
        for rid, doc in raw.items():
            try:
                data = json.loads(doc)
                replies.append(OwnReply(rid.decode() if isinstance(rid, bytes) else rid, str(data["title"]),
                                        str(data["text"]), float(data["at"])))
            except (ValueError, KeyError, TypeError):
                continue  # a damaged entry is skipped, not a failed page
        return sorted(replies, key=lambda r: (r.at, r.id))

    def add(self, account: str, title: str, text: str) -> OwnReply:
        key = self._keys.console_own_canned(account)
        if self._client.hlen(key) >= MAX_OWN:
            raise OwnCannedFull()
        reply = OwnReply(secrets.token_hex(6), title, text, float(self._clock()))
        self._client.hset(key, reply.id, json.dumps({"title": title, "text": text, "at": reply.at},
                                                    ensure_ascii=False))
        return reply

    def delete(self, account: str, rid: str) -> bool:
        return bool(self._client.hdel(self._keys.console_own_canned(account), rid))
