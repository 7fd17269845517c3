"""The web process: a Flask application factory, served by gunicorn (Procfile).

``create_app()`` loads and validates the whole dialogue (chart, hotline
directory, deployment profile, message catalogs) before it returns, so a
broken chart or a misspelt profile stops the process at start-up with a
message naming the problem, never at a user's message. Nothing is built at
import time: gunicorn calls ``bot.web:create_app()`` once per worker.

Routes today: ``GET /healthz``. The LINE webhook (``/callback``) comes with
issue 3 and will reach the loaded dialogue through :func:`dialogue_of`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask, current_app, jsonify

from dialogs.engine import Dialogue, Event, handle
from dialogs.hours import TOKYO
from dialogs.i18n import compile_catalogs

DEFAULT_PROFILE = "hyogo"
_EXTENSION = "netsoudan.dialogue"


class StartupError(RuntimeError):
    """The dialogue could not be loaded, so the web process must not start."""


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the web application around a loaded, validated dialogue.

    ``config`` overrides Flask settings and these keys, which otherwise come
    from the environment:

    ``BOT_PROFILE``
        deployment profile id (``resources/profiles/<id>.yaml``) or the path
        of a profile file; default ``hyogo``.
    ``BOT_CATALOG_CACHE``
        directory for the ``.mo`` files compiled from the ``.po`` catalogs at
        start-up; default: a folder in the system temp directory.
    """
    settings = dict(config or {})
    profile = str(settings.get("BOT_PROFILE") or os.environ.get("BOT_PROFILE") or DEFAULT_PROFILE)
    cache = settings.get("BOT_CATALOG_CACHE")

    try:
        catalogs = compile_catalogs(cache_dir=Path(cache) if cache else None)
        dialogue = Dialogue.load(profile, catalogs=catalogs)
        rehearse(dialogue)
    except Exception as exc:  # every loader error is a reason not to start
        raise StartupError(
            f"cannot start the web app: the dialogue for profile {profile!r} "
            f"(BOT_PROFILE) did not load: {exc}"
        ) from exc

    app = Flask(__name__)
    app.config.update(settings)
    app.config["BOT_PROFILE"] = dialogue.directory.profile.id
    app.extensions[_EXTENSION] = dialogue

    @app.get("/healthz")
    def healthz():
        loaded = dialogue_of()
        return jsonify(
            status="ok",
            profile=loaded.directory.profile.id,
            chart_version=loaded.chart.version,
        )

    return app


def rehearse(dialogue: Dialogue) -> None:
    """Answer a follow and a typed sentence once, in memory, before serving.

    Loading validates the data; this runs it. Anything that would only fail
    on a real message (data read on first use, a catalog entry that cannot be
    formatted, a card that cannot be rendered) stops start-up instead of the
    first child's message. The dialogue is pure: nothing is stored or sent.
    """
    now = datetime.now(TOKYO)
    session, _ = handle(dialogue, None, Event("follow"), now)
    handle(dialogue, session, Event("text", text="書き込みを消したい"), now)


def dialogue_of(app: Flask | None = None) -> Dialogue:
    """The dialogue loaded by :func:`create_app` (the current app by default)."""
    return (app or current_app).extensions[_EXTENSION]
