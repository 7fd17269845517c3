"""Producer side of the event pipeline: de-duplicate and append webhook events, durably.

The webhook calls :func:`enqueue` with the events of one verified body and answers
LINE 200 only if it returns. Each event goes to the stream of its partition
(``crc32(source id) % partitions``), so one user's (or one group's) events share a
stream, and the worker that holds that partition's lease handles them one at a time,
in stream order.

Per event, one Lua script runs atomically on the partition's slot:

1. if the event's ``seen`` key exists, it was stored before (LINE redelivered it,
   or the webhook's previous try stored it before failing): nothing is written;
2. XADD the entry (raw event JSON, event id, received-at ms) to the partition stream;
3. SET the ``seen`` key with a 48 h TTL.

XADD comes before SET on purpose: a Lua script is not rolled back when a command
fails half-way, so the only command that can fail (XADD: wrong key type, OOM on the
first write) runs before anything is written. Either both are written or neither.

All scripts of one call go to Redis in one pipeline round trip (EVALSHA; the script
is loaded and the events it did not run are sent again only after a NOSCRIPT reply,
i.e. after a Redis restart or SCRIPT FLUSH).
"""

from __future__ import annotations

import hashlib
import json
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.exceptions import NoScriptError, RedisClusterException, RedisError, ResponseError

from bot.storage.keys import KeyBuilder

DEFAULT_PARTITIONS = 16
# LINE redelivers a failed webhook for a limited time (well under a day); 48 h keeps
# the dedupe marker comfortably longer while letting it expire on its own.
DEDUPE_TTL_SECONDS = 48 * 3600
#: Events the bot puts on its own pipeline (a counsellor's message, a queue
#: position): never from LINE; the webhook drops any event of this type.
CONSOLE_EVENT_TYPE = "x-console"

# The consumer group every worker reads through. Not a key: a name inside each stream.
GROUP = "workers"

# Field names of a stream entry (both in partition streams and dead-letter streams).
FIELD_EVENT = "event"
FIELD_EVENT_ID = "event_id"
FIELD_RECEIVED_MS = "received_ms"

_ENQUEUE_LUA = """
-- KEYS[1] seen marker, KEYS[2] partition stream
-- ARGV[1] dedupe ttl (s), ARGV[2] event JSON, ARGV[3] event id, ARGV[4] received-at ms
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
-- XADD first: if it fails (wrong type, OOM) nothing has been written yet.
redis.call('XADD', KEYS[2], '*', 'event', ARGV[2], 'event_id', ARGV[3], 'received_ms', ARGV[4])
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
return 1
"""
_ENQUEUE_SHA = hashlib.sha1(_ENQUEUE_LUA.encode("utf-8")).hexdigest()


class PipelineError(Exception):
    """Base class of the pipeline's own errors."""


#: How ensure_partition_count records a pipeline whose partitions have spread tags.
SPREAD = "spread"


class PipelineUnavailable(PipelineError):
    """Redis did not store (all of) the events: answer LINE 503 so that it redelivers.

    Raised for every Redis failure (connection refused or lost, timeout, OOM, a
    read-only replica after a failover, a key of the wrong type). Events of the same
    call that were stored before the failure are de-duplicated when LINE redelivers.
    """


class PipelineConfigError(PipelineError):
    """Producers and workers disagree on the pipeline set-up (e.g. the partition count)."""


@dataclass(frozen=True)
class EnqueueResult:
    """What :func:`enqueue` did: ``stored`` events were appended, ``duplicates`` were
    already stored (a redelivery, or a Redis-side retry of this same call)."""

    stored: int
    duplicates: int


def check_partitions(partitions: int) -> int:
    if isinstance(partitions, bool) or not isinstance(partitions, int) or not 1 <= partitions <= 1024:
        raise ValueError(f"partitions must be an int from 1 to 1024, got {partitions!r}")
    return partitions


def source_id(event: Mapping[str, Any]) -> str | None:
    """The id events are ordered by: the user for one-to-one chats, else the group or room.

    In a group or room, every member's events share the group's order, since the
    bot answers the group, not the member.
    """
    source = event.get("source")
    if not isinstance(source, Mapping):
        return None
    kind = source.get("type")
    if kind == "group":
        candidates = ("groupId",)
    elif kind == "room":
        candidates = ("roomId",)
    else:
        candidates = ("userId", "groupId", "roomId")
    for name in candidates:
        value = source.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def partition_for(event: Mapping[str, Any], partitions: int) -> int:
    """``crc32(source id) % partitions``; events without a source go to partition 0."""
    check_partitions(partitions)
    sid = source_id(event)
    if sid is None:
        return 0
    return zlib.crc32(sid.encode("utf-8")) % partitions


