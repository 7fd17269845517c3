"""The processes a benchmark runs against, started as production starts them.

A redis-server of its own (AOF, ``appendfsync always``, ``noeviction``: the
settings the README requires), the Procfile's lines as written (gunicorn for
``web:``, ``python -m bot worker`` for ``worker:``, the ``clock:``), and the fast
fake LINE API (benchmarks.fakeline). Every process writes to a log file in the
run's directory; a process that exits early fails the benchmark with its log.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import redis

from benchmarks.fakeline import ACCESS_TOKEN
from benchmarks.load import sign

ROOT = Path(__file__).resolve().parents[1]
CHANNEL_SECRET = "bench-channel-secret-0123456789abcdef"
ID_SECRET = "bench-pseudonym-secret-0123456789abcdef"
BOT_APP = "'bot.web:create_app()'"
BARE_APP = "'benchmarks.bare:create_app()'"
LATENCY_THRESHOLD_MS = 5


class BenchmarkError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text(encoding="utf-8").splitlines()
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in lines
                                               if line.strip() and not line.startswith("#"))}


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def check(self) -> None:
        if self.popen.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise BenchmarkError(f"{self.name} exited with {self.popen.returncode}:\n{tail}")

    def cpu_seconds(self) -> float:
        """User + system CPU of the process and its children (gunicorn's workers), from /proc."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        pids = [self.popen.pid]
        try:
            children = Path(f"/proc/{self.popen.pid}/task/{self.popen.pid}/children").read_text().split()
            pids += [int(c) for c in children]
            for pid in pids:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, ValueError, IndexError):
            pass
        return total

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def _start(name: str, argv: list[str], workdir: Path, env: dict[str, str]) -> Process:
    log = workdir / f"{name}.log"
    with log.open("ab") as out:
        popen = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Process(name, popen, log)


