"""A whole bot on loopback: the Flask app, worker threads, a real redis-server, and the
stand-in LINE API (fake_line) that the real line-bot-sdk talks to over HTTP.

Every test here is marked ``e2e`` and ``slow`` (tests/conftest.py). The apps built
here load the dialogue once per test session (``dialogue_loaded_once``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass

import pytest

from bot.web import create_app, runtime_of
from tests.waiting import drained, wait_until

SECRET = "e2e-channel-secret-0123456789abcdef"
ID_SECRET = "e2e-pseudonym-secret-0123456789abcdef"
_ids = itertools.count(1)


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Bot:
    app: object
    client: object  # Flask test client: the webhook, as LINE calls it
    line: object  # the fake LINE API

    def post(self, *events: dict, secret: str = SECRET, body: bytes | None = None):
        body = body if body is not None else json.dumps(
            {"destination": "Uxxxxxxxx", "events": list(events)}, ensure_ascii=False).encode()
        return self.client.post("/callback", data=body,
                                headers={"X-Line-Signature": sign(body, secret),
                                         "Content-Type": "application/json"})

    def event(self, user: str, kind: str, *, fresh: bool = True, **fields) -> dict:
        """A LINE webhook event from ``user``; with a reply token the stand-in issued."""
        n = next(_ids)
        event = {
            "type": kind, "mode": "active", "timestamp": int(time.time() * 1000),
            "source": {"type": "user", "userId": user},
            "webhookEventId": f"01E2E{n:021d}",
            "deliveryContext": {"isRedelivery": False},
            **fields,
        }
        if kind not in ("unfollow",):
            issued = time.time() if fresh else time.time() - 120
            event["replyToken"] = self.line.issue_reply_token(user, issued_at=issued)
            event["timestamp"] = int(issued * 1000)
        return event

    def text(self, user: str, words: str, **kw) -> dict:
        return self.event(user, "message", message={"type": "text", "id": str(next(_ids)), "text": words}, **kw)

    def tap(self, user: str, data: str, **kw) -> dict:
        return self.event(user, "postback", postback={"data": data}, **kw)

    def answers(self, user: str, count: int, timeout: float = 15.0) -> list:
        return self.line.wait_for_deliveries(count, user_id=user, timeout=timeout)

    def settle(self, timeout: float = 15.0) -> None:
        """Wait until the bot is done: every queued event handled (tests.waiting.drained)
        and no call to the stand-in LINE under way. A duplicate or late answer would
        have arrived by then, so a check that there is none is not merely early."""
        drained(runtime_of(self.app), timeout)
        wait_until(self.line.idle, timeout, "the stand-in LINE to answer every call under way")


@pytest.fixture(autouse=True)
def _dialogue_once(dialogue_loaded_once) -> None:
    """Every app an e2e test builds shares the session's dialogue (tests/conftest.py)."""


@pytest.fixture
def bot_env(fake_line, redis_settings, compiled_cache) -> dict[str, str]:
    """The settings of a production bot, pointed at the stand-in LINE and a test redis-server."""
    return {
        "LINE_CHANNEL_SECRET": SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": fake_line.access_token,
        "LINE_API_BASE_URL": fake_line.base_url,
        **redis_settings,
        "BOT_ID_SECRET": ID_SECRET,
        "BOT_CONSOLE_SECRET": "e2e-console-session-secret-0123456789abcdef",
        "BOT_DATA_KEY": "dGVzdC1kYXRhLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDE=",
        "BOT_CATALOG_CACHE": compiled_cache,
    }


@pytest.fixture
def bot(fake_line, bot_env, redis_client, dialogue_loaded_once):
    app = create_app({"TESTING": True, **bot_env})
    runtime = runtime_of(app)
    runtime.start_workers(2, lease_ms=2000, block_ms=200, backoff_base_ms=50, backoff_cap_ms=200)
    try:
        yield Bot(app, app.test_client(), fake_line)
    finally:
        runtime.stop()
