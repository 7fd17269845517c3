"""Sending to LINE: every answer exactly once in effect, or a clear failure.

``Sender.deliver`` sends rendered messages to one user:

- by **reply** while the event's reply token is fresh (younger than
  ``reply_margin``, 50 s, under LINE's 60 s: the margin covers clock skew and
  the time the request takes);
- otherwise by **push**, with ``X-Line-Retry-Key = uuid5(RETRY_KEY_NAMESPACE,
  f"{retry_key_seed}:{chunk index}")``. The seed comes from the event (its
  webhookEventId), so a push retried by us, or by a worker that redoes the
  event after a crash, is accepted by LINE at most once: a repeat gets 409,
  which means *already delivered*. LINE keeps retry keys for 24 hours.
- More than 5 messages: the first 5 by reply (or push), the rest by push in
  chunks of 5, in order; a chunk that fails stops the later ones.

Retries: 5xx, timeouts, connection errors and 429 (after ``Retry-After``),
with exponential backoff and jitter, at most ``max_attempts`` per chunk;
never another 4xx. Special 4xx:

- 409 on a push with our retry key: already delivered -> success;
- 400 "Invalid reply token" on a reply sent while the token was fresh: the
  token was used already (by an earlier attempt whose answer we did not get,
  or an earlier run of the same event) -> ``already_replied``, which the
  caller treats as delivered. Only if the token may have expired while the
  request was under way (the answer came after ``reply_ttl``) does it fall
  back to push.
- A reply attempt that may have been accepted (timeout, reset, 5xx) is
  retried as a reply while the token lives, so LINE itself says whether it
  was; only when the token has expired is the push a possible duplicate
  (``Delivery.possible_duplicate``): a duplicate is chosen over a loss.

Every HTTP call has a timeout; urllib3's own retries are off, so every retry
is one of ours and follows these rules. Nothing here logs message text,
user, group or room ids, or the SDK's exception text (which quotes response
bodies): logs carry outcomes, status codes, counts and a hash of the seed.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import random
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Callable, Sequence

import urllib3
from linebot.v3.messaging import (
    ApiClient,
    Configuration,
    Message,
    MessagingApi,
    MessagingApiBlob,
    ReplyMessageRequest,
    TextMessage,
)
from linebot.v3.messaging.exceptions import ApiException

log = logging.getLogger(__name__)

LINE_API_BASE_URL = "https://api.line.me"
#: LINE serves message content (images a user sent) from another host.
LINE_DATA_API_BASE_URL = "https://api-data.line.me"
#: An image kept as evidence is at most this big (LINE's own images are far smaller).
MAX_CONTENT_BYTES = 10 * 1024 * 1024
#: Fixed for ever: changing it changes every retry key, so a push retried
#: across a deploy would be delivered twice.
RETRY_KEY_NAMESPACE = uuid.UUID("6d3cd96e-131c-4b7a-aacd-e5a14ac54520")
MAX_MESSAGES_PER_CALL = 5
REPLY_TOKEN_TTL = 60.0
#: Seconds to wait for a connection to LINE (the read timeout is the Sender's ``timeout[1]``).
CONNECT_TIMEOUT = 3.05

# Chunk outcomes
SENT = "sent"
ALREADY_SENT = "already_sent"  # 409: this retry key was accepted before
ALREADY_REPLIED = "already_replied"  # the fresh reply token was used already
FAILED = "failed"  # transient failures until attempts ran out: retry later
REJECTED = "rejected"  # a 4xx: retrying the same request cannot help
DELIVERED_OUTCOMES = frozenset({SENT, ALREADY_SENT, ALREADY_REPLIED})


# The Messaging API calls the worker makes for every answer.
REPLY_PATH = "/v2/bot/message/reply"
PUSH_PATH = "/v2/bot/message/push"
PROFILE_PATH = "/v2/bot/profile/{userId}"


def retry_key(seed: str, chunk: int) -> str:
    """The X-Line-Retry-Key of chunk ``chunk`` of the answer to ``seed``."""
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, f"{seed}:{chunk}"))


def _ref(seed: str) -> str:
    """A short, non-reversible reference to correlate log lines of one event."""
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()[:12]


class LineApiError(Exception):
    """A call other than delivery failed (profile). ``retryable``: try later."""

    def __init__(self, what: str, status: int | None, attempts: int, retryable: bool) -> None:
        super().__init__(f"{what} failed: status={status} attempts={attempts}")
        self.status = status
        self.attempts = attempts
        self.retryable = retryable


@dataclass(frozen=True)
class Attempt:
    """One HTTP request: its answer's status, or why there was none."""

    method: str  # "reply" | "push" | "profile" | "leave"
    status: int | None  # None: no answer (timeout, connection error)
    error: str | None = None  # "timeout" | "connection" | None
    waited: float = 0.0  # seconds slept after it, before the next attempt


