"""The web process: a Flask application factory, served by gunicorn (Procfile).

``create_app()`` reads the configuration (bot.config), loads and validates the
whole dialogue and connects to Redis before it returns (bot.runtime), so a
broken chart, a misspelt profile or a missing setting stops the process at
start-up with a message naming the problem, never at a user's message.
Nothing is built at import time: gunicorn calls ``bot.web:create_app()``.

Routes: ``POST /callback`` (LINE's webhook), ``GET /healthz``; in local mode
(no LINE credentials) also the chat page at ``/`` and the built-in stand-in for
the Messaging API under ``/_line``. Built from the environment (gunicorn), the
app is in local mode only with ``BOT_LOCAL_CHAT=1`` and never with
``REDIS_URL`` (bot.config); ``python -m bot serve`` hands it a runtime instead.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, jsonify
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from bot.config import STANDIN_PATH, ConfigError, load_config
from bot.line.intake import MAX_BODY_BYTES
from bot.runtime import Runtime, StartupError, build_runtime, rehearse
from dialogs.engine import Dialogue

log = logging.getLogger(__name__)

_RUNTIME = "netsoudan.runtime"
#: Settings create_app's ``config`` may give instead of the environment.
ENV_SETTINGS = (
    "LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN", "LINE_API_BASE_URL", "REDIS_URL", "PORT",
    "BOT_PROFILE", "BOT_ID_SECRET", "BOT_CATALOG_CACHE", "BOT_WORKER_THREADS",
    "BOT_CONSOLE_SECRET", "BOT_DATA_KEY", "LINE_DATA_API_BASE_URL", "BOT_IDLE_ALERT_SECONDS", "LINE_API_READ_TIMEOUT_MS",
    "BOT_LOCAL_CHAT", "REDIS_MIN_REPLICAS", "REDIS_WAIT_MS", "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER",
    "REDIS_CLUSTER_NODES",
)

try:
    from gunicorn.errors import AppImportError as _GunicornStops
except ImportError:  # the app served by something else: a plain StartupError
    _GunicornStops = Exception  # type: ignore[assignment,misc]


class SettingRefused(StartupError, _GunicornStops):
    """A setting stops the web process. Also gunicorn's AppImportError, which gunicorn
    prints as one line and then halts ("App failed to load", exit code 4): a setting
    the operator must fix is a line to read, not a traceback."""


__all__ = ["create_app", "dialogue_of", "runtime_of", "SettingRefused", "StartupError", "rehearse"]


def create_app(config: Mapping[str, Any] | None = None, *, runtime: Runtime | None = None) -> Flask:
    """Build the web application around a loaded, validated runtime.

    ``config`` overrides Flask settings and the environment variables in
    ``ENV_SETTINGS``. ``runtime``: an already built one (tests, ``serve``).
    """
    settings = dict(config or {})
    if runtime is None:
        env = {**os.environ, **{k: str(v) for k, v in settings.items() if k in ENV_SETTINGS}}
        try:
            runtime = build_runtime(load_config(env, web_process=True))
        except ConfigError as exc:
            raise SettingRefused(f"cannot start the web app: {exc}") from exc
        except StartupError as exc:
            raise StartupError(f"cannot start the web app: {exc}") from exc
        from bot.logs import configure_from_environment

        configure_from_environment(runtime.config.id_secret)  # gunicorn: the app's own lines, redacted
        for line in runtime.config.describe():
            log.warning("start-up: %s", line)
        if runtime.config.embedded_redis:
            runtime.start_workers(runtime.config.worker_threads)

    # No app-wide /static: the chat page's files are served by its blueprint, in local mode only.
    app = Flask(__name__, static_folder=None)
    app.config.update({k: v for k, v in settings.items() if k not in ENV_SETTINGS})
    app.config["BOT_PROFILE"] = runtime.dialogue.directory.profile.id
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions[_RUNTIME] = runtime

    from bot.console.auth import init_app as init_console_auth
    from bot.console.views import init_app as init_console_views

    # Counsellor console: secret key, session cookie settings, accounts, /console/login.
    init_console_auth(app, runtime)
    # Its pages (/console/, /console/h/<id>) and JSON API (/api/), after auth.
    init_console_views(app, runtime)
    from bot.console.reports import init_app as init_console_reports
    init_console_reports(app, runtime)  # the supervisors' monthly report and CSV export

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc):
        log.warning("webhook: 413, body over %d bytes", MAX_BODY_BYTES)
        return jsonify(message=f"body over {MAX_BODY_BYTES} bytes"), 413

    # LINE's webhook is an application of its own: the console's cookie session,
    # CSRF guard and security headers would run on every event for nothing (an
    # eighth of the webhook's CPU), and the webhook needs none of them.
    from bot.web.webhook import PATH, bp as webhook

    hook = Flask("bot.web.webhook", static_folder=None)
    # Not the console's settings: without its SECRET_KEY no cookie session is opened.
    hook.config.update({k: v for k, v in app.config.items() if k in ("MAX_CONTENT_LENGTH", "TESTING", "DEBUG")})
    hook.extensions[_RUNTIME] = runtime
    hook.register_blueprint(webhook)
    hook.register_error_handler(RequestEntityTooLarge, too_large)
    app.wsgi_app = _route(PATH, hook.wsgi_app, app.wsgi_app)  # type: ignore[method-assign]

    @app.get("/healthz")
    def healthz():
        loaded = dialogue_of()
        return jsonify(status="ok", profile=loaded.directory.profile.id, chart_version=loaded.chart.version)

    if runtime.standin is not None:
        from bot.web.localchat import bp as localchat

        app.register_blueprint(localchat)
        app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {STANDIN_PATH: runtime.standin.app})  # type: ignore[method-assign]
    return app


def _route(path: str, to: Any, otherwise: Any) -> Any:
    """WSGI: requests for exactly ``path`` to one app, all others to the other."""
    def dispatch(environ: dict[str, Any], start_response: Any) -> Any:
        return (to if environ.get("PATH_INFO") == path else otherwise)(environ, start_response)
    return dispatch


def runtime_of(app: Flask | None = None) -> Runtime:
    return (app or current_app).extensions[_RUNTIME]


def dialogue_of(app: Flask | None = None) -> Dialogue:
    """The dialogue loaded by :func:`create_app` (the current app by default)."""
    return runtime_of(app).dialogue
