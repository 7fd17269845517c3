"""The conversation core, without any channel: one turn per event, the
session, the blocked flag, the handoff, the outbox and the records it owns.

The LINE adapter's side (rendering, delivery, the reply token) is tested in
tests/line and end to end in tests/e2e; here no network is involved at all.
"""

from __future__ import annotations

import pytest

from bot.content import Part
from bot.conversation.core import Conversation
from dialogs.engine import Event
from tests.conftest import tokyo
from tests.roundtrips import names, pipelines_sent

STAFFED = tokyo("2026-12-07 15:00")  # a Monday afternoon: counsellors on duty
NIGHT = tokyo("2026-12-07 23:00")
USER = "U" + "c0" * 16


@pytest.fixture
def at():
    return [STAFFED]


@pytest.fixture
def core(dialogue, at) -> Conversation:
    return Conversation.in_memory(dialogue, lambda: at[0])


def said(turn) -> list[str]:
    return [t for part in turn.parts for t in (*part.texts, *(c.name for c in part.cards))]


def test_a_turn_answers_with_channel_free_parts_and_the_role_it_learned(core):
    turn = core.turn(USER, "e1", Event("follow"))
    assert turn.answered and turn.role is None and all(isinstance(p, Part) for p in turn.parts)
    turn = core.turn(USER, "e2", Event("postback", data="t=role_guardian"))
    assert turn.role == "guardian" and turn.reply.state == "menu"
    assert turn.parts[0].choices, "the menu's buttons come with the answer"


def test_an_event_run_again_gets_its_first_answer_and_moves_nothing(core):
    core.turn(USER, "e1", Event("follow"))
    first = core.turn(USER, "e2", Event("postback", data="t=role_guardian"))
    again = core.turn(USER, "e2", Event("postback", data="t=role_guardian"))
    assert again.parts == first.parts
    assert not again.answered, "a stored answer is not a new reading of the role"
    record = core.records.open_for(USER)
    assert record.answers == 2, "the record counts the event once"


def test_one_lock_load_and_save_per_event(core, monkeypatch):
    storage = core.service.storage
    calls = {"lock": 0, "load": 0, "save": 0}
    for name in calls:
        real = getattr(storage, name)

        def counted(*a, _real=real, _name=name, **kw):
            calls[_name] += 1
            return _real(*a, **kw)

        monkeypatch.setattr(storage, name, counted)
    core.turn(USER, "e1", Event("follow"))
    core.turn(USER, "e2", Event("text", text="書き込みを消したい"))
    assert calls == {"lock": 2, "load": 2, "save": 2}


def test_the_blocked_flag_the_open_handoff_and_the_cached_language_are_one_round_trip(core, monkeypatch):
    from bot.conversation.core import Language

    key = core.keys.profile_language(USER)
    core.client.set(key, "en")
    read_alone: list[str] = []
    for name in ("exists", "get", "hget"):
        real = getattr(core.client, name)

        def spy(k, *a, _real=real, **kw):
            read_alone.append(k if isinstance(k, str) else k.decode())
            return _real(k, *a, **kw)

        monkeypatch.setattr(core.client, name, spy)
    asked: list[str] = []
    turn = core.turn(USER, "e1", Event("follow"), language=Language(key, lambda: asked.append("LINE") or "ja"))
    assert turn.reply.lang == "en" and asked == [], "the cached language, without asking LINE"
    first_reads = {core.keys.blocked(USER), core.keys.handoff_by_user(), key}
    assert not first_reads & set(read_alone), "read one by one instead of in the turn's first round trip"
    core.client.delete(key)
    core.turn(USER, "e2", Event("postback", data="t=menu"), language=Language(key, lambda: asked.append("LINE") or "ja"))
    assert asked == ["LINE"], "nothing cached: the channel is asked"


def test_a_returning_user_s_open_record_is_read_in_the_turn_s_first_round_trip(core, monkeypatch):
    core.turn(USER, "e1", Event("follow"))
    for name in ("hget", "hgetall"):
        monkeypatch.setattr(core.client, name, lambda *a, **k: pytest.fail("a read of its own"))
    with pipelines_sent(core.client) as trips:
        core.turn(USER, "e2", Event("postback", data="t=role_guardian"))
    record_reads = [i for i, trip in enumerate(trips)
                    for command, key in trip if key.startswith(core.keys.records_open().rsplit(":", 1)[0])
                    and command in ("HGET", "HGETALL")]
    assert record_reads == [0, 0], "the index and the record, both in the first round trip"
    monkeypatch.undo()
    record = core.records.open_for(USER)
    assert record.answers == 2 and record.role == "guardian"


def test_a_returning_user_s_turn_takes_two_round_trips(core, monkeypatch):
    # What every event costs the store: the lock with the session, the outbox and
    # the turn's first reads; then the session, the outbox, the release and the
    # record's change.
    core.turn(USER, "e1", Event("follow"))
    for name in ("get", "set", "hget", "hset", "hgetall", "exists", "evalsha", "execute_command"):
        monkeypatch.setattr(core.client, name, lambda *a, _n=name, **k: pytest.fail(f"{_n} on its own"))
    with pipelines_sent(core.client) as sent:
        core.turn(USER, "e2", Event("postback", data="t=role_guardian"))
    trips = names(sent)
    assert len(trips) == 2, trips
    assert trips[0][:3] == ["SET", "GET", "GET"], "the lock, the session and the outbox first"
    assert trips[1] == ["EVALSHA", "RPUSH", "LTRIM", "EXPIRE", "HSET"], \
        "the session and the release, then the turn as sent (bot.handoff.recent) and the record's change"
    monkeypatch.undo()
    assert core.records.open_for(USER).role == "guardian"


