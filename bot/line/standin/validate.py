"""Messages checked as LINE checks them, where the bot can get them wrong.

A reply or a push carries 1-5 messages of known types; a text is at most 5000
UTF-16 units; a Flex message needs its altText and at most 12 bubbles (50 KB a
carousel, 30 KB a bubble); quick replies are 1-13 with labels of at most 20
characters; every action has a known type, a URI one of LINE's schemes, a
postback's data at most 300 characters. Problems come back as LINE names them:
(message, property) pairs, the property a path such as
``messages[0].quickReply.items[2].action.label``.

The checks are LINE's, written again here on purpose and never shared with the
bot's own rendering (bot.line.render): a stand-in that borrowed the bot's code
would agree with the bot's mistakes.
"""

from __future__ import annotations

import json
from typing import Any

MAX_MESSAGES = 5
MAX_TEXT = 5000
MAX_ALT_TEXT = 1500
MAX_BUBBLES = 12
MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_LABEL = 20
MAX_FLEX_ACTION_LABEL = 40
MAX_POSTBACK_DATA = 300
MAX_URI = 1000
MAX_CAROUSEL_BYTES = 50_000
MAX_BUBBLE_BYTES = 30_000

MESSAGE_TYPES = frozenset(
    {"text", "textV2", "sticker", "image", "video", "audio", "location", "imagemap", "template", "flex"}
)
ACTION_TYPES = frozenset(
    {"postback", "message", "uri", "datetimepicker", "camera", "cameraRoll", "location",
     "richmenuswitch", "clipboard"}
)
URI_SCHEMES = ("http://", "https://", "tel:", "line://", "liff://")


def utf16_len(text: str) -> int:
    """A text's length as LINE counts it: UTF-16 code units (an emoji is two)."""
    return len(text.encode("utf-16-le")) // 2


def validate_messages(messages: Any) -> list[tuple[str, str]]:
    """Problems with a ``messages`` array, as (message, property) pairs."""
    if not isinstance(messages, list) or not messages:
        return [("Size must be between 1 and 5", "messages")]
    if len(messages) > MAX_MESSAGES:
        return [("Size must be between 1 and 5", "messages")]
    problems: list[tuple[str, str]] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict) or message.get("type") not in MESSAGE_TYPES:
            problems.append(("Must be one of the following values: " + ", ".join(sorted(MESSAGE_TYPES)),
                             f"{where}.type"))
            continue
        kind = message["type"]
        if kind == "text":
            text = message.get("text")
            if not isinstance(text, str) or not text:
                problems.append(("May not be empty", f"{where}.text"))
            elif utf16_len(text) > MAX_TEXT:
                problems.append((f"Length must be between 0 and {MAX_TEXT}", f"{where}.text"))
        elif kind == "flex":
            problems += _validate_flex(message, where)
        if "quickReply" in message:
            problems += _validate_quick_reply(message["quickReply"], f"{where}.quickReply")
    return problems


