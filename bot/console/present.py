"""How handoffs, transcripts and hotlines look in the console's JSON.

One place decides what leaves the server: a handoff is ``Handoff.to_api()``
(which already lists only what may be shown: the short pseudonym, never the
LINE id) plus Japanese labels; a transcript entry is rebuilt field by field,
so whatever the worker stores for its own bookkeeping (webhook event ids,
dedupe marks) stays inside.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from bot.console import labels
from bot.privacy import find_pii
from bot.handoff.queue import Handoff
from dialogs.cards import hotline_card
from dialogs.directory import Directory
from dialogs.engine import Dialogue
from dialogs.hours import TOKYO
from dialogs.i18n import Catalogs

#: The console reads hotline cards in Japanese: counsellors are Japanese-speaking.
CONSOLE_LANG = "ja"
_KINDS = ("text", "image", "card", "event")
_SENDERS = ("user", "bot", "counsellor", "note", "system")
#: Where a chat's page is (bot.console.views: the blueprint is mounted at /console).
_CHAT_URL = "/console/h/"


def handoff_json(handoff: Handoff, now: float, *, readable: bool = True) -> dict[str, Any]:
    """The queue's view of one chat, with labels and how long it has waited (seconds).

    ``readable``: the read policy lets the viewer read this chat (bot.console.actions);
    if not, the chat is listed (who has what) without a teacher's identity."""
    data = handoff.to_api()
    if not readable:
        data["identity"] = None
    end = handoff.claimed_at if handoff.status != "waiting" and handoff.claimed_at else now
    if handoff.status in ("closed", "bot") and handoff.claimed_at is None:
        end = handoff.closed_at or now
    data.update(
        waiting_seconds=max(0, int(end - handoff.queued_at)),
        idle_seconds=(max(0, int(now - handoff.last_activity))
                      if handoff.status == "claimed" and handoff.last_activity else None),
        role_label=labels.role_label(handoff.role),
        category_label=labels.category_label(handoff.category),
        severity_label=labels.severity_label(handoff.severity),
        status_label=labels.status_label(handoff.status),
        alert_label=labels.alert_label(handoff.alert),
        lang_label=labels.LANG_LABELS.get(handoff.lang, handoff.lang),
        reason_labels=[labels.reason_label(r) for r in handoff.reasons],
        closed_by=handoff.closed_by,
        can_read=readable,
    )
    return data


def history_json(handoff: Handoff, now: float, entries: list[dict[str, Any]], directory: Directory, *,
                 follow_up_open: bool, readable: bool) -> dict[str, Any]:
    """One earlier chat of the same person for the history panel: when, what, how
    urgent, who answered, its record, its follow-up and the counsellors' notes
    (from ``entries``, its transcript; none once purged). Never the person's words:
    those are the transcript's, which opens only under the read policy."""
    record = record_json(handoff.record, directory)
    follow = (handoff.record or {}).get("follow_up") or {}
    notes = [{"at": e.get("at"), "by": e.get("by"), "text": e.get("text")}
             for e in entries if e.get("from") == "note" and isinstance(e.get("text"), str)]
    return {
        **handoff_json(handoff, now, readable=readable),
        "identity": None,  # a teacher's name is read on the chat it was given in
        "counsellors": list(handoff.handlers),
        "record": record,
        "follow_up": follow_up_state(follow, follow_up_open, handoff),
        "notes": notes,
        "url": f"{_CHAT_URL}{handoff.id}",
    }


def search_text(handoff: Handoff, entries: list[dict[str, Any]], directory: Directory, *,
                transcript: bool) -> str:
    """What a finished chat is found by (lower case): its short pseudonym, dates
    (2026-12-07, 12/7), labels, signs, closing record and notes; with ``transcript``
    every line of it as well."""
    parts = [handoff.user[:8], labels.category_label(handoff.category), labels.role_label(handoff.role),
             labels.severity_label(handoff.severity), labels.status_label(handoff.status),
             handoff.closed_by or "", *handoff.handlers, *(labels.reason_label(r) for r in handoff.reasons)]
    for at in (handoff.queued_at, handoff.closed_at):
        if at:
            day = datetime.fromtimestamp(at, TOKYO)
            parts += [day.strftime("%Y-%m-%d"), f"{day.month}/{day.day}"]
    record = record_json(handoff.record, directory)
    if record:
        follow = record.get("follow_up") or {}
        parts += [record["role_label"], record["category_label"], str(record.get("advice") or ""),
                  str(follow.get("text") or ""), *record["referred_names"]]
    for e in entries:
        if e.get("from") == "note" or (transcript and e.get("from") in ("user", "bot", "counsellor")):
            parts.append(str(e.get("text") or ""))
    return "\n".join(parts).lower()


