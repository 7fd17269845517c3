"""The handoff through the whole pipeline: signed webhook → Redis stream → worker →
dialogue → handoff queue (a real redis-server) → answers at the stand-in LINE API.

Clocks are fixed at one instant in staffed hours (or one out of them), so what
the user is told about people on duty does not depend on when the suite runs.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest

from bot.web import create_app, runtime_of
from tests.conftest import tokyo
from tests.e2e.conftest import Bot
from tests.redis_server import on_one_and_cluster

# The conversations run on one redis-server and on a Redis Cluster (issue 16).
pytestmark = on_one_and_cluster

STAFFED = tokyo("2026-11-25 15:00")  # Wednesday: the Hyogo desk is staffed 14:00-19:00
NIGHT = tokyo("2026-11-25 23:00")
A, B, C, T = ("U" + c * 32 for c in "abct")


def texts(delivery) -> list[str]:
    return [m.get("text", "") for m in delivery.messages if m.get("type") == "text"]


def said(deliveries) -> str:
    return "\n".join(t for d in deliveries for t in texts(d))


def make_bot(fake_line, bot_env, at):
    """``at``: a fixed instant, or a list holding one that the test may change."""
    app = create_app({"TESTING": True, **bot_env})
    runtime = runtime_of(app)
    runtime.clock = runtime.service.clock = (lambda: at[0]) if isinstance(at, list) else (lambda: at)
    runtime.start_workers(2, lease_ms=2000, block_ms=100, backoff_base_ms=50, backoff_cap_ms=200)
    return Bot(app, app.test_client(), fake_line), runtime


@contextmanager
def running_bot(fake_line, bot_env, at):
    bot, runtime = make_bot(fake_line, bot_env, at)
    try:
        yield bot, runtime
    finally:
        runtime.stop()


@pytest.fixture
def staffed(fake_line, bot_env, redis_client):
    with running_bot(fake_line, bot_env, STAFFED) as running:
        yield running


@pytest.fixture
def night(fake_line, bot_env, redis_client):
    with running_bot(fake_line, bot_env, NIGHT) as running:
        yield running


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def settle(runtime, timeout=10.0):
    """Every queued event handled (streams are emptied as entries are acknowledged),
    so a check that nothing was sent is not merely early."""
    wait_for(lambda: sum(runtime.client.xlen(runtime.keys.partition_events(i))
                         for i in range(runtime.partitions)) == 0, timeout)


def test_a_crisis_message_is_queued_within_a_second_and_answered_with_the_24_hour_number(staffed):
    bot, runtime = staffed
    started = time.monotonic()
    assert bot.post(bot.text(A, "もう死にたい")).status_code == 200
    [handoff] = wait_for(lambda: runtime.queue.list("waiting"), timeout=1.0)
    assert time.monotonic() - started < 1.0
    assert handoff.urgent and handoff.severity in ("high", "critical")
    assert "self_harm.wish_to_die" in handoff.reasons and handoff.category == "self_harm"
    [answer] = bot.answers(A, 1)
    assert "0120-0-78310" in texts(answer)[0]
    transcript = runtime.queue.transcript(handoff.id)
    assert [e["from"] for e in transcript][:2] == ["user", "bot"]
    assert transcript[0]["text"] == "もう死にたい"


def test_out_of_hours_an_urgent_chat_is_queued_and_the_user_told_when_people_are_back(night):
    bot, runtime = night
    bot.post(bot.text(A, "もう死にたい"))
    [answer] = bot.answers(A, 1)
    assert "0120-0-78310" in texts(answer)[0]
    assert "明日 14:00" in said([answer])
    [handoff] = wait_for(lambda: runtime.queue.list("waiting"))
    assert handoff.urgent
    assert "番目" not in said([answer]), "no place in line is promised while nobody is on duty"


def test_out_of_hours_a_request_for_a_person_is_not_queued(night):
    bot, runtime = night
    bot.post(bot.event(A, "follow"))
    bot.answers(A, 1)
    bot.post(bot.tap(A, "t=human"))
    answers = bot.answers(A, 2)
    assert "相談員はいません" in said(answers[1:])
    settle(runtime)
    assert runtime.queue.list("waiting") == []


def test_places_in_line_and_an_urgent_chat_going_first(staffed):
    bot, runtime = staffed
    for user in (A, B):
        bot.post(bot.event(user, "follow"))
        bot.answers(user, 1)
        bot.post(bot.tap(user, "t=role_guardian"))
        bot.answers(user, 2)
    bot.post(bot.tap(A, "t=human"))
    assert "いま1番目です" in said(bot.answers(A, 3)[2:])
    bot.post(bot.tap(B, "t=human"))
    assert "いま2番目です" in said(bot.answers(B, 3)[2:])
    # An urgent chat goes ahead of both: each is told their new place.
    bot.post(bot.text(C, "今から死にます"))
    bot.answers(C, 1)
    assert "いま2番目です" in said(bot.answers(A, 4)[3:])
    assert "いま3番目です" in said(bot.answers(B, 4)[3:])
    waiting = runtime.queue.list("waiting")
    assert [h.line_user for h in waiting] == [C, A, B]


def test_waiting_user_gets_an_acknowledgement_and_the_message_reaches_the_transcript(staffed):
    bot, runtime = staffed
    bot.post(bot.tap(A, "t=human"))
    bot.answers(A, 1)
    bot.post(bot.text(A, "クラスのグループで悪口を言われています"))
    [_, ack] = bot.answers(A, 2)
    assert "相談員がお返事するまで" in said([ack])
    [handoff] = runtime.queue.list("waiting")
    assert any(e["text"] == "クラスのグループで悪口を言われています" for e in runtime.queue.transcript(handoff.id))


def test_with_a_counsellor_the_bot_is_quiet_triage_is_not_and_closing_brings_the_menu_back(staffed):
    bot, runtime = staffed
    queue = runtime.queue
    bot.post(bot.tap(A, "t=human"))
    bot.answers(A, 1)
    [handoff] = wait_for(lambda: queue.list("waiting"))
    assert queue.claim(handoff.id, "sato").ok
    runtime.send_to_user(handoff, "claimed")
    assert "相談員がつながりました" in said(bot.answers(A, 2)[1:])

    bot.post(bot.text(A, "先生には言えない"))
    wait_for(lambda: any(e["text"] == "先生には言えない" for e in queue.transcript(handoff.id)))
    settle(runtime)
    assert len(bot.line.deliveries(A)) == 2, "the dialogue stays quiet while a counsellor has the chat"

    runtime.send_to_user(handoff, "message", {"text": "話してくれてありがとう。"})
    [pushed] = bot.answers(A, 3)[2:]
    assert pushed.kind == "push" and pushed.retry_key
    assert texts(pushed) == ["【相談員】話してくれてありがとう。"]

    # A danger signal while with a counsellor: the 24-hour number at once, and the console alerted.
    bot.post(bot.text(A, "もう消えたい"))
    assert "0120-0-78310" in said(bot.answers(A, 4)[3:])
    raised = wait_for(lambda: (h := queue.get(handoff.id)) and h.alert == "danger" and h)
    assert raised.urgent and raised.severity is not None and "self_harm" in ",".join(raised.reasons)

    assert queue.close(handoff.id, "sato", {"advice": "talked"}).ok
    runtime.send_to_user(handoff, "closed")
    [closing] = bot.answers(A, 5)[4:]
    assert "相談員との相談は、これで終わりです" in said([closing])
    quick = closing.messages[-1].get("quickReply", {}).get("items", [])
    assert quick, "the bot's menu comes back"
    bot.post(bot.text(A, "書き込みを消したい"))
    assert len(bot.answers(A, 6)) == 6, "after closing, the dialogue answers again"


def test_an_image_sent_while_waiting_is_kept_with_the_handoff(staffed):
    bot, runtime = staffed
    bot.post(bot.tap(A, "t=human"))
    bot.answers(A, 1)
    bot.line.add_content("900001", b"\xff\xd8\xffjpeg-bytes", "image/jpeg")
    bot.post(bot.event(A, "message", message={"type": "image", "id": "900001"}))
    bot.answers(A, 2)
    [handoff] = runtime.queue.list("waiting")
    assert wait_for(lambda: runtime.queue.image(handoff.id, 1)) == (b"\xff\xd8\xffjpeg-bytes", "image/jpeg")


def test_a_teacher_is_queued_with_school_and_name(staffed):
    bot, runtime = staffed
    bot.post(bot.event(T, "follow"))
    bot.answers(T, 1)
    bot.post(bot.tap(T, "t=role_teacher"))
    bot.answers(T, 2)
    bot.post(bot.tap(T, "t=human"))
    assert "学校名とお名前" in said(bot.answers(T, 3)[2:])
    settle(runtime)
    assert runtime.queue.list("waiting") == []
    bot.post(bot.text(T, "県立○○高校の山田です"))
    bot.answers(T, 4)
    [handoff] = runtime.queue.list("waiting")
    assert handoff.role == "teacher" and handoff.identity == "県立○○高校の山田です"


def test_a_user_who_blocks_the_bot_leaves_the_queue_and_gets_no_push(staffed):
    bot, runtime = staffed
    bot.post(bot.tap(A, "t=human"))
    bot.answers(A, 1)
    [handoff] = runtime.queue.list("waiting")
    bot.post(bot.event(A, "unfollow"))
    wait_for(lambda: runtime.queue.get(handoff.id).status == "bot")
    runtime.send_to_user(handoff, "message", {"text": "まだいますか"})
    settle(runtime)
    assert len(bot.line.deliveries(A)) == 1


def test_a_claim_notice_queued_twice_reaches_the_user_once(staffed):
    """Two clicks on 'take' at the same instant both succeed (the second is the
    holder's no-op) and both queue the notice (bot.console.actions derives its
    event id from the claim): the pipeline's de-duplication keeps one."""
    bot, runtime = staffed
    bot.post(bot.tap(A, "t=human"))
    bot.answers(A, 1)
    [handoff] = wait_for(lambda: runtime.queue.list("waiting"))
    claimed = runtime.queue.claim(handoff.id, "sato").handoff
    claim_id = f"xcclaim-{claimed.id}-{int(claimed.claimed_at * 1000)}"
    runtime.send_to_user(claimed, "claimed", event_id=claim_id)
    runtime.send_to_user(claimed, "claimed", event_id=claim_id)
    bot.answers(A, 2)
    settle(runtime)
    assert len(bot.line.deliveries(A)) == 2


