"""Supervisors administer accounts on the web (issue 15): /api/admin/... and /console/admin.

Each action is done, audited (naming the account acted on, never a password or
token), refused to counsellors (403) and anonymous callers (401), and refused
without the session's CSRF token; the last enabled supervisor cannot be
disabled or demoted; a one-time password leads to choosing one's own.
"""

from __future__ import annotations

import re

import pytest

from bot.console.auditlog import audit_log
from tests.console.conftest import PASSWORD, csrf_from, login
from tests.console.test_api import (  # noqa: F401  (fixtures)
    Session,
    as_user,
    boss,
    people,
    runtime,
    sato,
    suzuki,
)

NEW_PASSWORD = "violet-Kettle-river-47"


def audited(app, action: str) -> list:
    return [e for e in audit_log(app).list() if e.action == action]


def no_secret_in_audit(app, *secrets: str) -> None:
    rt = app.extensions["netsoudan.runtime"]
    raw = repr(rt.client.xrange(rt.keys.audit_log()))
    for secret in secrets:
        assert secret not in raw


def test_a_supervisor_adds_a_counsellor_who_must_choose_a_password_at_first_sign_in(app, boss, accounts):
    answer = boss.post("/api/admin/accounts", {"name": "tanaka", "role": "counsellor"})
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    otp = body["one_time_password"]
    assert len(otp) >= 16 and body["account"] == "tanaka"
    assert "一度だけ" in body["message"]
    account = accounts.get("tanaka")
    assert account.role == "counsellor" and account.must_change_password
    [entry] = audited(app, "account_add")
    assert (entry.who, entry.details) == ("boss", {"target": "tanaka", "role": "counsellor"})
    no_secret_in_audit(app, otp)

    # The new counsellor signs in with it and may do nothing but change it.
    client = app.test_client()
    assert login(client, "tanaka", otp).status_code == 302
    assert client.get("/console/").headers["Location"].endswith("/console/password")
    refused = client.get("/api/handoffs?status=waiting")
    assert refused.status_code == 403 and refused.get_json()["error"] == "password_change_required"
    page = client.get("/console/password")
    assert page.status_code == 200 and "一時パスワード" in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    changed = client.post("/console/password", data={"current": otp, "new": NEW_PASSWORD, "again": NEW_PASSWORD,
                                                     "csrf_token": token})
    assert changed.status_code == 200 and "もう一度ログイン" in changed.get_data(as_text=True)
    assert client.get("/api/handoffs?status=waiting").status_code == 401  # that session ended
    assert not accounts.get("tanaka").must_change_password
    again = app.test_client()
    assert login(again, "tanaka", otp).status_code == 401
    assert login(again, "tanaka", NEW_PASSWORD).status_code == 302
    assert again.get("/api/handoffs?status=waiting").status_code == 200
    assert [e.who for e in audited(app, "password_change")] == ["tanaka"]
    no_secret_in_audit(app, otp, NEW_PASSWORD)


@pytest.mark.parametrize("body,status,error", [
    ({"name": "Bad Name", "role": "counsellor"}, 400, "bad_name"),
    ({"name": "ok-name", "role": "admin"}, 400, "bad_role"),
    ({"name": "sato", "role": "counsellor"}, 409, "exists"),
    ({"role": "counsellor"}, 400, "bad_name"),
])
def test_adding_refuses_bad_input_and_changes_nothing(app, boss, accounts, body, status, error):
    before = [a.name for a in accounts.list()]
    answer = boss.post("/api/admin/accounts", body)
    assert (answer.status_code, answer.get_json()["error"]) == (status, error)
    assert [a.name for a in accounts.list()] == before
    assert audited(app, "account_add") == []


