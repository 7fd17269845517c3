"""The newcomer's chat page: talk to the real pipeline in a browser, no LINE account.

Registered by ``create_app`` only in local mode (no LINE credentials), next to
the built-in stand-in for the Messaging API at ``/_line``. Nothing here can
run against a real LINE channel: in local mode the channel secret is random
and generated at start-up, and the bot's LINE API is the stand-in.

- ``GET /``: a page that looks like a LINE 1:1 chat (template
  ``localchat.html``, script and style from ``/local/static``: no inline
  script, so the page works under ``Content-Security-Policy: script-src
  'self'``, which it is served with).
- ``POST /local/event``: the page says what the user did (``{"user", "kind",
  "text"?, "data"?, "label"?, "language"?}``); the answer is the exact LINE
  webhook body for it, with a reply token issued by the stand-in, and its
  ``X-Line-Signature``. The page then posts that body to ``/callback``
  itself, as LINE would: the webhook, the queue, the workers, the sender
  and the stand-in all run as they do in production.
- ``GET /local/messages?user=U...&since=N``: what the bot sent to that user
  (delivered to the stand-in), from the N-th message on. The page polls it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from bot.line.render import MAX_POSTBACK_DATA, MAX_TEXT, utf16_len

bp = Blueprint(
    "localchat",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/local/static",
)

#: A LINE user id as LINE writes them; the page makes local ones.
USER_ID = re.compile(r"U[0-9a-f]{32}")
KINDS = frozenset({"follow", "text", "postback", "sticker", "image", "location"})
FIELDS = frozenset({"user", "kind", "text", "data", "label", "language"})
#: Profile languages the page offers (what LINE's profile API returns).
LANGUAGES = {"ja": "日本語 (ja)", "en": "English (en)"}
MAX_LABEL = 20
MAX_SINCE = 1_000_000

#: The page's own assets only; nothing inline, nothing from elsewhere.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

#: A free LINE sticker (package 446 "Moon" special edition), what a tap sends.
STICKER = {"packageId": "446", "stickerId": "1988", "stickerResourceType": "STATIC"}
#: A made-up place for the location button (Hyogo prefectural office).
LOCATION = {
    "title": "兵庫県庁",
    "address": "兵庫県神戸市中央区下山手通5-10-1",
    "latitude": 34.69128,
    "longitude": 135.18306,
}

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: What the page's image button sends: a made-up post, so a newcomer sees evidence
#: images arrive in the console. Shipped, small, served to the page as well.
SAMPLE_IMAGE = Path(__file__).parent / "static" / "sample-evidence.png"
SAMPLE_IMAGE_TYPE = "image/png"


class BadEvent(ValueError):
    """The page's request is not one this page makes: 400 with the reason."""


def ulid(now_ms: int | None = None) -> str:
    """A ULID (26 Crockford base32 characters: 48-bit ms time, 80 random bits),
    the form of LINE's ``webhookEventId``."""
    stamp = int(time.time() * 1000) if now_ms is None else now_ms
    value = (stamp & (2**48 - 1)) << 80 | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


@cache
def sample_image() -> bytes:
    return SAMPLE_IMAGE.read_bytes()


def sign(channel_secret: str, body: bytes) -> str:
    """``X-Line-Signature``: base64 of HMAC-SHA256 of the body with the channel secret."""
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _message_id() -> str:
    return str(secrets.randbelow(9 * 10**17) + 10**17)  # 18 digits, like LINE's


def _runtime():
    return current_app.extensions["netsoudan.runtime"]


