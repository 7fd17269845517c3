"""pytest plugin: ``fake_line``, a stand-in LINE Messaging API served over HTTP.

Register it in tests/conftest.py::

    pytest_plugins = ["tests.redis_server", "tests.fake_line"]

or import it in a test module (``from tests.fake_line import fake_line  # noqa: F401``).

The fixture serves a fresh ``bot.line.standin.StandinLine`` on 127.0.0.1 on a
free port in a background thread and yields a ``FakeLine``: ``base_url`` (give
it to the SDK's ``Configuration(host=...)`` / ``LINE_API_BASE_URL``),
``access_token`` (the only token it accepts) and every method of the stand-in
(``issue_reply_token``, ``fail_next``, ``deliveries``, ...), and ``idle()``:
no request is being answered or waiting to be taken (what a test waits for,
once the bot is done, before it says that no late duplicate arrived). At
teardown the server is shut down and the test FAILS if the bot made any call
the stand-in does not know (an unknown path or method) or the stand-in itself
broke.
"""

from __future__ import annotations

import select
import threading

import pytest

from bot.line.standin import RunningStandin, StandinLine, serve

ACCESS_TOKEN = "test-channel-access-token"


class _InFlight:
    """WSGI middleware: how many requests the stand-in is answering right now
    (its delayed answers included: the delay is spent inside the view)."""

    def __init__(self, app) -> None:
        self.app = app
        self._lock = threading.Lock()
        self.count = 0

    def __call__(self, environ, start_response):
        with self._lock:
            self.count += 1
        try:
            return self.app(environ, start_response)
        finally:
            with self._lock:
                self.count -= 1


class FakeLine:
    def __init__(self, standin: StandinLine, base_url: str, access_token: str,
                 running: RunningStandin | None = None) -> None:
        self.standin = standin
        self.base_url = base_url
        self.access_token = access_token
        self._running = running
        self._in_flight = _InFlight(standin.app.wsgi_app)
        standin.app.wsgi_app = self._in_flight

    def idle(self) -> bool:
        """No request being answered, and none waiting for the server to accept it."""
        if self._in_flight.count:
            return False
        if self._running is not None:
            waiting, _, _ = select.select([self._running._server.socket], [], [], 0)
            if waiting:
                return False
        return self._in_flight.count == 0

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
    # Polling for shutdown every 5 ms instead of 50: the fixture is set up and
    # torn down for a thousand tests, and stopping the server waits for the poll.
    running = serve(standin, poll_interval=0.005)
    try:
        yield FakeLine(standin, running.base_url, ACCESS_TOKEN, running)
    finally:
        running.stop()
    unexpected = standin.unexpected()
    if unexpected:
        lines = "\n".join(f"  {c.method} {c.path}: {c.error}" for c in unexpected)
        pytest.fail(f"unexpected calls to the LINE API stand-in:\n{lines}", pytrace=False)
