"""The baseline of the acknowledgement benchmark: a Flask endpoint that only says 200.

Served by the same gunicorn command and settings as ``bot.web:create_app()``, it
measures what gunicorn and Flask cost on their own, so the webhook's own work
(signature, de-duplication, durable enqueue) shows as the difference.
"""

from __future__ import annotations

from flask import Flask


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/callback")
    def callback():
        return {}, 200

    return app
