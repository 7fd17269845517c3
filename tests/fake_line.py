"""pytest plugin: ``fake_line``, a stand-in LINE Messaging API served over HTTP.

Register it in tests/conftest.py::

    pytest_plugins = ["tests.redis_server", "tests.fake_line"]

or import it in a test module (``from tests.fake_line import fake_line  # noqa: F401``).

The fixture serves a fresh ``bot.line.standin.StandinLine`` on 127.0.0.1 on a
free port in a background thread and yields a ``FakeLine``: ``base_url`` (give
it to the SDK's ``Configuration(host=...)`` / ``LINE_API_BASE_URL``),
``access_token`` (the only token it accepts) and every method of the stand-in
(``issue_reply_token``, ``fail_next``, ``deliveries``, ...). At teardown the
server is shut down and the test FAILS if the bot made any call the stand-in
does not know (an unknown path or method) or the stand-in itself broke.
"""

from __future__ import annotations

import pytest

from bot.line.standin import StandinLine, serve

ACCESS_TOKEN = "test-channel-access-token"


class FakeLine:
    def __init__(self, standin: StandinLine, base_url: str, access_token: str) -> None:
        self.standin = standin
        self.base_url = base_url
        self.access_token = access_token

    def __getattr__(self, name):
        return getattr(self.standin, name)


class ManualClock:
    """A clock tests move by hand (seconds, like time.time)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_line():
    standin = StandinLine(access_token=ACCESS_TOKEN)
    running = serve(standin)
    try:
        yield FakeLine(standin, running.base_url, ACCESS_TOKEN)
    finally:
        running.stop()
    unexpected = standin.unexpected()
    if unexpected:
        lines = "\n".join(f"  {c.method} {c.path}: {c.error}" for c in unexpected)
        pytest.fail(f"unexpected calls to the LINE API stand-in:\n{lines}", pytrace=False)
