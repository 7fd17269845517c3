"""Redis session storage: the production backend, shared by every worker process."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import NoScriptError, RedisError
from redis.retry import Retry

from bot.storage.base import (
    DEFAULT_BLOCKING_TIMEOUT,
    DEFAULT_LOCK_TIMEOUT,
    LockLost,
    LockTimeout,
    SessionStorage,
    StorageError,
    check_lock_timeouts,
    check_ttl,
    check_user_id,
    decode,
    encode,
)
from bot.storage.keys import KeyBuilder

logger = logging.getLogger(__name__)

# Connection policy for make_redis_client. redis-py 8 changed its defaults (RESP3 by
# default, 5 s socket timeouts, 10 retries with backoff), so a bare from_url() can
# block a webhook worker for most of a minute when Redis is unreachable, and fails
# the HELLO handshake against servers older than Redis 6. Everything is stated here
# instead, sized for single-key commands that normally answer in well under 1 ms.
SOCKET_CONNECT_TIMEOUT = 2.0
SOCKET_TIMEOUT = 2.0
# PING a pooled connection idle for longer than this before reusing it: managed Redis,
# NAT gateways and Redis' own `timeout` setting drop idle connections silently.
HEALTH_CHECK_INTERVAL = 30
# On ConnectionError/TimeoutError, retry twice with 50 ms..500 ms jittered backoff:
# rides out a failover or a dropped idle connection, yet bounds the worst case to
# about 3 x 2 s + 1 s before StorageError reaches the handler.
RETRIES = 2
RETRY_BACKOFF_BASE = 0.05
RETRY_BACKOFF_CAP = 0.5
# RESP2 is understood by every Redis server version and by RESP2-only proxies; the
# bot uses only GET/SET/DEL and the lock's Lua scripts, so RESP3 brings nothing.
PROTOCOL = 2

#: Lock tokens kept whose release failed; a worker holds one lock a thread, so a
#: failover leaves a handful.
MAX_ABANDONED = 256

# The session (and the answer it produced) saved, and the lock released, in one
# atomic step. ARGV: session, its ttl ('' none), outbox ('' none), its ttl, token.
_SAVE_RELEASE_LUA = """
if ARGV[2] == '' then
  redis.call('SET', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
if ARGV[3] ~= '' then
  if ARGV[4] == '' then
    redis.call('SET', KEYS[2], ARGV[3])
  else
    redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
  end
end
if redis.call('GET', KEYS[3]) == ARGV[5] then
  return redis.call('DEL', KEYS[3])
end
return 0
"""

# Compare-and-delete: only the holder's token releases the lock.
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def make_redis_client(url: str, *, sentinels: tuple[tuple[str, int], ...] = (),
                      master: str = "", cluster_nodes: tuple[tuple[str, int], ...] = ()) -> redis.Redis:
    """Client for ``url`` (redis://, rediss:// or unix://) with explicit timeouts and retries.

    Query-string options in the URL (e.g. ``?socket_timeout=5``) override the values
    above, so an operator can tune one deployment without a code change.

    With ``sentinels`` (REDIS_SENTINELS) the server is whichever one the sentinels
    name as ``master``'s master now: redis-py's Sentinel asks them on every new
    connection, so after a failover the retries reconnect to the promoted replica
    without a restart. The URL then gives only the database, password and options.

    With ``cluster_nodes`` (REDIS_CLUSTER_NODES) it is redis-py's cluster client,
    which learns the slot map from any of them and routes each command by its key's
    hash tag; the URL again gives the password and options (a cluster has only
    database 0). A failed-over master shows as connection errors and MOVED replies,
    on which the client reads the map again and retries.
    """
    options = {
        "socket_connect_timeout": SOCKET_CONNECT_TIMEOUT,
        "socket_timeout": SOCKET_TIMEOUT,
        "health_check_interval": HEALTH_CHECK_INTERVAL,
        "retry": Retry(
            ExponentialWithJitterBackoff(base=RETRY_BACKOFF_BASE, cap=RETRY_BACKOFF_CAP),
            retries=RETRIES,
        ),
        "protocol": PROTOCOL,
    }
    if not sentinels and not cluster_nodes:
        return redis.Redis.from_url(url, **options)
    from redis.connection import parse_url

    given = {k: v for k, v in parse_url(url).items() if k not in ("host", "port", "path", "connection_class")}
    settings = {**options, **given}
    if cluster_nodes:
        return _cluster_client(cluster_nodes, settings, url.partition("://")[0])
    from redis.sentinel import Sentinel

    watch = Sentinel(list(sentinels), socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_CONNECT_TIMEOUT)
    return watch.master_for(master, redis_class=redis.Redis, **settings)


def _cluster_client(nodes: tuple[tuple[str, int], ...], settings: dict[str, Any], scheme: str) -> redis.Redis:
    from redis.cluster import ClusterNode, RedisCluster

    if int(settings.pop("db", 0) or 0) != 0:
        raise ValueError("a Redis Cluster has only database 0: end REDIS_URL with /0 (or no database)")
    if scheme == "unix":
        raise ValueError("REDIS_CLUSTER_NODES are host:port addresses: REDIS_URL must be redis:// or rediss://")
    if scheme == "rediss":
        settings["ssl"] = True
    # The cluster client retries a command (reading the slot map again) on connection
    # errors and MOVED; its node connections must not retry on their own as well, or a
    # dead master is tried retries x retries times before the map is read again.
    retry = settings.pop("retry")
    return RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in nodes], retry=retry,
                        **settings)


def script_calls(client: redis.Redis, script: Any, calls: list[tuple[list[Any], list[Any]]]) -> list[Any]:
    """Many calls of one registered ``script``, each ``(keys, args)``, in one round trip
    (on a cluster, one per node holding their keys). Replies in order; an error is
    returned in its place, not raised.

    EVALSHA is queued itself, as in ``script_then``: redis-py's Script on a pipeline
    sends SCRIPT EXISTS first, and on a cluster's pipeline does not load the script
    at all. A call whose node does not know the script (a promoted replica, a
    restart) is run again on its own, which loads it there."""
    pipe = client.pipeline(transaction=False)
    for keys, args in calls:
        pipe.evalsha(script.sha, len(keys), *keys, *args)
    replies = pipe.execute(raise_on_error=False)
    for i, reply in enumerate(replies):
        if isinstance(reply, NoScriptError):
            keys, args = calls[i]
            try:
                replies[i] = script(keys=keys, args=args)
            except RedisError as exc:
                replies[i] = exc
    return replies


def script_then(client: redis.Redis, script: Any, keys: list[Any], args: list[Any],
                then: Callable[[Any], Any]) -> list[Any]:
    """One round trip: a registered ``script`` (``client.register_script``), then
    what ``then`` queues on the same non-transactional pipeline. Returns every
    reply, the script's first; raises the first error among them.

    EVALSHA is queued itself: a registered script called on a pipeline costs a
    SCRIPT EXISTS round trip each time. Should Redis not know the script (it
    restarted, or its scripts were flushed), the script is run again on its own,
    which loads it; the commands after it ran regardless."""
    pipe = client.pipeline(transaction=False)
    pipe.evalsha(script.sha, len(keys), *keys, *args)
    then(pipe)
    replies = pipe.execute(raise_on_error=False)
    if isinstance(replies[0], NoScriptError):
        replies[0] = script(keys=keys, args=args)
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


class RedisStorage(SessionStorage):
    """Sessions as JSON strings under ``keys.session(user_id)``, locks under ``keys.lock(user_id)``."""

    def __init__(
        self,
        client: redis.Redis,
        keys: KeyBuilder,
        default_ttl: int | None = None,
        *,
        blocking_timeout: float = DEFAULT_BLOCKING_TIMEOUT,
        lock_poll_interval: float = 0.05,
    ) -> None:
        check_ttl(default_ttl)
        check_lock_timeouts(DEFAULT_LOCK_TIMEOUT, blocking_timeout)
        if not lock_poll_interval > 0:
            raise ValueError(f"lock_poll_interval must be > 0 seconds, got {lock_poll_interval!r}")
        self._client = client
        self._keys = keys
        self._default_ttl = default_ttl
        self._blocking_timeout = blocking_timeout
        self._lock_poll_interval = lock_poll_interval
        self._release_script = client.register_script(_RELEASE_LUA)
        self._save_release_script = client.register_script(_SAVE_RELEASE_LUA)
        self._local = threading.local()
        #: Tokens of this process's locks whose release failed (Redis went away in the
        #: middle, a failover): such a lock, still on the server, is its own, and is
        #: taken over at once instead of waited out (bot.storage.base.DEFAULT_LOCK_TIMEOUT).
        self._abandoned: dict[str, float] = {}  # token -> when the lock expires anyway (monotonic)
        self._abandoned_lock = threading.Lock()
        #: Who takes the locks, written into each lock's value (a worker's name).
        self.holder = ""
        #: Says whether a holder is known to be gone (a worker whose process died,
        #: bot.pipeline.roster). Its locks are taken over at once instead of waited
        #: out: a user whose event was in hand when the worker died waits
        #: milliseconds, not the lock's timeout.
        self.holder_gone: Callable[[str], bool] | None = None

    def load(self, user_id: str) -> dict[str, Any] | None:
        check_user_id(user_id)
        key = self._keys.session(user_id)
        held = self._held()
        if user_id in held:
            raw = held[user_id][0]  # read with the lock, and kept up to date by save()
        else:
            try:
                raw = self._client.get(key)
            except RedisError as exc:
                raise StorageError(f"Redis GET {key} failed: {exc}") from exc
        if raw is None:
            return None
        return decode(raw, key)

    def save(self, user_id: str, data: dict[str, Any], ttl_seconds: int | None = None, *,
             outbox: dict[str, Any] | None = None, outbox_ttl: int | None = None) -> None:
        check_user_id(user_id)
        check_ttl(ttl_seconds)
        check_ttl(outbox_ttl)
        text = encode(data).encode("utf-8")
        boxed = encode(outbox).encode("utf-8") if outbox is not None else None
        ttl = ttl_seconds if ttl_seconds is not None else self._default_ttl
        held = self._held()
        if user_id in held:
            # Under the lock the write waits for the release and goes in the same
            # atomic step (_save_and_release: one round trip instead of two per
            # event); until then load() and load_outbox() return what was saved.
            held[user_id] = (text, boxed if boxed is not None else held[user_id][1])
            pending = self._pending()
            earlier = pending.get(user_id)
            if boxed is None and earlier is not None:
                boxed, outbox_ttl = earlier.boxed, earlier.outbox_ttl
            pending[user_id] = _Write(text, ttl, boxed, outbox_ttl)
            return
        key = self._keys.session(user_id)
        try:
            # Plain SET (no KEEPTTL): every save restarts the expiry, like the memory backend.
            if boxed is None:
                self._client.set(key, text, ex=ttl)
            else:
                # One atomic write: an answer is never stored without the session that
                # produced it, nor the session without its answer.
                pipe = self._client.pipeline(transaction=True)
                pipe.set(key, text, ex=ttl)
                pipe.set(self._keys.outbox(user_id), boxed, ex=outbox_ttl)
                pipe.execute()
        except RedisError as exc:
            raise StorageError(f"Redis SET {key} failed: {exc}") from exc

    def load_outbox(self, user_id: str) -> dict[str, Any]:
        check_user_id(user_id)
        key = self._keys.outbox(user_id)
        held = self._held()
        if user_id in held:
            raw = held[user_id][1]
        else:
            try:
                raw = self._client.get(key)
            except RedisError as exc:
                raise StorageError(f"Redis GET {key} failed: {exc}") from exc
        return decode(raw, key) if raw is not None else {}

    def delete(self, user_id: str) -> None:
        check_user_id(user_id)
        key = self._keys.session(user_id)
        try:
            self._client.delete(key, self._keys.outbox(user_id))
        except RedisError as exc:
            raise StorageError(f"Redis DEL {key} failed: {exc}") from exc
        held = self._held()
        if user_id in held:
            held[user_id] = (None, None)
            self._pending().pop(user_id, None)  # a save earlier under the lock is void

    @contextmanager
    def lock(
        self,
        user_id: str,
        timeout: float = DEFAULT_LOCK_TIMEOUT,
        blocking_timeout: float | None = None,
        *,
        also: Callable[[Any], Callable[[list[Any]], None]] | None = None,
    ) -> Iterator[None]:
        """See SessionStorage.lock. ``also`` queues the caller's own reads on the
        pipeline that takes the lock (one round trip for both) and returns what
        receives their replies, once the lock is taken."""
        check_user_id(user_id)
        wait = self._blocking_timeout if blocking_timeout is None else blocking_timeout
        check_lock_timeouts(timeout, wait)
        key = self._keys.lock(user_id)
        # SET NX PX with a random token and a compare-and-delete release (what redis-py's
        # Lock does) holds across processes and hosts; ``timeout`` makes a lock of a
        # crashed worker expire on its own. The session is read in the same round trip
        # as the lock is taken: every holder loads it next (load() returns that copy).
        token = f"{self.holder}/{secrets.token_hex(16)}"
        deadline = time.monotonic() + wait
        while True:
            pipe = self._client.pipeline(transaction=False)
            pipe.set(key, token, nx=True, px=max(1, int(timeout * 1000)))
            pipe.get(self._keys.session(user_id))
            pipe.get(self._keys.outbox(user_id))
            receive = also(pipe) if also is not None else None
            try:
                acquired, raw, boxed, *theirs = pipe.execute()
            except RedisError as exc:
                raise StorageError(f"Redis lock {key} could not be acquired: {exc}") from exc
            if acquired:
                break
            if self._held_by_the_gone(key) or self._abandoned_by_us(key):
                continue
            if time.monotonic() + self._lock_poll_interval > deadline:
                raise LockTimeout(
                    f"Redis lock {key} is still held after {wait}s; a handler of the same user "
                    "is slow or stuck, or a crashed worker's lock has not expired yet"
                )
            time.sleep(self._lock_poll_interval)
        held = self._held()
        held[user_id] = (raw, boxed)
        try:
            if receive is not None:
                receive(theirs)
            yield
        except BaseException:
            # The handler's own error matters more than a release problem.
            held.pop(user_id, None)
            self._release(user_id, key, token, timeout, quiet=True)
            raise
        held.pop(user_id, None)
        self._release(user_id, key, token, timeout, quiet=False)

    def _held_by_the_gone(self, key: str) -> bool:
        """Release the lock at ``key`` if its holder is known to be gone; True if it was."""
        gone = self.holder_gone
        if gone is None:
            return False

        def of_the_gone(value: str) -> bool:
            holder = value.rpartition("/")[0]
            return bool(holder) and gone(holder)

        return self._take_over(key, of_the_gone, "its worker is gone")

    def _abandoned_by_us(self, key: str) -> bool:
        """Release the lock at ``key`` if it is one of this process's whose release
        failed; True if it was (or is gone). The event it was taken for is being run
        again (the handler's error made the pipeline retry it), so nobody holds it."""
        with self._abandoned_lock:
            now = time.monotonic()
            for token in [t for t, until in self._abandoned.items() if until < now]:
                del self._abandoned[token]  # expired on the server by now: nothing to take back
            if not self._abandoned:
                return False

        def ours(value: str) -> bool:
            with self._abandoned_lock:
                return self._abandoned.pop(value, None) is not None

        return self._take_over(key, ours, "this process lost it when Redis went away")

    def _take_over(self, key: str, may: Callable[[str], bool], why: str) -> bool:
        """Release the lock at ``key`` when ``may`` says so of its value; True if it was
        released, or is gone already (try again at once)."""
        try:
            value = self._client.get(key)
        except RedisError:
            return False
        if value is None:
            return True
        if not may(value.decode() if isinstance(value, bytes) else str(value)):
            return False
        try:
            released = bool(self._release_script(keys=[key], args=[value]))
        except RedisError:
            return False
        if released:
            logger.warning("Redis lock %s taken over: %s", key, why)
        return True

    def _abandon(self, token: str, timeout: float) -> None:
        with self._abandoned_lock:
            self._abandoned[token] = time.monotonic() + timeout
            while len(self._abandoned) > MAX_ABANDONED:
                del self._abandoned[next(iter(self._abandoned))]

    def _held(self) -> dict[str, tuple[bytes | None, bytes | None]]:
        """This thread's locked users, and the session and outbox read with each lock
        (or saved since)."""
        held = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = {}
        return held

    def _pending(self) -> dict[str, "_Write"]:
        """This thread's saves under a lock, written when the lock is released."""
        pending = getattr(self._local, "pending", None)
        if pending is None:
            pending = self._local.pending = {}
        return pending

    def on_release(self, user_id: str, write: Callable[[Any], Any]) -> None:
        """Send ``write`` (it queues commands on a Redis pipeline) in the round trip
        that releases ``user_id``'s lock, after the session's save; at once when this
        thread does not hold that lock. Not atomic with the save: the commands may
        touch other slots (a consultation record)."""
        check_user_id(user_id)
        if user_id in self._held():
            self._pending_writes().setdefault(user_id, []).append(write)
            return
        pipe = self._client.pipeline(transaction=False)
        write(pipe)
        try:
            pipe.execute()
        except RedisError as exc:
            raise StorageError(f"Redis write for a user failed: {exc}") from exc

    def _pending_writes(self) -> dict[str, list[Callable[[Any], Any]]]:
        writes = getattr(self._local, "writes", None)
        if writes is None:
            writes = self._local.writes = {}
        return writes

    def _release(self, user_id: str, key: str, token: str, timeout: float, *, quiet: bool) -> None:
        save = self._pending().pop(user_id, None)
        writes = self._pending_writes().pop(user_id, [])
        try:
            released = self._save_and_release(user_id, key, token, save, writes)
        except RedisError as exc:
            # The lock expires on its own after ``timeout``; until then, should it
            # still be there (a failover copied it), this process takes it back.
            self._abandon(token, timeout)
            if quiet:
                logger.warning("Redis lock %s could not be released%s: %s", key,
                               "" if save is None else " (nor the session saved)", exc)
                return
            if save is not None:
                raise StorageError(f"Redis SET {self._keys.session(user_id)} failed: {exc}") from exc
            if writes:
                raise StorageError(f"Redis writes sent with the release of {key} failed: {exc}") from exc
            raise StorageError(f"Redis lock {key} could not be released: {exc}") from exc
        if not released:
            message = (
                f"Redis lock {key} expired after {timeout}s while still held, so another event "
                "of the same user may have interleaved; raise the lock timeout above the "
                "slowest handler"
            )
            if quiet:
                logger.warning(message)
                return
            raise LockLost(message)

    def _save_and_release(self, user_id: str, key: str, token: str, save: "_Write | None",
                          writes: list[Callable[[Any], Any]]) -> bool:
        """One round trip: the session (and its answer) saved and the lock released in
        one script, then the writes queued with on_release."""
        if save is None and not writes:
            return bool(self._release_script(keys=[key], args=[token]))
        if save is None:
            script, keys, args = self._release_script, [key], [token]
        else:
            script = self._save_release_script
            keys = [self._keys.session(user_id), self._keys.outbox(user_id), key]
            args = [save.text, "" if save.ttl is None else save.ttl,
                    b"" if save.boxed is None else save.boxed,
                    "" if save.outbox_ttl is None else save.outbox_ttl, token]
        replies = script_then(self._client, script, keys, args,
                              lambda pipe: [write(pipe) for write in writes])
        return bool(replies[0])


@dataclass(frozen=True)
class _Write:
    """A save under a lock, waiting for the release."""

    text: bytes
    ttl: int | None
    boxed: bytes | None
    outbox_ttl: int | None
