"""Many users at once, several workers, a worker killed: every answer once, in order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.service import ConsultationService
from bot.storage import MemoryStorage
from dialogs.engine import Event
from tests.e2e.conftest import Bot

ROOT = Path(__file__).resolve().parents[2]
#: Each answer's first text depends on the one before: processed out of order,
#: a tap lands in the wrong state and the answer differs.
SCRIPT = ["follow", "t=role_guardian", "t=delete", "t=menu", "t=mail", "t=menu", "t=bill", "t=menu",
          "t=security", "t=menu"]


def expected_first_texts(dialogue) -> list[str]:
    service = ConsultationService(dialogue, MemoryStorage())
    out = []
    for step in SCRIPT:
        event = Event("follow") if step == "follow" else Event("postback", data=step)
        out.append(service.handle("U-expected", event).texts[0])
    return out


def send_script(bot: Bot, users: list[str]) -> None:
    """Interleave users: message k of every user, then message k+1, one webhook call each."""
    for step in SCRIPT:
        for user in users:
            event = bot.event(user, "follow") if step == "follow" else bot.tap(user, step)
            assert bot.post(event).status_code == 200


def check(bot: Bot, users: list[str], expected: list[str], timeout: float) -> None:
    try:
        bot.line.wait_for_deliveries(len(users) * len(SCRIPT), timeout=timeout)
    except TimeoutError:
        pass  # the per-user check below says whose answers are missing
    bot.settle()  # every event handled: any duplicate has shown up
    for user in users:
        got = [d.messages[0]["text"] for d in bot.line.deliveries(user)]
        assert got == expected, f"answers of one user missing, doubled or out of order: {len(got)} answers"


def test_two_workers_200_users_10_messages_each(bot, monkeypatch):
    from bot.web import dialogue_of

    users = [f"U{n:032x}" for n in range(200)]
    send_script(bot, users)
    check(bot, users, expected_first_texts(dialogue_of(bot.app)), timeout=120)
    assert bot.line.unexpected() == []


@pytest.fixture
def webhook_only(fake_line, bot_env):
    """The web app without worker threads: workers are separate processes here."""
    from bot.web import create_app, runtime_of

    app = create_app({"TESTING": True, **bot_env})
    yield Bot(app, app.test_client(), fake_line), bot_env
    runtime_of(app).stop()


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "bot", "worker"], cwd=ROOT,
                                env={**os.environ, **env},
                                stdout=out, stderr=subprocess.STDOUT)


def test_a_worker_killed_mid_batch_leaves_every_event_answered_exactly_once(webhook_only, tmp_path):
    from bot.web import dialogue_of

    bot, env = webhook_only
    users = [f"U{n:032x}" for n in range(100)]
    send_script(bot, users)  # 1,000 events queued
    log = tmp_path / "workers.log"
    first = start_worker(env, log)
    try:
        deadline = time.monotonic() + 60
        while len(bot.line.deliveries()) < 150:
            assert first.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "the worker answered nothing"
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait()
        second = start_worker(env, log)
        try:
            check(bot, users, expected_first_texts(dialogue_of(bot.app)), timeout=120)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    assert bot.line.unexpected() == []
