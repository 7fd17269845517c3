"""The bot's one clock (bot.clock): the wall clock, or serve --at's shifted or fixed one."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.clock import Clock
from dialogs.hours import TOKYO

SUNDAY_NIGHT = datetime(2026, 12, 6, 23, 30, tzinfo=TOKYO)


class Wall:
    """A wall clock the test moves by hand."""

    def __init__(self, at: float = 1_000_000.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def test_a_shifted_clock_starts_at_the_instant_and_runs_on_with_the_wall():
    wall = Wall()
    clock = Clock(SUNDAY_NIGHT, wall=wall)
    assert clock.now() == SUNDAY_NIGHT and clock.epoch() == SUNDAY_NIGHT.timestamp()
    wall.at += 3600
    assert clock.now() == SUNDAY_NIGHT + timedelta(hours=1)
    assert clock.now().tzinfo is TOKYO  # the desk's hours are read in Tokyo


def test_a_frozen_clock_stands_at_the_instant():
    wall = Wall()
    clock = Clock(SUNDAY_NIGHT, frozen=True, wall=wall)
    wall.at += 3600
    assert clock.now() == SUNDAY_NIGHT and clock.epoch() == SUNDAY_NIGHT.timestamp()


def test_an_instant_in_another_offset_is_the_same_instant_in_tokyo():
    clock = Clock(datetime(2026, 12, 7, 5, 0, tzinfo=timezone.utc), frozen=True)
    assert clock.now().isoformat() == "2026-12-07T14:00:00+09:00"


def test_without_an_instant_it_is_the_wall_clock():
    wall = Wall(1_800_000_000.0)
    clock = Clock(wall=wall)
    assert clock.epoch() == wall.at and clock.describe() is None
    assert clock.now() == datetime.fromtimestamp(wall.at, TOKYO)


def test_it_says_at_start_up_which_clock_it_is():
    assert "runs on" in Clock(SUNDAY_NIGHT).describe()
    assert "stands at 2026-12-06T23:30+09:00" in Clock(SUNDAY_NIGHT, frozen=True).describe()


@pytest.mark.parametrize("at, frozen", [(datetime(2026, 12, 6, 23, 30), False), (None, True)])
def test_an_instant_without_an_offset_or_a_freeze_without_one_is_refused(at, frozen):
    with pytest.raises(ValueError):
        Clock(at, frozen=frozen)
