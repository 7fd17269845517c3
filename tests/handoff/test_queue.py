"""The handoff queue's contract, on a real redis-server and on fakeredis (conftest)."""

from __future__ import annotations

import json

import pytest

from bot.handoff import MAX_IMAGE_BYTES, HandoffQueue

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def line_id(n: int) -> str:
    return f"U{n:032x}"


def open_(queue: HandoffQueue, user: int, severity: str | None = None, reasons=("request.person",), **kw):
    args = dict(role="child", level=None, lang="ja", category=None, urgent=severity is not None,
                severity=severity, reasons=list(reasons))
    args.update(kw)
    return queue.open(line_id(user), **args)


def waiting_ids(queue: HandoffQueue) -> list[str]:
    return [h.id for h in queue.list("waiting")]


# --- ordering ------------------------------------------------------------------------


def test_waiting_is_most_urgent_first_then_longest_waiting(queue, clock) -> None:
    opened = {}
    # Opened from least to most urgent, so arrival order alone would be wrong.
    for n, severity in enumerate([None, "medium", None, "high", "critical", "medium", "critical"]):
        opened[n] = open_(queue, n, severity)
        clock.advance(1.5)
    expected = [opened[n].id for n in (4, 6, 3, 1, 5, 0, 2)]
    assert waiting_ids(queue) == expected
    assert [h.position for h in queue.list("waiting")] == list(range(1, 8))
    assert [queue.position(hid) for hid in expected] == list(range(1, 8))
    assert queue.list("waiting", limit=2) == queue.list("waiting")[:2]


def test_the_waiting_score_is_severity_step_plus_queued_ms(queue, client, keys, clock) -> None:
    # The layout the spec fixes: (3 - rank) * 10**13 + queued_at in ms.
    clock.now = 1_795_586_400.25
    for n, (severity, rank) in enumerate([(None, 0), ("medium", 1), ("high", 2), ("critical", 3)]):
        h = open_(queue, n, severity)
        assert client.zscore(keys.handoff_waiting(), h.id) == (3 - rank) * 10**13 + 1_795_586_400_250


def test_an_older_chat_never_outranks_a_more_urgent_one(queue, clock) -> None:
    old = open_(queue, 1, None)
    clock.advance(30 * 24 * 3600)  # a month later
    urgent = open_(queue, 2, "medium")
    assert waiting_ids(queue) == [urgent.id, old.id]


def test_position_is_none_when_not_waiting(queue) -> None:
    h = open_(queue, 1)
    assert queue.position(h.id) == 1
    queue.claim(h.id, "alice")
    assert queue.position(h.id) is None
    assert queue.position("nonexistent") is None


def test_the_place_the_user_was_told_is_kept_while_waiting(queue) -> None:
    a = open_(queue, 1)
    assert queue.notified_position(a.id) is None
    queue.set_notified_position(a.id, 1)
    assert queue.notified_position(a.id) == 1
    # Claimed and back in line: the user must hear their place again.
    queue.claim(a.id, "alice")
    queue.set_notified_position(a.id, 3)  # not waiting: ignored
    assert queue.notified_position(a.id) is None
    queue.requeue(a.id, "alice")
    assert queue.notified_position(a.id) is None
    assert queue.notified_position("0123456789abcdef") is None
    with pytest.raises(ValueError):
        queue.set_notified_position(a.id, 0)


# --- open: idempotent, merging -------------------------------------------------------


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


# --- raise_priority ------------------------------------------------------------------


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


# --- claim and the other transitions -------------------------------------------------


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


def test_claimed_list_is_in_claim_order(queue, clock) -> None:
    hs = [open_(queue, n, severity) for n, severity in enumerate([None, "critical", "medium"])]
    for h in hs:
        clock.advance(1)
        queue.claim(h.id, "alice")
    clock.advance(1)
    queue.touch(hs[0].id, "alice")  # activity does not reorder the list
    assert [h.id for h in queue.list("claimed")] == [h.id for h in hs]


def test_transitions_are_in_the_transcript(queue) -> None:
    a = open_(queue, 1)
    queue.claim(a.id, "alice")
    queue.claim(a.id, "bob")  # refused: not recorded
    queue.transfer(a.id, "alice", "bob")
    queue.requeue(a.id, "bob")
    queue.claim(a.id, "carol")
    queue.close(a.id, "carol", {})
    events = [(e["event"], e["by"]) for e in queue.transcript(a.id)]
    assert events == [("claimed", "alice"), ("transferred", "alice"), ("requeued", "bob"),
                      ("claimed", "carol"), ("closed", "carol")]
    assert all(e["from"] == "system" and e["kind"] == "event" for e in queue.transcript(a.id))


# --- activity and idle alerts --------------------------------------------------------


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


# --- transcript, escalation, images --------------------------------------------------


def test_transcript_roundtrip(queue, clock) -> None:
    a = open_(queue, 1)
    entries = [
        {"at": clock.now - 5, "from": "user", "by": None, "kind": "text", "text": "しにたい"},
        {"from": "bot", "by": None, "kind": "card", "text": "", "card": "hotline"},
        {"from": "note", "by": "alice", "kind": "text", "text": "保護者に連絡の同意なし"},
    ]
    for entry in entries:
        queue.append(a.id, entry)
    got = queue.transcript(a.id)
    assert got[0] == entries[0]
    assert got[1] == {**entries[1], "at": clock.now}
    assert got[2]["text"] == "保護者に連絡の同意なし"
    assert "at" not in entries[1]  # the caller's dict is not changed
    with pytest.raises(KeyError):
        queue.append("0123456789abcdef", {"from": "user", "kind": "text", "text": "x"})


