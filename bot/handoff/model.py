"""A handoff as the rest of the bot sees it: its fields and statuses, what a
transition answers, and what the queue accepts as a severity, the reasons and a
counsellor's name."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dialogs.severity import RANK as SEVERITY_RANK

STATUSES = ("waiting", "claimed", "closed", "bot")  # "bot": returned to the bot (also final)
OPEN_STATUSES = ("waiting", "claimed")


@dataclass(frozen=True)
class Handoff:
    id: str
    user: str  # pseudonym (keys.pseudonym(line_user)); the console shows user[:8]
    status: str
    role: str | None
    level: str | None
    lang: str
    category: str | None
    urgent: bool
    severity: str | None
    reasons: tuple[str, ...]
    identity: str | None
    queued_at: float
    claimed_at: float | None
    claimed_by: str | None
    first_reply_at: float | None
    closed_at: float | None
    closed_by: str | None
    last_activity: float | None
    alert: str | None
    escalated: bool
    record: dict | None
    #: Who took it, was handed it or closed it (account names, in that order): the
    #: read policy lets them read it once it is closed (bot.console.actions).
    handlers: tuple[str, ...] = ()
    #: When the closing record's follow-up was marked done, and by whom (bot.handoff.follow_ups).
    follow_up_done_at: float | None = None
    follow_up_done_by: str | None = None
    # 1-based place among waiting chats when read (list(), get(), transitions); None otherwise.
    position: int | None = field(default=None, compare=False)
    #: The LINE id as kept in Redis (sealed; "" once purged) and what opens it.
    sealed_line_user: str = field(default="", repr=False, compare=False)
    _opener: Callable[[str], str] | None = field(default=None, repr=False, compare=False)

    @property
    def line_user(self) -> str:
        """The raw LINE id, opened only when asked: to push to the user. NEVER in
        to_api(), logs or pages. "" once purged (nothing is pushed to a finished chat)."""
        if not self.sealed_line_user:
            return ""
        if self._opener is None:
            raise RuntimeError("this Handoff was not read through a HandoffQueue: its LINE id cannot be opened")
        return self._opener(self.sealed_line_user)

    def to_api(self) -> dict[str, Any]:
        """JSON-able view for the console. Lists what may be shown, so a new field
        (like line_user) stays private unless added here on purpose."""
        return {
            "id": self.id,
            "user": self.user[:8],
            "status": self.status,
            "role": self.role,
            "level": self.level,
            "lang": self.lang,
            "category": self.category,
            "urgent": self.urgent,
            "severity": self.severity,
            "reasons": list(self.reasons),
            "identity": self.identity,
            "queued_at": self.queued_at,
            "claimed_at": self.claimed_at,
            "claimed_by": self.claimed_by,
            "first_reply_at": self.first_reply_at,
            "closed_at": self.closed_at,
            "alert": self.alert,
            "escalated": self.escalated,
            "position": self.position,
        }

    def __repr__(self) -> str:
        # Keep the LINE id and a teacher's identity out of tracebacks and debug output.
        return f"Handoff(id={self.id!r}, status={self.status!r}, severity={self.severity!r})"


@dataclass(frozen=True)
class ClaimResult:
    ok: bool
    handoff: Handoff | None
    holder: str | None  # who has it when not ok
    reason: str  # "ok" | "taken" | "closed" | "missing" | "not_holder"


def check_severity(severity: str | None) -> None:
    if severity not in SEVERITY_RANK:
        raise ValueError(f"unknown severity {severity!r}; one of {list(SEVERITY_RANK)}")


def check_reasons(reasons: Iterable[str]) -> tuple[str, ...]:
    if isinstance(reasons, str):
        raise TypeError("reasons must be a list of strings, not one string")
    reasons = tuple(reasons)
    if not all(isinstance(r, str) and r for r in reasons):
        raise ValueError("reasons must be non-empty strings")
    return reasons


def check_name(name: str) -> None:
    # '' means "nobody" inside the scripts, so a counsellor name must not be empty.
    if not isinstance(name, str) or not name:
        raise ValueError("a counsellor name must be a non-empty string")
