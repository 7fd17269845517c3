"""The loading animation, through the worker's handler and the real SDK to the
fake LINE API: shown before the answer when the answer takes longer than a
moment, not at all for a quick one, only for a user's text, and never a reason
for an answer to fail or wait more than a moment."""

from __future__ import annotations

import logging
import time

import pytest

from bot.line.apiclient import LineApi
from bot.line.loading import LoadingIndicator
from bot.service import ConsultationService
from tests.line.handler_kit import event, handle, make_handler, tap, text

USER = "U" + "5a" * 16
LOADING = "/v2/bot/chat/loading/start"


SLOW = 0.6


class SlowService(ConsultationService):
    """The real service, taking ``delay`` seconds more to prepare each answer (a long reading, a busy Redis)."""

    def __init__(self, service: ConsultationService, delay: float = SLOW) -> None:
        super().__init__(service.dialogue, service.storage, service.clock, service.session_ttl)
        self.delay = delay

    def answer(self, *args, **kwargs):
        time.sleep(self.delay)
        return super().answer(*args, **kwargs)


@pytest.fixture
def indicator(fake_line):
    made = []

    def make(**kw) -> LoadingIndicator:
        made.append(LoadingIndicator(LineApi.open(fake_line.base_url, fake_line.access_token), **kw))
        return made[-1]

    yield make
    for x in made:
        x.close()


def order(line) -> list[str]:
    return [c.path for c in line.calls() if c.path in (LOADING, "/v2/bot/message/reply", "/v2/bot/message/push")]


def test_an_answer_that_takes_a_while_is_preceded_by_the_loading_animation(fake_line, dialogue, indicator):
    handler = make_handler(fake_line, dialogue, loading=indicator(after=0.2))
    handler.core.service = SlowService(handler.core.service)
    handle(handler, text(fake_line, USER, "ネットに悪口を書かれました"))
    assert order(fake_line) == [LOADING, "/v2/bot/message/reply"]
    [shown] = fake_line.loadings()
    assert (shown.chat_id, shown.seconds) == (USER, 5)
    assert len(fake_line.deliveries(USER)) == 1


def test_a_message_that_waited_in_the_queue_gets_the_animation_soon_after_it_is_taken_up(
        fake_line, dialogue, indicator):
    handler = make_handler(fake_line, dialogue, loading=indicator(after=0.5))
    handler.core.service = SlowService(handler.core.service, delay=0.3)  # less than `after`, but the message was sent 2 s ago
    handle(handler, text(fake_line, USER, "こんにちは", sent_ago=2.0))
    assert order(fake_line) == [LOADING, "/v2/bot/message/reply"]


def test_a_message_that_waited_in_the_queue_but_is_answered_at_once_shows_no_animation(
        fake_line, dialogue, indicator):
    # Under a backlog every message has waited: an animation before an answer that
    # follows in milliseconds shows nothing and costs one more call to LINE each.
    handler = make_handler(fake_line, dialogue, loading=indicator(after=0.5))
    handle(handler, text(fake_line, USER, "こんにちは", sent_ago=2.0))
    assert order(fake_line) == ["/v2/bot/message/reply"]


def test_an_answer_ready_while_the_animation_call_is_under_way_waits_for_it(fake_line, dialogue, indicator):
    """Else LINE would start the animation after the answer and show it for 5 s for nothing."""
    fake_line.delay_next(1, 0.5, LOADING, after_processing=False)  # LINE takes its time to take it
    handler = make_handler(fake_line, dialogue, loading=indicator(after=0.0))
    handler.core.service = SlowService(handler.core.service, delay=0.1)
    handle(handler, text(fake_line, USER, "こんにちは"))
    assert order(fake_line) == [LOADING, "/v2/bot/message/reply"]


def test_a_quick_answer_shows_no_animation(fake_line, dialogue, indicator):
    handler = make_handler(fake_line, dialogue, loading=indicator(after=3.0))
    handle(handler, text(fake_line, USER, "こんにちは"))
    time.sleep(0.2)  # nothing left to fire later either
    assert order(fake_line) == ["/v2/bot/message/reply"]
    assert fake_line.loadings() == []


def test_only_a_users_text_gets_the_animation(fake_line, dialogue, indicator):
    handler = make_handler(fake_line, dialogue, loading=indicator(after=0.0))
    handler.core.service = SlowService(handler.core.service)
    handle(handler, event(fake_line, USER, "follow"))
    handle(handler, tap(fake_line, USER, "t=menu"))
    assert fake_line.loadings() == []
    assert len(fake_line.deliveries(USER)) == 2


@pytest.mark.parametrize("fault", ["error", "hang"])
def test_a_failing_or_hanging_animation_call_neither_fails_nor_holds_up_the_answer(
        fake_line, dialogue, indicator, fault, caplog):
    caplog.set_level(logging.DEBUG, logger="bot.line.loading")
    if fault == "error":
        fake_line.fail_next(1, 500, LOADING)
    else:
        fake_line.delay_next(1, 5.0, LOADING, after_processing=False)
    handler = make_handler(fake_line, dialogue, loading=indicator(after=0.0, timeout=(0.5, 0.5)))
    handler.core.service = SlowService(handler.core.service)
    started = time.monotonic()
    handle(handler, text(fake_line, USER, "ネットに悪口を書かれました"))
    took = time.monotonic() - started
    assert len(fake_line.deliveries(USER)) == 1, "the answer was delivered"
    assert took < SLOW + 1.5, "the answer waited for the animation no longer than its timeout"
    assert "loading animation not shown" in caplog.text
    assert USER not in caplog.text


def test_an_indicator_closed_with_the_process_drops_what_is_pending(fake_line, indicator):
    loading = indicator(after=0.3)
    with loading.while_preparing(USER, None):
        loading.close()
        time.sleep(0.5)
    assert fake_line.loadings() == []


def test_loading_seconds_must_be_what_line_takes(fake_line):
    with pytest.raises(ValueError):
        LoadingIndicator(LineApi.open(fake_line.base_url, fake_line.access_token), seconds=7)
