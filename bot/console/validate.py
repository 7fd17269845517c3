"""Checking what the console's JSON API is sent.

Anything a client can get wrong (not JSON, a number where a string belongs, a
missing field, a text too long, an unknown hotline) becomes an :class:`ApiError`
with a status and a message a counsellor can act on, never a 500.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import date, timedelta
from typing import Any

from flask import Request

from bot.console.labels import CATEGORY_LABELS, ROLE_LABELS, SCHOOL_CONTACT_LABELS

MAX_REPLY_CHARS = 2000
MAX_NOTE_CHARS = 4000
MAX_ADVICE_CHARS = 4000
MAX_FOLLOW_UP_CHARS = 2000
#: A follow-up with no date given is due this many days after the chat closed.
FOLLOW_UP_DAYS = 3
#: The latest a follow-up may be set for: further out, it is not a follow-up any more.
MAX_FOLLOW_UP_DAYS = 180
MAX_REFERRED = 20
#: How deeply a body's arrays and objects may nest. The API's deepest body is
#: {"record": {"follow_up": {...}}} (3); Python's JSON parser recurses once per
#: level and fails with RecursionError (a 500) near 1,000, so this is checked first.
MAX_JSON_DEPTH = 32


class ApiError(Exception):
    """An answer other than success: HTTP status, a short code, a Japanese message."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.extra}


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object; an empty body counts as ``{}`` (claim, requeue...)."""
    raw = request.get_data(cache=True)
    if not raw:
        return {}
    if json_depth(raw, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise ApiError(400, "too_deep", f"JSON の入れ子が深すぎます（{MAX_JSON_DEPTH}段まで）。")
    try:
        body = request.get_json(force=True, silent=True)
    except RecursionError:  # a last guard: the check above should make this unreachable
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "JSON のオブジェクト（{...}）を送ってください。")
    try:
        encodable = _encodable(body)
    except RecursionError:
        encodable = False
    if not encodable:
        # "\ud800" is valid JSON but no character: it could not be stored (UTF-8) or sent.
        raise ApiError(400, "bad_json", "送られた文字の中に、使えない文字が含まれています。")
    return body


def json_depth(raw: bytes, stop_after: int) -> int:
    """How deeply arrays and objects nest in the JSON text ``raw``, counting brackets
    outside strings (one pass, no recursion); stops counting once past ``stop_after``.
    Malformed text gets a number too: the parser refuses it afterwards."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # closing quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_after:
                    return deepest
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def _encodable(value: Any, depth: int = 0) -> bool:
    """No lone surrogate anywhere in a parsed JSON value (JSON's own nesting is bounded by the parser)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_encodable(k, depth + 1) and _encodable(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_encodable(v, depth + 1) for v in value)
    return True


def text_field(body: dict[str, Any], name: str, limit: int, *, label: str) -> str:
    """A required, non-blank string of at most ``limit`` characters (trimmed)."""
    value = body.get(name)
    if value is None:
        raise ApiError(400, "missing", f"{label}（{name}）がありません。", field=name)
    if not isinstance(value, str):
        raise ApiError(400, "bad_type", f"{label}（{name}）は文字列で送ってください。", field=name)
    value = value.strip()
    if not value:
        raise ApiError(400, "empty", f"{label}が空です。", field=name)
    if len(value) > limit:
        raise ApiError(400, "too_long", f"{label}は{limit}文字までです（いま{len(value)}文字）。",
                       field=name, limit=limit)
    return value


def hotline_field(body: dict[str, Any], hotline_ids: Container[str]) -> str:
    hotline = body.get("hotline")
    if not isinstance(hotline, str) or not hotline:
        raise ApiError(400, "missing", "送る窓口（hotline）を選んでください。", field="hotline")
    if hotline not in hotline_ids:
        raise ApiError(400, "unknown_hotline", f"窓口「{hotline}」は窓口一覧にありません。", field="hotline")
    return hotline


def close_record(body: dict[str, Any], hotline_ids: Container[str], today: date | None = None) -> dict[str, Any]:
    """The 記録簿 (seed 004 ⑥) from ``{"record": {...}}``, checked field by field.

    role, category: codes (labels in bot.console.labels); advice: what was advised;
    referred: hotline ids the user was pointed to; school_contact_agreed: yes / no /
    not_asked; follow_up: {"needed": bool, "text": what, required when needed,
    "due": "YYYY-MM-DD" (when needed; FOLLOW_UP_DAYS after ``today`` if not given)},
    or the short form ``"follow_up": bool`` with ``"follow_up_text"`` and
    ``"follow_up_due"`` beside it.
    """
    record = body.get("record")
    if not isinstance(record, dict):
        raise ApiError(400, "missing", "記録簿（record）を入力してください。", field="record")
    role = record.get("role")
    if role not in ROLE_LABELS:
        raise ApiError(400, "bad_value", "相談者（role）を選んでください。", field="role",
                       allowed=list(ROLE_LABELS))
    category = record.get("category")
    if category not in CATEGORY_LABELS:
        raise ApiError(400, "bad_value", "相談の種類（category）を選んでください。", field="category",
                       allowed=list(CATEGORY_LABELS))
    advice = text_field(record, "advice", MAX_ADVICE_CHARS, label="助言した内容")
    referred = record.get("referred", [])
    if not isinstance(referred, list) or not all(isinstance(h, str) for h in referred):
        raise ApiError(400, "bad_type", "紹介した窓口（referred）は窓口IDのリストで送ってください。",
                       field="referred")
    if len(referred) > MAX_REFERRED:
        raise ApiError(400, "too_long", f"紹介した窓口は{MAX_REFERRED}件までです。", field="referred")
    unknown = [h for h in referred if h not in hotline_ids]
    if unknown:
        raise ApiError(400, "unknown_hotline", f"窓口一覧にない窓口があります：{', '.join(unknown)}",
                       field="referred")
    school = record.get("school_contact_agreed")
    if school not in SCHOOL_CONTACT_LABELS:
        raise ApiError(400, "bad_value", "学校への連絡の了解（school_contact_agreed）を選んでください。",
                       field="school_contact_agreed", allowed=list(SCHOOL_CONTACT_LABELS))
    follow = record.get("follow_up")
    if isinstance(follow, bool):
        # The short form a script may send: "follow_up": false (text beside it, if needed).
        follow = {"needed": follow, "text": record.get("follow_up_text"), "due": record.get("follow_up_due")}
    if not isinstance(follow, dict) or not isinstance(follow.get("needed"), bool):
        raise ApiError(400, "bad_value",
                       "フォローアップの要否（follow_up.needed: true/false）を選んでください。",
                       field="follow_up")
    follow_text = follow.get("text") or ""
    if not isinstance(follow_text, str):
        raise ApiError(400, "bad_type", "フォローアップの内容は文字列で送ってください。", field="follow_up")
    follow_text = follow_text.strip()
    if follow["needed"] and not follow_text:
        raise ApiError(400, "empty", "フォローアップが必要なときは、その内容を書いてください。", field="follow_up")
    if len(follow_text) > MAX_FOLLOW_UP_CHARS:
        raise ApiError(400, "too_long", f"フォローアップの内容は{MAX_FOLLOW_UP_CHARS}文字までです。",
                       field="follow_up")
    follow_up: dict[str, Any] = {"needed": follow["needed"], "text": follow_text}
    if follow["needed"]:
        follow_up["due"] = _due(follow.get("due"), today or date.today())
    return {
        "role": role,
        "category": category,
        "advice": advice,
        "referred": list(dict.fromkeys(referred)),
        "school_contact_agreed": school,
        "follow_up": follow_up,
    }


def _due(raw: Any, today: date) -> str:
    """The follow-up's due day (YYYY-MM-DD): as given, from today to MAX_FOLLOW_UP_DAYS
    ahead, or FOLLOW_UP_DAYS from today when none is given."""
    if raw in (None, ""):
        return (today + timedelta(days=FOLLOW_UP_DAYS)).isoformat()
    try:
        due = date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
    except ValueError:
        due = None
    if due is None:
        raise ApiError(400, "bad_value", "フォローアップの期限は YYYY-MM-DD の日付で送ってください。",
                       field="follow_up")
    if not today <= due <= today + timedelta(days=MAX_FOLLOW_UP_DAYS):
        raise ApiError(400, "bad_value",
                       f"フォローアップの期限は、今日から{MAX_FOLLOW_UP_DAYS}日後までの日付にしてください。",
                       field="follow_up")
    return due.isoformat()
