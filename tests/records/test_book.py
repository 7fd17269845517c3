"""RecordBook: when a consultation starts and ends, what it holds, exactly once."""

from __future__ import annotations

from datetime import timedelta

import fakeredis
import pytest

from bot.handoff.queue import HandoffQueue
from bot.records.book import RecordBook
from bot.storage.keys import KeyBuilder
from dialogs.reply import HotlineCard, Reply
from tests.conftest import tokyo

USER = "U" + "1" * 32
T0 = tokyo("2026-11-25 15:00")  # Wednesday, desk staffed


def card(hid):
    return HotlineCard(id=hid, name=hid, summary="", phones=(), url=None, line_id=None, status="", open_now=None)


def reply(**kw):
    base = dict(texts=("秘密の本文 090-1111-2222",), cards=(), choices=(), state="s", lang="ja")
    return Reply(**{**base, **kw})


@pytest.fixture
def store():
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    keys = KeyBuilder(secret=b"book-test-pseudonym-secret-012345")
    now = [T0.timestamp()]
    return client, keys, RecordBook(client, keys), HandoffQueue(client, keys, clock=lambda: now[0]), now


def test_answers_build_one_record_without_text_or_line_id(store):
    client, keys, book, _, _ = store
    book.note_answer(USER, reply(role="child", level="junior_high", state="menu", branch="menu"), T0, True, "e1")
    book.note_answer(USER, reply(branch="delete", cards=(card("a"), card("b"))), T0 + timedelta(minutes=1), True, "e2")
    book.note_answer(USER, reply(branch="crisis", urgent=True, severity="high", cards=(card("b"), card("c")),
                                 reasons=("self_harm.wish_to_die", "self_harm.method", "threat.kill")),
                     T0 + timedelta(minutes=2), True, "e3")
    book.note_answer(USER, reply(branch="delete", severity="medium"), T0 + timedelta(minutes=3), True, "e4")
    [record] = book.month("2026-11")
    assert (record.role, record.level, record.lang) == ("child", "junior_high", "ja")
    assert record.branches == ["delete", "crisis"]
    assert record.hotlines == ["a", "b", "c"]
    assert record.urgent and record.severity == "high"
    assert record.reasons == ["self_harm", "threat"]
    assert (record.date, record.hour, record.weekday, record.outside_hours) == ("2026-11-25", 15, 2, False)
    assert record.answers == 4 and record.category == "self_harm"
    dump = repr([(k, client.hgetall(k) if client.type(k) == b"hash" else client.zrange(k, 0, -1))
                 for k in client.keys("*")])
    assert USER not in dump and "秘密" not in dump and "090" not in dump


def test_an_answer_writes_back_only_the_fields_it_changed(store):
    client, keys, book, _, _ = store
    book.note_answer(USER, reply(role="child", branch="menu"), T0, True, "e1")
    written: list[dict] = []
    real_hset = client.hset

    def hset(key, *args, mapping=None, **kwargs):
        written.append(dict(mapping or {}))
        return real_hset(key, *args, mapping=mapping, **kwargs)

    client.hset = hset
    book.note_answer(USER, reply(branch="delete"), T0 + timedelta(minutes=1), True, "e2")
    assert [sorted(w) for w in written] == [["answers", "branches", "events", "last_event_at"]]
    [record] = book.month("2026-11")
    assert (record.answers, record.branches, record.role) == (2, ["delete"], "child")


def test_a_returning_user_s_record_is_read_with_the_index_in_one_round_trip(store):
    client, keys, book, _, _ = store
    book.note_answer(USER, reply(branch="menu"), T0, True, "e1")
    alone: list[str] = []
    real = client.hgetall

    def hgetall(key, *a, **kw):
        alone.append(key)
        return real(key, *a, **kw)

    client.hgetall = hgetall
    book.note_answer(USER, reply(branch="delete"), T0 + timedelta(minutes=1), True, "e2")
    assert alone == [], "the record was read in a round trip of its own"
    # The guess is only a guess: a consultation ended and begun elsewhere is found.
    book.user_left(USER, T0 + timedelta(minutes=2))
    other = RecordBook(client, keys)
    other.note_answer(USER, reply(branch="crisis"), T0 + timedelta(minutes=3), True, "e3")
    record = book.note_answer(USER, reply(branch="delete"), T0 + timedelta(minutes=4), True, "e4")
    assert record.branches == ["crisis", "delete"] and record.answers == 2


