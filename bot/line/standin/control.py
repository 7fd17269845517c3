"""``StandinLine``: the stand-in as a test or the local chat page holds it.

It sets the channel up (users, reply tokens, message contents, faults and
delays to come) and reads what LINE would have received (calls, deliveries,
rich menus, loading animations); ``.app`` is the WSGI app the bot talks to
(bot.line.standin.app). Every method takes the channel's lock, so a test may
call them while the app answers the bot from other threads.
"""

from __future__ import annotations

import time
import uuid
from typing import Callable

from bot.line.standin.app import make_app
from bot.line.standin.faults import Delay, Fault
from bot.line.standin.richmenu import Loading, StoredMenu
from bot.line.standin.state import REPLY_TOKEN_TTL, Call, Channel, Delivered, Token, User


class StandinLine:
    """The stand-in LINE Messaging API. ``.app`` is the WSGI app (Flask)."""

    def __init__(
        self,
        *,
        access_token: str | None = None,
        clock: Callable[[], float] = time.time,
        reply_token_ttl: float = REPLY_TOKEN_TTL,
    ) -> None:
        self._channel = Channel(access_token, clock, reply_token_ttl)
        self.app = make_app(self._channel)

    def set_clock(self, clock: Callable[[], float]) -> None:
        """Use ``clock`` (seconds, like time.time) for token ages from now on."""
        with self._channel.lock:
            self._channel.clock = clock

    def reset(self) -> None:
        """Forget everything: users, tokens, calls, deliveries, pending faults."""
        with self._channel.lock:
            self._channel.reset()

    # --- set-up ---------------------------------------------------------------

    def add_user(self, user_id: str, *, display_name: str | None = None, language: str | None = "ja") -> None:
        """A user who follows the bot (profile language ``language``; None = not shared)."""
        with self._channel.lock:
            users = self._channel.users
            user = users.setdefault(user_id, User(display_name or f"user {len(users) + 1}"))
            user.language = language
            if display_name:
                user.display_name = display_name
            user.following = True

    def add_content(self, message_id: str, data: bytes, content_type: str = "image/jpeg") -> None:
        """What the content API serves for a message the user sent (an image, say)."""
        with self._channel.lock:
            self._channel.content[message_id] = (bytes(data), content_type)

    def set_language(self, user_id: str, language: str | None) -> None:
        with self._channel.lock:
            self._channel.user(user_id).language = language

    def follow(self, user_id: str) -> None:
        with self._channel.lock:
            self._channel.user(user_id).following = True

    def unfollow(self, user_id: str) -> None:
        """The user blocked the bot: a later push is still accepted but marked."""
        with self._channel.lock:
            self._channel.user(user_id).following = False

    def issue_reply_token(self, user_id: str, issued_at: float | None = None) -> str:
        """A reply token for an event from ``user_id`` (a user, group or room id),
        issued at ``issued_at`` (the stand-in's clock by default). The user is
        known from then on (their profile can be read)."""
        token = uuid.uuid4().hex
        with self._channel.lock:
            self._channel.user(user_id)
            self._channel.tokens[token] = Token(user_id, self._channel.clock() if issued_at is None else issued_at)
        return token

    def fail_next(
        self,
        count: int = 1,
        status: int = 500,
        path_prefix: str = "/v2/bot/message/push",
        *,
        retry_after: float | None = None,
        body: dict | None = None,
        accept_first: bool = False,
        skip: int = 0,
    ) -> None:
        """Answer the next ``count`` requests under ``path_prefix`` with ``status``.

        A 429 carries ``Retry-After`` (``retry_after``, 1 s by default).
        ``accept_first=True`` processes the request first (LINE accepted it,
        the answer was lost): the worst case for a client that retries.
        ``skip``: let that many matching requests through normally first.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._channel.lock:
            self._channel.faults.append(Fault(count, path_prefix, status, retry_after, body, accept_first, skip))

    def delay_next(
        self, count: int, seconds: float, path_prefix: str = "/v2/bot/", *, after_processing: bool = True
    ) -> None:
        """Answer the next ``count`` requests under ``path_prefix`` ``seconds`` late.

        By default the request is processed first and only the answer is
        late, as when LINE accepted a message and the response was slow: a
        client that timed out must not deliver it twice.
        """
        with self._channel.lock:
            self._channel.delays.append(Delay(count, seconds, path_prefix, after_processing))

    # --- queries --------------------------------------------------------------

    def calls(self, path_prefix: str = "") -> list[Call]:
        """Every request received, refused ones included, in order."""
        with self._channel.lock:
            return [c for c in self._channel.calls if c.path.startswith(path_prefix)]

    def unexpected(self) -> list[Call]:
        with self._channel.lock:
            return [c for c in self._channel.calls if c.unexpected]

    def deliveries(self, user_id: str | None = None) -> list[Delivered]:
        """Accepted messages (replies and pushes), in order."""
        with self._channel.lock:
            return [d for d in self._channel.deliveries if user_id is None or d.user_id == user_id]

    def pushes_to_unfollowed(self) -> list[Delivered]:
        with self._channel.lock:
            return [d for d in self._channel.deliveries if d.to_unfollowed]

    def messages_for(self, user_id: str, since: int = 0) -> list[dict]:
        """The messages delivered to ``user_id``, flattened in order, from
        index ``since`` (a chat page polls with the count it already shows)."""
        with self._channel.lock:
            flat = [m for d in self._channel.deliveries if d.user_id == user_id for m in d.messages]
        return flat[since:]

    def left(self) -> list[tuple[str, str]]:
        """(``group`` | ``room``, id) of every leave call accepted."""
        with self._channel.lock:
            return list(self._channel.left)

    def rich_menus(self) -> list[StoredMenu]:
        """The channel's rich menus, oldest first (with their images)."""
        with self._channel.lock:
            return list(self._channel.richmenus.menus.values())

    def default_rich_menu(self) -> str | None:
        with self._channel.lock:
            return self._channel.richmenus.default

    def rich_menu_of(self, user_id: str) -> str | None:
        """The rich menu linked to ``user_id`` (None: they see the default)."""
        with self._channel.lock:
            return self._channel.richmenus.links.get(user_id)

    def rich_menu_aliases(self) -> dict[str, str]:
        """Alias id -> rich menu id."""
        with self._channel.lock:
            return dict(self._channel.richmenus.aliases)

    def loadings(self, chat_id: str | None = None) -> list[Loading]:
        """Loading animations accepted, in order."""
        with self._channel.lock:
            return [x for x in self._channel.richmenus.loadings if chat_id is None or x.chat_id == chat_id]

    def wait_for_deliveries(self, count: int, user_id: str | None = None, timeout: float = 10.0) -> list[Delivered]:
        """Block until at least ``count`` deliveries (to ``user_id``) exist; raise on timeout."""
        deadline = time.monotonic() + timeout
        with self._channel.changed:
            while True:
                found = [d for d in self._channel.deliveries if user_id is None or d.user_id == user_id]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(found)} of {count} deliveries after {timeout} s")
                self._channel.changed.wait(left)

    def stop(self) -> None:
        """Cut short every delayed answer (on server shutdown)."""
        self._channel.stopping.set()
