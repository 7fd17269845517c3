"""Signed webhook → Redis stream → worker → dialogue → the real SDK → LINE (stand-in)."""

from __future__ import annotations

import pytest

from tests.redis_server import on_one_and_cluster

# The conversations run on one redis-server and on a Redis Cluster (issue 16).
pytestmark = on_one_and_cluster

USER = "U" + "a" * 32


def texts(delivery) -> list[str]:
    return [m.get("text", "") for m in delivery.messages if m.get("type") == "text"]


def test_follow_gets_greeting_disclosure_and_first_question(bot):
    assert bot.post(bot.event(USER, "follow")).status_code == 200
    [answer] = bot.answers(USER, 1)
    said = "\n".join(texts(answer))
    assert "ボット" in said and answer.kind == "reply"
    labels = [i["action"]["label"] for i in answer.messages[-1]["quickReply"]["items"]]
    assert "保護者" in labels


def test_crisis_first_reply_carries_the_24_hour_number(bot):
    bot.post(bot.text(USER, "もう死にたい"))
    [answer] = bot.answers(USER, 1)
    assert "0120-0-78310" in texts(answer)[0]


def test_a_redelivered_event_is_answered_once(bot):
    event = bot.event(USER, "follow")
    redelivery = {**event, "deliveryContext": {"isRedelivery": True}}
    assert bot.post(event).status_code == 200
    assert bot.post(redelivery).status_code == 200
    bot.answers(USER, 1)
    bot.post(bot.text(USER, "悪口を書かれた"))
    assert len(bot.answers(USER, 2)) == 2  # the redelivery did not add an answer


def test_old_reply_token_falls_back_to_push_with_retry_key(bot):
    bot.post(bot.event(USER, "follow", fresh=False))
    [answer] = bot.answers(USER, 1)
    assert answer.kind == "push" and answer.retry_key


def test_line_500_twice_then_200_delivers_once(bot):
    bot.line.fail_next(2, status=500, path_prefix="/v2/bot/message/reply")
    bot.post(bot.event(USER, "follow"))
    assert len(bot.answers(USER, 1)) == 1
    bot.settle()  # every retry made: a second delivery would be here now
    assert len(bot.line.deliveries(USER)) == 1


@pytest.mark.parametrize("status", [400, 401])
def test_bad_signature_and_bodies_are_refused(bot, status):
    if status == 400:
        response = bot.post(bot.event(USER, "follow"), secret="not-the-secret")
    else:
        response = bot.client.post("/callback", data=b'{"events": []}')
        status = 400
    assert response.status_code == status
    assert bot.line.deliveries() == []


def test_verify_button(bot):
    assert bot.post(body=b'{"destination":"U0","events":[]}').status_code == 200


# --- every branch of the chart, for a guardian and for a child ------------------------------

BRANCHES = ["talk", "delete", "damages", "danger", "report", "mail", "bill", "security"]


@pytest.mark.parametrize("branch", BRANCHES)
@pytest.mark.parametrize("role", ["role_guardian", "role_child"])
def test_every_branch_ends_at_its_hotline_cards(bot, branch, role):
    from bot.web import dialogue_of

    dialogue = dialogue_of(bot.app)
    user = f"U{abs(hash((branch, role))):032x}"[:33]
    taps = ["t=" + role] + (["t=level_junior_high"] if role == "role_child" else []) + ["t=" + branch]
    bot.post(bot.event(user, "follow"))
    for data in taps:
        bot.post(bot.tap(user, data))
    answers = bot.answers(user, 1 + len(taps))
    final = answers[-1]
    cards = [m for m in final.messages if m.get("type") == "flex"]
    expected = [h.id for h in dialogue.directory.for_branch(branch)]
    assert cards, f"{branch}: no hotline cards"
    alt = cards[0]["altText"]
    for hotline_id in expected:
        name = dialogue.directory.get(hotline_id).name_in("ja_easy" if role == "role_child" else "ja")
        assert name[:8] in alt or any(name[:8] in json_text(m) for m in cards), (branch, hotline_id)
    labels = [i["action"]["label"] for i in final.messages[-1]["quickReply"]["items"]]
    assert any("メニュー" in label or "もどる" in label for label in labels), "a way back to the menu"


def json_text(message) -> str:
    import json

    return json.dumps(message, ensure_ascii=False)


# --- LINE's own recorded bodies --------------------------------------------------------------

def corpus():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "data" / "line_webhooks"
    return [pytest.param(p, id=f"{p.parent.name}/{p.stem}") for p in sorted(root.glob("*/*.json"))]


def restamped(body: bytes) -> bytes:
    """LINE's recorded body with its events dated now: the intake refuses
    events older than the de-duplication window (issue 13), and these must
    still reach the workers."""
    import json
    import time

    try:
        data = json.loads(body)
    except ValueError:
        return body  # a body that is not JSON is refused on its own merits
    for event in data.get("events", []) if isinstance(data, dict) else []:
        if isinstance(event, dict) and "timestamp" in event:
            event["timestamp"] = int(time.time() * 1000)
    return json.dumps(data).encode()


