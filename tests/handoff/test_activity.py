"""Counsellors at work (bot.handoff.activity): idle claims flagged on a fixed
clock, a danger alert kept, the first reply stamped once, escalation recorded."""

from __future__ import annotations

from tests.handoff.kit import open_


# --- activity and idle alerts -----------------------------------------------------


def test_idle_claims_with_a_fixed_clock(queue, clock) -> None:
    a = open_(queue, 1)
    b = open_(queue, 2)
    queue.claim(a.id, "alice")
    queue.claim(b.id, "bob")
    clock.advance(299)
    assert queue.idle_claims(300) == []
    queue.touch(b.id, "bob")
    clock.advance(1)
    idle = queue.idle_claims(300)
    assert [h.id for h in idle] == [a.id]
    assert idle[0].alert == "idle"
    version = queue.version()
    assert [h.id for h in queue.idle_claims(300)] == [a.id]  # still idle, not marked twice
    assert queue.version() == version
    clock.advance(300)
    assert {h.id for h in queue.idle_claims(300)} == {a.id, b.id}
    queue.touch(a.id, "alice")
    assert queue.get(a.id).alert is None
    assert [h.id for h in queue.idle_claims(300)] == [b.id]


def test_idle_does_not_replace_a_danger_alert(queue, clock) -> None:
    a = open_(queue, 1, "medium")
    queue.claim(a.id, "alice")
    queue.raise_priority(a.id, "critical", ["self_harm.x"])
    clock.advance(1000)
    assert [h.alert for h in queue.idle_claims(60)] == ["danger"]


def test_touch_with_reply_stamps_the_first_reply_once(queue, clock) -> None:
    a = open_(queue, 1)
    queue.claim(a.id, "alice")
    clock.advance(20)
    queue.touch(a.id, "alice", reply=True)
    first = clock.now
    clock.advance(20)
    queue.touch(a.id, "alice", reply=True)
    got = queue.get(a.id)
    assert (got.first_reply_at, got.last_activity) == (first, clock.now)


def test_touch_on_a_waiting_chat_changes_nothing(queue) -> None:
    a = open_(queue, 1)
    version = queue.version()
    queue.touch(a.id, "alice", reply=True)
    assert queue.get(a.id).first_reply_at is None
    assert queue.version() == version


def test_escalate_is_recorded(queue) -> None:
    a = open_(queue, 1, "critical")
    queue.claim(a.id, "alice")
    queue.escalate(a.id, "alice")
    assert queue.get(a.id).escalated is True
    assert queue.transcript(a.id)[-1]["event"] == "escalated"
    assert queue.transcript(a.id)[-1]["by"] == "alice"
