"""Benchmark 7: how many events a second each Redis topology carries end to end.

The same stack (the Procfile's processes, the fake LINE API, the open-loop
generator) on one server, on Sentinel (a master, two replicas, three sentinels)
and on a Redis Cluster (three masters with a replica each), all from
benchmarks.topology and all on this machine's cores. Sentinel and the cluster
run as docs/redis.md asks, with ``REDIS_MIN_REPLICAS=1``: every event waits for
a replica before LINE gets its 200. Each topology climbs the same ladder of
rates until end-to-end p99 goes over the limit (twice in a row at one rate: this
machine's cores are shared, and a second of someone else's work is not the
limit); its figure is the highest rate at which, in one of its runs, every event
was acknowledged, answered once, and p99 stayed within it. Both runs of a rate
are kept and shown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from benchmarks.webhook import EndToEnd, end_to_end

TOPOLOGIES = ("one", "sentinel", "cluster")
#: The limit the issue names: events/s at end-to-end p99 <= 100 ms.
P99_LIMIT_MS = 100.0
LADDER = (50, 100, 150, 200, 250, 300, 400)


@dataclass
class Capacity:
    topology: str
    #: Highest rate of the ladder that held (0: not even the first).
    events_per_second: float
    points: list[EndToEnd]


def held(point: EndToEnd) -> bool:
    """Every event acknowledged, answered exactly once, p99 within the limit."""
    return (point.ack.errors == 0 and point.answered == point.events and point.doubled == 0
            and point.p99_ms <= P99_LIMIT_MS)


def capacity(workdir: Path, *, web_processes: int, workers: int, gunicorn_args: str, seconds: float,
             log: Callable[[str], None], topologies: tuple[str, ...] = TOPOLOGIES,
             ladder: tuple[float, ...] = LADDER) -> list[Capacity]:
    out = []
    for name in topologies:
        log(f"7 {name}: the ladder {ladder} events/s, {seconds:g} s each, until p99 > {P99_LIMIT_MS:g} ms")
        points = end_to_end(workdir / "capacity", web_processes=web_processes, workers=workers,
                            gunicorn_args=gunicorn_args, seconds=seconds, log=log, topology=name,
                            rates=ladder, stop_above_ms=P99_LIMIT_MS)
        best = max((p.rate for p in points if held(p)), default=0.0)
        log(f"7 {name}: {best:g} events/s at p99 <= {P99_LIMIT_MS:g} ms")
        out.append(Capacity(name, best, points))
    return out


def as_dicts(found: list[Capacity]) -> list[dict]:
    return [asdict(c) for c in found]
