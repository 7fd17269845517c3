"""Tests of the web process's newcomer mode (the local chat page).

``serve_local_bot`` runs the real app the way ``python -m bot serve`` does in
local mode: no LINE credentials, no REDIS_URL, worker threads in the process,
and the built-in LINE stand-in reached over HTTP at
``http://127.0.0.1:<PORT>/_line``. The server is bound first, on a free port,
and the app is built with that PORT, so the sender's base URL is the address
the app is really served on (no race for the port).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from bot.runtime import Runtime
from bot.web import create_app, runtime_of

#: Settings that would leave local mode; empty means "not set" to the config.
UNSET_FOR_LOCAL_MODE = {
    "LINE_CHANNEL_SECRET": "",
    "LINE_CHANNEL_ACCESS_TOKEN": "",
    "LINE_API_BASE_URL": "",
    "REDIS_URL": "",
    "BOT_ID_SECRET": "",
    "BOT_PROFILE": "hyogo",
    # Built from settings (as gunicorn does), the app serves the chat page only when asked.
    "BOT_LOCAL_CHAT": "1",
}


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass


class _Later:
    """A WSGI app filled in once the app exists (the server must bind first)."""

    app: Any = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@dataclass
class LocalBot:
    app: Flask
    url: str  # http://127.0.0.1:<port>
    _server: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def runtime(self) -> Runtime:
        return runtime_of(self.app)

    def stop(self) -> None:
        runtime = self.runtime
        if runtime.standin is not None:
            runtime.standin.stop()
        runtime.stop()  # the embedded worker threads
        self._server.shutdown()
        self._thread.join(5)
        self._server.server_close()


def serve_local_bot(catalog_cache: Path, **config: Any) -> LocalBot:
    """The app in local mode, served on a free loopback port in a thread."""
    later = _Later()
    server = make_server("127.0.0.1", 0, later, threaded=True, request_handler=_Quiet)
    server.daemon_threads = True
    port = server.server_port
    try:
        app = create_app({
            "TESTING": True,
            "BOT_CATALOG_CACHE": str(catalog_cache),
            **UNSET_FOR_LOCAL_MODE,
            "PORT": str(port),
            **config,
        })
    except BaseException:
        server.server_close()
        raise
    later.app = app
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="local-bot", daemon=True)
    thread.start()
    return LocalBot(app, f"http://127.0.0.1:{port}", server, thread)
