"""The stand-in's endpoints answer as LINE does where the bot's correctness
depends on it: single-use, 60-second reply tokens; retry keys accepted once
(409 after); a push to a user who blocked the bot accepted but recorded;
profiles and leaving a group or a room."""

from __future__ import annotations

import uuid

from bot.line.standin import INVALID_REPLY_TOKEN
from tests.line.standin.kit import AUTH, TEXT, push, reply


# --- reply tokens ---------------------------------------------------------------------


def test_a_reply_with_an_issued_token_goes_to_the_user_it_was_issued_for(line, client):
    token = line.issue_reply_token("U1")
    response = reply(client, token)
    assert response.status_code == 200
    assert len(response.json["sentMessages"]) == 1
    assert response.headers["X-Line-Request-Id"]
    [delivered] = line.deliveries()
    assert (delivered.kind, delivered.user_id, delivered.messages) == ("reply", "U1", (TEXT,))


def test_a_reply_token_is_single_use(line, client):
    token = line.issue_reply_token("U1")
    assert reply(client, token).status_code == 200
    second = reply(client, token)
    assert second.status_code == 400
    assert second.json == {"message": INVALID_REPLY_TOKEN}
    assert len(line.deliveries()) == 1


def test_an_unknown_reply_token_is_invalid(line, client):
    response = reply(client, "0" * 32)
    assert response.status_code == 400 and response.json["message"] == INVALID_REPLY_TOKEN
    assert line.deliveries() == []


def test_a_reply_token_lives_just_under_a_minute(line, client, clock):
    young = line.issue_reply_token("U1")
    old = line.issue_reply_token("U1")
    clock.advance(59.9)
    assert reply(client, young).status_code == 200
    clock.advance(0.1)
    assert reply(client, old).json == {"message": INVALID_REPLY_TOKEN}


def test_a_token_can_be_issued_in_the_past(line, client, clock):
    token = line.issue_reply_token("U1", issued_at=clock() - 61)
    assert reply(client, token).status_code == 400


def test_a_refused_reply_does_not_spend_the_token(line, client):
    token = line.issue_reply_token("U1")
    assert reply(client, token, messages=[]).status_code == 400
    assert reply(client, token).status_code == 200


def test_a_reply_to_a_group_goes_to_the_group(line, client):
    token = line.issue_reply_token("Cgroup")
    reply(client, token)
    assert line.deliveries()[0].user_id == "Cgroup"


def test_retry_key_on_a_reply_is_refused_like_line(line, client):
    token = line.issue_reply_token("U1")
    response = reply(client, token, headers={**AUTH, "X-Line-Retry-Key": str(uuid.uuid4())})
    assert response.status_code == 400


# --- push and retry keys --------------------------------------------------------------


def test_push_without_retry_key_is_delivered_each_time(line, client):
    assert push(client, "U1").status_code == 200
    assert push(client, "U1").status_code == 200
    assert [d.kind for d in line.deliveries("U1")] == ["push", "push"]


def test_a_retry_key_is_accepted_once_then_409_like_line(line, client):
    key = str(uuid.uuid4())
    first = push(client, "U1", key=key)
    assert first.status_code == 200
    again = push(client, "U1", key=key)
    assert again.status_code == 409
    assert again.json["message"] == "The retry key is already accepted"
    assert again.headers["x-line-accepted-request-id"] == first.headers["X-Line-Request-Id"]
    [delivered] = line.deliveries()
    assert delivered.retry_key == key
    assert [c.status for c in line.calls()] == [200, 409]


def test_a_retry_key_must_be_a_uuid(line, client):
    response = push(client, "U1", key="not-a-uuid")
    assert response.status_code == 400
    assert line.deliveries() == []


def test_a_refused_push_does_not_spend_its_retry_key(line, client):
    key = str(uuid.uuid4())
    assert push(client, "U1", messages=[], key=key).status_code == 400
    assert push(client, "U1", key=key).status_code == 200


def test_push_to_a_user_who_unfollowed_is_accepted_but_recorded(line, client):
    line.add_user("U1")
    line.unfollow("U1")
    assert push(client, "U1").status_code == 200
    assert [d.user_id for d in line.pushes_to_unfollowed()] == ["U1"]
    line.follow("U1")
    push(client, "U1")
    assert len(line.pushes_to_unfollowed()) == 1


# --- profile, leave -------------------------------------------------------------------


def test_profile_of_a_known_user_with_language(line, client):
    line.add_user("U1", display_name="たろう")
    response = client.get("/v2/bot/profile/U1", headers=AUTH)
    assert response.status_code == 200
    assert response.json == {"userId": "U1", "displayName": "たろう", "language": "ja"}
    line.set_language("U1", "en-US")
    assert client.get("/v2/bot/profile/U1", headers=AUTH).json["language"] == "en-US"
    line.set_language("U1", None)
    assert "language" not in client.get("/v2/bot/profile/U1", headers=AUTH).json


def test_a_user_a_token_was_issued_for_is_known(line, client):
    line.issue_reply_token("U9")
    assert client.get("/v2/bot/profile/U9", headers=AUTH).json["language"] == "ja"


def test_profile_of_an_unknown_or_blocking_user_is_404(line, client):
    assert client.get("/v2/bot/profile/Unobody", headers=AUTH).status_code == 404
    line.add_user("U1")
    line.unfollow("U1")
    assert client.get("/v2/bot/profile/U1", headers=AUTH).status_code == 404


def test_leave_group_and_room(line, client):
    assert client.post("/v2/bot/group/G1/leave", headers=AUTH).status_code == 200
    assert client.post("/v2/bot/room/R1/leave", headers=AUTH).json == {}
    assert line.left() == [("group", "G1"), ("room", "R1")]
