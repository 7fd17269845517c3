"""What the queue's tests share: a LINE id per user number, a handoff opened for
one, the waiting chats' ids in order, and a small PNG."""

from __future__ import annotations

from bot.handoff import HandoffQueue

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def line_id(n: int) -> str:
    return f"U{n:032x}"


def open_(queue: HandoffQueue, user: int, severity: str | None = None, reasons=("request.person",), **kw):
    args = dict(role="child", level=None, lang="ja", category=None, urgent=severity is not None,
                severity=severity, reasons=list(reasons))
    args.update(kw)
    return queue.open(line_id(user), **args)


def waiting_ids(queue: HandoffQueue) -> list[str]:
    return [h.id for h in queue.list("waiting")]
