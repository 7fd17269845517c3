"""A dialogue ``Reply`` as LINE messages (line-bot-sdk v3 models).

``render(reply)`` is a pure function: the same reply always gives the same
messages, nothing is logged, nothing is sent. It keeps LINE's limits so a
reply is never refused for its shape:

- at most 5 messages (one reply call): the texts, then the hotline cards as
  one Flex carousel. When there are too many texts, neighbouring texts are
  merged (the shortest pairs first), never the first one: in an urgent reply
  the first text carries 0120-0-78310 / 110 / 119 and must arrive first and
  on its own, where a lock-screen notification shows it;
- a text is at most 5000 characters, counted as LINE counts them (UTF-16 code
  units); a longer one is split at a line break;
- the carousel holds at most 12 cards; cards beyond that are added as plain
  text so no number is lost;
- the Flex ``altText`` (what a phone without Flex support, a notification and
  the chat list show) lists every name and number, at most 1500 characters;
- the choices become quick-reply postback buttons on the LAST message: at
  most 13, labels of at most 20 characters (the chart enforces it; labels are
  still cut here so a data slip cannot make LINE refuse the whole answer).

Button labels on the cards ("電話する" / web) come from ``CardLabels``; until
the catalogs carry ``card.call`` / ``card.web`` (see ``CardLabels``) they are
made from the card's own data: "☎ 0120-0-78310" and the web site's host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence
from urllib.parse import urlsplit

from linebot.v3.messaging import (
    FlexBox,
    FlexBubble,
    FlexButton,
    FlexCarousel,
    FlexMessage,
    FlexText,
    Message,
    PostbackAction,
    QuickReply,
    QuickReplyItem,
    TextMessage,
    URIAction,
)

from dialogs.reply import Choice, HotlineCard, Reply

#: LINE's limits (Messaging API reference).
MAX_MESSAGES = 5
MAX_TEXT = 5000  # UTF-16 code units
MAX_ALT_TEXT = 1500
MAX_BUBBLES = 12
MAX_QUICK_REPLIES = 13
MAX_LABEL = 20  # action labels; LINE counts graphemes, we count code points (never more)
MAX_POSTBACK_DATA = 300
MAX_PHONE_BUTTONS = 3  # per card; more would crowd a bubble (none has more than one today)

#: Catalog keys the card buttons will read once they exist (all three languages).
CALL_KEY = "card.call"  # "電話する {number}" — must contain {number}
WEB_KEY = "card.web"  # "ウェブサイトを見る"

OPEN_COLOUR = "#1B7F3B"  # green: open now
MUTED_COLOUR = "#666666"
NOTE_COLOUR = "#888888"
ELLIPSIS = "…"


def utf16_len(text: str) -> int:
    """Length as LINE counts text: UTF-16 code units (an emoji may count 2)."""
    return len(text.encode("utf-16-le")) // 2


def _cut_utf16(text: str, limit: int) -> str:
    """The longest prefix of ``text`` within ``limit`` UTF-16 units (never half a pair)."""
    if utf16_len(text) <= limit:
        return text
    out, used = [], 0
    for ch in text:
        size = 2 if ord(ch) > 0xFFFF else 1
        if used + size > limit:
            break
        out.append(ch)
        used += size
    return "".join(out)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + ELLIPSIS


def _truncate_utf16(text: str, limit: int) -> str:
    if utf16_len(text) <= limit:
        return text
    return _cut_utf16(text, limit - 1) + ELLIPSIS


def _host_label(url: str) -> str:
    host = urlsplit(url).hostname or url
    if host.startswith("www."):
        host = host[4:]
    return host


@dataclass(frozen=True)
class CardLabels:
    """Labels of a card's buttons: ``call(number)`` and ``web(url)``."""

    call: Callable[[str], str] = lambda number: f"☎ {number}"
    web: Callable[[str], str] = _host_label

    @classmethod
    def from_catalog(cls, catalogs, lang: str) -> "CardLabels":
        """The catalog's ``card.call`` / ``card.web`` in ``lang`` where they
        exist, the card's own data where they do not (yet)."""
        call = cls.call
        web = cls.web
        if catalogs.has(lang, CALL_KEY):
            call = lambda number: catalogs.text(lang, CALL_KEY, number=number)  # noqa: E731
        if catalogs.has(lang, WEB_KEY):
            web = lambda url: catalogs.text(lang, WEB_KEY)  # noqa: E731
        return cls(call=call, web=web)


DEFAULT_LABELS = CardLabels()


# --- texts --------------------------------------------------------------------


def _split_long(text: str) -> list[str]:
    """A text over LINE's limit, as pieces within it, cut at line breaks where possible."""
    pieces = []
    while utf16_len(text) > MAX_TEXT:
        head = _cut_utf16(text, MAX_TEXT)
        cut = head.rfind("\n")
        if cut > len(head) // 2:  # a line break in the second half: cut there
            head = head[:cut]
            text = text[cut + 1 :]
        else:
            text = text[len(head) :]
        pieces.append(head)
    if text:
        pieces.append(text)
    return pieces


