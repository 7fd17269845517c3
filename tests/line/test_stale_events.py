"""Issue 13, finding 12: a captured signed webhook body is not answered again after the
de-duplication window.

The queue remembers an event id for 48 h (DEDUPE_TTL_SECONDS); after that a replayed
body was stored and answered again. Now an event older than the window (less a clock
allowance) is refused by its own timestamp: the webhook still answers 200 (it is
LINE's body, correctly signed) but queues nothing and logs a count, never an id.
Redeliveries keep their first timestamp, so one within the window is still queued,
exactly once. The material is LINE's own recorded bodies (tests/data/line_webhooks,
a copy of shared/line-fixtures), as recorded and re-stamped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from linebot.v3.webhook import WebhookParser

from bot.line.intake import Refused, read_events
from bot.pipeline.enqueue import DEDUPE_TTL_SECONDS, DEFAULT_PARTITIONS, event_id, partition_for
from bot.web import runtime_of
from tests.console.conftest import (  # noqa: F401  (fixtures: the production app on a real redis-server)
    _loaded_dialogues, app, console_catalog_cache, console_env, make_console_app,
)

CORPUS = Path(__file__).resolve().parents[1] / "data" / "line_webhooks"
BODIES = sorted(CORPUS.glob("*/*.json"))
HOUR_MS = 3600 * 1000
USER = "U" + "5" * 32


def _sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _restamp(path: Path, stamp_ms: int, *, redelivery: bool = False) -> bytes:
    data = json.loads(path.read_text(encoding="utf-8"))
    for event in data.get("events", []):
        event["timestamp"] = stamp_ms
        if redelivery and isinstance(event.get("deliveryContext"), dict):
            event["deliveryContext"]["isRedelivery"] = True
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def _post(app, secret: str, body: bytes):
    return app.test_client().post("/callback", data=body, headers={
        "X-Line-Signature": _sign(secret, body), "Content-Type": "application/json"})


def _queued(app) -> int:
    runtime = runtime_of(app)
    return sum(runtime.client.xlen(runtime.keys.partition_events(p)) for p in range(runtime.partitions))


def _event(age_ms: int, n: int, *, redelivery: bool = False) -> dict[str, Any]:
    return {"type": "message", "mode": "active", "timestamp": int(time.time() * 1000) - age_ms,
            "source": {"type": "user", "userId": USER}, "webhookEventId": f"01STALE{n:019d}",
            "deliveryContext": {"isRedelivery": redelivery}, "replyToken": "r" * 32,
            "message": {"type": "text", "id": str(n), "text": "こんにちは", "quoteToken": "q"}}


def _body(*events: dict[str, Any]) -> bytes:
    return json.dumps({"destination": "U" + "0" * 32, "events": list(events)}).encode()


@pytest.mark.parametrize("path", BODIES, ids=[f"{p.parent.name}/{p.stem}" for p in BODIES])
def test_a_recorded_body_as_line_sent_it_years_ago_is_acknowledged_and_not_queued(app, console_env, path,
                                                                                   caplog):
    secret = console_env["LINE_CHANNEL_SECRET"]
    body = path.read_bytes()
    answerable = _answerable(body, secret)
    caplog.set_level(logging.WARNING, logger="bot.web.webhook")
    response = _post(app, secret, body)
    assert response.status_code in (200, 400)
    assert _queued(app) == 0, "a replay from 2016 was queued"
    if response.status_code == 200 and answerable:
        (line,) = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert line.startswith(f"webhook: {answerable} events refused"), line
        _assert_no_ids(line, body)


@pytest.mark.parametrize("path", BODIES, ids=[f"{p.parent.name}/{p.stem}" for p in BODIES])
def test_a_redelivery_within_the_window_is_queued_once(app, console_env, path):
    secret = console_env["LINE_CHANNEL_SECRET"]
    body = _restamp(path, int(time.time() * 1000) - 47 * HOUR_MS, redelivery=True)
    distinct = _distinct(body, secret)
    first = _post(app, secret, body)
    assert first.status_code in (200, 400)
    assert _queued(app) == (distinct if first.status_code == 200 else 0)
    assert _post(app, secret, body).status_code == first.status_code
    assert _queued(app) == (distinct if first.status_code == 200 else 0), "a redelivery is queued once"


def test_the_recorded_bodies_still_hold_events_the_bot_answers(console_env):
    """The two tests above prove something only if some bodies pass the SDK and are answered."""
    secret = console_env["LINE_CHANNEL_SECRET"]
    assert sum(_answerable(_restamp(p, int(time.time() * 1000)), secret) for p in BODIES) > 20


@pytest.mark.parametrize("age_ms, queued", [
    (0, 1),
    (47 * HOUR_MS, 1),
    (DEDUPE_TTL_SECONDS * 1000 - 11 * 60_000, 1),  # inside the window, past the clock allowance
    (DEDUPE_TTL_SECONDS * 1000 - 9 * 60_000, 0),   # within the allowance of the marker's expiry
    (DEDUPE_TTL_SECONDS * 1000, 0),
    (DEDUPE_TTL_SECONDS * 1000 + 1_000, 0),
    (30 * 24 * HOUR_MS, 0),
])
def test_the_cut_off_is_the_window_less_a_clock_allowance(app, console_env, age_ms, queued):
    response = _post(app, console_env["LINE_CHANNEL_SECRET"], _body(_event(age_ms, age_ms % 10**9)))
    assert response.status_code == 200
    assert _queued(app) == queued


def test_a_body_with_fresh_and_replayed_events_queues_only_the_fresh(app, console_env, caplog):
    caplog.set_level(logging.WARNING, logger="bot.web.webhook")
    body = _body(_event(60_000, 1), _event(49 * HOUR_MS, 2, redelivery=True), _event(50 * HOUR_MS, 3))
    assert _post(app, console_env["LINE_CHANNEL_SECRET"], body).status_code == 200
    assert _queued(app) == 1
    runtime = runtime_of(app)
    stored = [fields[b"event_id"].decode() for p in range(runtime.partitions)
              for _, fields in runtime.client.xrange(runtime.keys.partition_events(p))]
    assert stored == [f"01STALE{1:019d}"]
    (line,) = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert line.startswith("webhook: 2 events refused") and USER not in line and "01STALE" not in line


def _answerable(body: bytes, secret: str) -> int:
    """How many events of a body the bot would queue if they were fresh (0 if the SDK refuses it)."""
    try:
        return len(read_events(body, _sign(secret, body), WebhookParser(secret)))
    except Refused:
        return 0


def _distinct(body: bytes, secret: str) -> int:
    """How many of those the queue keeps: LINE's SDK bodies reuse one webhookEventId, and the
    queue de-duplicates by event id (per partition, i.e. per user or group)."""
    try:
        events = read_events(body, _sign(secret, body), WebhookParser(secret))
    except Refused:
        return 0
    return len({(partition_for(e, DEFAULT_PARTITIONS), event_id(e)) for e in events})


def _assert_no_ids(line: str, body: bytes) -> None:
    for event in json.loads(body).get("events", []):
        for value in (event.get("webhookEventId"), (event.get("source") or {}).get("userId")):
            assert not value or value not in line
