"""What every part of the handoff queue stands on: the Redis client, the key
builder, the clock and the sealer; the Lua scripts, registered once; and
handoffs read back (``get``, ``list``, ``active_for``), with what is sealed
opened on the way out only when it is asked for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import redis
from redis.exceptions import RedisError

from bot.crypto import Sealer
from bot.handoff import lua
from bot.handoff.model import OPEN_STATUSES, SEVERITY_RANK, STATUSES, Handoff
from bot.handoff.stored import as_text, encode, from_hash, seal_context, to_json
from bot.storage.keys import KeyBuilder

# Page size when list("bot") filters the closed set.
_CLOSED_PAGE = 200


class QueueStore:
    """What the parts of HandoffQueue share. ``clock`` gives epoch seconds; it is passed to the scripts
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
        self._appended = client.register_script(lua.APPENDED)
        self._next_image = client.register_script(lua.NEXT_IMAGE)
        self._follow_up_done = client.register_script(lua.FOLLOW_UP_DONE)
        self._history_backfill = client.register_script(lua.HISTORY_BACKFILL)
        self._move_evidence = client.register_script(lua.MOVE_EVIDENCE)

    @property
    def sealer(self) -> Sealer:
        """The data key's sealer, for what is kept beside the queue about the same
        users (bot.handoff.recent): one key for all of it."""
        return self._sealer

    # --- reading ------------------------------------------------------------------

    def get(self, hid: str) -> Handoff | None:
        pipe = self._client.pipeline(transaction=True)
        pipe.zrank(self._keys.handoff_waiting(), hid)
        pipe.hgetall(self._keys.handoff_doc(hid))
        rank, raw = pipe.execute()
        if isinstance(raw, list):
            # redis-py's cluster transaction (8.2) hands HGETALL's reply back unparsed:
            # field, value, field, value.
            raw = dict(zip(raw[::2], raw[1::2]))
        return self._from_hash(raw, rank)

    def active_for(self, line_user: str) -> Handoff | None:
        """The user's waiting or claimed handoff, if any."""
        return self.active_for_pseudonym(self._keys.pseudonym(line_user))

    def active_for_pseudonym(self, user: str) -> Handoff | None:
        """The waiting or claimed handoff of the user with this pseudonym (Handoff.user),
        if any: for code that has a handoff and must not open its LINE id to find another."""
        return self.open_handoff(self._client.hget(self._keys.handoff_by_user(), user))

    def open_handoff(self, hid: bytes | str | None) -> Handoff | None:
        """The handoff ``hid`` (a value of the user index), if it is still waiting or
        claimed: for a caller that read the index in a round trip of its own."""
        hid = as_text(hid)
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

    def version(self) -> int:
        """Bumped by every change, so the console can poll one key."""
        value = self._client.get(self._keys.handoff_version())
        return int(value) if value is not None else 0

    def _load(self, ids: Iterable[Any]) -> list[Handoff]:
        """Handoffs for ids, in order, skipping any whose document is gone."""
        id_list = [as_text(i) for i in ids]
        if not id_list:
            return []
        pipe = self._client.pipeline(transaction=False)
        for hid in id_list:
            pipe.hgetall(self._keys.handoff_doc(hid))
        return [h for h in (self._from_hash(raw) for raw in pipe.execute()) if h is not None]

    # --- sealing and the transcript -----------------------------------------------

    def _seal(self, hid: str, name: str, value: str) -> str:
        return self._sealer.seal_text(value, seal_context(hid, name))

    def _seal_entry(self, hid: str, entry: dict) -> str:
        """A transcript entry as kept: its JSON, sealed for this handoff's transcript."""
        return self._sealer.seal_text(to_json(entry), seal_context(hid, "log"))

    def _append_entry(self, hid: str, entry: dict, set_field: str = "", value: str = "") -> None:
        """The entry pushed to the chat's transcript, then the handoff touched and the
        version bumped: two round trips, since the transcript's slot is the chat's own
        and a console that sees the new version must find the entry."""
        sealed = self._seal_entry(hid, entry)
        log = self._keys.handoff_transcript(hid)
        self._client.rpush(log, sealed)
        try:
            done = self._appended(keys=[self._keys.handoff_doc(hid), self._keys.handoff_version()],
                                  args=[set_field, value, encode(self._clock())])
        except RedisError:
            # The caller fails and its event is run again, which pushes the entry again:
            # this one goes, or the user's message would show twice.
            self._client.lrem(log, 1, sealed)
            raise
        if not int(done):
            # No handoff: the entry goes again, so no transcript outlives its handoff.
            self._client.lrem(log, 1, sealed)
            raise KeyError(f"no handoff {hid!r}")

    def _from_hash(self, raw: dict, rank: Any = None) -> Handoff | None:
        handoff = from_hash(raw, rank)
        if handoff is None:
            return None
        hid = handoff.id
        identity = handoff.identity
        return replace(
            handoff,
            identity=self._sealer.open_text(identity, seal_context(hid, "identity")) if identity else None,
            # Opened only when someone asks for it (a push to the user), not on every read.
            _opener=lambda sealed: self._sealer.open_text(sealed, seal_context(hid, "line_user")),
        )

    def _snapshot(self, reply: list) -> Handoff | None:
        """A script's snapshot: [rank or -1, field, value, ...]."""
        if not reply:
            return None
        flat = reply[1:]
        return self._from_hash(dict(zip(flat[0::2], flat[1::2])), reply[0])