@pytest.mark.parametrize("path", corpus())
def test_every_recorded_body_gets_200_or_a_clear_4xx_and_no_worker_breaks(bot, path, redis_client):
    from bot.web import runtime_of

    response = bot.post(body=restamped(path.read_bytes()))
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    if response.status_code == 400:
        assert response.get_json()["message"]
    runtime = runtime_of(bot.app)
    import time

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        pending = sum(redis_client.xlen(runtime.keys.partition_events(p)) for p in range(runtime.partitions))
        if pending == 0:
            break
        time.sleep(0.05)
    assert pending == 0, "every queued event was handled (or dead-lettered)"
    dead = sum(redis_client.xlen(runtime.keys.partition_dead_letters(p)) for p in range(runtime.partitions))
    assert dead == 0, "no recorded event made the handler fail"
    assert all(t.is_alive() for _, t, _ in runtime._threads), "no worker died"


# --- users, groups, blocking ----------------------------------------------------------------

def test_unfollow_forgets_the_session_and_no_push_follows(bot, redis_client):
    from bot.web import runtime_of

    runtime = runtime_of(bot.app)
    bot.post(bot.event(USER, "follow"))
    bot.answers(USER, 1)
    assert redis_client.exists(runtime.keys.session(USER))
    late = bot.tap(USER, "t=role_guardian", fresh=False)  # would need a push
    bot.post(bot.event(USER, "unfollow"), late)
    import time

    deadline = time.monotonic() + 15
    while redis_client.exists(runtime.keys.session(USER)) or redis_client.xlen(
            runtime.keys.partition_events(runtime_partition(runtime, USER))):
        assert time.monotonic() < deadline, "the unfollow was not handled"
        time.sleep(0.05)
    bot.settle()  # the late tap, queued behind it, has had its turn
    assert len(bot.line.deliveries(USER)) == 1, "nothing pushed to a user who blocked the bot"


def runtime_partition(runtime, user: str) -> int:
    from bot.pipeline.enqueue import partition_for

    return partition_for({"source": {"type": "user", "userId": user}}, runtime.partitions)


def test_group_gets_one_notice_then_the_bot_leaves(bot):
    event = bot.event(USER, "join")
    event["source"] = {"type": "group", "groupId": "C" + "1" * 32}
    bot.post(event)
    import time

    deadline = time.monotonic() + 10
    while not bot.line.left() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bot.line.left() == [("group", "C" + "1" * 32)]
    notices = [c for c in bot.line.calls("/v2/bot/message/reply") if c.status == 200]
    assert len(notices) == 1 and "1対1" in notices[0].body["messages"][0]["text"]


def test_profile_language_is_asked_once_and_used(bot):
    bot.line.add_user(USER, language="en")
    bot.post(bot.event(USER, "follow"))
    [first] = bot.answers(USER, 1)
    assert "bot" in texts(first)[1].lower()
    bot.post(bot.text(USER, "someone posted my photo"))
    bot.answers(USER, 2)
    assert len(bot.line.calls("/v2/bot/profile/")) == 1


def test_a_photo_gets_a_kind_answer_about_evidence(bot):
    bot.post(bot.event(USER, "follow"))
    bot.answers(USER, 1)
    bot.post(bot.event(USER, "message", message={"type": "image", "id": "1", "contentProvider": {"type": "line"}}))
    [_, answer] = bot.answers(USER, 2)
    assert "証拠" in texts(answer)[0]
    assert answer.messages[-1].get("quickReply"), "the conversation keeps going"


def test_body_over_one_megabyte_is_413(bot):
    body = b'{"events": [], "pad": "' + b"x" * (1024 * 1024) + b'"}'
    assert bot.post(body=body).status_code == 413


@pytest.mark.parametrize("body", [b"", b"not json", b'{"events": 3}', b"\xff\xfe", b"[]"])
def test_garbage_signed_correctly_is_400_not_500(bot, body):
    assert bot.post(body=body).status_code == 400


def test_redis_down_is_503(bot, monkeypatch):
    import redis as redis_lib

    from bot.web import runtime_of

    runtime = runtime_of(bot.app)
    down = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2,
                           retry=None)
    monkeypatch.setattr(runtime, "client", down)
    response = bot.post(bot.event(USER, "follow"))
    assert response.status_code == 503


def test_a_line_outage_on_the_profile_call_delays_the_answer_but_never_drops_it(bot, redis_client):
    from bot.web import runtime_of

    bot.line.fail_next(6, status=500, path_prefix="/v2/bot/profile/")  # more than one call's retries
    bot.post(bot.event(USER, "follow"))
    assert len(bot.answers(USER, 1, timeout=60)) == 1
    runtime = runtime_of(bot.app)
    dead = sum(redis_client.xlen(runtime.keys.partition_dead_letters(p)) for p in range(runtime.partitions))
    assert dead == 0