@dataclass(frozen=True)
class ChunkResult:
    index: int
    method: str  # how the chunk finally went: "reply" | "push"
    outcome: str  # SENT | ALREADY_SENT | ALREADY_REPLIED | FAILED | REJECTED
    attempts: tuple[Attempt, ...]  # reply attempts before a fallback included
    retry_key: str | None = None
    possible_duplicate: bool = False

    @property
    def delivered(self) -> bool:
        return self.outcome in DELIVERED_OUTCOMES


@dataclass(frozen=True)
class Delivery:
    """What ``deliver`` did.

    ``outcome``: ``delivered``; ``already_replied`` (the reply token had been
    used: an earlier attempt delivered it; treat as delivered); ``failed``
    (transient: run the event again later, the retry keys make it safe);
    ``rejected`` (LINE refused the request: do not retry).
    ``delivered_chunks``: chunks 0..n-1 are delivered; pass it as
    ``start_chunk`` when delivering the same answer again.
    """

    outcome: str
    method: str  # "reply" | "push" | "reply+push" | "none"
    attempts: int
    status: int | None  # the last HTTP status received
    chunks: tuple[ChunkResult, ...]
    delivered_chunks: int
    total_chunks: int
    possible_duplicate: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome in ("delivered", ALREADY_REPLIED)

    @property
    def delivered(self) -> bool:
        """Delivered, or known to have been delivered before (same as ``ok``)."""
        return self.ok

    @property
    def retryable(self) -> bool:
        return self.outcome == FAILED

    def describe(self) -> str:
        """One log-safe line: no text, no ids."""
        statuses = ",".join(
            str(a.status if a.status is not None else a.error) for c in self.chunks for a in c.attempts
        )
        return (
            f"{self.outcome} by {self.method}: chunks {self.delivered_chunks}/{self.total_chunks}, "
            f"{self.attempts} attempt(s) [{statuses}]"
            + (", possible duplicate" if self.possible_duplicate else "")
        )


@dataclass(frozen=True)
class CallResult:
    ok: bool
    status: int | None
    attempts: int


