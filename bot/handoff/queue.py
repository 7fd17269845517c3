"""The handoff queue: chats waiting for, or held by, a human counsellor (Redis).

``HandoffQueue`` is the one object the bot holds; each part of it is a module
of its own, all on one ``QueueStore`` (bot.handoff.store: the client, keys,
clock, sealer and Lua scripts, and reading handoffs back):

* bot.handoff.model: ``Handoff``, ``ClaimResult``, the statuses, and what the
  queue accepts as a severity, the reasons and a counsellor's name;
* bot.handoff.stored: the Redis layout, and a handoff's hash read back;
* bot.handoff.transitions: open (or merge), raise priority, claim, transfer,
  requeue, return to the bot, close, and stale open chats returned to the bot;
* bot.handoff.positions: the place in line, and the place the user was told;
* bot.handoff.activity: counsellor activity, idle and danger alerts, escalation;
* bot.handoff.evidence: the transcript and images, and the retention purge;
* bot.handoff.history: every handoff of one person (the console's history);
* bot.handoff.follow_ups: the 要フォロー list of follow-ups not yet done;
* bot.handoff.lua: the scripts that make every racing change atomic.

At rest, what identifies or exposes the user is sealed with AES-256-GCM
(bot.crypto, the key is ``BOT_DATA_KEY``), each value bound to its handoff: the raw
LINE id (opened only when something is pushed to the user: ``Handoff.line_user``),
every transcript entry, the evidence images and a teacher's identity. Codes, times,
severity and reasons stay clear: the queue's scripts order and filter by them. The
closing record (記録簿) is kept for good (it is the consultation's record), so its free
text is masked (bot.privacy) when it is written, never sealed away from the report.

Closed and returned handoffs are kept without a TTL; ``purge_before`` removes
what they keep after the profile's ``retention_days`` (bot.handoff.evidence).
A chat nobody finishes would never get there: ``expire_open_before`` returns to
the bot the open chats in which nothing happened for the profile's
``open_limit_days``, so they are purged like any other.

Nothing here logs: transcript text, a teacher's identity and LINE user ids are
personal data, and ``line_user`` leaves the queue only to be pushed to.
"""

from __future__ import annotations

from bot.handoff.activity import Activity
from bot.handoff.evidence import MAX_IMAGE_BYTES, Evidence
from bot.handoff.follow_ups import FollowUps
from bot.handoff.history import History
from bot.handoff.model import OPEN_STATUSES, SEVERITY_RANK, STATUSES, ClaimResult, Handoff
from bot.handoff.positions import Positions
from bot.handoff.transitions import Transitions

# What callers import from here along with HandoffQueue: the records it answers with.
__all__ = [
    "MAX_IMAGE_BYTES",
    "OPEN_STATUSES",
    "SEVERITY_RANK",
    "STATUSES",
    "ClaimResult",
    "Handoff",
    "HandoffQueue",
]


class HandoffQueue(Transitions, Positions, Activity, Evidence, History, FollowUps):
    """Handoffs in Redis: every part of the queue in one object, built as
    ``HandoffQueue(client, keys, clock, sealer=...)`` (bot.handoff.store.QueueStore
    says what each argument must be)."""
