"""The record book: one pseudonymous record per consultation (記録簿 for the report).

A consultation opens at a user's first event, or the first after the previous
one ended: a handoff closed or returned to the bot, an unfollow, or six hours
without an event (while no handoff is open: a chat queued at night waits for
the desk, and it is the same consultation when a counsellor takes it).

What a record holds is codes and times only: never message text, never the
LINE id (the user is a keyed pseudonym). The counsellor's closing record is
copied in as the console validated it, with phone numbers, e-mail and street
addresses in its free text (advice, follow-up) masked: records are kept for
good, so personal data never reach them (exports mask again, bot.records.export).

Layout (KeyBuilder, all under ``{records}``): ``record_doc(id)`` is a hash of
JSON-encoded fields; ``records_month(YYYY-MM)`` a sorted set of ids by start
time (Tokyo month); ``records_open()`` maps a pseudonym to the id of the
consultation still going on.

Exactly once: the pipeline may re-run a user's event (a worker died before its
acknowledgement). The record keeps the ids of its last events, so a re-run
answer does not count twice.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

import redis

from bot.privacy import mask_pii_deep
from bot.storage.keys import KeyBuilder
from dialogs.severity import rank as severity_rank
from dialogs.hours import TOKYO

#: Six hours without an event end a consultation (unless a handoff is still open).
IDLE_SECONDS = 6 * 3600
#: Users whose open consultation a RecordBook remembers (a guess checked each time).
OPEN_GUESSES = 10_000
#: How many recent event ids a record keeps to recognise a re-run event.
RECENT_EVENTS = 8
#: Chart branches that are navigation, not a consultation topic.
NOT_TOPICS = frozenset({"menu", "start", "human"})


@dataclass
class Record:
    """One consultation. Times are epoch seconds; date/hour/weekday are Tokyo's."""

    id: str
    user: str  # keyed pseudonym (KeyBuilder.pseudonym), never the LINE id
    started_at: float
    date: str  # YYYY-MM-DD
    hour: int
    weekday: int  # 0 = Monday
    outside_hours: bool  # the desk was closed when the consultation started
    role: str | None = None
    level: str | None = None
    lang: str | None = None
    branches: list[str] = field(default_factory=list)
    hotlines: list[str] = field(default_factory=list)
    urgent: bool = False
    severity: str | None = None
    reasons: list[str] = field(default_factory=list)  # crisis categories (self_harm, ...)
    answers: int = 0
    handed_off: bool = False
    handoff_id: str | None = None
    queued_at: float | None = None
    claimed_at: float | None = None
    first_reply_at: float | None = None
    closed_at: float | None = None
    wait_seconds: float | None = None
    first_response_seconds: float | None = None
    closing: dict[str, Any] | None = None
    ended_at: float | None = None
    ended_by: str | None = None  # closed | returned | expired | unfollow | idle
    last_event_at: float | None = None
    events: list[str] = field(default_factory=list)

    @property
    def month(self) -> str:
        return self.date[:7]

    @property
    def category(self) -> str:
        """What the consultation was about, for the report: the counsellor's
        category when closed with a record, else the crisis category, else the
        first topic branch reached, else "other" (menu only)."""
        if self.closing and self.closing.get("category"):
            return str(self.closing["category"])
        if self.reasons:
            return self.reasons[0]
        if self.branches:
            return self.branches[0]
        return "other"

    def to_fields(self) -> dict[str, str]:
        return {f.name: json.dumps(getattr(self, f.name), ensure_ascii=False) for f in fields(self)}

    @classmethod
    def from_fields(cls, raw: dict) -> "Record":
        known = {f.name for f in fields(cls)}
        values = {}
        for key, value in raw.items():
            name = key.decode() if isinstance(key, bytes) else str(key)
            if name in known:
                values[name] = json.loads(value.decode() if isinstance(value, bytes) else value)
        return cls(**values)


@dataclass(frozen=True)
class OpenRead:
    """A user's open consultation (record and stored fields, or None), read in the
    first round trip of a turn (RecordBook.read_open)."""

    found: tuple[Record, dict[str, Any]] | None


