"""The session storage interface shared by every backend.

Modelled on aiogram's FSM storage: one small interface, several backends,
one contract test (tests/storage/test_contract.py) that every backend must pass.
A handler is expected to run as::

    with storage.lock(user_id):
        data = storage.load(user_id) or {}
        ...                        # handle the event
        storage.save(user_id, data)

so that two events of the same user (LINE may deliver them concurrently or
redeliver one) never interleave between load and save.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any, ContextManager

# A handler that needs longer than this is broken or stuck; the lock expiring
# lets the user's next event through instead of blocking them for good.
DEFAULT_LOCK_TIMEOUT = 10.0
# LINE expects the webhook to answer within a few seconds, so waiting for a
# busy user lock must give up well before that.
DEFAULT_BLOCKING_TIMEOUT = 5.0


class StorageError(Exception):
    """Base class of every error raised by a session storage."""


class LockTimeout(StorageError):
    """The per-user lock could not be acquired within the blocking timeout."""


class LockLost(StorageError):
    """The per-user lock expired while it was held, so another event may have interleaved."""


class SessionStorage(ABC):
    """Per-user session data: JSON-serialisable dicts keyed by the LINE user id."""

    @abstractmethod
    def load(self, user_id: str) -> dict[str, Any] | None:
        """Return a fresh copy of the stored session, or None if there is none (or it expired)."""

    @abstractmethod
    def save(self, user_id: str, data: dict[str, Any], ttl_seconds: int | None = None, *,
             outbox: dict[str, Any] | None = None, outbox_ttl: int | None = None) -> None:
        """Store a snapshot of ``data``; later changes to ``data`` do not affect what is stored.

        ``ttl_seconds`` overrides the backend's default TTL; None means "use the default"
        (which may itself be None: no expiry). Raises StorageError if ``data`` does not
        survive a JSON round trip unchanged.

        ``outbox``: the answers just computed, by event id. They replace the user's
        outbox in the same atomic write as the session, and expire after
        ``outbox_ttl`` seconds; the idle session itself carries none of them.
        """

    @abstractmethod
    def load_outbox(self, user_id: str) -> dict[str, Any]:
        """The outbox saved with the session (empty when none, or expired)."""

    @abstractmethod
    def delete(self, user_id: str) -> None:
        """Remove the session and its outbox; deleting a missing session is not an error."""

    @abstractmethod
    def lock(
        self,
        user_id: str,
        timeout: float = DEFAULT_LOCK_TIMEOUT,
        blocking_timeout: float | None = None,
    ) -> ContextManager[None]:
        """A per-user, non-reentrant lock to hold around load -> handle -> save.

        ``timeout`` is how long the lock may be held before it is released by force
        (backends that cannot lose their holder, such as the in-memory one, never
        release by force). ``blocking_timeout`` is how long to wait for it; None means
        the backend's configured default. Raises LockTimeout when the wait runs out.
        """


def encode(data: dict[str, Any]) -> str:
    """Serialise ``data`` to JSON, refusing anything that would not come back identical.

    json.dumps silently turns tuples into lists and int keys into str keys; a session
    that changes shape between save and load is a bug that surfaces far from its cause,
    so it is rejected here, at save time.
    """
    if not isinstance(data, dict):
        raise StorageError(f"session data must be a dict, got {type(data).__name__}")
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise StorageError(f"session data is not JSON-serialisable: {exc}") from exc
    if json.loads(text) != data:
        raise StorageError(
            "session data changes in a JSON round trip (tuples or non-str dict keys?); "
            "store lists and str keys only"
        )
    return text


def decode(raw: str | bytes, where: str) -> dict[str, Any]:
    """Parse a stored session; ``where`` names the key or entry for the operator."""
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise StorageError(f"stored session {where} is not valid JSON ({exc}); delete it") from exc
    if not isinstance(value, dict):
        raise StorageError(
            f"stored session {where} is a JSON {type(value).__name__}, not an object; delete it"
        )
    return value


def check_user_id(user_id: str) -> None:
    if not isinstance(user_id, str) or not user_id:
        raise ValueError(f"user_id must be a non-empty str, got {user_id!r}")


def check_ttl(ttl_seconds: int | None) -> None:
    # Redis rejects EX 0 and negative values; the in-memory backend follows suit so
    # code tested against it does not break in production.
    if ttl_seconds is None:
        return
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds <= 0:
        raise ValueError(f"ttl_seconds must be a positive int or None, got {ttl_seconds!r}")


def check_lock_timeouts(timeout: float, blocking_timeout: float) -> None:
    if not timeout > 0:
        raise ValueError(f"lock timeout must be > 0 seconds, got {timeout!r}")
    if not blocking_timeout >= 0:
        raise ValueError(f"blocking_timeout must be >= 0 seconds, got {blocking_timeout!r}")
