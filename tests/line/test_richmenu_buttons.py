"""Every rich menu button is answered by the real dialogue, from any point of a
conversation: 相談する opens the consultation menu, ことば the language choice,
and いますぐ電話 always puts 0120-0-78310 in front of the person."""

from __future__ import annotations

import pytest

from bot.line.richmenu import CALL_NOW, CONSULT, DIRECTORY, LANGUAGE, menus
from dialogs.engine import Event, handle
from tests.conftest import tokyo

NOW = tokyo("2026-11-25 21:00")  # out of the desk's hours: no person to hand over to


def tap(dialogue, session, data: str):
    return handle(dialogue, session, Event("postback", data=data), NOW)


def said(reply) -> str:
    """Everything the person reads: the texts and the cards' numbers."""
    return "\n".join([*reply.texts, *(p.number for c in reply.cards for p in c.phones)])


@pytest.fixture
def midway(dialogue):
    """A conversation already in a branch answer (the menu is tapped from anywhere)."""
    session, _ = handle(dialogue, None, Event("follow"), NOW)
    session, _ = tap(dialogue, session, "t=role_guardian")
    session, reply = tap(dialogue, session, "t=talk")
    assert reply.state == "talk"
    return session


def test_every_button_sends_a_postback_the_dialogue_reads(dialogue):
    for spec in menus():
        assert [b.data for b in spec.buttons] == ["t=menu", "t=directory", "t=call_now", "t=language"]


@pytest.mark.parametrize("trigger, state", [(CONSULT, "menu"), (LANGUAGE, "language")])
def test_the_consult_and_language_buttons_open_their_choices(dialogue, midway, trigger, state):
    first = tap(dialogue, None, f"t={trigger}")[1]  # from a brand new chat
    later = tap(dialogue, midway, f"t={trigger}")[1]
    assert first.state == later.state == state
    assert later.choices, "with the buttons to choose from"


def test_the_phone_button_always_shows_the_24_hour_number(dialogue, midway):
    for session in (None, midway):
        reply = tap(dialogue, session, f"t={CALL_NOW}")[1]
        assert reply.state == "call_now"
        assert "0120-0-78310" in said(reply) and "110" in said(reply) and "119" in said(reply)
        # A tap on a phone button is not a danger signal: nothing is queued.
        assert not reply.urgent and not reply.handoff
        assert any(c.data == "t=menu" for c in reply.choices)


def test_the_directory_button_lists_the_main_windows(dialogue, midway):
    for session in (None, midway):
        reply = tap(dialogue, session, f"t={DIRECTORY}")[1]
        assert reply.state == "directory" and len(reply.cards) >= 8
        assert reply.cards[0].id == "sos_dial"
        assert any(c.data == "t=menu" for c in reply.choices)


def test_a_button_tapped_before_any_greeting_still_says_it_is_a_bot(dialogue):
    reply = tap(dialogue, None, f"t={CALL_NOW}")[1]
    assert any("ボット" in t for t in reply.texts)
