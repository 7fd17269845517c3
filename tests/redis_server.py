"""pytest plugin: a real, throw-away redis-server for tests that need Redis semantics.

Register it in the project's conftest with ``pytest_plugins = ["tests.redis_server"]``.
fakeredis is not used for these tests on purpose: locks, TTLs and SET EX must be
checked against the server the bot runs against.

Without redis-server on PATH the Redis tests are skipped locally, but fail under CI
(env var CI set), so a CI image that lost redis-server cannot pass silently.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

STARTUP_DEADLINE_SECONDS = 10.0
INSTALL_HINT = "install redis-server (e.g. `apt-get install redis-server`) and make sure it is on PATH"


def _unavailable(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set, so Redis tests may not be skipped)", pytrace=False)
    pytest.skip(message)


def _free_port() -> int:
    # Bind to port 0 and let the kernel choose; the tiny race until redis-server binds
    # is acceptable, and a lost race shows up as a startup failure with redis' own log.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_ping(process: subprocess.Popen, port: int, log_path: Path) -> str | None:
    """Return None once PING answers, or a reason why the server is not coming up."""
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, socket_timeout=0.5)
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return f"redis-server exited with code {process.returncode}: {_tail(log_path)}"
            try:
                if client.ping():
                    return None
            except redis.ConnectionError:
                pass
            time.sleep(0.05)
        return (
            f"redis-server on port {port} did not answer PING within "
            f"{STARTUP_DEADLINE_SECONDS}s: {_tail(log_path)}"
        )
    finally:
        client.close()


def _tail(log_path: Path) -> str:
    try:
        return log_path.read_text(errors="replace")[-2000:].strip() or "(empty log)"
    except OSError:
        return "(no log)"


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a redis-server started for this test session on a free loopback port."""
    executable = shutil.which("redis-server")
    if executable is None:
        _unavailable(f"redis-server is not on PATH; {INSTALL_HINT}")
    workdir = tmp_path_factory.mktemp("redis")
    log_path = workdir / "redis.log"
    port = _free_port()
    command = [
        executable,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(workdir),
        "--daemonize", "no",
    ]
    # The server logs to stdout; keeping it in a file (not a pipe nobody reads) means a
    # chatty server cannot block, and a failed start can quote the server's own words.
    with open(log_path, "wb") as log:
        try:
            process = subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        except OSError as exc:
            _unavailable(f"redis-server at {executable} could not be started: {exc}")
    try:
        problem = _wait_for_ping(process, port, log_path)
        if problem is not None:
            _unavailable(problem)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def redis_client(redis_server_url: str) -> Iterator[redis.Redis]:
    """A client on an empty database: flushed before each test so tests cannot leak into each other."""
    # Imported here so a broken bot.storage fails only the Redis tests, not every
    # test module that loads this plugin.
    from bot.storage.redis import make_redis_client

    client = make_redis_client(redis_server_url)
    client.flushdb()
    try:
        yield client
    finally:
        client.close()


class OwnServer:
    """A redis-server of one test's own on a free loopback port (``args`` added to its
    command line), or with ``sentinel_conf`` a Redis Sentinel run from that config
    (its ``port`` line written here): for tests of replication and failover, which
    need servers they may pause, kill and promote."""

    def __init__(self, workdir: Path, *args: str, sentinel_conf: str | None = None) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            _unavailable(f"redis-server is not on PATH; {INSTALL_HINT}")
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        if sentinel_conf is not None:
            conf = workdir / "sentinel.conf"
            conf.write_text(f"port {self.port}\nbind 127.0.0.1\ndir {workdir}\n{sentinel_conf}")
            command = [executable, str(conf), "--sentinel"]
        else:
            command = [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                       "--appendonly", "no", "--dir", str(workdir), *args]
        log = workdir / "redis.log"
        with open(log, "wb") as out:
            self.process = subprocess.Popen(command, cwd=workdir, stdout=out, stderr=subprocess.STDOUT)
        problem = _wait_for_ping(self.process, self.port, log)
        if problem is not None:
            self.stop()
            raise AssertionError(problem)

    def stop(self) -> None:
        """Ends it, also when it was paused (SIGSTOP) or already gone."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGCONT)
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
