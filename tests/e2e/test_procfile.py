"""The Procfile's web: and worker: lines, run as they are, hold a conversation.

gunicorn serves the webhook, `python -m bot worker` answers, a real redis-server
carries the queue, the stand-in LINE API receives the answers. The webhooks are
signed HTTP requests, as LINE sends them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.conftest import sign

ROOT = Path(__file__).resolve().parents[2]
USER = "U" + "c" * 32


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text(encoding="utf-8").splitlines()
    return {k.strip(): v.strip() for k, v in (l.split(":", 1) for l in lines if l.strip() and not l.startswith("#"))}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port: int, events: list[dict]) -> int:
    body = json.dumps({"destination": "U0", "events": events}, ensure_ascii=False).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/callback", data=body, method="POST",
                                     headers={"X-Line-Signature": sign(body), "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@contextmanager
def processes_running(commands: dict[str, tuple[str, dict[str, str]]], web_ports: list[int],
                      tmp_path: Path) -> Iterator[dict[str, Path]]:
    """Each ``name: (command line, environment)`` started as a Procfile line is (``exec``
    under bash, from the project root), until the webhook on every one of ``web_ports``
    answers LINE's verify button; stopped with SIGTERM (then killed) on the way out.
    Yields the log file of each process."""
    processes: dict[str, subprocess.Popen] = {}
    logs: dict[str, Path] = {}
    try:
        for name, (command, env) in commands.items():
            logs[name] = tmp_path / f"{name}.log"
            with logs[name].open("wb") as out:
                processes[name] = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=ROOT, env=env,
                                                   stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        waiting = list(web_ports)
        while waiting:
            for name, process in processes.items():
                assert process.poll() is None, f"{name} exited:\n{logs[name].read_text(errors='replace')}"
            try:
                if post(waiting[0], []) == 200:  # LINE's verify button
                    waiting.pop(0)
                    continue
            except OSError:
                pass
            assert time.monotonic() < deadline, "\n".join(
                f"{name}:\n{log.read_text(errors='replace')}" for name, log in logs.items())
            time.sleep(0.2)
        yield logs
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def procfile_running(env: dict[str, str], port: int, tmp_path: Path) -> Iterator[dict[str, Path]]:
    """Every Procfile line started as written, one process each, web on ``port``
    (see processes_running). Yields the log file of each process."""
    lines = procfile()
    assert set(lines) == {"web", "worker", "clock"}
    with processes_running({name: (command, env) for name, command in lines.items()}, [port], tmp_path) as logs:
        yield logs


def procfile_env(port: int, bot_env: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PORT": str(port),
        **bot_env,
    }


def test_procfile_processes_hold_a_conversation(fake_line, bot_env, tmp_path):
    port = free_port()

    def event(kind: str, **fields) -> dict:
        return {"type": kind, "mode": "active", "timestamp": int(time.time() * 1000),
                "source": {"type": "user", "userId": USER}, "webhookEventId": f"01PROC{time.time_ns()}",
                "deliveryContext": {"isRedelivery": False},
                "replyToken": fake_line.issue_reply_token(USER), **fields}

    with procfile_running(procfile_env(port, bot_env), port, tmp_path) as logs:
        assert post(port, [event("follow")]) == 200
        fake_line.wait_for_deliveries(1, user_id=USER, timeout=30)
        assert post(port, [event("postback", postback={"data": "t=role_guardian"})]) == 200
        fake_line.wait_for_deliveries(2, user_id=USER, timeout=30)
        assert post(port, [event("message", message={"type": "text", "id": "1", "text": "身に覚えのない請求が来た"})]) == 200
        answers = fake_line.wait_for_deliveries(3, user_id=USER, timeout=30)
        assert "188" in json.dumps(answers[-1].messages, ensure_ascii=False)
        log_text = "".join(p.read_text(errors="replace") for p in logs.values())
        assert USER not in log_text and "請求" not in log_text, "no user id or message text in the logs"
