"""`python -m bot serve`, the newcomer's one command, as a process: the chat page,
two throw-away console accounts (printed last, after a quiet start), since the
in-process store cannot be reached by `python -m bot users`; and `--at`, which
sets the clock so the counsellors' side can be seen at any hour."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from dialogs.hours import TOKYO
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]
START_DEADLINE = 60.0
ANSWER_DEADLINE = 20.0
SUNDAY_NIGHT = "2026-12-06T23:30+09:00"
WEEKDAY_AFTERNOON = "2026-12-07T14:00+09:00"
PASSWORD_LINE = re.compile(r"(\w+)\s+user (\S+), password (\S+?);")

pytestmark = pytest.mark.e2e  # starts `python -m bot serve`


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    process: subprocess.Popen
    base: str
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "".join(self.lines)

    def accounts(self) -> dict[str, tuple[str, str]]:
        """name -> (role, password), as printed."""
        return {name: (role, password) for role, name, password in PASSWORD_LINE.findall(self.output())}


def _read(served: Served) -> None:
    for line in served.process.stdout:
        served.lines.append(line)


@pytest.fixture
def serve(tmp_path):
    started: list[Served] = []

    def start(*options: str) -> Served:
        port = _free_port()
        env = {k: v for k, v in os.environ.items()
               if k not in ("REDIS_URL", "LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN", "LINE_API_BASE_URL",
                            "PORT", "BOT_LOG_LEVEL")}
        env.update(BOT_CATALOG_CACHE=str(tmp_path / "mo"), PYTHONUNBUFFERED="1")
        process = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", str(port), *options],
                                   cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        served = Served(process, f"http://127.0.0.1:{port}")
        started.append(served)
        threading.Thread(target=_read, args=(served,), daemon=True).start()
        wait_until(lambda: len(served.accounts()) == 2 or process.poll() is not None, START_DEADLINE,
                   "the console accounts to be printed")
        assert process.poll() is None, served.output()
        return served

    yield start
    for served in started:
        served.process.send_signal(signal.SIGTERM)
        try:
            served.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            served.process.kill()


def _login(base: str, name: str, password: str) -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/console/login", timeout=10).read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrf_token": csrf, "name": name, "password": password}).encode()
    landed = opener.open(f"{base}/console/login", data=form, timeout=10)
    assert landed.status == 200 and landed.url.rstrip("/").endswith("/console")
    assert "ログアウト" in landed.read().decode()
    return opener


def _post(url: str, body: bytes, headers: dict[str, str]) -> bytes:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def _say(base: str, user: str, since: int, **what: str) -> list[dict]:
    """What the chat page does for one action; the bot's messages that answer it."""
    signed = json.loads(_post(f"{base}/local/event", json.dumps({"user": user, **what}).encode(),
                              {"Content-Type": "application/json"}))
    _post(f"{base}/callback", signed["body"].encode("utf-8"),
          {"Content-Type": "application/json", "X-Line-Signature": signed["signature"]})

    def answered() -> list[dict]:
        with urllib.request.urlopen(f"{base}/local/messages?user={user}&since={since}", timeout=10) as r:
            return json.loads(r.read())["messages"]

    return wait_until(answered, ANSWER_DEADLINE, "the bot's answer")


def test_serve_prints_the_chat_page_and_two_console_logins_that_work_last(serve):
    served = serve()
    out = served.output()
    assert f"{served.base}/" in out and "NOTHING IS DURABLE" in out
    accounts = served.accounts()
    assert {name: role for name, (role, _) in accounts.items()} == {"demo": "supervisor", "sato": "counsellor"}
    for name, (_, password) in accounts.items():
        _login(served.base, name, password)
    _say(served.base, "U" + "1" * 32, 0, kind="follow")

    # Quiet: after the passwords nothing was written, though pages were served and
    # the workers answered; the start-up lines all came before them.
    lines = [line for line in served.output().splitlines() if line.strip()]
    last = max(i for i, line in enumerate(lines) if PASSWORD_LINE.search(line))
    assert last == len(lines) - 1, lines[last:]
    assert max(i for i, line in enumerate(lines) if line.startswith("start-up:")) < last
    assert not any("GET /" in line or "POST /" in line for line in lines), lines


def test_serve_at_a_sunday_night_says_the_desk_is_closed(serve):
    served = serve("--at", SUNDAY_NIGHT)
    assert "start-up: the clock starts at 2026-12-06T23:30+09:00 and runs on" in served.output()
    user = "U" + "2" * 32
    shown = len(_say(served.base, user, 0, kind="follow"))
    answer = json.dumps(_say(served.base, user, shown, kind="text", text="相談員と話したい"), ensure_ascii=False)
    assert "受付時間外" in answer and "明日 14:00から" in answer

    # A child in danger is queued whatever the hour; the console counts from the same clock.
    _say(served.base, "U" + "4" * 32, 0, kind="text", text="もう死にたい")
    at = datetime.fromisoformat(SUNDAY_NIGHT).timestamp()
    _, password = served.accounts()["demo"]
    waiting = json.loads(_login(served.base, "demo", password)
                         .open(f"{served.base}/api/handoffs?status=waiting", timeout=10).read())
    (handoff,) = waiting["handoffs"]
    assert at <= handoff["queued_at"] <= waiting["now"] < at + START_DEADLINE + 2 * ANSWER_DEADLINE
    assert handoff["waiting_seconds"] == int(waiting["now"] - handoff["queued_at"])


def test_serve_at_a_weekday_afternoon_hands_over_to_a_person_and_the_console_agrees(serve):
    served = serve("--at", WEEKDAY_AFTERNOON, "--freeze")
    at = datetime.fromisoformat(WEEKDAY_AFTERNOON).astimezone(TOKYO).timestamp()
    user = "U" + "3" * 32
    greeting = _say(served.base, user, 0, kind="follow")
    assert "相談員と話したい" in json.dumps(greeting, ensure_ascii=False)  # offered while on duty
    answer = json.dumps(_say(served.base, user, len(greeting), kind="text", text="相談員と話したい"),
                        ensure_ascii=False)
    assert "相談員につなぎます" in answer and "1番目" in answer

    _, password = served.accounts()["sato"]
    console = _login(served.base, "sato", password)
    waiting = json.loads(console.open(f"{served.base}/api/handoffs?status=waiting", timeout=10).read())
    (handoff,) = waiting["handoffs"]
    # The clock stands at the instant: queued then, seen then, so waited nothing at all.
    assert waiting["now"] == at and handoff["queued_at"] == at and handoff["waiting_seconds"] == 0


def test_freeze_without_at_is_refused():
    done = subprocess.run([sys.executable, "-m", "bot", "serve", "--freeze"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--at" in done.stderr


def test_at_without_an_offset_is_refused():
    done = subprocess.run([sys.executable, "-m", "bot", "serve", "--at", "2026-12-07T14:00"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "UTC offset" in done.stderr
