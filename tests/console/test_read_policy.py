"""Issue 13, finding 5: who may read a chat follows the deployment profile's read policy.

Hyogo's (and the default): a waiting chat is read by counsellors on duty (the
desk's staffed hours, 15 minutes either side) and supervisors; a claimed one by
its holder and supervisors; a closed one by those who handled it (took it, were
handed it, closed it) and supervisors. Transcript, images, the chat page and a
teacher's identity all follow it; reads that happen are audited as before.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.console.auditlog import audit_log
from tests.conftest import tokyo
from tests.console.test_api import (  # noqa: F401  (fixtures)
    GUARDIAN,
    TEACHER,
    STAFFED,
    Session,
    as_user,
    boss,
    good_record,
    open_chat,
    people,
    runtime,
    sato,
    suzuki,
)
from tests.console.conftest import login

#: Sunday: the Hyogo desk is closed all day.
OFF_DUTY = tokyo("2026-11-29 15:00")
PNG = b"\x89PNG\r\n\x1a\nfake"


def reads(session: Session, hid: str) -> tuple[int, int, int]:
    """Status of the transcript, an image and the chat page for ``session``."""
    return (session.get(f"/api/handoffs/{hid}").status_code,
            session.get(f"/api/handoffs/{hid}/images/1").status_code,
            session.get(f"/console/h/{hid}").status_code)


def viewed(app, hid: str) -> list[str]:
    return [e.who for e in audit_log(app).list(handoff_id=hid, action="view_transcript")]


def test_a_waiting_chat_is_read_by_counsellors_on_duty_and_supervisors(app, runtime, sato, boss):
    h = open_chat(runtime)
    runtime.queue.add_image(h.id, PNG, "image/png")
    assert reads(sato, h.id) == (200, 200, 200), "on duty (Wednesday 15:00)"
    runtime.clock = lambda: OFF_DUTY
    assert reads(sato, h.id) == (403, 403, 403), "off duty: a counsellor reads no waiting chat"
    refused = sato.get(f"/api/handoffs/{h.id}").json
    assert refused["error"] == "not_allowed" and "受付時間中" in refused["message"]
    # Taking it would show it: refused too, and nothing changed.
    assert sato.post(f"/api/handoffs/{h.id}/claim").status_code == 403
    assert runtime.queue.get(h.id).status == "waiting"
    assert reads(boss, h.id) == (200, 200, 200), "a supervisor reads at any hour"
    # Every read that happened is audited, the refused ones are not reads.
    assert sorted(set(viewed(app, h.id))) == ["boss", "sato"]
    # The page and the transcript it loads are one read; the image is another.
    assert viewed(app, h.id).count("sato") == 2


@pytest.mark.parametrize("at,on_duty", [("2026-11-25 13:44", False), ("2026-11-25 13:46", True),
                                        ("2026-11-25 19:14", True), ("2026-11-25 19:16", False)])
def test_on_duty_is_the_desks_hours_with_hyogos_margin(runtime, sato, at, on_duty):
    h = open_chat(runtime)
    runtime.clock = lambda: tokyo(at)
    assert sato.get(f"/api/handoffs/{h.id}").status_code == (200 if on_duty else 403)


def test_a_claimed_chat_is_read_by_its_holder_and_supervisors(runtime, sato, suzuki, boss):
    h = open_chat(runtime)
    runtime.queue.add_image(h.id, PNG, "image/png")
    assert sato.post(f"/api/handoffs/{h.id}/claim").status_code == 200
    assert reads(sato, h.id) == (200, 200, 200)
    assert reads(suzuki, h.id) == (403, 403, 403), "another counsellor, on duty, may not read it"
    assert "sato" in suzuki.get(f"/api/handoffs/{h.id}").json["message"]
    assert reads(boss, h.id) == (200, 200, 200)
    # Handed on: the new holder reads it, the one who handed it on no longer does.
    assert sato.post(f"/api/handoffs/{h.id}/transfer", {"to": "suzuki"}).status_code == 200
    assert reads(suzuki, h.id) == (200, 200, 200)
    assert reads(sato, h.id) == (403, 403, 403)


def test_a_closed_chat_is_read_by_those_who_handled_it_and_supervisors(runtime, sato, suzuki, boss):
    h = open_chat(runtime)
    other = open_chat(runtime, GUARDIAN, role="guardian", category="delete", urgent=False, severity=None,
                      reasons=[])
    assert sato.post(f"/api/handoffs/{h.id}/claim").status_code == 200
    assert sato.post(f"/api/handoffs/{h.id}/transfer", {"to": "suzuki"}).status_code == 200
    assert suzuki.post(f"/api/handoffs/{h.id}/close", {"record": good_record()}).status_code == 200
    assert suzuki.post(f"/api/handoffs/{other.id}/claim").status_code == 200
    assert suzuki.post(f"/api/handoffs/{other.id}/close", {"record": good_record(role="guardian")}).status_code == 200
    assert runtime.queue.get(h.id).handlers == ("sato", "suzuki")
    # Later, off duty: those who handled it still read it; nobody else does.
    runtime.clock = lambda: OFF_DUTY
    assert sato.get(f"/api/handoffs/{h.id}").status_code == 200, "took it, then handed it on"
    assert suzuki.get(f"/api/handoffs/{h.id}").status_code == 200, "closed it"
    assert sato.get(f"/api/handoffs/{other.id}").status_code == 403, "never handled it"
    assert sato.get(f"/console/h/{other.id}").status_code == 403
    assert boss.get(f"/api/handoffs/{other.id}").status_code == 200
    # The list of closed chats is the reader's own.
    listed = {name: [x["id"] for x in who.get("/api/handoffs?status=closed").json["handoffs"]]
              for name, who in (("sato", sato), ("suzuki", suzuki), ("boss", boss))}
    assert listed == {"sato": [h.id], "suzuki": [other.id, h.id], "boss": [other.id, h.id]}


def test_a_teachers_identity_is_listed_only_to_those_who_may_read_the_chat(runtime, sato, boss):
    teacher = open_chat(runtime, TEACHER, role="teacher", category="delete", urgent=False, severity=None,
                        reasons=[], identity="県立○○高校の山田です")
    [row] = sato.get("/api/handoffs?status=waiting").json["handoffs"]
    assert row["identity"] == "県立○○高校の山田です" and row["can_read"] is True
    runtime.clock = lambda: OFF_DUTY
    [row] = sato.get("/api/handoffs?status=waiting").json["handoffs"]
    assert row["id"] == teacher.id and row["identity"] is None and row["can_read"] is False
    [row] = boss.get("/api/handoffs?status=waiting").json["handoffs"]
    assert row["identity"] == "県立○○高校の山田です"


def test_the_policy_is_the_profiles(make_console_app, people, tmp_path: Path):
    """A deployment that lets every counsellor read finished chats says so in its profile."""
    hyogo = Path(__file__).resolve().parents[2] / "resources" / "profiles" / "hyogo.yaml"
    data = yaml.safe_load(hyogo.read_text(encoding="utf-8"))
    data["id"] = "hyogo_open"
    data["read_policy"] = {"closed": ["counsellors"]}
    path = tmp_path / "hyogo_open.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    app = make_console_app(BOT_PROFILE=str(path))
    from bot.web import runtime_of

    runtime_of(app).clock = lambda: STAFFED
    policy = runtime_of(app).dialogue.directory.profile.read_policy
    assert policy.closed == ("counsellors",) and policy.waiting == ("on_duty", "supervisors")
    sessions = {}
    for name in ("sato", "suzuki"):
        client = app.test_client()
        assert login(client, name).status_code == 302
        sessions[name] = Session(client)
    h = open_chat(runtime_of(app))
    assert sessions["sato"].post(f"/api/handoffs/{h.id}/claim").status_code == 200
    assert sessions["suzuki"].get(f"/api/handoffs/{h.id}").status_code == 403  # claimed: the default
    assert sessions["sato"].post(f"/api/handoffs/{h.id}/close", {"record": good_record()}).status_code == 200
    assert sessions["suzuki"].get(f"/api/handoffs/{h.id}").status_code == 200  # closed: this profile's


def test_a_profile_naming_an_unknown_reader_does_not_load(tmp_path: Path):
    from dialogs.directory import DirectoryError, load_directory

    hyogo = Path(__file__).resolve().parents[2] / "resources" / "profiles" / "hyogo.yaml"
    data = yaml.safe_load(hyogo.read_text(encoding="utf-8"))
    data["read_policy"] = {"closed": ["everyone"]}
    path = tmp_path / "hyogo.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DirectoryError, match="read_policy"):
        load_directory(path)
