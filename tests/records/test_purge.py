"""The retention purge: transcripts, images and identities of old handoffs go,
records and the handoffs' closing records stay, a second run removes nothing;
and the purge and clock commands against a real redis-server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import fakeredis
import pytest

from bot.handoff.queue import HandoffQueue
from bot.records.book import RecordBook
from bot.records.purge import DAY, purge, runs
from bot.storage.keys import KeyBuilder
from dialogs.reply import Reply
from tests.conftest import tokyo
from tests.redis_server import on_one_and_cluster

ROOT = Path(__file__).resolve().parents[2]
T0 = tokyo("2025-10-01 15:00").timestamp()
RECORD = {"role": "teacher", "category": "delete", "advice": "a", "referred": [], "school_contact_agreed": "yes",
          "follow_up": {"needed": False, "text": ""}}


def handoff_closed_at(client, keys, user, closed_at, images=2):
    now = [closed_at - 600]
    queue = HandoffQueue(client, keys, clock=lambda: now[0])
    book = RecordBook(client, keys)
    from datetime import datetime
    from dialogs.hours import TOKYO
    book.note_answer(user, Reply(texts=(), cards=(), choices=(), state="s", lang="ja", branch="delete",
                                 handoff=True), datetime.fromtimestamp(now[0], TOKYO), True, "e")
    h = queue.open(user, role="teacher", level=None, lang="ja", category="delete", urgent=False, severity=None,
                   reasons=[], identity="○○中学校 山田先生")
    book.note_handoff(user, h)
    queue.append(h.id, {"from": "user", "kind": "text", "text": "消してほしい"})
    for _ in range(images):
        queue.add_image(h.id, b"\x89PNG...", "image/png")
    queue.claim(h.id, "sato")
    now[0] = closed_at
    closed = queue.close(h.id, "sato", RECORD).handoff
    book.handoff_ended(closed)
    return queue, h.id


@pytest.fixture
def store():
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    return client, KeyBuilder(secret=b"purge-test-pseudonym-secret-0123")


def test_purge_removes_old_transcripts_images_identities_once_and_keeps_records(store):
    client, keys = store
    queue, old = handoff_closed_at(client, keys, "U" + "a" * 32, T0)
    _, recent = handoff_closed_at(client, keys, "U" + "b" * 32, T0 + 300 * DAY)
    record_keys = sorted(client.keys(keys.records_open().rsplit(":", 1)[0] + ":*"))
    before = {k: client.hgetall(k) for k in record_keys if client.type(k) == b"hash"}
    now = T0 + 400 * DAY  # 'old' is 400 days closed, 'recent' 100
    run = purge(client, keys, 365, now)
    assert (run.handoffs, run.transcripts, run.images, run.identities) == (1, 1, 2, 1)
    assert queue.transcript(old) == [] and queue.image(old, 1) is None and queue.image(old, 2) is None
    kept = queue.get(old)
    assert kept.identity is None and kept.record == RECORD and kept.status == "closed"
    assert kept.line_user == "" and kept.user, "the raw LINE id goes, the pseudonym stays"
    assert queue.transcript(recent) and queue.image(recent, 1) and queue.get(recent).identity
    assert queue.get(recent).line_user == "U" + "b" * 32
    again = purge(client, keys, 365, now + 60)
    assert (again.handoffs, again.transcripts, again.images, again.identities) == (0, 0, 0, 0)
    assert {k: client.hgetall(k) for k in record_keys if client.type(k) == b"hash"} == before
    assert sorted(client.keys(keys.records_open().rsplit(":", 1)[0] + ":*")) == sorted(record_keys + [keys.records_purges().encode()])
    assert [(r.at, r.cutoff, r.handoffs) for r in runs(client, keys)] == [
        (now, now - 365 * DAY, 1), (now + 60, now + 60 - 365 * DAY, 0)]


def test_retention_days_must_be_a_positive_int(store):
    client, keys = store
    with pytest.raises(ValueError):
        purge(client, keys, 0)


def _env(redis_settings):
    return {**os.environ, **redis_settings, "BOT_ID_SECRET": "cli-purge-secret-0123456789abcdef",
            "BOT_CONSOLE_SECRET": "cli-console-secret-0123456789abcdef",
            "BOT_DATA_KEY": "dGVzdC1kYXRhLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDE=",
            "LINE_CHANNEL_SECRET": "x" * 32, "LINE_CHANNEL_ACCESS_TOKEN": "y" * 32}


@pytest.mark.e2e  # starts `python -m bot purge`
@on_one_and_cluster
def test_purge_command_purges_as_of_now_and_says_what_it_removed(redis_settings, redis_client):
    keys = KeyBuilder(secret=b"cli-purge-secret-0123456789abcdef")
    queue, old = handoff_closed_at(redis_client, keys, "U" + "c" * 32, T0)
    args = [sys.executable, "-m", "bot", "purge", "--now", "2026-11-30T12:00+09:00"]
    done = subprocess.run(args, cwd=ROOT, env=_env(redis_settings), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "1 purged, 1 transcripts, 2 images, 1 identities" in done.stderr
    assert queue.transcript(old) == []
    done = subprocess.run(args, cwd=ROOT, env=_env(redis_settings), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "0 purged" in done.stderr
    assert len(runs(redis_client, keys)) == 2


@pytest.mark.e2e  # starts `python -m bot purge`
def test_purge_command_without_redis_is_one_line_and_exit_2():
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    done = subprocess.run([sys.executable, "-m", "bot", "purge"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "REDIS_URL" in done.stderr


@pytest.mark.e2e  # starts `python -m bot clock`
@on_one_and_cluster
def test_clock_purges_at_once_and_stops_on_sigterm(redis_settings, redis_client, tmp_path):
    keys = KeyBuilder(secret=b"cli-purge-secret-0123456789abcdef")
    log = tmp_path / "clock.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "bot", "clock"], cwd=ROOT, env=_env(redis_settings),
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not runs(redis_client, keys):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert "clock: stopped" in log.read_text()
