"""The Messaging API's endpoints as the stand-in answers them: reply, push,
profile, message content, leave, and a rich menu's image.

Each runs with the channel's lock held and answers as bot.line.standin.protocol
says; the checks LINE makes before it accepts anything (auth, injected faults)
are the app's (bot.line.standin.app).
"""

from __future__ import annotations

import re
import uuid

from bot.line.standin.protocol import Answer, Ctx, Raw, bad, not_found
from bot.line.standin.state import Channel, Delivered
from bot.line.standin.validate import validate_messages

INVALID_REPLY_TOKEN = "Invalid reply token"
RETRY_KEY_ACCEPTED = "The retry key is already accepted"
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def reply(channel: Channel, ctx: Ctx) -> Answer:
    """A reply: spends its token, which must be one issued, unused and young."""
    if ctx.retry_key is not None:
        return bad("X-Line-Retry-Key is not supported by this endpoint")
    body = ctx.body
    if not isinstance(body, dict):
        return bad("The request body has 1 error(s)", [("Invalid JSON", "")])
    problems = validate_messages(body.get("messages"))
    if problems:
        return bad(f"The request body has {len(problems)} error(s)", problems)
    token = channel.tokens.get(body.get("replyToken")) if isinstance(body.get("replyToken"), str) else None
    if token is None or token.used or channel.clock() - token.issued_at >= channel.ttl:
        return bad(INVALID_REPLY_TOKEN)
    token.used = True
    return _deliver(channel, "reply", token.user_id, body["messages"], None, ctx.request_id)


def push(channel: Channel, ctx: Ctx) -> Answer:
    """A push: a retry key already accepted is answered 409 and delivers nothing."""
    if ctx.retry_key is not None:
        if not _UUID_RE.fullmatch(ctx.retry_key):
            return bad("The retry key must be in UUID format")
        accepted = channel.retry_keys.get(ctx.retry_key)
        if accepted is not None:
            payload = {"message": RETRY_KEY_ACCEPTED, "sentMessages": []}
            return 409, payload, {"x-line-accepted-request-id": accepted}, RETRY_KEY_ACCEPTED
    body = ctx.body
    if not isinstance(body, dict):
        return bad("The request body has 1 error(s)", [("Invalid JSON", "")])
    to = body.get("to")
    if not isinstance(to, str) or not to:
        return bad("The request body has 1 error(s)", [("must be specified", "to")])
    problems = validate_messages(body.get("messages"))
    if problems:
        return bad(f"The request body has {len(problems)} error(s)", problems)
    if ctx.retry_key is not None:
        channel.retry_keys[ctx.retry_key] = ctx.request_id
    return _deliver(channel, "push", to, body["messages"], ctx.retry_key, ctx.request_id)


def _deliver(channel: Channel, kind: str, user_id: str, messages: list[dict], retry_key: str | None,
             request_id: str) -> Answer:
    user = channel.users.get(user_id)
    channel.deliveries.append(
        Delivered(kind, user_id, tuple(messages), retry_key, request_id, channel.clock(),
                  to_unfollowed=user is not None and not user.following)
    )
    sent = [{"id": str(uuid.uuid4().int % 10**18), "quoteToken": uuid.uuid4().hex} for _ in messages]
    return 200, {"sentMessages": sent}, {}, None


def profile(channel: Channel, user_id: str) -> Answer:
    user = channel.users.get(user_id)
    if user is None or not user.following:
        return not_found()
    payload = {"userId": user_id, "displayName": user.display_name}
    if user.language is not None:
        payload["language"] = user.language
    return 200, payload, {}, None


def content(channel: Channel, message_id: str) -> Answer:
    found = channel.content.get(message_id)
    if found is None:
        return not_found()
    return 200, Raw(*found), {}, None


def leave(channel: Channel, kind: str, chat_id: str) -> Answer:
    channel.left.append((kind, chat_id))
    return 200, {}, {}, None


def rich_menu_image(channel: Channel, menu_id: str) -> Answer:
    found = channel.richmenus.image(menu_id)
    if found is None:
        return not_found()
    return 200, Raw(*found), {}, None