def test_a_message_written_after_the_chat_ended_is_not_sent_one_written_before_is(staffed):
    bot, runtime = staffed
    bot.post(bot.tap(A, "t=human"))
    bot.answers(A, 1)
    [handoff] = wait_for(lambda: runtime.queue.list("waiting"))
    runtime.queue.claim(handoff.id, "sato")
    before = time.time()
    time.sleep(0.01)
    runtime.queue.close(handoff.id, "sato", {"advice": "x"})
    runtime.send_to_user(handoff, "message", {"text": "書いている間に終わった"})  # sent_at: now, after closing
    runtime.send_to_user(handoff, "message", {"text": "終わる前に書いた", "sent_at": before})
    [late] = bot.answers(A, 2)[1:]
    assert texts(late) == ["【相談員】終わる前に書いた"]
    settle(runtime)
    assert len(bot.line.deliveries(A)) == 2


def test_a_new_kind_of_danger_while_waiting_alerts_the_console(staffed):
    """Issue 4: triage keeps running while a chat waits; a new danger signal
    raises the priority or, at the same severity, still alerts the console."""
    bot, runtime = staffed
    for user in (A, B):
        bot.post(bot.tap(user, "t=human"))
        bot.answers(user, 1)
    assert [h.line_user for h in runtime.queue.list("waiting")] == [A, B]
    bot.post(bot.text(B, "裸の写真をばらまくと脅されて、お金を払えと言われています"))
    assert "0120-0-78310" in said(bot.answers(B, 2)[1:])
    first = wait_for(lambda: (w := runtime.queue.list("waiting")) and w[0].line_user == B and w[0])
    assert first.urgent and first.alert == "danger" and first.category in ("threat", "extortion")
    assert "いま1番目です" in said(bot.answers(B, 2)[1:])
    assert "いま2番目です" in said(bot.answers(A, 2)[1:]), "A is told the new place"