def test_disabling_ends_the_sessions_and_enabling_lets_the_old_password_in(app, boss, sato, accounts):
    assert sato.get("/api/handoffs?status=waiting").status_code == 200
    answer = boss.post("/api/admin/accounts/sato/disable")
    assert answer.status_code == 200 and answer.get_json()["sessions_ended"] == 1
    assert accounts.get("sato").disabled
    assert sato.get("/api/handoffs?status=waiting").status_code == 401
    assert boss.post("/api/admin/accounts/sato/enable").status_code == 200
    assert not accounts.get("sato").disabled
    assert sato.get("/api/handoffs?status=waiting").status_code == 401  # the old session stays ended
    assert login(app.test_client(), "sato").status_code == 302
    assert [e.details for e in audited(app, "account_disable")] == [{"target": "sato", "sessions": "1"}]
    assert [e.details for e in audited(app, "account_enable")] == [{"target": "sato"}]


def test_a_password_reset_gives_a_one_time_password_and_ends_the_sessions(app, boss, sato, accounts):
    answer = boss.post("/api/admin/accounts/sato/reset-password")
    assert answer.status_code == 200
    otp = answer.get_json()["one_time_password"]
    assert sato.get("/api/handoffs?status=waiting").status_code == 401
    assert login(app.test_client(), "sato", PASSWORD).status_code == 401
    assert accounts.get("sato").must_change_password
    client = app.test_client()
    assert login(client, "sato", otp).status_code == 302
    assert client.get("/api/queue/version").status_code == 403
    [entry] = audited(app, "password_reset")
    assert entry.details == {"target": "sato", "sessions": "1"}
    no_secret_in_audit(app, otp)


def test_revoking_a_token(app, boss, accounts):
    token = accounts.issue_token("sato")
    bearer = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    assert client.get("/api/handoffs?status=waiting", headers=bearer).status_code == 200
    listed = {a["name"]: a for a in boss.get("/api/admin/accounts").get_json()["accounts"]}
    assert listed["sato"]["token"]["state"] == "valid" and token not in repr(listed)
    answer = boss.post("/api/admin/accounts/sato/revoke-token")
    assert answer.status_code == 200
    assert client.get("/api/handoffs?status=waiting", headers=bearer).status_code == 401
    assert [e.details for e in audited(app, "token_revoke")] == [{"target": "sato", "had_token": "yes"}]
    no_secret_in_audit(app, token)


def test_ending_sessions_and_changing_a_role(app, boss, sato, accounts):
    assert boss.post("/api/admin/accounts/sato/end-sessions").get_json()["sessions_ended"] == 1
    assert sato.get("/api/handoffs?status=waiting").status_code == 401
    assert boss.post("/api/admin/accounts/sato/role", {"role": "supervisor"}).status_code == 200
    assert accounts.get("sato").is_supervisor
    assert boss.post("/api/admin/accounts/sato/role", {"role": "boss"}).status_code == 400
    assert [e.details for e in audited(app, "role_change")] == [{"target": "sato", "role": "supervisor"}]
    assert [e.details for e in audited(app, "end_sessions")] == [{"target": "sato", "sessions": "1"}]


def test_the_last_enabled_supervisor_cannot_be_disabled_or_demoted(app, boss, accounts):
    for path, body in (("disable", {}), ("role", {"role": "counsellor"})):
        answer = boss.post(f"/api/admin/accounts/boss/{path}", body)
        assert (answer.status_code, answer.get_json()["error"]) == (409, "last_supervisor")
    assert accounts.get("boss").is_supervisor and not accounts.get("boss").disabled
    # With a second supervisor, the first may step down.
    assert boss.post("/api/admin/accounts/suzuki/role", {"role": "supervisor"}).status_code == 200
    assert boss.post("/api/admin/accounts/boss/role", {"role": "counsellor"}).status_code == 200
    assert audited(app, "account_disable") == []


