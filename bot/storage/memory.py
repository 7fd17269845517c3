"""In-process session storage for development, the CLI and tests.

It behaves like the Redis backend where it matters to handlers: data goes through a
real JSON round trip (so non-JSON values and aliasing bugs show up here, not only in
production), TTLs expire, and the per-user lock serialises events of one user.
It is not shared between processes: run one worker per process when using it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bot.storage.base import (
    DEFAULT_BLOCKING_TIMEOUT,
    DEFAULT_LOCK_TIMEOUT,
    LockTimeout,
    SessionStorage,
    check_lock_timeouts,
    check_ttl,
    check_user_id,
    decode,
    encode,
)


@dataclass
class _UserLock:
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Threads holding or waiting for this lock; the entry is dropped at zero so
    # one-off users do not leave a Lock behind for the life of the process.
    users: int = 0


class MemoryStorage(SessionStorage):
    """Thread-safe dict-backed storage; ``clock`` is injectable so tests can move time."""

    def __init__(
        self,
        default_ttl: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        blocking_timeout: float = DEFAULT_BLOCKING_TIMEOUT,
    ) -> None:
        check_ttl(default_ttl)
        check_lock_timeouts(DEFAULT_LOCK_TIMEOUT, blocking_timeout)
        self._default_ttl = default_ttl
        self._clock = clock
        self._blocking_timeout = blocking_timeout
        self._mutex = threading.Lock()
        # user_id -> (JSON text, expiry instant on self._clock or None)
        self._data: dict[str, tuple[str, float | None]] = {}
        self._outboxes: dict[str, tuple[str, float | None]] = {}
        self._locks: dict[str, _UserLock] = {}

    def load(self, user_id: str) -> dict[str, Any] | None:
        check_user_id(user_id)
        with self._mutex:
            entry = self._data.get(user_id)
            if entry is None:
                return None
            text, expires_at = entry
            if expires_at is not None and self._clock() >= expires_at:
                del self._data[user_id]
                return None
        return decode(text, "in memory")

    def save(self, user_id: str, data: dict[str, Any], ttl_seconds: int | None = None, *,
             outbox: dict[str, Any] | None = None, outbox_ttl: int | None = None) -> None:
        check_user_id(user_id)
        check_ttl(ttl_seconds)
        check_ttl(outbox_ttl)
        text = encode(data)
        boxed = encode(outbox) if outbox is not None else None
        ttl = ttl_seconds if ttl_seconds is not None else self._default_ttl
        with self._mutex:
            now = self._clock()
            self._purge_expired(now)
            self._data[user_id] = (text, None if ttl is None else now + ttl)
            if boxed is not None:
                self._outboxes[user_id] = (boxed, None if outbox_ttl is None else now + outbox_ttl)

    def load_outbox(self, user_id: str) -> dict[str, Any]:
        check_user_id(user_id)
        with self._mutex:
            entry = self._outboxes.get(user_id)
            if entry is None:
                return {}
            text, expires_at = entry
            if expires_at is not None and self._clock() >= expires_at:
                del self._outboxes[user_id]
                return {}
        return decode(text, "in memory")

    def delete(self, user_id: str) -> None:
        check_user_id(user_id)
        with self._mutex:
            self._data.pop(user_id, None)
            self._outboxes.pop(user_id, None)

    @contextmanager
    def lock(
        self,
        user_id: str,
        timeout: float = DEFAULT_LOCK_TIMEOUT,
        blocking_timeout: float | None = None,
    ) -> Iterator[None]:
        # ``timeout`` is validated but not enforced: a thread cannot vanish while
        # holding the lock the way a crashed process can, and the context manager
        # always releases, so a forced expiry would only add a way to interleave.
        check_user_id(user_id)
        wait = self._blocking_timeout if blocking_timeout is None else blocking_timeout
        check_lock_timeouts(timeout, wait)
        with self._mutex:
            entry = self._locks.setdefault(user_id, _UserLock())
            entry.users += 1
        try:
            if wait == 0:
                acquired = entry.lock.acquire(blocking=False)
            else:
                acquired = entry.lock.acquire(timeout=wait)
            if not acquired:
                raise LockTimeout(
                    f"session lock of a user is still held after {wait}s; a handler of the "
                    "same user is slow or stuck"
                )
            try:
                yield
            finally:
                entry.lock.release()
        finally:
            with self._mutex:
                entry.users -= 1
                if entry.users == 0:
                    del self._locks[user_id]

    def lock_count(self) -> int:
        """Number of per-user locks currently held or awaited (for tests and metrics)."""
        with self._mutex:
            return len(self._locks)

    def _purge_expired(self, now: float) -> None:
        # Called under self._mutex on save, so expired sessions of users who never
        # come back do not accumulate for the life of the process.
        for kept in (self._data, self._outboxes):
            expired = [uid for uid, (_, exp) in kept.items() if exp is not None and now >= exp]
            for uid in expired:
                del kept[uid]
