"""Issue 13, finding 2: a deployment that forgets its LINE secret must not become the local demo.

Before the fix, a web process with REDIS_URL and the other settings but no LINE
credentials served the local chat page, and ``/local/event`` signed an event for
any user id that ``/callback`` then put in the real counsellors' queue. Now the
web process (built from the environment, as gunicorn does) refuses to start with
REDIS_URL and no LINE credentials, with one line that says how to fix it; without
REDIS_URL it serves the local chat page only when ``BOT_LOCAL_CHAT=1`` asks for it
(logged loudly); ``python -m bot serve`` is the newcomer's way to the page.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from bot.web import StartupError, create_app, runtime_of

ROOT = Path(__file__).resolve().parents[2]
USER = "U" + "0123456789abcdef" * 2
#: The settings of a deployment, all but LINE's ("" is "not set" to the config).
NO_LINE = {
    "LINE_CHANNEL_SECRET": "",
    "LINE_CHANNEL_ACCESS_TOKEN": "",
    "LINE_API_BASE_URL": "",
    "BOT_ID_SECRET": "deploy-guard-pseudonym-secret-0123456789",
    "BOT_CONSOLE_SECRET": "deploy-guard-console-secret-0123456789abcdef",
    "BOT_DATA_KEY": "ZGVwbG95LWd1YXJkLWRhdGEta2V5LTAxMjM0NTY3ODk=",
    "BOT_LOCAL_CHAT": "",
}


@pytest.fixture
def settings(tmp_path_factory) -> dict[str, str]:
    return {**NO_LINE, "BOT_CATALOG_CACHE": str(tmp_path_factory.mktemp("mo"))}


def _attack(app) -> int:
    """What the review did: have the local page sign a self-harm message, post it to /callback."""
    client = app.test_client()
    signed = client.post("/local/event", json={"user": USER, "kind": "text", "text": "もう死にたい"})
    if signed.status_code != 200:
        return signed.status_code
    made = signed.get_json()
    return client.post("/callback", data=made["body"].encode(),
                       headers={"X-Line-Signature": made["signature"],
                                "Content-Type": "application/json"}).status_code


def test_the_web_process_refuses_redis_without_line_credentials(settings, redis_server_url, redis_client):
    try:
        app = create_app({**settings, "REDIS_URL": redis_server_url})
    except StartupError as refused:
        message = str(refused)
    else:  # the code before the fix: the demo, on the real Redis
        status = _attack(app)
        runtime_of(app).stop()
        pytest.fail(f"the web process started without LINE credentials; a forged event got {status}")
    assert "\n" not in message
    assert "LINE_CHANNEL_SECRET" in message and "LINE_CHANNEL_ACCESS_TOKEN" in message
    assert "REDIS_URL" in message and "python -m bot serve" in message
    assert redis_client.dbsize() == 0, "refused before anything was written"


def test_asking_for_the_local_chat_does_not_lift_the_refusal_on_redis(settings, redis_server_url):
    with pytest.raises(StartupError, match="LINE_CHANNEL_SECRET"):
        create_app({**settings, "REDIS_URL": redis_server_url, "BOT_LOCAL_CHAT": "1"})


def test_without_redis_the_web_process_serves_the_demo_only_when_asked(settings):
    with pytest.raises(StartupError) as refused:
        create_app({**settings, "REDIS_URL": ""})
    assert "BOT_LOCAL_CHAT=1" in str(refused.value) and "python -m bot serve" in str(refused.value)


def test_the_demo_when_asked_for_is_said_loudly(settings, caplog):
    caplog.set_level(logging.WARNING, logger="bot.web")
    app = create_app({**settings, "REDIS_URL": "", "BOT_LOCAL_CHAT": "1"})
    try:
        assert app.test_client().get("/").status_code == 200
        said = " ".join(r.getMessage() for r in caplog.records)
        assert "BOT_LOCAL_CHAT=1" in said and "AS ANY USER" in said
    finally:
        runtime_of(app).stop()


def test_a_worker_refuses_redis_without_line_credentials():
    with pytest.raises(ConfigError, match="LINE_CHANNEL_SECRET"):
        load_config({**NO_LINE, "REDIS_URL": "redis://127.0.0.1:6379/0"}, require_redis=True)


def test_commands_and_serve_still_load_without_line_credentials():
    """`python -m bot users` needs only Redis; `python -m bot serve` is where the page lives."""
    config = load_config({**NO_LINE, "REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert config.local_line and not config.local_chat_setting


# --- the Procfile's web line, run for real -----------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.e2e  # starts the Procfile's web line (gunicorn)
def test_the_procfile_web_line_refuses_with_one_line(settings, redis_server_url, tmp_path):
    web = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())["web"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINE_")}
    env.update(settings, REDIS_URL=redis_server_url, PORT=str(_free_port()),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        process = subprocess.Popen(["bash", "-c", f"exec {web.strip()}"], cwd=ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        code = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
    output = log.read_text(errors="replace")
    assert code is not None and code != 0, f"gunicorn served without LINE credentials:\n{output}"
    ours = [line for line in output.splitlines() if line.strip() and not line.startswith("[")]
    assert len(ours) == 1, output  # gunicorn's own lines are "[date] [pid] [LEVEL] ..."
    assert ours[0].startswith("cannot start the web app: LINE_CHANNEL_SECRET"), output
    assert "python -m bot serve" in ours[0] and "Traceback" not in output