class RecordBook:
    """Consultation records in Redis. ``clock`` gives epoch seconds (for ends
    noted without an instant of their own)."""

    def __init__(self, client: redis.Redis, keys: KeyBuilder,
                 clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._keys = keys
        self._clock = clock
        # pseudonym -> id of the consultation last found open: a guess, always
        # checked against Redis in the same round trip that reads the record.
        self._last_open: OrderedDict[str, str] = OrderedDict()
        self._last_open_lock = threading.Lock()  # a worker's partition threads share it

    # --- the worker's side ------------------------------------------------------------

    def read_open(self, pipe: Any, line_user: str) -> Callable[[list[Any]], "OpenRead"]:
        """Queue the reads of the user's open consultation on ``pipe``, a caller's
        non-transactional pipeline (its first round trip of a turn), and return
        what makes an :class:`OpenRead` of the replies, in the order queued, for
        :meth:`note_answer`."""
        queued = self._queue_open(pipe, self._keys.pseudonym(line_user))
        return lambda replies: OpenRead(queued(replies))

    def note_answer(self, line_user: str, reply: Any, now: datetime, desk_open: bool,
                    event_id: str | None = None, opened: "OpenRead | None" = None,
                    send: Callable[[Callable[[Any], Any]], None] | None = None) -> Record | None:
        """The dialogue answered one of the user's events. Returns the record, or
        None when this event was already counted (a re-run). ``opened``: the open
        consultation as read earlier in the turn (read_open), not read again.
        ``send``: how the record's change is sent (it is given what queues the
        commands on a pipeline); by default at once, in a round trip of its own."""
        at = now.timestamp()
        record, before = self._current(line_user, at, now, desk_open, opened)
        if event_id is not None:
            if event_id in record.events:
                return None
            record.events = [*record.events, event_id][-RECENT_EVENTS:]
        record.answers += 1
        record.last_event_at = at
        record.role = reply.role or record.role
        record.level = reply.level or record.level
        record.lang = reply.lang or record.lang
        if reply.branch and reply.branch not in NOT_TOPICS and reply.branch not in record.branches:
            record.branches.append(reply.branch)
        record.hotlines += [h for h in dict.fromkeys(reply.hotline_ids) if h not in record.hotlines]
        record.urgent = record.urgent or bool(reply.urgent)
        if severity_rank(reply.severity) > severity_rank(record.severity):
            record.severity = reply.severity
        record.reasons += [c for c in _categories(reply.reasons) if c not in record.reasons]
        self._save(record, before, send)
        return record

    def note_handoff(self, line_user: str, handoff: Any,
                     send: Callable[[Callable[[Any], Any]], None] | None = None) -> None:
        """The answer handed the chat to a person: the record remembers which handoff.
        Only those fields are written, and with ``send`` (see note_answer) in the same
        round trip as the answer's count: read before the answer's write is sent, the
        record's other fields are a step behind and must not be written back."""
        if handoff is None:
            return
        found = self._open(self._keys.pseudonym(line_user))
        if found is None or found[0].handoff_id == handoff.id:
            return
        record, before = found
        record.handed_off = True
        record.handoff_id = handoff.id
        record.queued_at = handoff.queued_at
        self._save(record, before, send=send)

    def handoff_ended(self, handoff: Any, why: str | None = None) -> Record | None:
        """A handoff was closed (with its 記録簿) or returned to the bot: copy its
        times and closing record, and end the consultation. ``why``: how it ended
        when not by a counsellor ("expired": left open past the profile's limit)."""
        record = self._for_handoff(handoff)
        if record is None:
            return None
        record.handed_off = True
        record.handoff_id = handoff.id
        record.queued_at = handoff.queued_at
        record.claimed_at = handoff.claimed_at
        record.first_reply_at = handoff.first_reply_at
        record.closed_at = handoff.closed_at
        record.wait_seconds = _between(handoff.queued_at, handoff.claimed_at)
        record.first_response_seconds = _between(handoff.queued_at, handoff.first_reply_at)
        # Masked again here: a handoff closed before the queue masked its record.
        record.closing = mask_pii_deep(dict(handoff.record)) if handoff.record else None
        # A danger signal while a counsellor held the chat raised the handoff, not a dialogue answer.
        record.urgent = record.urgent or handoff.urgent
        if severity_rank(handoff.severity) > severity_rank(record.severity):
            record.severity = handoff.severity
        record.reasons += [c for c in _categories(handoff.reasons) if c not in record.reasons]
        if record.ended_at is None:
            self._end(record, handoff.closed_at or self._clock(),
                      why or ("closed" if handoff.status == "closed" else "returned"))
        else:
            self._save(record)
        return record

    def user_left(self, line_user: str, now: datetime | None = None) -> None:
        """Unfollow: the consultation ends (the record stays, pseudonymous)."""
        record = self._open_record(self._keys.pseudonym(line_user))
        if record is not None:
            self._end(record, now.timestamp() if now else self._clock(), "unfollow")

    # --- reading ----------------------------------------------------------------------

    def open_for(self, line_user: str) -> Record | None:
        """The user's consultation still going on, if any (the simulator shows it)."""
        return self._open_record(self._keys.pseudonym(line_user))

    def get(self, record_id: str) -> Record | None:
        raw = self._client.hgetall(self._keys.record_doc(record_id))
        return Record.from_fields(raw) if raw else None

    def mark_generated(self, yyyy_mm: str) -> None:
        """The month's records were made up (bot.records.demo): every report of it says so."""
        self._keys.records_month(yyyy_mm)  # the same check of the month as its records get
        self._client.sadd(self._keys.records("generated"), yyyy_mm)

    def is_generated(self, yyyy_mm: str) -> bool:
        return bool(self._client.sismember(self._keys.records("generated"), yyyy_mm))

    def month(self, yyyy_mm: str) -> list[Record]:
        """Every consultation started in ``yyyy_mm`` (Tokyo), oldest first."""
        ids = self._client.zrange(self._keys.records_month(yyyy_mm), 0, -1)
        return self._load(ids)

    # --- internals --------------------------------------------------------------------

    def _current(self, line_user: str, at: float, now: datetime, desk_open: bool,
                 opened: "OpenRead | None" = None) -> tuple[Record, dict[str, Any]]:
        """The user's consultation going on (a new one if none, or the last went idle),
        and its fields as stored, so that only what changes is written back."""
        user = self._keys.pseudonym(line_user)
        found = opened.found if opened is not None else self._open(user)
        if found is not None and _idle(found[0], at):
            self._end(found[0], found[0].last_event_at or found[0].started_at, "idle")
            found = None
        if found is None:
            record = self._start(user, now, desk_open)
            return record, _snapshot(record)
        return found

    def _start(self, user: str, now: datetime, desk_open: bool) -> Record:
        local = now.astimezone(TOKYO)
        record = Record(
            id=secrets.token_hex(8), user=user, started_at=now.timestamp(),
            date=local.date().isoformat(), hour=local.hour, weekday=local.weekday(),
            outside_hours=not desk_open,
        )
        pipe = self._client.pipeline(transaction=True)
        pipe.hset(self._keys.record_doc(record.id), mapping=record.to_fields())
        pipe.zadd(self._keys.records_month(record.month), {record.id: record.started_at})
        pipe.hset(self._keys.records_open(), user, record.id)
        pipe.execute()
        with self._last_open_lock:
            self._last_open[user] = record.id
        return record

    def _open_record(self, user: str) -> Record | None:
        found = self._open(user)
        return found[0] if found is not None else None

    def _open(self, user: str) -> tuple[Record, dict[str, Any]] | None:
        """The user's open consultation and its stored fields."""
        pipe = self._client.pipeline(transaction=False)
        resolve = self._queue_open(pipe, user)
        return resolve(pipe.execute())

    def _queue_open(self, pipe: Any, user: str) -> Callable[[list[Any]], tuple[Record, dict[str, Any]] | None]:
        """Queue the reads of the user's open consultation; what is returned reads
        the replies (those of these commands, first in the list given). A user's
        events come to the same worker, one after another: the id found last time
        is read with the index in one round trip, and only when the index says
        otherwise is the record read again."""
        with self._last_open_lock:
            guess = self._last_open.get(user)
        pipe.hget(self._keys.records_open(), user)
        if guess is not None:
            pipe.hgetall(self._keys.record_doc(guess))

        def resolve(found: list[Any]) -> tuple[Record, dict[str, Any]] | None:
            rid = _text(found[0]) if found[0] is not None else None
            raw = None
            if rid is not None:
                raw = found[1] if rid == guess else self._client.hgetall(self._keys.record_doc(rid))
            with self._last_open_lock:
                if not raw:
                    self._last_open.pop(user, None)
                    return None
                self._last_open[user] = rid
                self._last_open.move_to_end(user)
                if len(self._last_open) > OPEN_GUESSES:
                    self._last_open.popitem(last=False)
            record = Record.from_fields(raw)
            return record, _snapshot(record, raw)

        return resolve

    def _for_handoff(self, handoff: Any) -> Record | None:
        record = self._open_record(handoff.user)
        if record is not None and record.handoff_id == handoff.id:
            return record
        # The consultation already ended (e.g. the user left): find it by its handoff
        # in the month it was queued (a month holds hundreds of records, not millions).
        month = datetime.fromtimestamp(handoff.queued_at, TOKYO).strftime("%Y-%m")
        for candidate in reversed(self.month(month)):
            if candidate.handoff_id == handoff.id:
                return candidate
        return record if record is not None and record.handoff_id is None else None

    def _end(self, record: Record, at: float, why: str) -> None:
        record.ended_at, record.ended_by = at, why
        self._save(record)
        # Only if it is still this record's slot: a newer consultation keeps its own.
        open_key = self._keys.records_open()
        current = self._client.hget(open_key, record.user)
        if current is not None and (current.decode() if isinstance(current, bytes) else current) == record.id:
            self._client.hdel(open_key, record.user)

    def _save(self, record: Record, before: dict[str, Any] | None = None,
              send: Callable[[Callable[[Any], Any]], None] | None = None) -> None:
        """Write the record; with ``before`` (its fields as read), only the fields that
        changed: an answer changes three or four of thirty, and only those are encoded.
        ``send``: see note_answer."""
        if before is None:
            fields = record.to_fields()
        else:
            fields = {}
            for name in _FIELD_NAMES:
                value = getattr(record, name)
                if name not in before or value != before[name]:
                    fields[name] = json.dumps(value, ensure_ascii=False)
            if not fields:
                return
        key = self._keys.record_doc(record.id)
        if send is not None:
            send(lambda pipe: pipe.hset(key, mapping=fields))
        else:
            self._client.hset(key, mapping=fields)

    def _load(self, ids: Iterable[Any]) -> list[Record]:
        pipe = self._client.pipeline(transaction=False)
        for rid in ids:
            pipe.hgetall(self._keys.record_doc(rid.decode() if isinstance(rid, bytes) else str(rid)))
        return [Record.from_fields(raw) for raw in pipe.execute() if raw]


_FIELD_NAMES = tuple(f.name for f in fields(Record))


def _snapshot(record: Record, raw: dict | None = None) -> dict[str, Any]:
    """The record's values as stored (copies: answers extend its lists in place), to
    write back only what changes. With ``raw``, only the fields Redis holds: one
    missing there (a field added since) is written at the next save."""
    held = None if raw is None else {_text(k) for k in raw}
    return {name: (list(value) if isinstance(value, list) else value)
            for name in _FIELD_NAMES if held is None or name in held
            for value in (getattr(record, name),)}


def _idle(record: Record, at: float) -> bool:
    if record.handoff_id and record.closed_at is None:
        return False  # a queued or claimed chat is still this consultation
    last = record.last_event_at or record.started_at
    return at - last > IDLE_SECONDS


def _categories(reasons: Iterable[str]) -> list[str]:
    """self_harm.wish_to_die -> self_harm: the report counts categories, not phrases."""
    found = [r.split(".")[0].split(":")[0] for r in reasons]
    return [c for c in dict.fromkeys(found) if c]


def _between(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, end - start)


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
