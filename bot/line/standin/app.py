"""The stand-in's HTTP face, a Flask app: the routes it serves, and what every
request goes through on the way to its endpoint.

Every request is parsed once, takes its injected delay and fault (if any),
needs ``Authorization: Bearer <token>`` (any non-empty token, or exactly the
channel's when one is configured, else 401), and is recorded as a ``Call``,
refused or not. A path or method the stand-in does not serve is answered 404
and recorded as *unexpected*, as is an error inside the stand-in itself: a
test fixture fails the test on either, where a 500 taken for LINE's would
hide the bug. Message contents are recorded but never logged.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Callable

from flask import Flask, Response, request
from werkzeug.exceptions import ClientDisconnected, HTTPException

from bot.line.standin import endpoints, faults
from bot.line.standin.protocol import Answer, Ctx, Raw
from bot.line.standin.richmenu import RichMenus
from bot.line.standin.state import Call, Channel

#: A request whose sender went away before its body was complete.
CUT_OFF = "client disconnected before the request was complete"

#: Adds a route: (rule, method, endpoint name, the call answering it, given the Ctx and the rule's values).
Route = Callable[[str, str, str, Callable[..., Answer]], None]


def make_app(channel: Channel) -> Flask:
    """The WSGI app serving ``channel``."""
    app = Flask("line-standin")

    def route(rule: str, method: str, name: str, call: Callable[..., Answer]) -> None:
        app.add_url_rule(rule, name, lambda **kw: _handle(channel, lambda ctx: call(ctx, **kw)), methods=[method])

    route("/v2/bot/message/reply", "POST", "reply", lambda ctx: endpoints.reply(channel, ctx))
    route("/v2/bot/message/push", "POST", "push", lambda ctx: endpoints.push(channel, ctx))
    route("/v2/bot/profile/<user_id>", "GET", "profile", lambda ctx, user_id: endpoints.profile(channel, user_id))
    # LINE serves this on api-data.line.me; the stand-in serves both hosts' paths.
    route("/v2/bot/message/<message_id>/content", "GET", "content",
          lambda ctx, message_id: endpoints.content(channel, message_id))
    route("/v2/bot/group/<chat_id>/leave", "POST", "leave_group",
          lambda ctx, chat_id: endpoints.leave(channel, "group", chat_id))
    route("/v2/bot/room/<chat_id>/leave", "POST", "leave_room",
          lambda ctx, chat_id: endpoints.leave(channel, "room", chat_id))
    _richmenu_routes(route, channel)

    @app.errorhandler(ClientDisconnected)
    def cut_off(exc: ClientDisconnected) -> Response:
        # The sender died mid-request (a worker killed by a test): nothing
        # reached LINE, so nothing was delivered, and nothing was misused.
        with channel.lock:
            channel.calls.append(Call(request.method, request.path, 400, None, None, _request_id(),
                                      time.time(), error=CUT_OFF))
        return _response(400, {"message": "client disconnected"}, _request_id())

    @app.errorhandler(HTTPException)
    def unknown(exc: HTTPException) -> Response:  # 404 and 405: a call LINE would not understand
        _record_unexpected(channel, 404, f"{exc.code} {exc.name}")
        return _response(404, {"message": "Not found"}, _request_id())

    @app.errorhandler(Exception)
    def broken(exc: Exception) -> Response:  # a bug in the stand-in must fail the test, not pass as LINE's 500
        _record_unexpected(channel, 500, f"stand-in error: {type(exc).__name__}: {exc}")
        return _response(500, {"message": "stand-in error"}, _request_id())

    return app


def _richmenu_routes(route: Route, channel: Channel) -> None:
    """Rich menus and the loading animation (bot.line.standin.richmenu): each
    answered under the lock, with auth, faults and recording, like the rest."""

    def menus() -> RichMenus:
        return channel.richmenus  # looked up on every call: reset() puts a new one in place

    route("/v2/bot/richmenu", "POST", "richmenu_create", lambda ctx: menus().create(ctx.body))
    route("/v2/bot/richmenu/list", "GET", "richmenu_list", lambda ctx: menus().list())
    route("/v2/bot/richmenu/<menu_id>", "GET", "richmenu_get", lambda ctx, menu_id: menus().get(menu_id))
    route("/v2/bot/richmenu/<menu_id>", "DELETE", "richmenu_delete",
          lambda ctx, menu_id: menus().delete(menu_id))
    # LINE serves the image on api-data.line.me; the stand-in serves both hosts' paths.
    route("/v2/bot/richmenu/<menu_id>/content", "POST", "richmenu_upload",
          lambda ctx, menu_id: menus().upload(menu_id, ctx.raw, ctx.content_type))
    route("/v2/bot/richmenu/<menu_id>/content", "GET", "richmenu_image",
          lambda ctx, menu_id: endpoints.rich_menu_image(channel, menu_id))
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
          lambda ctx: menus().start_loading(ctx.body, channel.clock(), ctx.request_id))


def _handle(channel: Channel, handler: Callable[[Ctx], Answer]) -> Response:
    request_id = _request_id()
    retry_key = request.headers.get("X-Line-Retry-Key")
    raw = request.get_data(cache=True)
    body = None
    if raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
    with channel.lock:
        delay = faults.take(channel.delays, request.path)
        fault = faults.take(channel.faults, request.path)
    if delay and not delay.after_processing:
        channel.stopping.wait(delay.seconds)

    ctx = Ctx(request_id, retry_key, body, raw, request.headers.get("Content-Type", ""))
    with channel.changed:
        now = channel.clock()
        if fault and not fault.accept_first:
            status, payload, headers, error = faults.answer(fault)
        else:
            refused = _refused_auth(channel)
            status, payload, headers, error = refused if refused is not None else handler(ctx)
            if fault:  # accepted, and then the answer is a fault
                status, payload, headers, error = faults.answer(fault)
        channel.calls.append(
            Call(request.method, request.path, status, retry_key, body, request_id, now, error=error)
        )
        channel.changed.notify_all()

    if delay and delay.after_processing:
        channel.stopping.wait(delay.seconds)
    return _response(status, payload, request_id, headers)


def _refused_auth(channel: Channel) -> Answer | None:
    """LINE's 401 for a request without the channel's bearer token, else None."""
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or not auth[7:].strip():
        msg = "Authorization header required. Must follow the scheme, 'Authorization: Bearer <ACCESS TOKEN>'"
        return 401, {"message": msg}, {}, msg
    if channel.access_token is not None and auth[7:] != channel.access_token:
        return 401, {"message": "Invalid access token"}, {}, "Invalid access token"
    return None


def _record_unexpected(channel: Channel, status: int, error: str) -> None:
    with channel.lock:
        channel.calls.append(
            Call(request.method, request.path, status, None, None, _request_id(), time.time(),
                 unexpected=True, error=error)
        )


def _request_id() -> str:
    return str(uuid.uuid4())


def _response(status: int, payload: Any, request_id: str, headers: dict | None = None) -> Response:
    if isinstance(payload, Raw):
        response = Response(payload.data, status=status, content_type=payload.content_type)
    else:
        response = Response(json.dumps(payload, ensure_ascii=False), status=status, mimetype="application/json")
    response.headers["X-Line-Request-Id"] = request_id
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
