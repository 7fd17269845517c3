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
  does: see ``richmenu``.
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

One module a job:

- ``control``: ``StandinLine``, what a test or the chat page holds: set-up,
  faults on demand, and what LINE received;
- ``app``: the HTTP face (Flask): routes, auth, faults and delays, every call
  recorded, unknown calls marked unexpected;
- ``endpoints``: reply, push, profile, content and leave;
- ``richmenu``: rich menus and the loading animation;
- ``validate``: messages checked as LINE checks them;
- ``state``: what the stand-in remembers of the channel, and its lock;
- ``faults``: failures and slow answers on demand;
- ``protocol``: what an endpoint is given and what it answers;
- ``server``: serving it over HTTP in a background thread.

It imports nothing else of the bot, so it cannot share the bot's mistakes,
and only bot.runtime (the local mode) wires it into the product: both are
import-linter contracts in pyproject.toml.
"""

from bot.line.standin.app import CUT_OFF
from bot.line.standin.control import StandinLine
from bot.line.standin.endpoints import INVALID_REPLY_TOKEN, RETRY_KEY_ACCEPTED
from bot.line.standin.richmenu import Loading, StoredMenu
from bot.line.standin.server import RunningStandin, serve
from bot.line.standin.state import REPLY_TOKEN_TTL, Call, Delivered
from bot.line.standin.validate import validate_messages

__all__ = [
    "CUT_OFF",
    "INVALID_REPLY_TOKEN",
    "REPLY_TOKEN_TTL",
    "RETRY_KEY_ACCEPTED",
    "Call",
    "Delivered",
    "Loading",
    "RunningStandin",
    "StandinLine",
    "StoredMenu",
    "serve",
    "validate_messages",
]
