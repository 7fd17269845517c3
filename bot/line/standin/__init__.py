"""A small, real stand-in for the LINE Messaging API, as a WSGI app.

Used by the tests (through ``tests/fake_line.py``) and by the local chat page
of the embedded mode, which has no LINE channel: the bot talks to this over
HTTP through the real line-bot-sdk exactly as it talks to api.line.me, by
pointing ``Configuration(host=...)`` at it.

It behaves like LINE where the bot's correctness depends on it:

- ``POST /v2/bot/message/reply``: the reply token must be one this stand-in
  issued (``issue_reply_token``), unused and younger than 60 s, else 400
  ``{"message": "Invalid reply token"}``; a token is spent by the first
  accepted reply. Messages are validated (1-5, known types, text <= 5000
  UTF-16 units, quick replies <= 13 with labels <= 20, Flex altText ...).
- ``POST /v2/bot/message/push``: an ``X-Line-Retry-Key`` must be a UUID; a key
  already accepted gets 409 with ``x-line-accepted-request-id`` and is not
  delivered again. A push to a user who unfollowed is accepted (LINE accepts
  it too) and recorded, so tests can assert the bot never does it.
- ``GET /v2/bot/profile/<userId>``, ``POST /v2/bot/{group,room}/<id>/leave``.
- Rich menus (create, list, get, delete, the image, the default, per-user
  links, aliases) and ``POST /v2/bot/chat/loading/start``, validated as LINE
  does: see ``bot.line.standin.richmenu``.
- Every request needs ``Authorization: Bearer <token>`` (any non-empty token,
  or exactly ``access_token`` when one is configured), else 401.
- Faults on demand: ``fail_next`` (a status, with ``Retry-After`` on 429),
  ``delay_next`` (a slow answer, to force client timeouts).
- Requests to any other path or method are answered 404 and recorded as
  *unexpected*, as is an error inside the stand-in itself; the test fixture
  fails the test when there are any.

Everything is kept in memory behind one lock; the app is safe to serve from
a threaded server. Message contents are kept (a test or the chat page reads
them) but never logged.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Flask, Response, request
from werkzeug.exceptions import ClientDisconnected, HTTPException
from werkzeug.serving import WSGIRequestHandler, make_server

from bot.line.standin.richmenu import Loading, RichMenus, StoredMenu

REPLY_TOKEN_TTL = 60.0  # seconds, LINE's
MAX_MESSAGES = 5
MAX_TEXT = 5000
MAX_ALT_TEXT = 1500
MAX_BUBBLES = 12
MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_LABEL = 20
MAX_FLEX_ACTION_LABEL = 40
MAX_POSTBACK_DATA = 300
MAX_URI = 1000
MAX_CAROUSEL_BYTES = 50_000
MAX_BUBBLE_BYTES = 30_000

MESSAGE_TYPES = frozenset(
    {"text", "textV2", "sticker", "image", "video", "audio", "location", "imagemap", "template", "flex"}
)
ACTION_TYPES = frozenset(
    {"postback", "message", "uri", "datetimepicker", "camera", "cameraRoll", "location",
     "richmenuswitch", "clipboard"}
)
URI_SCHEMES = ("http://", "https://", "tel:", "line://", "liff://")
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

INVALID_REPLY_TOKEN = "Invalid reply token"
#: A request whose sender went away before its body was complete.
CUT_OFF = "client disconnected before the request was complete"
RETRY_KEY_ACCEPTED = "The retry key is already accepted"


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


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
class _User:
    display_name: str
    language: str | None = "ja"
    following: bool = True


@dataclass
class _Token:
    user_id: str
    issued_at: float
    used: bool = False


@dataclass
class _Fault:
    remaining: int
    path_prefix: str
    status: int = 500
    retry_after: float | None = None
    body: dict | None = None
    accept_first: bool = False  # process the request, then answer with the fault
    skip: int = 0  # matching requests let through before the fault starts


@dataclass
class _Delay:
    remaining: int
    seconds: float
    path_prefix: str
    after_processing: bool = True


class StandinLine:
    """The stand-in LINE Messaging API. ``.app`` is the WSGI app (Flask)."""

    def __init__(
        self,
        *,
        access_token: str | None = None,
        clock: Callable[[], float] = time.time,
        reply_token_ttl: float = REPLY_TOKEN_TTL,
    ) -> None:
        self._access_token = access_token
        self._clock = clock
        self._ttl = reply_token_ttl
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._reset_state()
        self.app = self._make_app()

    def _reset_state(self) -> None:
        self._users: dict[str, _User] = {}
        self._tokens: dict[str, _Token] = {}
        self._retry_keys: dict[str, str] = {}  # retry key -> accepted request id
        self._calls: list[Call] = []
        self._deliveries: list[Delivered] = []
        self._left: list[tuple[str, str]] = []
        self._faults: list[_Fault] = []
        self._delays: list[_Delay] = []
        self._content: dict[str, tuple[bytes, str]] = {}  # message id -> (data, content type)
        self._richmenus = RichMenus(_validate_action)

    def set_clock(self, clock: Callable[[], float]) -> None:
        """Use ``clock`` (seconds, like time.time) for token ages from now on."""
        with self._lock:
            self._clock = clock

    def reset(self) -> None:
        """Forget everything: users, tokens, calls, deliveries, pending faults."""
        with self._lock:
            self._reset_state()

    # --- set-up ---------------------------------------------------------------

    def add_user(self, user_id: str, *, display_name: str | None = None, language: str | None = "ja") -> None:
        """A user who follows the bot (profile language ``language``; None = not shared)."""
        with self._lock:
            user = self._users.setdefault(user_id, _User(display_name or f"user {len(self._users) + 1}"))
            user.language = language
            if display_name:
                user.display_name = display_name
            user.following = True

    def add_content(self, message_id: str, data: bytes, content_type: str = "image/jpeg") -> None:
        """What the content API serves for a message the user sent (an image, say)."""
        with self._lock:
            self._content[message_id] = (bytes(data), content_type)

    def set_language(self, user_id: str, language: str | None) -> None:
        with self._lock:
            self._user(user_id).language = language

    def follow(self, user_id: str) -> None:
        with self._lock:
            self._user(user_id).following = True

    def unfollow(self, user_id: str) -> None:
        """The user blocked the bot: a later push is still accepted but marked."""
        with self._lock:
            self._user(user_id).following = False

    def _user(self, user_id: str) -> _User:
        if user_id not in self._users:
            self._users[user_id] = _User(f"user {len(self._users) + 1}")
        return self._users[user_id]

    def issue_reply_token(self, user_id: str, issued_at: float | None = None) -> str:
        """A reply token for an event from ``user_id`` (a user, group or room id),
        issued at ``issued_at`` (the stand-in's clock by default). The user is
        known from then on (their profile can be read)."""
        token = uuid.uuid4().hex
        with self._lock:
            self._user(user_id)
            self._tokens[token] = _Token(user_id, self._clock() if issued_at is None else issued_at)
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
        with self._lock:
            self._faults.append(_Fault(count, path_prefix, status, retry_after, body, accept_first, skip))

    def delay_next(
        self, count: int, seconds: float, path_prefix: str = "/v2/bot/", *, after_processing: bool = True
    ) -> None:
        """Answer the next ``count`` requests under ``path_prefix`` ``seconds`` late.

        By default the request is processed first and only the answer is
        late, as when LINE accepted a message and the response was slow: a
        client that timed out must not deliver it twice.
        """
        with self._lock:
            self._delays.append(_Delay(count, seconds, path_prefix, after_processing))

    # --- queries --------------------------------------------------------------

    def calls(self, path_prefix: str = "") -> list[Call]:
        """Every request received, refused ones included, in order."""
        with self._lock:
            return [c for c in self._calls if c.path.startswith(path_prefix)]

    def unexpected(self) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if c.unexpected]

    def deliveries(self, user_id: str | None = None) -> list[Delivered]:
        """Accepted messages (replies and pushes), in order."""
        with self._lock:
            return [d for d in self._deliveries if user_id is None or d.user_id == user_id]

    def pushes_to_unfollowed(self) -> list[Delivered]:
        with self._lock:
            return [d for d in self._deliveries if d.to_unfollowed]

    def messages_for(self, user_id: str, since: int = 0) -> list[dict]:
        """The messages delivered to ``user_id``, flattened in order, from
        index ``since`` (a chat page polls with the count it already shows)."""
        with self._lock:
            flat = [m for d in self._deliveries if d.user_id == user_id for m in d.messages]
        return flat[since:]

    def left(self) -> list[tuple[str, str]]:
        """(``group`` | ``room``, id) of every leave call accepted."""
        with self._lock:
            return list(self._left)

    def rich_menus(self) -> list[StoredMenu]:
        """The channel's rich menus, oldest first (with their images)."""
        with self._lock:
            return list(self._richmenus.menus.values())

    def default_rich_menu(self) -> str | None:
        with self._lock:
            return self._richmenus.default

    def rich_menu_of(self, user_id: str) -> str | None:
        """The rich menu linked to ``user_id`` (None: they see the default)."""
        with self._lock:
            return self._richmenus.links.get(user_id)

    def rich_menu_aliases(self) -> dict[str, str]:
        """Alias id -> rich menu id."""
        with self._lock:
            return dict(self._richmenus.aliases)

    def loadings(self, chat_id: str | None = None) -> list[Loading]:
        """Loading animations accepted, in order."""
        with self._lock:
            return [x for x in self._richmenus.loadings if chat_id is None or x.chat_id == chat_id]

    def wait_for_deliveries(self, count: int, user_id: str | None = None, timeout: float = 10.0) -> list[Delivered]:
        """Block until at least ``count`` deliveries (to ``user_id``) exist; raise on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [d for d in self._deliveries if user_id is None or d.user_id == user_id]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(found)} of {count} deliveries after {timeout} s")
                self._changed.wait(left)

    def stop(self) -> None:
        """Cut short every delayed answer (on server shutdown)."""
        self._stopping.set()

    # --- the app ----------------------------------------------------------------

    def _make_app(self) -> Flask:
        app = Flask("line-standin")

        @app.post("/v2/bot/message/reply")
        def reply():
            return self._handle(self._reply)

        @app.post("/v2/bot/message/push")
        def push():
            return self._handle(self._push)

        @app.get("/v2/bot/profile/<user_id>")
        def profile(user_id):
            return self._handle(lambda ctx: self._profile(ctx, user_id))

        # LINE serves this on api-data.line.me; the stand-in serves both hosts' paths.
        @app.get("/v2/bot/message/<message_id>/content")
        def content(message_id):
            return self._handle(lambda ctx: self._get_content(ctx, message_id))

        @app.post("/v2/bot/group/<chat_id>/leave")
        def leave_group(chat_id):
            return self._handle(lambda ctx: self._leave(ctx, "group", chat_id))

        @app.post("/v2/bot/room/<chat_id>/leave")
        def leave_room(chat_id):
            return self._handle(lambda ctx: self._leave(ctx, "room", chat_id))

        self._add_richmenu_routes(app)

        @app.errorhandler(ClientDisconnected)
        def cut_off(exc):
            # The sender died mid-request (a worker killed by a test): nothing
            # reached LINE, so nothing was delivered, and nothing was misused.
            with self._lock:
                self._calls.append(Call(request.method, request.path, 400, None, None, _request_id(),
                                        time.time(), error=CUT_OFF))
            return _json(400, {"message": "client disconnected"}, _request_id())

        @app.errorhandler(HTTPException)
        def unknown(exc):  # 404 and 405: a call LINE would not understand
            self._record_unexpected(404, f"{exc.code} {exc.name}")
            return _json(404, {"message": "Not found"}, _request_id())

        @app.errorhandler(Exception)
        def broken(exc):  # a bug in the stand-in must fail the test, not pass as LINE's 500
            self._record_unexpected(500, f"stand-in error: {type(exc).__name__}: {exc}")
            return _json(500, {"message": "stand-in error"}, _request_id())

        return app

    def _add_richmenu_routes(self, app: Flask) -> None:
        """Rich menus and the loading animation (bot.line.standin.richmenu): each
        answered under the lock, with auth, faults and recording, like the rest."""

        def route(rule: str, method: str, name: str, call) -> None:
            app.add_url_rule(rule, name, lambda **kw: self._handle(lambda ctx: call(ctx, **kw)), methods=[method])

        menus = lambda: self._richmenus  # noqa: E731  (reset() puts a new one in place)
        route("/v2/bot/richmenu", "POST", "richmenu_create", lambda ctx: menus().create(ctx.body))
        route("/v2/bot/richmenu/list", "GET", "richmenu_list", lambda ctx: menus().list())
        route("/v2/bot/richmenu/<menu_id>", "GET", "richmenu_get", lambda ctx, menu_id: menus().get(menu_id))
        route("/v2/bot/richmenu/<menu_id>", "DELETE", "richmenu_delete",
              lambda ctx, menu_id: menus().delete(menu_id))
        # LINE serves the image on api-data.line.me; the stand-in serves both hosts' paths.
        route("/v2/bot/richmenu/<menu_id>/content", "POST", "richmenu_upload",
              lambda ctx, menu_id: menus().upload(menu_id, ctx.raw, ctx.content_type))
        route("/v2/bot/richmenu/<menu_id>/content", "GET", "richmenu_image",
              lambda ctx, menu_id: self._rich_menu_image(menu_id))
        route("/v2/bot/user/all/richmenu/<menu_id>", "POST", "richmenu_default_set",
              lambda ctx, menu_id: menus().set_default(menu_id))
        route("/v2/bot/user/all/richmenu", "GET", "richmenu_default_get", lambda ctx: menus().get_default())
        route("/v2/bot/user/all/richmenu", "DELETE", "richmenu_default_cancel",
              lambda ctx: menus().cancel_default())
        route("/v2/bot/user/<user_id>/richmenu/<menu_id>", "POST", "richmenu_link",
              lambda ctx, user_id, menu_id: menus().link(user_id, menu_id))
        route("/v2/bot/user/<user_id>/richmenu", "DELETE", "richmenu_unlink",
              lambda ctx, user_id: menus().unlink(user_id))
        route("/v2/bot/user/<user_id>/richmenu", "GET", "richmenu_of_user",
              lambda ctx, user_id: menus().of_user(user_id))
        route("/v2/bot/richmenu/alias", "POST", "richmenu_alias_create", lambda ctx: menus().create_alias(ctx.body))
        route("/v2/bot/richmenu/alias/list", "GET", "richmenu_alias_list", lambda ctx: menus().list_aliases())
        route("/v2/bot/richmenu/alias/<alias>", "GET", "richmenu_alias_get",
              lambda ctx, alias: menus().get_alias(alias))
        route("/v2/bot/richmenu/alias/<alias>", "POST", "richmenu_alias_update",
              lambda ctx, alias: menus().update_alias(alias, ctx.body))
        route("/v2/bot/richmenu/alias/<alias>", "DELETE", "richmenu_alias_delete",
              lambda ctx, alias: menus().delete_alias(alias))
        route("/v2/bot/chat/loading/start", "POST", "loading_start",
              lambda ctx: menus().start_loading(ctx.body, self._clock(), ctx.request_id))

    def _rich_menu_image(self, menu_id: str):
        found = self._richmenus.image(menu_id)
        if found is None:
            return 404, {"message": "Not found"}, {}, "Not found"
        return 200, _Raw(*found), {}, None

    def _record_unexpected(self, status: int, error: str) -> None:
        with self._lock:
            self._calls.append(
                Call(request.method, request.path, status, None, None, _request_id(), time.time(),
                     unexpected=True, error=error)
            )

    def _take(self, items: list, path: str):
        """Consume one use of the first fault/delay matching ``path`` (lock held)."""
        for item in items:
            if item.remaining > 0 and path.startswith(item.path_prefix):
                if getattr(item, "skip", 0) > 0:
                    item.skip -= 1
                    return None
                item.remaining -= 1
                if item.remaining == 0:
                    items.remove(item)
                return item
        return None

    def _handle(self, handler) -> Response:
        request_id = _request_id()
        retry_key = request.headers.get("X-Line-Retry-Key")
        raw = request.get_data(cache=True)
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        with self._lock:
            delay = self._take(self._delays, request.path)
            fault = self._take(self._faults, request.path)
        if delay and not delay.after_processing:
            self._stopping.wait(delay.seconds)

        ctx = _Ctx(request_id, retry_key, body, raw, request.headers.get("Content-Type", ""))
        with self._changed:
            now = self._clock()
            if fault and not fault.accept_first:
                status, payload, headers, error = self._fault_response(fault)
            else:
                status, payload, headers, error = self._check_auth()
                if status is None:
                    status, payload, headers, error = handler(ctx)
                if fault:  # accepted, and then the answer is a fault
                    status, payload, headers, error = self._fault_response(fault)
            self._calls.append(
                Call(request.method, request.path, status, retry_key, body, request_id, now, error=error)
            )
            self._changed.notify_all()

        if delay and delay.after_processing:
            self._stopping.wait(delay.seconds)
        return _json(status, payload, request_id, headers)

    def _fault_response(self, fault: _Fault):
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(int(fault.retry_after) if float(fault.retry_after).is_integer()
                                         else fault.retry_after)
        default = {429: "The API rate limit has been exceeded. Try again later."}.get(
            fault.status, "An error occurred in the stand-in (injected)")
        payload = fault.body or {"message": default}
        return fault.status, payload, headers, payload.get("message")

    def _check_auth(self):
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            msg = "Authorization header required. Must follow the scheme, 'Authorization: Bearer <ACCESS TOKEN>'"
            return 401, {"message": msg}, {}, msg
        if self._access_token is not None and auth[7:] != self._access_token:
            return 401, {"message": "Invalid access token"}, {}, "Invalid access token"
        return None, None, None, None

    # --- endpoints (called with the lock held) -------------------------------------

    def _reply(self, ctx: "_Ctx"):
        if ctx.retry_key is not None:
            return _bad("X-Line-Retry-Key is not supported by this endpoint")
        body = ctx.body
        if not isinstance(body, dict):
            return _bad("The request body has 1 error(s)", [("Invalid JSON", "")])
        problems = validate_messages(body.get("messages"))
        if problems:
            return _bad(f"The request body has {len(problems)} error(s)", problems)
        token = self._tokens.get(body.get("replyToken")) if isinstance(body.get("replyToken"), str) else None
        if token is None or token.used or self._clock() - token.issued_at >= self._ttl:
            return _bad(INVALID_REPLY_TOKEN)
        token.used = True
        return self._deliver("reply", token.user_id, body["messages"], None, ctx.request_id)

    def _push(self, ctx: "_Ctx"):
        if ctx.retry_key is not None:
            if not _UUID_RE.fullmatch(ctx.retry_key):
                return _bad("The retry key must be in UUID format")
            accepted = self._retry_keys.get(ctx.retry_key)
            if accepted is not None:
                payload = {"message": RETRY_KEY_ACCEPTED, "sentMessages": []}
                return 409, payload, {"x-line-accepted-request-id": accepted}, RETRY_KEY_ACCEPTED
        body = ctx.body
        if not isinstance(body, dict):
            return _bad("The request body has 1 error(s)", [("Invalid JSON", "")])
        to = body.get("to")
        if not isinstance(to, str) or not to:
            return _bad("The request body has 1 error(s)", [("must be specified", "to")])
        problems = validate_messages(body.get("messages"))
        if problems:
            return _bad(f"The request body has {len(problems)} error(s)", problems)
        if ctx.retry_key is not None:
            self._retry_keys[ctx.retry_key] = ctx.request_id
        return self._deliver("push", to, body["messages"], ctx.retry_key, ctx.request_id)

    def _deliver(self, kind, user_id, messages, retry_key, request_id):
        user = self._users.get(user_id)
        self._deliveries.append(
            Delivered(kind, user_id, tuple(messages), retry_key, request_id, self._clock(),
                      to_unfollowed=user is not None and not user.following)
        )
        sent = [{"id": str(uuid.uuid4().int % 10**18), "quoteToken": uuid.uuid4().hex} for _ in messages]
        return 200, {"sentMessages": sent}, {}, None

    def _profile(self, ctx: "_Ctx", user_id: str):
        user = self._users.get(user_id)
        if user is None or not user.following:
            return 404, {"message": "Not found"}, {}, "Not found"
        payload = {"userId": user_id, "displayName": user.display_name}
        if user.language is not None:
            payload["language"] = user.language
        return 200, payload, {}, None

    def _get_content(self, ctx: "_Ctx", message_id: str):
        found = self._content.get(message_id)
        if found is None:
            return 404, {"message": "Not found"}, {}, "Not found"
        return 200, _Raw(*found), {}, None

    def _leave(self, ctx: "_Ctx", kind: str, chat_id: str):
        self._left.append((kind, chat_id))
        return 200, {}, {}, None


@dataclass(frozen=True)
class _Raw:
    """A binary answer (the content API) instead of JSON."""

    data: bytes
    content_type: str


@dataclass(frozen=True)
class _Ctx:
    request_id: str
    retry_key: str | None
    body: Any
    raw: bytes
    content_type: str = ""


def _request_id() -> str:
    return str(uuid.uuid4())


def _json(status: int, payload: Any, request_id: str, headers: dict | None = None) -> Response:
    if isinstance(payload, _Raw):
        response = Response(payload.data, status=status, content_type=payload.content_type)
    else:
        response = Response(json.dumps(payload, ensure_ascii=False), status=status, mimetype="application/json")
    response.headers["X-Line-Request-Id"] = request_id
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _bad(message: str, details: list[tuple[str, str]] | None = None):
    payload: dict[str, Any] = {"message": message}
    if details:
        payload["details"] = [{"message": m, "property": p} for m, p in details]
    return 400, payload, {}, message


# --- validation, as LINE does it (the parts the bot can get wrong) -----------


def validate_messages(messages: Any) -> list[tuple[str, str]]:
    """Problems with a ``messages`` array, as (message, property) pairs."""
    if not isinstance(messages, list) or not messages:
        return [("Size must be between 1 and 5", "messages")]
    if len(messages) > MAX_MESSAGES:
        return [("Size must be between 1 and 5", "messages")]
    problems: list[tuple[str, str]] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict) or message.get("type") not in MESSAGE_TYPES:
            problems.append(("Must be one of the following values: " + ", ".join(sorted(MESSAGE_TYPES)),
                             f"{where}.type"))
            continue
        kind = message["type"]
        if kind == "text":
            text = message.get("text")
            if not isinstance(text, str) or not text:
                problems.append(("May not be empty", f"{where}.text"))
            elif utf16_len(text) > MAX_TEXT:
                problems.append((f"Length must be between 0 and {MAX_TEXT}", f"{where}.text"))
        elif kind == "flex":
            problems += _validate_flex(message, where)
        if "quickReply" in message:
            problems += _validate_quick_reply(message["quickReply"], f"{where}.quickReply")
    return problems


def _validate_quick_reply(qr: Any, where: str) -> list[tuple[str, str]]:
    items = qr.get("items") if isinstance(qr, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_QUICK_REPLIES:
        return [(f"Size must be between 1 and {MAX_QUICK_REPLIES}", f"{where}.items")]
    problems = []
    for j, item in enumerate(items):
        at = f"{where}.items[{j}]"
        if not isinstance(item, dict) or item.get("type", "action") != "action":
            problems.append(("Must be one of the following values: action", f"{at}.type"))
            continue
        problems += _validate_action(item.get("action"), f"{at}.action", MAX_QUICK_REPLY_LABEL, label_required=True)
    return problems


def _validate_action(action: Any, where: str, label_max: int, label_required: bool) -> list[tuple[str, str]]:
    if not isinstance(action, dict) or action.get("type") not in ACTION_TYPES:
        return [("Must be one of the following values: " + ", ".join(sorted(ACTION_TYPES)), f"{where}.type")]
    problems = []
    label = action.get("label")
    if label is None:
        if label_required:
            problems.append(("May not be empty", f"{where}.label"))
    elif not isinstance(label, str) or not label or len(label) > label_max:
        problems.append((f"Length must be between 1 and {label_max}", f"{where}.label"))
    kind = action["type"]
    if kind == "uri":
        uri = action.get("uri")
        if not isinstance(uri, str) or not uri.startswith(URI_SCHEMES) or len(uri) > MAX_URI:
            problems.append(("Invalid URI", f"{where}.uri"))
    elif kind == "postback":
        data = action.get("data")
        if not isinstance(data, str) or len(data) > MAX_POSTBACK_DATA:
            problems.append((f"Length must be between 0 and {MAX_POSTBACK_DATA}", f"{where}.data"))
        display = action.get("displayText")
        if display is not None and (not isinstance(display, str) or len(display) > MAX_POSTBACK_DATA):
            problems.append((f"Length must be between 0 and {MAX_POSTBACK_DATA}", f"{where}.displayText"))
    elif kind == "message":
        text = action.get("text")
        if not isinstance(text, str) or not text or len(text) > MAX_POSTBACK_DATA:
            problems.append((f"Length must be between 1 and {MAX_POSTBACK_DATA}", f"{where}.text"))
    return problems


def _validate_flex(message: dict, where: str) -> list[tuple[str, str]]:
    problems = []
    alt = message.get("altText")
    if not isinstance(alt, str) or not alt:
        problems.append(("May not be empty", f"{where}.altText"))
    elif utf16_len(alt) > MAX_ALT_TEXT:
        problems.append((f"Length must be between 0 and {MAX_ALT_TEXT}", f"{where}.altText"))
    contents = message.get("contents")
    if not isinstance(contents, dict) or contents.get("type") not in ("bubble", "carousel"):
        problems.append(("Must be one of the following values: bubble, carousel", f"{where}.contents.type"))
        return problems
    if contents["type"] == "carousel":
        bubbles = contents.get("contents")
        if not isinstance(bubbles, list) or not 1 <= len(bubbles) <= MAX_BUBBLES:
            problems.append((f"Size must be between 1 and {MAX_BUBBLES}", f"{where}.contents.contents"))
            return problems
        if len(json.dumps(contents, ensure_ascii=False).encode()) > MAX_CAROUSEL_BYTES:
            problems.append(("Carousel is larger than 50KB", f"{where}.contents"))
        for k, bubble in enumerate(bubbles):
            problems += _validate_bubble(bubble, f"{where}.contents.contents[{k}]")
    else:
        problems += _validate_bubble(contents, f"{where}.contents")
    return problems


def _validate_bubble(bubble: Any, where: str) -> list[tuple[str, str]]:
    if not isinstance(bubble, dict) or bubble.get("type") != "bubble":
        return [("Must be one of the following values: bubble", f"{where}.type")]
    problems = []
    if len(json.dumps(bubble, ensure_ascii=False).encode()) > MAX_BUBBLE_BYTES:
        problems.append(("Bubble is larger than 30KB", where))
    for part in ("header", "hero", "body", "footer"):
        if part in bubble:
            problems += _validate_component(bubble[part], f"{where}.{part}")
    return problems


def _validate_component(component: Any, where: str) -> list[tuple[str, str]]:
    if not isinstance(component, dict) or "type" not in component:
        return [("May not be empty", f"{where}.type")]
    problems = []
    kind = component["type"]
    if kind == "box":
        contents = component.get("contents")
        if not isinstance(contents, list):
            return [("May not be empty", f"{where}.contents")]
        for k, child in enumerate(contents):
            problems += _validate_component(child, f"{where}.contents[{k}]")
    elif kind == "text":
        text = component.get("text")
        if not component.get("contents") and (not isinstance(text, str) or not text):
            problems.append(("May not be empty", f"{where}.text"))
    elif kind == "button":
        problems += _validate_action(component.get("action"), f"{where}.action", MAX_FLEX_ACTION_LABEL,
                                     label_required=True)
    if kind != "button" and "action" in component:
        problems += _validate_action(component["action"], f"{where}.action", MAX_FLEX_ACTION_LABEL,
                                     label_required=False)
    return problems


# --- serving ----------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    """No access log: request lines carry user ids (profile paths)."""

    def log_request(self, code="-", size="-") -> None:
        pass


@dataclass
class RunningStandin:
    """A stand-in served over HTTP in a background thread."""

    standin: StandinLine
    base_url: str
    _server: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self, timeout: float = 5.0) -> None:
        self.standin.stop()
        self._server.shutdown()
        self._thread.join(timeout)
        self._server.server_close()


def serve(standin: StandinLine, host: str = "127.0.0.1", port: int = 0) -> RunningStandin:
    """Serve ``standin`` on ``host:port`` (0 = a free port) in a daemon thread.

    ``base_url`` is what to give the SDK's ``Configuration(host=...)``.
    Call ``stop()`` when done.
    """
    server = make_server(host, port, standin.app, threaded=True, request_handler=_QuietHandler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="line-standin", daemon=True
    )
    thread.start()
    return RunningStandin(standin, f"http://{host}:{server.server_port}", server, thread)
