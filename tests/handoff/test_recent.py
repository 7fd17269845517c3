"""The transcript a counsellor opens starts with what the user really saw and did
(bot.handoff.recent): the bot's messages as sent, in the language sent, with
their cards and buttons, each tap by its label, in the order it happened; a
message typed before the handoff as the fact that one was written, never its text."""

from __future__ import annotations

import pytest

from bot.conversation.core import Conversation
from bot.handoff.bridge import EARLIER_TYPED
from bot.handoff.recent import KEEP
from dialogs.engine import Event
from tests.conftest import tokyo

STAFFED = tokyo("2026-12-07 15:00")  # a Monday afternoon: counsellors on duty
USER = "U" + "e1" * 16
TYPED = "自分の写真が勝手に載せられた 090-1111-2222"


@pytest.fixture
def core(dialogue) -> Conversation:
    return Conversation.in_memory(dialogue, lambda: STAFFED)


def transcript(core) -> list[dict]:
    handoff = core.handoffs.active(USER)
    assert handoff is not None
    return core.handoffs.queue.transcript(handoff.id)


def test_the_transcript_starts_with_the_turns_as_the_user_had_them_in_order(core):
    sent = []
    for n, event in enumerate([Event("follow", lang="en"), Event("postback", data="t=role_child", lang="en"),
                               Event("text", text=TYPED, lang="en"),
                               Event("postback", data="t=human", lang="en")]):
        sent.append(core.turn(USER, f"e{n}", event).reply)
    entries = transcript(core)
    users = [e["text"] for e in entries if e["from"] == "user"]
    bots = [e for e in entries if e["from"] == "bot"]
    # Each tap by the label of the button it was (in the language that button was
    # shown in: English, then やさしい日本語 once the child wrote in Japanese); the
    # typed message as a fact.
    assert users[0][1:-1] in [c.label for c in sent[0].choices] and users[0].isascii()
    assert users[1] == EARLIER_TYPED
    assert users[2][1:-1] in [c.label for c in sent[2].choices]
    # The bot's lines are the texts it sent, in the language it sent each in, with buttons and cards.
    assert [b["text"] for b in bots[:3]] == ["\n".join(r.texts) for r in sent[:3]]
    assert [b["lang"] for b in bots[:4]] == [r.lang for r in sent] == ["en", "en", "ja_easy", "ja_easy"]
    assert bots[0]["choices"] == [c.label for c in sent[0].choices]
    carded = [(b, r) for b, r in zip(bots, sent) if r.cards]
    assert all(b["card_names"] == [c.name for c in r.cards] for b, r in carded)
    assert not any(e.get("shown_again") for e in entries), "nothing re-rendered"
    # Order: what the user did, then what the bot answered, turn after turn.
    order = [e["from"] for e in entries if e["from"] in ("user", "bot")]
    assert order[:6] == ["bot", "user", "bot", "user", "bot", "user"]
    # The typed text was never kept, not even sealed: nowhere in the transcript.
    assert TYPED not in repr(entries) and "090-1111-2222" not in repr(entries)


def test_only_the_last_turns_are_kept_and_not_for_long(core):
    core.turn(USER, "f", Event("follow"))
    for n in range(KEEP + 3):
        core.turn(USER, f"m{n}", Event("postback", data="t=menu"))
    key = core.keys.user(USER, "recent")
    assert core.client.llen(key) == KEEP
    assert 0 < core.client.ttl(key) <= 3600


def test_without_kept_turns_the_states_are_shown_again_and_say_so(core):
    core.turn(USER, "e1", Event("follow"))
    core.turn(USER, "e2", Event("postback", data="t=role_guardian"))
    core.client.delete(core.keys.user(USER, "recent"))  # an hour later, or a bot from before the log
    core.turn(USER, "e3", Event("postback", data="t=human"))
    again = [e for e in transcript(core) if e.get("shown_again")]
    assert again and all(e["from"] == "bot" for e in again)


def test_nothing_is_kept_once_a_chat_is_open_and_the_next_chat_starts_after_it(core):
    core.turn(USER, "e1", Event("follow"))
    core.turn(USER, "e2", Event("postback", data="t=human"))
    key = core.keys.user(USER, "recent")
    assert core.client.llen(key) == 0, "copied into the transcript, then forgotten"
    core.turn(USER, "e3", Event("text", text="まだですか"))
    assert core.client.llen(key) == 0, "the open chat's transcript has it"
    first = core.handoffs.active(USER)
    core.handoffs.queue.return_to_bot(first.id, "sato", force=True)
    core.turn(USER, "e4", Event("postback", data="t=menu"))
    core.turn(USER, "e5", Event("postback", data="t=human"))
    second = core.handoffs.queue.transcript(core.handoffs.active(USER).id)
    assert not any(e.get("event") == "e1" for e in second)
    welcome = core.handoffs.queue.transcript(first.id)[0]["text"]
    assert all(e.get("text") != welcome for e in second), "the first chat's turns open only the first chat"


def test_a_kept_turn_that_does_not_open_leaves_the_handoff_opening(core):
    core.turn(USER, "e1", Event("follow"))
    core.turn(USER, "e2", Event("postback", data="t=role_guardian"))
    core.client.rpush(core.keys.user(USER, "recent"), "not sealed by this key")
    core.turn(USER, "e3", Event("postback", data="t=human"))
    entries = transcript(core)
    assert [e for e in entries if e["from"] == "bot"], "the turns that opened are there"
