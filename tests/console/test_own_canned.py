"""A counsellor's own canned replies: kept for that account only, listed beside
the desk's shared ones (marked as having no source), at most MAX_OWN each."""

from __future__ import annotations

from bot.console.auditlog import audit_log
from bot.console.own_canned import MAX_OWN
from tests.console.test_api import (  # noqa: F401  (fixtures)
    as_user,
    boss,
    open_chat,
    people,
    runtime,
    sato,
    suzuki,
)


def test_own_replies_are_one_account_s_and_shown_on_its_chat_page(app, runtime, sato, suzuki):
    answer = sato.post("/api/canned/mine", {"title": "月曜日の声かけ", "text": "週末はどうでしたか？"})
    assert answer.status_code == 200
    rid = answer.get_json()["reply"]["id"]
    assert [r["title"] for r in sato.get("/api/canned").get_json()["mine"]] == ["月曜日の声かけ"]
    assert suzuki.get("/api/canned").get_json()["mine"] == []
    h = open_chat(runtime)
    page = sato.get(f"/console/h/{h.id}").get_data(as_text=True)
    assert "★ 月曜日の声かけ" in page and "自分の定型文（出典なし" in page
    assert "月曜日の声かけ" not in suzuki.get(f"/console/h/{h.id}").get_data(as_text=True)
    assert suzuki.post(f"/api/canned/mine/{rid}/delete").status_code == 404, "not hers to delete"
    assert sato.post(f"/api/canned/mine/{rid}/delete").status_code == 200
    assert sato.get("/api/canned").get_json()["mine"] == []
    assert [e.action for e in reversed(audit_log(app).list(who="sato")) if e.action.startswith("canned")] == [
        "canned_add", "canned_delete"]
    assert "週末" not in repr(audit_log(app).list())


def test_own_replies_are_limited_and_checked(sato):
    for n in range(MAX_OWN):
        assert sato.post("/api/canned/mine", {"title": f"t{n}", "text": "x"}).status_code == 200
    full = sato.post("/api/canned/mine", {"title": "one more", "text": "x"})
    assert full.status_code == 409 and full.get_json()["error"] == "full"
    assert sato.post("/api/canned/mine", {"title": "", "text": "x"}).status_code == 400
    assert sato.post("/api/canned/mine", {"title": "a" * 41, "text": "x"}).status_code == 400
