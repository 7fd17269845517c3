"""Saturated throughput: the webhook against bare Flask, driven by wrk, with wrk's own ceiling.

A closed-loop generator written in C (Debian's ``wrk``) keeps a fixed number of
connections busy and counts what comes back: the most a server answers per
second. Each request is a distinct, signed LINE webhook (benchmarks/signed.lua
reads them from a file, so the bot never answers one from its de-duplication
check). Three servers, one after the other, on the same cores:

- a server that does nothing (benchmarks/null.py): what wrk itself can send;
- bare Flask under the Procfile's gunicorn line (benchmarks/bare.py);
- the bot's webhook under the same line, with its Redis (`appendfsync always`).

The same wrk settings for all three. If the null server's figure were close to
bare Flask's, the comparison would be measuring wrk; the page shows all three.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from benchmarks.load import webhook_bodies
from benchmarks.stack import BARE_APP, BOT_APP, CHANNEL_SECRET, ROOT, BenchmarkError, _start, _wait, free_port, stack

SCRIPT = Path(__file__).with_name("signed.lua")
THREADS = 2
CONNECTIONS = 16
#: Distinct webhooks written for one wrk run of the bot: more than it can answer in the run.
MAX_RATE = 6_000


@dataclass
class Saturation:
    server: str
    requests: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    #: CPU seconds wrk itself used per 1,000 requests (from the kernel's child accounting).
    wrk_cpu_ms_per_1000: float
    #: CPU milliseconds per request of each server process (gunicorn with its workers, redis).
    cpu_ms_per_request: dict[str, float] | None = None


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise BenchmarkError("wrk is not on PATH: apt-get install wrk (Debian's package; the saturation "
                             "benchmark drives the servers with it)")
    return found


def write_bodies(path: Path, count: int, run: str, users: int = 10_000) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for body, headers in webhook_bodies(run, count, users, CHANNEL_SECRET):
            out.write(f"{headers['X-Line-Signature']}\t{body.decode('utf-8')}\n")
    return path


def run_wrk(name: str, url: str, bodies: Path, seconds: float, *, unique: bool) -> Saturation:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [wrk_path(), "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds:g}s", "--timeout", "5s",
         "-s", str(SCRIPT), url, "--", str(bodies), str(THREADS)],
        capture_output=True, text=True, cwd=ROOT, timeout=seconds + 60,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((l for l in done.stdout.splitlines() if l.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise BenchmarkError(f"wrk failed against {name} ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    figures = json.loads(line.removeprefix("WRK_JSON "))
    if unique and figures["wrapped"]:
        raise BenchmarkError(f"wrk ran out of distinct webhooks against {name}: raise MAX_RATE")
    wall = figures["duration_us"] / 1e6
    errors = figures["connect"] + figures["read"] + figures["write"] + figures["status"] + figures["timeout"]
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Saturation(name, figures["requests"], round(wall, 2), round(figures["requests"] / wall, 1),
                      round(figures["p50_us"] / 1000, 2), round(figures["p99_us"] / 1000, 2), errors,
                      round(1000 * 1000 * cpu / max(figures["requests"], 1), 3))


def saturation(workdir: Path, *, web_processes: int, gunicorn_args: str, seconds: float,
               log: Callable[[str], None]) -> list[Saturation]:
    workdir.mkdir(parents=True, exist_ok=True)
    out: list[Saturation] = []
    # The ceiling: a small file, sent round and round (the null server remembers nothing).
    few = write_bodies(workdir / "null-bodies.txt", 2_000, "N")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    null = _start("null", [sys.executable, "-m", "benchmarks.null", "--port", str(port)], workdir, env)
    try:
        import urllib.request

        _wait("the null server", lambda: urllib.request.urlopen(
            urllib.request.Request(f"http://127.0.0.1:{port}/", data=b"{}"), timeout=2), [null])
        out.append(run_wrk("null", f"http://127.0.0.1:{port}/callback", few, seconds, unique=False))
    finally:
        null.stop()
    log(f"saturation null: {out[-1]}")
    for name, app in (("bare", BARE_APP), ("bot", BOT_APP)):
        # Bare Flask reads nothing of the body: the same bodies round and round.
        bodies = few if name == "bare" else write_bodies(workdir / "bot-bodies.txt", int(MAX_RATE * seconds), "B")
        with stack(workdir / f"sat-{name}", app=app, web_processes=web_processes, workers=0, clock=False,
                   gunicorn_args=gunicorn_args) as s:
            # Both gunicorn workers loaded and warm before the figure: the first requests
            # of a worker pay for its imports.
            run_wrk(name, s.webhook_url, few if name == "bare" else write_bodies(
                workdir / "warm-bodies.txt", 3_000, "C"), 1, unique=False)
            before = s.cpu()
            point = run_wrk(name, s.webhook_url, bodies, seconds, unique=name == "bot")
            after = s.cpu()
            s.check()
            point.cpu_ms_per_request = {k: round(1000 * (after[k] - before[k]) / max(point.requests, 1), 3)
                                        for k in after}
            out.append(point)
        log(f"saturation {name}: {out[-1]}")
    return out


def as_dicts(points: list[Saturation]) -> list[dict]:
    return [asdict(p) for p in points]
