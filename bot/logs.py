"""Logging for every process: one format, INFO by default, and a last line of defence.

The code itself logs outcomes, counts, statuses and opaque event ids, never
message text or LINE ids (the tests check it). What is configured here
catches what might still slip through, in a library's message or an
exception's text, before a line is written:

- LINE user, group and room ids become a keyed hash (the same HMAC as the
  Redis keys, so an operator can still follow one user through the logs
  without learning who it is);
- phone numbers, e-mail addresses and street addresses are masked
  (bot.privacy).

``BOT_LOG_LEVEL`` sets the level (default INFO). urllib3 is held at WARNING
whatever the level: at DEBUG it writes request lines whose paths carry LINE
user ids (``/v2/bot/profile/U...``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import sys
from typing import TextIO

from bot.privacy import mask_pii

#: LINE ids: "U" (user), "C" (group), "R" (room) and 32 hex digits.
LINE_ID_RE = re.compile(r"(?<![0-9A-Za-z])[UCR][0-9a-f]{32}(?![0-9A-Za-z])")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Loggers that must never go below WARNING (they quote URLs or bodies).
QUIET = ("urllib3", "linebot.v3.messaging.rest")


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and exception text) before any handler writes it."""

    def __init__(self, secret: bytes) -> None:
        super().__init__()
        self._secret = secret

    def redact(self, text: str) -> str:
        text = LINE_ID_RE.sub(self._pseudonym, text)
        return mask_pii(text)

    def _pseudonym(self, match: re.Match) -> str:
        digest = hmac.new(self._secret, match.group(0).encode(), hashlib.sha256).hexdigest()
        return f"{match.group(0)[0]}#{digest[:12]}"

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


_installed: logging.Handler | None = None


def configure_logging(secret: bytes, level: str | None = None, stream: TextIO | None = None) -> logging.Handler:
    """Install the one root handler (replacing one installed before) and return it."""
    global _installed
    root = logging.getLogger()
    if _installed is not None:
        root.removeHandler(_installed)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactingFilter(secret))
    root.addHandler(handler)
    name = (level or "INFO").upper()
    resolved = logging.getLevelName(name)
    if not isinstance(resolved, int):
        raise ValueError(f"BOT_LOG_LEVEL={level!r} is not a logging level (DEBUG, INFO, WARNING, ERROR)")
    root.setLevel(resolved)
    for quiet in QUIET:
        logging.getLogger(quiet).setLevel(max(logging.WARNING, resolved))
    _installed = handler
    return handler


def configure_from_environment(secret: bytes) -> logging.Handler:
    """The processes' logging: ``BOT_LOG_LEVEL`` (default INFO), to stderr."""
    import os

    return configure_logging(secret, os.environ.get("BOT_LOG_LEVEL") or None)
