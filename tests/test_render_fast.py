"""The shortcuts taken for the speed of a dialogue step say what the long way says.

``OpeningHours.is_open`` skips working out when a line closes or next opens,
a day's intervals and a card's time label are kept, the catalogs keep every
message, the router rejects a table in one search: each is checked here
against the long way it replaced.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dialogs.engine import Dialogue
from dialogs.hours import TOKYO, OpeningHours, _format_when, format_when
from dialogs.routing import Router

DIALOGUE = Dialogue.load()
HOURS = [DIALOGUE.directory.get(i).hours for i in DIALOGUE.directory.ids] + [DIALOGUE.directory.profile.desk.hours]
instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31)).map(
    lambda d: d.replace(tzinfo=TOKYO)
)


@settings(max_examples=300, deadline=None)
@given(instants)
def test_is_open_says_what_status_says(at):
    for hours in HOURS:
        assert hours.is_open(at) is (hours.status(at).open_now is True)


@settings(max_examples=200, deadline=None)
@given(instants)
def test_kept_intervals_are_the_intervals_worked_out_again(at):
    for hours in HOURS:
        fresh = OpeningHours(hours.kind, hours.slots, hours.closed_on_holidays, hours.closures)
        assert hours.status(at) == fresh.status(at)
        assert hours._intervals_on(at.date()) == tuple(fresh._work_out_intervals(at.date()))


@settings(max_examples=200, deadline=None)
@given(instants, st.integers(-400, 400), st.sampled_from(["ja", "ja_easy", "en"]))
def test_kept_time_labels_are_the_labels_made_again(now, minutes_ahead, lang):
    when = now + timedelta(minutes=minutes_ahead * 97)
    kept = format_when(when, lang, now)
    days_ahead = (when.date() - now.date()).days
    assert kept == _format_when.__wrapped__(when, lang, days_ahead)


def test_catalog_messages_are_what_gettext_says():
    catalogs = DIALOGUE.catalogs
    for lang, keys in catalogs.keys.items():
        for key in keys:
            assert catalogs.text(lang, key) == catalogs.translations[lang].gettext(key)


def _best_reference(table, text):
    scores = {name: max((len(w) for w in words if w in text), default=0) for name, words in table.items()}
    hits = [name for name, score in scores.items() if score]
    return sorted(hits, key=lambda n: -scores[n])


WORDS = sorted({w for table in (DIALOGUE.router.branches, DIALOGUE.router.commands, DIALOGUE.router.roles,
                                DIALOGUE.router.levels) for words in table.values() for w in words})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=3)), max_size=5).map("".join))
def test_router_rejects_a_table_only_when_no_word_of_it_occurs(text):
    router: Router = DIALOGUE.router
    for table in (router.branches, router.commands, router.roles, router.levels):
        assert router._best(table, text) == _best_reference(table, text)
