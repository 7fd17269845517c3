"""Serving a stand-in over HTTP on loopback, in a background thread, for a bot
that talks to it through the real line-bot-sdk (``Configuration(host=...)``)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

from bot.line.standin.control import StandinLine


class _QuietHandler(WSGIRequestHandler):
    """No access log: request lines carry user ids (profile paths)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
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


def serve(standin: StandinLine, host: str = "127.0.0.1", port: int = 0, *,
          poll_interval: float = 0.05) -> RunningStandin:
    """Serve ``standin`` on ``host:port`` (0 = a free port) in a daemon thread.

    ``base_url`` is what to give the SDK's ``Configuration(host=...)``.
    Call ``stop()`` when done: it waits for the server's next poll (every
    ``poll_interval`` seconds) to see the shutdown.
    """
    server = make_server(host, port, standin.app, threaded=True, request_handler=_QuietHandler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": poll_interval}, name="line-standin", daemon=True
    )
    thread.start()
    return RunningStandin(standin, f"http://{host}:{server.server_port}", server, thread)
