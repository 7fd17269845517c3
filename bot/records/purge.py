"""The retention purge: what a finished handoff keeps beyond its record, once
the deployment profile's ``retention_days`` have passed since it closed.

Removed: handoff transcripts, evidence images, a teacher's identity (the
queue's ``purge_before``). Never removed: consultation records (bot.records.book)
and the audit log, which is what the report and a later review stand on.
Each run is itself recorded in ``records_purges`` (when, cut-off, counts), so
an operator can show that the purge ran; a second run removes nothing more.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from bot.handoff.queue import HandoffQueue
from bot.storage.keys import KeyBuilder

DAY = 24 * 3600
#: Purge runs kept in the stream (one a day: about ten years).
MAX_RUNS = 4000


@dataclass(frozen=True)
class PurgeRun:
    at: float
    cutoff: float
    handoffs: int
    transcripts: int
    images: int
    identities: int


def purge(client: redis.Redis, keys: KeyBuilder, retention_days: int, now: float | None = None) -> PurgeRun:
    """Purge handoffs closed more than ``retention_days`` before ``now``; record the run."""
    if isinstance(retention_days, bool) or not isinstance(retention_days, int) or retention_days < 1:
        raise ValueError(f"retention_days must be an int >= 1, got {retention_days!r}")
    at = time.time() if now is None else now
    cutoff = at - retention_days * DAY
    counts = HandoffQueue(client, keys, clock=lambda: at).purge_before(cutoff)
    run = PurgeRun(at=at, cutoff=cutoff, **counts)
    client.xadd(keys.records_purges(), {name: repr(value) if isinstance(value, float) else str(value)
                                        for name, value in vars(run).items()},
                maxlen=MAX_RUNS, approximate=True)
    return run


def runs(client: redis.Redis, keys: KeyBuilder) -> list[PurgeRun]:
    """Every recorded purge run, oldest first."""
    found = []
    for _, raw in client.xrange(keys.records_purges()):
        values = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                  for k, v in raw.items()}
        found.append(PurgeRun(at=float(values["at"]), cutoff=float(values["cutoff"]),
                              **{n: int(values[n]) for n in ("handoffs", "transcripts", "images", "identities")}))
    return found
