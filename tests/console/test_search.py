"""Searching finished chats (GET /api/search): by the pseudonym, a date, the
closing record and the notes for whoever may read the chat; by the transcript
too for supervisors only; audited without the words searched for."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.console.auditlog import audit_log
from dialogs.hours import TOKYO
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


def closed(runtime, by, user=CHILD, said="学校の裏サイトに名前を書かれた", **record):
    h = open_chat(runtime, user)
    runtime.queue.append(h.id, {"from": "user", "kind": "text", "text": said})
    assert by.post(f"/api/handoffs/{h.id}/claim").status_code == 200
    assert by.post(f"/api/handoffs/{h.id}/note", {"text": "部活の先輩とのこと"}).status_code == 200
    assert by.post(f"/api/handoffs/{h.id}/close", {"record": good_record(**record)}).status_code == 200
    return h


def ids(session, q):
    answer = session.get(f"/api/search?q={q}")
    assert answer.status_code == 200, answer.get_json()
    return [h["id"] for h in answer.get_json()["handoffs"]]


def test_a_counsellor_finds_her_finished_chats_by_record_note_pseudonym_and_date(runtime, sato, suzuki):
    mine = closed(runtime, sato, advice="削除依頼の方法を伝えた")
    other = closed(runtime, sato, user=GUARDIAN, advice="警察への相談を勧めた")
    assert ids(sato, "削除依頼") == [mine.id]
    assert ids(sato, "部活 先輩") == [other.id, mine.id]  # the notes; every word must match
    assert ids(sato, mine.user[:8]) == [mine.id]
    day = datetime.fromtimestamp(mine.queued_at, TOKYO)
    assert mine.id in ids(sato, f"{day.month}/{day.day}") and mine.id in ids(sato, day.strftime("%Y-%m-%d"))
    # Suzuki handled neither: Hyogo's policy keeps finished chats to those who did.
    assert ids(suzuki, "削除依頼") == []


def test_only_a_supervisor_searches_what_users_wrote_and_it_is_audited_without_the_words(app, runtime, sato, boss):
    h = closed(runtime, sato)
    assert ids(sato, "裏サイト") == []
    assert ids(boss, "裏サイト") == [h.id]
    entries = [(e.who, e.details) for e in audit_log(app).list(action="search")]
    assert entries == [("boss", {"chats": "1", "transcripts": "yes"}), ("sato", {"chats": "0", "transcripts": "no"})]
    assert "裏サイト" not in repr(audit_log(app).list())


@pytest.mark.parametrize("q", ["", "%20", "x" * 101])
def test_an_empty_or_overlong_search_is_refused(sato, q):
    assert sato.get(f"/api/search?q={q}").status_code == 400