def test_keys_the_channel_asks_for_are_read_in_the_turn_s_first_round_trip(core, monkeypatch):
    # The LINE adapter needs the user's linked menu after each answer: read with
    # the turn, not in a round trip of its own.
    core.client.set("channel:menu", "menu-1")
    monkeypatch.setattr(core.client, "get", lambda *a, **k: pytest.fail("a read of its own"))
    turn = core.turn(USER, "e1", Event("follow"), read=("channel:menu", "channel:none"))
    assert turn.read == {"channel:menu": b"menu-1", "channel:none": None}


def test_the_outbox_keeps_the_last_answer_and_no_more(core):
    from bot.service import OUTBOX_TTL

    for n in range(5):
        core.turn(USER, f"e{n}", Event("postback", data="t=menu"))
    assert list(core.service.storage.load_outbox(USER)) == ["e4"]
    assert "outbox" not in core.service.storage.load(USER)
    ttl = core.client.ttl(core.keys.outbox(USER))
    assert 0 < ttl <= OUTBOX_TTL


def test_an_urgent_message_queues_the_chat_and_says_the_place_in_line(core):
    turn = core.turn(USER, "e1", Event("text", text="もう死にたい"))
    assert "0120-0-78310" in said(turn)[0], "the 24-hour number comes first"
    handoff = core.handoffs.active(USER)
    assert handoff is not None and handoff.status == "waiting" and handoff.urgent
    assert any("1番目" in t for t in said(turn)), "counsellors are on duty: the place in line is said"
    assert core.records.open_for(USER).handed_off


def test_at_night_the_chat_is_queued_but_no_place_in_line_is_promised(core, at):
    at[0] = NIGHT
    turn = core.turn(USER, "e1", Event("text", text="もう死にたい"))
    assert core.handoffs.active(USER).status == "waiting"
    assert not any("番目" in t for t in said(turn))
    assert "0120-0-78310" in said(turn)[0]


def test_a_second_message_while_waiting_gets_the_number_and_reaches_the_transcript(core):
    core.turn(USER, "e1", Event("text", text="もう死にたい"))
    turn = core.turn(USER, "e2", Event("text", text="まだですか"))
    assert "0120-0-78310" in " ".join(said(turn))
    handoff = core.handoffs.active(USER)
    texts = [e["text"] for e in core.handoffs.queue.transcript(handoff.id) if e["from"] == "user"]
    assert texts == ["もう死にたい", "まだですか"]


def test_while_a_counsellor_has_the_chat_the_dialogue_is_quiet_but_triage_is_not(core):
    core.turn(USER, "e1", Event("text", text="もう死にたい"))
    handoff = core.handoffs.active(USER)
    assert core.handoffs.queue.claim(handoff.id, "sato").ok
    quiet = core.turn(USER, "e2", Event("text", text="ありがとう"))
    assert quiet.parts == () and not quiet.answered
    loud = core.turn(USER, "e3", Event("text", text="やっぱり今から死ぬ"))
    assert "0120-0-78310" in said(loud)[0]
    texts = [e["text"] for e in core.handoffs.queue.transcript(handoff.id) if e["from"] == "user"]
    assert texts[-2:] == ["ありがとう", "やっぱり今から死ぬ"]


def test_a_blocked_user_gets_nothing_and_a_follow_starts_again(core):
    core.turn(USER, "e1", Event("text", text="もう死にたい"))
    core.blocked(USER)
    assert core.handoffs.active(USER) is None, "the queued chat cannot go on"
    assert core.service.storage.load(USER) is None, "nothing is kept for the dialogue"
    assert core.turn(USER, "e2", Event("text", text="こんにちは")).parts == ()
    assert core.turn(USER, "e3", Event("follow")).parts, "a follow unblocks"


def test_a_closed_chat_brings_the_menu_back_and_calms_the_session(core):
    core.turn(USER, "e1", Event("text", text="もう死にたい"))
    handoff = core.handoffs.active(USER)
    core.handoffs.queue.claim(handoff.id, "sato")
    core.handoffs.queue.close(handoff.id, "sato", {"category": "self_harm"})
    turn = core.console(USER, "c1", {"action": "closed", "handoff": handoff.id})
    assert len(turn.parts) == 2 and turn.parts[1].choices, "the end of the chat, then the menu"
    assert core.service.storage.load(USER)["urgent"] is False


def test_a_counsellors_card_is_content_not_a_channels_message(core, dialogue):
    core.turn(USER, "e1", Event("text", text="もう死にたい"))
    handoff = core.handoffs.active(USER)
    turn = core.console(USER, "c1", {"action": "card", "handoff": handoff.id, "hotline": "sos_dial"})
    [part] = turn.parts
    assert [c.id for c in part.cards] == ["sos_dial"] and part.lang == handoff.lang


def test_a_handoff_reaches_the_record_in_the_round_trip_of_the_answer_s_count(core, monkeypatch):
    # Read before the answer's count was sent, the record was a step behind: written
    # on its own, a reader saw the handoff with the count one short (a CI failure).
    core.turn(USER, "e1", Event("follow"))
    real = core.client.hset

    def hset(key, *a, **k):
        assert b"{records}" not in (key if isinstance(key, bytes) else key.encode()), "a record written on its own"
        return real(key, *a, **k)

    monkeypatch.setattr(core.client, "hset", hset)
    core.turn(USER, "e2", Event("text", text="もう死にたい"))
    monkeypatch.undo()
    record = core.records.open_for(USER)
    assert record.handoff_id and record.answers == 2