def _fit_texts(texts: Sequence[str], budget: int) -> list[str]:
    """The texts in order, in at most ``budget`` messages of at most MAX_TEXT.

    Merges the adjacent pair with the shortest result first and never merges
    into the first text while another pair fits, so the first text stays on
    its own. Only when nothing else fits is text cut (never seen in practice:
    it would take more than 20,000 characters in one answer).
    """
    units: list[str] = []
    for text in texts:
        if text and text.strip():
            units.extend(_split_long(text))
    if budget <= 0:
        return []
    while len(units) > budget:
        best: tuple[int, int] | None = None
        for start in (1, 0):  # first try to leave the first text alone
            for i in range(start, len(units) - 1):
                size = utf16_len(units[i]) + 2 + utf16_len(units[i + 1])
                if size <= MAX_TEXT and (best is None or size < best[0]):
                    best = (size, i)
            if best is not None:
                break
        if best is None:
            tail = "\n\n".join(units[budget - 1 :])
            units = units[: budget - 1] + [_truncate_utf16(tail, MAX_TEXT)]
            break
        i = best[1]
        units[i : i + 2] = [units[i] + "\n\n" + units[i + 1]]
    return units


# --- cards --------------------------------------------------------------------


def _text(text: str | None, **style) -> list[FlexText]:
    if not text or not text.strip():
        return []
    return [FlexText(text=text, wrap=True, **style)]


def _bubble(card: HotlineCard, labels: CardLabels) -> FlexBubble:
    buttons: list[FlexButton] = []
    shown_numbers = []
    for phone in card.phones[:MAX_PHONE_BUTTONS]:
        label = shorten(labels.call(phone.number), MAX_LABEL)
        if phone.number in label:
            shown_numbers.append(phone.number)
        buttons.append(
            FlexButton(
                style="primary",
                height="sm",
                action=URIAction(label=label, uri=phone.tel),
            )
        )
    if card.url:
        buttons.append(
            FlexButton(
                style="secondary",
                height="sm",
                action=URIAction(label=shorten(labels.web(card.url), MAX_LABEL), uri=card.url),
            )
        )

    body = [
        *_text(card.name, weight="bold", size="md"),
        *_text(card.summary, size="sm", color=MUTED_COLOUR),
    ]
    # Every number is readable in the bubble itself (it can be dialled from
    # another phone), even when a button label does not show it.
    for phone in card.phones:
        if phone.number not in shown_numbers:
            body += _text(f"☎ {phone.number}", size="sm")
    if card.line_id:
        body += _text(f"LINE {card.line_id}", size="sm")
    body += _text(
        card.status,
        size="sm",
        weight="bold",
        color=OPEN_COLOUR if card.open_now else MUTED_COLOUR,
        margin="md",
    )
    body += _text(card.hours_note, size="xs", color=NOTE_COLOUR)
    body += _text(card.contact_note, size="xs", color=NOTE_COLOUR)
    body += _text(card.language_note, size="xs", color=NOTE_COLOUR)

    return FlexBubble(
        size="kilo",
        body=FlexBox(layout="vertical", spacing="sm", contents=body),
        footer=FlexBox(layout="vertical", spacing="sm", contents=buttons) if buttons else None,
    )


def alt_text(cards: Iterable[HotlineCard]) -> str:
    """Every card's name and numbers on one line each: what a phone that cannot
    show Flex, a notification and the chat list show instead of the cards."""
    lines = []
    for card in cards:
        numbers = " ".join(f"☎{p.number}" for p in card.phones)
        lines.append(f"{card.name} {numbers}".strip())
    return _truncate_utf16("\n".join(lines), MAX_ALT_TEXT) or "-"


def _carousel(cards: Sequence[HotlineCard], labels: CardLabels) -> FlexMessage:
    return FlexMessage(
        alt_text=alt_text(cards),
        contents=FlexCarousel(contents=[_bubble(card, labels) for card in cards]),
    )


# --- quick replies ------------------------------------------------------------


def quick_reply(choices: Sequence[Choice]) -> QuickReply | None:
    items = []
    for choice in choices:
        label = shorten(choice.label.strip(), MAX_LABEL)
        if not label or not choice.data or len(choice.data) > MAX_POSTBACK_DATA:
            continue  # a button LINE would refuse would sink the whole answer
        items.append(
            QuickReplyItem(
                action=PostbackAction(label=label, data=choice.data, display_text=label)
            )
        )
        if len(items) == MAX_QUICK_REPLIES:
            break
    return QuickReply(items=items) if items else None


# --- the reply ----------------------------------------------------------------


def render(reply: Reply, labels: CardLabels | None = None) -> list[Message]:
    """``reply`` as at most 5 LINE messages (see the module docstring).

    A reply with neither text nor cards renders as no message at all; the
    caller decides what to do (the dialogue never produces one).
    """
    labels = labels or DEFAULT_LABELS
    cards = list(reply.cards[:MAX_BUBBLES])
    texts = list(reply.texts)
    # Cards beyond a carousel's 12 still reach the user, as text.
    texts += [card.as_text() for card in reply.cards[MAX_BUBBLES:]]

    budget = MAX_MESSAGES - (1 if cards else 0)
    messages: list[Message] = [TextMessage(text=t) for t in _fit_texts(texts, budget)]
    if cards:
        messages.append(_carousel(cards, labels))

    if messages:
        qr = quick_reply(reply.choices)
        if qr is not None:
            messages[-1].quick_reply = qr
    return messages
