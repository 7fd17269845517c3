"""Durable event pipeline: webhook events -> partitioned Redis Streams -> leased workers.

The webhook calls :func:`enqueue` (answer 503 on :class:`PipelineUnavailable`);
``python -m bot worker`` runs a :class:`Worker` with the business handler. See
``bot/pipeline/enqueue.py`` and ``bot/pipeline/worker.py`` for the guarantees and
``bot/storage/keys.py`` for the key layout.
"""

from bot.pipeline.enqueue import (
    DEDUPE_TTL_SECONDS,
    DEFAULT_PARTITIONS,
    EnqueueResult,
    PipelineConfigError,
    PipelineError,
    PipelineUnavailable,
    enqueue,
    ensure_partition_count,
    event_id,
    partition_for,
    source_id,
)
from bot.pipeline.worker import Entry, Handler, RetryLater, Worker

__all__ = [
    "DEDUPE_TTL_SECONDS",
    "DEFAULT_PARTITIONS",
    "EnqueueResult",
    "Entry",
    "Handler",
    "PipelineConfigError",
    "PipelineError",
    "PipelineUnavailable",
    "RetryLater",
    "Worker",
    "enqueue",
    "ensure_partition_count",
    "event_id",
    "partition_for",
    "source_id",
]
