"""The conversation simulator: the real dialogue over JSON lines, no LINE.

Each input line is one user action; each produces exactly one output line,
flushed at once, so a script or a person at a terminal can drive it:

    {"user": "u1", "event": "follow"}
    {"user": "u1", "text": "書き込みを消したい"}
    {"user": "u1", "tap": "中学生（ちゅうがくせい）"}
    {"user": "u1", "postback": "t=menu", "lang": "en"}

A line may carry "at" (ISO 8601 with offset) to set the clock for that line.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Callable, TextIO

from bot.service import ConsultationService
from dialogs.engine import Event
from dialogs.reply import Reply


def parse_instant(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset; write e.g. 2026-12-30T15:00+09:00")
    return moment


def reply_to_json(user: str, reply: Reply) -> dict[str, Any]:
    return {
        "user": user,
        "texts": [*reply.texts, *(card.as_text() for card in reply.cards)],
        "options": [choice.label for choice in reply.choices],
        "hotlines": list(reply.hotline_ids),
        "state": reply.state,
        "urgent": reply.urgent,
        "severity": reply.severity,
        "reasons": list(reply.reasons),
        "handoff": reply.handoff,
        "lang": reply.lang,
        **({"extra": dict(reply.extra)} if reply.extra else {}),
    }


class Simulator:
    def __init__(self, service: ConsultationService, clock: Callable[[], datetime]):
        self.service = service
        self.clock = clock
        # What each user was last shown, so that "tap" can name a label.
        self._shown: dict[str, dict[str, str]] = {}

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
            now = parse_instant(line["at"]) if "at" in line else self.clock()
        except (ValueError, TypeError) as exc:
            return {"error": str(exc)}
        reply = self.service.handle(user, event, now)
        self._shown[user] = {c.label: c.data for c in reply.choices}
        return reply_to_json(user, reply)

    def run(self, stdin: TextIO, stdout: TextIO) -> int:
        for raw in stdin:
            if not raw.strip():
                continue
            stdout.write(json.dumps(self.step(raw), ensure_ascii=False) + "\n")
            stdout.flush()
        return 0