def follow_up_state(follow: dict[str, Any], still_open: bool, handoff: Handoff) -> dict[str, Any] | None:
    """A record's follow-up as the console shows it, or None when none was asked for."""
    if follow.get("needed") is not True:
        return None
    return {"text": follow.get("text") or "", "due": follow.get("due"), "open": still_open,
            "done_at": handoff.follow_up_done_at, "done_by": handoff.follow_up_done_by,
            "label": "要フォロー" if still_open else "フォロー済み"}


def follow_up_json(handoff: Handoff, due: float, today: date) -> dict[str, Any]:
    """One line of the 要フォロー list."""
    day = datetime.fromtimestamp(due, TOKYO).date()
    follow = (handoff.record or {}).get("follow_up") or {}
    return {
        "id": handoff.id,
        "user": handoff.user[:8],
        "due": day.isoformat(),
        "overdue": day < today,
        "due_today": day == today,
        "text": follow.get("text") or "",
        "closed_at": handoff.closed_at,
        "closed_by": handoff.closed_by,
        "category_label": labels.category_label((handoff.record or {}).get("category") or handoff.category),
        "severity": handoff.severity,
        "severity_label": labels.severity_label(handoff.severity),
        "url": f"{_CHAT_URL}{handoff.id}",
    }


def record_json(record: dict[str, Any] | None, directory: Directory) -> dict[str, Any] | None:
    """The closing record (記録簿) with labels for its codes."""
    if record is None:
        return None
    referred = [h for h in record.get("referred", []) if isinstance(h, str)]
    return {
        **record,
        # A record written by a script may lack it; the page reads it on every closed chat.
        "follow_up": record.get("follow_up") if isinstance(record.get("follow_up"), dict)
        else {"needed": False, "text": ""},
        "role_label": labels.role_label(record.get("role")),
        "category_label": labels.category_label(record.get("category")),
        "school_contact_label": labels.SCHOOL_CONTACT_LABELS.get(str(record.get("school_contact_agreed")), ""),
        "referred_names": [directory.get(h).name_in(CONSOLE_LANG) if h in directory else h for h in referred],
    }


def transcript_json(entries: list[dict[str, Any]], hid: str, directory: Directory,
                    start: int = 0) -> list[dict[str, Any]]:
    """Entries from index ``start`` on, each with its index ``n`` (for polling with since=)."""
    return [_entry(n, entry, hid, directory) for n, entry in enumerate(entries[start:], start=start)]


def _entry(n: int, entry: dict[str, Any], hid: str, directory: Directory) -> dict[str, Any]:
    sender = entry.get("from") if entry.get("from") in _SENDERS else "system"
    kind = entry.get("kind") if entry.get("kind") in _KINDS else "text"
    text = entry.get("text") if isinstance(entry.get("text"), str) else ""
    by = entry.get("by") if isinstance(entry.get("by"), str) else None
    out: dict[str, Any] = {"n": n, "at": entry.get("at"), "from": sender, "by": by, "kind": kind, "text": text}
    if kind == "image" and isinstance(entry.get("image"), int):
        out["image"] = entry["image"]
        out["image_url"] = f"/api/handoffs/{hid}/images/{entry['image']}"
    elif kind == "card":
        hotline = entry.get("hotline")
        if isinstance(hotline, str):
            out["hotline"] = hotline
            if hotline in directory:
                out["text"] = directory.get(hotline).name_in(CONSOLE_LANG)
    elif sender == "system" and kind == "event":
        event = entry.get("event")
        # The queue's transitions name what happened in "event"; the worker's own
        # notes carry a webhook event id there instead, and their text says it.
        if isinstance(event, str) and event in labels.EVENT_LABELS:
            out["event"] = event
            to = entry.get("to") if isinstance(entry.get("to"), str) else None
            out["text"] = labels.event_label(event, by, to)
        else:
            out["text"] = labels.system_text(text)
    elif sender == "user" and kind == "event":
        out["text"] = labels.system_text(text)
    if sender == "user" and kind == "text" and out["text"]:
        out["pii"] = pii_spans(out["text"])
    if sender == "bot":
        # As the user got it: the language it was sent in, its cards and its buttons.
        lang = entry.get("lang")
        if isinstance(lang, str) and lang:
            out["lang"] = lang
            out["lang_label"] = labels.LANG_LABELS.get(lang, lang)
        out["cards"] = [c for c in entry.get("card_names") or [] if isinstance(c, str)]
        out["choices"] = [c for c in entry.get("choices") or [] if isinstance(c, str)]
        if entry.get("shown_again"):
            out["shown_again"] = True
    return out


