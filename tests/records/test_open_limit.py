"""Issue 13, finding 6: a chat that is never closed is never purged, unless the purge
ends it. Open chats in which nothing happened for the profile's open_limit_days are
returned to the bot (their record ends "expired"), then purged after retention_days
like any other. Also: the record book masks a closing record it copies."""

from __future__ import annotations

from datetime import datetime

import fakeredis
import pytest

from bot.handoff.queue import HandoffQueue
from bot.records.book import RecordBook
from bot.records.purge import DAY, purge, runs
from bot.storage.keys import KeyBuilder
from dialogs.directory import load_directory
from dialogs.hours import TOKYO
from dialogs.reply import Reply
from tests.conftest import tokyo

T0 = tokyo("2026-11-25 15:00").timestamp()
CHILD, OTHER, THIRD = "U" + "a" * 32, "U" + "b" * 32, "U" + "c" * 32


@pytest.fixture
def store():
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    return client, KeyBuilder(secret=b"open-limit-test-secret-0123456789")


def queued(client, keys, user: str, at: float) -> tuple[HandoffQueue, str]:
    """A user's consultation, handed to a person at ``at``, as the worker leaves it."""
    now = [at]
    queue = HandoffQueue(client, keys, clock=lambda: now[0])
    book = RecordBook(client, keys)
    book.note_answer(user, Reply(texts=(), cards=(), choices=(), state="crisis", lang="ja", branch="crisis",
                                 handoff=True, urgent=True), datetime.fromtimestamp(at, TOKYO), True, "e1")
    h = queue.open(user, role="child", level=None, lang="ja", category="self_harm", urgent=True,
                   severity="high", reasons=["self_harm.wish_to_die"])
    book.note_handoff(user, h)
    queue.append(h.id, {"from": "user", "kind": "text", "text": "もう死にたい"})
    return queue, h.id


def record_of(client, keys, hid: str):
    return next(r for r in RecordBook(client, keys).month("2026-11") if r.handoff_id == hid)


def test_open_chats_left_for_the_limit_are_returned_to_the_bot_then_purged(store):
    client, keys = store
    queue, waiting = queued(client, keys, CHILD, T0)          # nobody ever took it
    _, claimed = queued(client, keys, OTHER, T0)              # taken, then left
    HandoffQueue(client, keys, clock=lambda: T0 + 3600).claim(claimed, "sato")
    _, alive = queued(client, keys, THIRD, T0)                # the user wrote again on day 10
    HandoffQueue(client, keys, clock=lambda: T0 + 10 * DAY).append(alive, {"from": "user", "kind": "text",
                                                                         "text": "まだ待ってる"})
    told = []
    run = purge(client, keys, 365, T0 + 15 * DAY, open_limit_days=14,
                send=lambda handoff, action, payload, event_id=None: told.append((handoff.id, action, event_id)))
    assert run.expired == 2 and run.handoffs == 0
    for hid in (waiting, claimed):
        ended = queue.get(hid)
        assert ended.status == "bot" and ended.closed_by == "system" and ended.closed_at == T0 + 15 * DAY
        assert "14日以上動きがなかった" in queue.transcript(hid)[-1]["text"]
        assert record_of(client, keys, hid).ended_by == "expired"
    assert queue.active_for(CHILD) is None and queue.active_for(OTHER) is None, "the bot answers them again"
    assert queue.get(alive).status == "waiting" and queue.active_for(THIRD).id == alive
    assert sorted(told) == sorted([(waiting, "returned", f"xcexp-{waiting}"),
                                   (claimed, "returned", f"xcexp-{claimed}")])
    # A second run the same day finds nothing more to end.
    assert purge(client, keys, 365, T0 + 15 * DAY + 60, open_limit_days=14).expired == 0
    # A year after they ended, they are purged like any finished chat.
    later = purge(client, keys, 365, T0 + (15 + 366) * DAY, open_limit_days=14)
    assert later.handoffs == 2
    assert later.expired == 1 and queue.get(alive).status == "bot"  # 'alive' was left too, since day 10
    assert queue.transcript(waiting) == [] and queue.get(waiting).line_user == ""
    assert [r.expired for r in runs(client, keys)] == [2, 0, 1]


def test_a_chat_ends_only_when_nothing_happened_since_the_cut_off(store):
    client, keys = store
    queue, hid = queued(client, keys, CHILD, T0)
    assert purge(client, keys, 365, T0 + 13 * DAY, open_limit_days=14).expired == 0
    assert queue.get(hid).status == "waiting"
    assert purge(client, keys, 365, T0 + 14 * DAY + 1, open_limit_days=14).expired == 1


def test_the_limit_is_the_profiles_and_must_be_a_positive_int(store):
    client, keys = store
    assert load_directory("hyogo").profile.open_limit_days == 14
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="open_limit_days"):
            purge(client, keys, 365, open_limit_days=bad)


def test_the_record_book_masks_a_closing_record_it_copies(store):
    client, keys = store
    queue, hid = queued(client, keys, CHILD, T0)
    queue.claim(hid, "sato")
    advice = "母親の携帯 090-1234-5678 に連絡した"
    closed = queue.close(hid, "sato", {"role": "child", "category": "self_harm", "advice": advice,
                                       "referred": [], "school_contact_agreed": "no",
                                       "follow_up": {"needed": False, "text": ""}}).handoff
    RecordBook(client, keys).handoff_ended(closed)
    kept = record_of(client, keys, hid)
    assert kept.closing["advice"] == "母親の携帯 [電話番号] に連絡した"
    assert b"1234-5678" not in b"".join(v for v in client.hgetall(keys.record_doc(kept.id)).values())