def test_escalate_is_recorded(queue) -> None:
    a = open_(queue, 1, "critical")
    queue.claim(a.id, "alice")
    queue.escalate(a.id, "alice")
    assert queue.get(a.id).escalated is True
    assert queue.transcript(a.id)[-1]["event"] == "escalated"
    assert queue.transcript(a.id)[-1]["by"] == "alice"


def test_images_roundtrip(queue) -> None:
    a = open_(queue, 1, "high")
    assert queue.add_image(a.id, PNG, "image/png") == 1
    assert queue.add_image(a.id, b"\xff\xd8\xff", "Image/JPEG; charset=binary") == 2
    assert queue.image(a.id, 1) == (PNG, "image/png")
    assert queue.image(a.id, 2) == (b"\xff\xd8\xff", "image/jpeg")
    assert queue.image(a.id, 3) is None
    images = [e for e in queue.transcript(a.id) if e["kind"] == "image"]
    assert [(e["from"], e["image"]) for e in images] == [("user", 1), ("user", 2)]


def test_images_over_ten_megabytes_or_not_images_are_refused(queue) -> None:
    a = open_(queue, 1)
    assert queue.add_image(a.id, b"\0" * MAX_IMAGE_BYTES, "image/png") == 1
    with pytest.raises(ValueError):
        queue.add_image(a.id, b"\0" * (MAX_IMAGE_BYTES + 1), "image/png")
    for content_type in ("text/html", "application/octet-stream", "image/", "", "video/mp4"):
        with pytest.raises(ValueError):
            queue.add_image(a.id, PNG, content_type)
    with pytest.raises(KeyError):
        queue.add_image("0123456789abcdef", PNG, "image/png")
    assert queue.image(a.id, 2) is None


# --- privacy -------------------------------------------------------------------------


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


def test_every_key_is_under_the_queue_hash_tag_and_no_key_names_a_user(queue, client, keys) -> None:
    a = open_(queue, 1)
    queue.add_image(a.id, PNG, "image/png")
    queue.claim(a.id, "alice")
    b = open_(queue, 2)
    queue.claim(b.id, "bob")
    queue.close(b.id, "bob", {})
    names = [k.decode() for k in client.keys("*")]
    assert names and all(n.startswith(f"{keys.prefix}:{{handoff}}:") for n in names)
    assert not any(line_id(1) in n or keys.pseudonym(line_id(1)) in n for n in names)


def test_a_decoding_client_is_refused(keys) -> None:
    import fakeredis

    with pytest.raises(ValueError):
        HandoffQueue(fakeredis.FakeRedis(decode_responses=True), keys)


# --- version ------------------------------------------------------------------------


def test_every_change_bumps_the_version(queue) -> None:
    def bumps(action) -> bool:
        before = queue.version()
        action()
        return queue.version() > before

    assert queue.version() == 0
    a = open_(queue, 1)
    assert queue.version() == 1
    assert not bumps(lambda: open_(queue, 1))  # nothing new to merge
    assert bumps(lambda: open_(queue, 1, "medium"))
    assert bumps(lambda: queue.raise_priority(a.id, "high", []))
    assert bumps(lambda: queue.clear_alert(a.id))
    assert bumps(lambda: queue.set_notified_position(a.id, 1))
    assert not bumps(lambda: queue.clear_alert(a.id))
    assert bumps(lambda: queue.claim(a.id, "alice"))
    assert not bumps(lambda: queue.claim(a.id, "bob"))
    assert bumps(lambda: queue.touch(a.id, "alice", reply=True))
    reply = {"from": "counsellor", "by": "alice", "kind": "text", "text": "hi"}
    assert bumps(lambda: queue.append(a.id, reply))
    assert bumps(lambda: queue.add_image(a.id, PNG, "image/png"))
    assert bumps(lambda: queue.escalate(a.id, "alice"))
    assert bumps(lambda: queue.transfer(a.id, "alice", "bob"))
    assert bumps(lambda: queue.requeue(a.id, "bob"))
    assert bumps(lambda: queue.claim(a.id, "bob"))
    assert bumps(lambda: queue.close(a.id, "bob", {}))
    assert not bumps(lambda: queue.close(a.id, "bob", {}))
    assert not bumps(lambda: (queue.get(a.id), queue.list("closed"), queue.transcript(a.id)))


def test_a_new_kind_of_danger_at_the_same_severity_alerts_through_open(queue):
    """The worker merges a waiting chat's new danger through open(): a new reason at
    the same severity is news for the counsellor, as through raise_priority()."""
    first = queue.open("U" + "1" * 32, role="child", level=None, lang="ja", category="self_harm",
                       urgent=True, severity="high", reasons=["self_harm.wish_to_die"])
    assert queue.get(first.id).alert is None
    queue.open("U" + "1" * 32, role="child", level=None, lang="ja", category="extortion",
               urgent=True, severity="high", reasons=["extortion.sextortion"])
    assert queue.get(first.id).alert == "danger"


def test_the_last_entries_of_a_transcript(queue):
    handoff = queue.open("U" + "7" * 32, role=None, level=None, lang="ja", category=None,
                         urgent=False, severity=None, reasons=[])
    for n in range(5):
        queue.append(handoff.id, {"from": "user", "kind": "text", "text": str(n)})
    assert [e["text"] for e in queue.transcript(handoff.id, last=2)] == ["3", "4"]
    assert [e["text"] for e in queue.transcript(handoff.id)] == ["0", "1", "2", "3", "4"]
