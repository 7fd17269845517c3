"""The handoff queue's status changes (bot.handoff.transitions): open idempotent per
user and merging, raising the priority, claim, transfer, requeue, return to the
bot and close; on a real redis-server and on fakeredis (conftest)."""

from __future__ import annotations

import pytest

from tests.handoff.kit import line_id, open_, waiting_ids


# --- open: idempotent, merging ----------------------------------------------------


def test_open_is_idempotent_per_user(queue, clock) -> None:
    first = open_(queue, 1)
    clock.advance(60)
    again = open_(queue, 1)
    assert again.id == first.id
    assert again.queued_at == first.queued_at
    assert waiting_ids(queue) == [first.id]
    assert queue.active_for(line_id(1)).id == first.id
    assert queue.active_for(line_id(2)) is None


def test_open_merge_raises_severity_reorders_and_alerts(queue, clock) -> None:
    a = open_(queue, 1, None, reasons=["request.person"])
    clock.advance(10)
    b = open_(queue, 2, "medium", reasons=["bill.demand"])
    assert waiting_ids(queue) == [b.id, a.id]
    clock.advance(10)
    merged, outcome = queue.open_or_merge(
        line_id(1), role="child", level=None, lang="ja", category="self_harm", urgent=True,
        severity="critical", reasons=["self_harm.wish_to_die", "request.person"],
    )
    assert outcome == "raised"
    assert merged.id == a.id
    assert merged.severity == "critical"
    assert merged.alert == "danger"
    assert merged.urgent is True
    assert merged.category == "self_harm"
    assert merged.reasons == ("request.person", "self_harm.wish_to_die")
    assert merged.queued_at == a.queued_at
    assert merged.position == 1
    assert waiting_ids(queue) == [a.id, b.id]


def test_open_merge_never_lowers_severity_and_fills_only_what_was_missing(queue) -> None:
    a = open_(queue, 1, "high", reasons=["threat.kill"], category="threat", role="teacher")
    merged, outcome = queue.open_or_merge(
        line_id(1), role="child", level="junior", lang="en", category="bill", urgent=False,
        severity="medium", reasons=["threat.kill"], identity="Kobe Elementary, Sato",
    )
    assert outcome == "merged"
    assert merged.severity == "high"
    assert merged.alert is None
    assert merged.category == "threat"
    assert merged.role == "teacher"
    assert merged.level == "junior"
    assert merged.identity == "Kobe Elementary, Sato"
    assert merged.urgent is True
    assert merged.lang == a.lang
    assert merged.reasons == ("threat.kill",)


def test_open_merge_on_a_claimed_chat_alerts_without_queueing_it(queue) -> None:
    a = open_(queue, 1, "medium")
    queue.claim(a.id, "alice")
    merged, outcome = queue.open_or_merge(
        line_id(1), role="child", level=None, lang="ja", category="self_harm", urgent=True,
        severity="critical", reasons=["self_harm.method"],
    )
    assert outcome == "raised"
    assert (merged.status, merged.claimed_by, merged.alert) == ("claimed", "alice", "danger")
    assert waiting_ids(queue) == []


def test_open_after_close_starts_a_new_handoff(queue) -> None:
    a = open_(queue, 1)
    queue.claim(a.id, "alice")
    queue.close(a.id, "alice", {"advice": "x"})
    assert queue.active_for(line_id(1)) is None
    b = open_(queue, 1)
    assert b.id != a.id
    assert queue.active_for(line_id(1)).id == b.id


def test_open_refuses_an_unknown_severity(queue) -> None:
    with pytest.raises(ValueError):
        open_(queue, 1, "extreme")


def test_a_new_kind_of_danger_at_the_same_severity_alerts_through_open(queue):
    """The worker merges a waiting chat's new danger through open(): a new reason at
    the same severity is news for the counsellor, as through raise_priority()."""
    first = queue.open("U" + "1" * 32, role="child", level=None, lang="ja", category="self_harm",
                       urgent=True, severity="high", reasons=["self_harm.wish_to_die"])
    assert queue.get(first.id).alert is None
    queue.open("U" + "1" * 32, role="child", level=None, lang="ja", category="extortion",
               urgent=True, severity="high", reasons=["extortion.sextortion"])
    assert queue.get(first.id).alert == "danger"


# --- raise_priority ---------------------------------------------------------------


