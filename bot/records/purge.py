"""The retention purge: what a finished handoff keeps beyond its record, once
the deployment profile's ``retention_days`` have passed since it closed.

First, chats left open: a waiting or claimed chat in which nothing happened for
the profile's ``open_limit_days`` is returned to the bot (the queue's
``expire_open_before``) and its consultation record ends ("expired"). Without
this, a chat nobody closed would never be purged, and a user writing into a
chat nobody holds any more would never hear the bot again.

Then removed, for handoffs closed more than ``retention_days`` ago: handoff
transcripts, evidence images, a teacher's identity and the sealed LINE id (the
queue's ``purge_before``). Never removed: consultation records (bot.records.book)
and the audit log, which is what the report and a later review stand on.
Each run is itself recorded in ``records_purges`` (when, cut-off, counts), so
an operator can show that the purge ran; a second run removes nothing more.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from bot.crypto import Sealer
from bot.handoff.queue import Handoff, HandoffQueue
from bot.records.book import RecordBook
from bot.storage.keys import KeyBuilder

DAY = 24 * 3600
#: Purge runs kept in the stream (one a day: about ten years).
MAX_RUNS = 4000
#: The profile's default for open_limit_days (dialogs.directory.Profile).
DEFAULT_OPEN_LIMIT_DAYS = 30
#: What a counsellor reads in the transcript of a chat the purge returned to the bot.
EXPIRED_NOTE = "{days}日以上動きがなかったため、自動的にボットに戻しました（保存期間の管理）"


@dataclass(frozen=True)
class PurgeRun:
    at: float
    cutoff: float
    handoffs: int
    transcripts: int
    images: int
    identities: int
    #: Open chats returned to the bot because nothing happened in them for open_limit_days.
    expired: int = 0


def purge(client: redis.Redis, keys: KeyBuilder, retention_days: int, now: float | None = None, *,
          open_limit_days: int = DEFAULT_OPEN_LIMIT_DAYS, sealer: Sealer | None = None,
          send: Callable[..., str] | None = None) -> PurgeRun:
    """Return chats left open for ``open_limit_days`` to the bot, then purge handoffs
    closed more than ``retention_days`` before ``now``; record the run.

    ``send`` (bot.handoff.bridge.send_to_user's shape), when given, tells each user
    whose chat was returned that it ended and the bot is back; it needs ``sealer``
    with the deployment's data key, since the LINE id is opened to push."""
    for name, days in (("retention_days", retention_days), ("open_limit_days", open_limit_days)):
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ValueError(f"{name} must be an int >= 1, got {days!r}")
    at = time.time() if now is None else now
    queue = HandoffQueue(client, keys, clock=lambda: at, sealer=sealer)
    expired = expire_open(queue, RecordBook(client, keys, clock=lambda: at), at, open_limit_days, send)
    cutoff = at - retention_days * DAY
    counts = queue.purge_before(cutoff)
    run = PurgeRun(at=at, cutoff=cutoff, expired=len(expired), **counts)
    client.xadd(keys.records_purges(), {name: repr(value) if isinstance(value, float) else str(value)
                                        for name, value in vars(run).items()},
                maxlen=MAX_RUNS, approximate=True)
    return run


def expire_open(queue: HandoffQueue, book: RecordBook, now: float, open_limit_days: int,
                send: Callable[..., str] | None = None) -> list[Handoff]:
    """Return to the bot the open chats idle for ``open_limit_days``; end their records."""
    expired = queue.expire_open_before(now - open_limit_days * DAY, EXPIRED_NOTE.format(days=open_limit_days))
    for handoff in expired:
        book.handoff_ended(handoff, why="expired")
        if send is not None:
            # One notice per chat, whoever runs the purge twice.
            send(handoff, "returned", {}, event_id=f"xcexp-{handoff.id}")
    return expired


def runs(client: redis.Redis, keys: KeyBuilder) -> list[PurgeRun]:
    """Every recorded purge run, oldest first."""
    found = []
    for _, raw in client.xrange(keys.records_purges()):
        values = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                  for k, v in raw.items()}
        found.append(PurgeRun(at=float(values["at"]), cutoff=float(values["cutoff"]),
                              expired=int(values.get("expired", 0)),  # runs before expiry existed
                              **{n: int(values[n]) for n in ("handoffs", "transcripts", "images", "identities")}))
    return found
