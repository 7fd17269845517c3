"""The web process: the app factory loads the dialogue at start-up or refuses to start."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import bot.web
import bot.runtime
from bot.web import StartupError, create_app, dialogue_of, runtime_of
from dialogs.chart import load_chart

ROOT = Path(__file__).resolve().parents[1]
TEST_PROFILE = ROOT / "tests" / "data" / "profiles" / "test_prefecture.yaml"


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    """create_app with the catalogs compiled into this test's temp dir."""
    monkeypatch.delenv("BOT_PROFILE", raising=False)

    apps = []

    def make(**config):
        app = create_app({"TESTING": True, "BOT_CATALOG_CACHE": str(tmp_path / "mo"),
                          "BOT_LOCAL_CHAT": "1", **config})  # no LINE credentials: the demo, asked for
        apps.append(app)
        return app

    yield make
    for app in apps:  # local mode runs worker threads in the process
        runtime_of(app).stop()


@pytest.fixture
def client(make_app):
    return make_app().test_client()


def test_healthz_names_the_profile_and_chart_version(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.is_json
    assert response.get_json() == {
        "status": "ok",
        "profile": "hyogo",
        "chart_version": load_chart().version,
    }


def test_the_dialogue_is_loaded_before_the_first_request(make_app):
    app = make_app()
    dialogue = dialogue_of(app)
    assert dialogue.directory.profile.id == "hyogo"
    assert "sos_dial" in dialogue.directory.ids


def test_profile_comes_from_the_environment(make_app, monkeypatch):
    monkeypatch.setenv("BOT_PROFILE", str(TEST_PROFILE))
    response = make_app().test_client().get("/healthz")
    assert response.get_json()["profile"] == "test_prefecture"


def test_config_overrides_the_environment(make_app, monkeypatch):
    monkeypatch.setenv("BOT_PROFILE", "no_such_place")
    app = make_app(BOT_PROFILE=str(TEST_PROFILE))
    assert app.config["BOT_PROFILE"] == "test_prefecture"


def test_an_unknown_profile_stops_start_up_with_a_clear_error(make_app):
    with pytest.raises(StartupError) as caught:
        make_app(BOT_PROFILE="atlantis")
    message = str(caught.value)
    assert "'atlantis'" in message
    assert "BOT_PROFILE" in message
    assert "available: " in message and "hyogo" in message


def test_a_broken_profile_file_stops_start_up_naming_the_file(make_app, tmp_path):
    broken = tmp_path / "broken.yaml"
    text = TEST_PROFILE.read_text(encoding="utf-8")
    broken.write_text(text.replace("open: \"09:00\"", "open: \"25:00\""), encoding="utf-8")
    with pytest.raises(StartupError, match=re.escape(str(broken))):
        make_app(BOT_PROFILE=str(broken))


def test_a_fault_that_shows_only_at_a_message_stops_start_up(make_app, monkeypatch):
    """create_app rehearses one turn before serving, so a reply that cannot
    be rendered fails start-up, not the first child's message."""
    def first_message_fails(*args, **kwargs):
        raise KeyError("desk")  # e.g. a catalog entry whose placeholder cannot be filled

    monkeypatch.setattr(bot.runtime, "handle", first_message_fails)
    with pytest.raises(StartupError, match="desk"):
        make_app()


def test_importing_the_module_builds_no_app():
    assert not any(
        isinstance(value, bot.web.Flask) for value in vars(bot.web).values()
    ), "the app must come from create_app(), not a module global"


def test_callback_takes_only_post(client):
    assert client.get("/callback").status_code == 405


# --- the Procfile's web line, run for real ---------------------------------

def _procfile_web_command() -> str:
    lines = (ROOT / "Procfile").read_text(encoding="utf-8").splitlines()
    processes = dict(line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))
    assert set(processes) == {"web", "worker", "clock"}, "the Procfile names only processes that exist"
    return processes["web"].strip()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_web(tmp_path: Path, **env: str) -> tuple[subprocess.Popen, int, Path]:
    port = _free_port()
    log = tmp_path / "web.log"
    environment = {
        **os.environ,
        # gunicorn from the same environment as this Python, even if not on PATH
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PORT": str(port),
        "BOT_CATALOG_CACHE": str(tmp_path / "mo"),
        "BOT_LOCAL_CHAT": "1",  # no LINE credentials here: the demo, asked for
        **env,
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {_procfile_web_command()}"],
            cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT,
        )
    return process, port, log


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.e2e  # starts the Procfile's web line (gunicorn)
def test_procfile_web_process_serves_healthz(tmp_path):
    process, port, log = _start_web(tmp_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"web process exited:\n{log.read_text(errors='replace')}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    assert response.status == 200
                    assert b'"status":"ok"' in response.read().replace(b" ", b"")
                    break
            # gunicorn's master listens before its worker has booted, so a cold first start can
            # accept the connection and answer late: a read timeout is "not yet", like a refusal
            except OSError:
                assert time.monotonic() < deadline, f"no answer on :{port}\n{log.read_text(errors='replace')}"
                time.sleep(0.2)
    finally:
        _stop(process)


@pytest.mark.e2e  # starts the Procfile's web line (gunicorn)
def test_procfile_web_process_refuses_to_start_with_a_bad_profile(tmp_path):
    process, _, log = _start_web(tmp_path, BOT_PROFILE="atlantis")
    try:
        code = process.wait(timeout=60)
    finally:
        _stop(process)
    output = log.read_text(errors="replace")
    assert code != 0, output
    assert "StartupError" in output and "'atlantis'" in output, output