def _validate_quick_reply(qr: Any, where: str) -> list[tuple[str, str]]:
    items = qr.get("items") if isinstance(qr, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_QUICK_REPLIES:
        return [(f"Size must be between 1 and {MAX_QUICK_REPLIES}", f"{where}.items")]
    problems = []
    for j, item in enumerate(items):
        at = f"{where}.items[{j}]"
        if not isinstance(item, dict) or item.get("type", "action") != "action":
            problems.append(("Must be one of the following values: action", f"{at}.type"))
            continue
        problems += validate_action(item.get("action"), f"{at}.action", MAX_QUICK_REPLY_LABEL, label_required=True)
    return problems


def validate_action(action: Any, where: str, label_max: int, label_required: bool) -> list[tuple[str, str]]:
    """Problems with one action: a quick reply's, a Flex component's or a rich menu area's."""
    if not isinstance(action, dict) or action.get("type") not in ACTION_TYPES:
        return [("Must be one of the following values: " + ", ".join(sorted(ACTION_TYPES)), f"{where}.type")]
    problems = []
    label = action.get("label")
    if label is None:
        if label_required:
            problems.append(("May not be empty", f"{where}.label"))
    elif not isinstance(label, str) or not label or len(label) > label_max:
        problems.append((f"Length must be between 1 and {label_max}", f"{where}.label"))
    kind = action["type"]
    if kind == "uri":
        uri = action.get("uri")
        if not isinstance(uri, str) or not uri.startswith(URI_SCHEMES) or len(uri) > MAX_URI:
            problems.append(("Invalid URI", f"{where}.uri"))
    elif kind == "postback":
        data = action.get("data")
        if not isinstance(data, str) or len(data) > MAX_POSTBACK_DATA:
            problems.append((f"Length must be between 0 and {MAX_POSTBACK_DATA}", f"{where}.data"))
        display = action.get("displayText")
        if display is not None and (not isinstance(display, str) or len(display) > MAX_POSTBACK_DATA):
            problems.append((f"Length must be between 0 and {MAX_POSTBACK_DATA}", f"{where}.displayText"))
    elif kind == "message":
        text = action.get("text")
        if not isinstance(text, str) or not text or len(text) > MAX_POSTBACK_DATA:
            problems.append((f"Length must be between 1 and {MAX_POSTBACK_DATA}", f"{where}.text"))
    return problems


def _validate_flex(message: dict, where: str) -> list[tuple[str, str]]:
    problems = []
    alt = message.get("altText")
    if not isinstance(alt, str) or not alt:
        problems.append(("May not be empty", f"{where}.altText"))
    elif utf16_len(alt) > MAX_ALT_TEXT:
        problems.append((f"Length must be between 0 and {MAX_ALT_TEXT}", f"{where}.altText"))
    contents = message.get("contents")
    if not isinstance(contents, dict) or contents.get("type") not in ("bubble", "carousel"):
        problems.append(("Must be one of the following values: bubble, carousel", f"{where}.contents.type"))
        return problems
    if contents["type"] == "carousel":
        bubbles = contents.get("contents")
        if not isinstance(bubbles, list) or not 1 <= len(bubbles) <= MAX_BUBBLES:
            problems.append((f"Size must be between 1 and {MAX_BUBBLES}", f"{where}.contents.contents"))
            return problems
        if len(json.dumps(contents, ensure_ascii=False).encode()) > MAX_CAROUSEL_BYTES:
            problems.append(("Carousel is larger than 50KB", f"{where}.contents"))
        for k, bubble in enumerate(bubbles):
            problems += _validate_bubble(bubble, f"{where}.contents.contents[{k}]")
    else:
        problems += _validate_bubble(contents, f"{where}.contents")
    return problems


def _validate_bubble(bubble: Any, where: str) -> list[tuple[str, str]]:
    if not isinstance(bubble, dict) or bubble.get("type") != "bubble":
        return [("Must be one of the following values: bubble", f"{where}.type")]
    problems = []
    if len(json.dumps(bubble, ensure_ascii=False).encode()) > MAX_BUBBLE_BYTES:
        problems.append(("Bubble is larger than 30KB", where))
    for part in ("header", "hero", "body", "footer"):
        if part in bubble:
            problems += _validate_component(bubble[part], f"{where}.{part}")
    return problems


def _validate_component(component: Any, where: str) -> list[tuple[str, str]]:
    if not isinstance(component, dict) or "type" not in component:
        return [("May not be empty", f"{where}.type")]
    problems = []
    kind = component["type"]
    if kind == "box":
        contents = component.get("contents")
        if not isinstance(contents, list):
            return [("May not be empty", f"{where}.contents")]
        for k, child in enumerate(contents):
            problems += _validate_component(child, f"{where}.contents[{k}]")
    elif kind == "text":
        text = component.get("text")
        if not component.get("contents") and (not isinstance(text, str) or not text):
            problems.append(("May not be empty", f"{where}.text"))
    elif kind == "button":
        problems += validate_action(component.get("action"), f"{where}.action", MAX_FLEX_ACTION_LABEL,
                                    label_required=True)
    if kind != "button" and "action" in component:
        problems += validate_action(component["action"], f"{where}.action", MAX_FLEX_ACTION_LABEL,
                                    label_required=False)
    return problems