def _wait(what: str, ready, processes: list[Process], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        for p in processes:
            p.check()
        try:
            if ready():
                return
        except (OSError, redis.RedisError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            raise BenchmarkError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.1)


@contextmanager
def _redis(workdir: Path, aof: bool) -> Iterator[tuple[str, Process]]:
    executable = shutil.which("redis-server")
    if executable is None:
        raise BenchmarkError("redis-server is not on PATH: apt-get install redis-server")
    port = free_port()
    data = workdir / f"redis-{port}"
    data.mkdir(parents=True)
    argv = [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(data),
            "--maxmemory-policy", "noeviction",
            # Redis records every fsync (and other stall) over 5 ms: the acknowledgement's
            # tail is read against it (LATENCY HISTORY aof-fsync-always).
            "--latency-monitor-threshold", str(LATENCY_THRESHOLD_MS),
            # DEBUG HTSTATS tells the memory benchmark when a key table's rehash is over.
            "--enable-debug-command", "local"]
    argv += ["--appendonly", "yes", "--appendfsync", "always"] if aof else ["--appendonly", "no"]
    process = _start("redis", argv, workdir, dict(os.environ))
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        _wait("redis-server", client.ping, [process], 20)
        client.close()
        yield url, process
    finally:
        process.stop()


@contextmanager
def redis_server(workdir: Path, *, aof: bool = True) -> Iterator[str]:
    """A throw-away redis-server; yields its URL."""
    with _redis(workdir, aof) as (url, _):
        yield url


def bot_env(redis_url: str, line_url: str, workdir: Path) -> dict[str, str]:
    python_bin = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": f"{python_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "LINE_CHANNEL_SECRET": CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
        "LINE_API_BASE_URL": line_url,
        "LINE_DATA_API_BASE_URL": line_url,
        "REDIS_URL": redis_url,
        "BOT_ID_SECRET": ID_SECRET,
        "BOT_CONSOLE_SECRET": "bench-console-session-secret-0123456789abcdef",
        # Throw-away: the benchmark's Redis is its own and deleted afterwards.
        "BOT_DATA_KEY": "YmVuY2gtZGF0YS1rZXktMDEyMzQ1Njc4OWFiY2RlZmc=",
        "BOT_CATALOG_CACHE": str(workdir / "mo"),
    }


@dataclass
class Stack:
    webhook_url: str
    line_url: str
    redis_url: str
    processes: list[Process]
    workdir: Path | None = None
    env: dict[str, str] | None = None

    def check(self) -> None:
        for p in self.processes:
            p.check()

    def start_worker(self, name: str) -> Process:
        """One more ``worker:`` process of the Procfile, as a deploy or a restart starts it."""
        assert self.workdir is not None and self.env is not None
        process = _start(name, ["bash", "-c", f"exec {procfile()['worker']}"], self.workdir, self.env)
        self.processes.append(process)
        return process

    def end(self, name: str, sig: int) -> None:
        """Stop one process with ``sig`` (SIGTERM: a deploy; SIGKILL: a crash); it is
        no longer checked."""
        process = next(p for p in self.processes if p.name == name)
        self.processes.remove(process)
        process.popen.send_signal(sig)
        process.popen.wait(30)

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each process, redis-server included."""
        return {p.name: p.cpu_seconds() for p in self.processes}

    def fsync_stalls(self, reset: bool = False) -> list[int]:
        """Milliseconds of each AOF fsync Redis saw last over the latency threshold
        (LATENCY HISTORY keeps one sample per second: the worst of that second)."""
        client = redis.Redis.from_url(self.redis_url)
        try:
            history = client.execute_command("LATENCY", "HISTORY", "aof-fsync-always") or []
            if reset:
                client.execute_command("LATENCY", "RESET")
            return [int(ms) for _, ms in history]
        finally:
            client.close()

    def line_stats(self, since: int = 0) -> dict:
        with urllib.request.urlopen(f"{self.line_url}/_bench/stats?since={since}", timeout=30) as r:
            return json.loads(r.read())


def _verify(url: str) -> bool:
    """LINE's verify button: an empty, signed event list must get 200."""
    body = json.dumps({"destination": "Ubench", "events": []}).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Line-Signature": sign(body, CHANNEL_SECRET)})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status == 200


@contextmanager
def stack(workdir: Path, *, app: str = BOT_APP, web_processes: int = 2, workers: int = 2,
          clock: bool = True, gunicorn_args: str = "", aof: bool = True) -> Iterator[Stack]:
    """redis-server, the fake LINE API and the Procfile's processes.

    ``app``: the WSGI app the Procfile's ``web:`` line serves (the bot, or the bare
    baseline under the very same gunicorn command). ``web_processes`` goes to
    gunicorn as WEB_CONCURRENCY, which its ``--workers`` default reads, and
    ``gunicorn_args`` as GUNICORN_CMD_ARGS, so the Procfile line runs unchanged.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    lines = procfile()
    if BOT_APP not in lines["web"]:
        raise BenchmarkError(f"the Procfile's web: line no longer serves {BOT_APP}: {lines['web']}")
    with ExitStack() as stack_:
        redis_url, redis_process = stack_.enter_context(_redis(workdir, aof))
        processes: list[Process] = [redis_process]
        stack_.callback(lambda: [p.stop() for p in reversed(processes)])
        line_port, web_port = free_port(), free_port()
        line_url = f"http://127.0.0.1:{line_port}"
        env = bot_env(redis_url, line_url, workdir)
        processes.append(_start("fakeline", [sys.executable, "-m", "benchmarks.fakeline", "--port",
                                             str(line_port)], workdir, env))
        _wait("the fake LINE API", lambda: urllib.request.urlopen(f"{line_url}/_bench/stats", timeout=2),
              processes)
        web_env = {**env, "PORT": str(web_port), "WEB_CONCURRENCY": str(web_processes),
                   "GUNICORN_CMD_ARGS": gunicorn_args}
        web = lines["web"].replace(BOT_APP, app)
        processes.append(_start("web", ["bash", "-c", f"exec {web}"], workdir, web_env))
        for n in range(workers):
            processes.append(_start(f"worker{n + 1}", ["bash", "-c", f"exec {lines['worker']}"], workdir, env))
        if clock:
            processes.append(_start("clock", ["bash", "-c", f"exec {lines['clock']}"], workdir, env))
        url = f"http://127.0.0.1:{web_port}/callback"
        _wait("the webhook", lambda: _verify(url), processes)
        yield Stack(url, line_url, redis_url, processes, workdir, env)
