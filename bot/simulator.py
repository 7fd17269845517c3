"""The conversation simulator: the real conversation core over JSON lines, no LINE.

Each input line is one user action; each produces exactly one output line,
flushed at once, so a script or a person at a terminal can drive it:

    {"user": "u1", "event": "follow"}
    {"user": "u1", "text": "書き込みを消したい"}
    {"user": "u1", "tap": "中学生（ちゅうがくせい）"}
    {"user": "u1", "postback": "t=menu", "lang": "en"}

A line may carry "at" (ISO 8601 with offset) to set the clock for that line.

The lines go through :class:`bot.conversation.Conversation`, as LINE's do in
production, over an in-process Redis: an answer that hands off queues the
chat (its place in line is said while counsellors are on duty, and shown
under "queue"), and the consultation's record is kept (under "record").
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from typing import Any, Callable, TextIO

from bot.content import Part
from bot.conversation.core import Conversation, Turn
from dialogs.engine import Dialogue, Event
from dialogs.reply import Reply


def parse_instant(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset; write e.g. 2026-12-30T15:00+09:00")
    return moment


def reply_to_json(user: str, reply: Reply, parts: tuple[Part, ...] | None = None) -> dict[str, Any]:
    """One output line: what was said (``parts``; by default the dialogue's
    reply alone) and the dialogue's reading of the event."""
    parts = (Part.of(reply),) if parts is None else parts
    return {
        "user": user,
        "texts": [t for p in parts for t in (*p.texts, *(card.as_text() for card in p.cards))],
        "options": [c.label for p in parts for c in p.choices],
        "hotlines": [card.id for p in parts for card in p.cards],
        "state": reply.state,
        "urgent": reply.urgent,
        "severity": reply.severity,
        "reasons": list(reply.reasons),
        "handoff": reply.handoff,
        "lang": reply.lang,
        **({"extra": dict(reply.extra)} if reply.extra else {}),
    }


def turn_to_json(user: str, turn: Turn, core: Conversation) -> dict[str, Any]:
    """A turn of the core as one output line, with the chat's place in the
    handoff queue and the consultation's record as production keeps them."""
    # A counsellor's chat (not reachable here) or a stored answer has no fresh reply.
    reply = turn.reply or Reply(texts=(), cards=(), choices=(), state="human",
                                lang=turn.parts[0].lang if turn.parts else "ja")
    out = reply_to_json(user, reply, turn.parts)
    handoffs = core.handoffs
    active = handoffs.active(user) if handoffs is not None else None
    if active is not None and handoffs is not None:
        out["queue"] = {"status": active.status, "position": handoffs.queue.position(active.id),
                        "category": active.category, "severity": active.severity, "urgent": active.urgent}
    record = core.records.open_for(user) if core.records is not None else None
    if record is not None:
        out["record"] = {"role": record.role, "branches": list(record.branches), "hotlines": list(record.hotlines),
                         "urgent": record.urgent, "severity": record.severity, "answers": record.answers,
                         "handed_off": record.handed_off, "outside_hours": record.outside_hours}
    return out


class SettableClock:
    """Now, unless a line of input says otherwise (its "at")."""

    def __init__(self, base: Callable[[], datetime]) -> None:
        self.base = base
        self.fixed: datetime | None = None

    def __call__(self) -> datetime:
        return self.fixed or self.base()


class Simulator:
    def __init__(self, dialogue: Dialogue, clock: Callable[[], datetime]):
        self.clock = SettableClock(clock)
        self.core = Conversation.in_memory(dialogue, self.clock)
        # What each user was last shown, so that "tap" can name a label.
        self._shown: dict[str, dict[str, str]] = {}
        self._ids = itertools.count(1)

    def event_for(self, line: dict[str, Any]) -> Event:
        lang = line.get("lang")
        if line.get("event") == "follow":
            return Event("follow", lang=lang)
        if "text" in line:
            if not isinstance(line["text"], str):
                raise ValueError('"text" must be a string')
            return Event("text", text=line["text"], lang=lang)
        if "postback" in line:
            return Event("postback", data=str(line["postback"]), lang=lang)
        if "tap" in line:
            shown = self._shown.get(str(line["user"]), {})
            label = line["tap"]
            if label not in shown:
                raise ValueError(f"no option labelled {label!r} was shown; shown: {sorted(shown)}")
            return Event("postback", data=shown[label], lang=lang)
        raise ValueError('each line needs one of "event": "follow", "text", "tap" or "postback"')

    def step(self, raw: str) -> dict[str, Any]:
        try:
            line = json.loads(raw)
            if not isinstance(line, dict) or "user" not in line:
                raise ValueError('each line must be a JSON object with "user"')
            user = str(line["user"])
            event = self.event_for(line)
            self.clock.fixed = parse_instant(line["at"]) if "at" in line else None
        except (ValueError, TypeError) as exc:
            return {"error": str(exc)}
        turn = self.core.turn(user, f"sim-{next(self._ids)}", event)
        self._shown[user] = {c.label: c.data for p in turn.parts for c in p.choices}
        return turn_to_json(user, turn, self.core)

    def run(self, stdin: TextIO, stdout: TextIO) -> int:
        for raw in stdin:
            if not raw.strip():
                continue
            stdout.write(json.dumps(self.step(raw), ensure_ascii=False) + "\n")
            stdout.flush()
        return 0
