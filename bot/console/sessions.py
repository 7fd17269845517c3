"""Console sessions kept in Redis: the cookie carries a random id, the server decides.

A login makes a random session id (``secrets.token_urlsafe(32)``) and one hash
``keys.console_session(sha256(id))`` holding the account name, the login time
and the time of the last action, with a TTL of the idle limit (renewed by
actions, never past the 8 hours from login). The id goes into Flask's signed
cookie, next to the CSRF token; nothing else about the counsellor does. Every
request looks the id up (bot.console.auth): a logout deletes the hash, so a
copied cookie is worth nothing afterwards; ``end_all`` deletes every session of
an account (a supervisor's "sign out everywhere", a disabled account, a new
password), found through ``keys.console_account_sessions(name)``.

Only the SHA-256 of an id is stored, as for API tokens: someone who can read the
keyspace (MONITOR, a dump, a managed instance's console) cannot use a session
found there.

Why not Flask-Session (0.8, the server-side session extension): it names each
key ``prefix + id``, so the live ids sit in the keyspace; it stores every session
that was modified, and the login form's CSRF token is put in the session of
every anonymous visitor, so each visit would write a key to Redis for hours (the
anonymous growth issue 13's third finding closes); and it keeps no index of an
account's sessions, which ending them all needs. Keeping Flask's signed cookie
for the anonymous part and this hash for signed-in sessions does what it would,
with keys built in bot.storage.keys and the console's Redis Cluster hash tag.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass

import redis

from bot.storage.keys import KeyBuilder

#: A session ends this long after login, however active (also the cookie's lifetime).
LIFETIME_SECONDS = 8 * 3600
#: Added to the TTL of a session's hash: the last action is written at most every
#: few seconds (bot.console.auth), and Redis must not forget a session the clock
#: check would still accept.
TTL_SLACK_SECONDS = 60
#: A session id is secrets.token_urlsafe(32) (43 characters); anything far longer is not one.
MAX_ID_CHARS = 128


@dataclass(frozen=True)
class SessionRecord:
    account: str
    #: Epoch seconds (the accounts' clock) of the login and of the last own action.
    login_at: float
    seen: float


def session_digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


class SessionStore:
    """Signed-in console sessions in Redis (see the module's docstring)."""

    def __init__(self, client: redis.Redis, keys: KeyBuilder,
                 lifetime_seconds: int = LIFETIME_SECONDS) -> None:
        self._client = client
        self._keys = keys
        self.lifetime_seconds = lifetime_seconds

    def open(self, account: str, now: float, idle_seconds: int) -> str:
        """A new session for ``account``; returns its id (for the cookie, never stored)."""
        session_id = secrets.token_urlsafe(32)
        digest = session_digest(session_id)
        key = self._keys.console_session(digest)
        index = self._keys.console_account_sessions(account)
        with self._client.pipeline(transaction=True) as pipe:  # MULTI: the session and its index entry together
            pipe.hset(key, mapping={"account": account, "login_at": repr(now), "seen": repr(now)})
            pipe.expire(key, self._ttl(now, now, idle_seconds))
            # Forget index entries of sessions past their 8 hours: the index stays as small
            # as the number of logins in one lifetime.
            pipe.zremrangebyscore(index, "-inf", now)
            pipe.zadd(index, {digest: now + self.lifetime_seconds})
            pipe.expire(index, self.lifetime_seconds + TTL_SLACK_SECONDS)
            pipe.execute()
        return session_id

    def get(self, session_id: str) -> SessionRecord | None:
        """The session with this id, or None (never made, logged out, ended or expired)."""
        if not isinstance(session_id, str) or not session_id or len(session_id) > MAX_ID_CHARS:
            return None
        raw = self._client.hgetall(self._keys.console_session(session_digest(session_id)))
        fields = {_text(k): _text(v) for k, v in raw.items()}
        try:
            return SessionRecord(account=fields["account"], login_at=float(fields["login_at"]),
                                 seen=float(fields["seen"]))
        except (KeyError, ValueError):
            return None  # absent, or unreadable: no session rather than a guessed one

    def touch(self, session_id: str, record: SessionRecord, now: float, idle_seconds: int) -> None:
        """The counsellor acted: remember when, and keep the session that much longer."""
        key = self._keys.console_session(session_digest(session_id))
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(key, "seen", repr(now))
            pipe.expire(key, self._ttl(record.login_at, now, idle_seconds))
            pipe.execute()

    def close(self, session_id: str) -> str | None:
        """Log out: delete the session; returns its account name (None if there was none)."""
        record = self.get(session_id)
        if record is None:
            return None
        digest = session_digest(session_id)
        with self._client.pipeline(transaction=True) as pipe:
            pipe.delete(self._keys.console_session(digest))
            pipe.zrem(self._keys.console_account_sessions(record.account), digest)
            pipe.execute()
        return record.account

    def end_all(self, account: str) -> int:
        """Delete every session of ``account``; returns how many were still open."""
        index = self._keys.console_account_sessions(account)
        digests = [_text(d) for d in self._client.zrange(index, 0, -1)]
        with self._client.pipeline(transaction=True) as pipe:
            for digest in digests:
                pipe.delete(self._keys.console_session(digest))
            pipe.delete(index)
            results = pipe.execute()
        return sum(int(n) for n in results[:len(digests)])

    def count(self, account: str) -> int:
        """How many sessions of ``account`` are open now."""
        digests = [_text(d) for d in self._client.zrange(self._keys.console_account_sessions(account), 0, -1)]
        if not digests:
            return 0
        return int(self._client.exists(*(self._keys.console_session(d) for d in digests)))

    def open_sessions(self, account: str) -> list[SessionRecord]:
        """The sessions of ``account`` still kept, newest action first (for the supervisors'
        page: who is signed in; whether each is still within its idle limit is the caller's)."""
        digests = [_text(d) for d in self._client.zrange(self._keys.console_account_sessions(account), 0, -1)]
        if not digests:
            return []
        with self._client.pipeline(transaction=False) as pipe:
            for digest in digests:
                pipe.hgetall(self._keys.console_session(digest))
            found = pipe.execute()
        records = []
        for raw in found:
            fields = {_text(k): _text(v) for k, v in raw.items()}
            try:
                records.append(SessionRecord(account=fields["account"], login_at=float(fields["login_at"]),
                                             seen=float(fields["seen"])))
            except (KeyError, ValueError):
                continue  # expired between the two reads, or unreadable: not signed in
        return sorted(records, key=lambda r: r.seen, reverse=True)

    def _ttl(self, login_at: float, now: float, idle_seconds: int) -> int:
        left = self.lifetime_seconds - (now - login_at)
        return max(1, math.ceil(min(idle_seconds, left) + TTL_SLACK_SECONDS))


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
