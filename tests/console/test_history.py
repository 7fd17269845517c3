"""The person's history and the 要フォロー list, through the API on a real redis-server.

The case the console missed: a child's urgent chat is closed with a follow-up,
and the same child writes again a minute later. Whoever takes the new chat must
see that the child was here, what the desk wrote then, and what was promised."""

from __future__ import annotations

import pytest

from bot.console.auditlog import audit_log
from tests.conftest import tokyo
from tests.console.test_api import (  # noqa: F401  (fixtures)
    CHILD,
    GUARDIAN,
    as_user,
    boss,
    good_record,
    open_chat,
    people,
    runtime,
    sato,
    suzuki,
)

def closed_chat(runtime, by, user=CHILD, note="母親には知られたくないと話した", **record):
    h = open_chat(runtime, user)
    assert by.post(f"/api/handoffs/{h.id}/claim").status_code == 200
    assert by.post(f"/api/handoffs/{h.id}/note", {"text": note}).status_code == 200
    answer = by.post(f"/api/handoffs/{h.id}/close", {"record": good_record(**record)})
    assert answer.status_code == 200, answer.get_json()
    return h


def test_the_child_who_comes_back_is_shown_with_what_the_desk_wrote_then(app, runtime, sato, suzuki):
    first = closed_chat(runtime, sato)
    closed_chat(runtime, sato, user=GUARDIAN, note="別の人のメモ")
    again = open_chat(runtime)
    listed = {h["id"]: h for h in suzuki.get("/api/handoffs?status=waiting").get_json()["handoffs"]}
    assert listed[again.id]["earlier"] == 1 and listed[again.id]["earlier_follow_up"] is True

    answer = suzuki.get(f"/api/handoffs/{again.id}/history")
    assert answer.status_code == 200
    [earlier] = answer.get_json()["history"]
    assert earlier["id"] == first.id and earlier["url"] == f"/console/h/{first.id}"
    assert earlier["severity_label"] and earlier["category_label"] and earlier["closed_by"] == "sato"
    assert earlier["counsellors"] == ["sato"]
    assert [n["text"] for n in earlier["notes"]] == ["母親には知られたくないと話した"]
    assert earlier["record"]["advice"] == good_record()["advice"]
    assert earlier["follow_up"] == {"text": "明日14時に様子を確認する", "due": "2026-11-28", "open": True,
                                    "done_at": None, "done_by": None, "label": "要フォロー"}
    # suzuki did not handle the earlier chat: its transcript stays closed to them (Hyogo's policy).
    assert earlier["can_read"] is False
    assert suzuki.get(f"/console/h/{first.id}").status_code == 403


def test_reading_the_history_is_audited_once_a_quarter_hour(app, runtime, sato, suzuki):
    closed_chat(runtime, sato)
    again = open_chat(runtime)
    for _ in range(3):
        assert suzuki.get(f"/api/handoffs/{again.id}/history").status_code == 200
    found = audit_log(app).list(action="view_history")
    assert [(e.who, e.handoff_id, e.details) for e in found] == [("suzuki", again.id, {"chats": "1"})]


def test_the_history_follows_the_read_policy_of_the_chat_it_is_asked_on(runtime, sato, suzuki, boss):
    closed_chat(runtime, sato)
    again = open_chat(runtime)
    assert sato.post(f"/api/handoffs/{again.id}/claim").status_code == 200
    assert suzuki.get(f"/api/handoffs/{again.id}/history").status_code == 403
    assert boss.get(f"/api/handoffs/{again.id}/history").status_code == 200


def test_chats_opened_before_the_index_existed_are_found(runtime, sato, suzuki):
    first = closed_chat(runtime, sato)
    again = open_chat(runtime)
    keys = runtime.keys
    runtime.client.delete(keys.handoff_history(), keys.handoff_history_indexed())
    runtime.queue._history_indexed = False  # as a process started before the upgrade
    [earlier] = suzuki.get(f"/api/handoffs/{again.id}/history").get_json()["history"]
    assert earlier["id"] == first.id
    assert runtime.client.exists(keys.handoff_history_indexed())


