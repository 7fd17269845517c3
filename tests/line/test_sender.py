"""Sender against the LINE stand-in, through the real line-bot-sdk over HTTP:
reply while the token is fresh, else push with a retry key; retries that
never deliver twice; 4xx never retried; every call with a timeout; nothing
personal in the logs."""

from __future__ import annotations

import logging
import socket
import time
import uuid

import pytest
from linebot.v3.messaging import TextMessage

from bot.line import sender as sender_module
from bot.line.sender import (
    ALREADY_REPLIED,
    ALREADY_SENT,
    FAILED,
    REJECTED,
    SENT,
    LineApiError,
    Sender,
    retry_key,
)
from tests.fake_line import fake_line  # noqa: F401

USER = "U4af4980629aaaaaaaaaaaaaaaaaaaaaaaa"


class Sleeps(list):
    """Records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def make_sender(fake_line, sleeps):
    made = []

    def make(**kw):
        kw.setdefault("timeout", (1.0, 0.5))
        kw.setdefault("max_attempts", 4)
        kw.setdefault("backoff", (0.1, 1.0))
        kw.setdefault("sleep", sleeps)
        s = Sender(fake_line.base_url, fake_line.access_token, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


@pytest.fixture
def sender(make_sender):
    return make_sender()


def texts(*words):
    return [TextMessage(text=w) for w in words]


def delivered_texts(fake_line, user=USER):
    return [m["text"] for m in fake_line.messages_for(user)]


# --- reply or push -------------------------------------------------------------------------------


def test_fresh_token_replies(fake_line, sender):
    token = fake_line.issue_reply_token(USER)
    d = sender.deliver(USER, texts("こんにちは"), reply_token=token, token_issued_at=time.time(),
                       retry_key_seed="ev1")
    assert (d.outcome, d.method, d.attempts, d.status) == ("delivered", "reply", 1, 200)
    assert d.ok and d.delivered and not d.retryable
    [delivery] = fake_line.deliveries()
    assert (delivery.kind, delivery.user_id) == ("reply", USER)
    assert delivered_texts(fake_line) == ["こんにちは"]


def test_a_token_49_seconds_old_still_replies(fake_line, sender):
    token = fake_line.issue_reply_token(USER, issued_at=time.time() - 49)
    d = sender.deliver(USER, texts("a"), reply_token=token, token_issued_at=time.time() - 49, retry_key_seed="ev")
    assert d.method == "reply" and d.outcome == "delivered"


def test_old_token_pushes_with_the_retry_key_of_the_event(fake_line, sender):
    issued = time.time() - 55  # LINE would still take it for 5 s: too close to call
    token = fake_line.issue_reply_token(USER, issued_at=issued)
    d = sender.deliver(USER, texts("a"), reply_token=token, token_issued_at=issued, retry_key_seed="ev-old")
    assert (d.outcome, d.method, d.attempts) == ("delivered", "push", 1)
    assert [c.path for c in fake_line.calls()] == ["/v2/bot/message/push"]
    [delivery] = fake_line.deliveries()
    assert delivery.kind == "push" and delivery.user_id == USER
    assert delivery.retry_key == retry_key("ev-old", 0) == d.chunks[0].retry_key


def test_no_token_pushes(fake_line, sender):
    d = sender.deliver(USER, texts("a"), retry_key_seed="ev")
    assert d.method == "push" and fake_line.deliveries()[0].retry_key == retry_key("ev", 0)


def test_retry_keys_are_stable_uuids_per_event_and_chunk():
    key = retry_key("evA", 0)
    assert str(uuid.UUID(key)) == key
    assert key == retry_key("evA", 0)
    assert len({retry_key("evA", 0), retry_key("evA", 1), retry_key("evB", 0)}) == 3


def test_messages_as_json_dicts_from_an_outbox(fake_line, sender):
    d = sender.deliver(USER, [{"type": "text", "text": "保存していた答え"}], retry_key_seed="ev")
    assert d.ok and delivered_texts(fake_line) == ["保存していた答え"]


# --- retries ---------------------------------------------------------------------------------------


def test_500_twice_then_200_is_one_delivery_with_the_same_retry_key_each_time(fake_line, sender, sleeps):
    fake_line.fail_next(2, status=500)
    d = sender.deliver(USER, texts("a"), retry_key_seed="ev500")
    assert (d.outcome, d.method, d.attempts, d.status) == ("delivered", "push", 3, 200)
    calls = fake_line.calls("/v2/bot/message/push")
    assert [c.status for c in calls] == [500, 500, 200]
    assert {c.retry_key for c in calls} == {retry_key("ev500", 0)}
    assert len(fake_line.deliveries()) == 1
    assert len(sleeps) == 2 and 0 < sleeps[0] <= sleeps[1]  # exponential backoff


def test_500_after_line_accepted_is_not_delivered_twice(fake_line, sender):
    fake_line.fail_next(1, status=500, accept_first=True)
    d = sender.deliver(USER, texts("a"), retry_key_seed="ev")
    assert d.ok and d.chunks[0].outcome == ALREADY_SENT and d.status == 409
    assert len(fake_line.deliveries()) == 1


def test_reply_500_then_200_replies_once(fake_line, sender):
    fake_line.fail_next(2, status=502, path_prefix="/v2/bot/message/reply")
    token = fake_line.issue_reply_token(USER)
    d = sender.deliver(USER, texts("a"), reply_token=token, token_issued_at=time.time(), retry_key_seed="ev")
    assert (d.outcome, d.method, d.attempts) == ("delivered", "reply", 3)
    assert [x.kind for x in fake_line.deliveries()] == ["reply"]


def test_429_waits_as_long_as_retry_after_says(fake_line, sender, sleeps):
    fake_line.fail_next(1, status=429, retry_after=2)
    d = sender.deliver(USER, texts("a"), retry_key_seed="ev")
    assert d.ok and d.attempts == 2
    assert len(sleeps) == 1 and 2 <= sleeps[0] < 2.1
    assert len(fake_line.deliveries()) == 1


def test_429_asking_longer_than_we_may_hold_the_event_gives_up_for_later(fake_line, make_sender, sleeps):
    fake_line.fail_next(1, status=429, retry_after=3600)
    d = make_sender(max_retry_after=30).deliver(USER, texts("a"), retry_key_seed="ev")
    assert (d.outcome, d.attempts, d.status) == (FAILED, 1, 429)
    assert d.retryable and not d.ok and sleeps == []


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413])
def test_4xx_is_never_retried(fake_line, sender, sleeps, status):
    fake_line.fail_next(1, status=status)
    d = sender.deliver(USER, texts("a"), retry_key_seed="ev")
    assert (d.outcome, d.attempts, d.status) == (REJECTED, 1, status)
    assert not d.ok and not d.retryable and sleeps == []
    assert len(fake_line.calls()) == 1


def test_a_reply_line_refuses_for_its_content_is_not_retried_nor_pushed(fake_line, sender):
    token = fake_line.issue_reply_token(USER)
    d = sender.deliver(USER, [TextMessage(text="あ" * 5001)], reply_token=token, token_issued_at=time.time(),
                       retry_key_seed="ev")
    assert (d.outcome, d.method, d.attempts, d.status) == (REJECTED, "reply", 1, 400)
    assert [c.path for c in fake_line.calls()] == ["/v2/bot/message/reply"]


def test_push_timeout_is_retried_and_delivered_once(fake_line, sender):
    fake_line.delay_next(1, 2.0, path_prefix="/v2/bot/message/push")  # LINE took it, answered late
    d = sender.deliver(USER, texts("a"), retry_key_seed="ev-slow")
    assert d.ok and [a.error for a in d.chunks[0].attempts] == ["timeout", None]
    assert d.chunks[0].outcome == ALREADY_SENT
    assert len(fake_line.deliveries()) == 1


def test_push_timeout_before_line_processed_it_is_delivered_once(fake_line, sender):
    fake_line.delay_next(1, 1.2, path_prefix="/v2/bot/message/push", after_processing=False)
    d = sender.deliver(USER, texts("a"), retry_key_seed="ev-slow2")
    assert d.ok
    deadline = time.monotonic() + 5
    while len(fake_line.calls()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # the slow first request lands after the retry
    assert len(fake_line.deliveries()) == 1
    assert sorted(c.status for c in fake_line.calls()) == [200, 409]


def test_reply_timeout_then_token_used_means_already_replied(fake_line, sender):
    fake_line.delay_next(1, 2.0, path_prefix="/v2/bot/message/reply")
    token = fake_line.issue_reply_token(USER)
    d = sender.deliver(USER, texts("a"), reply_token=token, token_issued_at=time.time(), retry_key_seed="ev")
    assert (d.outcome, d.method) == (ALREADY_REPLIED, "reply")
    assert d.ok and d.delivered
    assert [a.error or a.status for a in d.chunks[0].attempts] == ["timeout", 400]
    assert len(fake_line.deliveries()) == 1


def test_reply_token_already_used_means_already_replied(fake_line, sender):
    token = fake_line.issue_reply_token(USER)
    first = sender.deliver(USER, texts("a"), reply_token=token, token_issued_at=time.time(), retry_key_seed="ev")
    again = sender.deliver(USER, texts("a"), reply_token=token, token_issued_at=time.time(), retry_key_seed="ev")
    assert first.outcome == "delivered"
    assert (again.outcome, again.attempts, again.status) == (ALREADY_REPLIED, 1, 400)
    assert len(fake_line.deliveries()) == 1
    assert fake_line.calls("/v2/bot/message/push") == []


def test_a_token_that_expired_on_the_way_falls_back_to_push(fake_line, make_sender):
    t0 = 1_000.0
    # Our clock: 45 s when the reply goes out, 61 s once LINE has seen it.
    clock = lambda: t0 + (45 if not fake_line.calls() else 61)  # noqa: E731
    token = fake_line.issue_reply_token(USER, issued_at=time.time() - 61)  # LINE: expired
    d = make_sender(clock=clock).deliver(USER, texts("a"), reply_token=token, token_issued_at=t0,
                                         retry_key_seed="ev")
    assert (d.outcome, d.method, d.possible_duplicate) == ("delivered", "reply+push", False)
    assert [a.status for a in d.chunks[0].attempts] == [400, 200]
    assert [x.kind for x in fake_line.deliveries()] == ["push"]


def test_after_a_reply_timeout_the_reply_is_retried_while_the_token_lives(fake_line, make_sender):
    t0 = 1_000.0
    clock = lambda: t0 + (10 if not fake_line.calls() else 55)  # noqa: E731  past the margin, not the TTL
    fake_line.delay_next(1, 2.0, path_prefix="/v2/bot/message/reply")
    token = fake_line.issue_reply_token(USER)
    d = make_sender(clock=clock).deliver(USER, texts("a"), reply_token=token, token_issued_at=t0,
                                         retry_key_seed="ev")
    assert d.outcome == ALREADY_REPLIED  # asked LINE rather than pushing a possible duplicate
    assert fake_line.calls("/v2/bot/message/push") == []
    assert len(fake_line.deliveries()) == 1


def test_after_a_reply_timeout_past_the_tokens_life_a_duplicate_is_chosen_over_a_loss(fake_line, make_sender):
    t0 = 1_000.0
    clock = lambda: t0 + (10 if not fake_line.calls() else 65)  # noqa: E731
    fake_line.delay_next(1, 2.0, path_prefix="/v2/bot/message/reply")
    token = fake_line.issue_reply_token(USER)
    d = make_sender(clock=clock).deliver(USER, texts("a"), reply_token=token, token_issued_at=t0,
                                         retry_key_seed="ev")
    assert d.ok and d.method == "reply+push" and d.possible_duplicate
    assert "possible duplicate" in d.describe()
    assert [x.kind for x in fake_line.deliveries()] == ["reply", "push"]


def test_connection_refused_fails_for_later_after_max_attempts(make_sender, sleeps):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = Sender(f"http://127.0.0.1:{port}", "token", timeout=(0.5, 0.5), max_attempts=3,
                  backoff=(0.1, 1.0), sleep=sleeps)
    d = dead.deliver(USER, texts("a"), retry_key_seed="ev")
    assert (d.outcome, d.attempts, d.status) == (FAILED, 3, None)
    assert d.retryable and [a.error for a in d.chunks[0].attempts] == ["connection"] * 3
    assert len(sleeps) == 2


def test_a_redelivered_event_is_not_pushed_twice(fake_line, sender):
    first = sender.deliver(USER, texts("a", "b"), retry_key_seed="ev-redelivered")
    second = sender.deliver(USER, texts("a", "b"), retry_key_seed="ev-redelivered")
    assert first.chunks[0].outcome == SENT and second.chunks[0].outcome == ALREADY_SENT
    assert second.ok
    assert delivered_texts(fake_line) == ["a", "b"]


# --- more than 5 messages -----------------------------------------------------------------------------


def test_seven_messages_with_a_fresh_token_reply_five_and_push_two(fake_line, sender):
    token = fake_line.issue_reply_token(USER)
    words = [str(i) for i in range(7)]
    d = sender.deliver(USER, texts(*words), reply_token=token, token_issued_at=time.time(), retry_key_seed="ev7")
    assert (d.outcome, d.method, d.total_chunks, d.delivered_chunks) == ("delivered", "reply+push", 2, 2)
    kinds = [(x.kind, len(x.messages), x.retry_key) for x in fake_line.deliveries()]
    assert kinds == [("reply", 5, None), ("push", 2, retry_key("ev7", 1))]
    assert delivered_texts(fake_line) == words


def test_twelve_messages_without_token_are_three_pushes_in_order(fake_line, sender):
    words = [str(i) for i in range(12)]
    d = sender.deliver(USER, texts(*words), retry_key_seed="ev12")
    assert d.ok and d.method == "push" and d.total_chunks == 3
    assert [x.retry_key for x in fake_line.deliveries()] == [retry_key("ev12", i) for i in range(3)]
    assert delivered_texts(fake_line) == words


def test_a_failed_chunk_stops_the_later_ones_and_a_rerun_sends_each_once(fake_line, make_sender):
    words = [str(i) for i in range(12)]
    sender = make_sender(max_attempts=2)
    fake_line.fail_next(2, status=500, skip=1)  # chunk 0 goes through; chunk 1 fails both attempts
    d = sender.deliver(USER, texts(*words), retry_key_seed="ev-partial")
    assert (d.outcome, d.delivered_chunks, d.total_chunks) == (FAILED, 1, 3)
    assert d.retryable
    assert delivered_texts(fake_line) == words[:5]  # chunk 2 never went before chunk 1

    again = sender.deliver(USER, texts(*words), retry_key_seed="ev-partial")  # the event run again
    assert again.ok and [c.outcome for c in again.chunks] == [ALREADY_SENT, SENT, SENT]
    assert delivered_texts(fake_line) == words

    resumed = sender.deliver(USER, texts(*words), retry_key_seed="ev-partial", start_chunk=3)
    assert resumed.ok and resumed.chunks == () and len(fake_line.deliveries()) == 3


# --- profile, leave, group notice --------------------------------------------------------------------------


def test_profile_language(fake_line, sender):
    fake_line.add_user(USER, language="ja")
    assert sender.profile_language(USER) == "ja"
    fake_line.set_language(USER, "en-US")
    assert sender.profile_language(USER) == "en-US"
    fake_line.set_language(USER, None)
    assert sender.profile_language(USER) is None


def test_profile_of_an_unknown_user_is_none(fake_line, sender):
    assert sender.profile_language("Unobody") is None


def test_profile_failure_raises_instead_of_passing_as_no_language(fake_line, make_sender):
    fake_line.fail_next(3, status=500, path_prefix="/v2/bot/profile")
    with pytest.raises(LineApiError) as err:
        make_sender(max_attempts=3).profile_language(USER)
    assert err.value.retryable and err.value.status == 500 and err.value.attempts == 3


def test_profile_timeout_is_retried(fake_line, sender):
    fake_line.add_user(USER, language="en")
    fake_line.delay_next(1, 2.0, path_prefix="/v2/bot/profile")
    assert sender.profile_language(USER) == "en"
    assert len(fake_line.calls("/v2/bot/profile")) == 2


@pytest.mark.parametrize("kind", ["group", "room"])
def test_leave(fake_line, sender, kind):
    result = sender.leave(kind, "C123")
    assert result.ok and result.status == 200
    assert fake_line.left() == [(kind, "C123")]


def test_leave_only_groups_and_rooms(sender):
    with pytest.raises(ValueError):
        sender.leave("user", USER)


def test_group_notice_by_reply(fake_line, sender):
    token = fake_line.issue_reply_token("Cgroup")
    result = sender.deliver_to_group(token, "このアカウントは1対1の相談用です。")
    assert result.ok
    [delivery] = fake_line.deliveries()
    assert (delivery.kind, delivery.user_id) == ("reply", "Cgroup")


# --- guarantees -------------------------------------------------------------------------------------------


def test_every_http_call_has_a_timeout(fake_line, sender, monkeypatch):
    from linebot.v3.messaging import rest

    seen = []
    real = rest.RESTClientObject.request

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("_request_timeout"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(rest.RESTClientObject, "request", spy)
    token = fake_line.issue_reply_token(USER)
    sender.deliver(USER, texts(*"abcdefg"), reply_token=token, token_issued_at=time.time(), retry_key_seed="e")
    sender.profile_language(USER)
    sender.leave("group", "C1")
    sender.deliver_to_group(fake_line.issue_reply_token("C2"), "notice")
    assert len(seen) == 5 and all(t == (1.0, 0.5) for t in seen)


def test_nothing_personal_in_the_logs(fake_line, sender, caplog):
    caplog.set_level(logging.DEBUG)
    fake_line.add_user(USER, display_name="山田たろう", language="ja")
    fake_line.fail_next(1, status=500)
    fake_line.fail_next(1, status=400, path_prefix="/v2/bot/message/reply")
    secret_text = "死にたいと書いた子への答え"
    sender.deliver(USER, texts(secret_text), retry_key_seed="ev-log")
    sender.deliver(USER, texts(secret_text), reply_token=fake_line.issue_reply_token(USER),
                   token_issued_at=time.time(), retry_key_seed="ev-log2")
    sender.profile_language(USER)
    sender.leave("group", "Cgroupsecret")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "line delivery" in logged  # it does log, just nothing personal
    for secret in (USER, "山田たろう", secret_text, "Cgroupsecret", "ev-log", fake_line.access_token):
        assert secret not in logged


def test_arguments_that_cannot_work_are_refused(fake_line):
    with pytest.raises(ValueError):
        Sender(fake_line.base_url, "")
    with pytest.raises(ValueError):
        Sender(fake_line.base_url, "t", timeout=(0, 1))
    with pytest.raises(ValueError):
        Sender(fake_line.base_url, "t", reply_margin=70)
    s = Sender(fake_line.base_url, "t")
    with pytest.raises(ValueError):
        s.deliver(USER, [], retry_key_seed="ev")
    with pytest.raises(ValueError):
        s.deliver(USER, texts("a"), retry_key_seed="")


def test_urllib3_does_not_retry_behind_our_back(fake_line, sender):
    assert sender._client.configuration.retries is False
    assert sender_module.RETRY_KEY_NAMESPACE == uuid.UUID("6d3cd96e-131c-4b7a-aacd-e5a14ac54520")


# -- the content API: an image the user sent, kept with a handoff as evidence --------------------

def test_fetch_content_returns_the_bytes_and_type(fake_line, sender):
    fake_line.add_content("100001", b"\x89PNG\r\n\x1a\nimage", "image/png")
    assert sender.fetch_content("100001") == (b"\x89PNG\r\n\x1a\nimage", "image/png")


def test_fetch_content_of_a_message_line_no_longer_has_is_none(fake_line, sender):
    assert sender.fetch_content("100404") is None


def test_fetch_content_retries_a_5xx_then_gives_a_retryable_error(fake_line, sender, sleeps):
    fake_line.add_content("100002", b"jpeg", "image/jpeg")
    fake_line.fail_next(1, 500, path_prefix="/v2/bot/message/100002/content")
    assert sender.fetch_content("100002") == (b"jpeg", "image/jpeg")
    fake_line.fail_next(10, 503, path_prefix="/v2/bot/message/100002/content")
    with pytest.raises(LineApiError) as caught:
        sender.fetch_content("100002")
    assert caught.value.retryable


def test_fetch_content_uses_the_data_host_by_default():
    s = Sender(access_token="t")
    try:
        assert s._data_client.configuration.host == "https://api-data.line.me"
    finally:
        s.close()