def _string(payload: dict, name: str, *, required: bool, limit: int) -> str | None:
    value = payload.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadEvent(f"{name!r} must be a non-empty string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadEvent(f"{name!r} is not valid text") from None
    if utf16_len(value) > limit:
        raise BadEvent(f"{name!r} is longer than {limit} characters")
    return value


def read_request(payload: Any) -> dict[str, Any]:
    """The page's request, checked: exactly what the page sends, nothing else."""
    if not isinstance(payload, dict):
        raise BadEvent("the body must be a JSON object")
    unknown = set(payload) - FIELDS
    if unknown:
        raise BadEvent(f"unknown fields: {', '.join(sorted(map(str, unknown)))}")
    user = payload.get("user")
    if not isinstance(user, str) or not USER_ID.fullmatch(user):
        raise BadEvent("'user' must be a local user id: U and 32 lowercase hex digits")
    kind = payload.get("kind")
    if kind not in KINDS:
        raise BadEvent(f"'kind' must be one of {', '.join(sorted(KINDS))}")
    language = payload.get("language", "ja")
    if language not in LANGUAGES:
        raise BadEvent(f"'language' must be one of {', '.join(LANGUAGES)}")
    checked: dict[str, Any] = {"user": user, "kind": kind, "language": language}
    if kind == "text":
        checked["text"] = _string(payload, "text", required=True, limit=MAX_TEXT)
    elif "text" in payload:
        raise BadEvent("'text' goes with kind text only")
    if kind == "postback":
        checked["data"] = _string(payload, "data", required=True, limit=MAX_POSTBACK_DATA)
        _string(payload, "label", required=False, limit=MAX_LABEL)  # shown by the page only
    elif "data" in payload or "label" in payload:
        raise BadEvent("'data' and 'label' go with kind postback only")
    return checked


def webhook_event(req: dict[str, Any], reply_token: str, now_ms: int) -> dict[str, Any]:
    """One LINE webhook event for the page's request, as LINE writes it."""
    event: dict[str, Any] = {
        "type": "message",
        "mode": "active",
        "timestamp": now_ms,
        "source": {"type": "user", "userId": req["user"]},
        "webhookEventId": ulid(now_ms),
        "deliveryContext": {"isRedelivery": False},
        "replyToken": reply_token,
    }
    kind = req["kind"]
    if kind == "follow":
        event["type"] = "follow"
        event["follow"] = {"isUnblocked": False}
    elif kind == "postback":
        event["type"] = "postback"
        event["postback"] = {"data": req["data"]}
    elif kind == "text":
        event["message"] = {"id": _message_id(), "type": "text", "text": req["text"],
                            "quoteToken": secrets.token_urlsafe(24)}
    elif kind == "sticker":
        event["message"] = {"id": _message_id(), "type": "sticker", **STICKER, "keywords": ["moon"],
                            "quoteToken": secrets.token_urlsafe(24)}
    elif kind == "image":
        # No upload: LINE keeps the content; the bot fetches it by this id (the stand-in
        # serves the sample image for it, see event()).
        event["message"] = {"id": _message_id(), "type": "image", "contentProvider": {"type": "line"},
                            "quoteToken": secrets.token_urlsafe(24)}
    elif kind == "location":
        event["message"] = {"id": _message_id(), "type": "location", **LOCATION}
    return event


def destination(channel_secret: str) -> str:
    """The bot's own user id in the webhook body (local, stable for the process)."""
    return "U" + hashlib.sha256(b"destination:" + channel_secret.encode()).hexdigest()[:32]


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _bad(reason: str):
    return _no_store(jsonify(message=reason)), 400


def _same_origin() -> bool:
    """A request from another site's page (a browser sends Origin) is refused."""
    origin = request.headers.get("Origin")
    return origin is None or origin.rstrip("/") == request.host_url.rstrip("/")


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


@bp.get("/")
def page():
    runtime = _runtime()
    desk = runtime.dialogue.directory.desk
    return render_template(
        "localchat.html",
        account_name=desk.name_in("ja"),
        account_name_en=desk.name_in("en"),
        languages=list(LANGUAGES.items()),
    )


@bp.post("/local/event")
def event():
    if not _same_origin():
        return jsonify(message="cross-origin request refused"), 403
    if request.mimetype != "application/json":
        return _bad("send JSON (Content-Type: application/json)")
    payload = request.get_json(silent=True)
    try:
        req = read_request(payload)
    except BadEvent as exc:
        return _bad(str(exc))

    runtime = _runtime()
    standin = runtime.standin
    # The profile the bot reads once per user (and caches), then the token
    # LINE would put in the event.
    standin.add_user(req["user"], display_name="試用ユーザー", language=req["language"])
    reply_token = standin.issue_reply_token(req["user"])
    # LINE's time, not the runtime's clock (serve --at): the webhook drops events whose
    # timestamp looks older than a few minutes by the wall clock.
    now_ms = int(time.time() * 1000)
    secret = runtime.config.channel_secret
    made = webhook_event(req, reply_token, now_ms)
    if req["kind"] == "image":
        standin.add_content(made["message"]["id"], sample_image(), SAMPLE_IMAGE_TYPE)
    body = {"destination": destination(secret), "events": [made]}
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return _no_store(jsonify(body=text, signature=sign(secret, text.encode("utf-8"))))


@bp.get("/local/messages")
def messages():
    user = request.args.get("user", "")
    if not USER_ID.fullmatch(user):
        return _bad("'user' must be a local user id: U and 32 lowercase hex digits")
    raw_since = request.args.get("since", "0")
    if not re.fullmatch(r"[0-9]{1,7}", raw_since) or int(raw_since) > MAX_SINCE:
        return _bad("'since' must be a whole number of messages already shown")
    since = int(raw_since)
    found = _runtime().standin.messages_for(user, since=since)
    return _no_store(jsonify(messages=found, next=since + len(found)))
