"""Handing a chat to a human counsellor: the queue (bot.handoff.queue) and the
worker-side bridge that pushes counsellor messages to the user (bot.handoff.bridge)."""

from bot.handoff.queue import (
    MAX_IMAGE_BYTES,
    SEVERITY_RANK,
    STATUSES,
    ClaimResult,
    Handoff,
    HandoffQueue,
)

__all__ = ["MAX_IMAGE_BYTES", "SEVERITY_RANK", "STATUSES", "ClaimResult", "Handoff", "HandoffQueue"]
