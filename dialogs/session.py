"""What the bot remembers about one conversation, and nothing more.

Only what the dialogue needs to continue: where the user is in the chart,
who they said they are, the language, and whether the chat is urgent. No
message text, no name, no school: the least personal data it needs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from dialogs.dangers import CATEGORY_ORDER
from dialogs.i18n import LANGS
from dialogs.severity import SEVERITIES

#: Version of the stored layout. A change that cannot read old sessions bumps
#: it; old sessions are then started again politely rather than crash.
SESSION_FORMAT = 1

ROLES = ("child", "guardian", "teacher")
LEVELS = ("elementary", "junior_high", "high_school")
#: Crisis categories, for ``concern``.
CONCERNS = CATEGORY_ORDER


@dataclass
class Session:
    state: str
    chart_version: int
    role: str | None = None  # child | guardian | teacher
    level: str | None = None  # elementary | junior_high | high_school
    lang: str | None = None  # chosen explicitly by the user
    profile_lang: str | None = None  # from the LINE profile
    #: The language the person's messages are written in (dialogs.language),
    #: which wins over the profile's: the phone's setting is not the writer's.
    text_lang: str | None = None
    pending: str | None = None  # branch asked for before the role was known
    misses: int = 0  # free-text messages in a row the bot could not place
    urgent: bool = False
    severity: str | None = None
    reasons: list[str] = field(default_factory=list)
    #: A teacher was asked for school and name before the handoff (seed 004);
    #: what they write next goes to the handoff, never into the session.
    awaiting_identity: bool = False
    #: The kind of danger the classifier half-saw in a message it was unsure
    #: of; a tap on 「いま あぶない」 is answered for it. A category, never text.
    concern: str | None = None
    #: Local windows whose area (a city, never an address) the person named:
    #: only these of the profile's city windows are offered (dialogs.directory).
    near: list[str] = field(default_factory=list)
    #: The last states shown (ids only, no text), so a counsellor taking the
    #: chat can read the bot's part of the conversation.
    trail: list[str] = field(default_factory=list)
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
            session = cls(**{k: v for k, v in data.items() if k in known})
        except TypeError:
            return None
        # A value this release cannot use (written by a rolled-back release, or
        # damaged) would break every later message of the user, a crisis
        # message included: start again instead.
        return session if session._values_ok() else None

    def _values_ok(self) -> bool:
        def one_of(value: object, allowed: tuple[str, ...]) -> bool:
            return value is None or value in allowed

        return (
            isinstance(self.state, str)
            and type(self.chart_version) is int
            and one_of(self.role, ROLES)
            and one_of(self.level, LEVELS)
            and one_of(self.lang, LANGS)
            and one_of(self.profile_lang, LANGS)
            and one_of(self.text_lang, LANGS)
            and (self.pending is None or isinstance(self.pending, str))
            and type(self.misses) is int and self.misses >= 0
            and type(self.urgent) is bool
            and one_of(self.severity, SEVERITIES)
            and isinstance(self.reasons, list) and all(isinstance(r, str) for r in self.reasons)
            and type(self.awaiting_identity) is bool
            and one_of(self.concern, CONCERNS)
            and isinstance(self.trail, list) and all(isinstance(t, str) for t in self.trail)
            and isinstance(self.near, list) and all(isinstance(n, str) for n in self.near)
        )
