"""What the stand-in remembers of one channel, and the one lock that guards it.

Users and their profiles, the reply tokens issued, the retry keys accepted,
every call received and every delivery, message contents, the faults and
delays still to come, and the rich menus. The HTTP app and the handle a test
holds (``StandinLine``) share one ``Channel``; both read and change it only
with ``lock`` held, so the app is safe to serve from a threaded server.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

from bot.line.standin.faults import Delay, Fault
from bot.line.standin.richmenu import RichMenus

REPLY_TOKEN_TTL = 60.0  # seconds, LINE's


@dataclass(frozen=True)
class Call:
    """One HTTP request the stand-in received, accepted or not."""

    method: str
    path: str
    status: int
    retry_key: str | None
    body: Any  # the parsed JSON body, or None
    request_id: str
    at: float
    unexpected: bool = False
    error: str | None = None  # LINE's error message, when refused


@dataclass(frozen=True)
class Delivered:
    """Messages LINE accepted for a user: by a reply or a push."""

    kind: str  # "reply" | "push"
    user_id: str
    messages: tuple[dict, ...]
    retry_key: str | None
    request_id: str
    at: float
    to_unfollowed: bool = False


@dataclass
class User:
    display_name: str
    language: str | None = "ja"
    following: bool = True


@dataclass
class Token:
    user_id: str
    issued_at: float
    used: bool = False


class Channel:
    """One LINE channel as the stand-in keeps it."""

    def __init__(self, access_token: str | None, clock: Callable[[], float], reply_token_ttl: float) -> None:
        self.access_token = access_token
        self.clock = clock
        self.ttl = reply_token_ttl
        self.lock = threading.Lock()
        #: Notified whenever a call is recorded: what wait_for_deliveries waits on.
        self.changed = threading.Condition(self.lock)
        #: Set on shutdown, to cut every delayed answer short.
        self.stopping = threading.Event()
        self.reset()

    def reset(self) -> None:
        """Forget everything but the configuration (lock held, or before sharing)."""
        self.users: dict[str, User] = {}
        self.tokens: dict[str, Token] = {}
        self.retry_keys: dict[str, str] = {}  # retry key -> accepted request id
        self.calls: list[Call] = []
        self.deliveries: list[Delivered] = []
        self.left: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        self.delays: list[Delay] = []
        self.content: dict[str, tuple[bytes, str]] = {}  # message id -> (data, content type)
        self.richmenus = RichMenus()

    def user(self, user_id: str) -> User:
        """The user, known from now on if they were not (lock held)."""
        if user_id not in self.users:
            self.users[user_id] = User(f"user {len(self.users) + 1}")
        return self.users[user_id]