def test_a_rerun_event_counts_once(store):
    _, _, book, _, _ = store
    assert book.note_answer(USER, reply(branch="delete"), T0, True, "e1") is not None
    assert book.note_answer(USER, reply(branch="delete"), T0, True, "e1") is None
    [record] = book.month("2026-11")
    assert record.answers == 1


def test_six_idle_hours_start_a_new_consultation_and_outside_hours_is_when_it_started(store):
    _, _, book, _, _ = store
    book.note_answer(USER, reply(branch="delete"), T0, True, "e1")
    book.note_answer(USER, reply(branch="mail"), T0 + timedelta(hours=5, minutes=59), True, "e2")
    book.note_answer(USER, reply(branch="bill"), T0 + timedelta(hours=12), False, "e3")
    first, second = book.month("2026-11")
    assert first.branches == ["delete", "mail"] and first.ended_by == "idle"
    assert first.ended_at == (T0 + timedelta(hours=5, minutes=59)).timestamp()
    assert second.branches == ["bill"] and second.outside_hours and second.ended_at is None


def test_unfollow_ends_it_and_the_next_event_starts_another(store):
    _, _, book, _, _ = store
    book.note_answer(USER, reply(branch="delete"), T0, True, "e1")
    book.user_left(USER, T0 + timedelta(minutes=1))
    book.user_left(USER, T0 + timedelta(minutes=2))  # a second unfollow changes nothing
    book.note_answer(USER, reply(branch="mail"), T0 + timedelta(minutes=3), True, "e2")
    first, second = book.month("2026-11")
    assert first.ended_by == "unfollow" and first.ended_at == (T0 + timedelta(minutes=1)).timestamp()
    assert second.branches == ["mail"]


def test_a_handoff_keeps_the_consultation_open_and_its_end_copies_times_and_the_record(store):
    _, _, book, queue, now = store
    book.note_answer(USER, reply(branch="crisis", urgent=True, severity="critical", handoff=True,
                                 reasons=("self_harm.wish_to_die",)), T0, True, "e1")
    handoff = queue.open(USER, role="child", level=None, lang="ja", category="self_harm", urgent=True,
                         severity="critical", reasons=["self_harm.wish_to_die"])
    book.note_handoff(USER, handoff)
    now[0] += 120
    queue.claim(handoff.id, "sato")
    now[0] += 60
    queue.touch(handoff.id, "sato", reply=True)
    # Hours later (the user still writing to the counsellor): still the same consultation.
    book.note_answer(USER, reply(branch="talk"), T0 + timedelta(hours=7), True, "e2")
    now[0] += 600
    closing = {"role": "child", "category": "self_harm", "advice": "x", "referred": ["inochi_no_denwa"],
               "school_contact_agreed": "no", "follow_up": {"needed": False, "text": ""}}
    closed = queue.close(handoff.id, "sato", closing).handoff
    book.handoff_ended(closed)
    book.handoff_ended(closed)  # again (the worker's copy): idempotent
    [record] = book.month("2026-11")
    assert record.handed_off and record.handoff_id == handoff.id
    assert (record.wait_seconds, record.first_response_seconds) == (120, 180)
    assert record.closing == closing and record.ended_by == "closed" and record.ended_at == closed.closed_at
    book.note_answer(USER, reply(branch="menu"), T0 + timedelta(hours=8), True, "e3")
    assert len(book.month("2026-11")) == 2


def test_a_danger_signal_while_a_counsellor_held_the_chat_reaches_the_record(store):
    _, _, book, queue, now = store
    book.note_answer(USER, reply(branch="human", handoff=True), T0, True, "e1")
    handoff = queue.open(USER, role="child", level=None, lang="ja", category="delete", urgent=False,
                         severity=None, reasons=[])
    book.note_handoff(USER, handoff)
    queue.claim(handoff.id, "sato")
    queue.raise_priority(handoff.id, "critical", ["self_harm.wish_to_die"])
    now[0] += 300
    book.handoff_ended(queue.return_to_bot(handoff.id, "sato").handoff)
    [record] = book.month("2026-11")
    assert record.urgent and record.severity == "critical" and record.reasons == ["self_harm"]
    assert record.ended_by == "returned" and record.closing is None


def test_a_generated_month_is_marked_and_a_real_one_is_not(store, directory):
    from bot.records.demo import generate

    client, keys, book, _, _ = store
    book.note_answer(USER, reply(role="child"), T0, True, "ev1")  # a real consultation in November
    assert not book.is_generated("2026-11")
    generate(client, keys, directory, month="2026-10", count=5, seed=1)
    assert book.is_generated("2026-10") and not book.is_generated("2026-11")
