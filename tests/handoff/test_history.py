"""A person's handoffs (bot.handoff.history) and the 要フォロー list
(bot.handoff.follow_ups), on a real redis-server and on fakeredis."""

from __future__ import annotations

from datetime import datetime

from bot.handoff.follow_ups import follow_up_due
from dialogs.hours import TOKYO
from tests.handoff.kit import open_

NEEDED = {"follow_up": {"needed": True, "text": "電話する", "due": "2026-12-10"}}


def test_a_person_s_handoffs_newest_first_and_no_one_else_s(queue, clock) -> None:
    first = open_(queue, 1)
    queue.claim(first.id, "alice")
    queue.close(first.id, "alice", {})
    clock.advance(60)
    open_(queue, 2)
    second = open_(queue, 1)
    assert [h.id for h in queue.history(first.user)] == [second.id, first.id]
    assert queue.earlier_ids([second, first]) == {second.id: [first.id], first.id: []}


def test_the_index_is_filled_in_once_for_handoffs_from_before_it_keeping_newer_ones(queue, client, keys, clock):
    old = [open_(queue, 1)]
    queue.claim(old[0].id, "alice")
    queue.close(old[0].id, "alice", {})
    clock.advance(1)
    old.append(open_(queue, 1))
    client.delete(keys.handoff_history(), keys.handoff_history_indexed())  # as before the upgrade
    queue._history_indexed = False
    # Opened after the upgrade, before the first reader filled the index in.
    queue.return_to_bot(old[1].id, "alice", force=True)
    clock.advance(1)
    new = open_(queue, 1)
    assert [h.id for h in queue.history(new.user)] == [new.id, old[1].id, old[0].id]
    assert client.exists(keys.handoff_history_indexed())


def test_closing_with_a_follow_up_lists_it_by_due_day_until_it_is_done(queue, clock) -> None:
    a, b = open_(queue, 1), open_(queue, 2)
    for h, record in ((a, NEEDED), (b, {"follow_up": {"needed": True, "text": "x", "due": "2026-12-08"}})):
        queue.claim(h.id, "alice")
        queue.close(h.id, "alice", record)
    assert [(h.id, due) for h, due in queue.follow_ups()] == [
        (b.id, follow_up_due({"follow_up": {"needed": True, "due": "2026-12-08"}}, 0)),
        (a.id, follow_up_due(NEEDED, 0))]
    assert queue.follow_ups_among([a.id, b.id, "nope"]) == {a.id, b.id}
    before = queue.version()
    assert queue.follow_up_done(a.id, "bob") is True
    assert queue.follow_up_done(a.id, "carol") is False
    assert queue.version() == before + 1
    assert [h.id for h, _ in queue.follow_ups()] == [b.id]
    done = queue.get(a.id)
    assert (done.follow_up_done_by, done.follow_up_done_at) == ("bob", clock())


def test_a_record_without_a_follow_up_or_a_day_for_it(clock) -> None:
    assert follow_up_due({}, clock()) is None
    assert follow_up_due({"follow_up": {"needed": False, "due": "2026-12-10"}}, clock()) is None
    # Asked for without a day (a script's record): due the day it is written, Tokyo time.
    day = datetime.fromtimestamp(clock(), TOKYO).date()
    assert datetime.fromtimestamp(follow_up_due({"follow_up": {"needed": True}}, clock()), TOKYO).date() == day
