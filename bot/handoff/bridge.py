"""Between the LINE worker, the dialogue and the handoff queue.

The worker asks the bridge, for each event of a user:

- :meth:`HandoffBridge.with_counsellor`: is a counsellor on this chat? Then
  the dialogue stays quiet: the message goes to the transcript (an image is
  fetched from LINE and kept with the handoff), and crisis triage still runs,
  so a new danger signal raises the priority, alerts the console, and gets
  the 24-hour number at once, whoever is on the chat.
- :meth:`HandoffBridge.after_reply`: the dialogue answered. If the answer
  hands off (a danger signal, a request for a person), the chat is queued or
  its queued entry updated, and the user is told their place in line while
  counsellors are on duty. While a chat waits, what the user and the bot say
  goes to its transcript.
- :meth:`HandoffBridge.console_messages`: what a counsellor sent through the
  console, as plain content (:class:`bot.content.Part`) that
  each channel renders its own way.

The conversation core (bot.conversation) is the only caller; nothing here
knows LINE. The console never calls LINE itself: :func:`send_to_user` puts a console
event on the user's pipeline partition, so the worker pushes it in order with
the user's own events, with a retry key, retried and dead-lettered like any
other event.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, replace
from functools import cached_property
from datetime import datetime
from typing import Any, Callable

import redis

from bot.content import Part
from bot.handoff.queue import Handoff, HandoffQueue
from bot.handoff.recent import RecentTurns
from bot.pipeline.enqueue import CONSOLE_EVENT_TYPE, enqueue
from bot.storage.keys import KeyBuilder
from dialogs.cards import hotline_card
from dialogs.dangers import CATEGORY_ORDER
from dialogs.engine import Dialogue, Event, parse_postback
from dialogs.hours import format_when
from dialogs.reply import Reply

log = logging.getLogger(__name__)

#: Console actions the worker knows how to say to the user.
CONSOLE_ACTIONS = ("message", "card", "claimed", "requeued", "position", "after_hours", "closed", "returned")
#: Evidence images kept with a handoff: raster only (an SVG can carry script).
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
#: How far back a re-run event looks for its own transcript entry.
_DEDUPE_WINDOW = 20


@dataclass
class HandoffBridge:
    queue: HandoffQueue
    dialogue: Dialogue
    #: Fetches an image's content from LINE: (bytes, content type) or None.
    fetch_content: Callable[[str], tuple[bytes, str] | None]
    #: Tokyo time, for the desk's staffed hours.
    clock: Callable[[], datetime]
    #: Puts one console event on the pipeline (see :func:`send_to_user`).
    send: Callable[..., str] | None = None
    #: The last turns as sent, copied into a new handoff's transcript (bot.handoff.recent);
    #: without it, the states the session passed through are shown again instead.
    recent: RecentTurns | None = None
    #: Epoch seconds, for when a turn was kept.
    epoch: Callable[[], float] = time.time

    # ----------------------------------------------------------------- worker

    def active(self, user: str) -> Handoff | None:
        return self.queue.active_for(user)

    def with_counsellor(self, handoff: Handoff, event_id: str, event: Event,
                        message_id: str | None = None) -> list[str]:
        """A message while a counsellor has the chat: record it; the texts to
        send now (none, unless a danger signal needs the 24-hour number)."""
        self._record_user(handoff, event_id, event, message_id)
        if event.kind != "text":
            return []
        # A person is reading every line: the console is alerted and the user
        # given the number on clear signals, not on every unsure reading.
        found = self.dialogue.assess(event.text or "", handoff.role).only_if_sure()
        if not found.urgent:
            return []
        result = found.triage
        self.queue.raise_priority(handoff.id, result.severity, result.reasons)
        category = found.category if found.category in CATEGORY_ORDER else next(
            (c for c in CATEGORY_ORDER if c in result.categories), "self_harm")
        key = f"crisis.{category}.other" if found.about_other else f"crisis.{category}"
        text = self.dialogue.catalogs.text(handoff.lang, key)
        self._append(handoff.id, event_id, {"from": "bot", "kind": "text", "text": text, "lang": handoff.lang})
        return [text]

    def after_reply(self, user: str, event_id: str, event: Event, reply: Reply, active: Handoff | None,
                    message_id: str | None = None) -> Reply:
        """Queue or update the handoff the reply asks for; keep the transcript
        of a waiting chat; tell the user their place in line."""
        if not reply.handoff and active is None:
            return reply
        handoff = active
        if reply.handoff:
            opened = self.queue.open(
                user,
                role=reply.role,
                level=reply.level,
                lang=reply.lang,
                category=self._category(reply, active),
                urgent=reply.urgent,
                severity=reply.severity,
                reasons=list(reply.reasons),
                identity=reply.extra.get("identity") if reply.extra else None,
            )
            if active is None or active.id != opened.id:
                self._earlier_turns(opened, user, reply)
            handoff = opened
        assert handoff is not None
        self._record_user(handoff, event_id, event, message_id, reply.lang)
        if reply.handoff and handoff.status == "waiting" and self._desk_open():
            position = self.queue.position(handoff.id)
            if position:
                text = self.dialogue.catalogs.text(reply.lang, "human.position", n=position)
                reply = replace(reply, texts=(*reply.texts, text))
                self.queue.set_notified_position(handoff.id, position)
            if self.send is not None:
                # An urgent chat goes ahead of others: they hear their new place.
                notify_positions(self.queue, self.send, True)
        if reply.texts or reply.cards:
            self._append(handoff.id, event_id, bot_entry(reply.lang, reply.texts,
                                                         [(c.id, c.name) for c in reply.cards],
                                                         [c.label for c in reply.choices]))
        return reply

    def note_turn(self, user: str, event_id: str, event: Event, reply: Reply, active: Handoff | None,
                  send: Callable[[Callable[[Any], Any]], None] | None = None) -> None:
        """Keep this turn as the user had it (bot.handoff.recent), unless a chat is
        already open: its transcript has the turn already."""
        if self.recent is None or active is not None or reply.handoff:
            return
        label = self._tap_label(event.data, reply.lang) if event.kind == "postback" else None
        self.recent.note(user, self.recent.entry(event_id, event, reply, label, self.epoch()), send)

    def console_messages(self, payload: dict[str, Any]) -> tuple[Handoff | None, list[Part]]:
        """What the console asked to send (may be nothing: a stale position
        update, a chat that ended meanwhile)."""
        action = payload.get("action")
        handoff = self.queue.get(str(payload.get("handoff", "")))
        if handoff is None or action not in CONSOLE_ACTIONS:
            return handoff, []
        t = self.dialogue.catalogs.text
        lang = handoff.lang
        if action in ("message", "card") and handoff.status in ("closed", "bot"):
            # Written while someone else was ending the chat: it would arrive after
            # the user was told the chat had ended. (Sent before that, it goes.)
            sent_at = payload.get("sent_at")
            if isinstance(sent_at, (int, float)) and handoff.closed_at and sent_at > handoff.closed_at:
                log.info("console %s after the chat ended: not sent", action)
                return handoff, []
        if action == "message":
            text = str(payload.get("text") or "").strip()
            return handoff, [Part.text(lang, t(lang, "human.counsellor_says", text=text))] if text else []
        if action == "card":
            hotline = self.dialogue.directory.get(str(payload.get("hotline")))
            return handoff, [Part(lang, cards=(hotline_card(hotline, self.clock(), lang, self.dialogue.catalogs),))]
        if action == "claimed":
            return handoff, [Part.text(lang, t(lang, "human.connected"))]
        if action == "requeued":
            # The user had been told a person joined; now they are back in line.
            if handoff.status != "waiting":
                return handoff, []
            if self._desk_open():
                position = self.queue.position(handoff.id) or 1
                self.queue.set_notified_position(handoff.id, position)
                return handoff, [Part.text(lang, t(lang, "human.requeued", n=position))]
            return handoff, self._off_duty(lang)
        if action == "after_hours":
            if handoff.status != "waiting":
                return handoff, []
            return handoff, self._off_duty(lang)
        if action == "position":
            # Sent only if it is still true when the worker gets to it.
            n = payload.get("n")
            if handoff.status != "waiting" or self.queue.position(handoff.id) != n:
                return handoff, []
            return handoff, [Part.text(lang, t(lang, "human.position_update", n=n))]
        # closed / returned: the caller adds the menu, so the bot is back.
        self._drop_ghost(handoff)
        return handoff, [Part.text(lang, t(lang, "human.ended" if action == "closed" else "human.returned"))]

    def unfollowed(self, user: str) -> None:
        """The user blocked the bot: a waiting or claimed chat cannot go on."""
        handoff = self.queue.active_for(user)
        if handoff is None:
            return
        self.queue.append(handoff.id, {"from": "system", "kind": "event", "text": "user blocked the bot"})
        self.queue.return_to_bot(handoff.id, "system", force=True)

    # ----------------------------------------------------------------- helpers

    def _off_duty(self, lang: str) -> list[Part]:
        """Nobody is on duty: when they are back, the 24-hour numbers, and that
        the message is kept for them."""
        t = self.dialogue.catalogs.text
        desk = self.dialogue.directory.profile.desk
        now = self.clock()
        status = desk.hours.status(now)
        closed = (t(lang, "human.closed", desk=desk.name_in(lang), when=format_when(status.next_open, lang, now))
                  if status.next_open else t(lang, "human.closed_unknown", desk=desk.name_in(lang)))
        return [Part.text(lang, closed, t(lang, "human.closed_24h"), t(lang, "human.kept"))]

    def _drop_ghost(self, ended: Handoff) -> None:
        """A message the user sent while the counsellor was closing was answered
        from the old "waiting" state and queued a new chat just before the user
        hears it has ended. Unless that message was a danger signal, the new chat
        is returned to the bot: the menu coming back is the true answer."""
        # By pseudonym: the LINE id stays sealed unless something is pushed.
        ghost = self.queue.active_for_pseudonym(ended.user)
        if (ghost is None or ghost.id == ended.id or ghost.urgent or ghost.status != "waiting"
                or ended.closed_at is None or ghost.queued_at < ended.closed_at):
            return
        self.queue.append(ghost.id, {"from": "system", "kind": "event",
                                     "text": "opened while the previous chat was closing; returned to the bot"})
        self.queue.return_to_bot(ghost.id, "system", force=True)

    def _desk_open(self) -> bool:
        return self.dialogue.desk_open(self.clock())

    def _category(self, reply: Reply, active: Handoff | None) -> str:
        if reply.reasons:
            first = reply.reasons[0].split(".")[0].split(":")[0]
            if first:
                return first
        chart = self.dialogue.chart
        for sid in reversed(reply.trail):
            branch = chart.states[sid].branch if sid in chart.states else None
            if branch and branch not in ("human", "crisis"):
                return branch
        return active.category if active and active.category else "other"

    def _earlier_turns(self, handoff: Handoff, user: str, reply: Reply) -> None:
        """The turns before the handoff, as the user had them (bot.handoff.recent):
        each tap by its label, a typed message as the fact that one was written,
        then the bot's answer in the language it was sent, with its cards and buttons.
        When none were kept (an hour passed, or a bot from before the log), the
        states the session passed through instead, marked as shown again."""
        turns = self.recent.read(user) if self.recent is not None else []
        if not turns:
            self._bot_part(handoff, reply)
            return
        # Copied once: the next handoff starts with the turns after this one.
        self.recent.clear(user)
        for turn in turns:
            did = turn.get("did") or {}
            kind = did.get("kind")
            if kind == "postback":
                said = did.get("label") or "[tap]"
            elif kind == "text":
                said = EARLIER_TYPED
            elif kind == "media":
                said = f"[{did.get('media') or 'file'}]"
            else:
                said = ""
            if said:
                self.queue.append(handoff.id, {"from": "user", "kind": "event", "text": said, "at": turn.get("at")})
            cards = [(c.get("id", ""), c.get("name", "")) for c in turn.get("cards") or [] if isinstance(c, dict)]
            if turn.get("texts") or cards:
                self.queue.append(handoff.id, {**bot_entry(turn.get("lang") or handoff.lang, turn.get("texts") or [],
                                                           cards, turn.get("choices") or []), "at": turn.get("at")})

    def _bot_part(self, handoff: Handoff, reply: Reply) -> None:
        """What the bot had shown before the handoff, from the state ids the
        session kept (the user's own earlier words were never stored): shown
        again, so marked as such."""
        chart, catalogs = self.dialogue.chart, self.dialogue.catalogs
        for sid in reply.trail[:-1]:
            state = chart.states.get(sid)
            if state is None or not state.texts:
                continue
            text = catalogs.text(reply.lang, state.texts[0].key)
            self.queue.append(handoff.id, {"from": "bot", "kind": "text", "text": text, "state": sid,
                                           "lang": reply.lang, "shown_again": True})

    def _record_user(self, handoff: Handoff, event_id: str, event: Event, message_id: str | None,
                     lang: str | None = None) -> None:
        if self._seen(handoff.id, event_id, "user"):
            return
        if event.kind == "text":
            entry = {"from": "user", "kind": "text", "text": event.text or ""}
        elif event.kind == "postback":
            # The label as the button showed it: in the language it was sent in.
            entry = {"from": "user", "kind": "event", "text": self._tap_label(event.data, lang or handoff.lang)}
        elif event.kind == "media" and event.data == "image" and message_id:
            content = self.fetch_content(message_id)
            if content is not None:
                data, content_type = content
                if content_type not in IMAGE_TYPES:
                    # LINE sends JPEG; anything else is not shown to a counsellor inline.
                    self._append(handoff.id, event_id, {"from": "user", "kind": "event",
                                                                 "text": "[image of an unsupported type]"})
                    return
                try:
                    self.queue.add_image(handoff.id, data, content_type)
                    self._append(handoff.id, event_id, {"from": "system", "kind": "event",
                                                                 "text": "image received", "mark": "user"})
                    return
                except ValueError:
                    log.warning("handoff image not kept (type or size)")
            entry = {"from": "user", "kind": "event", "text": "[image: LINE no longer has it]"}
        elif event.kind == "media":
            entry = {"from": "user", "kind": "event", "text": f"[{event.data}]"}
        elif event.kind == "follow":
            entry = {"from": "user", "kind": "event", "text": "[followed the bot again]"}
        else:
            return
        self._append(handoff.id, event_id, {**entry, "mark": "user"})

    @cached_property
    def _option_labels(self) -> dict[str, str]:
        """Trigger -> the catalog key of its button's label, the first state's that has it
        (as the scan of every state found it). Built once: every tap's turn asks now."""
        labels: dict[str, str] = {}
        for state in self.dialogue.chart.states.values():
            for option in state.options:
                labels.setdefault(option.id, option.label)
        return labels

    def _tap_label(self, data: str | None, lang: str) -> str:
        trigger = parse_postback(data)
        key = self._option_labels.get(trigger) if trigger else None
        return f"[{self.dialogue.catalogs.text(lang, key)}]" if key is not None else "[tap]"

    def _seen(self, hid: str, event_id: str, mark: str) -> bool:
        """A re-run event (a worker died before acknowledging it) finds its own
        entry among the last ones and does not write it twice."""
        recent = self.queue.transcript(hid, last=_DEDUPE_WINDOW)
        return any(e.get("event") == event_id and e.get("mark", e.get("from")) == mark for e in recent)

    def _append(self, hid: str, event_id: str, entry: dict[str, Any]) -> None:
        mark = entry.get("mark", entry.get("from"))
        if mark != "user" and self._seen(hid, event_id, mark):
            return
        self.queue.append(hid, {**entry, "event": event_id})


#: A message typed before the handoff: its text was not kept (bot.handoff.recent).
EARLIER_TYPED = "[typed before the handoff: not kept]"


def bot_entry(lang: str, texts: Any, cards: list[tuple[str, str]], choices: Any) -> dict[str, Any]:
    """A transcript line of the bot as the user got it: its texts in the language sent,
    the cards (ids, for the closing record's ticks, and names) and the buttons offered."""
    entry: dict[str, Any] = {"from": "bot", "kind": "text", "text": "\n".join(texts), "lang": lang}
    if cards:
        entry["cards"] = [hid for hid, _ in cards]
        entry["card_names"] = [name for _, name in cards]
    if choices:
        entry["choices"] = list(choices)
    return entry


def send_to_user(client: redis.Redis, keys: KeyBuilder, partitions: int, handoff: Handoff,
                 action: str, *, event_id: str | None = None, **payload: Any) -> str:
    """Queue a console message for ``handoff``'s user; returns its event id.

    The event goes to the user's own partition of the pipeline (same source
    id: the LINE id is opened here, the one place a console action needs it),
    so it reaches the user in order with their own events and is pushed
    with a retry key derived from the event id: delivered once. A caller that
    may say the same thing twice (two clicks on 'take' at one instant) passes
    an ``event_id`` derived from what happened: the pipeline's de-duplication
    then keeps one.
    """
    if action not in CONSOLE_ACTIONS:
        raise ValueError(f"unknown console action {action!r}; one of {CONSOLE_ACTIONS}")
    event_id = event_id or "xc" + secrets.token_hex(12)
    # sent_at is consultation time, compared with the queue's closed_at: callers with a
    # runtime pass its clock's (Runtime.send_to_user); the clock process runs on the wall
    # clock, as its queue does. The event's timestamp is LINE's kind of time (reply-token
    # ages, the loading animation): always the wall clock.
    payload.setdefault("sent_at", time.time())
    event = {
        "type": CONSOLE_EVENT_TYPE,
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "webhookEventId": event_id,
        "source": {"type": "user", "userId": handoff.line_user},
        "console": {"action": action, "handoff": handoff.id, **payload},
    }
    enqueue(client, keys, [event], partitions=partitions)
    return event_id


def notify_positions(queue: HandoffQueue, send: Callable[..., str], desk_open: bool) -> int:
    """Tell each waiting user whose place in line changed their new place
    (only while counsellors are on duty: out of hours they were told when
    the desk opens). Returns how many were told."""
    if not desk_open:
        return 0
    told = 0
    # The worker and the console may both notice the same change at once: the
    # event id names the queue's state, so the pipeline keeps one notice.
    version = queue.version()
    waiting = queue.list("waiting")
    told_before = queue.notified_positions([h.id for h in waiting])
    for position, (handoff, before) in enumerate(zip(waiting, told_before), start=1):
        if before == position:
            continue
        queue.set_notified_position(handoff.id, position)
        send(handoff, "position", {"n": position}, event_id=f"xcpos-{handoff.id}-{position}-{version}")
        told += 1
    return told


def tell_off_duty(queue: HandoffQueue, send: Callable[..., str], desk_open: bool) -> int:
    """Counsellors went off duty with chats still waiting: each user who was
    given a place in line hears, once, when people are back and the 24-hour
    numbers; the chat stays queued and gets a fresh place at opening. (Run
    every minute by the clock process.) Returns how many were told."""
    if desk_open:
        return 0
    told = 0
    for handoff in queue.list("waiting"):
        if queue.notified_position(handoff.id) is None:
            continue  # never promised a place (queued while closed: told then)
        if queue.forget_notified_position(handoff.id):
            send(handoff, "after_hours", {}, event_id=f"xcoff-{handoff.id}-{int(queue.version())}")
            told += 1
    return told