def test_the_follow_up_list_is_the_desk_s_until_someone_marks_it_done(app, runtime, sato, suzuki, boss):
    later = closed_chat(runtime, sato, user=GUARDIAN,
                        follow_up={"needed": True, "text": "学校に連絡する", "due": "2026-12-01"})
    sooner = closed_chat(runtime, sato)  # due three days after closing
    closed_chat(runtime, sato, user="U" + "9" * 32, follow_up={"needed": False, "text": ""})
    listed = suzuki.get("/api/follow-ups").get_json()["follow_ups"]
    assert [(f["id"], f["due"], f["text"]) for f in listed] == [
        (sooner.id, "2026-11-28", "明日14時に様子を確認する"), (later.id, "2026-12-01", "学校に連絡する")]
    assert listed[0]["overdue"] is False and listed[0]["closed_by"] == "sato"

    answer = suzuki.post(f"/api/handoffs/{sooner.id}/follow-up/done")
    assert answer.status_code == 200
    assert [f["id"] for f in suzuki.get("/api/follow-ups").get_json()["follow_ups"]] == [later.id]
    again = boss.post(f"/api/handoffs/{sooner.id}/follow-up/done")
    assert again.status_code == 409 and again.get_json()["error"] == "not_pending"
    done = runtime.queue.get(sooner.id)
    assert done.follow_up_done_by == "suzuki" and done.follow_up_done_at is not None
    assert [e.who for e in audit_log(app).list(action="follow_up_done")] == ["suzuki"]
    # The history of the child's next chat says it was done, and by whom.
    nxt = open_chat(runtime)
    [earlier] = boss.get(f"/api/handoffs/{nxt.id}/history").get_json()["history"]
    assert earlier["follow_up"]["open"] is False and earlier["follow_up"]["done_by"] == "suzuki"
    assert earlier["follow_up"]["label"] == "フォロー済み"


def test_an_overdue_follow_up_says_so(runtime, sato, suzuki):
    h = closed_chat(runtime, sato)
    runtime.clock = lambda: tokyo("2026-11-30 10:00")
    [f] = suzuki.get("/api/follow-ups").get_json()["follow_ups"]
    assert f["id"] == h.id and f["overdue"] is True


@pytest.mark.parametrize("due,problem", [("2026-11-24", "今日から"), ("2027-06-01", "今日から"),
                                         ("25/11/2026", "YYYY-MM-DD"), (20261130, "YYYY-MM-DD")])
def test_a_follow_up_due_day_must_be_a_day_ahead(runtime, sato, due, problem):
    h = open_chat(runtime)
    sato.post(f"/api/handoffs/{h.id}/claim")
    answer = sato.post(f"/api/handoffs/{h.id}/close",
                       {"record": good_record(follow_up={"needed": True, "text": "電話する", "due": due})})
    assert answer.status_code == 400 and problem in answer.get_json()["message"]
    assert runtime.queue.get(h.id).status == "claimed"


def test_a_follow_up_not_asked_for_is_not_on_the_list(runtime, sato):
    h = closed_chat(runtime, sato, follow_up={"needed": False, "text": ""})
    assert sato.get("/api/follow-ups").get_json()["follow_ups"] == []
    assert sato.post(f"/api/handoffs/{h.id}/follow-up/done").status_code == 409


def test_a_closed_chat_whose_record_has_no_follow_up_field_still_opens(runtime, sato):
    # A record written by a script (queue.close) rather than the console's form.
    h = open_chat(runtime)
    runtime.queue.claim(h.id, "sato")
    runtime.queue.close(h.id, "sato", {"role": "child", "category": "self_harm"})
    page = sato.get(f"/console/h/{h.id}")
    assert page.status_code == 200 and "不要" in page.get_data(as_text=True)
