"""What the bot remembers: a Session survives to_dict -> JSON -> from_dict
unchanged; anything of another format, or not a session at all, is refused
(None: the service then starts the user again politely rather than crash);
and the stored fields are exactly the few the dialogue needs, no message text."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from bot.storage.base import encode
from dialogs.session import SESSION_FORMAT, Session
from tests.conftest import tokyo

NOW = tokyo("2026-11-25 15:00")

FULL = Session(
    state="delete",
    chart_version=3,
    role="child",
    level="junior_high",
    lang="en",
    profile_lang="ja",
    pending="delete",
    misses=2,
    urgent=True,
    severity="high",
    reasons=["self_harm:lexicon_entry", "extortion:other"],
    awaiting_identity=True,
    concern="grooming",
    trail=["start", "menu", "delete"],
    text_lang="en",
    near=["kawanishi_ombudsperson"],
)


def test_every_field_is_set_in_the_sample():
    """FULL differs from the defaults in every field, so the round trip checks them all."""
    blank = Session(state="start", chart_version=1)
    same = [f.name for f in fields(Session) if f.name != "format" and getattr(FULL, f.name) == getattr(blank, f.name)]
    assert same == []


def test_round_trip():
    data = FULL.to_dict()
    assert Session.from_dict(data) == FULL


def test_round_trip_through_json_text():
    text = json.dumps(FULL.to_dict(), ensure_ascii=False)
    assert Session.from_dict(json.loads(text)) == FULL


def test_survives_the_storage_encoder_unchanged():
    """bot.storage refuses data that changes shape in JSON (tuples, int keys)."""
    for session in (FULL, Session(state="start", chart_version=1)):
        assert json.loads(encode(session.to_dict())) == session.to_dict()


def test_to_dict_is_plain_json_types():
    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, (str, int, bool))

    assert plain(FULL.to_dict())


def test_to_dict_is_a_snapshot():
    session = Session(state="menu", chart_version=1, reasons=["a"])
    data = session.to_dict()
    session.reasons.append("b")
    session.state = "bill"
    assert data["reasons"] == ["a"] and data["state"] == "menu"


def test_stored_format_is_versioned():
    assert FULL.to_dict()["format"] == SESSION_FORMAT
    assert Session(state="start", chart_version=1).format == SESSION_FORMAT


def test_new_sessions_do_not_share_their_reasons():
    a, b = Session(state="start", chart_version=1), Session(state="start", chart_version=1)
    a.reasons.append("x")
    assert b.reasons == []


# -- refusal -------------------------------------------------------------------------------

def with_(**changes):
    data = FULL.to_dict()
    data.update(changes)
    return data


def without(key):
    data = FULL.to_dict()
    del data[key]
    return data


@pytest.mark.parametrize("data", [
    with_(format=SESSION_FORMAT + 1),
    with_(format=SESSION_FORMAT - 1),
    with_(format=str(SESSION_FORMAT)),
    with_(format=None),
    without("format"),
], ids=["newer", "older", "format-as-text", "format-null", "no-format"])
def test_other_formats_are_refused(data):
    assert Session.from_dict(data) is None


@pytest.mark.parametrize("data", [None, [], "menu", 1, json.dumps(FULL.to_dict())],
                         ids=["none", "list", "str", "int", "json-text"])
def test_what_is_not_a_dict_is_refused(data):
    assert Session.from_dict(data) is None


@pytest.mark.parametrize("key", ["state", "chart_version"])
def test_missing_required_field_is_refused(key):
    assert Session.from_dict(without(key)) is None


def test_optional_fields_take_their_defaults():
    session = Session.from_dict({"format": SESSION_FORMAT, "state": "menu", "chart_version": 1})
    assert session == Session(state="menu", chart_version=1)


def test_unknown_extra_fields_are_ignored():
    """A newer release that only adds a field does not strand users of the older one."""
    session = Session.from_dict(with_(added_in_a_later_release=True))
    assert session == FULL


@pytest.mark.parametrize("changes", [
    {"misses": "2"},
    {"reasons": None},
    {"reasons": "self_harm"},
    {"state": ["menu"]},
    {"urgent": "false"},
    {"severity": "extreme"},
    {"lang": "fr"},
    {"role": "admin"},
    {"awaiting_identity": "yes"},
    {"concern": "a message"},
    {"trail": ["menu", 3]},
], ids=lambda c: next(iter(c)))
def test_malformed_values_are_refused(changes):
    assert Session.from_dict(with_(**changes)) is None


# -- privacy: only what the dialogue needs -----------------------------------------------------

def test_the_stored_fields_are_exactly_these():
    """Adding a field (a name, a school, the last message) is a privacy decision:
    change this list on purpose, never by accident."""
    assert set(FULL.to_dict()) == {
        "state", "chart_version", "role", "level", "lang", "profile_lang",
        "pending", "misses", "urgent", "severity", "reasons", "format",
        # issue 4: state ids only (the bot's part for the counsellor), and a flag;
        # a teacher's name goes to the handoff, never here
        "awaiting_identity", "trail",
        # issue 11: the kind of danger half-seen in an unsure message (a category, never text)
        "concern",
        # issue 12: the language messages are written in (ja or en), and the
        # city windows whose area the person named (a window id, never a place)
        "text_lang", "near",
    }


@pytest.mark.parametrize("script", [
    [("follow", None)],
    [("text", "ZEBRA7781 悪口を書かれた ZEBRA7781")],
    [("follow", None), ("postback", "t=role_guardian"), ("text", "ZEBRA7781 身に覚えのない請求")],
    [("follow", None), ("text", "ZEBRA7781 もう死にたい ZEBRA7781")],
    [("follow", None), ("text", "ZEBRA7781 あのー")],
], ids=["follow", "first-text", "guardian-bill", "crisis", "unclear"])
def test_sessions_from_the_engine_round_trip_and_hold_no_message_text(dialogue, script):
    from dialogs.engine import Event, handle

    session = None
    for kind, payload in script:
        event = Event(kind, text=payload) if kind == "text" else Event(kind, data=payload)
        session, _ = handle(dialogue, session, event, NOW)
        data = session.to_dict()
        assert Session.from_dict(json.loads(encode(data))) == session
        assert "ZEBRA" not in json.dumps(data, ensure_ascii=False)
        assert "悪口" not in json.dumps(data, ensure_ascii=False)