def test_back_to_the_queue_the_user_is_told_the_truth(staffed):
    bot, runtime = staffed
    bot.post(bot.tap(A, "t=human"))
    bot.answers(A, 1)
    [handoff] = wait_for(lambda: runtime.queue.list("waiting"))
    runtime.queue.claim(handoff.id, "sato")
    runtime.send_to_user(handoff, "claimed")
    bot.answers(A, 2)
    runtime.queue.requeue(handoff.id, "sato")
    runtime.send_to_user(handoff, "requeued")
    assert "交代します。いま1番目です" in said(bot.answers(A, 3)[2:])


def test_a_message_sent_while_the_chat_was_closing_does_not_leave_a_ghost_in_the_queue(staffed):
    bot, runtime = staffed
    queue = runtime.queue
    bot.post(bot.tap(A, "t=human"))
    bot.answers(A, 1)
    [handoff] = wait_for(lambda: queue.list("waiting"))
    queue.claim(handoff.id, "sato")
    queue.close(handoff.id, "sato", {"advice": "x"})
    # The user writes just as the counsellor closes; the notice follows it on the stream.
    bot.post(bot.text(A, "ありがとうございました"))
    bot.answers(A, 2)
    runtime.send_to_user(handoff, "closed")
    bot.answers(A, 3)
    settle(runtime)
    assert queue.list("waiting") == [], "the chat opened from the old state went back to the bot"


