"""LINE's loading animation while a worker prepares an answer that takes a while.

The worker opens ``LoadingIndicator.while_preparing(user, event time)`` around
preparing the answer to a user's text. If the answer is ready within ``after``
seconds of the moment the user sent the message (most are: the dialogue takes
milliseconds), nothing is sent at all. Otherwise LINE is asked to show its
animation for ``seconds`` (it disappears by itself when the answer arrives), so
a person waiting behind a backlog or a slow reading sees that the bot is on it;
a message that waited in the queue still gets ``grace`` (a moment) once taken
up, since most answers then follow within milliseconds.

The call is made by one background thread per process, so preparing the
answer never waits for it; when the answer is ready, a call already under way
is waited for (at most its short timeout) so that the animation never starts
after the answer, and one not yet started is dropped. A failed call is logged
at debug level with its status only, never retried, and never fails or holds
up the answer. Only one-to-one chats: LINE shows the animation nowhere else,
and the worker asks only for users' events.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from types import TracebackType
from typing import Callable

import urllib3
from linebot.v3.messaging import ShowLoadingAnimationRequest
from linebot.v3.messaging.exceptions import ApiException

from bot.line.apiclient import LineApi

log = logging.getLogger(__name__)

#: Seconds after the user's message from which an answer still being prepared
#: shows the animation: "longer than a moment".
AFTER = 0.5
#: Even for a message that waited in the queue longer than ``AFTER``, the answer
#: gets this long (at most ``after``) from the moment the worker takes it up: most
#: are ready in milliseconds and then go at once, without an animation shown for
#: nothing (and, under a backlog, without one more call to LINE per message).
GRACE = 0.15
#: How long LINE shows it unless the answer comes first (a multiple of 5, 5-60).
SECONDS = 5
#: The call is a courtesy: it gets a short (connect, read) timeout, and the
#: answer waits at most that long for a call already under way.
TIMEOUT = (1.0, 1.5)


class Preparing:
    """One answer being prepared: its animation is pending, shown, or dropped."""

    def __init__(self, chat_id: str, wait: float) -> None:
        self.chat_id = chat_id
        self._wait = wait
        self._lock = threading.Lock()
        self._state = "pending"  # -> "showing" -> (done) | -> "ready"
        self._done = threading.Event()

    def begin(self) -> bool:
        """The thread may call LINE now (the answer is not ready yet)."""
        with self._lock:
            if self._state != "pending":
                return False
            self._state = "showing"
            return True

    def finish(self) -> None:
        self._done.set()

    def ready(self) -> None:
        """The answer is ready: drop a pending call, or let one under way finish first."""
        with self._lock:
            showing = self._state == "showing"
            if self._state == "pending":
                self._state = "ready"
        if showing:
            self._done.wait(self._wait)

    def __enter__(self) -> "Preparing":
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.ready()


class LoadingIndicator:
    """Shows the loading animation through ``line`` for answers not ready within ``after`` s."""

    def __init__(
        self,
        line: LineApi,
        *,
        after: float = AFTER,
        grace: float = GRACE,
        seconds: int = SECONDS,
        timeout: tuple[float, float] = TIMEOUT,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if seconds not in range(5, 61, 5):
            raise ValueError("LINE shows the animation for a multiple of 5 seconds, 5 to 60")
        self._line = line
        self._after = after
        self._grace = min(grace, after)
        self._seconds = seconds
        self._timeout = timeout
        self._wall = wall
        self._monotonic = monotonic
        self._changed = threading.Condition()
        self._due: list[tuple[float, int, Preparing]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    def while_preparing(self, chat_id: str, sent_ms: int | None) -> Preparing:
        """Around preparing the answer to the message ``chat_id`` sent at ``sent_ms``
        (LINE's event timestamp; None: now)."""
        preparing = Preparing(chat_id, sum(self._timeout))
        waited = max(0.0, self._wall() - sent_ms / 1000) if sent_ms else 0.0
        due = self._monotonic() + max(self._grace, self._after - waited)
        with self._changed:
            if self._closed:
                preparing.ready()
                return preparing
            heapq.heappush(self._due, (due, next(self._order), preparing))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="line-loading", daemon=True)
                self._thread.start()
            self._changed.notify()
        return preparing

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()
        if self._thread is not None:
            self._thread.join(timeout=sum(self._timeout) + 1)
        self._line.close()

    def _run(self) -> None:
        while True:
            preparing = self._next()
            if preparing is None:
                return
            try:
                self._show(preparing.chat_id)
            except Exception as exc:  # noqa: BLE001  the thread outlives any one failed call
                log.debug("line loading animation not shown: %s", type(exc).__name__)
            finally:
                preparing.finish()

    def _next(self) -> Preparing | None:
        """The next answer still being prepared when its time came; None once closed."""
        with self._changed:
            while not self._closed:
                if not self._due:
                    self._changed.wait()
                    continue
                due, _, preparing = self._due[0]
                left = due - self._monotonic()
                if left > 0:
                    self._changed.wait(left)
                    continue
                heapq.heappop(self._due)
                if preparing.begin():
                    return preparing
            return None

    def _show(self, chat_id: str) -> None:
        request = ShowLoadingAnimationRequest(chat_id=chat_id, loading_seconds=self._seconds)
        try:
            self._line.api.show_loading_animation(request, _request_timeout=self._timeout)
        except ApiException as exc:
            log.debug("line loading animation not shown: status %s", exc.status)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            log.debug("line loading animation not shown: %s", type(exc).__name__)
