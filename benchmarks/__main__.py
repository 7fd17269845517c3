"""python -m benchmarks: measure the bot on this machine and write docs/performance.md.

    python -m benchmarks                 # everything, about ten minutes
    python -m benchmarks --quick         # shorter runs and 10,000 sessions: a smoke test, not figures
    python -m benchmarks --out /tmp/p.md # somewhere else

Needs redis-server and wrk on PATH (`apt-get install redis-server wrk`) and the
project installed with its bench extra (`pip install -e '.[bench]'`). Nothing
leaves loopback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from benchmarks import report, webhook
from benchmarks.handover import handover
from benchmarks.saturation import CONNECTIONS as SAT_CONNECTIONS, THREADS as SAT_THREADS, saturation
from benchmarks.saturation import as_dicts as saturation_dicts
from benchmarks.stack import BARE_APP, BOT_APP, ROOT, redis_server

#: The web tier's settings for every run, the bot's and the bare baseline's.
WEB_PROCESSES = 2
WORKERS = 2
#: Rounds of the in-process figures; the quietest is reported.
ROUNDS = 3
#: Events/s while workers join, leave and crash: below saturation, so a pause shows as one.
HANDOVER_RATE = 100


def _machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import gunicorn

    def run(*argv: str) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"

    # The pages a run writes (docs/) do not make the code it measured uncommitted.
    dirty = run("git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)docs")
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": run("git", "rev-parse", "--short", "HEAD") + (" (with uncommitted changes)" if dirty else ""),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "redis": run(shutil.which("redis-server") or "redis-server", "--version").split(" sha=")[0],
        "gunicorn": gunicorn.__version__,
        "loadavg_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--quick", action="store_true", help="short runs: checks the machinery, not figures")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per acknowledgement rate")
    parser.add_argument("--only", choices=("topologies",),
                        help="measure only this part and put it into the page's last figures (its .json): "
                             "the three Redis topologies, about six minutes")
    parser.add_argument("--render", type=Path, metavar="JSON",
                        help="measure nothing: write the page again from a run's .json (after editing "
                             "benchmarks/history.md or the report's layout)")
    args = parser.parse_args(argv)
    if args.render is not None:
        import json

        report.write(json.loads(args.render.read_text(encoding="utf-8")), args.out)
        print(f"wrote {args.out} from {args.render}", file=sys.stderr)
        return 0
    from benchmarks.saturation import wrk_path
    from benchmarks.stack import BenchmarkError

    try:
        wrk_path()  # before ten minutes of measuring, not after
    except BenchmarkError as exc:
        print(f"python -m benchmarks: {exc}", file=sys.stderr)
        return 2
    # SIGTERM unwinds like Ctrl-C, so every server this run started is stopped with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    if args.only == "topologies":
        import json

        previous = args.out.with_suffix(".json")
        if not previous.exists():
            print(f"python -m benchmarks: --only needs the figures of a whole run in {previous}", file=sys.stderr)
            return 2
        figures = json.loads(previous.read_text(encoding="utf-8"))
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            figures["topologies"] = _topologies(Path(tmp), args.quick, started)
        report.write(figures, args.out)
        print(f"wrote the topologies into {args.out} and its .json", file=sys.stderr)
        return 0
    ack_seconds = args.seconds or (2.0 if args.quick else 8.0)
    e2e_seconds = 3.0 if args.quick else 20.0
    sessions = 10_000 if args.quick else 100_000
    load1 = os.getloadavg()[0]
    if load1 > 0.5:
        print(f"warning: load average {load1:.2f} before the run: other work on this machine will show "
              "in the figures", file=sys.stderr)
    machine = _machine()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - started:6.0f} s] {line}", file=sys.stderr, flush=True)

    gunicorn_args = ""
    settings = (f"gunicorn runs the Procfile's `web:` line with {WEB_PROCESSES} processes "
                f"(`WEB_CONCURRENCY={WEB_PROCESSES}`) and its defaults otherwise (sync workers).")
    from benchmarks.dialogue import step_figures, triage_figures
    from benchmarks.nlu import nlu_figures
    from benchmarks.memory import measure

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = Path(tmp)
        # In-process figures first, while no server of this run is using the cores.
        log("3/5 and 5/5 dialogue step and triage, in process")
        # Three rounds each, the quietest kept: the cores are shared with the host's other
        # guests, and a round they disturb says nothing about the code. All medians are kept.
        steps = [step_figures(repeat=50 if args.quick else 200) for _ in range(ROUNDS)]
        triages = [triage_figures(repeat=5 if args.quick else 20) for _ in range(ROUNDS)]
        step = min(steps, key=lambda f: f["ours"]["median_us"])
        triage = min(triages, key=lambda f: f["all"]["median_us"])
        step["round_medians_us"] = [f["ours"]["median_us"] for f in steps]
        triage["round_medians_us"] = [f["all"]["median_us"] for f in triages]
        log(f"step medians {step['round_medians_us']} µs, triage medians {triage['round_medians_us']} µs")
        log("6 understanding a message (classifier and triage), in process")
        nlu = nlu_figures(repeat=1 if args.quick else 5, limit=500 if args.quick else None)
        log("1/5 webhook acknowledgement, the bot")
        bot = webhook.ack_ladder(workdir, BOT_APP, web_processes=WEB_PROCESSES, gunicorn_args=gunicorn_args,
                                 seconds=ack_seconds, log=log)
        log("1/5 webhook acknowledgement, bare Flask")
        bare = webhook.ack_ladder(workdir, BARE_APP, web_processes=WEB_PROCESSES, gunicorn_args=gunicorn_args,
                                  seconds=ack_seconds, log=log)
        max_bot, max_bare = webhook.max_sustained(bot), webhook.max_sustained(bare)
        sustained = [p for p in bot + bare if p.sustained]
        log("1/5 saturation with wrk: the null server, bare Flask, the bot")
        saturated = saturation(workdir / "saturation", web_processes=WEB_PROCESSES, gunicorn_args=gunicorn_args,
                               seconds=3.0 if args.quick else 10.0, log=log)
        log("2/5 end to end")
        e2e = webhook.end_to_end(workdir, web_processes=WEB_PROCESSES, workers=WORKERS,
                                 gunicorn_args=gunicorn_args, seconds=e2e_seconds, log=log)
        log(f"2/5 workers joining, leaving and crashing at {HANDOVER_RATE}/s")
        moved = handover(workdir, web_processes=WEB_PROCESSES, rate=HANDOVER_RATE, gunicorn_args=gunicorn_args,
                         log=log)
        topologies = _topologies(workdir, args.quick, started)
        log(f"4/5 Redis memory at {sessions:,} sessions")
        with redis_server(workdir / "memory", aof=False) as url:
            memory = measure(url, workdir / "memory", users=sessions, handoffs=sessions // 100)
        log(f"idle session {memory.per_idle_session:.0f} bytes, per user at rest {memory.per_user_at_rest:.0f} bytes")

    figures = {
        "command": "python -m benchmarks" + (" --quick" if args.quick else ""),
        "seconds": time.monotonic() - started,
        "machine": machine,
        "ack": {
            "settings": settings, "users": webhook.USERS, "seconds": ack_seconds, "ladder": list(webhook.LADDER),
            "bot": [asdict(p) for p in bot], "bare": [asdict(p) for p in bare],
            "max_bot": max_bot, "max_bare": max_bare, "ratio": max_bot / max_bare if max_bare else 0.0,
            "max_generator_lag_ms": max((p.generator_lag_p99_ms for p in sustained), default=0.0),
        },
        "e2e_settings": (f"{WORKERS} worker processes (the Procfile's `worker:` line), the `clock:` "
                         f"process and the same web tier. {e2e_seconds:g} s per rate."),
        "e2e": [asdict(p) for p in e2e],
        "saturation": {"threads": SAT_THREADS, "connections": SAT_CONNECTIONS,
                       "points": saturation_dicts(saturated)},
        "handover": asdict(moved),
        "dialogue": {"step": step, "triage": triage, "nlu": nlu},
        "memory": asdict(memory),
        "topologies": topologies,
    }
    report.write(figures, args.out)
    log(f"wrote {args.out} and its .svg and .json")
    return 0


def _topologies(workdir: Path, quick: bool, started: float) -> dict:
    """Benchmark 7 (benchmarks/capacity.py), with when and where it was measured, since
    ``--only topologies`` adds it to an earlier run's figures."""
    from benchmarks.capacity import LADDER, P99_LIMIT_MS, as_dicts, capacity

    machine = _machine()
    seconds = 3.0 if quick else 10.0
    ladder = LADDER[:2] if quick else LADDER

    def log(line: str) -> None:
        print(f"[{time.monotonic() - started:6.0f} s] {line}", file=sys.stderr, flush=True)

    found = capacity(workdir, web_processes=WEB_PROCESSES, workers=WORKERS, gunicorn_args="", seconds=seconds,
                     log=log, ladder=ladder)
    return {"date": machine["date"], "commit": machine["commit"], "loadavg_before": machine["loadavg_before"],
            "seconds": seconds, "ladder": list(ladder), "limit_ms": P99_LIMIT_MS, "points": as_dicts(found)}


if __name__ == "__main__":
    sys.exit(main())
