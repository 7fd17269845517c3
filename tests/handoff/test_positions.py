"""The place in line (bot.handoff.positions): most urgent first, then longest
waiting, from the score the queue keeps; and the place the user was last told."""

from __future__ import annotations

import pytest

from tests.handoff.kit import open_, waiting_ids


# --- ordering ---------------------------------------------------------------------


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
