"""What a handoff shows the console (bot.handoff.model): never the LINE id."""

from __future__ import annotations

import json

from tests.handoff.kit import line_id, open_


# --- privacy ----------------------------------------------------------------------


def test_to_api_never_has_the_line_user_id(queue) -> None:
    a = open_(queue, 1, "high", identity="Kobe Elementary, Sato")
    for h in (a, queue.get(a.id), queue.list("waiting")[0], queue.claim(a.id, "alice").handoff):
        api = h.to_api()
        assert "line_user" not in api
        assert line_id(1) not in json.dumps(api)
        assert api["user"] == h.user[:8]
        assert line_id(1) not in repr(h) and "Sato" not in repr(h)
    assert set(a.to_api()) == {
        "id", "user", "status", "role", "level", "lang", "category", "urgent", "severity", "reasons",
        "identity", "queued_at", "claimed_at", "claimed_by", "first_reply_at", "closed_at", "alert",
        "escalated", "position",
    }
    assert a.line_user == line_id(1)
