"""Records written through the real worker path: signed webhook → Redis stream →
worker → dialogue → handoff queue (a real redis-server), with the clock fixed in
staffed hours. A follow, a tap, a crisis message, the handoff claimed, answered
and closed: one record with the handoff's times and the closing record; an event
run a second time (a worker died before acknowledging it) is not counted again."""

from __future__ import annotations

from bot.pipeline.worker import Entry
from tests.e2e.test_handoff_e2e import STAFFED, make_bot, wait_for
from tests.redis_server import on_one_and_cluster

# The conversations run on one redis-server and on a Redis Cluster (issue 16).
pytestmark = on_one_and_cluster

USER = "U" + "r" * 32
CLOSING = {"role": "child", "category": "self_harm", "advice": "窓口を紹介した", "referred": ["inochi_no_denwa"],
           "school_contact_agreed": "not_asked", "follow_up": {"needed": False, "text": ""}}


def test_a_consultation_through_the_worker_is_one_record_counted_once(fake_line, bot_env, redis_client):
    bot, runtime = make_bot(fake_line, bot_env, STAFFED)
    try:
        records = runtime.records
        bot.post(bot.event(USER, "follow"))
        bot.answers(USER, 1)
        tap = bot.tap(USER, "t=role_child")
        bot.post(tap)
        bot.answers(USER, 2)
        bot.post(bot.text(USER, "もう死にたい"))
        [handoff] = wait_for(lambda: runtime.queue.list("waiting"))
        [record] = wait_for(lambda: [r for r in records.month("2026-11") if r.handoff_id])
        assert record.answers == 3 and record.urgent and record.role == "child"

        # The tap's event run again, as after a worker crash before its acknowledgement.
        runtime.handler()(Entry(event=tap, event_id=tap["webhookEventId"], entry_id="0-1", partition=0, attempt=2,
                                 received_ms=0))
        assert records.month("2026-11")[0].answers == 3

        queue = runtime.queue
        queue.claim(handoff.id, "sato")
        queue.touch(handoff.id, "sato", reply=True)
        closed = queue.close(handoff.id, "sato", CLOSING).handoff
        runtime.send_to_user(closed, "closed")  # the worker's side copies the end into the record
        [record] = wait_for(lambda: [r for r in records.month("2026-11") if r.ended_by == "closed"])
    finally:
        runtime.stop()
    assert len(records.month("2026-11")) == 1
    assert (record.date, record.hour, record.weekday, record.outside_hours) == ("2026-11-25", 15, 2, False)
    assert record.severity in ("high", "critical") and record.reasons == ["self_harm"]
    assert record.handed_off and record.closing == CLOSING and record.closed_at == closed.closed_at
    assert record.wait_seconds == closed.claimed_at - closed.queued_at
    assert record.first_response_seconds == closed.first_reply_at - closed.queued_at
    stored = repr(redis_client.hgetall(runtime.keys.record_doc(record.id)))
    assert "死にたい" not in stored and USER not in stored


def test_an_unfollow_ends_the_consultation(fake_line, bot_env, redis_client):
    bot, runtime = make_bot(fake_line, bot_env, STAFFED)
    try:
        bot.post(bot.event(USER, "follow"))
        bot.answers(USER, 1)
        bot.post(bot.event(USER, "unfollow"))
        [record] = wait_for(lambda: [r for r in runtime.records.month("2026-11") if r.ended_by == "unfollow"])
    finally:
        runtime.stop()
    assert record.answers == 1 and not record.handed_off
