"""The hotline directory as the dialogue reads it: the windows, the counsellor
desk, a deployment profile, and lookups by id, branch and area.

Built by :mod:`dialogs.directory.loader` from data it has checked, so nothing
here checks again.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from dialogs.hours import OpeningHours

BRANCHES: tuple[str, ...] = (
    "talk",
    "expert",
    "delete",
    "damages",
    "danger",
    "report",
    "mail",
    "bill",
    "security",
    "crisis",
)
ROLES: tuple[str, ...] = ("child", "guardian", "teacher")


@dataclass(frozen=True)
class Text:
    """A string per language. Stored as pairs so the object stays hashable."""

    items: tuple[tuple[str, str], ...]

    @classmethod
    def from_mapping(cls, data: Mapping[str, str]) -> Text:
        return cls(tuple((lang, data[lang]) for lang in data))

    @property
    def langs(self) -> tuple[str, ...]:
        return tuple(lang for lang, _ in self.items)

    def get(self, lang: str) -> str | None:
        for key, value in self.items:
            if key == lang:
                return value
        return None

    def __getitem__(self, lang: str) -> str:
        value = self.get(lang)
        if value is None:
            raise KeyError(f"no {lang!r} text; have {', '.join(self.langs)}")
        return value

    def in_lang(self, lang: str) -> str:
        """The text in ``lang``, else Japanese (every text has ja)."""
        value = self.get(lang)
        return value if value is not None else self["ja"]


@dataclass(frozen=True)
class Phone:
    number: str  # display form, as printed in the source
    tel: str  # tel: link, digits only ('#' as %23)


def tel_link(number: str) -> str:
    """The tel: link for a displayed number: digits only, '#' as %23."""
    digits = re.sub(r"[^0-9#]", "", number)
    return "tel:" + digits.replace("#", "%23")


@dataclass(frozen=True)
class Hotline:
    id: str
    name: Text
    organisation: Text
    summary: Text
    phones: tuple[Phone, ...]
    url: str | None
    channels: tuple[str, ...]
    audience: tuple[str, ...]
    hours: OpeningHours
    source: tuple[str, ...]
    line_id: str | None = None
    hours_note: Text | None = None
    contact_note: Text | None = None
    source_note: str | None = None
    #: The languages a person is answered in: Japanese unless a source says more.
    answers_in: tuple[str, ...] = ("ja",)
    # Local windows only: where they are offered and the area they serve.
    local: bool = False
    show_in: tuple[str, ...] = ()
    area: Text | None = None
    #: How people name ``area`` (川西, かわにし), NFKC-folded at load so a message
    #: is matched without folding them again: a window serving less than the
    #: whole deployment is offered only to someone who named its area.
    area_words: tuple[str, ...] = ()

    def name_in(self, lang: str) -> str:
        return self.name.in_lang(lang)

    def summary_in(self, lang: str) -> str:
        return self.summary.in_lang(lang)

    def organisation_in(self, lang: str) -> str:
        return self.organisation.in_lang(lang)

    def hours_note_in(self, lang: str) -> str | None:
        return None if self.hours_note is None else self.hours_note.in_lang(lang)

    def contact_note_in(self, lang: str) -> str | None:
        return None if self.contact_note is None else self.contact_note.in_lang(lang)

    def serves(self, role: str) -> bool:
        """True if the window is meant for ``role`` (child, guardian, teacher);
        'anyone' serves every role."""
        return role in self.audience or "anyone" in self.audience


@dataclass(frozen=True)
class Desk:
    """The counsellor desk a deployment hands chats to."""

    name: Text
    hours: OpeningHours
    anonymous_roles: tuple[str, ...]
    # (role, what the role must tell first) pairs; pairs keep the object hashable.
    identity_required: tuple[tuple[str, tuple[str, ...]], ...]
    source: tuple[str, ...]
    hours_note: Text | None = None
    source_note: str | None = None

    def name_in(self, lang: str) -> str:
        return self.name.in_lang(lang)

    def allows_anonymous(self, role: str) -> bool:
        return role in self.anonymous_roles

    def required_identity(self, role: str) -> tuple[str, ...]:
        """What ``role`` must tell the desk first, e.g. ('school', 'name')."""
        return dict(self.identity_required).get(role, ())


#: Who a read policy may name (bot.console.actions decides with it):
#: "supervisors" at any time; "counsellors": any account at any time; "on_duty": any
#: account while the desk is staffed (its hours, widened by on_duty_margin_minutes);
#: "holder": whoever holds the chat now; "handlers": whoever took, was handed or closed it.
READERS: tuple[str, ...] = ("supervisors", "counsellors", "on_duty", "holder", "handlers")


@dataclass(frozen=True)
class ReadPolicy:
    """Who may read a chat in the console (its transcript, images, a teacher's
    identity), by the chat's status. The defaults are the strict policy a
    profile gets when it says nothing."""

    waiting: tuple[str, ...] = ("on_duty", "supervisors")
    claimed: tuple[str, ...] = ("holder", "supervisors")
    #: Closed or returned to the bot.
    closed: tuple[str, ...] = ("handlers", "supervisors")
    #: Counsellors count as on duty this long before the desk opens and after it closes.
    on_duty_margin_minutes: int = 0

    def readers(self, status: str) -> tuple[str, ...]:
        if status == "waiting":
            return self.waiting
        if status == "claimed":
            return self.claimed
        return self.closed


@dataclass(frozen=True)
class Profile:
    id: str
    name: Text
    prefecture: Text
    desk: Desk
    local_hotlines: tuple[Hotline, ...]
    path: Path
    #: Days a finished handoff's transcript and images are kept (bot.records.purge).
    retention_days: int = 365
    #: Days an open chat may go with nothing happening in it before the purge
    #: returns it to the bot (and so, later, purges it).
    open_limit_days: int = 30
    read_policy: ReadPolicy = ReadPolicy()


class Directory:
    """National windows plus the local windows of one profile, by id."""

    def __init__(self, national: tuple[Hotline, ...], profile: Profile) -> None:
        self.profile = profile
        self._national = national
        self._by_id: dict[str, Hotline] = {h.id: h for h in (*national, *profile.local_hotlines)}

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._by_id)

    @property
    def national(self) -> tuple[Hotline, ...]:
        return self._national

    @property
    def desk(self) -> Desk:
        return self.profile.desk

    def get(self, hotline_id: str) -> Hotline:
        try:
            return self._by_id[hotline_id]
        except KeyError:
            close = difflib.get_close_matches(hotline_id, self._by_id, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(
                f"no hotline {hotline_id!r} in the national directory or profile "
                f"{self.profile.id!r} ({self.profile.path}){hint}"
            ) from None

    def __contains__(self, hotline_id: object) -> bool:
        return hotline_id in self._by_id

    def __iter__(self) -> Iterator[Hotline]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def all(self) -> list[Hotline]:
        """National windows in file order, then the profile's local ones."""
        return list(self._by_id.values())

    def for_branch(self, branch: str, near: Iterable[str] = ()) -> list[Hotline]:
        """The profile's local windows offered in ``branch``, in file order.

        A window serving only part of the deployment (one city) is offered
        only when its id is in ``near``: the person named its area."""
        if branch not in BRANCHES:
            raise ValueError(f"unknown branch {branch!r}; branches are {', '.join(BRANCHES)}")
        near = set(near)
        return [h for h in self.profile.local_hotlines
                if branch in h.show_in and (h.area is None or h.id in near)]

    def areas_named(self, text: str) -> tuple[str, ...]:
        """Ids of the local windows whose area ``text`` names (「川西市に住んでる」)."""
        folded = fold(text)
        return tuple(h.id for h in self.profile.local_hotlines
                     if any(word in folded for word in h.area_words))


def fold(text: str) -> str:
    """ｶﾜﾆｼ → カワニシ, Kawanishi → kawanishi: width and case do not change a place name."""
    return unicodedata.normalize("NFKC", text).casefold()
