"""Opening hours of hotlines: data model, open/closed status, and a short
localized date-time for cards.

Everything is computed in Japan time (Asia/Tokyo): the hotlines are Japanese,
and a child abroad still needs to know when the Japanese line picks up.

The YAML shape (one mapping per hotline entry) is::

    {type: always}                       # 24 hours, 365 days
    {type: anytime}                      # form / e-mail / letter: send any time,
                                         # the answer comes later (not "staffed")
    {type: unspecified}                  # the sources do not say
    {type: weekly,
     slots: [{days: [mon, tue, wed, thu, fri], open: "08:30", close: "17:15"}],
     closed_on_holidays: true,           # national holidays of Japan
     closures: [{from: "12-29", to: "01-03"}],   # optional, inclusive, may wrap
     usual: true}                        # optional: the hours most places keep,
                                         # not this line's certain hours (#9110)

Times must be quoted in YAML: PyYAML reads an unquoted 14:00 as the base-60
integer 840, which the parser rejects with a hint.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import holidays
from babel.dates import format_datetime

TOKYO = ZoneInfo("Asia/Tokyo")

Kind = Literal["always", "weekly", "anytime", "unspecified"]
KINDS: tuple[str, ...] = ("always", "weekly", "anytime", "unspecified")

DAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# How far ahead next_open / closes_at look. Longer than a year so that an
# annual closure can never hide the next opening.
HORIZON_DAYS = 400

LANGS: tuple[str, ...] = ("ja", "ja_easy", "en")

_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
_MONTH_DAY_RE = re.compile(r"^(\d{1,2})-(\d{1,2})$")

_WEEKLY_KEYS = frozenset({"type", "slots", "closed_on_holidays", "closures", "usual"})
_SLOT_KEYS = frozenset({"days", "open", "close"})
_CLOSURE_KEYS = frozenset({"from", "to"})

# Words for "today"/"tomorrow" and Babel patterns per language. ja_easy is
# read by primary-school children, with no kanji: it is spelled out by
# _easy_when below (Babel writes weekdays only in kanji).
_RELATIVE_DAY: Mapping[str, tuple[str, str]] = {
    "ja": ("今日", "明日"),
    "ja_easy": ("きょう", "あした"),
    "en": ("today", "tomorrow"),
}
_BABEL_LOCALE: Mapping[str, str] = {"ja": "ja", "en": "en"}
_TIME_PATTERN: Mapping[str, str] = {"ja": "H:mm", "en": "HH:mm"}
_DATE_TIME_PATTERN: Mapping[str, str] = {
    "ja": "M月d日(E) H:mm",
    "en": "EEE d MMM, HH:mm",
}
_DATE_TIME_YEAR_PATTERN: Mapping[str, str] = {
    "ja": "y年M月d日(E) H:mm",
    "en": "EEE d MMM y, HH:mm",
}
_EASY_WEEKDAYS = ("げつようび", "かようび", "すいようび", "もくようび", "きんようび", "どようび", "にちようび")
# Beyond this distance "12月1日" could mean two different years.
_SHOW_YEAR_AFTER_DAYS = 180


class HoursError(ValueError):
    """Malformed opening-hours data. The message starts with the field path
    (e.g. ``slots[1].open``) so a loader can prefix the file and entry."""


# --------------------------------------------------------------------------
# Holidays


@functools.lru_cache(maxsize=None)
def _holidays_in(year: int) -> frozenset[date]:
    # One year at a time: the holidays package computes years on demand, and
    # a frozenset makes the cached value immutable and cheap to probe.
    return frozenset(holidays.country_holidays("JP", years=year).keys())


def is_national_holiday(d: date) -> bool:
    """True on a national holiday of Japan (祝日, 振替休日 and 国民の休日)."""
    if isinstance(d, datetime):
        # A datetime has no calendar day until its zone is fixed.
        raise TypeError("is_national_holiday needs a date; convert the datetime to Tokyo time and call .date()")
    return d in _holidays_in(d.year)


# --------------------------------------------------------------------------
# Data model


@dataclass(frozen=True)
class Slot:
    """Open on ``days`` (0=Monday) from ``open_minute`` to ``close_minute``
    (minutes after midnight; the close may be 1440 = 24:00)."""

    days: frozenset[int]
    open_minute: int
    close_minute: int


@dataclass(frozen=True)
class Closure:
    """An annual inclusive month-day range; wraps the year end when start > end."""

    start: tuple[int, int]
    end: tuple[int, int]

    def covers(self, d: date) -> bool:
        md = (d.month, d.day)
        if self.start <= self.end:
            return self.start <= md <= self.end
        return md >= self.start or md <= self.end


@dataclass(frozen=True)
class HoursStatus:
    """Status at one moment.

    ``open_now`` is None when "open" does not apply (anytime) or is unknown
    (unspecified). ``closes_at`` is set when open and the line closes within
    the horizon; ``next_open`` is set when closed and it reopens within it.
    """

    kind: Kind
    open_now: bool | None
    closes_at: datetime | None = None
    next_open: datetime | None = None


#: Days of open intervals an OpeningHours keeps (one per day asked about;
#: next_open may look a few days ahead). Emptied when full.
_DAYS_KEPT = 512


@dataclass(frozen=True)
class OpeningHours:
    kind: Kind
    slots: tuple[Slot, ...] = ()
    closed_on_holidays: bool = False
    closures: tuple[Closure, ...] = ()
    #: The slots are the hours the line keeps in most places, not a certainty
    #: (#9110 differs by prefecture): cards say "usually", never "closed now".
    usual: bool = False
    # A day's open intervals are the same for every message of that day and
    # cost ~5 µs to work out (holidays, closures, merging), two to six times
    # per card: worked out once per day instead.
    _days: dict[date, tuple[tuple[datetime, datetime], ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    @classmethod
    def from_dict(cls, data: Any) -> OpeningHours:
        """Parse the YAML mapping; raises HoursError naming the bad field."""
        return parse_hours(data)

    def status(self, at: datetime) -> HoursStatus:
        t = _to_tokyo(at)
        if self.kind == "always":
            return HoursStatus("always", True)
        if self.kind in ("anytime", "unspecified"):
            return HoursStatus(self.kind, None)
        for start, end in self._intervals_on(t.date()):
            if start <= t < end:
                return HoursStatus("weekly", True, closes_at=self._extend(end))
        return HoursStatus("weekly", False, next_open=self._next_start(t))

    def is_open(self, at: datetime) -> bool:
        """True only when a staffed line is known to be open (never for
        anytime or unspecified).

        ``status(at).open_now is True``, without working out when the line
        closes or next opens: asked several times per message, that look-ahead
        was most of its cost.
        """
        t = _to_tokyo(at)
        if self.kind == "always":
            return True
        if self.kind in ("anytime", "unspecified"):
            return False
        return any(start <= t < end for start, end in self._intervals_on(t.date()))

    def _closed_all_day(self, d: date) -> bool:
        if self.closed_on_holidays and is_national_holiday(d):
            return True
        return any(c.covers(d) for c in self.closures)

    def _intervals_on(self, d: date) -> tuple[tuple[datetime, datetime], ...]:
        """Open intervals starting on ``d``, sorted, overlapping or touching
        ones merged."""
        known = self._days.get(d)
        if known is None:
            if len(self._days) >= _DAYS_KEPT:
                self._days.clear()
            known = self._days[d] = tuple(self._work_out_intervals(d))
        return known

    def _work_out_intervals(self, d: date) -> list[tuple[datetime, datetime]]:
        if self._closed_all_day(d):
            return []
        midnight = datetime.combine(d, time(0), tzinfo=TOKYO)
        raw = sorted(
            (midnight + timedelta(minutes=s.open_minute), midnight + timedelta(minutes=s.close_minute))
            for s in self.slots
            if d.weekday() in s.days
        )
        merged: list[tuple[datetime, datetime]] = []
        for start, end in raw:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged

    def _extend(self, end: datetime) -> datetime | None:
        # Follow slots that continue past midnight (…-24:00 then 00:00-…) so
        # the card shows when the line really closes. None: open throughout
        # the horizon.
        for _ in range(HORIZON_DAYS):
            following = [e for s, e in self._intervals_on(end.date()) if s <= end < e]
            if not following:
                return end
            end = max(following)
        return None

    def _next_start(self, t: datetime) -> datetime | None:
        for offset in range(HORIZON_DAYS + 1):
            for start, _end in self._intervals_on(t.date() + timedelta(days=offset)):
                if start > t:
                    return start
        return None


def _to_tokyo(at: datetime) -> datetime:
    if not isinstance(at, datetime):
        raise TypeError(f"expected a datetime, got {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at.isoformat()}: give it a time zone (e.g. tzinfo=ZoneInfo('Asia/Tokyo'))")
    return at.astimezone(TOKYO)


# --------------------------------------------------------------------------
# Parsing


def parse_hours(data: Any) -> OpeningHours:
    """Build OpeningHours from the YAML mapping; raises HoursError whose
    message starts with the field path and shows the bad value."""
    if not isinstance(data, Mapping):
        raise HoursError(f"hours: expected a mapping with a 'type' key, got {_show(data)}")
    if "type" not in data:
        raise HoursError(f"type: missing; one of {', '.join(KINDS)}")
    kind = data["type"]
    if kind not in KINDS:
        raise HoursError(f"type: {_show(kind)} is not one of {', '.join(KINDS)}")
    if kind != "weekly":
        _reject_unknown_keys(data, frozenset({"type"}), "")
        return OpeningHours(kind)

    _reject_unknown_keys(data, _WEEKLY_KEYS, "")
    if "closed_on_holidays" not in data:
        raise HoursError("closed_on_holidays: missing; say true or false (does the line close on national holidays?)")
    closed_on_holidays = data["closed_on_holidays"]
    if not isinstance(closed_on_holidays, bool):
        raise HoursError(f"closed_on_holidays: {_show(closed_on_holidays)} is not true or false")

    raw_slots = data.get("slots")
    if not isinstance(raw_slots, Sequence) or isinstance(raw_slots, str) or not raw_slots:
        raise HoursError(f"slots: expected a non-empty list of {{days, open, close}}, got {_show(raw_slots)}")
    slots = tuple(_parse_slot(raw, f"slots[{i}]") for i, raw in enumerate(raw_slots))

    raw_closures = data.get("closures", [])
    if raw_closures is None:
        raw_closures = []
    if not isinstance(raw_closures, Sequence) or isinstance(raw_closures, str):
        raise HoursError(f"closures: expected a list of {{from, to}}, got {_show(raw_closures)}")
    closures = tuple(_parse_closure(raw, f"closures[{i}]") for i, raw in enumerate(raw_closures))

    usual = data.get("usual", False)
    if not isinstance(usual, bool):
        raise HoursError(f"usual: {_show(usual)} is not true or false")
    return OpeningHours("weekly", slots, closed_on_holidays, closures, usual)


def _parse_slot(raw: Any, path: str) -> Slot:
    if not isinstance(raw, Mapping):
        raise HoursError(f"{path}: expected a mapping with days, open, close, got {_show(raw)}")
    _reject_unknown_keys(raw, _SLOT_KEYS, path + ".")
    for key in ("days", "open", "close"):
        if key not in raw:
            raise HoursError(f"{path}.{key}: missing")

    days_raw = raw["days"]
    if not isinstance(days_raw, Sequence) or isinstance(days_raw, str) or not days_raw:
        raise HoursError(f"{path}.days: expected a non-empty list like [mon, tue], got {_show(days_raw)}")
    days: set[int] = set()
    for j, name in enumerate(days_raw):
        if name not in DAY_NAMES:
            raise HoursError(f"{path}.days[{j}]: {_show(name)} is not one of {', '.join(DAY_NAMES)}")
        index = DAY_NAMES.index(name)
        if index in days:
            raise HoursError(f"{path}.days[{j}]: {name} is listed twice")
        days.add(index)

    open_minute = _parse_time(raw["open"], f"{path}.open", allow_24=False)
    close_minute = _parse_time(raw["close"], f"{path}.close", allow_24=True)
    if close_minute <= open_minute:
        raise HoursError(
            f"{path}.close: {raw['close']!r} is not after open {raw['open']!r}; "
            "a slot past midnight is two slots (…-24:00 and 00:00-…)"
        )
    return Slot(frozenset(days), open_minute, close_minute)


def _parse_time(raw: Any, path: str, *, allow_24: bool) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        # PyYAML 1.1 turns an unquoted 14:00 into 840 (base 60).
        raise HoursError(f'{path}: {raw!r} is a number; quote the time in YAML, e.g. "14:00"')
    match = _TIME_RE.match(raw) if isinstance(raw, str) else None
    if match is None:
        raise HoursError(f'{path}: {_show(raw)} is not a time "HH:MM"')
    hour, minute = int(match[1]), int(match[2])
    if allow_24 and (hour, minute) == (24, 0):
        return 24 * 60
    if hour > 23 or minute > 59:
        upper = "24:00" if allow_24 else "23:59"
        raise HoursError(f"{path}: {raw!r} is out of range 00:00-{upper}")
    return hour * 60 + minute


def _parse_closure(raw: Any, path: str) -> Closure:
    if not isinstance(raw, Mapping):
        raise HoursError(f'{path}: expected a mapping like {{from: "12-29", to: "01-03"}}, got {_show(raw)}')
    _reject_unknown_keys(raw, _CLOSURE_KEYS, path + ".")
    for key in ("from", "to"):
        if key not in raw:
            raise HoursError(f"{path}.{key}: missing")
    return Closure(_parse_month_day(raw.get("from"), f"{path}.from"), _parse_month_day(raw.get("to"), f"{path}.to"))


def _parse_month_day(raw: Any, path: str) -> tuple[int, int]:
    match = _MONTH_DAY_RE.match(raw) if isinstance(raw, str) else None
    if match is None:
        raise HoursError(f'{path}: {_show(raw)} is not a month-day "MM-DD" (quoted)')
    month, day = int(match[1]), int(match[2])
    try:
        date(2000, month, day)  # a leap year, so 02-29 is accepted
    except ValueError:
        raise HoursError(f"{path}: {raw!r} is not a day of the year") from None
    return month, day


def _reject_unknown_keys(data: Mapping[Any, Any], allowed: frozenset[str], prefix: str) -> None:
    for key in data:
        if key not in allowed:
            raise HoursError(f"{prefix}{key}: unknown field (allowed: {', '.join(sorted(allowed))})")


def _show(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


# --------------------------------------------------------------------------
# Formatting


def format_when(when: datetime, lang: str, now: datetime) -> str:
    """A short Tokyo-time label for a card: "今日 14:00", "あした 14じ",
    "Mon 1 Dec, 14:00". Words for today/tomorrow are relative to ``now``."""
    if lang not in LANGS:
        raise ValueError(f"lang {lang!r} is not one of {', '.join(LANGS)}")
    when_t = _to_tokyo(when)
    days_ahead = (when_t.date() - _to_tokyo(now).date()).days
    return _format_when(when_t, lang, days_ahead)


# Babel takes ~20 µs a label, and the labels of a day repeat for every user
# (the same windows close at the same 17:15): the label depends only on these
# three values, so it is kept.
@functools.lru_cache(maxsize=4096)
def _format_when(when_t: datetime, lang: str, days_ahead: int) -> str:
    if lang == "ja_easy":
        return _easy_when(when_t, days_ahead)
    locale = _BABEL_LOCALE[lang]
    if days_ahead in (0, 1):
        clock = format_datetime(when_t, _TIME_PATTERN[lang], tzinfo=TOKYO, locale=locale)
        return f"{_RELATIVE_DAY[lang][days_ahead]} {clock}"
    if abs(days_ahead) >= _SHOW_YEAR_AFTER_DAYS:
        return format_datetime(when_t, _DATE_TIME_YEAR_PATTERN[lang], tzinfo=TOKYO, locale=locale)
    return format_datetime(when_t, _DATE_TIME_PATTERN[lang], tzinfo=TOKYO, locale=locale)


def _easy_when(when_t: datetime, days_ahead: int) -> str:
    """「きょう 17じ15ふん」, 「11/30（げつようび） 8じ30ぷん」: no kanji, and
    the minutes read as a child says them (ふん or ぷん by the last digit)."""
    clock = f"{when_t.hour}じ"
    if when_t.minute:
        clock += f"{when_t.minute}{'ぷん' if when_t.minute % 10 in (0, 1, 3, 4, 6, 8) else 'ふん'}"
    if days_ahead in (0, 1):
        return f"{_RELATIVE_DAY['ja_easy'][days_ahead]} {clock}"
    day = f"{when_t.month}/{when_t.day}（{_EASY_WEEKDAYS[when_t.weekday()]}）"
    if abs(days_ahead) >= _SHOW_YEAR_AFTER_DAYS:
        day = f"{when_t.year}/{day}"
    return f"{day} {clock}"
