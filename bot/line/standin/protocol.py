"""What an endpoint of the stand-in is given and what it answers.

An endpoint gets the request parsed once (``Ctx``) and answers
``(status, payload, headers, error)``: ``error`` is LINE's message when the
request is refused, kept with the recorded call so a test can say why. Only
the HTTP layer (``bot.line.standin.app``) turns an answer into a response, so
the endpoints stay plain functions of the channel's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: (status, a JSON payload or Raw, extra headers, LINE's error message or None)
Answer = tuple[int, Any, dict, "str | None"]


@dataclass(frozen=True)
class Ctx:
    """The request as an endpoint sees it."""

    request_id: str
    retry_key: str | None
    body: Any  # the parsed JSON body, or None
    raw: bytes
    content_type: str = ""


@dataclass(frozen=True)
class Raw:
    """A binary answer (the content API) instead of JSON."""

    data: bytes
    content_type: str


def bad(message: str, details: list[tuple[str, str]] | None = None) -> Answer:
    """LINE's 400: its message, and (message, property) pairs as ``details``."""
    payload: dict[str, Any] = {"message": message}
    if details:
        payload["details"] = [{"message": m, "property": p} for m, p in details]
    return 400, payload, {}, message


def not_found() -> Answer:
    return 404, {"message": "Not found"}, {}, "Not found"