@dataclass(frozen=True)
class _Answer:
    """The result of one HTTP attempt, classified."""

    status: int | None
    value: object = None
    error: str | None = None  # "timeout" | "connection"
    maybe_accepted: bool = False  # the request may have reached LINE and been processed
    message: str | None = None  # LINE's error message (kept in memory, never logged)
    headers: object = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def transient(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500


class Sender:
    """Sends to the LINE Messaging API at ``api_base_url`` (LINE's, or a stand-in).

    Thread-safe: one Sender can serve all worker threads.
    """

    def __init__(
        self,
        api_base_url: str = LINE_API_BASE_URL,
        access_token: str = "",
        *,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, 10.0),
        max_attempts: int = 4,
        backoff: tuple[float, float] = (0.5, 8.0),
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        reply_margin: float = 50.0,
        reply_ttl: float = REPLY_TOKEN_TTL,
        max_retry_after: float = 60.0,
        rng: random.Random | None = None,
        data_base_url: str | None = None,
    ) -> None:
        if not access_token:
            raise ValueError("a LINE channel access token is required")
        if (
            not isinstance(timeout, tuple)
            or len(timeout) != 2
            or not all(isinstance(t, (int, float)) and t > 0 for t in timeout)
        ):
            raise ValueError(f"timeout must be (connect, read) seconds, both > 0; got {timeout!r}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 < reply_margin <= reply_ttl:
            raise ValueError("reply_margin must be > 0 and at most reply_ttl")
        self._timeout = (float(timeout[0]), float(timeout[1]))
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._clock = clock
        self._sleep = sleep
        self._margin = reply_margin
        self._ttl = reply_ttl
        self._max_retry_after = max_retry_after
        self._rng = rng or random.Random()

        config = Configuration(host=api_base_url.rstrip("/"), access_token=access_token)
        # urllib3 would otherwise retry on its own (3 times by default, unseen by
        # these rules): every retry must be ours.
        config.retries = False
        self._client = ApiClient(config)
        self._api = MessagingApi(self._client)
        if data_base_url is None:
            # A stand-in or emulator serves both hosts' paths at one base URL.
            default = api_base_url.rstrip("/") == LINE_API_BASE_URL
            data_base_url = LINE_DATA_API_BASE_URL if default else api_base_url
        data_config = Configuration(host=data_base_url.rstrip("/"), access_token=access_token)
        data_config.retries = False
        self._data_client = ApiClient(data_config)
        self._blob = MessagingApiBlob(self._data_client)
        # The SDK logs response bodies at DEBUG (a profile carries the user id
        # and display name): keep them out of the logs whatever the root level.
        sdk_log = logging.getLogger("linebot.v3.messaging.rest")
        if sdk_log.level == logging.NOTSET or sdk_log.level < logging.INFO:
            sdk_log.setLevel(logging.INFO)

    def close(self) -> None:
        self._client.close()
        self._data_client.close()

    def __enter__(self) -> "Sender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- delivering -------------------------------------------------------------

    def deliver(
        self,
        user_id: str,
        messages: Sequence,
        *,
        reply_token: str | None = None,
        token_issued_at: float | None = None,
        retry_key_seed: str,
        start_chunk: int = 0,
    ) -> Delivery:
        """Send ``messages`` to ``user_id`` (a user; or a group or room).

        ``messages``: line-bot-sdk v3 ``Message`` objects or their JSON dicts
        (``Message.to_dict()``, as kept in an outbox).
        ``token_issued_at``: when the event carrying ``reply_token`` happened,
        in seconds on ``clock`` (the webhook event's ``timestamp`` / 1000):
        its age decides reply or push. Without it (LINE always sends a
        timestamp) the reply is tried, and a refused token falls back to a
        push that may duplicate.
        ``retry_key_seed``: stable for this answer (e.g. the webhookEventId).
        ``start_chunk``: skip chunks already delivered by an earlier call.
        Never raises for what LINE answers; see ``Delivery``.
        """
        if not messages:
            raise ValueError("nothing to deliver")
        if not retry_key_seed:
            raise ValueError("retry_key_seed is required: it makes a retried push idempotent")
        messages = [_as_json(m) for m in messages]
        chunks = [
            messages[i : i + MAX_MESSAGES_PER_CALL] for i in range(0, len(messages), MAX_MESSAGES_PER_CALL)
        ]
        results: list[ChunkResult] = []
        for index, chunk in enumerate(chunks):
            if index < start_chunk:
                continue
            if index == 0 and reply_token:
                result = self._reply_chunk(user_id, chunk, reply_token, token_issued_at, retry_key_seed)
            else:
                result = self._push_chunk(user_id, chunk, index, retry_key_seed)
            results.append(result)
            if not result.delivered:
                break  # later chunks would arrive before this one
        delivery = _summarise(results, start_chunk, len(chunks))
        self._log(delivery, len(messages), retry_key_seed)
        return delivery

    def _reply_chunk(self, user_id, chunk, token, issued_at, seed) -> ChunkResult:
        attempts: list[Attempt] = []
        maybe_accepted = False
        unknown_age = issued_at is None
        if unknown_age:
            log.warning("line delivery ref=%s: reply token without event time; trying it anyway", _ref(seed))
            issued_at = self._clock()
        request = {"replyToken": token, "messages": chunk}
        while True:
            age = self._clock() - issued_at
            if age >= self._margin and not (maybe_accepted and age < self._ttl):
                # Too old to start a reply (or, after an attempt that may have
                # landed, too old to ask LINE): push. A duplicate only if an
                # earlier reply attempt may have been accepted.
                return self._push_chunk(user_id, chunk, 0, seed, attempts, possible_duplicate=maybe_accepted)
            answer = self._once(lambda: self._post(REPLY_PATH, request))
            if answer.ok:
                return ChunkResult(0, "reply", SENT, tuple(attempts + [_attempt("reply", answer)]))
            if answer.status == 400 and _is_invalid_reply_token(answer.message):
                attempts.append(_attempt("reply", answer))
                if not unknown_age and self._clock() - issued_at < self._ttl:
                    # Sent and answered while the token lived: it was used.
                    return ChunkResult(0, "reply", ALREADY_REPLIED, tuple(attempts))
                # Expired on the way (or of unknown age): push, a duplicate
                # only if it may have been used by one of our attempts.
                return self._push_chunk(
                    user_id, chunk, 0, seed, attempts, possible_duplicate=maybe_accepted or unknown_age
                )
            if not answer.transient:
                return ChunkResult(0, "reply", REJECTED, tuple(attempts + [_attempt("reply", answer)]))
            maybe_accepted = maybe_accepted or answer.maybe_accepted
            wait = self._wait(answer, len(attempts) + 1)
            attempts.append(_attempt("reply", answer, wait or 0.0))
            if wait is None or len(attempts) >= self._max_attempts:
                # A later run of the event replies again while the token is
                # fresh (LINE then says whether this one landed), else pushes.
                return ChunkResult(0, "reply", FAILED, tuple(attempts))
            self._sleep(wait)

    def _push_chunk(
        self, user_id, chunk, index, seed, prior: Sequence[Attempt] = (), possible_duplicate: bool = False
    ) -> ChunkResult:
        key = retry_key(seed, index)
        request = {"to": user_id, "messages": chunk}
        attempts: list[Attempt] = []
        while True:
            answer = self._once(lambda: self._post(PUSH_PATH, request, retry_key=key))
            if answer.ok:
                outcome = SENT
            elif answer.status == 409:
                outcome = ALREADY_SENT  # our key was accepted before: delivered once, not twice
            elif not answer.transient:
                outcome = REJECTED
            else:
                outcome = None
            if outcome is not None:
                attempts.append(_attempt("push", answer))
                return ChunkResult(index, "push", outcome, tuple(prior) + tuple(attempts), key, possible_duplicate)
            wait = self._wait(answer, len(attempts) + 1)
            attempts.append(_attempt("push", answer, wait or 0.0))
            if wait is None or len(attempts) >= self._max_attempts:
                return ChunkResult(index, "push", FAILED, tuple(prior) + tuple(attempts), key, possible_duplicate)
            self._sleep(wait)

    def _post(self, path: str, body: dict, *, retry_key: str | None = None):
        """POST rendered messages through the SDK's API client, as JSON.

        The generated ``reply_message`` / ``push_message`` parse the messages into
        the SDK's models again, validate them twice and serialise them back: under
        load that was a third of a worker's CPU (py-spy, benchmarks/history.md).
        The messages were built through those very models when the answer was
        rendered (bot.line.render), so they go as they are; the SDK's client still
        makes the call (host, token, timeouts, ``ApiException`` on an error status).
        """
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if retry_key is not None:
            headers["X-Line-Retry-Key"] = retry_key
        return self._client.call_api(
            path, "POST", {}, [], headers, body=body, post_params=[], files={},
            # What LINE answers (the ids of the sent messages) is never read, so it is not
            # parsed into the SDK's models: an error status raises ApiException before
            # any parsing, as in the generated MessagingApi.
            response_types_map={}, auth_settings=["Bearer"], _return_http_data_only=True,
            _preload_content=True, _request_timeout=self._timeout, collection_formats={},
        )

    # --- other calls --------------------------------------------------------------

    def deliver_to_group(self, reply_token: str, messages) -> CallResult:
        """Answer a group or room event by reply only (a short notice before
        leaving): retried like any reply, never pushed. ``messages``: a text,
        or Message objects / dicts."""
        if isinstance(messages, str):
            messages = [TextMessage(text=messages)]
        request = ReplyMessageRequest(
            reply_token=reply_token, messages=[_as_message(m) for m in messages][:MAX_MESSAGES_PER_CALL]
        )
        answer, attempts = self._with_retries(
            lambda: self._api.reply_message(request, _request_timeout=self._timeout)
        )
        ok = answer.ok
        log.info("line group notice ok=%s status=%s attempts=%d", ok, answer.status, attempts)
        return CallResult(ok, answer.status, attempts)

    def profile_language(self, user_id: str) -> str | None:
        """The user's LINE language (BCP 47, e.g. ``ja``, ``en-US``), or None
        when the profile has none or the user is unknown / has blocked the
        bot (404). Raises ``LineApiError`` for anything else, so that a
        failure is not cached as "no language"."""
        # Through the SDK's client, as the generated get_profile does, but without
        # its argument validation and model parsing: a fifth of a new user's first
        # event in the worker's profile (benchmarks/history.md). One field is read.
        answer, attempts = self._with_retries(lambda: self._client.call_api(
            PROFILE_PATH.replace("{userId}", urllib.parse.quote(user_id, safe="")), "GET", {}, [],
            {"Accept": "application/json"}, post_params=[], files={},
            response_types_map={"200": "bytearray"}, auth_settings=["Bearer"], _return_http_data_only=True,
            _preload_content=True, _request_timeout=self._timeout, collection_formats={},
        ))
        if answer.ok:
            try:
                language = json.loads(answer.value or b"{}").get("language")
            except (ValueError, AttributeError):
                language = None
            return language if isinstance(language, str) and language else None
        if answer.status == 404:
            return None
        raise LineApiError("profile", answer.status, attempts, retryable=answer.transient)

    def fetch_content(self, message_id: str) -> tuple[bytes, str] | None:
        """The content of a message the user sent (an image kept as evidence
        with a handoff): (data, content type), or None when LINE no longer has
        it (404/410) or it is over MAX_CONTENT_BYTES. Raises ``LineApiError``
        for anything else, retryable when LINE was unavailable."""
        answer, attempts = self._with_retries(
            lambda: self._blob.get_message_content_with_http_info(message_id, _request_timeout=self._timeout)
        )
        if answer.ok:
            data = bytes(answer.value.data or b"")
            headers = answer.value.headers or {}
            content_type = (headers.get("Content-Type") or headers.get("content-type") or "").split(";")[0]
            if len(data) > MAX_CONTENT_BYTES:
                log.warning("line content over %d bytes: not kept", MAX_CONTENT_BYTES)
                return None
            return data, content_type or "application/octet-stream"
        if answer.status in (404, 410):
            return None
        raise LineApiError("content", answer.status, attempts, retryable=answer.transient)

    def leave(self, source_type: str, source_id: str) -> CallResult:
        """Leave a group or room. A 404 (already gone) counts as done."""
        if source_type == "group":
            call = lambda: self._api.leave_group(source_id, _request_timeout=self._timeout)  # noqa: E731
        elif source_type == "room":
            call = lambda: self._api.leave_room(source_id, _request_timeout=self._timeout)  # noqa: E731
        else:
            raise ValueError(f"can only leave a group or a room, not {source_type!r}")
        answer, attempts = self._with_retries(call)
        ok = answer.ok or answer.status == 404
        log.info("line leave %s ok=%s status=%s attempts=%d", source_type, ok, answer.status, attempts)
        return CallResult(ok, answer.status, attempts)

    def _with_retries(self, call) -> tuple[_Answer, int]:
        attempts = 0
        while True:
            answer = self._once(call)
            attempts += 1
            if not answer.transient or attempts >= self._max_attempts:
                return answer, attempts
            wait = self._wait(answer, attempts)
            if wait is None:
                return answer, attempts
            self._sleep(wait)

    # --- one attempt --------------------------------------------------------------

    def _once(self, call) -> _Answer:
        try:
            return _Answer(200, value=call())
        except ApiException as exc:
            if not exc.status:  # the SDK's wrapper of a TLS failure: no answer
                return _Answer(None, error="connection", maybe_accepted=False)
            return _Answer(
                exc.status,
                message=_error_message(exc.body),
                headers=exc.headers,
                maybe_accepted=exc.status >= 500,
            )
        except urllib3.exceptions.MaxRetryError as exc:  # only if retries get re-enabled
            return _classify_transport(exc.reason)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return _classify_transport(exc)

    def _wait(self, answer: _Answer, attempt: int) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``; None: give up now."""
        base, cap = self._backoff
        delay = min(cap, base * 2 ** (attempt - 1))
        delay = delay / 2 + self._rng.random() * delay / 2  # "equal jitter"
        if answer.status == 429:
            after = _retry_after(answer.headers, self._clock)
            if after is not None:
                if after > self._max_retry_after:
                    return None  # LINE asks for longer than we may hold the event: retry later
                return after + self._rng.random() * base / 2
        return delay

    def _log(self, delivery: Delivery, count: int, seed: str) -> None:
        level = logging.INFO if delivery.ok else logging.WARNING
        log.log(
            level,
            "line delivery %s method=%s messages=%d chunks=%d/%d attempts=%d status=%s ref=%s",
            delivery.outcome,
            delivery.method,
            count,
            delivery.delivered_chunks,
            delivery.total_chunks,
            delivery.attempts,
            delivery.status,
            _ref(seed),
        )
        if delivery.possible_duplicate:
            log.warning(
                "line delivery ref=%s: a reply attempt may have landed before the token expired; "
                "pushed anyway (a duplicate rather than a loss)",
                _ref(seed),
            )


# --- helpers ----------------------------------------------------------------------------


def _as_message(message) -> Message:
    if isinstance(message, Message):
        return message
    if isinstance(message, dict):
        return Message.from_dict(message)
    raise TypeError(f"not a LINE message: {type(message).__name__}")


def _as_json(message) -> dict:
    """A message as the JSON object LINE takes (an SDK model, or its ``to_dict()``)."""
    if isinstance(message, Message):
        return message.to_dict()
    if isinstance(message, dict) and isinstance(message.get("type"), str):
        return message
    raise TypeError(f"not a LINE message: {type(message).__name__}")


def _attempt(method: str, answer: _Answer, waited: float = 0.0) -> Attempt:
    return Attempt(method, answer.status, answer.error, waited)


def _classify_transport(exc: BaseException | None) -> _Answer:
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):  # NewConnectionError too
        return _Answer(None, error="connection", maybe_accepted=False)
    if isinstance(exc, (urllib3.exceptions.TimeoutError, TimeoutError)):
        return _Answer(None, error="timeout", maybe_accepted=True)
    if isinstance(exc, ConnectionRefusedError):
        return _Answer(None, error="connection", maybe_accepted=False)
    return _Answer(None, error="connection", maybe_accepted=True)  # reset mid-request: it may have landed


def _error_message(body) -> str | None:
    if not body:
        return None
    try:
        data = json.loads(body)
    except (ValueError, TypeError):
        return None
    message = data.get("message") if isinstance(data, dict) else None
    return message if isinstance(message, str) else None


def _is_invalid_reply_token(message: str | None) -> bool:
    return bool(message) and "reply token" in message.lower()


def _retry_after(headers, clock: Callable[[], float]) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - clock())


def _summarise(results: list[ChunkResult], start: int, total: int) -> Delivery:
    attempts = sum(len(r.attempts) for r in results)
    statuses = [a.status for r in results for a in r.attempts if a.status is not None]
    methods = sorted({r.method for r in results}, key=("reply", "push").index)
    method = "+".join(methods) if methods else "none"
    if results and results[0].attempts and results[0].attempts[0].method == "reply" and results[0].method == "push":
        method = "reply+push"  # tried the reply, fell back to push
    delivered = start
    for r in results:
        if not r.delivered:
            break
        delivered += 1
    failed = next((r for r in results if not r.delivered), None)
    if failed is not None:
        outcome = failed.outcome
    elif any(r.outcome == ALREADY_REPLIED for r in results):
        outcome = ALREADY_REPLIED
    else:
        outcome = "delivered"
    return Delivery(
        outcome=outcome,
        method=method,
        attempts=attempts,
        status=statuses[-1] if statuses else None,
        chunks=tuple(results),
        delivered_chunks=delivered,
        total_chunks=total,
        possible_duplicate=any(r.possible_duplicate for r in results),
    )
