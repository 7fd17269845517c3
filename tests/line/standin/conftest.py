"""A fresh stand-in for each test, on a clock the test moves, and a Flask test
client for its app."""

from __future__ import annotations

import pytest

from bot.line.standin import StandinLine
from tests.fake_line import ManualClock
from tests.line.standin.kit import TOKEN


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def line(clock):
    return StandinLine(access_token=TOKEN, clock=clock)


@pytest.fixture
def client(line):
    return line.app.test_client()
