"""What the webhook accepts: a body LINE signed, in LINE's JSON, as events.

``read_events`` checks the ``X-Line-Signature`` with the SDK's signature
validator on the raw body, reads the JSON once, checks the fields every
LINE event carries (type, mode, timestamp, webhookEventId, deliveryContext:
what the SDK's models require), and returns the raw event dicts of the kinds
the bot answers (they go to the durable queue as LINE sent them). The SDK's
own parser is not run: it builds a validating model of every event, eight
times the cost of the rest, for objects nobody reads. Anything else is refused with a :class:`Refused` that carries the HTTP
status and a reason fit for a log line: never the body, never a user id.

``accept`` is what the webhook calls: ``read_events``, less the events too old
to be anything but a replay. The queue recognises an event it stored for
``DEDUPE_TTL_SECONDS`` only; a signed body captured and sent again later would
be answered a second time, so an event older than that is refused by its
timestamp (acknowledged, not queued: LINE's answer is the same 200).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from linebot.v3.webhook import WebhookParser

from bot.line.events import timestamp_of
from bot.pipeline.enqueue import DEDUPE_TTL_SECONDS

#: LINE's limit is far below this; a larger body is not LINE's (413).
MAX_BODY_BYTES = 1024 * 1024

#: Event types the bot acts on. Others (beacon, unsend, videoPlayComplete,
#: memberLeft, leave, accountLink, unknown types ...) are acknowledged and dropped.
#: The bot's own console events (bot.line.events.CONSOLE_EVENT_TYPE) are not
#: here on purpose: a webhook body can never carry one onto the pipeline.
ANSWERED_TYPES = frozenset({"message", "postback", "follow", "unfollow", "join", "memberJoined"})


#: How far LINE's clock and this machine's may disagree. It makes the cut-off earlier than the
#: de-duplication window, never later: an event is refused before its marker can have expired.
CLOCK_ALLOWANCE_SECONDS = 10 * 60
#: An event older than this (by its own timestamp) is refused. LINE redelivers for far less
#: long, and a redelivery keeps its first timestamp, so only a replay is ever this old.
MAX_EVENT_AGE_MS = (DEDUPE_TTL_SECONDS - CLOCK_ALLOWANCE_SECONDS) * 1000


class Refused(Exception):
    """The webhook request is not processed; ``status`` is the HTTP answer."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def read_events(body: bytes, signature: str | None, parser: WebhookParser) -> list[dict[str, Any]]:
    """The events to queue, in the order LINE sent them."""
    if len(body) > MAX_BODY_BYTES:
        raise Refused(413, f"body of {len(body)} bytes is over {MAX_BODY_BYTES}")
    if not signature:
        raise Refused(400, "no X-Line-Signature header")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None
    if not parser.signature_validator.validate(text, signature):
        raise Refused(400, "X-Line-Signature does not match the body (wrong channel secret?)")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        # RecursionError: JSON nested thousands deep (found by tests/security).
        raise Refused(400, f"body is not JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise Refused(400, "body has no list of events")
    for event in data["events"]:
        problem = _not_an_event(event)
        if problem:
            raise Refused(400, f"body is not a LINE webhook: an event {problem}")
    events = [e for e in data["events"] if e["type"] in ANSWERED_TYPES]
    if _SURROGATE_ESCAPE.search(text):  # the only way a body of valid UTF-8 can hold one
        try:
            events = [_scrub(e) for e in events]
        except RecursionError:
            raise Refused(400, "body is nested too deeply") from None
    return events


def _not_an_event(event: Any) -> str | None:
    """What is wrong with ``event``, as the SDK's Event model would refuse it; None if nothing."""
    if not isinstance(event, dict):
        return "is not an object"
    if not isinstance(event.get("type"), str):
        return "has no type"
    stamp = event.get("timestamp")
    if not isinstance(stamp, int) or isinstance(stamp, bool):
        return "has no timestamp"
    if event.get("mode") not in ("active", "standby"):
        return "has no mode"
    if not isinstance(event.get("webhookEventId"), str):
        return "has no webhookEventId"
    context = event.get("deliveryContext")
    if not isinstance(context, dict) or not isinstance(context.get("isRedelivery"), bool):
        return "has no deliveryContext"
    if "source" in event and event["source"] is not None and not isinstance(event["source"], dict):
        return "has a source that is not an object"
    return None


@dataclass(frozen=True)
class Accepted:
    """The events of one body to queue, and how many were refused for their age."""

    events: list[dict[str, Any]]
    stale: int = 0


def accept(body: bytes, signature: str | None, parser: WebhookParser, *,
           now_ms: int | None = None) -> Accepted:
    """The events to queue (``read_events``), less those older than ``MAX_EVENT_AGE_MS``."""
    events = read_events(body, signature, parser)
    now = int(time.time() * 1000) if now_ms is None else now_ms
    fresh = [event for event in events if not is_stale(event, now)]
    return Accepted(fresh, len(events) - len(fresh))


def is_stale(event: dict[str, Any], now_ms: int) -> bool:
    """Too old to be queued; so is an event without a timestamp (the SDK requires one)."""
    stamp = timestamp_of(event)
    return stamp is None or now_ms - stamp > MAX_EVENT_AGE_MS


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _scrub(value: Any) -> Any:
    """The event with lone surrogates ("\\ud800" escapes: valid JSON, no character) replaced
    by U+FFFD, so it can be stored as UTF-8 and the rest of the message still answered."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value
