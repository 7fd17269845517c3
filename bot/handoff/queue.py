"""The handoff queue: chats waiting for, or held by, a human counsellor (Redis).

Layout (every key from KeyBuilder, all under the hash tag ``{handoff}``):

* ``handoff_doc(id)``: hash of one handoff's scalar fields; ``reasons``, ``record`` and
  ``handlers`` are JSON strings; a field that is None is absent. Bookkeeping fields not
  in Handoff: ``images`` (the last image number), ``notified_position`` (the place in
  line the user was last told) and ``touched_at`` (the last time anything happened in
  the chat: a message, a transition; what ``expire_open_before`` measures).
* ``handoff_waiting()``: sorted set, score ``(3 - severity rank) * 10**13 +
  queued_at_ms``, so ascending order is most urgent first, then longest waiting.
* ``handoff_claimed()``: sorted set, score = last counsellor activity (ms), so idle
  chats are a range query.
* ``handoff_closed()``: sorted set of closed and returned-to-bot handoffs by close time.
* ``handoff_by_user()``: hash pseudonym -> id of the user's open handoff; this is what
  makes open() idempotent per user.
* ``handoff_transcript(id)``, ``handoff_image(id, n)``, ``handoff_version()``.

Status changes that can race run as one Lua script each (bot.handoff.lua), so Redis
serialises them: of two counsellors taking one chat at once, exactly one gets it.

At rest, what identifies or exposes the user is sealed with AES-256-GCM
(bot.crypto, the key is ``BOT_DATA_KEY``), each value bound to its handoff: the raw
LINE id (opened only when something is pushed to the user: ``Handoff.line_user``),
every transcript entry, the evidence images and a teacher's identity. Codes, times,
severity and reasons stay clear: the queue's scripts order and filter by them. The
closing record (記録簿) is kept for good (it is the consultation's record), so its free
text is masked (bot.privacy) when it is written, never sealed away from the report.

Closed and returned handoffs are kept without a TTL: the transcript, the evidence
images and the closing record (記録簿) are the consultation record a supervisor
reviews and a follow-up builds on, so they must not vanish on a timer chosen here.
Removing them is the job of the retention purge (``purge_before``, run by
``python -m bot purge``), after the profile's ``retention_days``. A chat nobody
finishes would never get there: ``expire_open_before`` returns to the bot the open
chats in which nothing happened for the profile's ``open_limit_days``, so they are
purged like any other.

Nothing here logs: transcript text, a teacher's identity and LINE user ids are
personal data, and ``line_user`` leaves this module only to be pushed to.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import redis

from bot.crypto import Sealer
from bot.handoff import lua
from bot.privacy import mask_pii_deep
from bot.storage.keys import KeyBuilder
from dialogs.severity import RANK as SEVERITY_RANK

STATUSES = ("waiting", "claimed", "closed", "bot")  # "bot": returned to the bot (also final)
OPEN_STATUSES = ("waiting", "claimed")

# LINE delivers images of up to 10 MB; anything larger is not a LINE image.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
_IMAGE_TYPE_RE = re.compile(r"image/[a-z0-9][a-z0-9.+-]*")
# open() retries when the user index changed between its read and its script; that
# needs another open() for the same user in that instant, so a few tries suffice.
_OPEN_ATTEMPTS = 20
# Page size when list("bot") filters the closed set.
_CLOSED_PAGE = 200

_FLOAT_FIELDS = ("queued_at", "claimed_at", "first_reply_at", "closed_at", "last_activity")
_STR_FIELDS = (
    "role", "level", "category", "severity", "identity", "claimed_by", "closed_by", "alert",
)


@dataclass(frozen=True)
class Handoff:
    id: str
    user: str  # pseudonym (keys.pseudonym(line_user)); the console shows user[:8]
    status: str
    role: str | None
    level: str | None
    lang: str
    category: str | None
    urgent: bool
    severity: str | None
    reasons: tuple[str, ...]
    identity: str | None
    queued_at: float
    claimed_at: float | None
    claimed_by: str | None
    first_reply_at: float | None
    closed_at: float | None
    closed_by: str | None
    last_activity: float | None
    alert: str | None
    escalated: bool
    record: dict | None
    #: Who took it, was handed it or closed it (account names, in that order): the
    #: read policy lets them read it once it is closed (bot.console.actions).
    handlers: tuple[str, ...] = ()
    # 1-based place among waiting chats when read (list(), get(), transitions); None otherwise.
    position: int | None = field(default=None, compare=False)
    #: The LINE id as kept in Redis (sealed; "" once purged) and what opens it.
    sealed_line_user: str = field(default="", repr=False, compare=False)
    _opener: Callable[[str], str] | None = field(default=None, repr=False, compare=False)

    @property
    def line_user(self) -> str:
        """The raw LINE id, opened only when asked: to push to the user. NEVER in
        to_api(), logs or pages. "" once purged (nothing is pushed to a finished chat)."""
        if not self.sealed_line_user:
            return ""
        if self._opener is None:
            raise RuntimeError("this Handoff was not read through a HandoffQueue: its LINE id cannot be opened")
        return self._opener(self.sealed_line_user)

    def to_api(self) -> dict[str, Any]:
        """JSON-able view for the console. Lists what may be shown, so a new field
        (like line_user) stays private unless added here on purpose."""
        return {
            "id": self.id,
            "user": self.user[:8],
            "status": self.status,
            "role": self.role,
            "level": self.level,
            "lang": self.lang,
            "category": self.category,
            "urgent": self.urgent,
            "severity": self.severity,
            "reasons": list(self.reasons),
            "identity": self.identity,
            "queued_at": self.queued_at,
            "claimed_at": self.claimed_at,
            "claimed_by": self.claimed_by,
            "first_reply_at": self.first_reply_at,
            "closed_at": self.closed_at,
            "alert": self.alert,
            "escalated": self.escalated,
            "position": self.position,
        }

    def __repr__(self) -> str:
        # Keep the LINE id and a teacher's identity out of tracebacks and debug output.
        return f"Handoff(id={self.id!r}, status={self.status!r}, severity={self.severity!r})"


@dataclass(frozen=True)
class ClaimResult:
    ok: bool
    handoff: Handoff | None
    holder: str | None  # who has it when not ok
    reason: str  # "ok" | "taken" | "closed" | "missing" | "not_holder"


class HandoffQueue:
    """Handoffs in Redis. ``clock`` gives epoch seconds; it is passed to the scripts
    (not Redis TIME) so tests can fix time and every process stamps the same way.

    ``sealer`` holds the data key (``BOT_DATA_KEY``, bot.crypto). Every process
    sharing a Redis must pass one made from the same key; without one, a key is
    generated for this process (the newcomer's in-process store, tests).

    The client must answer bytes (no ``decode_responses``): images are binary.
    """

    def __init__(
        self, client: redis.Redis, keys: KeyBuilder, clock: Callable[[], float] = time.time,
        *, sealer: Sealer | None = None,
    ) -> None:
        if client.get_connection_kwargs().get("decode_responses"):
            raise ValueError("HandoffQueue needs a client without decode_responses (images are bytes)")
        self._client = client
        self._keys = keys
        self._clock = clock
        self._sealer = sealer if sealer is not None else Sealer.for_process()
        prelude = lua.prelude(SEVERITY_RANK)
        self._open = client.register_script(prelude + lua.OPEN)
        self._transition = client.register_script(prelude + lua.TRANSITION)
        self._raise = client.register_script(prelude + lua.RAISE)
        self._touch = client.register_script(lua.TOUCH)
        self._mark_idle = client.register_script(lua.MARK_IDLE)
        self._clear_alert = client.register_script(lua.CLEAR_ALERT)
        self._set_notified = client.register_script(lua.SET_NOTIFIED)
        self._append = client.register_script(lua.APPEND)
        self._next_image = client.register_script(lua.NEXT_IMAGE)

    # --- opening -------------------------------------------------------------------

    def open(
        self,
        line_user: str,
        *,
        role: str | None,
        level: str | None,
        lang: str,
        category: str | None,
        urgent: bool,
        severity: str | None,
        reasons: Iterable[str],
        identity: str | None = None,
    ) -> Handoff:
        """Queue the user for a counsellor, or merge into the user's open handoff:
        severity only rises (re-scored, alert "danger"), reasons are united, queued_at
        is kept. Idempotent per user, also for two calls at the same instant."""
        return self.open_or_merge(
            line_user, role=role, level=level, lang=lang, category=category, urgent=urgent,
            severity=severity, reasons=reasons, identity=identity,
        )[0]

    def open_or_merge(
        self,
        line_user: str,
        *,
        role: str | None,
        level: str | None,
        lang: str,
        category: str | None,
        urgent: bool,
        severity: str | None,
        reasons: Iterable[str],
        identity: str | None = None,
    ) -> tuple[Handoff, str]:
        """open(), also saying what happened: "created" (a new handoff, tell the user
        their place), "merged" (it was already open) or "raised" (already open and now
        more urgent)."""
        _check_severity(severity)
        reasons = _check_reasons(reasons)
        user = self._keys.pseudonym(line_user)
        now = self._clock()
        new_id = secrets.token_hex(8)
        doc = {
            "id": new_id, "user": user, "line_user": self._seal(new_id, "line_user", line_user),
            "status": "waiting", "role": role, "level": level, "lang": lang, "category": category,
            "urgent": urgent, "severity": severity, "reasons": list(reasons),
            "identity": self._seal(new_id, "identity", identity) if identity else None,
            "queued_at": now, "touched_at": now, "escalated": False,
        }
        pairs = [item for name, value in doc.items() if value is not None
                 for item in (name, _encode(value))]
        by_user = self._keys.handoff_by_user()
        for _ in range(_OPEN_ATTEMPTS):
            expected = _text(self._client.hget(by_user, user))
            # The script fills a missing identity into the open handoff it merges into
            # (``expected``): sealed for that handoff, so it opens there.
            merge_identity = self._seal(expected, "identity", identity) if identity and expected else ""
            reply = self._open(
                keys=[
                    by_user, self._keys.handoff_waiting(), self._keys.handoff_version(),
                    self._keys.handoff_doc(new_id),
                    self._keys.handoff_doc(expected or new_id),
                ],
                args=[
                    user, expected or "", new_id, _encode(now), severity or "", category or "",
                    role or "", level or "", merge_identity, "1" if urgent else "0",
                    len(reasons), *reasons, *pairs,
                ],
            )
            if _text(reply[0]) != "retry":
                return self._snapshot(reply[2:]), _text(reply[0])
        raise RuntimeError("open(): the user's handoff index kept changing; try again")

    # --- reading -------------------------------------------------------------------

    def get(self, hid: str) -> Handoff | None:
        pipe = self._client.pipeline(transaction=True)
        pipe.zrank(self._keys.handoff_waiting(), hid)
        pipe.hgetall(self._keys.handoff_doc(hid))
        rank, raw = pipe.execute()
        return self._from_hash(raw, rank)

    def active_for(self, line_user: str) -> Handoff | None:
        """The user's waiting or claimed handoff, if any."""
        return self.active_for_pseudonym(self._keys.pseudonym(line_user))

    def active_for_pseudonym(self, user: str) -> Handoff | None:
        """The waiting or claimed handoff of the user with this pseudonym (Handoff.user),
        if any: for code that has a handoff and must not open its LINE id to find another."""
        hid = _text(self._client.hget(self._keys.handoff_by_user(), user))
        if hid is None:
            return None
        handoff = self.get(hid)
        return handoff if handoff is not None and handoff.status in OPEN_STATUSES else None

    def list(self, status: str, limit: int = 200) -> list[Handoff]:
        """waiting: most urgent, then oldest first (with position); claimed: by
        claimed_at; closed: closed and returned-to-bot, newest first; bot: only those
        returned to the bot, newest first."""
        if status not in STATUSES:
            raise ValueError(f"unknown handoff status {status!r}; one of {STATUSES}")
        if limit <= 0:
            return []
        if status == "waiting":
            ids = self._client.zrange(self._keys.handoff_waiting(), 0, limit - 1)
            found = self._load(ids)
            return [replace(h, position=i) for i, h in enumerate(found, start=1)
                    if h.status == "waiting"]
        if status == "claimed":
            # The claimed set is scored by activity; there are only as many claimed chats
            # as counsellors at work, so sorting them here is cheap.
            found = [h for h in self._load(self._client.zrange(self._keys.handoff_claimed(), 0, -1))
                     if h.status == "claimed"]
            return sorted(found, key=lambda h: (h.claimed_at or 0.0, h.id))[:limit]
        closed_key = self._keys.handoff_closed()
        if status == "closed":
            return self._load(self._client.zrevrange(closed_key, 0, limit - 1))
        result: list[Handoff] = []
        start = 0
        while len(result) < limit:
            ids = self._client.zrevrange(closed_key, start, start + _CLOSED_PAGE - 1)
            if not ids:
                break
            result += [h for h in self._load(ids) if h.status == "bot"]
            start += _CLOSED_PAGE
        return result[:limit]

    def position(self, hid: str) -> int | None:
        """1-based place among waiting chats; None if it is not waiting."""
        rank = self._client.zrank(self._keys.handoff_waiting(), hid)
        return None if rank is None else int(rank) + 1

    def notified_position(self, hid: str) -> int | None:
        """The place in line the user was last told (None: not told since it last
        entered the line), so the bridge tells only those whose place changed."""
        value = self._client.hget(self._keys.handoff_doc(hid), "notified_position")
        return int(value) if value is not None else None

    def notified_positions(self, hids: list[str]) -> list[int | None]:
        """``notified_position`` of each of ``hids``, in one round trip: the bridge asks
        it of every waiting chat whenever one joins the line."""
        pipe = self._client.pipeline(transaction=False)
        for hid in hids:
            pipe.hget(self._keys.handoff_doc(hid), "notified_position")
        return [int(value) if value is not None else None for value in pipe.execute()]

    def set_notified_position(self, hid: str, position: int) -> None:
        """Remember that the user was told ``position``; ignored unless the chat is waiting."""
        if isinstance(position, bool) or not isinstance(position, int) or position < 1:
            raise ValueError(f"position must be an int >= 1, got {position!r}")
        self._set_notified(keys=[self._keys.handoff_doc(hid), self._keys.handoff_version()],
                           args=[position])

    def forget_notified_position(self, hid: str) -> bool:
        """The user's place was withdrawn (counsellors went off duty and the user was
        told so): the next place is told afresh. True if there was one to forget."""
        return bool(self._client.hdel(self._keys.handoff_doc(hid), "notified_position"))

    def version(self) -> int:
        """Bumped by every change, so the console can poll one key."""
        value = self._client.get(self._keys.handoff_version())
        return int(value) if value is not None else 0

    # --- priority ------------------------------------------------------------------

    def raise_priority(self, hid: str, severity: str | None, reasons: Iterable[str]) -> bool:
        """A new danger signal from crisis triage on an open handoff: it becomes urgent.
        True if the severity rose (the chat moves up); alert="danger" is set when the
        severity rose or a reason is new. A closed or missing handoff is left alone (False)."""
        _check_severity(severity)
        reasons = _check_reasons(reasons)
        reply = self._raise(
            keys=[self._keys.handoff_doc(hid), self._keys.handoff_waiting(), self._keys.handoff_version()],
            args=[hid, severity or "", len(reasons), *reasons],
        )
        return bool(int(reply[0]))

    # --- transitions ---------------------------------------------------------------

    def claim(self, hid: str, counsellor: str) -> ClaimResult:
        """waiting -> claimed by ``counsellor``. When it is not waiting, ``holder``
        says who has it ("taken"), or it is "closed" / "missing"."""
        return self._move("claim", hid, counsellor, event={"event": "claimed"})

    def transfer(self, hid: str, by: str, to: str, *, force: bool = False) -> ClaimResult:
        """Hand a claimed chat from ``by`` to ``to``. Only the holder may, unless
        ``force`` (a supervisor), which may also assign a waiting chat."""
        _check_name(to)
        return self._move("transfer", hid, by, target=to, force=force,
                          event={"event": "transferred", "to": to})

    def requeue(self, hid: str, by: str, *, force: bool = False) -> ClaimResult:
        """claimed -> waiting with its original queued_at, so it gets its place back."""
        return self._move("requeue", hid, by, force=force, event={"event": "requeued"})

    def return_to_bot(self, hid: str, by: str, *, force: bool = False) -> ClaimResult:
        """-> "bot" (final): the bot answers the user again; the user leaves the index."""
        return self._move("bot", hid, by, force=force, event={"event": "returned_to_bot"})

    def close(self, hid: str, by: str, record: dict, *, force: bool = False) -> ClaimResult:
        """claimed -> closed with the closing record (記録簿); the user leaves the index."""
        if not isinstance(record, dict):
            raise TypeError("record must be a dict")
        # The record is kept for good (the report, a later review): phone numbers,
        # e-mail and addresses in its free text never reach it.
        return self._move("close", hid, by, force=force, record=mask_pii_deep(record),
                          event={"event": "closed"})

    def _move(
        self, op: str, hid: str, actor: str, *, event: dict[str, Any], target: str = "",
        force: bool = False, record: dict | None = None, cutoff: float | None = None,
    ) -> ClaimResult:
        _check_name(actor)
        now = self._clock()
        entry = self._seal_entry(hid, {"at": now, "from": "system", "by": actor, "kind": "event", "text": "",
                                       **event})
        keys = self._keys
        reply = self._transition(
            keys=[
                keys.handoff_doc(hid), keys.handoff_waiting(), keys.handoff_claimed(),
                keys.handoff_closed(), keys.handoff_by_user(), keys.handoff_version(),
                keys.handoff_transcript(hid),
            ],
            args=[op, hid, actor, target, "1" if force else "0", _encode(now), _ms(now),
                  entry, _json(record or {}), _encode(cutoff) if cutoff is not None else ""],
        )
        reason, holder = _text(reply[0]), _text(reply[1]) or None
        handoff = self._snapshot(reply[2:]) if len(reply) > 2 else None
        return ClaimResult(ok=reason == "ok", handoff=handoff, holder=holder, reason=reason)

    # --- counsellor activity and alerts -------------------------------------------

    def touch(self, hid: str, by: str, *, reply: bool = False) -> None:
        """Counsellor activity on a claimed chat: restarts its idle timer; ``reply``
        stamps first_reply_at the first time. Who may act is the console's check."""
        _check_name(by)
        now = self._clock()
        self._touch(
            keys=[self._keys.handoff_doc(hid), self._keys.handoff_claimed(), self._keys.handoff_version()],
            args=[hid, _encode(now), _ms(now), "1" if reply else "0"],
        )

    def clear_alert(self, hid: str) -> None:
        self._clear_alert(keys=[self._keys.handoff_doc(hid), self._keys.handoff_version()])

    def idle_claims(self, idle_seconds: float) -> list[Handoff]:
        """Claimed chats without counsellor activity for ``idle_seconds``, oldest
        activity first; each gets alert="idle" (unless it already has a danger alert)."""
        cutoff = _ms(self._clock() - idle_seconds)
        claimed = self._keys.handoff_claimed()
        idle: list[Handoff] = []
        for raw_id in self._client.zrangebyscore(claimed, "-inf", cutoff):
            hid = _text(raw_id)
            marked = self._mark_idle(
                keys=[self._keys.handoff_doc(hid), claimed, self._keys.handoff_version()],
                args=[hid, cutoff],
            )
            handoff = self.get(hid) if int(marked) else None
            if handoff is not None:
                idle.append(handoff)
        return idle

    def escalate(self, hid: str, by: str) -> None:
        """Record that the escalation steps (命に関わる) were started, and by whom."""
        _check_name(by)
        entry = {"at": self._clock(), "from": "system", "by": by, "kind": "event", "text": "",
                 "event": "escalated"}
        self._append_entry(hid, entry, "escalated", "1")

    # --- transcript and images -----------------------------------------------------

    def append(self, hid: str, entry: dict) -> None:
        """Add a transcript entry ("at" is stamped when missing). KeyError if the
        handoff does not exist: a transcript without its handoff could never be read."""
        if not isinstance(entry, dict):
            raise TypeError("transcript entry must be a dict")
        entry = dict(entry)
        entry.setdefault("at", self._clock())
        self._append_entry(hid, entry)

    def _append_entry(self, hid: str, entry: dict, set_field: str = "", value: str = "") -> None:
        done = self._append(
            keys=[self._keys.handoff_doc(hid), self._keys.handoff_transcript(hid),
                  self._keys.handoff_version()],
            args=[self._seal_entry(hid, entry), set_field, value, _encode(self._clock())],
        )
        if not int(done):
            raise KeyError(f"no handoff {hid!r}")

    def transcript(self, hid: str, *, last: int | None = None) -> list[dict]:
        """The whole transcript, or only its ``last`` entries."""
        start = -last if last else 0
        context = _context(hid, "log")
        return [json.loads(self._sealer.open_text(_text(item), context))
                for item in self._client.lrange(self._keys.handoff_transcript(hid), start, -1)]

    def add_image(self, hid: str, data: bytes, content_type: str) -> int:
        """Keep an image the user sent with the handoff; returns its number n and adds
        {"from": "user", "kind": "image", "image": n} to the transcript."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("image data must be bytes")
        data = bytes(data)
        if not data:
            raise ValueError("empty image")
        if len(data) > MAX_IMAGE_BYTES:
            raise ValueError(f"image of {len(data)} bytes is over the {MAX_IMAGE_BYTES} byte limit")
        content_type = (content_type or "").split(";")[0].strip().lower()
        if not _IMAGE_TYPE_RE.fullmatch(content_type):
            raise ValueError(f"not an image content type: {content_type!r}")
        number = int(self._next_image(keys=[self._keys.handoff_doc(hid)]))
        if number == 0:
            raise KeyError(f"no handoff {hid!r}")
        # Image first, then its transcript entry: the entry never points at nothing.
        # (A crash in between leaves an unused number, which is harmless.)
        self._client.hset(self._keys.handoff_image(hid, number),
                          mapping={"content_type": content_type,
                                   "data": self._sealer.seal(data, _context(hid, f"img:{number}"))})
        self._append_entry(hid, {"at": self._clock(), "from": "user", "by": None,
                                 "kind": "image", "image": number, "text": ""})
        return number

    def image(self, hid: str, n: int) -> tuple[bytes, str] | None:
        data, content_type = self._client.hmget(self._keys.handoff_image(hid, n), "data", "content_type")
        if data is None or content_type is None:
            return None
        return self._sealer.open(bytes(data), _context(hid, f"img:{n}")), _text(content_type)

    # --- retention -----------------------------------------------------------------

    def purge_before(self, cutoff: float) -> dict[str, int]:
        """Remove what a finished handoff keeps beyond its record, for handoffs
        closed (or returned to the bot) before ``cutoff`` (epoch seconds): the
        transcript, the evidence images, the teacher's identity and the raw LINE id. The handoff's
        codes, times and closing record stay (the consultation record and the audit
        log refer to them; its free text is masked, which a record closed before
        masking-on-write gets here). Idempotent: a purged handoff is marked and skipped.
        Returns counts: handoffs, transcripts, images, identities."""
        counts = {"handoffs": 0, "transcripts": 0, "images": 0, "identities": 0}
        closed = self._keys.handoff_closed()
        for raw_id in self._client.zrangebyscore(closed, "-inf", f"({_ms(cutoff)}"):
            hid = _text(raw_id)
            doc = self._keys.handoff_doc(hid)
            purged, images, identity, record = self._client.hmget(doc, "purged", "images", "identity", "record")
            if purged is not None or not self._client.exists(doc):
                continue
            image_count = int(images or 0)
            pipe = self._client.pipeline(transaction=True)
            pipe.delete(self._keys.handoff_transcript(hid))
            for n in range(1, image_count + 1):
                pipe.delete(self._keys.handoff_image(hid, n))
            pipe.hdel(doc, "identity")
            # Nothing is ever pushed to a finished chat again: the raw LINE id goes
            # too (the pseudonym stays, so the record and the audit log still match).
            mapping = {"purged": _encode(self._clock()), "line_user": ""}
            if record is not None:
                mapping["record"] = _json(mask_pii_deep(json.loads(_text(record) or "{}")))
            pipe.hset(doc, mapping=mapping)
            results = pipe.execute()
            counts["handoffs"] += 1
            counts["transcripts"] += int(results[0])
            counts["images"] += sum(int(r) for r in results[1:1 + image_count])
            counts["identities"] += 1 if identity is not None else 0
        return counts

    def expire_open_before(self, cutoff: float, note: str) -> list[Handoff]:
        """Return to the bot every waiting or claimed chat in which nothing happened
        (no message, no counsellor's action, no transition) since before ``cutoff``
        (epoch seconds): left open, it would never be closed, so never purged, and a
        user writing into a chat nobody holds any more would hear nothing. ``note``
        (Japanese) is what the transcript says happened. Checked and done in one
        script per chat, so a message arriving meanwhile keeps its chat open.
        Returns the chats returned to the bot (by "system")."""
        if not isinstance(note, str) or not note:
            raise ValueError("expire_open_before needs the note the transcript will show")
        ids = [*self._client.zrange(self._keys.handoff_waiting(), 0, -1),
               *self._client.zrange(self._keys.handoff_claimed(), 0, -1)]
        expired = []
        for raw_id in ids:
            result = self._move("expire", _text(raw_id), "system", cutoff=cutoff,
                                event={"event": "expired", "text": note})
            if result.ok and result.handoff is not None:
                expired.append(result.handoff)
        return expired

    def _load(self, ids: Iterable[Any]) -> list[Handoff]:
        """Handoffs for ids, in order, skipping any whose document is gone."""
        id_list = [_text(i) for i in ids]
        if not id_list:
            return []
        pipe = self._client.pipeline(transaction=False)
        for hid in id_list:
            pipe.hgetall(self._keys.handoff_doc(hid))
        return [h for h in (self._from_hash(raw) for raw in pipe.execute()) if h is not None]

    # --- sealing ---------------------------------------------------------------------

    def _seal(self, hid: str, name: str, value: str) -> str:
        return self._sealer.seal_text(value, _context(hid, name))

    def _seal_entry(self, hid: str, entry: dict) -> str:
        """A transcript entry as kept: its JSON, sealed for this handoff's transcript."""
        return self._sealer.seal_text(_json(entry), _context(hid, "log"))

    def _from_hash(self, raw: dict, rank: Any = None) -> Handoff | None:
        handoff = _from_hash(raw, rank)
        if handoff is None:
            return None
        hid = handoff.id
        identity = handoff.identity
        return replace(
            handoff,
            identity=self._sealer.open_text(identity, _context(hid, "identity")) if identity else None,
            # Opened only when someone asks for it (a push to the user), not on every read.
            _opener=lambda sealed: self._sealer.open_text(sealed, _context(hid, "line_user")),
        )

    def _snapshot(self, reply: list) -> Handoff | None:
        """A script's snapshot: [rank or -1, field, value, ...]."""
        if not reply:
            return None
        flat = reply[1:]
        return self._from_hash(dict(zip(flat[0::2], flat[1::2])), reply[0])


# --- encoding ----------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8") if isinstance(value, (bytes, bytearray)) else str(value)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _encode(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)  # round-trips exactly
    if isinstance(value, (list, dict)):
        return _json(value)
    return str(value)


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _float(fields: dict[str, str], name: str) -> float | None:
    value = fields.get(name)
    return float(value) if value is not None else None


def _context(hid: str, name: str) -> str:
    """What a sealed value is bound to (bot.crypto): this handoff, this field."""
    return f"handoff:{hid}:{name}"


def _from_hash(raw: dict, rank: Any = None) -> Handoff | None:
    """The Handoff as stored: identity and the LINE id still sealed."""
    if not raw:
        return None
    fields = {_text(k): _text(v) for k, v in raw.items()}
    record = fields.get("record")
    return Handoff(
        id=fields["id"],
        user=fields["user"],
        sealed_line_user=fields.get("line_user") or "",
        handlers=tuple(json.loads(fields.get("handlers") or "[]")),
        status=fields["status"],
        lang=fields.get("lang") or "",
        urgent=fields.get("urgent") == "1",
        reasons=tuple(json.loads(fields.get("reasons") or "[]")),
        escalated=fields.get("escalated") == "1",
        record=json.loads(record) if record is not None else None,
        queued_at=_float(fields, "queued_at") or 0.0,
        position=int(rank) + 1 if rank is not None and int(rank) >= 0 else None,
        **{name: _float(fields, name) for name in _FLOAT_FIELDS if name != "queued_at"},
        **{name: fields.get(name) for name in _STR_FIELDS},
    )


def _check_severity(severity: str | None) -> None:
    if severity not in SEVERITY_RANK:
        raise ValueError(f"unknown severity {severity!r}; one of {list(SEVERITY_RANK)}")


def _check_reasons(reasons: Iterable[str]) -> tuple[str, ...]:
    if isinstance(reasons, str):
        raise TypeError("reasons must be a list of strings, not one string")
    reasons = tuple(reasons)
    if not all(isinstance(r, str) and r for r in reasons):
        raise ValueError("reasons must be non-empty strings")
    return reasons


def _check_name(name: str) -> None:
    # '' means "nobody" inside the scripts, so a counsellor name must not be empty.
    if not isinstance(name, str) or not name:
        raise ValueError("a counsellor name must be a non-empty string")
