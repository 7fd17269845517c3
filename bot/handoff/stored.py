"""How a handoff is kept in Redis, and read back from its hash.

Layout (every key from KeyBuilder, all under the hash tag ``{handoff}``):

* ``handoff_doc(id)``: hash of one handoff's scalar fields; ``reasons``, ``record`` and
  ``handlers`` are JSON strings; a field that is None is absent. Bookkeeping fields not
  in Handoff: ``images`` (the last image number), ``notified_position`` (the place in
  line the user was last told) and ``touched_at`` (the last time anything happened in
  the chat: a message, a transition; what ``expire_open_before`` measures).
* ``handoff_waiting()``: sorted set, score ``(3 - severity rank) * 10**13 +
  queued_at_ms``, so ascending order is most urgent first, then longest waiting.
* ``handoff_claimed()``: sorted set, score = last counsellor activity (ms), so idle
  chats are a range query.
* ``handoff_closed()``: sorted set of closed and returned-to-bot handoffs by close time.
* ``handoff_by_user()``: hash pseudonym -> id of the user's open handoff; this is what
  makes open() idempotent per user.
* ``handoff_transcript(id)``, ``handoff_image(id, n)``, ``handoff_version()``.

A hash holds text: numbers as text (a float as its repr, so it round-trips
exactly), a boolean as "1" or "0", lists and dicts as compact JSON. What the
user could be identified by is sealed (bot.crypto), each value bound to its
handoff and field (``seal_context``); ``from_hash`` leaves it sealed, for the
queue to open.
"""

from __future__ import annotations

import json
from typing import Any

from bot.handoff.model import Handoff

_FLOAT_FIELDS = ("queued_at", "claimed_at", "first_reply_at", "closed_at", "last_activity", "follow_up_done_at")
_STR_FIELDS = (
    "role", "level", "category", "severity", "identity", "claimed_by", "closed_by", "alert",
    "follow_up_done_by",
)


def as_text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8") if isinstance(value, (bytes, bytearray)) else str(value)


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def encode(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)  # round-trips exactly
    if isinstance(value, (list, dict)):
        return to_json(value)
    return str(value)


def ms(seconds: float) -> int:
    return int(seconds * 1000)


def _float(fields: dict[str, str], name: str) -> float | None:
    value = fields.get(name)
    return float(value) if value is not None else None


def seal_context(hid: str, name: str) -> str:
    """What a sealed value is bound to (bot.crypto): this handoff, this field."""
    return f"handoff:{hid}:{name}"


def from_hash(raw: dict, rank: Any = None) -> Handoff | None:
    """The Handoff as stored: identity and the LINE id still sealed."""
    if not raw:
        return None
    fields = {as_text(k): as_text(v) for k, v in raw.items()}
    record = fields.get("record")
    return Handoff(
        id=fields["id"],
        user=fields["user"],
        sealed_line_user=fields.get("line_user") or "",
        handlers=tuple(json.loads(fields.get("handlers") or "[]")),
        status=fields["status"],
        lang=fields.get("lang") or "",
        urgent=fields.get("urgent") == "1",
        reasons=tuple(json.loads(fields.get("reasons") or "[]")),
        escalated=fields.get("escalated") == "1",
        record=json.loads(record) if record is not None else None,
        queued_at=_float(fields, "queued_at") or 0.0,
        position=int(rank) + 1 if rank is not None and int(rank) >= 0 else None,
        **{name: _float(fields, name) for name in _FLOAT_FIELDS if name != "queued_at"},
        **{name: fields.get(name) for name in _STR_FIELDS},
    )
