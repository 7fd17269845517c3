"""Hotline cards: a window's name, what it does, how to reach it, and
whether it is open at this moment, in the user's language."""

from __future__ import annotations

from datetime import datetime

from dialogs.directory import Hotline
from dialogs.hours import HoursStatus, OpeningHours, format_when
from dialogs.i18n import Catalogs
from dialogs.reply import HotlineCard, PhoneLink


def status_text(hours: OpeningHours, now: datetime, lang: str, catalogs: Catalogs) -> str:
    """"open now until …", "closed, opens …", "24 hours" — never a guess.

    Windows whose hours the sources do not give say so instead of claiming
    to be open; hours that are only the usual ones say "usually".
    """
    return _status_text(hours.status(now), now, lang, catalogs, usual=hours.usual)


def _status_text(status: HoursStatus, now: datetime, lang: str, catalogs: Catalogs, *, usual: bool = False) -> str:
    if usual and status.kind == "weekly":
        if status.open_now and status.closes_at is not None:
            return catalogs.text(lang, "hours.usual_open", until=format_when(status.closes_at, lang, now))
        if not status.open_now and status.next_open:
            return catalogs.text(lang, "hours.usual_closed", when=format_when(status.next_open, lang, now))
    if status.kind == "always":
        return catalogs.text(lang, "hours.always")
    if status.kind == "anytime":
        return catalogs.text(lang, "hours.anytime")
    if status.kind == "unspecified":
        return catalogs.text(lang, "hours.unspecified")
    if status.open_now:
        if status.closes_at is None:  # a weekly slot set that never closes
            return catalogs.text(lang, "hours.always")
        return catalogs.text(lang, "hours.open_until", until=format_when(status.closes_at, lang, now))
    if status.next_open:
        return catalogs.text(lang, "hours.closed_next", when=format_when(status.next_open, lang, now))
    return catalogs.text(lang, "hours.closed")


def hotline_card(hotline: Hotline, now: datetime, lang: str, catalogs: Catalogs) -> HotlineCard:
    status = hotline.hours.status(now)  # once: the text and open_now say the same thing
    usual = hotline.hours.usual
    return HotlineCard(
        id=hotline.id,
        name=hotline.name_in(lang),
        summary=hotline.summary_in(lang),
        phones=tuple(PhoneLink(p.number, p.tel) for p in hotline.phones),
        url=hotline.url,
        line_id=hotline.line_id,
        status=_status_text(status, now, lang, catalogs, usual=usual),
        # Usual hours are guidance: neither "open" nor "closed" is certain.
        open_now=None if usual else status.open_now,
        hours_note=hotline.hours_note_in(lang),
        contact_note=hotline.contact_note_in(lang),
        language_note=(catalogs.text(lang, "card.answers_in_ja")
                       if lang not in ("ja", "ja_easy") and lang not in hotline.answers_in else None),
    )
