"""What the dialogue answers, independent of LINE.

The LINE adapter renders these as messages, quick replies and Flex cards; the
simulator flattens them to JSON. Text is already in the user's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Choice:
    """A tappable option: the label shown and the postback data it sends."""

    label: str
    data: str


@dataclass(frozen=True)
class PhoneLink:
    number: str
    tel: str


@dataclass(frozen=True)
class HotlineCard:
    id: str
    name: str
    summary: str
    phones: tuple[PhoneLink, ...]
    url: str | None
    line_id: str | None
    status: str  # "open now until 17:15", "opens tomorrow 8:30", "24 hours" ...
    open_now: bool | None
    hours_note: str | None = None
    contact_note: str | None = None
    #: "Answers in Japanese." on an English card for a Japanese-only window.
    language_note: str | None = None

    def as_text(self) -> str:
        """The card as plain lines, for the simulator and text-only channels."""
        lines = [self.name, self.summary]
        lines += [f"☎ {p.number}" for p in self.phones]
        if self.line_id:
            lines.append(f"LINE {self.line_id}")
        if self.url:
            lines.append(self.url)
        lines.append(self.status)
        if self.hours_note:
            lines.append(self.hours_note)
        if self.contact_note:
            lines.append(self.contact_note)
        if self.language_note:
            lines.append(self.language_note)
        return "\n".join(lines)


@dataclass(frozen=True)
class Reply:
    texts: tuple[str, ...]
    cards: tuple[HotlineCard, ...]
    choices: tuple[Choice, ...]
    state: str
    lang: str
    urgent: bool = False
    severity: str | None = None
    reasons: tuple[str, ...] = ()
    handoff: bool = False
    branch: str | None = None
    extra: dict = field(default_factory=dict)
    #: Who the user said they are, and the states they went through (ids):
    #: what a handoff records, without any message text.
    role: str | None = None
    level: str | None = None
    trail: tuple[str, ...] = ()

    @property
    def hotline_ids(self) -> tuple[str, ...]:
        return tuple(card.id for card in self.cards)
