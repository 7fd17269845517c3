"""The runtime's one clock: what build_runtime is given is what the dialogue, the desk's
hours, the handoff queue, the records and console messages all read (serve --at)."""

from __future__ import annotations

import json
from datetime import datetime

import fakeredis
import pytest

from bot.clock import Clock
from bot.config import load_config
from bot.runtime import build_runtime
from dialogs.engine import Event
from dialogs.hours import TOKYO

SUNDAY_NIGHT = datetime(2026, 12, 6, 23, 30, tzinfo=TOKYO)
WEEKDAY_AFTERNOON = datetime(2026, 12, 7, 14, 0, tzinfo=TOKYO)
USER = "U" + "7" * 32


@pytest.fixture
def runtime_at(dialogue_loaded_once, tmp_path):
    built = []

    def build(at: datetime, frozen: bool = True):
        config = load_config({"BOT_CATALOG_CACHE": str(tmp_path / "mo")})
        runtime = build_runtime(config, client=fakeredis.FakeRedis(server=fakeredis.FakeServer()),
                                clock=Clock(at, frozen=frozen))
        built.append(runtime)
        return runtime

    yield build
    for runtime in built:
        runtime.stop()


def test_the_desk_is_closed_on_a_sunday_night_and_open_on_a_weekday_afternoon(runtime_at):
    assert not runtime_at(SUNDAY_NIGHT).desk_open()
    weekday = runtime_at(WEEKDAY_AFTERNOON)
    assert weekday.desk_open()
    assert weekday.clock() == weekday.service.clock() == WEEKDAY_AFTERNOON


def test_a_request_for_a_person_is_queued_and_recorded_by_the_same_clock(runtime_at):
    runtime = runtime_at(WEEKDAY_AFTERNOON)
    assert runtime.epoch() == WEEKDAY_AFTERNOON.timestamp()
    turn = runtime.conversation().turn(USER, "ev-1", Event("text", text="相談員と話したい"))
    assert turn.reply.handoff
    handoff = runtime.queue.active_for(USER)
    assert handoff is not None and handoff.queued_at == WEEKDAY_AFTERNOON.timestamp()
    (record,) = runtime.records.month("2026-12")
    assert record.started_at == WEEKDAY_AFTERNOON.timestamp() and not record.outside_hours


def test_a_console_message_is_stamped_by_the_runtimes_clock(runtime_at):
    """The worker compares sent_at with the queue's closed_at: both from one clock."""
    runtime = runtime_at(WEEKDAY_AFTERNOON)
    handoff = runtime.queue.open(USER, role="child", level=None, lang="ja", category="other",
                                 urgent=False, severity=None, reasons=[])
    runtime.send_to_user(handoff, "message", {"text": "こんにちは"})
    events = [json.loads(fields[b"event"]) for p in range(runtime.partitions)
              for _, fields in runtime.client.xrange(runtime.keys.partition_events(p))]
    (event,) = events
    assert event["console"]["sent_at"] == WEEKDAY_AFTERNOON.timestamp()