def test_the_account_list_and_who_is_signed_in(app, boss, sato, runtime):
    listed = {a["name"]: a for a in boss.get("/api/admin/accounts").get_json()["accounts"]}
    assert set(listed) == {"boss", "gone", "sato", "suzuki"}
    assert listed["sato"]["sessions"] == 1 and listed["sato"]["role_label"] == "相談員"
    assert listed["gone"]["disabled"] and listed["gone"]["state_label"] == "無効"
    assert listed["sato"]["last_login_text"] != "記録なし" and listed["suzuki"]["last_login_text"] == "記録なし"
    duty = boss.get("/api/admin/duty").get_json()
    assert {p["name"] for p in duty["signed_in"]} == {"boss", "sato"}
    assert duty["desk_open"] is True and duty["desk_status"].startswith("受付時間中")  # STAFFED
    assert "勤務表" in duty["basis"] and "14:00〜19:00" in duty["hours_note"]


@pytest.mark.parametrize("method,path", [
    ("get", "/api/admin/accounts"), ("get", "/api/admin/duty"), ("post", "/api/admin/accounts"),
    ("post", "/api/admin/accounts/suzuki/disable"), ("post", "/api/admin/accounts/suzuki/reset-password"),
    ("post", "/api/admin/accounts/suzuki/revoke-token"), ("post", "/api/admin/accounts/suzuki/enable"),
])
def test_counsellors_get_403_and_anonymous_callers_401(app, sato, accounts, method, path):
    body = {"name": "x-new", "role": "supervisor"}
    as_counsellor = sato.get(path) if method == "get" else sato.post(path, body)
    assert as_counsellor.status_code == 403
    anonymous = getattr(app.test_client(), method)(path, json=body)
    assert anonymous.status_code == 401
    assert accounts.get("x-new") is None and not accounts.get("suzuki").disabled
    assert not accounts.get("suzuki").must_change_password


def test_the_page_is_for_supervisors_only(app, sato):
    assert sato.get("/console/admin").status_code == 403
    anonymous = app.test_client().get("/console/admin")
    assert anonymous.status_code == 302 and "/console/login" in anonymous.headers["Location"]


def test_a_post_without_the_csrf_token_is_refused(app, boss, accounts):
    assert boss.post("/api/admin/accounts/sato/disable", csrf=False).status_code == 400
    assert boss.post("/api/admin/accounts", {"name": "x-new", "role": "counsellor"}, csrf=False).status_code == 400
    form = boss.client.post("/console/admin/accounts/sato/disable", data={})
    assert form.status_code == 400
    assert not accounts.get("sato").disabled and accounts.get("x-new") is None
    assert boss.post("/api/admin/accounts/sato/disable").status_code == 200  # with it, done


def test_a_bearer_token_works_without_csrf(app, people, accounts):
    token = accounts.issue_token("boss")
    answer = app.test_client().post("/api/admin/accounts/sato/disable", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    [entry] = audited(app, "account_disable")
    assert entry.via == "token"


def test_the_page_adds_an_account_and_shows_its_one_time_password_once(app, boss, accounts):
    page = boss.get("/console/admin")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "いまの勤務状況" in html and "アカウント一覧" in html
    added = boss.client.post("/console/admin/accounts", data={"name": "tanaka", "role": "counsellor",
                                                             "csrf_token": csrf_from(html)})
    shown = added.get_data(as_text=True)
    otp = re.search(r'id="one-time-password">([^<]+)<', shown).group(1)
    assert accounts.verify("tanaka", otp) is not None
    assert otp not in boss.get("/console/admin").get_data(as_text=True)
    refused = boss.client.post("/console/admin/accounts/boss/disable", data={"csrf_token": csrf_from(html)})
    assert refused.status_code == 409 and "スーパーバイザーがいなくなる" in refused.get_data(as_text=True)


def test_the_header_links_by_role(app, boss, sato):
    for_boss = boss.get("/console/").get_data(as_text=True)
    for link in ('href="/console/report"', 'href="/console/audit"', 'href="/console/admin"', 'id="nav-queue"'):
        assert link in for_boss
    for_sato = sato.get("/console/").get_data(as_text=True)
    assert 'id="nav-queue"' in for_sato and 'href="/console/admin"' not in for_sato
    assert 'href="/console/audit"' not in for_sato