def test_an_image_that_is_not_a_raster_photo_is_not_kept(staffed):
    bot, runtime = staffed
    bot.post(bot.tap(A, "t=human"))
    bot.answers(A, 1)
    bot.line.add_content("900002", b"<svg onload='alert(1)'/>", "image/svg+xml")
    bot.post(bot.event(A, "message", message={"type": "image", "id": "900002"}))
    bot.answers(A, 2)
    settle(runtime)
    [handoff] = runtime.queue.list("waiting")
    assert runtime.queue.image(handoff.id, 1) is None


def test_when_counsellors_go_off_duty_waiting_users_are_told_once(fake_line, bot_env, redis_client):
    """Queued at 18:55 with a place in line; at 19:00 nobody is on duty: the user
    hears when people are back and the 24-hour numbers, once, and the chat stays."""
    from bot.handoff.bridge import tell_off_duty

    now = [tokyo("2026-11-25 18:55")]
    with running_bot(fake_line, bot_env, now) as (bot, runtime):
        bot.post(bot.tap(A, "t=human"))
        assert "いま1番目です" in said(bot.answers(A, 1))
        assert tell_off_duty(runtime.queue, runtime.send_to_user, runtime.desk_open()) == 0
        now[0] = tokyo("2026-11-25 19:00")
        assert tell_off_duty(runtime.queue, runtime.send_to_user, runtime.desk_open()) == 1
        assert tell_off_duty(runtime.queue, runtime.send_to_user, runtime.desk_open()) == 0
        notice = said(bot.answers(A, 2)[1:])
        assert "明日 14:00" in notice and "0120-0-78310" in notice and "残してあります" in notice
        settle(runtime)
        assert len(bot.line.deliveries(A)) == 2
        assert [h.line_user for h in runtime.queue.list("waiting")] == [A]
