"""The processes a benchmark runs against, started as production starts them.

The Redis of a topology (benchmarks.topology; by default one redis-server of its
own with AOF, ``appendfsync always`` and ``noeviction``: the settings the README
requires), the Procfile's lines as written (gunicorn for ``web:``, ``python -m
bot worker`` for ``worker:``, the ``clock:``), and the fast fake LINE API
(benchmarks.fakeline). Every process writes to a log file in the run's
directory; a process that exits early fails the benchmark with its log.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from benchmarks import topology as topologies
from benchmarks.fakeline import ACCESS_TOKEN
from benchmarks.load import sign
# Also imported from here by the other benchmarks (saturation: _start, _wait).
from benchmarks.topology import (
    ROOT,
    BenchmarkError,
    Process,
    Topology,
    free_port,
    start as _start,
    wait_ready as _wait,
)

CHANNEL_SECRET = "bench-channel-secret-0123456789abcdef"
ID_SECRET = "bench-pseudonym-secret-0123456789abcdef"
BOT_APP = "'bot.web:create_app()'"
BARE_APP = "'benchmarks.bare:create_app()'"


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text(encoding="utf-8").splitlines()
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in lines
                                               if line.strip() and not line.startswith("#"))}


@contextmanager
def redis_server(workdir: Path, *, aof: bool = True) -> Iterator[str]:
    """A throw-away redis-server; yields its URL."""
    with topologies.one(workdir, aof=aof) as server:
        yield server.url


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
    #: The bot's processes and the fake LINE API; the Redis ones are the topology's.
    processes: list[Process]
    workdir: Path | None = None
    env: dict[str, str] | None = None
    topology: Topology | None = field(default=None, repr=False)

    def check(self) -> None:
        if self.topology is not None:
            self.topology.check()
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
        """CPU seconds used so far by each process, the Redis servers included."""
        redis_processes = self.topology.processes if self.topology is not None else []
        return {p.name: p.cpu_seconds() for p in [*redis_processes, *self.processes]}

    def fsync_stalls(self, reset: bool = False) -> list[int]:
        """Milliseconds of each AOF fsync Redis saw last over the latency threshold
        (LATENCY HISTORY keeps one sample per second: the worst of that second)."""
        assert self.topology is not None
        return self.topology.fsync_stalls(reset)

    def line_stats(self, since: int = 0, answers_since: int | None = None) -> dict:
        query = f"since={since}" + (f"&answers_since={answers_since}" if answers_since is not None else "")
        with urllib.request.urlopen(f"{self.line_url}/_bench/stats?{query}", timeout=30) as r:
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
          clock: bool = True, gunicorn_args: str = "", aof: bool = True, topology: str = "one",
          extra_env: dict[str, str] | None = None) -> Iterator[Stack]:
    """The Redis of ``topology`` (benchmarks.topology.NAMES; ``aof`` applies to
    ``one``, the others always keep an AOF), the fake LINE API and the Procfile's
    processes.

    ``app``: the WSGI app the Procfile's ``web:`` line serves (the bot, or the bare
    baseline under the very same gunicorn command). ``web_processes`` goes to
    gunicorn as WEB_CONCURRENCY, which its ``--workers`` default reads, and
    ``gunicorn_args`` as GUNICORN_CMD_ARGS, so the Procfile line runs unchanged.
    ``extra_env`` is added to every bot process's environment last.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    lines = procfile()
    if BOT_APP not in lines["web"]:
        raise BenchmarkError(f"the Procfile's web: line no longer serves {BOT_APP}: {lines['web']}")
    options = {"aof": aof} if topology == "one" else {}
    with ExitStack() as stack_:
        redis_ = stack_.enter_context(topologies.launch(topology, workdir, **options))
        processes: list[Process] = []

        def stop() -> None:
            # The bot's processes first, all at once, then the fake LINE API they may still call.
            topologies.stop_all([p for p in processes if p.name != "fakeline"])
            topologies.stop_all([p for p in processes if p.name == "fakeline"])

        stack_.callback(stop)
        line_port, web_port = free_port(), free_port()
        line_url = f"http://127.0.0.1:{line_port}"
        env = {**bot_env(redis_.url, line_url, workdir), **redis_.env, **(extra_env or {})}
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
        _wait("the webhook", lambda: _verify(url), [*redis_.processes, *processes])
        yield Stack(url, line_url, redis_.url, processes, workdir, env, redis_)