def pii_spans(text: str) -> list[dict[str, Any]]:
    """Phone numbers, e-mail and street addresses in a user's message, for the chat view
    to highlight (so the counsellor notices what must not be copied anywhere).

    Offsets are in UTF-16 code units, as JavaScript strings count them: an emoji
    before a phone number must not shift the highlight.
    """
    spans = []
    for span in find_pii(text):
        start = len(text[:span.start].encode("utf-16-le")) // 2
        end = start + len(text[span.start:span.end].encode("utf-16-le")) // 2
        spans.append({"start": start, "end": end, "kind": span.kind})
    return spans


#: The 24-hour line every urgent chat's cards start with (safety rules: in a crisis
#: the first thing given is this number).
TWENTY_FOUR_HOUR_LINE = "sos_dial"


def card_order(dialogue: Dialogue, handoff: Handoff) -> list[str]:
    """Hotline ids in the order this chat needs its cards: on an urgent chat the
    24-hour line, then the cards triage gives its kind of danger (for the one in
    danger, or for an adult writing about a child); then the windows the chart
    shows for the chat's category; the rest of the directory after them."""
    first: list[str] = []
    if handoff.urgent:
        first.append(TWENTY_FOUR_HOUR_LINE)
    danger = (dialogue.dangers or {}).get(handoff.category or "")
    if danger is not None:
        first += danger.cards if handoff.role in (None, "child", "unknown") else danger.cards_other
    for state in dialogue.chart.states.values():
        if handoff.category and state.branch == handoff.category:
            first += [ref.id for ref in state.hotlines if ref.when.matches(handoff.role or "unknown", None)]
    known = [h for h in dict.fromkeys(first) if h in dialogue.directory]
    return known + [h for h in dialogue.directory.ids if h not in known]


def ordered_hotlines(hotlines: list[dict[str, Any]], order: list[str]) -> list[dict[str, Any]]:
    """``hotlines`` (hotlines_json) in ``order`` (card_order), marking those it put first."""
    rank = {hid: n for n, hid in enumerate(order)}
    return sorted(hotlines, key=lambda h: rank.get(h["id"], len(rank)))


def cards_given(entries: list[dict[str, Any]]) -> list[str]:
    """Hotline ids the chat has given the user so far (the bot's cards and the
    counsellors'), in the order given: what the closing record starts ticked with."""
    given: list[str] = []
    for e in entries:
        if e.get("from") == "bot" and isinstance(e.get("cards"), list):
            given += [c for c in e["cards"] if isinstance(c, str)]
        elif e.get("kind") == "card" and isinstance(e.get("hotline"), str):
            given.append(e["hotline"])
    return list(dict.fromkeys(given))


def hotlines_json(directory: Directory, now: datetime, catalogs: Catalogs) -> list[dict[str, Any]]:
    """Every window of the directory, national then local, with whether it is open now."""
    result = []
    for hotline in directory.all():
        card = hotline_card(hotline, now, CONSOLE_LANG, catalogs)
        result.append({
            "id": hotline.id,
            "name": card.name,
            "summary": card.summary,
            "phones": [{"number": p.number, "tel": p.tel} for p in card.phones],
            "url": card.url,
            "line_id": card.line_id,
            "status": card.status,
            "open_now": card.open_now,
            "audience": list(hotline.audience),
            "local": hotline.local,
        })
    return result