def event_id(event: Mapping[str, Any]) -> str:
    """LINE's ``webhookEventId``, or for older bodies without one a hash of the event.

    The hash covers the whole event (timestamp, reply token, message id), so two
    distinct events never share it, and a redelivered copy always does.
    """
    value = event.get("webhookEventId")
    if isinstance(value, str) and value:
        return value
    canonical = json.dumps(event, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def enqueue(
    client: redis.Redis,
    keys: KeyBuilder,
    events: Sequence[Mapping[str, Any]],
    *,
    partitions: int = DEFAULT_PARTITIONS,
    received_ms: int | None = None,
    replicas: int = 0,
    wait_ms: int = 100,
) -> EnqueueResult:
    """Store each event once in its partition stream; one Redis round trip in the normal case.

    Returns only when every event is stored (now or before). Raises
    :class:`PipelineUnavailable` when Redis failed for any of them.

    ``replicas``: with a replica behind the server (REDIS_MIN_REPLICAS), an event
    counts as stored only once that many replicas have it too: ``WAIT replicas
    wait_ms`` goes in the same round trip, and fewer acknowledgements raise
    PipelineUnavailable, so the webhook answers 503 and LINE delivers again. A
    failover then loses nothing LINE was told was stored.
    """
    check_partitions(partitions)
    if not events:
        return EnqueueResult(stored=0, duplicates=0)
    now_ms = int(time.time() * 1000) if received_ms is None else int(received_ms)
    calls: list[tuple[str, str, str, str]] = []
    for event in events:
        if not isinstance(event, Mapping):
            raise TypeError(f"each event must be a dict, got {type(event).__name__}")
        index = partition_for(event, partitions)
        eid = event_id(event)
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        calls.append((keys.partition_seen(index, eid), keys.partition_events(index), body, eid))

    stored = duplicates = 0
    todo = list(range(len(calls)))
    for _ in range(2):  # a second pass only after NOSCRIPT (script cache was empty)
        results = _run(client, [calls[i] for i in todo], now_ms, replicas, wait_ms)
        missing: list[int] = []
        for i, result in zip(todo, results):
            if isinstance(result, NoScriptError):
                missing.append(i)
            elif isinstance(result, Exception):
                raise PipelineUnavailable(
                    f"Redis refused to store a webhook event ({type(result).__name__}: {result})"
                ) from result
            elif int(result) == 1:
                stored += 1
            else:
                duplicates += 1
        if not missing:
            return EnqueueResult(stored=stored, duplicates=duplicates)
        try:
            client.script_load(_ENQUEUE_LUA)
        except RedisError as exc:
            raise PipelineUnavailable(f"Redis could not load the enqueue script: {exc}") from exc
        todo = missing
    raise PipelineUnavailable("Redis keeps forgetting the enqueue script (SCRIPT FLUSH in a loop?)")


def _run(client: redis.Redis, calls: list[tuple[str, str, str, str]], now_ms: int,
         replicas: int = 0, wait_ms: int = 100) -> list[Any]:
    try:
        if replicas > 0:
            return _run_replicated(client, calls, now_ms, replicas, wait_ms)
        if len(calls) == 1:
            # Most webhooks carry one event: no pipeline object to build and unpack.
            seen, stream, body, eid = calls[0]
            try:
                return [client.evalsha(_ENQUEUE_SHA, 2, seen, stream, DEDUPE_TTL_SECONDS, body, eid, now_ms)]
            except ResponseError as exc:
                if isinstance(exc, NoScriptError):
                    raise
                return [exc]
        pipe = client.pipeline(transaction=False)
        for seen, stream, body, eid in calls:
            # evalsha on the pipeline directly: redis-py's Script objects would make the
            # pipeline send SCRIPT EXISTS first, a second round trip on every call.
            pipe.evalsha(_ENQUEUE_SHA, 2, seen, stream, DEDUPE_TTL_SECONDS, body, eid, now_ms)
        return pipe.execute(raise_on_error=False)
    except NoScriptError:
        return [NoScriptError("NOSCRIPT")] * len(calls)
    except (RedisError, RedisClusterException, OSError) as exc:
        # RedisClusterException: a slot no live master serves, no node reachable.
        raise PipelineUnavailable(
            f"Redis is unavailable, the webhook events were not stored ({type(exc).__name__}: {exc})"
        ) from exc


def _run_replicated(client: redis.Redis, calls: list[tuple[str, str, str, str]], now_ms: int,
                    replicas: int, wait_ms: int) -> list[Any]:
    """The scripts, then WAIT, in one round trip. Each event's dedupe mark is touched
    (PEXPIRE) after its script: a redelivered event writes nothing else, and WAIT
    only waits for this connection's own writes, so without the touch a redelivery
    could be acknowledged while the first copy is still on the master alone."""
    if isinstance(client, redis.RedisCluster):
        return _run_replicated_on_cluster(client, calls, now_ms, replicas, wait_ms)
    return _scripts_then_wait(client, calls, now_ms, replicas, wait_ms)


def _scripts_then_wait(client: redis.Redis, calls: list[tuple[str, str, str, str]], now_ms: int,
                       replicas: int, wait_ms: int) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    for seen, stream, body, eid in calls:
        pipe.evalsha(_ENQUEUE_SHA, 2, seen, stream, DEDUPE_TTL_SECONDS, body, eid, now_ms)
        pipe.pexpire(seen, DEDUPE_TTL_SECONDS * 1000)
    pipe.wait(replicas, wait_ms)
    replies = pipe.execute(raise_on_error=False)
    acked = replies[-1]
    results = replies[0:-1:2]
    if any(isinstance(r, Exception) for r in results):
        # Not stored (NOSCRIPT, MOVED to another master, ...): said as such, whatever WAIT says.
        return results
    if isinstance(acked, Exception) or int(acked) < replicas:
        raise PipelineUnavailable(
            f"only {acked if not isinstance(acked, Exception) else 0} of {replicas} replicas confirmed "
            f"the webhook events within {wait_ms} ms (REDIS_MIN_REPLICAS, REDIS_WAIT_MS); LINE will deliver again"
        )
    return results


def _run_replicated_on_cluster(client: redis.RedisCluster, calls: list[tuple[str, str, str, str]],
                               now_ms: int, replicas: int, wait_ms: int) -> list[Any]:
    """On a cluster WAIT counts the replicas of one master, for the writes of one
    connection to it: so the events are grouped by the master holding their
    partition, and each group's scripts and WAIT go down one connection to that
    master (one round trip per master; a webhook's events are usually on one).

    The cluster client's own routing (which retries on MOVED) is bypassed for this,
    so a refusal (a master gone, a slot moved) asks it to read the slot map again
    before LINE's redelivery comes."""
    groups: dict[str, list[int]] = {}
    nodes = {}
    for i, (seen, _stream, _body, _eid) in enumerate(calls):
        node = client.get_node_from_key(seen)
        groups.setdefault(node.name, []).append(i)
        nodes[node.name] = node
    results: list[Any] = [None] * len(calls)
    refused = False
    try:
        for name, indexes in groups.items():
            on_node = client.get_redis_connection(nodes[name])
            replies = _scripts_then_wait(on_node, [calls[i] for i in indexes], now_ms, replicas, wait_ms)
            for i, reply in zip(indexes, replies):
                results[i] = reply
                refused = refused or (isinstance(reply, Exception) and not isinstance(reply, NoScriptError))
    except (RedisError, RedisClusterException, OSError):
        refused = True
        raise
    finally:
        if refused:
            try:
                client.nodes_manager.initialize()
            except (RedisError, RedisClusterException, OSError):
                pass  # the next request's routing tries again
    return results


def ensure_partition_count(client: redis.Redis, keys: KeyBuilder, partitions: int) -> None:
    """Record the partition count (and the tags' layout) on first use, refuse a
    different count afterwards, and tell ``keys`` what was recorded.

    A worker configured with fewer partitions than the webhook would never read the
    streams above its count: those users' messages would wait forever. Call this at
    start-up of every producer and worker. To change the count, stop the webhook,
    let the workers drain every stream, then delete the key named in the error.

    The value is ``<count>:spread`` for a pipeline begun with spread hash tags
    (bot.storage.keys), or a bare count for one begun before them, which keeps its
    plain tags: every process of one Redis must build the same keys.
    """
    check_partitions(partitions)
    key = keys.pipeline_partition_count()
    try:
        client.set(key, f"{partitions}:{SPREAD}", nx=True)
        current = client.get(key)
    except RedisError as exc:
        raise PipelineUnavailable(f"Redis is unavailable: {exc}") from exc
    count, spread = _recorded(current, partitions)
    if count != partitions:
        raise PipelineConfigError(
            f"this process is configured with {partitions} pipeline partitions but Redis key "
            f"{key} says {count}; every web and worker process must use the same count "
            "(to change it: stop the webhook, let the workers drain, delete the key)"
        )
    keys.use_partitions(partitions, spread=spread)


def adopt_partition_layout(client: redis.Redis, keys: KeyBuilder) -> None:
    """Build partition keys as the web and worker processes of this Redis do, for a
    process that only sends (the clock, an operator's command): it reads what
    ensure_partition_count recorded and writes nothing."""
    try:
        current = client.get(keys.pipeline_partition_count())
    except RedisError as exc:
        raise PipelineUnavailable(f"Redis is unavailable: {exc}") from exc
    count, spread = _recorded(current, DEFAULT_PARTITIONS)
    keys.use_partitions(count, spread=spread)


def _recorded(value: bytes | None, default: int) -> tuple[int, bool]:
    """The recorded count and whether its tags are spread (none recorded: a new pipeline)."""
    if value is None:
        return default, True
    count, _, layout = value.decode().partition(":")
    return int(count), layout == SPREAD


def ensure_group(client: redis.Redis, stream: str) -> None:
    """Create the consumer group reading ``stream`` from its first entry; idempotent.

    The group starts at id 0, not ``$``: the webhook may append to a stream before
    any worker ever created its group, and those entries must be read too.
    """
    try:
        client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
