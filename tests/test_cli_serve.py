"""`python -m bot serve`, the newcomer's one command, as a process: the chat page,
and a throw-away supervisor account (printed once) for the counsellor console,
since the in-process store cannot be reached by `python -m bot users`."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.e2e  # starts `python -m bot serve`


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_prints_the_chat_page_and_a_console_login_that_works(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN", "LINE_API_BASE_URL")}
    env.update(PORT=str(port), BOT_CATALOG_CACHE=str(tmp_path / "mo"), PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output = ""
        deadline = time.monotonic() + 60
        while "password" not in output:
            assert process.poll() is None, output
            assert time.monotonic() < deadline, output
            output += process.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in output and "NOTHING IS DURABLE" in output
        password = re.search(r"user demo, password (\S+?);", output).group(1)

        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        base = f"http://127.0.0.1:{port}"
        page = opener.open(f"{base}/console/login", timeout=10).read().decode()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"csrf_token": csrf, "name": "demo", "password": password}).encode()
        landed = opener.open(f"{base}/console/login", data=form, timeout=10)
        assert landed.status == 200 and landed.url.rstrip("/").endswith("/console")
        assert "ログアウト" in landed.read().decode()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