def test_raise_priority_moves_the_chat_up(queue, clock) -> None:
    a = open_(queue, 1, "medium")
    clock.advance(5)
    b = open_(queue, 2, "high")
    assert waiting_ids(queue) == [b.id, a.id]
    assert queue.raise_priority(a.id, "critical", ["self_harm.wish_to_die"]) is True
    assert waiting_ids(queue) == [a.id, b.id]
    got = queue.get(a.id)
    assert (got.severity, got.alert) == ("critical", "danger")
    assert got.reasons == ("request.person", "self_harm.wish_to_die")


def test_raise_priority_makes_a_request_urgent(queue) -> None:
    a = open_(queue, 1, None)
    assert a.urgent is False
    assert queue.raise_priority(a.id, "medium", ["self_harm.vanish"]) is True
    got = queue.get(a.id)
    assert (got.urgent, got.severity, got.alert) == (True, "medium", "danger")


def test_raise_priority_with_new_reasons_only_alerts(queue) -> None:
    a = open_(queue, 1, "high", reasons=["threat.kill"])
    assert queue.raise_priority(a.id, "medium", ["threat.weapon"]) is False
    got = queue.get(a.id)
    assert (got.severity, got.alert, got.reasons) == ("high", "danger", ("threat.kill", "threat.weapon"))
    queue.clear_alert(a.id)
    version = queue.version()
    # Nothing new: no alert, no change, no version bump.
    assert queue.raise_priority(a.id, "high", ["threat.kill"]) is False
    assert queue.get(a.id).alert is None
    assert queue.version() == version


def test_raise_priority_leaves_closed_and_missing_handoffs_alone(queue) -> None:
    a = open_(queue, 1)
    queue.claim(a.id, "alice")
    queue.close(a.id, "alice", {})
    assert queue.raise_priority(a.id, "critical", ["self_harm.x"]) is False
    assert queue.get(a.id).severity is None
    assert queue.raise_priority("missing", "critical", ["self_harm.x"]) is False


# --- claim and the other transitions ----------------------------------------------


def test_claim_then_the_second_counsellor_is_told_who_has_it(queue, clock) -> None:
    a = open_(queue, 1, "high")
    clock.advance(7)
    won = queue.claim(a.id, "alice")
    assert (won.ok, won.reason, won.holder) == (True, "ok", "alice")
    assert won.handoff.status == "claimed"
    assert won.handoff.claimed_by == "alice"
    assert won.handoff.claimed_at == won.handoff.last_activity == clock.now
    lost = queue.claim(a.id, "bob")
    assert (lost.ok, lost.reason, lost.holder) == (False, "taken", "alice")
    assert queue.list("claimed")[0].id == a.id
    # A double click by the holder is not a conflict.
    assert queue.claim(a.id, "alice").ok


def test_closed_or_missing_chats_cannot_be_claimed(queue) -> None:
    a = open_(queue, 1)
    queue.claim(a.id, "alice")
    assert queue.close(a.id, "alice", {"follow_up": False}).ok
    refused = queue.claim(a.id, "bob")
    assert (refused.ok, refused.reason, refused.holder) == (False, "closed", None)
    missing = queue.claim("0123456789abcdef", "bob")
    assert (missing.ok, missing.reason, missing.handoff) == (False, "missing", None)
    b = open_(queue, 2)
    queue.return_to_bot(b.id, "bot", force=True)
    assert queue.claim(b.id, "bob").reason == "closed"


def test_only_the_holder_transfers_unless_forced(queue) -> None:
    a = open_(queue, 1)
    queue.claim(a.id, "alice")
    refused = queue.transfer(a.id, "bob", "carol")
    assert (refused.ok, refused.reason, refused.holder) == (False, "not_holder", "alice")
    moved = queue.transfer(a.id, "alice", "bob")
    assert (moved.ok, moved.holder, moved.handoff.claimed_by) == (True, "bob", "bob")
    forced = queue.transfer(a.id, "supervisor", "carol", force=True)
    assert (forced.ok, forced.handoff.claimed_by) == (True, "carol")


def test_a_waiting_chat_is_assigned_only_by_force(queue) -> None:
    a = open_(queue, 1)
    refused = queue.transfer(a.id, "alice", "bob")
    assert (refused.ok, refused.reason, refused.holder) == (False, "not_holder", None)
    assigned = queue.transfer(a.id, "supervisor", "bob", force=True)
    assert assigned.ok and assigned.handoff.status == "claimed"
    assert waiting_ids(queue) == []
    assert queue.claim(a.id, "carol").holder == "bob"


