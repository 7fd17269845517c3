"""``POST /callback``: LINE's webhook. Verify, de-duplicate, store, answer fast.

The view does no dialogue work: it checks the signature on the raw body and
drops events too old to be anything but a replay (bot.line.intake), appends
the events to the durable queue in one atomic step per event
(bot.pipeline.enqueue), and answers 200. If the queue cannot
be reached it answers 503, so LINE redelivers: never 200 for an event that
was not stored. Workers answer the users (python -m bot worker).
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request

from bot.line.intake import MAX_BODY_BYTES, MAX_EVENT_AGE_MS, Refused, accept
from bot.pipeline.enqueue import PipelineUnavailable, enqueue

log = logging.getLogger(__name__)

PATH = "/callback"

bp = Blueprint("webhook", __name__)


@bp.post(PATH)
def callback():
    runtime = current_app.extensions["netsoudan.runtime"]
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        return _refuse(Refused(413, f"declared body of {length} bytes is over {MAX_BODY_BYTES}"))
    try:
        body = request.get_data(cache=False)
        accepted = accept(body, request.headers.get("X-Line-Signature"), runtime.parser)
        config = runtime.config
        result = enqueue(runtime.client, runtime.keys, accepted.events, partitions=runtime.partitions,
                         replicas=config.redis_min_replicas, wait_ms=config.redis_wait_ms)
    except Refused as refused:
        return _refuse(refused)
    except PipelineUnavailable as exc:
        log.error("webhook: 503, the queue is unavailable, LINE will redeliver (%s)", type(exc.__cause__).__name__)
        return jsonify(message="temporarily unavailable"), 503
    # DEBUG, not INFO: a line per request was an eighth of the webhook's CPU and, at
    # campaign rates, millions of lines a day saying nothing went wrong.
    log.debug("webhook: %d stored, %d duplicates", result.stored, result.duplicates)
    if accepted.stale:  # a count only: the events are someone's messages
        log.warning("webhook: %d events refused, older than %.1f h: past de-duplication, a replay?",
                    accepted.stale, MAX_EVENT_AGE_MS / 3_600_000)
    # The same two bytes every time, without the JSON provider (a twentieth of the view).
    return current_app.response_class(b"{}", 200, mimetype="application/json")


def _refuse(refused: Refused):
    log.warning("webhook: %d, %s", refused.status, refused.reason)
    return jsonify(message=refused.reason), refused.status
