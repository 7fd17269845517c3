"""One user's rich menu: the adults' for a guardian or a teacher, else the default.

The channel's default rich menu is the children's (bot.line.richmenu). After
each answer the worker tells ``UserMenus.follow_role`` the role the dialogue
now knows (Reply.role): a guardian or a teacher gets the adults' menu linked
to them; someone who says they are a child after all goes back to the
default. A role not known yet changes nothing.

The adults' menu is found by its alias (``netsoudan-adult``, set by ``python
-m bot richmenu deploy``) and the answer kept for ``alias_ttl`` seconds, so
there is no state to configure; before the first deploy there is no alias and
nothing is linked. What was linked is remembered per user in Redis (the menu
id, under the user's pseudonymous key), so LINE is called only when the menu
must change: once per role change, or after a deploy replaced the menu.

A failure here never fails the answer (it was delivered already): it is
logged at debug level with a status, never with a user id, and tried again
at the user's next message.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

import redis
import urllib3
from linebot.v3.messaging.exceptions import ApiException

from bot.line.apiclient import LineApi
from bot.line.richmenu import ADULT, adult_menu, menu_for_role
from bot.storage.keys import KeyBuilder

log = logging.getLogger(__name__)

#: How long the adults' menu id (or its absence) is trusted before asking LINE again.
ALIAS_TTL = 300.0
#: How long the note of a user's linked menu is kept (LINE keeps the link itself).
LINKED_TTL = 30 * 24 * 3600
#: Part of the user's Redis key (bot.storage.keys.KeyBuilder.user) holding their linked menu id.
KEY_PART = "richmenu"
TIMEOUT = (2.0, 5.0)
_UNREAD = object()


class UserMenus:
    def __init__(
        self,
        line: LineApi,
        client: redis.Redis,
        keys: KeyBuilder,
        *,
        alias_ttl: float = ALIAS_TTL,
        timeout: tuple[float, float] = TIMEOUT,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._line = line
        self._client = client
        self._keys = keys
        self._alias = adult_menu().alias
        self._alias_ttl = alias_ttl
        self._timeout = timeout
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._adult: tuple[str | None, float] | None = None  # (menu id or None, when asked)

    def linked_key(self, user_id: str) -> str:
        """Where the user's linked menu is noted (read with the turn, handler.py)."""
        return self._keys.user(user_id, KEY_PART)

    def follow_role(self, user_id: str, role: str | None, linked: Any = _UNREAD) -> None:
        """Link the menu for ``role`` to ``user_id`` if it is not linked already.
        ``linked``: what ``linked_key`` held, when the caller read it already."""
        audience = menu_for_role(role)
        if audience is None:
            return
        key = self.linked_key(user_id)
        try:
            if linked is _UNREAD:
                linked = self._client.get(key)
            linked = linked.decode() if isinstance(linked, bytes) else linked
            if audience != ADULT:
                if linked is not None:
                    self._line.api.unlink_rich_menu_id_from_user(user_id, _request_timeout=self._timeout)
                    self._client.delete(key)
                return
            menu_id = self._adult_menu_id()
            if menu_id is None or linked == menu_id:
                return
            self._line.api.link_rich_menu_id_to_user(user_id, menu_id, _request_timeout=self._timeout)
            self._client.set(key, menu_id, ex=LINKED_TTL)
        except ApiException as exc:
            if exc.status in (400, 404):
                self._forget_alias()  # a deploy may have replaced the menu: ask again next time
            log.debug("rich menu not switched: status %s", exc.status)
        except (urllib3.exceptions.HTTPError, OSError, redis.RedisError) as exc:
            log.debug("rich menu not switched: %s", type(exc).__name__)

    def close(self) -> None:
        self._line.close()

    def _adult_menu_id(self) -> str | None:
        with self._lock:
            cached = self._adult
        if cached is not None and self._monotonic() - cached[1] < self._alias_ttl:
            return cached[0]
        try:
            menu_id: str | None = self._line.api.get_rich_menu_alias(
                self._alias, _request_timeout=self._timeout).rich_menu_id
        except ApiException as exc:
            if exc.status != 404:
                raise
            menu_id = None  # not deployed yet: every user sees the default
        with self._lock:
            self._adult = (menu_id, self._monotonic())
        return menu_id

    def _forget_alias(self) -> None:
        with self._lock:
            self._adult = None