def test_requeue_gives_the_chat_its_old_place(queue, clock) -> None:
    a = open_(queue, 1, "high")
    clock.advance(10)
    b = open_(queue, 2, "high")
    queue.claim(a.id, "alice")
    assert waiting_ids(queue) == [b.id]
    clock.advance(600)
    assert queue.requeue(a.id, "bob").reason == "not_holder"
    back = queue.requeue(a.id, "alice")
    assert back.ok
    assert (back.handoff.status, back.handoff.claimed_by, back.handoff.position) == ("waiting", None, 1)
    assert back.handoff.queued_at == a.queued_at
    assert waiting_ids(queue) == [a.id, b.id]
    assert queue.list("claimed") == []
    assert queue.requeue(a.id, "alice").ok  # a second click: already waiting
    queue.claim(a.id, "alice")
    assert queue.requeue(a.id, "supervisor", force=True).ok


def test_return_to_bot_is_final_and_leaves_the_user_index(queue, clock) -> None:
    a = open_(queue, 1)
    queue.claim(a.id, "alice")
    assert queue.return_to_bot(a.id, "bob").reason == "not_holder"
    clock.advance(3)
    done = queue.return_to_bot(a.id, "alice")
    assert done.ok
    got = done.handoff
    assert (got.status, got.closed_at, got.closed_by) == ("bot", clock.now, "alice")
    assert queue.active_for(line_id(1)) is None
    assert [h.id for h in queue.list("bot")] == [a.id]
    assert [h.id for h in queue.list("closed")] == [a.id]
    assert queue.list("claimed") == [] and queue.list("waiting") == []
    # A waiting chat goes back to the bot only by force (the user withdrew, say).
    b = open_(queue, 2)
    assert queue.return_to_bot(b.id, "alice").reason == "not_holder"
    assert queue.return_to_bot(b.id, "bot", force=True).ok
    assert waiting_ids(queue) == []


def test_close_keeps_the_record_and_lists_newest_first(queue, clock) -> None:
    record = {"role": "child", "category": "bill", "advice": "無視してよい",
              "referred": ["消費生活センター"], "school_contact_agreed": False, "follow_up": True}
    ids = []
    for n in range(3):
        h = open_(queue, n)
        queue.claim(h.id, "alice")
        clock.advance(1)
        assert queue.close(h.id, "bob", record).reason == "not_holder"
        closed = queue.close(h.id, "alice", record)
        assert closed.ok
        ids.append(h.id)
    got = queue.get(ids[0])
    assert (got.status, got.record, got.closed_by) == ("closed", record, "alice")
    assert [h.id for h in queue.list("closed")] == ids[::-1]
    assert queue.list("bot") == []
    assert queue.close(ids[0], "alice", record).reason == "closed"
    assert queue.list("claimed") == []


def test_closing_clears_alerts(queue) -> None:
    a = open_(queue, 1, "medium")
    queue.raise_priority(a.id, "high", ["threat.kill"])
    queue.claim(a.id, "alice")
    assert queue.close(a.id, "alice", {}).handoff.alert is None


def test_transitions_are_in_the_transcript(queue) -> None:
    a = open_(queue, 1)
    queue.claim(a.id, "alice")
    queue.claim(a.id, "bob")  # refused: not recorded
    queue.claim(a.id, "alice")  # a second click: ok, and nothing happened
    queue.transfer(a.id, "alice", "bob")
    queue.requeue(a.id, "bob")
    queue.claim(a.id, "carol")
    queue.close(a.id, "carol", {})
    events = [(e["event"], e["by"]) for e in queue.transcript(a.id)]
    assert events == [("claimed", "alice"), ("transferred", "alice"), ("requeued", "bob"),
                      ("claimed", "carol"), ("closed", "carol")]
    assert all(e["from"] == "system" and e["kind"] == "event" for e in queue.transcript(a.id))


def test_a_message_whose_handoff_could_not_be_touched_leaves_no_line(queue, monkeypatch) -> None:
    # Redis failing between the transcript's push and the handoff's update (a failover
    # of the queue's master): the event is run again, and the message must show once.
    import redis

    a = open_(queue, 1)
    queue.append(a.id, {"from": "user", "kind": "text", "text": "1"})

    def fails(*args, **kwargs):
        raise redis.ConnectionError("the queue's master went away")

    monkeypatch.setattr(queue, "_appended", fails)
    with pytest.raises(redis.ConnectionError):
        queue.append(a.id, {"from": "user", "kind": "text", "text": "2"})
    monkeypatch.undo()
    queue.append(a.id, {"from": "user", "kind": "text", "text": "2"})
    assert [e["text"] for e in queue.transcript(a.id)] == ["1", "2"]
