"""What the bot remembers about one conversation, and nothing more.

Only what the dialogue needs to continue: where the user is in the chart,
who they said they are, the language, and whether the chat is urgent. No
message text, no name, no school: the least personal data it needs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

#: Version of the stored layout. A change that cannot read old sessions bumps
#: it; old sessions are then started again politely rather than crash.
SESSION_FORMAT = 1


@dataclass
class Session:
    state: str
    chart_version: int
    role: str | None = None  # child | guardian | teacher
    level: str | None = None  # elementary | junior_high | high_school
    lang: str | None = None  # chosen explicitly by the user
    profile_lang: str | None = None  # from the LINE profile
    pending: str | None = None  # branch asked for before the role was known
    misses: int = 0  # free-text messages in a row the bot could not place
    urgent: bool = False
    severity: str | None = None
    reasons: list[str] = field(default_factory=list)
    format: int = SESSION_FORMAT

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Session | None":
        """Rebuild a stored session; None if it is of an unknown format."""
        if not isinstance(data, dict) or data.get("format") != SESSION_FORMAT:
            return None
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError:
            return None
